//! What went wrong, put in words for the person. Which close or refusal
//! means what is decided in `shared::reconnect`; this only words it (some
//! problems carry the browser's media errors, so it stays in the page).

use crate::i18n::Lang;
use crate::media::MediaError;
use shared::reconnect::Cause;
use shared::ErrorCode;

/// Why joining failed, or a problem during the meeting; put in words for the
/// person by [`Problem::text`], in their language.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The server could not be reached: its address, or what went wrong.
    Unreachable(String),
    /// The server speaks a newer protocol.
    ServerUpdated,
    /// The server closed the connection, saying why.
    ServerClosed(String),
    /// The connection to the server dropped; this is the nth try to get it back.
    Reconnecting(u32),
    /// Refusals, with the server's (English) detail.
    RoomFull(String),
    BadRoomName(String),
    BadDisplayName(String),
    PasswordRequired,
    WrongPassword,
    BadPassword(String),
    /// Too many wrong passwords: joining is refused for a while (the
    /// server's detail says how long; empty when it closed the socket).
    TooManyAttempts(String),
    ServerSaid(String),
    /// A peer connection could not be made.
    NoConnection(String),
    /// The media server could not use our offer or answer (the server's detail).
    MediaServerRefused(String),
    /// The room needs the media server, and this server runs none.
    NoMediaServer(String),
    /// The server holding the room (servers in a cluster) cannot be reached now.
    RoomUnavailable,
    ShareFailed(MediaError),
}

impl Problem {
    /// A problem with the connection (to the server, or a call's), which
    /// "Test my setup" can help find: not a refusal at the door.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_)
                | Self::ServerClosed(_)
                | Self::Reconnecting(_)
                | Self::NoConnection(_)
                | Self::MediaServerRefused(_)
                | Self::NoMediaServer(_)
        )
    }

    pub fn text(&self, lang: Lang) -> String {
        let t = lang.texts();
        match self {
            Self::Unreachable(url) => (t.unreachable)(url),
            Self::ServerUpdated => t.server_updated.to_owned(),
            Self::ServerClosed(reason) => (t.server_closed)(reason),
            Self::Reconnecting(attempt) => (t.reconnecting)(*attempt),
            Self::RoomFull(detail) => (t.room_full)(detail),
            Self::BadRoomName(detail) => (t.bad_room_name)(detail),
            Self::BadDisplayName(detail) => (t.bad_display_name)(detail),
            Self::PasswordRequired => t.password_required.to_owned(),
            Self::WrongPassword => t.wrong_password.to_owned(),
            Self::BadPassword(detail) => (t.bad_password)(detail),
            Self::TooManyAttempts(detail) => (t.too_many_attempts)(detail),
            Self::ServerSaid(detail) => (t.server_said)(detail),
            Self::NoConnection(detail) => (t.no_connection)(detail),
            Self::MediaServerRefused(detail) => (t.media_server_refused)(detail),
            Self::NoMediaServer(detail) => (t.no_media_server)(detail),
            Self::RoomUnavailable => t.room_unavailable.to_owned(),
            Self::ShareFailed(err) => format!("{} {}", t.share_failed, err.text(lang)),
        }
    }

    /// A refusal from the server, with its (English) detail.
    pub(super) fn refused(code: ErrorCode, message: String) -> Self {
        match code {
            ErrorCode::RoomFull => Self::RoomFull(message),
            ErrorCode::VersionMismatch => Self::ServerUpdated,
            ErrorCode::InvalidRoomName => Self::BadRoomName(message),
            ErrorCode::InvalidDisplayName => Self::BadDisplayName(message),
            ErrorCode::PasswordRequired => Self::PasswordRequired,
            ErrorCode::WrongPassword => Self::WrongPassword,
            ErrorCode::InvalidPassword => Self::BadPassword(message),
            ErrorCode::TooManyAttempts => Self::TooManyAttempts(message),
            ErrorCode::InvalidSdp => Self::MediaServerRefused(message),
            ErrorCode::NoSfu => Self::NoMediaServer(message),
            ErrorCode::Unavailable => Self::RoomUnavailable,
            _ => Self::ServerSaid(message),
        }
    }

    /// Why the socket closed, in words: `reason` is the close's, `url` the server's.
    pub(super) fn closed(cause: Cause, reason: String, url: &str) -> Self {
        match cause {
            Cause::ServerUpdated => Self::ServerUpdated,
            Cause::ServerClosed => Self::ServerClosed(reason),
            Cause::Unreachable => Self::Unreachable(url.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn too_many_wrong_passwords_is_said_with_the_servers_detail() {
        let problem = Problem::refused(ErrorCode::TooManyAttempts, "try again in 5 minutes".into());
        assert_eq!(problem, Problem::TooManyAttempts("try again in 5 minutes".into()));
        assert_eq!(problem.text(Lang::En), "Too many wrong passwords. try again in 5 minutes");
        let korean = problem.text(Lang::Ko);
        assert!(korean.starts_with("잘못된 비밀번호를 너무 많이") && korean.contains("5 minutes"), "{korean}");
        let bare = Problem::TooManyAttempts(String::new());
        assert_eq!(bare.text(Lang::En), "Too many wrong passwords. Wait a while, then try again.");
        assert!(!bare.text(Lang::Ko).contains("()"));
        assert_eq!(Problem::refused(ErrorCode::WrongPassword, "x".into()), Problem::WrongPassword, "unchanged");
        let unavailable = Problem::refused(ErrorCode::Unavailable, "cannot be reached".into());
        assert!(unavailable.text(Lang::En).starts_with("The server holding this room"));
        assert!(unavailable.text(Lang::Ko).starts_with("이 방을 맡은 서버"), "in Korean, not the server's English");
    }

    #[wasm_bindgen_test]
    fn the_media_servers_refusals_are_said_in_both_languages() {
        let refused = Problem::refused(ErrorCode::InvalidSdp, "no audio m-line".into());
        assert_eq!(refused, Problem::MediaServerRefused("no audio m-line".into()));
        let english = refused.text(Lang::En);
        assert!(english.starts_with("The media server could not use") && english.ends_with("(no audio m-line)"));
        assert!(refused.text(Lang::Ko).starts_with("미디어 서버가"), "{}", refused.text(Lang::Ko));
        let none = Problem::refused(ErrorCode::NoSfu, "off".into());
        assert_eq!(none, Problem::NoMediaServer("off".into()));
        assert!(none.text(Lang::En).contains("media relay") && none.text(Lang::Ko).contains("미디어 중계"));
    }

    #[wasm_bindgen_test]
    fn a_close_is_worded_by_its_cause() {
        let url = "wss://example.test/ws";
        assert_eq!(Problem::closed(Cause::ServerUpdated, "reload".into(), url), Problem::ServerUpdated);
        assert_eq!(Problem::closed(Cause::ServerClosed, "bye".into(), url), Problem::ServerClosed("bye".into()));
        assert_eq!(Problem::closed(Cause::Unreachable, String::new(), url), Problem::Unreachable(url.into()));
    }
}
