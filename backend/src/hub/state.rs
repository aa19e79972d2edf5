//! The hub task's state: open connections, who serves which seat, seats
//! kept for a resume, and wrong passwords; every event the hub receives is
//! applied here, and what the rooms answer is delivered from here.

use super::{Counts, Event, Kick, PeerSender, Queued, PEER_QUEUE, WRONG_PASSWORDS_PER_CONNECTION};
use crate::guesses::{self, Guesses};
use crate::per_ip::IpSlot;
use crate::queue::{weight, Queue, PEER_QUEUE_BYTES};
use crate::rooms::{Outbox, Rooms};
use shared::{ClientMsg, ErrorCode, PeerId, RoomName, ServerMsg};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

pub(super) async fn run(mut state: State, mut inbox: mpsc::Receiver<Event>) {
    while let Some(event) = inbox.recv().await {
        state.apply(event);
    }
    tracing::debug!("hub stopped");
}

/// One open connection. Its `member` is its own id, unless it resumed
/// another member's seat.
struct Conn {
    sender: PeerSender,
    member: PeerId,
    ip: Option<IpAddr>,
    /// Wrong passwords given on this connection.
    wrong_passwords: u32,
    /// What came for it after its queue closed, until its `Disconnect`
    /// says whether the seat is kept.
    held: Vec<ServerMsg>,
}

/// What the room sends a member, as opposed to the server's replies to one
/// connection.
fn from_the_room(msg: &ServerMsg) -> bool {
    matches!(
        msg,
        ServerMsg::PeerJoined { .. }
            | ServerMsg::PeerLeft { .. }
            | ServerMsg::Offer { .. }
            | ServerMsg::Answer { .. }
            | ServerMsg::Ice { .. }
            | ServerMsg::MediaState { .. }
            | ServerMsg::UseSfu
            | ServerMsg::SfuAnswer { .. }
            | ServerMsg::SfuOffer { .. }
            | ServerMsg::Chat { .. }
    )
}

/// A member whose connection dropped, holding its seat for a while.
struct Away {
    /// The connection that dropped; a later one's expiry is not ours.
    conn: PeerId,
    /// What the room sent meanwhile, delivered on resume.
    missed: VecDeque<ServerMsg>,
    /// Bytes of `missed`, bounded as a connection's queue is.
    missed_bytes: usize,
    /// Counts the seat against its address until it is resumed or let go.
    _slot: Option<IpSlot>,
}

pub(super) struct State {
    rooms: Rooms,
    /// Open connections by their own id.
    conns: HashMap<PeerId, Conn>,
    /// Member (or not-yet-joined connection) → the connection serving it.
    seats: HashMap<PeerId, PeerId>,
    away: HashMap<PeerId, Away>,
    guesses: Guesses,
    resume_window: Duration,
    /// For the hub's own timers; weak, so they don't keep the hub alive.
    events: mpsc::WeakSender<Event>,
    /// The media server, when rooms may move to it.
    sfu: Option<Arc<sfu::Sfu>>,
}

impl State {
    pub(super) fn new(rooms: Rooms, resume_window: Duration, events: mpsc::WeakSender<Event>) -> Self {
        let (conns, seats, away) = (HashMap::new(), HashMap::new(), HashMap::new());
        Self { rooms, conns, seats, away, guesses: Guesses::default(), resume_window, events, sfu: None }
    }

    pub(super) fn with_sfu(mut self, sfu: Option<Arc<sfu::Sfu>>) -> Self {
        self.sfu = sfu;
        self
    }

    fn apply(&mut self, event: Event) {
        self.apply_to_rooms(event);
        // What the rooms decided for the media server goes in the same order.
        let commands = self.rooms.take_sfu();
        if let Some(sfu) = &self.sfu {
            commands.into_iter().for_each(|command| sfu.send(command));
        }
    }

