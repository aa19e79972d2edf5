//! The media server's sending thread. str0m hands the engine every packet
//! ready to go; the `sendto` system call itself was a third of the engine
//! thread's time at 15 × 15 (`perf`: on loopback the kernel delivers the
//! packet within the call), so it runs here, beside the engine, which hands
//! over its packets in batches.
//!
//! One thread keeps each member's packets in the order str0m made them.

use crate::metrics::Metrics;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Packets per batch: the engine hands a batch over when it is full, and
/// whatever is left at the end of each of its turns.
const BATCH: usize = 256;
/// Batches waiting for the thread. When it falls this far behind, new
/// batches are dropped, as a full socket buffer drops packets: memory stays
/// bounded (~20 MB of video at most) and the engine never waits.
const QUEUED: usize = 64;

struct Datagram {
    socket: usize,
    destination: SocketAddr,
    data: Vec<u8>,
}

/// The engine's end: collects packets and hands them to the thread.
pub(crate) struct Outbox {
    batch: Vec<Datagram>,
    /// Handed over when this many are collected ([`BATCH`]).
    size: usize,
    to_thread: Option<SyncSender<Vec<Datagram>>>,
    thread: Option<JoinHandle<()>>,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// Starts the thread, which sends through `sockets` (indexed as the engine's).
    pub(crate) fn start(sockets: Vec<UdpSocket>, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        Self::start_batching(BATCH, sockets, metrics)
    }

    fn start_batching(size: usize, sockets: Vec<UdpSocket>, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let (to_thread, batches) = sync_channel(QUEUED);
        let counters = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("sfu-send".into())
            .spawn(move || send_all(&sockets, batches, &counters))?;
        Ok(Self { batch: Vec::with_capacity(size), size, to_thread: Some(to_thread), thread: Some(thread), metrics })
    }

    pub(crate) fn push(&mut self, socket: usize, destination: SocketAddr, data: Vec<u8>) {
        self.batch.push(Datagram { socket, destination, data });
        if self.batch.len() >= self.size {
            self.flush();
        }
    }

    /// Hands over what is collected.
    pub(crate) fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.size));
        match self.to_thread.as_ref().map(|thread| thread.try_send(batch)) {
            Some(Err(TrySendError::Full(dropped))) => Metrics::add(&self.metrics.packets_unsent, dropped.len() as u64),
            Some(Err(TrySendError::Disconnected(_))) => tracing::error!("the media server's sending thread is gone"),
            Some(Ok(())) | None => {}
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.flush();
        // A closed channel ends the thread once it has sent what it holds.
        self.to_thread = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn send_all(sockets: &[UdpSocket], batches: Receiver<Vec<Datagram>>, metrics: &Metrics) {
    for batch in batches {
        for Datagram { socket, destination, data } in batch {
            if let Err(e) = sockets[socket].send_to(&data, destination) {
                // A full send buffer drops the packet, as the network would.
                Metrics::add(&metrics.packets_unsent, 1);
                tracing::debug!(%destination, "media send failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn packets_go_out_in_order_and_dropping_the_outbox_sends_what_it_holds() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let to = receiver.local_addr().unwrap();
        // Batches of 4: two full ones go on their own, the other 2 only when
        // the outbox is dropped. (Small, as a socket's buffer holds only a
        // few hundred datagrams, however small.)
        let count = 10u32;
        let received = std::thread::spawn(move || {
            let mut buf = [0u8; 8];
            (0..count)
                .map(|_| {
                    receiver.recv_from(&mut buf).map(|(len, _)| u32::from_be_bytes(buf[..len].try_into().unwrap()))
                })
                .collect::<Result<Vec<u32>, _>>()
        });
        let metrics = Arc::new(Metrics::default());
        let mut outbox =
            Outbox::start_batching(4, vec![UdpSocket::bind("127.0.0.1:0").unwrap()], metrics.clone()).unwrap();
        for n in 0..count {
            outbox.push(0, to, n.to_be_bytes().to_vec());
        }
        drop(outbox);
        assert_eq!(received.join().unwrap().unwrap(), (0..count).collect::<Vec<_>>(), "every packet, in order");
        assert_eq!(metrics.packets_unsent.load(std::sync::atomic::Ordering::Relaxed), 0);
    }
}
