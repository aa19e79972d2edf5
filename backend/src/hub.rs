//! The hub: one task owns [`Rooms`] and delivers what it answers. Its whole
//! interface is events in and addressed [`ServerMsg`]s out, so rooms could
//! later span nodes by feeding the same events from a pub/sub bus.

use crate::rooms::{Outbox, Rooms};
use shared::{ClientMsg, PeerId, RoomName, RoomStatus, ServerMsg};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

/// Outgoing messages a peer may have waiting. A peer this far behind is not
/// reading; dropping it beats letting it hold memory or slow the room.
pub const PEER_QUEUE: usize = 256;

/// Events waiting for the hub. Connections wait when it is full, which slows
/// the chattiest clients first.
const EVENT_QUEUE: usize = 1024;

#[derive(Debug)]
pub enum Event {
    Connect {
        peer: PeerId,
        sender: PeerSender,
    },
    Message {
        peer: PeerId,
        msg: ClientMsg,
    },
    Disconnect {
        peer: PeerId,
    },
    /// Asks how full `room` is. Answered from the hub's own [`Rooms`], in
    /// turn with joins and leaves, so the count never drifts from the truth.
    Status {
        room: RoomName,
        reply: oneshot::Sender<RoomStatus>,
    },
    /// Asks how many rooms and members there are, answered the same way.
    Counts {
        reply: oneshot::Sender<Counts>,
    },
}

/// Rooms with members, and members in all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub rooms: usize,
    pub members: usize,
}

/// The hub's end of one connection.
#[derive(Debug)]
pub struct PeerSender {
    queue: mpsc::Sender<ServerMsg>,
    /// Fired when the hub drops the peer, so its connection ends even while
    /// stuck writing to a socket nobody reads.
    kick: oneshot::Sender<()>,
}

/// The connection's end, from [`Hub::connect`].
#[derive(Debug)]
pub struct PeerConn {
    pub id: PeerId,
    /// What the hub sends this peer.
    pub outbox: mpsc::Receiver<ServerMsg>,
    /// The same queue, for the connection's own replies (e.g. decode errors),
    /// so they stay in order with the hub's messages.
    pub replies: mpsc::Sender<ServerMsg>,
    /// Resolves `Ok` when the hub dropped this peer for falling behind.
    pub kicked: oneshot::Receiver<()>,
}

#[derive(Debug, thiserror::Error)]
#[error("the hub has stopped")]
pub struct HubStopped;

/// A handle to the hub task; cheap to clone. The task ends when the last
/// handle is dropped.
#[derive(Debug, Clone)]
pub struct Hub {
    events: mpsc::Sender<Event>,
    next_peer: Arc<AtomicU64>,
}

