//! Moim's shared vocabulary: what travels between browser and server
//! ([`protocol`], read and written in the browser by [`json`]), the validated
//! names inside it ([`ids`]), and the client's negotiation decisions
//! ([`call`], and its connection to the media server, [`sfu_link`]) as pure
//! state machines, like which tile is large
//! ([`spotlight`]), which tiles a grid of many draws ([`pages`]), which
//! members have a tile ([`roster`]) and when the
//! signaling socket reconnects ([`reconnect`]).

pub mod budget;
pub mod call;
pub mod check;
mod client_encode;
mod connection;
mod effect;
pub mod ids;
pub mod json;
pub mod link;
pub mod pages;
pub mod protocol;
pub mod reconnect;
pub mod roster;
mod server_decode;
pub mod sfu_link;
pub mod spotlight;
pub mod wav;

pub use ids::{DisplayName, NameError, Password, PasswordError, PeerId, RoomName, PASSWORD_MAX};
pub use json::JsonError;
pub use protocol::{
    ApiError, ClientMsg, DecodeError, ErrorCode, IceCandidate, IceConfig, IceServer, MediaState, PeerInfo, RoomStatus,
    ServerMsg, SfuTrack, TrackSource, VideoView, PROTOCOL_VERSION,
};
