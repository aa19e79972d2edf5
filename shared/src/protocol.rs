//! The signaling protocol: JSON objects in WebSocket text frames, tagged by
//! `type`. The client speaks [`ClientMsg`], the server [`ServerMsg`].
//!
//! Messages between members are addressed `to` a peer; the server replaces
//! that with `from` (the real sender), so a client cannot forge it.

use crate::ids::{DisplayName, PeerId, RoomName};
use serde::{Deserialize, Serialize};

/// Bumped whenever a variant changes shape. Additive fields use
/// `#[serde(default)]` and keep the version.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest text frame the server accepts; a bigger one closes the connection.
/// Sized for a room of 50 on the media server, whose answer to the server's
/// offer names about 150 m-lines.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// WebSocket close codes the server uses (4000–4999 are for applications).
pub mod close_code {
    /// The client speaks another protocol version: reload the page.
    pub const VERSION_MISMATCH: u16 = 4000;
    /// The client could not keep up with its own messages.
    pub const TOO_SLOW: u16 = 4001;
    /// The client kept sending after being told it sends too many messages.
    pub const TOO_MANY_MESSAGES: u16 = 4002;
    /// RFC 6455 "message too big".
    pub const TOO_BIG: u16 = 1009;
    /// RFC 6455 "going away": the server is stopping; reconnect later.
    pub const GOING_AWAY: u16 = 1001;
    /// Server: a newer connection resumed this member, so this one ends.
    pub const REPLACED: u16 = 4003;
    /// Server: several wrong passwords on this connection; joining again
    /// is refused for a while (see [`super::ErrorCode::TooManyAttempts`]).
    pub const TOO_MANY_ATTEMPTS: u16 = 4004;
    /// Client: this socket seems dead and I am reconnecting; keep my seat
    /// for a resume instead of telling the room I left.
    pub const RECONNECTING: u16 = 4100;
}

/// Client → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message on a connection. Names travel as strings so the server
    /// can answer a bad one with a precise [`ErrorCode`]. The first member
    /// to give a `password` locks the room with it.
    Join {
        version: u32,
        room: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// First message on a new connection after the old one dropped: take my
    /// seat back (same peer id, same peer connections) with the token from
    /// [`ServerMsg::Welcome`]. Refused with [`ErrorCode::ResumeFailed`] once
    /// the server has let the seat go; then join again.
    Resume {
        version: u32,
        token: String,
    },
    Offer {
        to: PeerId,
        sdp: String,
    },
    Answer {
        to: PeerId,
        sdp: String,
    },
    Ice {
        to: PeerId,
        candidate: IceCandidate,
    },
    /// My microphone / camera / screen state, told to everyone in the room.
    MediaState(MediaState),
    Leave,
    /// Am I still connected? Answered by [`ServerMsg::Pong`]; browsers can't
    /// see WebSocket pings, so this is how a page notices a dead socket.
    Ping,
    /// In a room on the media server: this member's offer to it (the first,
    /// an ICE restart, or a change of what it sends). Its m-lines are, in
    /// order, the microphone (audio), the camera (video) and the screen
    /// (video, with no track until a share starts): see [`TrackSource`].
    SfuOffer {
        sdp: String,
    },
    /// The answer to the media server's [`ServerMsg::SfuOffer`].
    SfuAnswer {
        sdp: String,
    },
    /// In a room on the media server: how big this page draws each video
    /// it is sent, so the server sends the smallest simulcast layer that
    /// fills it and nothing for one not drawn. Each message says it all
    /// again (a video it leaves out gets the largest layer), at most
    /// [`SFU_VIEWS_MAX`] entries.
    SfuView {
        views: Vec<VideoView>,
    },
    /// A chat line for the room, in a room on the media server (a mesh's
    /// chat goes over the members' own connections). At most
    /// [`CHAT_MAX_CHARS`] characters.
    Chat {
        text: String,
    },
}

/// The most videos one [`ClientMsg::SfuView`] may name: two (camera and
/// screen) for each other member of the largest room.
pub const SFU_VIEWS_MAX: usize = 512;

