//! When and how soon the page reconnects its signaling socket. Pure, so the
//! policy is tested without a browser; the driver owns the timers.

use crate::protocol::close_code;
use crate::ClientMsg;

/// The page pings this often, so it learns of a dead socket (browsers
/// can't see WebSocket pings, and a dead TCP path can take minutes to error).
pub const PING_EVERY_MS: u32 = 5_000;

/// Nothing heard for this long (not even a pong): the socket is dead.
pub const SILENT_AFTER_MS: u32 = 12_000;

/// What to do once the socket has closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterClose {
    /// Open a new socket after [`Backoff::next_delay_ms`].
    Reconnect,
    /// Reconnecting can't help: show why and stop.
    Stop,
}

/// Decides by the close code: only closes that a new socket can't fix stop.
pub fn after_close(code: u16) -> AfterClose {
    match code {
        // A reload is needed, or a newer socket of ours took over, or we sent
        // something the server will refuse again.
        close_code::VERSION_MISMATCH | close_code::REPLACED | close_code::TOO_BIG => AfterClose::Stop,
        // Going away (server restarting), abnormal (network), too slow, …
        _ => AfterClose::Reconnect,
    }
}

/// Why a socket closed, for the person; the page words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The server speaks a newer protocol: a reload is needed.
    ServerUpdated,
    /// The server said why it closed (the close's reason).
    ServerClosed,
    /// No reason given: the server could not be reached, or went.
    Unreachable,
}

/// What the page does once its socket has closed, unless it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Refused for too many wrong passwords, meeting or not: any new socket
    /// would be refused too, so the attempt ends here (the close's reason
    /// says for how long).
    TooManyAttempts,
    /// In the meeting: a new socket takes the seat back, after [`Backoff::next_delay_ms`].
    Reconnect,
    /// In the meeting, but a new socket can't help: say why. The calls
    /// already connected go on: media doesn't pass the server.
    Notice(Cause),
    /// Never got in: say why, and let the person try again.
    Failed(Cause),
}

/// Decides what a close with `code` means: `has_reason` when the server
/// said why; `in_meeting` once we have (or had) a seat.
pub fn closed(code: u16, has_reason: bool, in_meeting: bool) -> Closed {
    if code == close_code::TOO_MANY_ATTEMPTS {
        return Closed::TooManyAttempts;
    }
    let cause = if code == close_code::VERSION_MISMATCH {
        Cause::ServerUpdated
    } else if has_reason {
        Cause::ServerClosed
    } else {
        Cause::Unreachable
    };
    match (in_meeting, after_close(code)) {
        (true, AfterClose::Reconnect) => Closed::Reconnect,
        (true, AfterClose::Stop) => Closed::Notice(cause),
        (false, _) => Closed::Failed(cause),
    }
}

/// Whether `quiet_for_ms` without a word from the server (not even a pong)
/// means the socket is dead; else it is pinged.
pub fn gone_quiet(quiet_for_ms: f64) -> bool {
    quiet_for_ms > f64::from(SILENT_AFTER_MS)
}

/// Whether `msg`, made while the socket is down, is held and sent once we
/// have our seat back: what the room must hear (negotiation, our media
/// state). The rest is dropped: a new socket joins or resumes on its own,
/// and pings are for the socket that was.
pub fn held_while_down(msg: &ClientMsg) -> bool {
    matches!(msg, ClientMsg::Offer { .. } | ClientMsg::Answer { .. } | ClientMsg::Ice { .. } | ClientMsg::MediaState(_))
}

