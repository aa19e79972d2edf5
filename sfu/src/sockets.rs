//! The SFU's UDP sockets: one per configured address, all on the same port,
//! so each packet's destination (which str0m needs to match the candidate
//! pair) is the socket it arrived on. The engine reads them; a thread of
//! their own sends on them ([`crate::sender`]).

use crate::metrics::Metrics;
use crate::sender::Outbox;
use crate::Config;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The waker's token; sockets are tokens 0, 1, ...
pub(crate) const WAKER: mio::Token = mio::Token(usize::MAX);

/// Kernel buffers per socket. The default (~208 KiB) overflows when a
/// room's keyframes arrive together; the kernel caps this at `rmem_max` /
/// `wmem_max` without complaint.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

pub(crate) struct Sockets {
    sockets: Vec<mio::net::UdpSocket>,
    /// Each socket's address, read once (a system call per packet otherwise).
    locals: Vec<SocketAddr>,
    outbox: Outbox,
}

impl Sockets {
    pub(crate) fn bind(config: &Config, metrics: Arc<Metrics>) -> io::Result<Self> {
        let mut addresses: Vec<IpAddr> = config.addresses.iter().copied().filter(IpAddr::is_ipv4).collect();
        if addresses.len() < config.addresses.len() {
            tracing::warn!("the media server listens on IPv4 only: IPv6 media addresses are skipped");
        }
        addresses.dedup();
        let Some((first, rest)) = addresses.split_first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the media server needs an IPv4 address"));
        };
        // Port 0 picks one on the first address; the others must take the same.
        let socket = udp(SocketAddr::new(*first, config.port))?;
        let port = socket.local_addr()?.port();
        let mut sockets = vec![socket];
        for ip in rest {
            let socket = udp(SocketAddr::new(*ip, port))
                .map_err(|e| io::Error::new(e.kind(), format!("media port {port} on {ip}: {e}")))?;
            sockets.push(socket);
        }
        let locals = sockets.iter().map(std::net::UdpSocket::local_addr).collect::<io::Result<_>>()?;
        // The sending thread's copies share each socket (and its port).
        let senders = sockets.iter().map(std::net::UdpSocket::try_clone).collect::<io::Result<_>>()?;
        let outbox = Outbox::start(senders, metrics)?;
        Ok(Self { sockets: sockets.into_iter().map(mio::net::UdpSocket::from_std).collect(), locals, outbox })
    }

    pub(crate) fn port(&self) -> u16 {
        self.locals[0].port()
    }

    pub(crate) fn local(&self, index: usize) -> SocketAddr {
        self.locals[index]
    }

    pub(crate) fn locals(&self) -> &[SocketAddr] {
        &self.locals
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

    /// Sends from the socket bound to `source` (the first if none is), on
    /// the sending thread: after [`Sockets::flush`] at the latest.
    pub(crate) fn send(&mut self, source: SocketAddr, destination: SocketAddr, data: Vec<u8>) {
        let index = self.locals.iter().position(|local| *local == source).unwrap_or(0);
        self.outbox.push(index, destination, data);
    }

    /// Hands what [`Sockets::send`] collected to the sending thread.
    pub(crate) fn flush(&mut self) {
        self.outbox.flush();
    }
}

/// A non-blocking UDP socket on `addr` with big kernel buffers.
fn udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    for (what, set) in [
        ("receive", Socket::set_recv_buffer_size as fn(&Socket, usize) -> io::Result<()>),
        ("send", Socket::set_send_buffer_size),
    ] {
        if let Err(e) = set(&socket, SOCKET_BUFFER) {
            tracing::warn!("media socket {what} buffer: {e}");
        }
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}
