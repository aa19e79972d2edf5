//! A connection's outgoing queue, bounded in messages and in bytes. A count
//! alone let one socket that never reads pin 256 messages of up to 64 KiB
//! each; the byte bound keeps what a connection can hold small whatever its
//! messages weigh. A full queue is its reader's failure: whoever finds it
//! full drops that connection (see `hub::State::deliver`).

use shared::ServerMsg;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};

/// Outgoing messages a peer may have waiting. A peer this far behind is not
/// reading; dropping it beats letting it hold memory or slow the room.
pub const PEER_QUEUE: usize = 256;

/// Bytes a peer may have waiting (as [`weight`] counts them). A browser
/// joining a room of six is sent five offers of ~6 KB and a few dozen ICE
/// candidates: under 64 KiB. The bound is reached only by a reader that
/// has stopped reading.
pub const PEER_QUEUE_BYTES: usize = 1024 * 1024;

/// What a peer's queue holds. Boxed: the queue allocates room for 32 at
/// once, and 32 boxes (256 B) beat 32 inline messages (3.8 KB) on every
/// idle connection.
pub type Queued = Box<ServerMsg>;

/// The sending end; cheap to clone.
#[derive(Debug, Clone)]
pub struct Queue {
    tx: mpsc::Sender<Queued>,
    bytes: Arc<AtomicUsize>,
}

/// The receiving end, read by the connection's write loop.
#[derive(Debug)]
pub struct Outbox {
    rx: mpsc::Receiver<Queued>,
    bytes: Arc<AtomicUsize>,
}

pub fn queue() -> (Queue, Outbox) {
    let (tx, rx) = mpsc::channel(PEER_QUEUE);
    let bytes = Arc::new(AtomicUsize::new(0));
    (Queue { tx, bytes: bytes.clone() }, Outbox { rx, bytes })
}

/// Room for one message, from [`Queue::try_reserve`].
pub struct Permit<'a> {
    permit: mpsc::Permit<'a, Queued>,
    bytes: &'a AtomicUsize,
}

impl Permit<'_> {
    pub fn send(self, msg: Queued) {
        self.bytes.fetch_add(weight(&msg), Ordering::Relaxed);
        self.permit.send(msg);
    }
}

impl Queue {
    /// Queues `msg` unless the queue is closed or full, in messages or in
    /// bytes (it may pass the byte bound by the one message that crosses it).
    pub fn try_send(&self, msg: Queued) -> Result<(), TrySendError<Queued>> {
        match self.try_reserve() {
            Ok(permit) => {
                permit.send(msg);
                Ok(())
            }
            Err(TrySendError::Full(())) => Err(TrySendError::Full(msg)),
            Err(TrySendError::Closed(())) => Err(TrySendError::Closed(msg)),
        }
    }

    /// Room for one more message, if the queue has it.
    pub fn try_reserve(&self) -> Result<Permit<'_>, TrySendError<()>> {
        if self.bytes.load(Ordering::Relaxed) >= PEER_QUEUE_BYTES {
            return Err(if self.tx.is_closed() { TrySendError::Closed(()) } else { TrySendError::Full(()) });
        }
        let permit = self.tx.try_reserve()?;
        Ok(Permit { permit, bytes: &self.bytes })
    }

    pub fn same_queue(&self, other: &Queue) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

impl Outbox {
    pub async fn recv(&mut self) -> Option<Queued> {
        let msg = self.rx.recv().await?;
        Some(self.took(msg))
    }

    pub fn try_recv(&mut self) -> Result<Queued, TryRecvError> {
        self.rx.try_recv().map(|msg| self.took(msg))
    }

    /// No more messages are accepted; those queued can still be received.
    pub fn close(&mut self) {
        self.rx.close();
    }

    /// Closes the queue and takes what it still holds, in order: what its
    /// connection never wrote.
    pub async fn close_and_drain(&mut self) -> Vec<Queued> {
        self.close();
        let mut unsent = Vec::new();
        // Ends once it is empty and no sender is midway (closed, no permits out).
        while let Some(msg) = self.recv().await {
            unsent.push(msg);
        }
        unsent
    }

    fn took(&self, msg: Queued) -> Queued {
        self.bytes.fetch_sub(weight(&msg), Ordering::Relaxed);
        msg
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// About how many bytes `msg` takes, queued or encoded: its strings (the
/// only parts a client controls the size of) plus a constant for the rest.
pub fn weight(msg: &ServerMsg) -> usize {
    const FIXED: usize = 64;
    let peer = |name: &shared::DisplayName| FIXED + name.as_str().len();
    FIXED
        + match msg {
            ServerMsg::Offer { sdp, .. } | ServerMsg::Answer { sdp, .. } => sdp.len(),
            ServerMsg::Ice { candidate, .. } => {
                candidate.candidate.len() + candidate.sdp_mid.as_ref().map_or(0, String::len)
            }
            ServerMsg::Error { message, .. } => message.len(),
            ServerMsg::PeerJoined { peer: info } => peer(&info.name),
            ServerMsg::Welcome { peers, ice_servers, .. } => {
                let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
                let servers: usize = ice_servers
                    .iter()
                    .map(|s| {
                        FIXED + s.urls.iter().map(String::len).sum::<usize>() + text(&s.username) + text(&s.credential)
                    })
                    .sum();
                peers.iter().map(|p| peer(&p.name)).sum::<usize>() + servers
            }
            ServerMsg::Resumed { peers, .. } => peers.iter().map(|p| peer(&p.name)).sum(),
            _ => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::PeerId;

    fn offer(bytes: usize) -> Queued {
        Box::new(ServerMsg::Offer { from: PeerId(1), sdp: "x".repeat(bytes) })
    }

    #[test]
    fn bounded_in_bytes_as_well_as_in_messages() {
        let (queue, mut outbox) = queue();
        let big = 64 * 1024;
        let fits = PEER_QUEUE_BYTES / (big + 64) + 1;
        for i in 0..fits {
            assert!(queue.try_send(offer(big)).is_ok(), "message {i}");
        }
        assert!(matches!(queue.try_send(offer(1)), Err(TrySendError::Full(_))));
        assert!(outbox.bytes() < PEER_QUEUE_BYTES + big + 128);
        // Reading makes room again, and the count goes back to nothing.
        while outbox.try_recv().is_ok() {}
        assert_eq!(outbox.bytes(), 0);
        assert!(queue.try_send(offer(1)).is_ok());
    }

    #[test]
    fn small_messages_meet_the_count_first() {
        let (queue, _outbox) = queue();
        for _ in 0..PEER_QUEUE {
            queue.try_send(Box::new(ServerMsg::Pong)).unwrap();
        }
        assert!(matches!(queue.try_send(Box::new(ServerMsg::Pong)), Err(TrySendError::Full(_))));
    }

    #[test]
    fn a_closed_queue_says_closed() {
        let (queue, mut outbox) = queue();
        outbox.close();
        assert!(matches!(queue.try_send(offer(1)), Err(TrySendError::Closed(_))));
    }
}
