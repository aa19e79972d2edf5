//! The room registry: who is in which room, and what each client message
//! means for everyone else. Pure (no I/O, no tokio) so the rules are tested
//! directly, and whatever delivers the answers stays a thin layer.

use shared::{
    ClientMsg, DisplayName, ErrorCode, IceConfig, IceServer, MediaState, NameError, Password, PasswordError, PeerId,
    PeerInfo, RoomName, RoomStatus, ServerMsg, PROTOCOL_VERSION,
};
use std::collections::HashMap;

/// Messages to deliver, each addressed to one peer.
pub type Outbox = Vec<(PeerId, ServerMsg)>;

/// Why a client message was refused. The `Display` text is what the user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("this page speaks protocol version {client}, the server speaks {server}: reload the page")]
    VersionMismatch { client: u32, server: u32 },
    #[error("join a room first")]
    NotJoined,
    #[error("you are already in room {0}: leave it first")]
    AlreadyJoined(RoomName),
    #[error("invalid room name: {0}")]
    InvalidRoomName(NameError),
    #[error("invalid display name: {0}")]
    InvalidDisplayName(NameError),
    #[error("this room is full: {members} of {capacity}")]
    RoomFull { members: usize, capacity: usize },
    #[error("peer {0} is not in your room")]
    UnknownPeer(PeerId),
    #[error("that seat is gone (the server restarted or let it go): join again")]
    ResumeFailed,
    #[error("this room is locked: enter its password")]
    PasswordRequired,
    #[error("wrong password for this room")]
    WrongPassword,
    #[error("invalid password: {0}")]
    InvalidPassword(PasswordError),
    #[error("this room's media does not go through the server")]
    NoSfu,
    #[error("a chat line has 1 to {max} characters", max = shared::protocol::CHAT_MAX_CHARS)]
    InvalidChat,
    #[error("a view names at most {max} videos", max = shared::protocol::SFU_VIEWS_MAX)]
    TooManyViews,
}

impl RoomError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::VersionMismatch { .. } => ErrorCode::VersionMismatch,
            Self::NotJoined => ErrorCode::NotJoined,
            Self::AlreadyJoined(_) => ErrorCode::AlreadyJoined,
            Self::InvalidRoomName(_) => ErrorCode::InvalidRoomName,
            Self::InvalidDisplayName(_) => ErrorCode::InvalidDisplayName,
            Self::RoomFull { .. } => ErrorCode::RoomFull,
            Self::UnknownPeer(_) => ErrorCode::UnknownPeer,
            Self::ResumeFailed => ErrorCode::ResumeFailed,
            Self::PasswordRequired => ErrorCode::PasswordRequired,
            Self::WrongPassword => ErrorCode::WrongPassword,
            Self::InvalidPassword(_) => ErrorCode::InvalidPassword,
            Self::NoSfu => ErrorCode::NoSfu,
            Self::InvalidChat | Self::TooManyViews => ErrorCode::InvalidMessage,
        }
    }

    fn into_reply(self, peer: PeerId) -> Outbox {
        vec![(peer, ServerMsg::error(self.code(), self.to_string()))]
    }
}

pub use shared::PASSWORD_MAX;

#[derive(Debug)]
struct Member {
    id: PeerId,
    name: DisplayName,
    state: MediaState,
    /// Proves a new connection is this member (see [`Rooms::resume`]).
    token: String,
}

#[derive(Debug, Default)]
struct Room {
    /// In join order, so `Welcome.peers` is stable.
    members: Vec<Member>,
    /// Set by the first joiner who gave one; gone with the room.
    password: Option<String>,
    /// Its media goes through the SFU; once set, until the room empties.
    sfu: bool,
}

impl Member {
    fn info(&self) -> PeerInfo {
        PeerInfo { id: self.id, name: self.name.clone(), state: self.state }
    }
}

/// Where a joiner's ICE servers come from: one list for everyone, or made
/// per join (e.g. TURN credentials that expire); and whether only relayed
/// paths may be used.
pub struct IceSource {
    make: Box<dyn Fn(PeerId) -> Vec<IceServer> + Send>,
    relay_only: bool,
}

impl IceSource {
    pub fn fixed(servers: Vec<IceServer>) -> Self {
        Self::per_join(move |_| servers.clone())
    }

    pub fn per_join(make: impl Fn(PeerId) -> Vec<IceServer> + Send + 'static) -> Self {
        Self { make: Box::new(make), relay_only: false }
    }

    /// Members use TURN-relayed paths only (`--relay-only`).
    pub fn relay_only(self, relay_only: bool) -> Self {
        Self { relay_only, ..self }
    }

    pub fn config_for(&self, peer: PeerId) -> IceConfig {
        IceConfig { servers: (self.make)(peer), relay_only: self.relay_only }
    }
}

impl std::fmt::Debug for IceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IceSource")
    }
}

