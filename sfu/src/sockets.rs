//! The SFU's UDP sockets: one per configured address, all on the same port,
//! so each packet's destination (which str0m needs to match the candidate
//! pair) is the socket it arrived on.

use crate::Config;
use std::io;
use std::net::{IpAddr, SocketAddr};

/// The waker's token; sockets are tokens 0, 1, ...
pub(crate) const WAKER: mio::Token = mio::Token(usize::MAX);

pub(crate) struct Sockets {
    sockets: Vec<mio::net::UdpSocket>,
}

impl Sockets {
    pub(crate) fn bind(config: &Config) -> io::Result<Self> {
        let mut addresses: Vec<IpAddr> = config.addresses.iter().copied().filter(IpAddr::is_ipv4).collect();
        if addresses.len() < config.addresses.len() {
            tracing::warn!("the media server listens on IPv4 only: IPv6 media addresses are skipped");
        }
        addresses.dedup();
        let Some((first, rest)) = addresses.split_first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the media server needs an IPv4 address"));
        };
        // Port 0 picks one on the first address; the others must take the same.
        let socket = mio::net::UdpSocket::bind(SocketAddr::new(*first, config.port))?;
        let port = socket.local_addr()?.port();
        let mut sockets = vec![socket];
        for ip in rest {
            let socket = mio::net::UdpSocket::bind(SocketAddr::new(*ip, port))
                .map_err(|e| io::Error::new(e.kind(), format!("media port {port} on {ip}: {e}")))?;
            sockets.push(socket);
        }
        Ok(Self { sockets })
    }

    pub(crate) fn port(&self) -> u16 {
        self.local(0).port()
    }

    pub(crate) fn local(&self, index: usize) -> SocketAddr {
        self.sockets[index].local_addr().expect("a bound socket has an address")
    }

    pub(crate) fn locals(&self) -> Vec<SocketAddr> {
        (0..self.sockets.len()).map(|i| self.local(i)).collect()
    }

    pub(crate) fn register(&mut self, registry: &mio::Registry) -> io::Result<()> {
        for (i, socket) in self.sockets.iter_mut().enumerate() {
            registry.register(socket, mio::Token(i), mio::Interest::READABLE)?;
        }
        Ok(())
    }

    pub(crate) fn recv(&self, index: usize, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sockets[index].recv_from(buf)
    }

    /// Sends from the socket bound to `source` (the first if none is).
    pub(crate) fn send(&self, source: SocketAddr, destination: SocketAddr, data: &[u8]) {
        let socket =
            self.sockets.iter().find(|s| s.local_addr().is_ok_and(|a| a == source)).unwrap_or(&self.sockets[0]);
        if let Err(e) = socket.send_to(data, destination) {
            // A full send buffer drops the packet, as the network would.
            tracing::debug!(%destination, "media send failed: {e}");
        }
    }
}