/// How big a page draws one member's camera or screen, in device pixels;
/// 0 × 0 when it is not drawn (off screen, or hidden).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoView {
    pub peer: PeerId,
    pub source: TrackSource,
    pub width: u16,
    pub height: u16,
}

/// The longest chat line, in characters.
pub const CHAT_MAX_CHARS: usize = 2000;

/// Every `type` a [`ClientMsg`] can have, the names `decode` matches (the
/// property tests draw from this list).
pub const CLIENT_MSG_TYPES: &[&str] = &[
    "join",
    "resume",
    "offer",
    "answer",
    "ice",
    "media_state",
    "leave",
    "ping",
    "sfu_offer",
    "sfu_answer",
    "sfu_view",
    "chat",
];

/// Server → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// You are in. `peers` are the members already there: offer to each.
    Welcome {
        version: u32,
        you: PeerId,
        room: RoomName,
        capacity: usize,
        ice_servers: Vec<IceServer>,
        peers: Vec<PeerInfo>,
        /// Proves this seat is yours in a [`ClientMsg::Resume`]; keep it secret.
        #[serde(default)]
        resume: Option<String>,
        /// The room's media goes through the server's media server (SFU):
        /// no peer connections between members, one to the server.
        #[serde(default)]
        sfu: bool,
        /// Use relayed (TURN) paths only, so members never learn each
        /// other's addresses (`--relay-only`).
        #[serde(default)]
        relay_only: bool,
    },
    /// Your seat is back. `peers` is the room now; what was sent to you
    /// while you were away follows.
    Resumed {
        you: PeerId,
        room: RoomName,
        peers: Vec<PeerInfo>,
        /// The seat's new token: the one just used no longer works, so a
        /// token that leaked resumes nothing once its owner has resumed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        #[serde(default)]
        sfu: bool,
    },
    PeerJoined {
        peer: PeerInfo,
    },
    PeerLeft {
        peer: PeerId,
    },
    Offer {
        from: PeerId,
        sdp: String,
    },
    Answer {
        from: PeerId,
        sdp: String,
    },
    Ice {
        from: PeerId,
        candidate: IceCandidate,
    },
    MediaState {
        from: PeerId,
        #[serde(flatten)]
        state: MediaState,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    Pong,
    /// The room has moved to the media server: connect to it, and close each
    /// member's direct connection once their media arrives through it.
    UseSfu,
    /// The media server's answer to this member's [`ClientMsg::SfuOffer`].
    SfuAnswer {
        sdp: String,
    },
    /// The media server adds or removes what it forwards to this member;
    /// `tracks` says whose each of its m-lines is, for every one it sends.
    SfuOffer {
        sdp: String,
        tracks: Vec<SfuTrack>,
    },
    /// A member's chat line, in a room on the media server.
    Chat {
        from: PeerId,
        text: String,
    },
    /// Who is speaking now in a room on the media server (it reads each
    /// microphone's level), loudest first; empty when nobody is.
    Speaking {
        peers: Vec<PeerId>,
    },
    /// The members whose video the media server holds back from you now,
    /// because your connection cannot carry it (their sound still comes).
    /// Said again at every change; empty when none is.
    SfuPaused {
        peers: Vec<PeerId>,
    },
}

/// One track the media server forwards: the m-line (`mid`) it arrives on,
/// whose it is, and which of their sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SfuTrack {
    pub mid: String,
    pub peer: PeerId,
    pub source: TrackSource,
}

/// What a published track is; a member's offer carries them in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TrackSource {
    Microphone,
    Camera,
    Screen,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub id: PeerId,
    pub name: DisplayName,
    #[serde(flatten)]
    pub state: MediaState,
}

/// What a member has turned off or is showing; badges on their tile.
/// Each field defaults to `false`, so new ones keep the protocol version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaState {
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub camera_off: bool,
    /// Sending a shared screen in place of the camera.
    #[serde(default)]
    pub sharing: bool,
}

/// The shape of the browser's `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_m_line_index: Option<u16>,
}

