//! The hub: one task owns [`Rooms`] and delivers what it answers. Its whole
//! interface is events in and addressed [`shared::ServerMsg`]s out, which is
//! how rooms span nodes (`cluster`): a member on another node is a
//! connection like any other, fed from Redis. Relays between members of a
//! room skip it, on the [`Lines`] it lays between them.

mod state;

use crate::lines::{Lines, Routed};
use crate::per_ip::IpSlot;
use crate::queue::{Outbox as PeerOutbox, Queue};
pub use crate::queue::{Queued, PEER_QUEUE};
use crate::rooms::Rooms;
use shared::{ClientMsg, PeerId, RoomName, RoomStatus};
use state::State;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Wrong passwords one connection may give before it is closed: a person
/// retypes in the same page, a script must reconnect (and wait, see
/// [`crate::guesses`]).
pub const WRONG_PASSWORDS_PER_CONNECTION: u32 = 3;

/// Events waiting for the hub. Connections wait when it is full, which slows
/// the chattiest clients first.
const EVENT_QUEUE: usize = 1024;

/// How long a member whose connection dropped keeps its seat by default,
/// waiting for a [`ClientMsg::Resume`].
pub const RESUME_WINDOW: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub enum Event {
    Connect {
        peer: PeerId,
        sender: PeerSender,
        /// Its client's address, if known: wrong passwords count against it.
        ip: Option<IpAddr>,
    },
    Message {
        peer: PeerId,
        msg: ClientMsg,
    },
    /// A connection ended. With `keep_seat` (it dropped, or the client
    /// said it is reconnecting) its member stays in the room for the resume
    /// window, and what the room sends it meanwhile is kept, after the
    /// `unsent` its queue still held.
    Disconnect {
        peer: PeerId,
        keep_seat: bool,
        unsent: Vec<Queued>,
        /// The connection's place in its address's count: a kept seat
        /// holds it until it is resumed or let go, so one address cannot
        /// pile up seats by dropping its connections.
        slot: Option<IpSlot>,
    },
    /// The resume window of `member`, away since connection `conn` ended, is over.
    Expire {
        member: PeerId,
        conn: PeerId,
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
    /// Asks which rooms have anyone in them (seats kept for a resume count).
    Rooms {
        reply: oneshot::Sender<Vec<RoomName>>,
    },
    /// What the media server said.
    Sfu(sfu::Event),
    /// Ends connection `conn` (its room's node did, or is gone).
    Kick {
        conn: PeerId,
        kick: Kick,
    },
}

/// Rooms with members, and members in all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub rooms: usize,
    pub members: usize,
}

/// Why the hub ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// It did not read what it was sent.
    TooSlow,
    /// A newer connection resumed its member.
    Replaced,
    /// It gave [`WRONG_PASSWORDS_PER_CONNECTION`] wrong passwords; the next
    /// try from its address is judged after this.
    TooManyAttempts(Duration),
    /// Its room is served by a node that is gone (or drained): it should
    /// reconnect, and resume or join wherever its room is now.
    Moved,
}

/// The hub's end of one connection.
#[derive(Debug)]
pub struct PeerSender {
    queue: Queue,
    /// Fired when the hub drops the peer, so its connection ends even while
    /// stuck writing to a socket nobody reads.
    kick: oneshot::Sender<Kick>,
    lines: Arc<Lines>,
}

/// The connection's end, from [`Hub::connect`].
#[derive(Debug)]
pub struct PeerConn {
    pub id: PeerId,
    /// What the hub sends this peer.
    pub outbox: PeerOutbox,
    /// The same queue, for the connection's own replies (e.g. decode errors),
    /// so they stay in order with the hub's messages.
    pub replies: Queue,
    /// Resolves `Ok` when the hub ended this connection, saying why.
    pub kicked: oneshot::Receiver<Kick>,
    /// Its lines to the others in its room, for [`Hub::message`].
    pub lines: Arc<Lines>,
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
    /// Starts the hub task with the default [`RESUME_WINDOW`]; needs a Tokio runtime.
    pub fn spawn(rooms: Rooms) -> Self {
        Self::spawn_with(rooms, RESUME_WINDOW)
    }

    pub fn spawn_with(rooms: Rooms, resume_window: Duration) -> Self {
        Self::spawn_with_sfu(rooms, resume_window, None)
    }

