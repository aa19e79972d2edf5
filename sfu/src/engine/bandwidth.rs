//! Each subscriber's downlink shared among the videos it is sent
//! (`allocate.rs`), twice a second, from str0m's estimate of it; and the
//! rooms told which videos a member has paused to save its bandwidth.

use super::Engine;
use crate::allocate::{allocate, Demand};
use crate::layers::{Allowance, Want};
use crate::session::OutState;
use crate::Event;
use shared::PeerId;
use std::time::{Duration, Instant};
use str0m::bwe::Bitrate;
use str0m::media::MediaKind;

/// How often the downlinks are shared out.
pub(super) const SHARE_TICK: Duration = Duration::from_millis(500);
/// A video goes up a layer only this long after the last step down: a
/// link that just fell short is not tried again at once.
const CLIMB_AFTER: Duration = Duration::from_secs(3);
/// Of the estimate, what video may take: the rest is headroom, and room
/// for the voices (a few tens of kbit/s each while they speak).
const VIDEO_SHARE_PERCENT: u64 = 85;
/// The link is short when the estimate falls below this share of what is
/// being sent. Below what would fill every tile is not enough: while little
/// is sent the estimate stays near it (it has nothing to measure more by),
/// and trusting that would keep a spotlight small on a fast link.
const SHORT_PERCENT: u64 = 75;
/// How many looks in a row (a second) the estimate must be that low.
const SHORT_TICKS: u32 = 2;

impl Engine {
    pub(super) fn share_bandwidth(&mut self, now: Instant) {
        if now < self.next_share {
            return;
        }
        self.next_share = now + SHARE_TICK;
        let estimated: Vec<PeerId> =
            self.sessions.iter().filter(|(_, s)| s.estimate_bps.is_some()).map(|(peer, _)| *peer).collect();
        for peer in estimated {
            self.share_downlink(peer, now);
        }
    }

    fn share_downlink(&mut self, peer: PeerId, now: Instant) {
        let Some(session) = self.sessions.get(&peer) else { return };
        let speakers = self.speaking.get(&session.room).map(|s| s.speakers()).unwrap_or_default();
        let area = |want: Want| match want {
            Want::Best => u32::MAX,
            Want::Size { width, height } => u32::from(width) * u32::from(height),
            Want::Hidden => 0,
        };
        let mut demands = vec![];
        let mut videos = vec![];
        let mut sending = 0;
        for (index, track) in session.tracks_out.iter().enumerate() {
            let OutState::Open(_) = track.state else { continue };
            if track.kind() == MediaKind::Audio {
                continue;
            }
            let Some(layers) = self.layers(track.origin, track.origin_mid) else { continue };
            let speaker = speakers.contains(&track.origin);
            let area = area(track.feed.want);
            let options = layers.options(track.feed.want, now);
            sending += track.feed.current.map_or(0, |layer| layers.bps(layer));
            demands.push(Demand { rank: (speaker, area), protected: speaker, options });
            videos.push(index);
        }
        // The spotlight: the largest tile drawn.
        let drawn = demands.iter().filter(|d| !d.options.is_empty());
        if let Some(largest) = drawn.map(|d| d.rank.1).max() {
            demands.iter_mut().filter(|d| d.rank.1 == largest).for_each(|d| d.protected = true);
        }
        let estimate = session.estimate_bps.unwrap_or(0);
        let wanted: u64 = demands.iter().filter_map(|d| d.options.last()).map(|&(_, bps)| bps).sum();
        // Short once the estimate has been below what is sent for
        // SHORT_TICKS looks in a row (a busy machine dips it for a moment);
        // no longer once it would carry every tile's want.
        let below = estimate * 100 < sending * SHORT_PERCENT;
        let below_ticks = if below { session.below_ticks + 1 } else { 0 };
        let short = if below_ticks >= SHORT_TICKS {
            true
        } else {
            session.short && estimate * VIDEO_SHARE_PERCENT / 100 < wanted
        };
        let budget = if short { estimate * VIDEO_SHARE_PERCENT / 100 } else { u64::MAX };
        let (allowances, spent) = allocate(budget, &demands);
        tracing::trace!(%peer, estimate, sending, wanted, short, ?allowances, "downlink shared");
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        session.short = short;
        session.below_ticks = below_ticks;
        let climbing = session.last_step_down.is_none_or(|at| now.saturating_duration_since(at) >= CLIMB_AFTER);
        for (index, allowance) in videos.into_iter().zip(allowances) {
            let feed = &mut session.tracks_out[index].feed;
            if allowance < feed.allowance {
                feed.allowance = allowance;
                session.last_step_down = Some(now);
            } else if allowance > feed.allowance && climbing {
                feed.allowance = allowance;
            }
        }
        // Probe for what would fill every tile, with the headroom a short
        // link needs before it is given that (and a tenth more); keep up
        // what is sent now.
        let desired = wanted * 100 / VIDEO_SHARE_PERCENT * 11 / 10;
        session.rtc.bwe().set_bitrate(Bitrate::bps(spent), Bitrate::bps(desired.max(spent)));
        let mut paused: Vec<PeerId> = vec![];
        for track in session.tracks_out.iter().filter(|t| t.feed.allowance == Allowance::Paused) {
            if !paused.contains(&track.origin) {
                paused.push(track.origin);
            }
        }
        if paused != session.paused_told {
            session.paused_told = paused.clone();
            (self.emit)(Event::Paused { peer, peers: paused });
        }
        self.dirty.push(peer);
    }
}
