//! How connections end, and why upgrades are refused: the close frames and
//! responses a client sees, and the `reason` labels `/metrics` counts them
//! by (their `&'static str`, from strum, as are `COUNT` and `iter()`).

use axum::extract::ws::{close_code as rfc6455, CloseFrame};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::protocol::{close_code, MAX_FRAME_BYTES};

/// Why an upgrade was refused. The `Display` text is the response body.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, strum::EnumCount, strum::EnumIter, strum::IntoStaticStr,
)]
pub enum Refused {
    #[error("The server is restarting. Try again in a moment.")]
    #[strum(serialize = "server_stopping")]
    Stopping,
    #[error(
        "This Moim server does not accept pages from other sites. \
         Its operator can allow one with --allowed-origin."
    )]
    #[strum(serialize = "origin")]
    Origin,
    #[error(
        "Too many connections from your address. \
         Close Moim in another tab or window, then try again."
    )]
    #[strum(serialize = "too_many_from_address")]
    TooManyFromAddress,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Stopping => StatusCode::SERVICE_UNAVAILABLE,
            Self::Origin => StatusCode::FORBIDDEN,
            Self::TooManyFromAddress => StatusCode::TOO_MANY_REQUESTS,
        };
        (status, self.to_string()).into_response()
    }
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumCount, strum::EnumIter, strum::IntoStaticStr)]
pub enum End {
    /// The client sent a close frame.
    #[strum(serialize = "client_closed")]
    ClientClosed,
    /// The client closed saying it is reconnecting (its socket seemed dead).
    #[strum(serialize = "client_reconnecting")]
    Reconnecting,
    /// The socket failed or ended without a close frame (e.g. TCP dropped).
    #[strum(serialize = "dropped")]
    Dropped,
    /// Nothing arrived for the heartbeat timeout, not even a pong.
    #[strum(serialize = "heartbeat_timeout")]
    Silent,
    /// It did not read its messages: its queue filled, or a write did not
    /// drain within the heartbeat timeout.
    #[strum(serialize = "too_slow")]
    TooSlow,
    /// A newer connection resumed this member.
    #[strum(serialize = "replaced")]
    Replaced,
    #[strum(serialize = "too_big")]
    TooBig,
    #[strum(serialize = "version_mismatch")]
    VersionMismatch,
    #[strum(serialize = "too_many_messages")]
    TooManyMessages,
    /// Too many wrong room passwords on this connection.
    #[strum(serialize = "too_many_attempts")]
    TooManyAttempts,
    /// A frame that breaks RFC 6455 (unmasked, reserved bits, bad opcode...).
    #[strum(serialize = "protocol_error")]
    ProtocolError,
    /// A text frame that is not UTF-8.
    #[strum(serialize = "invalid_utf8")]
    InvalidUtf8,
    /// A fragmented message still incomplete after the heartbeat timeout.
    #[strum(serialize = "incomplete_message")]
    Incomplete,
    /// The server is stopping (the hub being gone means the same).
    #[strum(serialize = "server_stopping")]
    Stopping,
    /// The node serving its room is gone or draining: reconnect.
    #[strum(serialize = "moved")]
    Moved,
}

impl End {
    /// The close frame we send, if this end is ours to explain.
    pub fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Self::ClientClosed | Self::Reconnecting | Self::Dropped | Self::Silent => return None,
            Self::TooSlow => (close_code::TOO_SLOW, "too slow to receive messages".to_owned()),
            Self::Replaced => (close_code::REPLACED, "resumed on a newer connection".to_owned()),
            Self::TooBig => (close_code::TOO_BIG, format!("message larger than {} KiB", MAX_FRAME_BYTES / 1024)),
            Self::VersionMismatch => {
                (close_code::VERSION_MISMATCH, "protocol version mismatch: reload the page".to_owned())
            }
            Self::TooManyMessages => (close_code::TOO_MANY_MESSAGES, "too many messages".to_owned()),
            Self::TooManyAttempts => {
                (close_code::TOO_MANY_ATTEMPTS, "too many wrong passwords: wait before trying again".to_owned())
            }
            Self::ProtocolError => (rfc6455::PROTOCOL, "WebSocket protocol error".to_owned()),
            Self::InvalidUtf8 => (rfc6455::INVALID, "text frame is not UTF-8".to_owned()),
            Self::Incomplete => (rfc6455::POLICY, "message not completed in time".to_owned()),
            Self::Stopping => (close_code::GOING_AWAY, "the server is restarting".to_owned()),
            Self::Moved => (close_code::GOING_AWAY, "the room moved to another server: reconnect".to_owned()),
        };
        Some(CloseFrame { code, reason: reason.into() })
    }
}