/// The shape of the browser's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// What a page's `RTCPeerConnection`s are made with: `Welcome`'s
/// `ice_servers` and `relay_only`, or `GET /api/ice-servers` before Join.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceConfig {
    pub servers: Vec<IceServer>,
    /// Relayed candidates only (the browser's `iceTransportPolicy: "relay"`).
    #[serde(default)]
    pub relay_only: bool,
}

/// `GET /api/rooms/{room}`: how full a room is, so the welcome screen can
/// say so before the camera is asked for. `members` is 0 for an empty room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomStatus {
    pub room: RoomName,
    pub members: usize,
    pub capacity: usize,
    /// Joining needs the room's password.
    #[serde(default)]
    pub locked: bool,
}

/// The JSON body of an HTTP API refusal: the same codes as [`ServerMsg::Error`],
/// so the client explains both the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

/// Every code: `ErrorCode::iter()` and `ErrorCode::COUNT` (strum) are made
/// by the compiler, so a new code cannot be left out of a list kept by hand.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumCount,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    NotJson,
    UnknownType,
    InvalidMessage,
    VersionMismatch,
    NotJoined,
    AlreadyJoined,
    UnknownPeer,
    InvalidRoomName,
    InvalidDisplayName,
    RoomFull,
    /// Over the per-connection message rate: that message was dropped.
    TooManyMessages,
    /// The seat to resume is gone (expired, or the server restarted).
    ResumeFailed,
    /// The room is locked and no password was given.
    PasswordRequired,
    WrongPassword,
    /// A password that could never be right (too long, control characters).
    InvalidPassword,
    /// Too many wrong passwords from this address or for this room: join
    /// attempts are refused for a while (the message says how long).
    TooManyAttempts,
    /// The media server could not read an SDP, or refused it.
    InvalidSdp,
    /// The room is not on the media server, or the media connection ended.
    NoSfu,
    /// The server that holds the room cannot be reached now (servers in a
    /// cluster): try again in a moment.
    Unavailable,
}

impl ErrorCode {
    /// The wire name, as serde writes it (`not_json`, `room_full`...).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why a text frame is not a [`ClientMsg`]. Each text is an [`excerpt`]:
/// the reply to a bad frame must not echo it back at length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    #[error("malformed `{kind}` message: {reason}")]
    Invalid { kind: String, reason: String },
}

/// Longest input-derived text a [`DecodeError`] keeps, in characters.
pub const EXCERPT_MAX: usize = 100;

/// At most [`EXCERPT_MAX`] characters of `s`, printable ASCII only (any
/// other character becomes `?`), with `…` when cut. serde_json's messages
/// quote the offending string Debug-escaped: a 64 KB frame of combining
/// marks made an error reply four times its size.
pub fn excerpt(s: &str) -> String {
    let mut chars = s.chars();
    let mut out: String =
        chars.by_ref().take(EXCERPT_MAX).map(|c| if matches!(c, ' '..='~') { c } else { '?' }).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotJson(_) => ErrorCode::NotJson,
            Self::UnknownType(_) => ErrorCode::UnknownType,
            Self::Invalid { .. } => ErrorCode::InvalidMessage,
        }
    }
}