/// Every room and its members. A peer not in `joined` is connected but has
/// not (successfully) joined yet, so the registry needs no "connect" step.
#[derive(Debug)]
pub struct Rooms {
    capacity: usize,
    ice: IceSource,
    rooms: HashMap<RoomName, Room>,
    /// The room each joined peer is in.
    joined: HashMap<PeerId, RoomName>,
    /// Resume token → member.
    tokens: HashMap<String, PeerId>,
    /// Passwords from the server's configuration; they outlive the room.
    locks: HashMap<RoomName, String>,
    /// A room moves to the SFU when this many are in it (`--sfu-from`).
    sfu_from: Option<usize>,
    /// For the SFU, taken by the hub after each message ([`Rooms::take_sfu`]).
    to_sfu: Vec<sfu::Command>,
    /// In a cluster, this node's id, before each resume token: a member
    /// reconnecting to another node is sent back to the seat's node.
    node: Option<String>,
}

impl Rooms {
    /// Rooms that give every joiner the same ICE servers.
    pub fn new(capacity: usize, ice_servers: Vec<IceServer>) -> Self {
        Self::with_ice_source(capacity, IceSource::fixed(ice_servers))
    }

    pub fn with_ice_source(capacity: usize, ice: IceSource) -> Self {
        Self {
            capacity,
            ice,
            rooms: HashMap::new(),
            joined: HashMap::new(),
            tokens: HashMap::new(),
            locks: HashMap::new(),
            sfu_from: None,
            to_sfu: Vec::new(),
            node: None,
        }
    }

    /// Resume tokens name node `node` (`node.` before the random part).
    pub fn on_node(mut self, node: &str) -> Self {
        self.node = Some(node.to_owned());
        self
    }

    /// Rooms move to the SFU when their `from`th member joins (2: every
    /// room is on it from its first member).
    pub fn with_sfu_from(mut self, from: usize) -> Self {
        self.sfu_from = Some(from.max(2));
        self
    }

    /// What the SFU is to be told, in order.
    pub fn take_sfu(&mut self) -> Vec<sfu::Command> {
        std::mem::take(&mut self.to_sfu)
    }

    /// Locks `room` with `password` for good (server configuration).
    pub fn lock(mut self, room: RoomName, password: String) -> Self {
        self.locks.insert(room, password);
        self
    }

    /// Applies one message from `peer`; a refusal becomes an `Error` to `peer` only.
    pub fn handle(&mut self, peer: PeerId, msg: ClientMsg) -> Outbox {
        let result = match msg.relayed(peer) {
            Ok((to, stamped)) => self.relay(peer, to, stamped),
            Err(ClientMsg::Join { version, room, name, password }) => {
                self.join(peer, version, &room, &name, password.as_deref())
            }
            // The hub resumes a seat before a message reaches the rooms
            // (see [`Rooms::resume`]): this one is not a resume it accepted.
            Err(ClientMsg::Resume { .. }) => Err(RoomError::ResumeFailed),
            Err(ClientMsg::Ping) => Ok(vec![(peer, ServerMsg::Pong)]),
            Err(ClientMsg::MediaState(state)) => self.media_state(peer, state),
            Err(ClientMsg::Leave) if self.joined.contains_key(&peer) => Ok(self.leave(peer)),
            Err(ClientMsg::Leave) => Err(RoomError::NotJoined),
            Err(ClientMsg::SfuOffer { sdp }) => self.pass_to_sfu(peer, |room| sfu::Command::Offer { room, peer, sdp }),
            Err(ClientMsg::SfuAnswer { sdp }) => self.pass_to_sfu(peer, |_| sfu::Command::Answer { peer, sdp }),
            Err(ClientMsg::SfuView { views }) if views.len() > shared::protocol::SFU_VIEWS_MAX => {
                Err(RoomError::TooManyViews)
            }
            Err(ClientMsg::SfuView { views }) => self.pass_to_sfu(peer, |_| sfu::Command::View { peer, views }),
            Err(ClientMsg::Chat { text }) => self.chat(peer, text),
            // `relayed` takes every message for one peer.
            Err(ClientMsg::Offer { to, .. } | ClientMsg::Answer { to, .. } | ClientMsg::Ice { to, .. }) => {
                Err(RoomError::UnknownPeer(to))
            }
        };
        result.unwrap_or_else(|err| err.into_reply(peer))
    }

