//! What a subscriber's downlink carries, as its losses show it: the
//! loss-based half of Google's congestion control (draft-ietf-rmcat-gcc,
//! section 6), fed by the receiver reports of the videos it is sent.
//!
//! It needs nothing from the member but what every browser sends anyway,
//! and it paces nothing: a link that loses nothing is never held back.
//! Over 10% lost in a second, the budget is cut to what was sent less half
//! the loss. Under 2%, after a wait, it grows a layer at a time (at least
//! 8%), a trial of two seconds each, until what the tiles want fits, and
//! then it is lifted. Each climb is a try of the link with media (the SFU
//! sends no probes of padding), so a climb that loses again doubles the
//! wait: a narrow link is not tried again and again.

use std::time::{Duration, Instant};

/// Loss over this (per thousand) cuts the budget.
const CUT_OVER_PER_MILLE: u64 = 100;
/// Loss under this lets it grow.
const GROW_UNDER_PER_MILLE: u64 = 20;
/// The least it grows by, per cent.
const GROW_PERCENT: u64 = 8;
/// The wait after a cut before growing, the first time: a viewer whose
/// link just fell short is not made to lose again soon.
const FIRST_WAIT: Duration = Duration::from_secs(8);
/// After growing, how long the new layer is tried before the next.
const TRIAL: Duration = Duration::from_secs(2);
/// The longest wait, however often the link fell short.
const LONGEST_WAIT: Duration = Duration::from_secs(60);
/// A cut shows in the reports only after the lower layer's keyframe and
/// a round of reports: losses this soon after one are its cause's, not news.
const HOLDOFF: Duration = Duration::from_secs(3);
/// A cut this soon after a climb doubles the wait: the climb failed.
const FAILED_CLIMB: Duration = Duration::from_secs(10);
/// A link that has not fallen short for this long starts again at the first wait.
const FORGIVEN_AFTER: Duration = Duration::from_secs(30);
/// Reports are judged over at least this much time, so one report of a
/// few packets does not decide.
const JUDGED_OVER: Duration = Duration::from_secs(1);

/// One subscriber's downlink.
#[derive(Debug, Clone)]
pub(crate) struct Downlink {
    /// What its videos may take, in bits a second; `None`: no limit seen.
    budget: Option<u64>,
    /// What its videos were sent and what the member says it lost of
    /// them, since `since`.
    bytes: u64,
    packets: u64,
    lost: u64,
    since: Instant,
    /// The last cut, and the wait after it before growing.
    cut_at: Option<Instant>,
    wait: Duration,
    /// When it last grew.
    grown_at: Instant,
}

/// What a second of reports made of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Cut,
    Grown,
    Lifted,
}

impl Downlink {
    pub(crate) fn new(now: Instant) -> Self {
        Self { budget: None, bytes: 0, packets: 0, lost: 0, since: now, cut_at: None, wait: FIRST_WAIT, grown_at: now }
    }

    /// What the member's videos may take now; `None`: everything.
    pub(crate) fn budget(&self) -> Option<u64> {
        self.budget
    }

    /// A video's statistics: `bytes` and `packets` sent since the last,
    /// and the fraction the member's receiver reports say it lost.
    pub(crate) fn report(&mut self, bytes: u64, packets: u64, loss: Option<f32>) {
        self.bytes += bytes;
        self.packets += packets;
        if let Some(loss) = loss {
            self.lost += (f64::from(loss.clamp(0.0, 1.0)) * packets as f64).round() as u64;
        }
    }