    /// With the media server `sfu`, whose events come in through `sfu_events`.
    pub fn spawn_with_sfu(
        rooms: Rooms,
        resume_window: Duration,
        sfu: Option<(Arc<sfu::Sfu>, mpsc::UnboundedReceiver<sfu::Event>)>,
    ) -> Self {
        let (events, inbox) = mpsc::channel(EVENT_QUEUE);
        let (sfu, sfu_events) = sfu.unzip();
        let state = State::new(rooms, resume_window, events.downgrade()).with_sfu(sfu);
        tokio::spawn(state::run(state, inbox));
        if let Some(mut sfu_events) = sfu_events {
            let hub = events.downgrade();
            tokio::spawn(async move {
                while let Some(event) = sfu_events.recv().await {
                    let Some(hub) = hub.upgrade() else { return };
                    if hub.send(Event::Sfu(event)).await.is_err() {
                        return;
                    }
                }
            });
        }
        Self { events, next_peer: Arc::new(AtomicU64::new(1)) }
    }

    /// Registers a new peer with a fresh id, unique for the hub's lifetime.
    pub async fn connect(&self) -> Result<PeerConn, HubStopped> {
        self.connect_from(None).await
    }

    /// [`Hub::connect`] for a client at `ip`.
    pub async fn connect_from(&self, ip: Option<IpAddr>) -> Result<PeerConn, HubStopped> {
        let id = PeerId(self.next_peer.fetch_add(1, Ordering::Relaxed));
        let (queue, outbox) = crate::queue::queue();
        let (kick, kicked) = oneshot::channel();
        let lines = Arc::new(Lines::default());
        let sender = PeerSender { queue: queue.clone(), kick, lines: lines.clone() };
        self.send(Event::Connect { peer: id, sender, ip }).await?;
        Ok(PeerConn { id, outbox, replies: queue, kicked, lines })
    }

    /// What connection `peer` says: a relay on its lines if they can take
    /// it, anything else through the hub.
    pub async fn message(&self, peer: PeerId, lines: &Lines, msg: ClientMsg) -> Result<(), HubStopped> {
        match lines.route(msg) {
            Routed::Sent => Ok(()),
            Routed::ToHub(msg) => self.send(Event::Message { peer, msg }).await,
        }
    }

    /// The connection `peer` ended; see [`Event::Disconnect`]. Its queue is
    /// closed first, so the room's lines to it fail over to the hub and
    /// nothing is put where nobody will read it.
    pub async fn disconnect(&self, peer: PeerId, keep_seat: bool, outbox: &mut PeerOutbox) -> Result<(), HubStopped> {
        self.disconnect_from(peer, keep_seat, outbox, None).await
    }