impl Hub {
    /// Starts the hub task; needs a Tokio runtime.
    pub fn spawn(rooms: Rooms) -> Self {
        let (events, inbox) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(run(rooms, inbox));
        Self {
            events,
            next_peer: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Registers a new peer with a fresh id, unique for the hub's lifetime.
    pub async fn connect(&self) -> Result<PeerConn, HubStopped> {
        let id = PeerId(self.next_peer.fetch_add(1, Ordering::Relaxed));
        let (queue, outbox) = mpsc::channel(PEER_QUEUE);
        let (kick, kicked) = oneshot::channel();
        let sender = PeerSender {
            queue: queue.clone(),
            kick,
        };
        self.send(Event::Connect { peer: id, sender }).await?;
        Ok(PeerConn {
            id,
            outbox,
            replies: queue,
            kicked,
        })
    }

    pub async fn message(&self, peer: PeerId, msg: ClientMsg) -> Result<(), HubStopped> {
        self.send(Event::Message { peer, msg }).await
    }

    pub async fn disconnect(&self, peer: PeerId) -> Result<(), HubStopped> {
        self.send(Event::Disconnect { peer }).await
    }

    pub async fn status(&self, room: RoomName) -> Result<RoomStatus, HubStopped> {
        let (reply, answer) = oneshot::channel();
        self.send(Event::Status { room, reply }).await?;
        answer.await.map_err(|_| HubStopped)
    }

    pub async fn counts(&self) -> Result<Counts, HubStopped> {
        let (reply, answer) = oneshot::channel();
        self.send(Event::Counts { reply }).await?;
        answer.await.map_err(|_| HubStopped)
    }

    pub async fn send(&self, event: Event) -> Result<(), HubStopped> {
        self.events.send(event).await.map_err(|_| HubStopped)
    }
}

async fn run(rooms: Rooms, mut inbox: mpsc::Receiver<Event>) {
    let mut state = State {
        rooms,
        peers: HashMap::new(),
    };
    while let Some(event) = inbox.recv().await {
        state.apply(event);
    }
    tracing::debug!("hub stopped");
}

struct State {
    rooms: Rooms,
    peers: HashMap<PeerId, PeerSender>,
}

impl State {
    fn apply(&mut self, event: Event) {
        let out = match event {
            Event::Connect { peer, sender } => {
                self.peers.insert(peer, sender);
                return;
            }
            // A peer dropped for falling behind may still have messages in flight.
            Event::Message { peer, .. } if !self.peers.contains_key(&peer) => return,
            Event::Message { peer, msg } => self.rooms.handle(peer, msg),
            Event::Disconnect { peer } => {
                self.peers.remove(&peer);
                self.rooms.leave(peer)
            }
            Event::Status { room, reply } => {
                // The asker may have given up (e.g. its HTTP request was cancelled).
                let _ = reply.send(self.rooms.status(room));
                return;
            }
            Event::Counts { reply } => {
                let _ = reply.send(Counts {
                    rooms: self.rooms.room_count(),
                    members: self.rooms.member_count(),
                });
                return;
            }
        };
        self.deliver(out);
    }

    /// Never waits on a peer: a full queue is that peer's failure alone, and
    /// dropping it produces more messages (`PeerLeft`), hence the work list.
    fn deliver(&mut self, out: Outbox) {
        let mut pending = VecDeque::from(out);
        while let Some((to, msg)) = pending.pop_front() {
            let Some(peer) = self.peers.get(&to) else {
                continue;
            };
            match peer.queue.try_send(msg) {
                Ok(()) => continue,
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(peer = %to, "outgoing queue full: dropping the peer");
                    if let Some(peer) = self.peers.remove(&to) {
                        let _ = peer.kick.send(());
                    }
                }
                // The connection is gone and its Disconnect is on the way; leave now anyway.
                Err(TrySendError::Closed(_)) => {
                    self.peers.remove(&to);
                }
            }
            pending.extend(self.rooms.leave(to));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::PROTOCOL_VERSION;

    async fn joined(hub: &Hub, room: &str) -> PeerConn {
        let mut conn = hub.connect().await.unwrap();
        let join = ClientMsg::Join {
            version: PROTOCOL_VERSION,
            room: room.into(),
            name: "n".into(),
        };
        hub.message(conn.id, join).await.unwrap();
        assert!(matches!(
            conn.outbox.recv().await,
            Some(ServerMsg::Welcome { .. })
        ));
        conn
    }

    #[tokio::test]
    async fn ids_are_unique() {
        let hub = Hub::spawn(Rooms::new(2, vec![]));
        let a = hub.connect().await.unwrap();
        let b = hub.connect().await.unwrap();
        assert_ne!(a.id, b.id);
    }

    #[tokio::test]
    async fn status_follows_joins_and_leaves() {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let r = RoomName::parse("r").unwrap();
        assert_eq!(hub.status(r.clone()).await.unwrap().members, 0);
        let a = joined(&hub, "r").await;
        let _b = joined(&hub, "r").await;
        let status = hub.status(r.clone()).await.unwrap();
        assert_eq!((status.members, status.capacity), (2, 3));
        hub.disconnect(a.id).await.unwrap();
        assert_eq!(hub.status(r).await.unwrap().members, 1);
    }

    #[tokio::test]
    async fn counts_follow_joins_and_leaves() {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let none = Counts {
            rooms: 0,
            members: 0,
        };
        assert_eq!(hub.counts().await.unwrap(), none);
        let a = joined(&hub, "r").await;
        let _b = joined(&hub, "r").await;
        let c = joined(&hub, "s").await;
        let _lobby = hub.connect().await.unwrap();
        let counts = hub.counts().await.unwrap();
        assert_eq!(
            counts,
            Counts {
                rooms: 2,
                members: 3
            },
            "the lobby is not a member"
        );
        hub.disconnect(c.id).await.unwrap();
        hub.message(a.id, ClientMsg::Leave).await.unwrap();
        assert_eq!(
            hub.counts().await.unwrap(),
            Counts {
                rooms: 1,
                members: 1
            }
        );
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_is_dropped_and_the_others_carry_on() {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let mut a = joined(&hub, "r").await;
        let mut slow = joined(&hub, "r").await;
        let mut c = joined(&hub, "r").await;
        for _ in 0..2 {
            assert!(matches!(
                a.outbox.recv().await,
                Some(ServerMsg::PeerJoined { .. })
            ));
        }
        assert!(matches!(
            slow.outbox.recv().await,
            Some(ServerMsg::PeerJoined { .. })
        ));

        for _ in 0..=PEER_QUEUE {
            let offer = ClientMsg::Offer {
                to: slow.id,
                sdp: "v=0".into(),
            };
            hub.message(a.id, offer).await.unwrap();
        }
        assert_eq!(slow.kicked.await, Ok(()));
        assert_eq!(
            a.outbox.recv().await,
            Some(ServerMsg::PeerLeft { peer: slow.id })
        );
        assert_eq!(
            c.outbox.recv().await,
            Some(ServerMsg::PeerLeft { peer: slow.id })
        );

        hub.message(
            c.id,
            ClientMsg::Offer {
                to: a.id,
                sdp: "x".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(
            a.outbox.recv().await,
            Some(ServerMsg::Offer {
                from: c.id,
                sdp: "x".into()
            })
        );
    }
}