    fn apply_to_rooms(&mut self, event: Event) {
        let out = match event {
            Event::Connect { peer, sender, ip } => {
                let conn = Conn { sender, member: peer, ip, wrong_passwords: 0, held: Vec::new() };
                self.conns.insert(peer, conn);
                self.seats.insert(peer, peer);
                return;
            }
            Event::Message { peer, msg } => {
                // A connection dropped by the hub may still have messages in flight.
                let Some(member) = self.conns.get(&peer).map(|c| c.member) else {
                    return;
                };
                let before = self.rooms.room_of(member).cloned();
                let out = match msg {
                    ClientMsg::Resume { version, token } => self.resume(peer, version, &token),
                    msg => self.judged(peer, member, msg),
                };
                // A resume changes whom the connection speaks for.
                let member = self.conns.get(&peer).map_or(member, |c| c.member);
                let after = self.rooms.room_of(member).cloned();
                if let Some(conn) = self.conns.get(&peer).filter(|_| after.is_none()) {
                    conn.sender.lines.cut_all();
                }
                self.deliver_relinked(out, before, after);
                if let Some(conn) = self.conns.get(&peer) {
                    conn.sender.lines.handled();
                }
                return;
            }
            Event::Disconnect { peer, keep_seat, unsent, slot } => {
                let room = self.conns.get(&peer).and_then(|c| self.rooms.room_of(c.member)).cloned();
                let out = self.disconnect(peer, keep_seat, unsent, slot);
                return self.deliver_relinked(out, room, None);
            }
            // An away member has no lines, so nobody's need cutting.
            Event::Expire { member, conn } => match self.away.get(&member) {
                Some(away) if away.conn == conn => {
                    tracing::info!(%member, "did not come back in time: leaves the room");
                    self.away.remove(&member);
                    self.rooms.leave(member)
                }
                _ => return,
            },
            Event::Status { room, reply } => {
                // The asker may have given up (e.g. its HTTP request was cancelled).
                let _ = reply.send(self.rooms.status(room));
                return;
            }
            Event::Sfu(event) => self.rooms.from_sfu(event),
            // A lobby connection here, its member served by another node.
            Event::Kick { conn, kick } => {
                if let Some(c) = self.conns.remove(&conn) {
                    self.seats.remove(&c.member);
                    c.sender.lines.cut_all();
                    let _ = c.sender.kick.send(kick);
                }
                return;
            }
            Event::Rooms { reply } => {
                let _ = reply.send(self.rooms.snapshot().into_iter().map(|(room, _)| room).collect());
                return;
            }
            Event::Counts { reply } => {
                let _ = reply.send(Counts { rooms: self.rooms.room_count(), members: self.rooms.member_count() });
                return;
            }
        };
        self.deliver(out);
    }

    /// Delivers `out`. If the event moved the connection into or out of a
    /// room (`before` / `after`: the room it served), the lines there are
    /// cut before and laid after: no line reaches a member once the room has
    /// heard it left (or while it is away), and none is laid before the room
    /// has heard who arrived or a resumed member has been given what it
    /// missed. Any other event leaves the lines as they are (a peer dropped
    /// while delivering is cut in [`State::deliver`]).
    fn deliver_relinked(&mut self, out: Outbox, before: Option<RoomName>, after: Option<RoomName>) {
        if before == after {
            return self.deliver(out);
        }
        let rooms: Vec<RoomName> = before.into_iter().chain(after).collect();
        for room in &rooms {
            self.cut(room);
        }
        self.deliver(out);
        for room in &rooms {
            self.lay(room);
        }
    }

    /// The members of `room` with a connection, and that connection.
    fn connected(&self, room: &RoomName) -> Vec<(PeerId, &Conn)> {
        let conn_of = |member| self.seats.get(&member).and_then(|conn| self.conns.get(conn));
        self.rooms.members_in(room).filter_map(|m| conn_of(m).map(|c| (m, c))).collect()
    }

    /// Cuts every line in `room` that no longer ends at a member there, in
    /// the queue of the connection now serving it.
    fn cut(&self, room: &RoomName) {
        let here = self.connected(room);
        let serves = |id, queue: &Queue| here.iter().any(|(m, c)| *m == id && c.sender.queue.same_queue(queue));
        for (_, conn) in &here {
            conn.sender.lines.cut(serves);
        }
    }

    /// Lays a line from every connected member of `room` to every other.
    fn lay(&self, room: &RoomName) {
        let here = self.connected(room);
        for (member, conn) in &here {
            let others = here.iter().filter(|(m, _)| m != member);
            let peers = others.map(|(m, c)| (*m, c.sender.queue.clone())).collect();
            conn.sender.lines.lay(*member, peers);
        }
    }

    /// Handles `msg` from connection `conn` (speaking as `member`), with
    /// joins that carry a password judged by [`Guesses`] first: refused
    /// unjudged while their address or room must wait, counted when wrong,
    /// and the connection closed after a few wrong ones.
    fn judged(&mut self, conn: PeerId, member: PeerId, msg: ClientMsg) -> Outbox {
        let guarded = match &msg {
            ClientMsg::Join { room, password: Some(password), .. } if !password.is_empty() => {
                RoomName::parse(room).ok()
            }
            _ => None,
        };
        let Some(room) = guarded else {
            return self.rooms.handle(member, msg);
        };
        let ip = self.conns.get(&conn).and_then(|c| c.ip);
        let now = tokio::time::Instant::now().into_std();
        if let guesses::Verdict::Wait(wait) = self.guesses.check(ip, &room, now) {
            return vec![(member, ServerMsg::error(ErrorCode::TooManyAttempts, guesses::try_again_in(wait)))];
        }
        let out = self.rooms.handle(member, msg);
        let wrong = matches!(out.as_slice(), [(_, ServerMsg::Error { code: ErrorCode::WrongPassword, .. })]);
        if wrong {
            self.guesses.failed(ip, &room, now);
            tracing::info!(?ip, %room, "wrong room password");
            let too_many = self.conns.get_mut(&conn).is_some_and(|c| {
                c.wrong_passwords += 1;
                c.wrong_passwords >= WRONG_PASSWORDS_PER_CONNECTION
            });
            if too_many {
                let wait = match self.guesses.check(ip, &room, now) {
                    guesses::Verdict::Wait(wait) => wait,
                    guesses::Verdict::Try => Duration::ZERO,
                };
                if let Some(c) = self.conns.remove(&conn) {
                    self.seats.remove(&c.member);
                    let _ = c.sender.kick.send(Kick::TooManyAttempts(wait));
                }
            }
        }
        out
    }