    /// Judges the reports since the last judgement, once they span a
    /// second. `fills` is the budget that would carry every tile's layer,
    /// `next` the one that would carry one layer more than now.
    pub(crate) fn judge(&mut self, fills: u64, next: Option<u64>, now: Instant) -> Option<Change> {
        let span = now.saturating_duration_since(self.since);
        if span < JUDGED_OVER || self.packets == 0 {
            return None;
        }
        let sent_bps = self.bytes * 8 * 1000 / span.as_millis().max(1) as u64;
        let lost_per_mille = self.lost * 1000 / self.packets;
        (self.bytes, self.packets, self.lost, self.since) = (0, 0, 0, now);
        let since_cut = self.cut_at.map(|at| now.saturating_duration_since(at));
        if lost_per_mille > CUT_OVER_PER_MILLE {
            if since_cut.is_some_and(|since| since < HOLDOFF) {
                return None;
            }
            let climbed = self.cut_at.is_some_and(|at| self.grown_at > at);
            self.wait = if climbed && now.saturating_duration_since(self.grown_at) < FAILED_CLIMB {
                (self.wait * 2).min(LONGEST_WAIT)
            } else if since_cut.is_some_and(|since| since < FORGIVEN_AFTER) {
                self.wait
            } else {
                FIRST_WAIT
            };
            let cut = sent_bps * (2000 - lost_per_mille) / 2000;
            self.budget = Some(self.budget.map_or(cut, |budget| budget.min(cut)));
            self.cut_at = Some(now);
            return Some(Change::Cut);
        }
        let budget = self.budget?;
        let waited = since_cut.is_none_or(|since| since >= self.wait);
        let tried = now.saturating_duration_since(self.grown_at) >= TRIAL;
        if lost_per_mille >= GROW_UNDER_PER_MILLE || !waited || !tried {
            return None;
        }
        let Some(next) = next.filter(|_| budget < fills) else {
            self.budget = None;
            return Some(Change::Lifted);
        };
        self.budget = Some(next.max(budget + budget * GROW_PERCENT / 100).min(fills));
        self.grown_at = now;
        Some(Change::Grown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layers of one video: 0.1, 0.5 and 1.5 Mbit/s.
    const FILLS: u64 = 1_500_000;

    /// A second of one video at `bps`, `loss` of it lost.
    fn second(link: &mut Downlink, at: &mut Instant, bps: u64, loss: f32) -> Option<Change> {
        *at += Duration::from_secs(1);
        link.report(bps / 8, 100, Some(loss));
        let budget = link.budget().unwrap_or(u64::MAX);
        let next = [100_000, 500_000, 1_500_000].into_iter().find(|&layer| layer > budget);
        link.judge(FILLS, next, *at)
    }

    /// `seconds` seconds at `bps` with nothing lost, none of them changing anything.
    fn holds(link: &mut Downlink, at: &mut Instant, seconds: u32, bps: u64) {
        for _ in 0..seconds {
            assert_eq!(second(link, at, bps, 0.0), None);
        }
    }

    #[test]
    fn a_link_that_loses_nothing_is_never_limited() {
        let mut at = Instant::now();
        let mut link = Downlink::new(at);
        for _ in 0..10 {
            assert_eq!(second(&mut link, &mut at, 1_500_000, 0.01), None);
        }
        assert_eq!(link.budget(), None);
    }

    #[test]
    fn a_lossy_second_cuts_to_what_was_sent_less_half_the_loss() {
        let mut at = Instant::now();
        let mut link = Downlink::new(at);
        assert_eq!(second(&mut link, &mut at, 1_500_000, 0.3), Some(Change::Cut));
        assert_eq!(link.budget(), Some(1_275_000));
        // Some loss, but not much: held.
        assert_eq!(second(&mut link, &mut at, 500_000, 0.05), None);
        assert_eq!(link.budget(), Some(1_275_000));
    }

    #[test]
    fn after_the_wait_it_climbs_a_layer_a_trial_and_is_lifted_once_everything_fits() {
        let mut at = Instant::now();
        let mut link = Downlink::new(at);
        second(&mut link, &mut at, 500_000, 0.9);
        assert_eq!(link.budget(), Some(275_000));
        // The first wait: 8 s, so seven calm seconds hold.
        holds(&mut link, &mut at, 7, 100_000);
        assert_eq!(second(&mut link, &mut at, 100_000, 0.0), Some(Change::Grown));
        assert_eq!(link.budget(), Some(500_000), "the next layer");
        assert_eq!(second(&mut link, &mut at, 500_000, 0.0), None, "tried for two seconds");
        assert_eq!(second(&mut link, &mut at, 500_000, 0.0), Some(Change::Grown));
        assert_eq!(link.budget(), Some(1_500_000));
        second(&mut link, &mut at, 1_500_000, 0.0);
        assert_eq!(second(&mut link, &mut at, 1_500_000, 0.0), Some(Change::Lifted));
        assert_eq!(link.budget(), None);
    }

    #[test]
    fn losses_soon_after_a_cut_are_its_own_not_a_second_cut() {
        let mut at = Instant::now();
        let mut link = Downlink::new(at);
        assert_eq!(second(&mut link, &mut at, 1_500_000, 0.3), Some(Change::Cut));
        assert_eq!(second(&mut link, &mut at, 1_000_000, 0.3), None);
        assert_eq!(second(&mut link, &mut at, 500_000, 0.3), None);
        assert_eq!(link.budget(), Some(1_275_000));
        assert_eq!(second(&mut link, &mut at, 500_000, 0.3), Some(Change::Cut), "three seconds on, still losing");
        assert_eq!(link.budget(), Some(425_000));
    }

    #[test]
    fn a_climb_that_loses_doubles_the_wait() {
        let mut at = Instant::now();
        let mut link = Downlink::new(at);
        second(&mut link, &mut at, 1_500_000, 0.3);
        for _ in 0..8 {
            second(&mut link, &mut at, 500_000, 0.0);
        }
        assert_eq!(link.budget(), Some(1_500_000), "climbed after 8 s");
        assert_eq!(second(&mut link, &mut at, 1_500_000, 0.3), Some(Change::Cut));
        // Now 16 s: fifteen calm seconds hold, the sixteenth climbs.
        holds(&mut link, &mut at, 15, 500_000);
        assert_eq!(second(&mut link, &mut at, 500_000, 0.0), Some(Change::Grown));
        // Long after, a cut waits the first wait again.
        at += FORGIVEN_AFTER;
        second(&mut link, &mut at, 1_500_000, 0.3);
        holds(&mut link, &mut at, 7, 500_000);
        assert_eq!(second(&mut link, &mut at, 500_000, 0.0), Some(Change::Grown));
    }

    #[test]
    fn a_few_reports_are_not_judged_before_a_second() {
        let mut at = Instant::now();
        let mut link = Downlink::new(at);
        at += Duration::from_millis(400);
        link.report(10_000, 3, Some(1.0));
        assert_eq!(link.judge(FILLS, None, at), None);
        assert_eq!(link.budget(), None);
    }
}