/// Exponential backoff with "equal jitter": half the delay is fixed, half
/// random, so a room whose server restarted doesn't reconnect in lockstep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub const FIRST_MS: u32 = 500;
    pub const MAX_MS: u32 = 10_000;

    /// The wait before the next attempt; `jitter` is uniform in `0.0..1.0`.
    pub fn next_delay_ms(&mut self, jitter: f64) -> u32 {
        let base = Self::FIRST_MS.saturating_mul(1 << self.attempt.min(16)).min(Self::MAX_MS);
        self.attempt = self.attempt.saturating_add(1);
        let half = base / 2;
        half + (f64::from(half) * jitter.clamp(0.0, 1.0)) as u32
    }

    /// Attempts since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Connected again: the next loss starts from the first delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset() {
        let mut backoff = Backoff::default();
        let highs: Vec<u32> = (0..8).map(|_| backoff.next_delay_ms(1.0)).collect();
        assert_eq!(highs, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        assert_eq!(backoff.attempts(), 8);
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(0.0), 250, "half fixed, half jitter");
        for _ in 0..100 {
            backoff.next_delay_ms(0.5);
        }
        let late = backoff.next_delay_ms(0.0);
        assert_eq!(late, Backoff::MAX_MS / 2, "never overflows");
    }

    #[test]
    fn a_close_for_too_many_attempts_ends_the_attempt_meeting_or_not() {
        for in_meeting in [false, true] {
            for has_reason in [false, true] {
                assert_eq!(closed(close_code::TOO_MANY_ATTEMPTS, has_reason, in_meeting), Closed::TooManyAttempts);
            }
        }
        for code in [1000, 1001, 1006, close_code::TOO_SLOW, close_code::REPLACED, close_code::VERSION_MISMATCH] {
            assert_ne!(closed(code, false, true), Closed::TooManyAttempts, "{code}: judged by after_close");
        }
    }

    #[test]
    fn in_the_meeting_a_close_reconnects_unless_a_new_socket_cannot_help() {
        for code in [1000, 1001, 1006, 1011, close_code::TOO_SLOW, close_code::TOO_MANY_MESSAGES] {
            assert_eq!(closed(code, false, true), Closed::Reconnect, "{code}");
            assert_eq!(closed(code, true, true), Closed::Reconnect, "{code}, with a reason");
        }
        assert_eq!(closed(close_code::VERSION_MISMATCH, true, true), Closed::Notice(Cause::ServerUpdated));
        assert_eq!(closed(close_code::REPLACED, true, true), Closed::Notice(Cause::ServerClosed));
        assert_eq!(closed(close_code::TOO_BIG, false, true), Closed::Notice(Cause::Unreachable));
    }

    #[test]
    fn before_the_meeting_a_close_fails_the_join_saying_why() {
        assert_eq!(closed(1006, false, false), Closed::Failed(Cause::Unreachable), "nothing said: unreachable");
        assert_eq!(closed(1001, true, false), Closed::Failed(Cause::ServerClosed), "its reason is shown");
        assert_eq!(
            closed(close_code::VERSION_MISMATCH, true, false),
            Closed::Failed(Cause::ServerUpdated),
            "a newer server outranks its reason"
        );
        assert_eq!(closed(close_code::TOO_SLOW, false, false), Closed::Failed(Cause::Unreachable), "never reconnects");
    }

    #[test]
    fn a_socket_is_dead_after_the_silence_not_before() {
        assert!(!gone_quiet(0.0));
        assert!(!gone_quiet(f64::from(PING_EVERY_MS) * 2.0), "two pings unanswered is not yet dead");
        assert!(!gone_quiet(f64::from(SILENT_AFTER_MS)));
        assert!(gone_quiet(f64::from(SILENT_AFTER_MS) + 1.0));
    }

    #[test]
    fn only_what_the_room_must_hear_waits_for_the_socket() {
        use crate::{IceCandidate, MediaState, PeerId};
        let to = PeerId(2);
        let candidate = IceCandidate { candidate: "candidate:1".into(), sdp_mid: None, sdp_m_line_index: Some(0) };
        for msg in [
            ClientMsg::Offer { to, sdp: "o".into() },
            ClientMsg::Answer { to, sdp: "a".into() },
            ClientMsg::Ice { to, candidate },
            ClientMsg::MediaState(MediaState::default()),
        ] {
            assert!(held_while_down(&msg), "{msg:?}");
        }
        for msg in [
            ClientMsg::Ping,
            ClientMsg::Leave,
            ClientMsg::Resume { version: 1, token: "t".into() },
            ClientMsg::Join { version: 1, room: "r".into(), name: "n".into(), password: None },
        ] {
            assert!(!held_while_down(&msg), "{msg:?}");
        }
    }

    #[test]
    fn only_hopeless_closes_stop() {
        for code in [close_code::VERSION_MISMATCH, close_code::REPLACED, close_code::TOO_BIG] {
            assert_eq!(after_close(code), AfterClose::Stop, "{code}");
        }
        for code in [1000, 1001, 1006, 1011, close_code::TOO_SLOW, close_code::TOO_MANY_MESSAGES] {
            assert_eq!(after_close(code), AfterClose::Reconnect, "{code}");
        }
    }
}
