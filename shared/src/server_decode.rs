//! What the browser reads from the server, by hand: [`ServerMsg::decode`],
//! `/api/ice-servers` and `/api/rooms/...` answers. serde's derive for an
//! internally tagged enum with flattened fields buffers each message in its
//! `Content` tree and grows a decoder per shape (about 50 KB of the client's
//! wasm), and serde_json's parser under it brought 33 KB more (docs/SIZE.md).
//! This reads one [`Json`] value and picks the fields out. The derives stay:
//! property tests (backend/tests/properties.rs) hold the two to the same
//! answers.
//!
//! Stricter than the derive in one way: messages and the objects inside them
//! must be JSON objects (serde would also read a struct from an array).

use crate::ids::{DisplayName, PeerId, RoomName};
use crate::json::{Json, JsonError};
use crate::protocol::{
    ErrorCode, IceCandidate, IceConfig, IceServer, MediaState, PeerInfo, RoomStatus, ServerMsg, SfuTrack, TrackSource,
};
use std::fmt::Display;

type Error = JsonError;

fn invalid(why: impl Display) -> Error {
    JsonError::Shape(why.to_string())
}

impl ServerMsg {
    /// Hand-written: the derived `Deserialize` gives the same messages but
    /// costs the browser's download 50 KB.
    pub fn decode(text: &str) -> Result<Self, JsonError> {
        server_msg(text)
    }
}

impl IceConfig {
    /// As `GET /api/ice-servers` answers; by hand, as [`ServerMsg::decode`]
    /// (the browser reads it).
    pub fn decode(text: &str) -> Result<Self, JsonError> {
        ice_config(text)
    }
}

impl RoomStatus {
    /// By hand, as [`ServerMsg::decode`] (the browser reads it).
    pub fn decode(text: &str) -> Result<Self, JsonError> {
        room_status(text)
    }
}

fn server_msg(text: &str) -> Result<ServerMsg, Error> {
    let mut f = Fields::of(Json::parse(text)?, "a server message")?;
    let kind = f.string("type")?;
    Ok(match kind.as_str() {
        "welcome" => ServerMsg::Welcome {
            version: f.uint("version", u32::MAX.into())? as u32,
            you: f.peer_id("you")?,
            room: f.room("room")?,
            capacity: f.uint("capacity", usize::MAX as u64)? as usize,
            ice_servers: f.list("ice_servers", ice_server)?,
            peers: f.list("peers", peer_info)?,
            resume: f.opt_string("resume")?,
            sfu: f.flag("sfu")?,
            relay_only: f.flag("relay_only")?,
        },
        "resumed" => ServerMsg::Resumed {
            you: f.peer_id("you")?,
            room: f.room("room")?,
            peers: f.list("peers", peer_info)?,
            resume: f.opt_string("resume")?,
            sfu: f.flag("sfu")?,
        },
        "peer_joined" => ServerMsg::PeerJoined { peer: peer_info(f.required("peer")?)? },
        "peer_left" => ServerMsg::PeerLeft { peer: f.peer_id("peer")? },
        "offer" => ServerMsg::Offer { from: f.peer_id("from")?, sdp: f.string("sdp")? },
        "answer" => ServerMsg::Answer { from: f.peer_id("from")?, sdp: f.string("sdp")? },
        "ice" => ServerMsg::Ice { from: f.peer_id("from")?, candidate: ice_candidate(f.required("candidate")?)? },
        "media_state" => ServerMsg::MediaState { from: f.peer_id("from")?, state: media_state(&mut f)? },
        "error" => ServerMsg::Error { code: error_code(&f.string("code")?)?, message: f.string("message")? },
        "pong" => ServerMsg::Pong,
        "use_sfu" => ServerMsg::UseSfu,
        "chat" => ServerMsg::Chat { from: f.peer_id("from")?, text: f.string("text")? },
        "sfu_answer" => ServerMsg::SfuAnswer { sdp: f.string("sdp")? },
        "sfu_offer" => ServerMsg::SfuOffer { sdp: f.string("sdp")?, tracks: f.list("tracks", sfu_track)? },
        "speaking" => ServerMsg::Speaking { peers: f.list("peers", listed_peer)? },
        "sfu_paused" => ServerMsg::SfuPaused { peers: f.list("peers", listed_peer)? },
        other => return Err(invalid(format_args!("unknown message type `{other}`"))),
    })
}

/// `GET /api/ice-servers`' answer.
fn ice_config(text: &str) -> Result<IceConfig, Error> {
    let mut f = Fields::of(Json::parse(text)?, "an ICE configuration")?;
    Ok(IceConfig { servers: f.list("servers", ice_server)?, relay_only: f.flag("relay_only")? })
}

/// `GET /api/rooms/{room}`'s answer.
fn room_status(text: &str) -> Result<RoomStatus, Error> {
    let mut f = Fields::of(Json::parse(text)?, "a room status")?;
    Ok(RoomStatus {
        room: f.room("room")?,
        members: f.uint("members", usize::MAX as u64)? as usize,
        capacity: f.uint("capacity", usize::MAX as u64)? as usize,
        locked: f.flag("locked")?,
    })
}