    pub fn join(
        &mut self,
        peer: PeerId,
        version: u32,
        room: &str,
        name: &str,
        password: Option<&str>,
    ) -> Result<Outbox, RoomError> {
        if let Some(room) = self.joined.get(&peer) {
            return Err(RoomError::AlreadyJoined(room.clone()));
        }
        if version != PROTOCOL_VERSION {
            return Err(RoomError::VersionMismatch { client: version, server: PROTOCOL_VERSION });
        }
        let room = RoomName::parse(room).map_err(RoomError::InvalidRoomName)?;
        let name = DisplayName::parse(name).map_err(RoomError::InvalidDisplayName)?;
        let password = parse_password(password)?;
        // Checked before `entry` so a refused join never leaves an empty room behind.
        let existing = self.rooms.get(&room);
        let required = self.locks.get(&room).or_else(|| existing.and_then(|r| r.password.as_ref()));
        match (required, password) {
            (None, _) => {}
            (Some(_), None) => return Err(RoomError::PasswordRequired),
            (Some(want), Some(given)) if !same_secret(want, given) => return Err(RoomError::WrongPassword),
            (Some(_), Some(_)) => {}
        }
        let present = existing.map_or(0, |r| r.members.len());
        if present >= self.capacity {
            return Err(RoomError::RoomFull { members: present, capacity: self.capacity });
        }

        let lockable = !self.locks.contains_key(&room);
        let entry = self.rooms.entry(room.clone()).or_default();
        if entry.members.is_empty() && lockable {
            entry.password = password.map(str::to_owned);
        }
        let token = new_token(self.node.as_deref());
        let newcomer = Member { id: peer, name, state: MediaState::default(), token: token.clone() };
        // The room moves as this member joins: it goes to the SFU at once, the others are told to.
        let moves = !entry.sfu && self.sfu_from.is_some_and(|from| from == 2 || entry.members.len() + 1 >= from);
        entry.sfu |= moves;
        let sfu = entry.sfu;
        let members = &mut entry.members;
        let ice = self.ice.config_for(peer);
        let mut out = vec![(
            peer,
            ServerMsg::Welcome {
                version: PROTOCOL_VERSION,
                you: peer,
                room: room.clone(),
                capacity: self.capacity,
                ice_servers: ice.servers,
                peers: members.iter().map(Member::info).collect(),
                resume: Some(token.clone()),
                sfu,
                relay_only: ice.relay_only,
            },
        )];
        let joined = ServerMsg::PeerJoined { peer: newcomer.info() };
        out.extend(members.iter().map(|m| (m.id, joined.clone())));
        if moves {
            tracing::info!(%room, members = members.len() + 1, "room moves to the SFU");
            out.extend(members.iter().map(|m| (m.id, ServerMsg::UseSfu)));
        }
        members.push(newcomer);
        self.joined.insert(peer, room);
        self.tokens.insert(token, peer);
        Ok(out)
    }

    /// Finds the member whose seat `token` proves, for a new connection to
    /// take over: the [`ServerMsg::Resumed`] to send it, and its id. The
    /// room is not told: to them the member never left.
    ///
    /// Each resume spends its token and issues the next one (in `Resumed`):
    /// a token seen by someone else (a log, a shared screen) is worthless
    /// once its owner has resumed with it.
    pub fn resume(&mut self, version: u32, token: &str) -> Result<(PeerId, ServerMsg), RoomError> {
        if version != PROTOCOL_VERSION {
            return Err(RoomError::VersionMismatch { client: version, server: PROTOCOL_VERSION });
        }
        let member = *self.tokens.get(token).ok_or(RoomError::ResumeFailed)?;
        let room = self.joined.get(&member).ok_or(RoomError::ResumeFailed)?;
        let sfu = self.rooms.get(room).is_some_and(|r| r.sfu);
        let members = self.rooms.get_mut(room).map_or(&mut [][..], |r| r.members.as_mut_slice());
        let seat = members.iter_mut().find(|m| m.id == member).ok_or(RoomError::ResumeFailed)?;
        let fresh = new_token(self.node.as_deref());
        self.tokens.remove(&std::mem::replace(&mut seat.token, fresh.clone()));
        self.tokens.insert(fresh.clone(), member);
        let resumed = ServerMsg::Resumed {
            you: member,
            room: room.clone(),
            peers: members.iter().filter(|m| m.id != member).map(Member::info).collect(),
            resume: Some(fresh),
            sfu,
        };
        Ok((member, resumed))
    }

    /// Removes `peer` from its room (if any) and tells the rest. Also what a
    /// disconnect means, so it is infallible.
    pub fn leave(&mut self, peer: PeerId) -> Outbox {
        let Some(room) = self.joined.remove(&peer) else {
            return Vec::new();
        };
        let Some(entry) = self.rooms.get_mut(&room) else {
            return Vec::new();
        };
        if entry.sfu {
            self.to_sfu.push(sfu::Command::Leave { peer });
        }
        let members = &mut entry.members;
        if let Some(gone) = members.iter().position(|m| m.id == peer) {
            self.tokens.remove(&members.remove(gone).token);
        }
        if members.is_empty() {
            self.rooms.remove(&room);
            return Vec::new();
        }
        members.iter().map(|m| (m.id, ServerMsg::PeerLeft { peer })).collect()
    }

    /// How many rooms have members.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// How many peers are in a room, all rooms together.
    pub fn member_count(&self) -> usize {
        self.joined.len()
    }

    /// The room `peer` is in, if any.
    pub fn room_of(&self, peer: PeerId) -> Option<&RoomName> {
        self.joined.get(&peer)
    }

    /// Every room with members, each with its members in join order.
    pub fn snapshot(&self) -> Vec<(RoomName, Vec<PeerId>)> {
        self.rooms.iter().map(|(room, r)| (room.clone(), r.members.iter().map(|m| m.id).collect())).collect()
    }

    /// Who is in `room` right now, against the same capacity `join` enforces.
    pub fn status(&self, room: RoomName) -> RoomStatus {
        let existing = self.rooms.get(&room);
        RoomStatus {
            members: existing.map_or(0, |r| r.members.len()),
            capacity: self.capacity,
            locked: self.locks.contains_key(&room) || existing.is_some_and(|r| r.password.is_some()),
            room,
        }
    }

    fn members_of(&self, peer: PeerId) -> Result<&[Member], RoomError> {
        let room = self.joined.get(&peer).ok_or(RoomError::NotJoined)?;
        Ok(self.rooms.get(room).map_or(&[], |r| r.members.as_slice()))
    }