    fn disconnect(&mut self, conn: PeerId, keep_seat: bool, unsent: Vec<Queued>, slot: Option<IpSlot>) -> Outbox {
        // Already gone if the hub dropped it, or a resume replaced it.
        let Some(Conn { member, held, .. }) = self.conns.remove(&conn) else {
            return Vec::new();
        };
        self.seats.remove(&member);
        if keep_seat && self.rooms.room_of(member).is_some() {
            tracing::debug!(%member, window = ?self.resume_window, "connection dropped: keeping the seat");
            // The connection's own replies (pongs, errors) are not for the next one.
            let from_room = unsent.into_iter().map(|msg| *msg).filter(from_the_room);
            let missed: VecDeque<ServerMsg> = from_room.chain(held).collect();
            let missed_bytes = missed.iter().map(weight).sum();
            self.away.insert(member, Away { conn, missed, missed_bytes, _slot: slot });
            self.expire_later(member, conn);
            return Vec::new();
        }
        self.rooms.leave(member)
    }

    fn expire_later(&self, member: PeerId, conn: PeerId) {
        let (events, window) = (self.events.clone(), self.resume_window);
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            if let Some(events) = events.upgrade() {
                let _ = events.send(Event::Expire { member, conn }).await;
            }
        });
    }

    /// Connection `conn` takes over the seat `token` proves: the member
    /// keeps its id, so the room's peer connections to it carry on.
    fn resume(&mut self, conn: PeerId, version: u32, token: &str) -> Outbox {
        // The member this connection already is: itself, or a seat it resumed.
        let current = self.conns.get(&conn).map_or(conn, |c| c.member);
        let refuse = |err: crate::rooms::RoomError| vec![(current, ServerMsg::error(err.code(), err.to_string()))];
        if let Some(room) = self.rooms.room_of(current) {
            return refuse(crate::rooms::RoomError::AlreadyJoined(room.clone()));
        }
        let (member, resumed) = match self.rooms.resume(version, token) {
            Ok(found) => found,
            Err(err) => return refuse(err),
        };
        // Still connected (a network change the server has not noticed yet)?
        if let Some(old) = self.seats.get(&member).copied() {
            if let Some(old) = self.conns.remove(&old) {
                old.sender.lines.cut_all();
                let _ = old.sender.kick.send(Kick::Replaced);
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.member = member;
        }
        self.seats.remove(&conn);
        self.seats.insert(member, conn);
        let missed = self.away.remove(&member).map(|a| a.missed).unwrap_or_default();
        tracing::info!(%member, %conn, missed = missed.len(), "resumed");
        std::iter::once((member, resumed)).chain(missed.into_iter().map(|msg| (member, msg))).collect()
    }

    /// Never waits on a peer: a full queue is that peer's failure alone, and
    /// dropping it produces more messages (`PeerLeft`), hence the work list.
    fn deliver(&mut self, out: Outbox) {
        let mut pending = VecDeque::from(out);
        while let Some((to, msg)) = pending.pop_front() {
            let Some(conn) = self.seats.get(&to).copied() else {
                // Who speaks now is stale by the time an away member is back.
                if let Some(away) = self.away.get_mut(&to).filter(|_| !matches!(msg, ServerMsg::Speaking { .. })) {
                    if away.missed.len() < PEER_QUEUE && away.missed_bytes < PEER_QUEUE_BYTES {
                        away.missed_bytes += weight(&msg);
                        away.missed.push_back(msg);
                        continue;
                    }
                    tracing::warn!(member = %to, "missed too much while away: leaves the room");
                    self.away.remove(&to);
                    pending.extend(self.rooms.leave(to));
                }
                continue;
            };
            let Some(peer) = self.conns.get(&conn) else {
                continue;
            };
            match peer.sender.queue.try_send(Box::new(msg)) {
                Ok(()) => continue,
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(peer = %to, "outgoing queue full: dropping the peer");
                    if let Some(peer) = self.conns.remove(&conn) {
                        peer.sender.lines.cut_all();
                        let _ = peer.sender.kick.send(Kick::TooSlow);
                    }
                }
                // Its task has ended, and its Disconnect, which says whether
                // the seat is kept, is on the way: hold what comes till then.
                Err(TrySendError::Closed(msg)) => {
                    let peer = self.conns.get_mut(&conn).filter(|peer| peer.held.len() < PEER_QUEUE);
                    if let Some(peer) = peer {
                        peer.held.push(*msg);
                        continue;
                    }
                    self.conns.remove(&conn);
                }
            }
            self.seats.remove(&to);
            if let Some(room) = self.rooms.room_of(to).cloned() {
                self.cut(&room);
            }
            pending.extend(self.rooms.leave(to));
        }
    }
}
