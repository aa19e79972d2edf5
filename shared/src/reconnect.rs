//! When and how soon the page reconnects its signaling socket. Pure, so the
//! policy is tested without a browser; the driver owns the timers.

use crate::protocol::close_code;

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
    fn only_hopeless_closes_stop() {
        for code in [close_code::VERSION_MISMATCH, close_code::REPLACED, close_code::TOO_BIG] {
            assert_eq!(after_close(code), AfterClose::Stop, "{code}");
        }
        for code in [1000, 1001, 1006, 1011, close_code::TOO_SLOW, close_code::TOO_MANY_MESSAGES] {
            assert_eq!(after_close(code), AfterClose::Reconnect, "{code}");
        }
    }
}
