//! Each subscriber's downlink shared among the videos it is sent
//! (`allocate.rs`), twice a second: within what its losses show it
//! carries (`downlink.rs`, always), and within str0m's estimate of it
//! (with `Config::bandwidth_estimation`); and the rooms told which videos
//! a member has paused to save its bandwidth.

use super::Engine;
use crate::allocate::{allocate, step_up, Demand};
use crate::downlink::Change;
use crate::layers::{Allowance, Want};
use crate::metrics::Metrics;
use crate::session::OutState;
use crate::Event;
use shared::PeerId;
use std::time::{Duration, Instant};
use str0m::bwe::Bitrate;
use str0m::media::MediaKind;
use str0m::stats::MediaEgressStats;

/// How often the downlinks are shared out.
pub(super) const SHARE_TICK: Duration = Duration::from_millis(500);
/// A video goes up a layer only this long after the last step down: a
/// link that just fell short is not tried again at once.
const CLIMB_AFTER: Duration = Duration::from_secs(3);
/// Of the downlink, what video may take: the rest is headroom, and room
/// for the voices (a few tens of kbit/s each while they speak).
const VIDEO_SHARE_PERCENT: u64 = 85;
/// Of that share, what a video may climb into: a link that just carries a
/// layer is not tried at it again and again (a probe can overshoot).
const CLIMB_PERCENT: u64 = 80;

impl Engine {
    pub(super) fn share_bandwidth(&mut self, now: Instant) {
        if now < self.next_share {
            return;
        }
        self.next_share = now + SHARE_TICK;
        let peers: Vec<PeerId> = self.sessions.keys().copied().collect();
        for peer in peers {
            self.share_downlink(peer, now);
        }
    }

    /// What `peer` was sent on an m-line since its last statistics, and
    /// what it says it lost of it, for its downlink's judgement.
    pub(super) fn downlink_report(&mut self, peer: PeerId, stats: &MediaEgressStats, bytes: u64, packets: u64) {
        let Some(session) = self.sessions.get(&peer) else { return };
        let video = session.tracks_out.iter().find(|t| t.mid() == Some(stats.mid) && t.kind == MediaKind::Video);
        let Some((origin, mid, layer)) = video.map(|t| (t.origin, t.origin_mid, t.feed.current)) else { return };
        // Less what never reached the SFU: a publisher's poor uplink is not
        // this member's downlink. Until the SFU has reported on the layer
        // itself, what the member lost cannot be told apart, so it is not counted.
        let upstream = self.layers(origin, mid).zip(layer).and_then(|(layers, at)| layers.get(at));
        let upstream = upstream.and_then(|layer| layer.lost_upstream);
        let loss = stats.loss.zip(upstream).map(|(loss, upstream)| (loss - upstream).max(0.0));
        if let Some(session) = self.sessions.get_mut(&peer) {
            session.downlink.report(bytes, packets, loss);
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
        for (index, track) in session.tracks_out.iter().enumerate() {
            let OutState::Open(_) = track.state else { continue };
            if track.kind == MediaKind::Audio {
                continue;
            }
            let Some(layers) = self.layers(track.origin, track.origin_mid) else { continue };
            let speaker = speakers.contains(&track.origin);
            let area = area(track.feed.want);
            let options = layers.options(track.feed.want, track.feed.speaker, now);
            demands.push(Demand { rank: (speaker, area), protected: speaker, options });
            videos.push(index);
        }
        // The spotlight: the largest tile drawn.
        let drawn = demands.iter().filter(|d| !d.options.is_empty());
        if let Some(largest) = drawn.map(|d| d.rank.1).max() {
            demands.iter_mut().filter(|d| d.rank.1 == largest).for_each(|d| d.protected = true);
        }
        let wanted: u64 = demands.iter().filter_map(|d| d.options.last()).map(|&(_, bps)| bps).sum();
        let fills = downlink_for(wanted);
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        let allowances: Vec<Allowance> = videos.iter().map(|&index| session.tracks_out[index].feed.allowance).collect();
        let (spending, extra) = step_up(&demands, &allowances);
        let next = extra.map(|extra| downlink_for(spending + extra));
        let change = session.downlink.judge(fills, next, now);
        if let Some(change) = change {
            tracing::debug!(%peer, ?change, budget = session.downlink.budget(), "downlink by its losses");
        }
        if change == Some(Change::Cut) {
            Metrics::add(&self.metrics.downlink_cuts, 1);
        }
        // Always within str0m's estimate when there is one: it paces a
        // session's packets at 1.1 times it, so more than that would wait in
        // its queue (a still picture, then a burst).
        let Some(downlink) = [session.downlink.budget(), session.estimate_bps].into_iter().flatten().min() else {
            return self.lift(peer);
        };
        let budget = downlink * VIDEO_SHARE_PERCENT / 100;
        let (most, spent) = allocate(budget, &demands);
        let (climb, _) = allocate(budget * CLIMB_PERCENT / 100, &demands);
        tracing::trace!(%peer, downlink, wanted, ?most, "downlink shared");
        let climbing = session.last_step_down.is_none_or(|at| now.saturating_duration_since(at) >= CLIMB_AFTER);
        for ((index, most), climb) in videos.into_iter().zip(most).zip(climb) {
            let feed = &mut session.tracks_out[index].feed;
            if most < feed.allowance {
                // A video not shown yet is only being placed, not stepped down.
                if feed.current.is_some() {
                    session.last_step_down = Some(now);
                }
                feed.allowance = most;
            } else if climbing && climb.min(most) > feed.allowance {
                feed.allowance = climb.min(most);
            }
        }
        if session.estimate_bps.is_some() {
            // The estimate grows by probing for `desired`, with a tenth more;
            // keep up what is sent now.
            let desired = fills * 11 / 10;
            session.rtc.bwe().set_bitrate(Bitrate::bps(spent), Bitrate::bps(desired.max(spent)));
        }
        self.tell_paused(peer);
    }

    /// No limit known: every video may take what fills its tile.
    fn lift(&mut self, peer: PeerId) {
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        let mut lifted = false;
        for track in &mut session.tracks_out {
            lifted |= track.feed.allowance != Allowance::Any;
            track.feed.allowance = Allowance::Any;
        }
        if lifted {
            self.tell_paused(peer);
        }
    }

    /// Tells the rooms whose videos `peer` is not sent, when that changed.
    fn tell_paused(&mut self, peer: PeerId) {
        let Some(session) = self.sessions.get_mut(&peer) else { return };
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

/// The downlink that carries `video_bps` of video with the headroom the
/// share and the climb leave.
fn downlink_for(video_bps: u64) -> u64 {
    video_bps * 100 / VIDEO_SHARE_PERCENT * 100 / CLIMB_PERCENT
}