impl ClientMsg {
    /// A [`ClientMsg::Join`] at this protocol version, without a password.
    pub fn join(room: impl Into<String>, name: impl Into<String>) -> Self {
        Self::Join { version: PROTOCOL_VERSION, room: room.into(), name: name.into(), password: None }
    }

    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        // The tag alone first (the rest is skipped, not built), so an unknown
        // type gets its own error; then the message straight from the text,
        // without an intermediate `Value` (half the relay's decoding time).
        #[derive(Deserialize)]
        struct Tag<'a> {
            #[serde(rename = "type", borrow)]
            kind: Option<std::borrow::Cow<'a, str>>,
        }
        // serde would also read a struct from an array: only objects count.
        let not_json = |e: serde_json::Error| DecodeError::NotJson(excerpt(&e.to_string()));
        if !text.trim_start().starts_with('{') {
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => DecodeError::NotJson("expected an object".into()),
                Err(e) => not_json(e),
            });
        }
        let tag: Tag = serde_json::from_str(text).map_err(|e| match e.classify() {
            // Well-formed, but `type` is not a string.
            serde_json::error::Category::Data => DecodeError::UnknownType(String::new()),
            _ => not_json(e),
        })?;
        let kind = tag.kind.ok_or(DecodeError::UnknownType(String::new()))?;
        let invalid =
            |e: serde_json::Error| DecodeError::Invalid { kind: excerpt(&kind), reason: excerpt(&e.to_string()) };
        // Then the variant's own fields, straight from the text (its `type`
        // is skipped as an unknown field). The derived `Deserialize` reads
        // the same, but an internally tagged enum first copies the whole
        // message into serde's `Content`: 5 % of the relay's CPU.
        use serde_json::from_str as fields;
        #[derive(Deserialize)]
        struct Join {
            version: u32,
            room: String,
            name: String,
            #[serde(default)]
            password: Option<String>,
        }
        #[derive(Deserialize)]
        struct Resume {
            version: u32,
            token: String,
        }
        #[derive(Deserialize)]
        struct Sdp {
            to: PeerId,
            sdp: String,
        }
        #[derive(Deserialize)]
        struct Ice {
            to: PeerId,
            candidate: IceCandidate,
        }
        #[derive(Deserialize)]
        struct SfuSdp {
            sdp: String,
        }
        #[derive(Deserialize)]
        struct SfuView {
            views: Vec<VideoView>,
        }
        #[derive(Deserialize)]
        struct Chat {
            text: String,
        }
        #[derive(Deserialize)]
        struct Nothing {}
        let msg = match &*kind {
            "join" => {
                fields(text).map(|Join { version, room, name, password }| Self::Join { version, room, name, password })
            }
            "resume" => fields(text).map(|Resume { version, token }| Self::Resume { version, token }),
            "offer" => fields(text).map(|Sdp { to, sdp }| Self::Offer { to, sdp }),
            "answer" => fields(text).map(|Sdp { to, sdp }| Self::Answer { to, sdp }),
            "ice" => fields(text).map(|Ice { to, candidate }| Self::Ice { to, candidate }),
            "media_state" => fields(text).map(Self::MediaState),
            "leave" => fields(text).map(|Nothing {}| Self::Leave),
            "ping" => fields(text).map(|Nothing {}| Self::Ping),
            "sfu_offer" => fields(text).map(|SfuSdp { sdp }| Self::SfuOffer { sdp }),
            "sfu_answer" => fields(text).map(|SfuSdp { sdp }| Self::SfuAnswer { sdp }),
            "sfu_view" => fields(text).map(|SfuView { views }| Self::SfuView { views }),
            "chat" => fields(text).map(|Chat { text }| Self::Chat { text }),
            _ => return Err(DecodeError::UnknownType(excerpt(&kind))),
        };
        msg.map_err(invalid)
    }

    /// Whom a message for one peer (offer, answer, ICE candidate) is for.
    pub fn addressee(&self) -> Option<PeerId> {
        match self {
            Self::Offer { to, .. } | Self::Answer { to, .. } | Self::Ice { to, .. } => Some(*to),
            _ => None,
        }
    }

    /// A message for one peer (offer, answer, ICE candidate): whom it is
    /// for, and what they receive, stamped with the true sender `from`
    /// (whatever the client claimed is never read). Any other message comes
    /// back unchanged.
    pub fn relayed(self, from: PeerId) -> Result<(PeerId, ServerMsg), Self> {
        match self {
            Self::Offer { to, sdp } => Ok((to, ServerMsg::Offer { from, sdp })),
            Self::Answer { to, sdp } => Ok((to, ServerMsg::Answer { from, sdp })),
            Self::Ice { to, candidate } => Ok((to, ServerMsg::Ice { from, candidate })),
            other => Err(other),
        }
    }
}

impl ServerMsg {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a ServerMsg always serializes")
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error { code, message: message.into() }
    }
}