    /// [`Hub::disconnect`], handing over the connection's address slot.
    pub async fn disconnect_from(
        &self,
        peer: PeerId,
        keep_seat: bool,
        outbox: &mut PeerOutbox,
        slot: Option<IpSlot>,
    ) -> Result<(), HubStopped> {
        let unsent = outbox.close_and_drain().await;
        self.send(Event::Disconnect { peer, keep_seat, unsent, slot }).await
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

    pub async fn rooms(&self) -> Result<Vec<RoomName>, HubStopped> {
        let (reply, answer) = oneshot::channel();
        self.send(Event::Rooms { reply }).await?;
        answer.await.map_err(|_| HubStopped)
    }

    pub async fn send(&self, event: Event) -> Result<(), HubStopped> {
        self.events.send(event).await.map_err(|_| HubStopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ServerMsg;

    async fn joined(hub: &Hub, room: &str) -> PeerConn {
        let mut conn = hub.connect().await.unwrap();
        let join = ClientMsg::join(room, "n");
        hub.message(conn.id, &conn.lines, join).await.unwrap();
        assert!(matches!(conn.outbox.recv().await.map(|m| *m), Some(ServerMsg::Welcome { .. })));
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
        let mut a = joined(&hub, "r").await;
        let _b = joined(&hub, "r").await;
        let status = hub.status(r.clone()).await.unwrap();
        assert_eq!((status.members, status.capacity), (2, 3));
        hub.disconnect(a.id, false, &mut a.outbox).await.unwrap();
        assert_eq!(hub.status(r).await.unwrap().members, 1);
    }

    #[tokio::test]
    async fn counts_follow_joins_and_leaves() {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let none = Counts { rooms: 0, members: 0 };
        assert_eq!(hub.counts().await.unwrap(), none);
        let a = joined(&hub, "r").await;
        let _b = joined(&hub, "r").await;
        let mut c = joined(&hub, "s").await;
        let _lobby = hub.connect().await.unwrap();
        let counts = hub.counts().await.unwrap();
        assert_eq!(counts, Counts { rooms: 2, members: 3 }, "the lobby is not a member");
        hub.disconnect(c.id, false, &mut c.outbox).await.unwrap();
        hub.message(a.id, &a.lines, ClientMsg::Leave).await.unwrap();
        assert_eq!(hub.counts().await.unwrap(), Counts { rooms: 1, members: 1 });
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_is_dropped_and_the_others_carry_on() {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let mut a = joined(&hub, "r").await;
        let mut slow = joined(&hub, "r").await;
        let mut c = joined(&hub, "r").await;
        for _ in 0..2 {
            assert!(matches!(a.outbox.recv().await.map(|m| *m), Some(ServerMsg::PeerJoined { .. })));
        }
        assert!(matches!(slow.outbox.recv().await.map(|m| *m), Some(ServerMsg::PeerJoined { .. })));

        for _ in 0..=PEER_QUEUE {
            let offer = ClientMsg::Offer { to: slow.id, sdp: "v=0".into() };
            hub.message(a.id, &a.lines, offer).await.unwrap();
        }
        assert_eq!(slow.kicked.await, Ok(Kick::TooSlow));
        assert_eq!(a.outbox.recv().await.map(|m| *m), Some(ServerMsg::PeerLeft { peer: slow.id }));
        assert_eq!(c.outbox.recv().await.map(|m| *m), Some(ServerMsg::PeerLeft { peer: slow.id }));

        hub.message(c.id, &c.lines, ClientMsg::Offer { to: a.id, sdp: "x".into() }).await.unwrap();
        assert_eq!(a.outbox.recv().await.map(|m| *m), Some(ServerMsg::Offer { from: c.id, sdp: "x".into() }));
    }

    fn offer(to: &PeerConn, sdp: &str) -> ClientMsg {
        ClientMsg::Offer { to: to.id, sdp: sdp.into() }
    }

    /// Two members of room "r", each past what the hub told it of the other.
    async fn pair() -> (Hub, PeerConn, PeerConn) {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let mut a = joined(&hub, "r").await;
        let b = joined(&hub, "r").await;
        assert!(matches!(a.outbox.recv().await.map(|m| *m), Some(ServerMsg::PeerJoined { .. })));
        (hub, a, b)
    }

    #[tokio::test]
    async fn a_relay_goes_straight_to_the_addressee_stamped_by_the_server() {
        let (hub, mut a, b) = pair().await;
        hub.message(b.id, &b.lines, offer(&a, "x")).await.unwrap();
        // Not a turn of the hub's task later: this test's task has not yielded to it.
        assert_eq!(a.outbox.try_recv().map(|m| *m), Ok(ServerMsg::Offer { from: b.id, sdp: "x".into() }));
    }

    #[tokio::test]
    async fn a_relay_never_overtakes_what_its_sender_said_before_it() {
        let (hub, mut a, b) = pair().await;
        let muted = shared::MediaState { muted: true, ..Default::default() };
        hub.message(b.id, &b.lines, ClientMsg::MediaState(muted)).await.unwrap();
        hub.message(b.id, &b.lines, offer(&a, "after")).await.unwrap();
        assert_eq!(a.outbox.recv().await.map(|m| *m), Some(ServerMsg::MediaState { from: b.id, state: muted }));
        assert_eq!(a.outbox.recv().await.map(|m| *m), Some(ServerMsg::Offer { from: b.id, sdp: "after".into() }));
        // Once the hub has caught up, relays take the line again.
        hub.message(b.id, &b.lines, offer(&a, "direct")).await.unwrap();
        assert!(a.outbox.try_recv().is_ok());
    }

    #[tokio::test]
    async fn no_line_reaches_a_member_who_left() {
        let (hub, mut a, mut b) = pair().await;
        hub.message(a.id, &a.lines, ClientMsg::Leave).await.unwrap();
        assert_eq!(b.outbox.recv().await.map(|m| *m), Some(ServerMsg::PeerLeft { peer: a.id }));
        hub.message(b.id, &b.lines, offer(&a, "x")).await.unwrap();
        assert!(matches!(
            b.outbox.recv().await.map(|m| *m),
            Some(ServerMsg::Error { code: shared::ErrorCode::UnknownPeer, .. })
        ));
        hub.message(a.id, &a.lines, offer(&b, "from the lobby")).await.unwrap();
        assert!(matches!(
            a.outbox.recv().await.map(|m| *m),
            Some(ServerMsg::Error { code: shared::ErrorCode::NotJoined, .. })
        ));
        assert!(b.outbox.try_recv().is_err());
    }

    fn token(welcome: &ServerMsg) -> String {
        match welcome {
            ServerMsg::Welcome { resume: Some(token), .. } => token.clone(),
            other => panic!("expected a welcome with a token, got {other:?}"),
        }
    }

    /// Joins `room` and returns the connection with its resume token.
    async fn joined_with_token(hub: &Hub, room: &str) -> (PeerConn, String) {
        let mut conn = hub.connect().await.unwrap();
        hub.message(conn.id, &conn.lines, ClientMsg::join(room, "n")).await.unwrap();
        let welcome = conn.outbox.recv().await.map(|m| *m).unwrap();
        (conn, token(&welcome))
    }

    fn resume(token: &str) -> ClientMsg {
        ClientMsg::Resume { version: shared::PROTOCOL_VERSION, token: token.into() }
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_member_resumes_its_seat_and_gets_what_it_missed() {
        let hub = Hub::spawn_with(Rooms::new(3, vec![]), Duration::from_secs(10));
        let (mut a, token) = joined_with_token(&hub, "r").await;
        let mut b = joined(&hub, "r").await;
        hub.disconnect(a.id, true, &mut a.outbox).await.unwrap();
        let offer = ClientMsg::Offer { to: a.id, sdp: "while away".into() };
        hub.message(b.id, &b.lines, offer).await.unwrap();

        let mut again = hub.connect().await.unwrap();
        hub.message(again.id, &again.lines, resume(&token)).await.unwrap();
        assert!(matches!(
            again.outbox.recv().await.map(|m| *m),
            Some(ServerMsg::Resumed { you, ref peers, .. }) if you == a.id && peers.len() == 1
        ));
        // What the old connection never wrote comes first (here b's arrival, never read), then what was missed.
        assert!(matches!(
            again.outbox.recv().await.map(|m| *m),
            Some(ServerMsg::PeerJoined { peer }) if peer.id == b.id
        ));
        assert_eq!(
            again.outbox.recv().await.map(|m| *m),
            Some(ServerMsg::Offer { from: b.id, sdp: "while away".into() })
        );
        // Messages from the new connection come from the old member id.
        hub.message(again.id, &again.lines, ClientMsg::Answer { to: b.id, sdp: "back".into() }).await.unwrap();
        assert_eq!(b.outbox.recv().await.map(|m| *m), Some(ServerMsg::Answer { from: a.id, sdp: "back".into() }));
        // Long after the window, still in: the resume cancelled the expiry.
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(hub.counts().await.unwrap().members, 2);
        assert!(b.outbox.try_recv().is_err(), "b never heard a departure");
    }

    #[tokio::test(start_paused = true)]
    async fn a_member_that_does_not_come_back_leaves_after_the_window() {
        let hub = Hub::spawn_with(Rooms::new(3, vec![]), Duration::from_secs(10));
        let (mut a, token) = joined_with_token(&hub, "r").await;
        let mut b = joined(&hub, "r").await;
        hub.disconnect(a.id, true, &mut a.outbox).await.unwrap();
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(b.outbox.try_recv().is_err(), "not yet");
        assert_eq!(b.outbox.recv().await.map(|m| *m), Some(ServerMsg::PeerLeft { peer: a.id }));
        let mut late = hub.connect().await.unwrap();
        hub.message(late.id, &late.lines, resume(&token)).await.unwrap();
        assert!(matches!(
            late.outbox.recv().await.map(|m| *m),
            Some(ServerMsg::Error { code: shared::ErrorCode::ResumeFailed, .. })
        ));
    }

    #[tokio::test]
    async fn what_comes_between_a_connection_ending_and_its_disconnect_is_kept_for_its_seat() {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let (mut a, token) = joined_with_token(&hub, "r").await;
        let b = joined(&hub, "r").await;
        // a's loops have ended (its queue is closed); its Disconnect is not sent yet.
        a.outbox.close();
        hub.message(b.id, &b.lines, offer(&a, "in between")).await.unwrap();
        hub.counts().await.unwrap(); // the hub has had the offer
        hub.disconnect(a.id, true, &mut a.outbox).await.unwrap();

        let mut again = hub.connect().await.unwrap();
        hub.message(again.id, &again.lines, resume(&token)).await.unwrap();
        assert!(matches!(again.outbox.recv().await.map(|m| *m), Some(ServerMsg::Resumed { .. })));
        assert!(matches!(again.outbox.recv().await.map(|m| *m), Some(ServerMsg::PeerJoined { .. })), "never written");
        assert_eq!(
            again.outbox.recv().await.map(|m| *m),
            Some(ServerMsg::Offer { from: b.id, sdp: "in between".into() })
        );
    }

    #[tokio::test]
    async fn a_resume_replaces_a_connection_the_server_still_thinks_alive() {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let (mut old, token) = joined_with_token(&hub, "r").await;
        let mut b = joined(&hub, "r").await;
        let mut new = hub.connect().await.unwrap();
        hub.message(new.id, &new.lines, resume(&token)).await.unwrap();
        assert!(matches!(new.outbox.recv().await.map(|m| *m), Some(ServerMsg::Resumed { .. })));
        assert_eq!(old.kicked.await, Ok(Kick::Replaced));
        // The old connection's own end changes nothing.
        hub.disconnect(old.id, false, &mut old.outbox).await.unwrap();
        hub.message(b.id, &b.lines, ClientMsg::Offer { to: old.id, sdp: "x".into() }).await.unwrap();
        assert_eq!(new.outbox.recv().await.map(|m| *m), Some(ServerMsg::Offer { from: b.id, sdp: "x".into() }));
        assert_eq!(hub.counts().await.unwrap().members, 2);
        assert!(b.outbox.try_recv().is_err(), "b never heard a departure");
    }

    #[tokio::test]
    async fn a_resumed_connection_cannot_resume_again() {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let (old, token) = joined_with_token(&hub, "r").await;
        let (mut other, other_token) = joined_with_token(&hub, "r").await;
        let mut new = hub.connect().await.unwrap();
        hub.message(new.id, &new.lines, resume(&token)).await.unwrap();
        assert!(matches!(new.outbox.recv().await.map(|m| *m), Some(ServerMsg::Resumed { .. })));
        assert_eq!(old.kicked.await, Ok(Kick::Replaced));
        // Neither its own seat again (it would replace itself) nor another's.
        for token in [&token, &other_token] {
            hub.message(new.id, &new.lines, resume(token)).await.unwrap();
            assert!(matches!(
                new.outbox.recv().await.map(|m| *m),
                Some(ServerMsg::Error { code: shared::ErrorCode::AlreadyJoined, .. })
            ));
        }
        hub.message(new.id, &new.lines, ClientMsg::Offer { to: other.id, sdp: "still here".into() }).await.unwrap();
        assert_eq!(
            other.outbox.recv().await.map(|m| *m),
            Some(ServerMsg::Offer { from: old.id, sdp: "still here".into() }),
            "the connection still speaks for the seat it resumed"
        );
    }

    #[tokio::test]
    async fn a_clean_close_leaves_at_once_and_a_member_cannot_resume_twice_over() {
        let hub = Hub::spawn(Rooms::new(3, vec![]));
        let (mut a, token) = joined_with_token(&hub, "r").await;
        let (mut b, _) = joined_with_token(&hub, "r").await;
        // b, already a member, may not take a's seat as well.
        hub.message(b.id, &b.lines, resume(&token)).await.unwrap();
        assert!(matches!(
            b.outbox.recv().await.map(|m| *m),
            Some(ServerMsg::Error { code: shared::ErrorCode::AlreadyJoined, .. })
        ));
        hub.disconnect(a.id, false, &mut a.outbox).await.unwrap();
        assert_eq!(b.outbox.recv().await.map(|m| *m), Some(ServerMsg::PeerLeft { peer: a.id }));
    }
}
