//! Moim's shared vocabulary: what travels between browser and server
//! ([`protocol`], read and written in the browser by [`json`]), the validated
//! names inside it ([`ids`]), and the client's negotiation decisions
//! ([`call`]) as a pure state machine, like which tile is large
//! ([`spotlight`]).

pub mod budget;
pub mod call;
mod client_encode;
pub mod ids;
pub mod json;
pub mod protocol;
pub mod reconnect;
mod server_decode;
pub mod spotlight;

pub use ids::{DisplayName, NameError, PeerId, RoomName};
pub use json::JsonError;
pub use protocol::{
    ApiError, ClientMsg, DecodeError, ErrorCode, IceCandidate, IceServer, MediaState, PeerInfo, RoomStatus, ServerMsg,
    PROTOCOL_VERSION,
};
