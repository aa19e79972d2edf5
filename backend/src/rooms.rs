//! The room registry: who is in which room, and what each client message
//! means for everyone else. Pure (no I/O, no tokio) so the rules are tested
//! directly, and whatever delivers the answers stays a thin layer.

use shared::{
    ClientMsg, DisplayName, ErrorCode, IceServer, MediaState, NameError, PeerId, PeerInfo, RoomName,
    RoomStatus, ServerMsg, PROTOCOL_VERSION,
};
use std::collections::HashMap;

/// Messages to deliver, each addressed to one peer.
pub type Outbox = Vec<(PeerId, ServerMsg)>;

/// Why a client message was refused. The `Display` text is what the user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error(
        "this page speaks protocol version {client}, the server speaks {server}: reload the page"
    )]
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
        }
    }

    fn into_reply(self, peer: PeerId) -> Outbox {
        vec![(peer, ServerMsg::error(self.code(), self.to_string()))]
    }
}

#[derive(Debug)]
struct Member {
    id: PeerId,
    name: DisplayName,
    state: MediaState,
}

impl Member {
    fn info(&self) -> PeerInfo {
        PeerInfo {
            id: self.id,
            name: self.name.clone(),
            state: self.state,
        }
    }
}

/// Every room and its members. A peer not in `joined` is connected but has
/// not (successfully) joined yet, so the registry needs no "connect" step.
#[derive(Debug)]
pub struct Rooms {
    capacity: usize,
    ice_servers: Vec<IceServer>,
    /// Members in join order, so `Welcome.peers` is stable.
    rooms: HashMap<RoomName, Vec<Member>>,
    /// The room each joined peer is in.
    joined: HashMap<PeerId, RoomName>,
}

impl Rooms {
    pub fn new(capacity: usize, ice_servers: Vec<IceServer>) -> Self {
        Self {
            capacity,
            ice_servers,
            rooms: HashMap::new(),
            joined: HashMap::new(),
        }
    }

    /// Applies one message from `peer`; a refusal becomes an `Error` to `peer` only.
    pub fn handle(&mut self, peer: PeerId, msg: ClientMsg) -> Outbox {
        let result = match msg {
            ClientMsg::Join {
                version,
                room,
                name,
            } => self.join(peer, version, &room, &name),
            ClientMsg::Offer { to, sdp } => {
                self.relay(peer, to, |from| ServerMsg::Offer { from, sdp })
            }
            ClientMsg::Answer { to, sdp } => {
                self.relay(peer, to, |from| ServerMsg::Answer { from, sdp })
            }
            ClientMsg::Ice { to, candidate } => {
                self.relay(peer, to, |from| ServerMsg::Ice { from, candidate })
            }
            ClientMsg::MediaState(state) => self.media_state(peer, state),
            ClientMsg::Leave if self.joined.contains_key(&peer) => Ok(self.leave(peer)),
            ClientMsg::Leave => Err(RoomError::NotJoined),
        };
        result.unwrap_or_else(|err| err.into_reply(peer))
    }

    pub fn join(
        &mut self,
        peer: PeerId,
        version: u32,
        room: &str,
        name: &str,
    ) -> Result<Outbox, RoomError> {
        if let Some(room) = self.joined.get(&peer) {
            return Err(RoomError::AlreadyJoined(room.clone()));
        }
        if version != PROTOCOL_VERSION {
            return Err(RoomError::VersionMismatch {
                client: version,
                server: PROTOCOL_VERSION,
            });
        }
        let room = RoomName::parse(room).map_err(RoomError::InvalidRoomName)?;
        let name = DisplayName::parse(name).map_err(RoomError::InvalidDisplayName)?;
        // Checked before `entry` so a refused join never leaves an empty room behind.
        let present = self.rooms.get(&room).map_or(0, Vec::len);
        if present >= self.capacity {
            return Err(RoomError::RoomFull {
                members: present,
                capacity: self.capacity,
            });
        }

        let members = self.rooms.entry(room.clone()).or_default();
        let newcomer = Member {
            id: peer,
            name,
            state: MediaState::default(),
        };
        let mut out = vec![(
            peer,
            ServerMsg::Welcome {
                version: PROTOCOL_VERSION,
                you: peer,
                room: room.clone(),
                capacity: self.capacity,
                ice_servers: self.ice_servers.clone(),
                peers: members.iter().map(Member::info).collect(),
            },
        )];
        let joined = ServerMsg::PeerJoined {
            peer: newcomer.info(),
        };
        out.extend(members.iter().map(|m| (m.id, joined.clone())));
        members.push(newcomer);
        self.joined.insert(peer, room);
        Ok(out)
    }

    /// Removes `peer` from its room (if any) and tells the rest. Also what a
    /// disconnect means, so it is infallible.
    pub fn leave(&mut self, peer: PeerId) -> Outbox {
        let Some(room) = self.joined.remove(&peer) else {
            return Vec::new();
        };
        let Some(members) = self.rooms.get_mut(&room) else {
            return Vec::new();
        };
        members.retain(|m| m.id != peer);
        if members.is_empty() {
            self.rooms.remove(&room);
            return Vec::new();
        }
        members
            .iter()
            .map(|m| (m.id, ServerMsg::PeerLeft { peer }))
            .collect()
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
        self.rooms
            .iter()
            .map(|(room, members)| (room.clone(), members.iter().map(|m| m.id).collect()))
            .collect()
    }