    /// Delivers `stamped` (see [`ClientMsg::relayed`]) to `to` only, if
    /// both are in one room.
    fn relay(&self, from: PeerId, to: PeerId, stamped: ServerMsg) -> Result<Outbox, RoomError> {
        let members = self.members_of(from)?;
        if to == from || !members.iter().any(|m| m.id == to) {
            return Err(RoomError::UnknownPeer(to));
        }
        Ok(vec![(to, stamped)])
    }

    /// The members of `room`, in join order.
    pub fn members_in<'a>(&'a self, room: &RoomName) -> impl Iterator<Item = PeerId> + 'a {
        self.rooms.get(room).into_iter().flat_map(|r| r.members.iter().map(|m| m.id))
    }

    /// Passes a member's SDP to the SFU, if its room is on it.
    fn pass_to_sfu(&mut self, peer: PeerId, command: impl FnOnce(String) -> sfu::Command) -> Result<Outbox, RoomError> {
        let room = self.joined.get(&peer).ok_or(RoomError::NotJoined)?;
        if !self.rooms.get(room).is_some_and(|r| r.sfu) {
            return Err(RoomError::NoSfu);
        }
        self.to_sfu.push(command(room.to_string()));
        Ok(vec![])
    }

    /// A chat line to the rest of an SFU room (a mesh's goes member to member).
    fn chat(&self, from: PeerId, text: String) -> Result<Outbox, RoomError> {
        let room = self.joined.get(&from).ok_or(RoomError::NotJoined)?;
        let entry = self.rooms.get(room).filter(|r| r.sfu).ok_or(RoomError::NoSfu)?;
        let chars = text.chars().count();
        if chars == 0 || chars > shared::protocol::CHAT_MAX_CHARS || text.trim().is_empty() {
            return Err(RoomError::InvalidChat);
        }
        let line = ServerMsg::Chat { from, text };
        Ok(entry.members.iter().filter(|m| m.id != from).map(|m| (m.id, line.clone())).collect())
    }

    /// What the SFU said, for the members it concerns.
    pub fn from_sfu(&self, event: sfu::Event) -> Outbox {
        let one = |peer: PeerId, msg| if self.joined.contains_key(&peer) { vec![(peer, msg)] } else { vec![] };
        match event {
            sfu::Event::Answer { peer, sdp } => one(peer, ServerMsg::SfuAnswer { sdp }),
            sfu::Event::Offer { peer, sdp, tracks } => one(peer, ServerMsg::SfuOffer { sdp, tracks }),
            sfu::Event::Refused { peer, error } => {
                one(peer, ServerMsg::error(ErrorCode::InvalidSdp, error.to_string()))
            }
            sfu::Event::Closed { peer } => {
                one(peer, ServerMsg::error(ErrorCode::NoSfu, "the connection to the media server ended: connect again"))
            }
            sfu::Event::Paused { peer, peers } => one(peer, ServerMsg::SfuPaused { peers }),
            sfu::Event::Speaking { room, peers } => match RoomName::parse(&room) {
                Ok(room) => self.members_in(&room).map(|m| (m, ServerMsg::Speaking { peers: peers.clone() })).collect(),
                Err(_) => vec![],
            },
        }
    }

    fn media_state(&mut self, from: PeerId, state: MediaState) -> Result<Outbox, RoomError> {
        let room = self.joined.get(&from).ok_or(RoomError::NotJoined)?;
        let members = self.rooms.get_mut(room).map_or(&mut [][..], |r| r.members.as_mut_slice());
        let mut out = Vec::new();
        for member in members {
            if member.id == from {
                member.state = state;
            } else {
                out.push((member.id, ServerMsg::MediaState { from, state }));
            }
        }
        Ok(out)
    }
}

/// `None` for no password (absent or empty); a refusal for one that could
/// never be typed back.
fn parse_password(raw: Option<&str>) -> Result<Option<&str>, RoomError> {
    match raw.filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(password) => Password::parse(password).map(|_| Some(password)).map_err(RoomError::InvalidPassword),
    }
}