/// A member's id in a `peers` list.
fn listed_peer(id: Json) -> Result<PeerId, Error> {
    as_uint("peers", id, u64::MAX).map(PeerId)
}

fn peer_info(value: Json) -> Result<PeerInfo, Error> {
    let mut f = Fields::of(value, "a peer")?;
    let id = f.peer_id("id")?;
    let name = DisplayName::parse(&f.string("name")?).map_err(|e| invalid(format_args!("`name`: {e}")))?;
    Ok(PeerInfo { id, name, state: media_state(&mut f)? })
}

fn sfu_track(value: Json) -> Result<SfuTrack, Error> {
    let mut f = Fields::of(value, "a track")?;
    let source = f.string("source")?;
    Ok(SfuTrack {
        mid: f.string("mid")?,
        peer: f.peer_id("peer")?,
        source: <TrackSource as strum::IntoEnumIterator>::iter()
            .find(|known| <&str>::from(*known) == source)
            .ok_or_else(|| invalid(format_args!("unknown track source `{source}`")))?,
    })
}

fn media_state(f: &mut Fields) -> Result<MediaState, Error> {
    Ok(MediaState { muted: f.flag("muted")?, camera_off: f.flag("camera_off")?, sharing: f.flag("sharing")? })
}

fn ice_server(value: Json) -> Result<IceServer, Error> {
    let mut f = Fields::of(value, "an ICE server")?;
    Ok(IceServer {
        urls: f.list("urls", |url| match url {
            Json::String(url) => Ok(url),
            other => Err(wrong("urls", "strings", &other)),
        })?,
        username: f.opt_string("username")?,
        credential: f.opt_string("credential")?,
    })
}

fn ice_candidate(value: Json) -> Result<IceCandidate, Error> {
    let mut f = Fields::of(value, "an ICE candidate")?;
    Ok(IceCandidate {
        candidate: f.string("candidate")?,
        sdp_mid: f.opt_string("sdpMid")?,
        sdp_m_line_index: match f.take("sdpMLineIndex") {
            None | Some(Json::Null) => None,
            Some(index) => Some(as_uint("sdpMLineIndex", index, u16::MAX.into())? as u16),
        },
    })
}

fn error_code(code: &str) -> Result<ErrorCode, Error> {
    <ErrorCode as strum::IntoEnumIterator>::iter()
        .find(|known| known.as_str() == code)
        .ok_or_else(|| invalid(format_args!("unknown error code `{code}`")))
}

fn wrong(key: &str, expected: &str, got: &Json) -> Error {
    invalid(format_args!("`{key}`: expected {expected}, got {}", got.kind()))
}

fn as_uint(key: &str, value: Json, max: u64) -> Result<u64, Error> {
    match value {
        Json::Number(n) => n.filter(|n| *n <= max).ok_or_else(|| invalid(format_args!("`{key}`: out of range"))),
        other => Err(wrong(key, "a whole number", &other)),
    }
}

/// One JSON object's fields, taken out one by one.
struct Fields(Vec<(String, Json)>);

impl Fields {
    fn of(value: Json, what: &str) -> Result<Self, Error> {
        match value {
            Json::Object(fields) => Ok(Self(fields)),
            other => Err(wrong(what, "an object", &other)),
        }
    }

    fn take(&mut self, key: &str) -> Option<Json> {
        Json::take_field(&mut self.0, key)
    }

    fn required(&mut self, key: &str) -> Result<Json, Error> {
        self.take(key).ok_or_else(|| invalid(format_args!("missing field `{key}`")))
    }

    fn string(&mut self, key: &str) -> Result<String, Error> {
        match self.required(key)? {
            Json::String(s) => Ok(s),
            other => Err(wrong(key, "a string", &other)),
        }
    }

    /// Absent and `null` are both `None`.
    fn opt_string(&mut self, key: &str) -> Result<Option<String>, Error> {
        match self.take(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong(key, "a string", &other)),
        }
    }

    fn uint(&mut self, key: &str, max: u64) -> Result<u64, Error> {
        as_uint(key, self.required(key)?, max)
    }

    /// Absent is `false` (flags added later keep the protocol version).
    fn flag(&mut self, key: &str) -> Result<bool, Error> {
        match self.take(key) {
            None => Ok(false),
            Some(Json::Bool(b)) => Ok(b),
            Some(other) => Err(wrong(key, "true or false", &other)),
        }
    }

    fn peer_id(&mut self, key: &str) -> Result<PeerId, Error> {
        self.uint(key, u64::MAX).map(PeerId)
    }

    fn room(&mut self, key: &str) -> Result<RoomName, Error> {
        RoomName::parse(&self.string(key)?).map_err(|e| invalid(format_args!("`{key}`: {e}")))
    }

    fn list<T>(&mut self, key: &str, item: impl Fn(Json) -> Result<T, Error>) -> Result<Vec<T>, Error> {
        match self.required(key)? {
            Json::Array(items) => items.into_iter().map(item).collect(),
            other => Err(wrong(key, "a list", &other)),
        }
    }
}
