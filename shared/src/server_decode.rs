//! [`ServerMsg::decode`] by hand. The browser decodes every server message;
//! serde's derive for an internally tagged enum with flattened fields buffers
//! each message in its `Content` tree and grows a decoder per shape, about
//! 50 KB of the client's wasm (docs/SIZE.md). This reads one
//! `serde_json::Value` and picks the fields out. The derive stays: property
//! tests (backend/tests/properties.rs) hold the two to the same answers.
//!
//! Stricter than the derive in one way: messages and the objects inside them
//! must be JSON objects (serde would also read a struct from an array).

use crate::ids::{DisplayName, PeerId, RoomName};
use crate::protocol::{ErrorCode, IceCandidate, IceServer, MediaState, PeerInfo, ServerMsg};
use serde_json::{Map, Value};
use std::fmt::Display;

type Error = serde_json::Error;

fn invalid(why: impl Display) -> Error {
    <Error as serde::de::Error>::custom(why)
}

pub(crate) fn server_msg(text: &str) -> Result<ServerMsg, Error> {
    let mut f = Fields::of(serde_json::from_str(text)?, "a server message")?;
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
        },
        "resumed" => ServerMsg::Resumed { you: f.peer_id("you")?, room: f.room("room")?, peers: f.list("peers", peer_info)? },
        "peer_joined" => ServerMsg::PeerJoined { peer: peer_info(f.required("peer")?)? },
        "peer_left" => ServerMsg::PeerLeft { peer: f.peer_id("peer")? },
        "offer" => ServerMsg::Offer { from: f.peer_id("from")?, sdp: f.string("sdp")? },
        "answer" => ServerMsg::Answer { from: f.peer_id("from")?, sdp: f.string("sdp")? },
        "ice" => ServerMsg::Ice { from: f.peer_id("from")?, candidate: ice_candidate(f.required("candidate")?)? },
        "media_state" => ServerMsg::MediaState { from: f.peer_id("from")?, state: media_state(&mut f)? },
        "error" => ServerMsg::Error { code: error_code(&f.string("code")?)?, message: f.string("message")? },
        "pong" => ServerMsg::Pong,
        other => return Err(invalid(format_args!("unknown message type `{other}`"))),
    })
}

/// `GET /api/ice-servers`' answer: a list of ICE servers.
pub(crate) fn ice_servers(text: &str) -> Result<Vec<IceServer>, Error> {
    match serde_json::from_str(text)? {
        Value::Array(items) => items.into_iter().map(ice_server).collect(),
        other => Err(wrong("ice servers", "a list", &other)),
    }
}

fn peer_info(value: Value) -> Result<PeerInfo, Error> {
    let mut f = Fields::of(value, "a peer")?;
    let id = f.peer_id("id")?;
    let name = DisplayName::parse(&f.string("name")?).map_err(|e| invalid(format_args!("`name`: {e}")))?;
    Ok(PeerInfo { id, name, state: media_state(&mut f)? })
}

fn media_state(f: &mut Fields) -> Result<MediaState, Error> {
    Ok(MediaState { muted: f.flag("muted")?, camera_off: f.flag("camera_off")?, sharing: f.flag("sharing")? })
}

fn ice_server(value: Value) -> Result<IceServer, Error> {
    let mut f = Fields::of(value, "an ICE server")?;
    Ok(IceServer {
        urls: f.list("urls", |url| match url {
            Value::String(url) => Ok(url),
            other => Err(wrong("urls", "strings", &other)),
        })?,
        username: f.opt_string("username")?,
        credential: f.opt_string("credential")?,
    })
}

fn ice_candidate(value: Value) -> Result<IceCandidate, Error> {
    let mut f = Fields::of(value, "an ICE candidate")?;
    Ok(IceCandidate {
        candidate: f.string("candidate")?,
        sdp_mid: f.opt_string("sdpMid")?,
        sdp_m_line_index: match f.0.remove("sdpMLineIndex") {
            None | Some(Value::Null) => None,
            Some(index) => Some(as_uint("sdpMLineIndex", index, u16::MAX.into())? as u16),
        },
    })
}

fn error_code(code: &str) -> Result<ErrorCode, Error> {
    ErrorCode::ALL
        .into_iter()
        .find(|known| known.as_str() == code)
        .ok_or_else(|| invalid(format_args!("unknown error code `{code}`")))
}

fn wrong(key: &str, expected: &str, got: &Value) -> Error {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    invalid(format_args!("`{key}`: expected {expected}, got {got}"))
}

fn as_uint(key: &str, value: Value, max: u64) -> Result<u64, Error> {
    match &value {
        Value::Number(n) => n.as_u64().filter(|n| *n <= max).ok_or_else(|| invalid(format_args!("`{key}`: {n} is out of range"))),
        other => Err(wrong(key, "a whole number", other)),
    }
}

/// One JSON object's fields, taken out one by one.
struct Fields(Map<String, Value>);

impl Fields {
    fn of(value: Value, what: &str) -> Result<Self, Error> {
        match value {
            Value::Object(map) => Ok(Self(map)),
            other => Err(wrong(what, "an object", &other)),
        }
    }

    fn required(&mut self, key: &str) -> Result<Value, Error> {
        self.0.remove(key).ok_or_else(|| invalid(format_args!("missing field `{key}`")))
    }

    fn string(&mut self, key: &str) -> Result<String, Error> {
        match self.required(key)? {
            Value::String(s) => Ok(s),
            other => Err(wrong(key, "a string", &other)),
        }
    }

    /// Absent and `null` are both `None`.
    fn opt_string(&mut self, key: &str) -> Result<Option<String>, Error> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong(key, "a string", &other)),
        }
    }

    fn uint(&mut self, key: &str, max: u64) -> Result<u64, Error> {
        as_uint(key, self.required(key)?, max)
    }

    /// Absent is `false` (flags added later keep the protocol version).
    fn flag(&mut self, key: &str) -> Result<bool, Error> {
        match self.0.remove(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(b),
            Some(other) => Err(wrong(key, "true or false", &other)),
        }
    }

    fn peer_id(&mut self, key: &str) -> Result<PeerId, Error> {
        self.uint(key, u64::MAX).map(PeerId)
    }

    fn room(&mut self, key: &str) -> Result<RoomName, Error> {
        RoomName::parse(&self.string(key)?).map_err(|e| invalid(format_args!("`{key}`: {e}")))
    }

    fn list<T>(&mut self, key: &str, item: impl Fn(Value) -> Result<T, Error>) -> Result<Vec<T>, Error> {
        match self.required(key)? {
            Value::Array(items) => items.into_iter().map(item).collect(),
            other => Err(wrong(key, "a list", &other)),
        }
    }
}
