//! How fast one connection may send: a token bucket. Pure (the clock is an
//! argument), so the rules are tested without waiting.

use std::time::Instant;

/// Messages one connection may send: `burst` at once, refilled at
/// `per_second`.
///
/// The defaults (50 a second, 200 at once) come from what a browser sends.
/// Joining a full room of six, it offers to five members and trickles ICE
/// candidates to each: typically 5–15 per connection (host, reflexive and
/// relay candidates for each network interface), so 50–100 messages within a
/// second or two, more on a machine with many interfaces or when a screen
/// share renegotiates. A burst of 200 absorbs that about twice over. A call
/// that has settled sends a few messages a minute (mute, camera, the odd
/// renegotiation), so 50 a second never binds a real client, yet it stops a
/// runaway loop or a flood in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRate {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for MessageRate {
    fn default() -> Self {
        Self { per_second: 50, burst: 200 }
    }
}

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Over the rate: drop it and say so.
    Refuse,
    /// A whole second burst refused and still going: not a browser having a
    /// bad moment, so the connection ends.
    Close,
}

#[derive(Debug)]
pub struct Bucket {
    per_second: f64,
    burst: f64,
    /// May go negative: refused messages are debt, repaid at the same rate,
    /// so a client that keeps pushing goes on being refused and then closed.
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(rate: MessageRate, now: Instant) -> Self {
        Self { per_second: rate.per_second.into(), burst: rate.burst.into(), tokens: rate.burst.into(), last: now }
    }

    pub fn take(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Verdict::Pass
        } else if self.tokens >= -self.burst {
            Verdict::Refuse
        } else {
            Verdict::Close
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn count(bucket: &mut Bucket, n: usize, at: Instant) -> [usize; 3] {
        let mut counts = [0; 3];
        for _ in 0..n {
            counts[bucket.take(at) as usize] += 1;
        }
        counts
    }

    #[test]
    fn a_burst_passes_then_the_excess_is_refused_then_closed() {
        let start = Instant::now();
        let mut bucket = Bucket::new(MessageRate::default(), start);
        assert_eq!(count(&mut bucket, 200, start), [200, 0, 0]);
        assert_eq!(count(&mut bucket, 200, start), [0, 200, 0]);
        assert_eq!(count(&mut bucket, 1, start), [0, 0, 1]);
    }

    #[test]
    fn the_bucket_refills_at_the_rate_up_to_the_burst() {
        let start = Instant::now();
        let mut bucket = Bucket::new(MessageRate::default(), start);
        assert_eq!(count(&mut bucket, 200, start), [200, 0, 0]);
        let later = start + Duration::from_millis(100);
        assert_eq!(count(&mut bucket, 6, later), [5, 1, 0], "5 tokens in 100 ms");
        // A long pause refills to the burst, never beyond.
        let much_later = later + Duration::from_secs(3600);
        assert_eq!(count(&mut bucket, 201, much_later), [200, 1, 0]);
    }

    #[test]
    fn the_sustained_rate_always_passes() {
        let start = Instant::now();
        let mut bucket = Bucket::new(MessageRate::default(), start);
        for i in 1..=10_000 {
            let at = start + Duration::from_millis(20 * i);
            assert_eq!(bucket.take(at), Verdict::Pass, "message {i}");
        }
    }

    #[test]
    fn refusals_are_debt_repaid_at_the_same_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(MessageRate::default(), start);
        count(&mut bucket, 250, start);
        // 50 in debt (and -1 for the next): a second is not quite enough.
        let second = start + Duration::from_secs(1);
        assert_eq!(bucket.take(second), Verdict::Refuse);
        let after = second + Duration::from_millis(100);
        assert_eq!(bucket.take(after), Verdict::Pass);
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let start = Instant::now() + Duration::from_secs(10);
        let mut bucket = Bucket::new(MessageRate::default(), start);
        count(&mut bucket, 200, start);
        let earlier = start - Duration::from_secs(5);
        assert_eq!(bucket.take(earlier), Verdict::Refuse);
    }
}