    /// Who is in `room` right now, against the same capacity `join` enforces.
    pub fn status(&self, room: RoomName) -> RoomStatus {
        RoomStatus {
            members: self.rooms.get(&room).map_or(0, Vec::len),
            capacity: self.capacity,
            room,
        }
    }

    fn members_of(&self, peer: PeerId) -> Result<&[Member], RoomError> {
        let room = self.joined.get(&peer).ok_or(RoomError::NotJoined)?;
        Ok(self.rooms.get(room).map_or(&[], Vec::as_slice))
    }

    /// Delivers to `to` only, stamped with the real sender: whatever the
    /// client claimed is never read.
    fn relay(
        &self,
        from: PeerId,
        to: PeerId,
        msg: impl FnOnce(PeerId) -> ServerMsg,
    ) -> Result<Outbox, RoomError> {
        let members = self.members_of(from)?;
        if to == from || !members.iter().any(|m| m.id == to) {
            return Err(RoomError::UnknownPeer(to));
        }
        Ok(vec![(to, msg(from))])
    }

    fn media_state(
        &mut self,
        from: PeerId,
        state: MediaState,
    ) -> Result<Outbox, RoomError> {
        let room = self.joined.get(&from).ok_or(RoomError::NotJoined)?;
        let members = self
            .rooms
            .get_mut(room)
            .map_or(&mut [][..], Vec::as_mut_slice);
        let mut out = Vec::new();
        for member in members {
            if member.id == from {
                member.state = state;
            } else {
                out.push((
                    member.id,
                    ServerMsg::MediaState { from, state },
                ));
            }
        }
        Ok(out)
    }
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
        Rooms::new(
            2,
            vec![IceServer {
                urls: vec!["stun:example.org".into()],
                username: None,
                credential: None,
            }],
        )
    }

    fn join(room: &str, name: &str) -> ClientMsg {
        ClientMsg::Join {
            version: PROTOCOL_VERSION,
            room: room.into(),
            name: name.into(),
        }
    }

    fn offer(to: PeerId) -> ClientMsg {
        ClientMsg::Offer {
            to,
            sdp: "v=0".into(),
        }
    }

    /// Asserts `out` is exactly one `Error` to `peer`, and returns its message.
    fn error_to(peer: PeerId, code: ErrorCode, out: Outbox) -> String {
        match out.as_slice() {
            [(to, ServerMsg::Error { code: got, message })] if *to == peer && *got == code => {
                message.clone()
            }
            other => panic!("expected one {code:?} error to {peer}, got {other:?}"),
        }
    }

    fn info(id: PeerId, name: &str) -> PeerInfo {
        PeerInfo {
            id,
            name: DisplayName::parse(name).unwrap(),
            state: MediaState::default(),
        }
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
            },
        )] = out.as_slice()
        else {
            panic!("expected a welcome, got {out:?}")
        };
        assert_eq!(
            (*to, *version, *you, room.as_str(), *capacity),
            (A, PROTOCOL_VERSION, A, "standup", 2)
        );
        assert_eq!(ice_servers.len(), 1);
        assert!(peers.is_empty());

        let out = rooms.handle(B, join("standup", "Ben"));
        assert_eq!(out.len(), 2);
        assert!(
            matches!(&out[0], (B, ServerMsg::Welcome { peers, .. }) if *peers == [info(A, "Ana")])
        );
        assert_eq!(
            out[1],
            (
                A,
                ServerMsg::PeerJoined {
                    peer: info(B, "Ben")
                }
            )
        );
    }

    #[test]
    fn join_is_validated() {
        let mut rooms = rooms();
        let wrong = ClientMsg::Join {
            version: PROTOCOL_VERSION + 1,
            room: "r".into(),
            name: "Ana".into(),
        };
        let message = error_to(A, ErrorCode::VersionMismatch, rooms.handle(A, wrong));
        assert!(message.contains("reload"), "{message}");
        error_to(
            A,
            ErrorCode::InvalidRoomName,
            rooms.handle(A, join("", "Ana")),
        );
        error_to(
            A,
            ErrorCode::InvalidRoomName,
            rooms.handle(A, join(&"a".repeat(100), "Ana")),
        );
        error_to(
            A,
            ErrorCode::InvalidRoomName,
            rooms.handle(A, join("a/b", "Ana")),
        );
        error_to(
            A,
            ErrorCode::InvalidDisplayName,
            rooms.handle(A, join("r", " ")),
        );
        error_to(
            A,
            ErrorCode::InvalidDisplayName,
            rooms.handle(A, join("r", "a\nb")),
        );
        assert_eq!(rooms.room_count(), 0, "refused joins leave nothing behind");

        assert!(matches!(
            rooms.handle(A, join("r", "Ana"))[0].1,
            ServerMsg::Welcome { .. }
        ));
        error_to(
            A,
            ErrorCode::AlreadyJoined,
            rooms.handle(A, join("other", "Ana")),
        );
    }

    #[test]
    fn nothing_but_join_before_joining() {
        let mut rooms = rooms();
        error_to(A, ErrorCode::NotJoined, rooms.handle(A, offer(B)));
        error_to(
            A,
            ErrorCode::NotJoined,
            rooms.handle(
                A,
                ClientMsg::MediaState(MUTED),
            ),
        );
        error_to(A, ErrorCode::NotJoined, rooms.handle(A, ClientMsg::Leave));
    }

    #[test]
    fn a_full_room_refuses_and_the_refused_may_go_elsewhere() {
        let mut rooms = rooms();
        rooms.handle(A, join("r", "Ana"));
        rooms.handle(B, join("r", "Ben"));
        let message = error_to(C, ErrorCode::RoomFull, rooms.handle(C, join("r", "Cy")));
        assert_eq!(message, "this room is full: 2 of 2");
        assert!(matches!(
            rooms.handle(C, join("elsewhere", "Cy"))[0].1,
            ServerMsg::Welcome { .. }
        ));
        assert_eq!(
            rooms.handle(A, offer(B)),
            [(
                B,
                ServerMsg::Offer {
                    from: A,
                    sdp: "v=0".into()
                }
            )]
        );
    }

    #[test]
    fn relays_go_to_the_addressee_only_with_the_true_sender() {
        let mut rooms = rooms();
        rooms.handle(A, join("r", "Ana"));
        rooms.handle(B, join("r", "Ben"));
        rooms.handle(C, join("other", "Cy"));

        assert_eq!(
            rooms.handle(A, offer(B)),
            [(
                B,
                ServerMsg::Offer {
                    from: A,
                    sdp: "v=0".into()
                }
            )]
        );
        let answer = ClientMsg::Answer {
            to: A,
            sdp: "v=1".into(),
        };
        assert_eq!(
            rooms.handle(B, answer),
            [(
                A,
                ServerMsg::Answer {
                    from: B,
                    sdp: "v=1".into()
                }
            )]
        );
        let candidate = shared::IceCandidate {
            candidate: "c".into(),
            sdp_mid: None,
            sdp_m_line_index: Some(0),
        };
        let ice = ClientMsg::Ice {
            to: B,
            candidate: candidate.clone(),
        };
        assert_eq!(
            rooms.handle(A, ice),
            [(B, ServerMsg::Ice { from: A, candidate })]
        );

        error_to(A, ErrorCode::UnknownPeer, rooms.handle(A, offer(C)));
        error_to(A, ErrorCode::UnknownPeer, rooms.handle(A, offer(A)));
        error_to(
            A,
            ErrorCode::UnknownPeer,
            rooms.handle(A, offer(PeerId(99))),
        );
    }

    #[test]
    fn media_state_is_stored_and_told_to_the_others() {
        let mut rooms = rooms();
        rooms.handle(A, join("r", "Ana"));
        let out = rooms.handle(
            A,
            ClientMsg::MediaState(MUTED_NO_CAMERA),
        );
        assert!(out.is_empty(), "nobody else to tell, and never the sender");

        let out = rooms.handle(B, join("r", "Ben"));
        let ServerMsg::Welcome { peers, .. } = &out[0].1 else {
            panic!("{out:?}")
        };
        assert_eq!(
            peers[0],
            PeerInfo {
                state: MUTED_NO_CAMERA,
                ..info(A, "Ana")
            }
        );

        let out = rooms.handle(
            B,
            ClientMsg::MediaState(MUTED),
        );
        assert_eq!(
            out,
            [(
                A,
                ServerMsg::MediaState {
                    from: B,
                    state: MUTED
                }
            )]
        );
    }

    #[test]
    fn status_counts_the_members_of_one_room() {
        let mut rooms = rooms();
        let r = RoomName::parse("r").unwrap();
        let empty = RoomStatus {
            room: r.clone(),
            members: 0,
            capacity: 2,
        };
        assert_eq!(rooms.status(r.clone()), empty);
        rooms.handle(A, join("r", "Ana"));
        rooms.handle(B, join("r", "Ben"));
        rooms.handle(C, join("r", "Cy"));
        rooms.handle(C, join("other", "Cy"));
        assert_eq!(
            rooms.status(r.clone()).members,
            2,
            "the refused is not counted"
        );
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

        assert_eq!(
            rooms.handle(B, ClientMsg::Leave),
            [(A, ServerMsg::PeerLeft { peer: B })]
        );
        error_to(B, ErrorCode::NotJoined, rooms.handle(B, offer(A)));
        assert!(
            matches!(
                rooms.handle(B, join("r", "Ben"))[0].1,
                ServerMsg::Welcome { .. }
            ),
            "may rejoin"
        );

        assert_eq!(rooms.leave(A), [(B, ServerMsg::PeerLeft { peer: A })]);
        assert!(rooms.leave(A).is_empty(), "leaving twice is harmless");
        assert!(rooms.leave(B).is_empty());
        assert_eq!(rooms.room_count(), 0);
        assert!(rooms.leave(C).is_empty(), "never joined");
    }
}