/// Compares in time independent of where the first difference is, so a
/// guesser learns nothing from how long a refusal took.
fn same_secret(want: &str, given: &str) -> bool {
    let (want, given) = (want.as_bytes(), given.as_bytes());
    want.len() == given.len() && want.iter().zip(given).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// A resume token: 128 random bits, hex (unguessable, so only the member
/// can resume), after `node.` in a cluster.
fn new_token(node: Option<&str>) -> String {
    let random = random_token();
    match node {
        Some(node) => format!("{node}.{random}"),
        None => random,
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    // Without an OS random source nothing else here would be safe either.
    getrandom::fill(&mut bytes).expect("the OS random number generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PeerId = PeerId(1);
    const B: PeerId = PeerId(2);
    const C: PeerId = PeerId(3);
    const MUTED: MediaState = MediaState { muted: true, camera_off: false, sharing: false };
    const MUTED_NO_CAMERA: MediaState = MediaState { muted: true, camera_off: true, sharing: false };

    fn rooms() -> Rooms {
        Rooms::new(2, vec![IceServer { urls: vec!["stun:example.org".into()], username: None, credential: None }])
    }

    fn join(room: &str, name: &str) -> ClientMsg {
        ClientMsg::join(room, name)
    }

    fn offer(to: PeerId) -> ClientMsg {
        ClientMsg::Offer { to, sdp: "v=0".into() }
    }

    /// Asserts `out` is exactly one `Error` to `peer`, and returns its message.
    fn error_to(peer: PeerId, code: ErrorCode, out: Outbox) -> String {
        match out.as_slice() {
            [(to, ServerMsg::Error { code: got, message })] if *to == peer && *got == code => message.clone(),
            other => panic!("expected one {code:?} error to {peer}, got {other:?}"),
        }
    }

    fn info(id: PeerId, name: &str) -> PeerInfo {
        PeerInfo { id, name: DisplayName::parse(name).unwrap(), state: MediaState::default() }
    }

    #[test]
    fn join_welcomes_the_newcomer_and_tells_the_others() {
        let mut rooms = rooms();
        let out = rooms.handle(A, join(" standup ", "Ana"));
        let [(
            to,
            ServerMsg::Welcome {
                version,
                you,
                room,
                capacity,
                ice_servers,
                peers,
                resume,
                sfu: false,
                relay_only: false,
            },
        )] = out.as_slice()
        else {
            panic!("expected a welcome, got {out:?}")
        };
        assert_eq!((*to, *version, *you, room.as_str(), *capacity), (A, PROTOCOL_VERSION, A, "standup", 2));
        assert_eq!(ice_servers.len(), 1);
        assert!(peers.is_empty());
        assert!(resume.as_ref().is_some_and(|t| t.len() == 32), "{resume:?}");

        let out = rooms.handle(B, join("standup", "Ben"));
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[0], (B, ServerMsg::Welcome { peers, .. }) if *peers == [info(A, "Ana")]));
        assert_eq!(out[1], (A, ServerMsg::PeerJoined { peer: info(B, "Ben") }));
    }

    #[test]
    fn join_is_validated() {
        let mut rooms = rooms();
        let wrong =
            ClientMsg::Join { version: PROTOCOL_VERSION + 1, room: "r".into(), name: "Ana".into(), password: None };
        let message = error_to(A, ErrorCode::VersionMismatch, rooms.handle(A, wrong));
        assert!(message.contains("reload"), "{message}");
        error_to(A, ErrorCode::InvalidRoomName, rooms.handle(A, join("", "Ana")));
        error_to(A, ErrorCode::InvalidRoomName, rooms.handle(A, join(&"a".repeat(100), "Ana")));
        error_to(A, ErrorCode::InvalidRoomName, rooms.handle(A, join("a/b", "Ana")));
        error_to(A, ErrorCode::InvalidDisplayName, rooms.handle(A, join("r", " ")));
        error_to(A, ErrorCode::InvalidDisplayName, rooms.handle(A, join("r", "a\nb")));
        assert_eq!(rooms.room_count(), 0, "refused joins leave nothing behind");

        assert!(matches!(rooms.handle(A, join("r", "Ana"))[0].1, ServerMsg::Welcome { .. }));
        error_to(A, ErrorCode::AlreadyJoined, rooms.handle(A, join("other", "Ana")));
    }

    #[test]
    fn nothing_but_join_before_joining() {
        let mut rooms = rooms();
        error_to(A, ErrorCode::NotJoined, rooms.handle(A, offer(B)));
        error_to(A, ErrorCode::NotJoined, rooms.handle(A, ClientMsg::MediaState(MUTED)));
        error_to(A, ErrorCode::NotJoined, rooms.handle(A, ClientMsg::Leave));
    }

    #[test]
    fn a_full_room_refuses_and_the_refused_may_go_elsewhere() {
        let mut rooms = rooms();
        rooms.handle(A, join("r", "Ana"));
        rooms.handle(B, join("r", "Ben"));
        let message = error_to(C, ErrorCode::RoomFull, rooms.handle(C, join("r", "Cy")));
        assert_eq!(message, "this room is full: 2 of 2");
        assert!(matches!(rooms.handle(C, join("elsewhere", "Cy"))[0].1, ServerMsg::Welcome { .. }));
        assert_eq!(rooms.handle(A, offer(B)), [(B, ServerMsg::Offer { from: A, sdp: "v=0".into() })]);
    }

    #[test]
    fn relays_go_to_the_addressee_only_with_the_true_sender() {
        let mut rooms = rooms();
        rooms.handle(A, join("r", "Ana"));
        rooms.handle(B, join("r", "Ben"));
        rooms.handle(C, join("other", "Cy"));

        assert_eq!(rooms.handle(A, offer(B)), [(B, ServerMsg::Offer { from: A, sdp: "v=0".into() })]);
        let answer = ClientMsg::Answer { to: A, sdp: "v=1".into() };
        assert_eq!(rooms.handle(B, answer), [(A, ServerMsg::Answer { from: B, sdp: "v=1".into() })]);
        let candidate = shared::IceCandidate { candidate: "c".into(), sdp_mid: None, sdp_m_line_index: Some(0) };
        let ice = ClientMsg::Ice { to: B, candidate: candidate.clone() };
        assert_eq!(rooms.handle(A, ice), [(B, ServerMsg::Ice { from: A, candidate })]);

        error_to(A, ErrorCode::UnknownPeer, rooms.handle(A, offer(C)));
        error_to(A, ErrorCode::UnknownPeer, rooms.handle(A, offer(A)));
        error_to(A, ErrorCode::UnknownPeer, rooms.handle(A, offer(PeerId(99))));
    }

    #[test]
    fn media_state_is_stored_and_told_to_the_others() {
        let mut rooms = rooms();
        rooms.handle(A, join("r", "Ana"));
        let out = rooms.handle(A, ClientMsg::MediaState(MUTED_NO_CAMERA));
        assert!(out.is_empty(), "nobody else to tell, and never the sender");

        let out = rooms.handle(B, join("r", "Ben"));
        let ServerMsg::Welcome { peers, .. } = &out[0].1 else { panic!("{out:?}") };
        assert_eq!(peers[0], PeerInfo { state: MUTED_NO_CAMERA, ..info(A, "Ana") });

        let out = rooms.handle(B, ClientMsg::MediaState(MUTED));
        assert_eq!(out, [(A, ServerMsg::MediaState { from: B, state: MUTED })]);
    }

    #[test]
    fn status_counts_the_members_of_one_room() {
        let mut rooms = rooms();
        let r = RoomName::parse("r").unwrap();
        let empty = RoomStatus { room: r.clone(), members: 0, capacity: 2, locked: false };
        assert_eq!(rooms.status(r.clone()), empty);
        rooms.handle(A, join("r", "Ana"));
        rooms.handle(B, join("r", "Ben"));
        rooms.handle(C, join("r", "Cy"));
        rooms.handle(C, join("other", "Cy"));
        assert_eq!(rooms.status(r.clone()).members, 2, "the refused is not counted");
        rooms.handle(A, ClientMsg::Leave);
        assert_eq!(rooms.status(r.clone()).members, 1);
        rooms.leave(B);
        assert_eq!(rooms.status(r), empty, "and the room is gone");
    }

    #[test]
    fn leaving_tells_the_rest_and_empty_rooms_go_away() {
        let mut rooms = rooms();
        rooms.handle(A, join("r", "Ana"));
        rooms.handle(B, join("r", "Ben"));

        assert_eq!(rooms.handle(B, ClientMsg::Leave), [(A, ServerMsg::PeerLeft { peer: B })]);
        error_to(B, ErrorCode::NotJoined, rooms.handle(B, offer(A)));
        assert!(matches!(rooms.handle(B, join("r", "Ben"))[0].1, ServerMsg::Welcome { .. }), "may rejoin");

        assert_eq!(rooms.leave(A), [(B, ServerMsg::PeerLeft { peer: A })]);
        assert!(rooms.leave(A).is_empty(), "leaving twice is harmless");
        assert!(rooms.leave(B).is_empty());
        assert_eq!(rooms.room_count(), 0);
        assert!(rooms.leave(C).is_empty(), "never joined");
    }

    fn locked_join(room: &str, name: &str, password: &str) -> ClientMsg {
        ClientMsg::Join {
            version: PROTOCOL_VERSION,
            room: room.into(),
            name: name.into(),
            password: Some(password.into()),
        }
    }

    fn token_of(out: &Outbox) -> String {
        match &out[0].1 {
            ServerMsg::Welcome { resume: Some(token), .. } => token.clone(),
            other => panic!("expected a welcome, got {other:?}"),
        }
    }

    #[test]
    fn the_first_member_locks_the_room_until_it_empties() {
        let mut rooms = Rooms::new(3, vec![]);
        let r = RoomName::parse("r").unwrap();
        rooms.handle(A, locked_join("r", "Ana", "open sesame"));
        assert!(rooms.status(r.clone()).locked);
        error_to(B, ErrorCode::PasswordRequired, rooms.handle(B, join("r", "Ben")));
        error_to(B, ErrorCode::WrongPassword, rooms.handle(B, locked_join("r", "Ben", "open sesame!")));
        assert_eq!(rooms.status(r.clone()).members, 1, "refused joiners are not counted");
        assert!(matches!(rooms.handle(B, locked_join("r", "Ben", "open sesame"))[0].1, ServerMsg::Welcome { .. }));
        rooms.leave(A);
        rooms.leave(B);
        assert!(!rooms.status(r.clone()).locked, "an empty room forgets its password");
        assert!(matches!(rooms.handle(C, join("r", "Cy"))[0].1, ServerMsg::Welcome { .. }));
        assert!(!rooms.status(r).locked, "no password, no lock");
    }

    #[test]
    fn operator_locks_outlive_the_room_and_bad_passwords_are_refused() {
        let r = RoomName::parse("board").unwrap();
        let mut rooms = Rooms::new(3, vec![]).lock(r.clone(), "quarterly".into());
        assert!(rooms.status(r.clone()).locked, "locked before anyone is in");
        error_to(A, ErrorCode::PasswordRequired, rooms.handle(A, locked_join("board", "Ana", "")));
        let long = "x".repeat(PASSWORD_MAX + 1);
        error_to(A, ErrorCode::InvalidPassword, rooms.handle(A, locked_join("other", "Ana", &long)));
        error_to(A, ErrorCode::InvalidPassword, rooms.handle(A, locked_join("other", "Ana", "a\nb")));
        assert_eq!(rooms.room_count(), 0);
        rooms.handle(A, locked_join("board", "Ana", "quarterly"));
        rooms.leave(A);
        error_to(B, ErrorCode::PasswordRequired, rooms.handle(B, join("board", "Ben")));
    }

    #[test]
    fn in_a_cluster_tokens_name_their_node_and_still_resume() {
        let mut rooms = Rooms::new(3, vec![]).on_node("n7");
        let token = token_of(&rooms.handle(A, join("r", "Ana")));
        assert!(token.starts_with("n7.") && token.len() == 3 + 32, "{token}");
        let (member, resumed) = rooms.resume(PROTOCOL_VERSION, &token).unwrap();
        assert_eq!(member, A);
        assert!(token_of_resumed(&resumed).starts_with("n7."));
    }

    #[test]
    fn a_token_resumes_its_own_seat_only_while_the_member_is_in() {
        let mut rooms = rooms();
        let token = token_of(&rooms.handle(A, join("r", "Ana")));
        rooms.handle(B, join("r", "Ben"));
        assert!(matches!(rooms.resume(PROTOCOL_VERSION + 1, &token), Err(RoomError::VersionMismatch { .. })));
        let (member, resumed) = rooms.resume(PROTOCOL_VERSION, &token).unwrap();
        assert_eq!(member, A);
        let ServerMsg::Resumed { resume: Some(token), .. } = &resumed else { panic!("{resumed:?}") };
        let token = token.clone();
        assert_eq!(
            resumed,
            ServerMsg::Resumed {
                you: A,
                room: RoomName::parse("r").unwrap(),
                peers: vec![info(B, "Ben")],
                resume: Some(token.clone()),
                sfu: false,
            }
        );
        assert_eq!(rooms.resume(PROTOCOL_VERSION, "not-a-token").unwrap_err(), RoomError::ResumeFailed);
        rooms.leave(A);
        assert_eq!(rooms.resume(PROTOCOL_VERSION, &token).unwrap_err(), RoomError::ResumeFailed);
        let again = token_of(&rooms.handle(A, join("r", "Ana")));
        assert_ne!(again, token, "every seat has its own token");
    }

    fn token_of_resumed(resumed: &ServerMsg) -> String {
        match resumed {
            ServerMsg::Resumed { resume: Some(token), .. } => token.clone(),
            other => panic!("expected resumed with a token, got {other:?}"),
        }
    }

    #[test]
    fn each_resume_spends_its_token_and_gives_the_next() {
        let mut rooms = rooms();
        let first = token_of(&rooms.handle(A, join("r", "Ana")));
        let (_, resumed) = rooms.resume(PROTOCOL_VERSION, &first).unwrap();
        let second = token_of_resumed(&resumed);
        assert_ne!(second, first);
        assert_eq!(second.len(), 32);
        assert_eq!(rooms.resume(PROTOCOL_VERSION, &first).unwrap_err(), RoomError::ResumeFailed, "spent");
        let (member, resumed) = rooms.resume(PROTOCOL_VERSION, &second).unwrap();
        assert_eq!(member, A);
        let third = token_of_resumed(&resumed);
        assert_eq!(rooms.resume(PROTOCOL_VERSION, &second).unwrap_err(), RoomError::ResumeFailed);
        assert_eq!(rooms.tokens.len(), 1, "one live token per seat");
        rooms.leave(A);
        assert!(rooms.tokens.is_empty(), "the seat's last token goes with it");
        assert_eq!(rooms.resume(PROTOCOL_VERSION, &third).unwrap_err(), RoomError::ResumeFailed);
    }

    #[test]
    fn spellings_of_one_room_name_are_one_room() {
        let mut rooms = rooms();
        rooms.handle(A, join("cafe\u{301}", "Ana"));
        let out = rooms.handle(B, join("caf\u{e9}", "Ben"));
        assert!(matches!(&out[0].1, ServerMsg::Welcome { peers, .. } if peers.len() == 1), "{out:?}");
        assert_eq!(rooms.room_count(), 1);
    }

    fn sfu_of(out: &Outbox, to: PeerId) -> Option<bool> {
        out.iter().find_map(|(p, m)| match m {
            ServerMsg::Welcome { sfu, .. } if *p == to => Some(*sfu),
            _ => None,
        })
    }

    #[test]
    fn a_room_moves_to_the_sfu_as_its_nth_member_joins_and_stays_till_it_empties() {
        let mut rooms = Rooms::new(50, vec![]).with_sfu_from(3);
        assert_eq!(sfu_of(&rooms.handle(A, join("r", "Ana")), A), Some(false));
        let out = rooms.handle(B, join("r", "Ben"));
        assert_eq!(sfu_of(&out, B), Some(false), "two are a mesh");
        assert!(!out.iter().any(|(_, m)| *m == ServerMsg::UseSfu));
        let c = PeerId(3);
        let out = rooms.handle(c, join("r", "Cy"));
        assert_eq!(sfu_of(&out, c), Some(true), "the third goes straight to the SFU");
        let told: Vec<PeerId> = out.iter().filter(|(_, m)| *m == ServerMsg::UseSfu).map(|(p, _)| *p).collect();
        assert_eq!(told, [A, B], "the others are told to move");
        // SDP goes to the SFU, named with the room; leaving ends the session.
        assert_eq!(rooms.handle(c, ClientMsg::SfuOffer { sdp: "o".into() }), vec![]);
        rooms.leave(c);
        assert_eq!(
            rooms.take_sfu(),
            [sfu::Command::Offer { room: "r".into(), peer: c, sdp: "o".into() }, sfu::Command::Leave { peer: c }]
        );
        // Down to two, still on the SFU: a newcomer goes there too.
        assert_eq!(sfu_of(&rooms.handle(c, join("r", "Cy")), c), Some(true));
        for peer in [A, B, c] {
            rooms.leave(peer);
        }
        assert_eq!(sfu_of(&rooms.handle(A, join("r", "Ana")), A), Some(false), "an emptied room starts as a mesh");
    }

    #[test]
    fn sdp_for_the_sfu_is_refused_outside_an_sfu_room() {
        let mut rooms = Rooms::new(6, vec![]);
        let refused =
            |out: Outbox| matches!(out.as_slice(), [(_, ServerMsg::Error { code, .. })] if *code == ErrorCode::NoSfu);
        assert!(matches!(
            rooms.handle(A, ClientMsg::SfuOffer { sdp: "o".into() }).as_slice(),
            [(_, ServerMsg::Error { code: ErrorCode::NotJoined, .. })]
        ));
        rooms.handle(A, join("r", "Ana"));
        assert!(refused(rooms.handle(A, ClientMsg::SfuOffer { sdp: "o".into() })));
        assert!(refused(rooms.handle(A, ClientMsg::SfuAnswer { sdp: "a".into() })));
        assert!(rooms.take_sfu().is_empty());
    }

    #[test]
    fn a_view_reaches_the_sfu_only_from_a_member_of_an_sfu_room_and_only_so_big() {
        let view = |n: usize| {
            let one = shared::VideoView { peer: B, source: shared::TrackSource::Camera, width: 320, height: 180 };
            ClientMsg::SfuView { views: vec![one; n] }
        };
        let code = |out: Outbox| match out.as_slice() {
            [(_, ServerMsg::Error { code, .. })] => Some(*code),
            _ => None,
        };
        let mut mesh = Rooms::new(6, vec![]);
        mesh.handle(A, join("r", "Ana"));
        assert_eq!(code(mesh.handle(A, view(1))), Some(ErrorCode::NoSfu));
        let mut rooms = Rooms::new(50, vec![]).with_sfu_from(2);
        assert_eq!(code(rooms.handle(A, view(1))), Some(ErrorCode::NotJoined));
        rooms.handle(A, join("r", "Ana"));
        rooms.handle(B, join("r", "Ben"));
        rooms.take_sfu();
        let too_many = shared::protocol::SFU_VIEWS_MAX + 1;
        assert_eq!(code(rooms.handle(A, view(too_many))), Some(ErrorCode::InvalidMessage));
        assert!(rooms.take_sfu().is_empty(), "a refused view is not passed on");
        assert_eq!(rooms.handle(A, view(2)), vec![]);
        assert!(matches!(rooms.take_sfu().as_slice(), [sfu::Command::View { peer: A, views }] if views.len() == 2));
    }

    #[test]
    fn what_the_sfu_says_reaches_only_members() {
        let mut rooms = Rooms::new(50, vec![]).with_sfu_from(2);
        rooms.handle(A, join("r", "Ana"));
        rooms.handle(B, join("r", "Ben"));
        let speaking = sfu::Event::Speaking { room: "r".into(), peers: vec![B] };
        assert_eq!(rooms.from_sfu(speaking).len(), 2);
        let answer = sfu::Event::Answer { peer: A, sdp: "a".into() };
        assert_eq!(rooms.from_sfu(answer), [(A, ServerMsg::SfuAnswer { sdp: "a".into() })]);
        rooms.leave(A);
        assert!(rooms.from_sfu(sfu::Event::Answer { peer: A, sdp: "late".into() }).is_empty(), "gone: nothing");
    }

    #[test]
    fn chat_goes_through_the_server_only_in_an_sfu_room() {
        let mut mesh = rooms();
        mesh.handle(A, join("m", "Ana"));
        mesh.handle(B, join("m", "Ben"));
        let refused = mesh.handle(A, ClientMsg::Chat { text: "hi".into() });
        assert!(matches!(refused.as_slice(), [(_, ServerMsg::Error { code: ErrorCode::NoSfu, .. })]), "{refused:?}");

        let mut big = Rooms::new(50, vec![]).with_sfu_from(2);
        big.handle(A, join("r", "Ana"));
        big.handle(B, join("r", "Ben"));
        assert_eq!(
            big.handle(A, ClientMsg::Chat { text: "hi".into() }),
            [(B, ServerMsg::Chat { from: A, text: "hi".into() })]
        );
        let too_long = "가".repeat(shared::protocol::CHAT_MAX_CHARS + 1);
        for text in ["", "  ", too_long.as_str()] {
            let out = big.handle(A, ClientMsg::Chat { text: text.into() });
            assert!(
                matches!(out.as_slice(), [(p, ServerMsg::Error { code: ErrorCode::InvalidMessage, .. })] if *p == A),
                "{out:?}"
            );
        }
    }
}
