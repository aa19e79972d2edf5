//! One member's session with the SFU: its str0m `Rtc`, the tracks it
//! publishes, the tracks forwarded to it, and the SDP exchanges that add and
//! remove those (the SFU offers; a member's own offer wins a collision).

use crate::downlink::Downlink;
use crate::layers::{Feed, Layers, Want};
use crate::SdpError;
use shared::{PeerId, SfuTrack, TrackSource, VideoView};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::bwe::Bitrate;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::CryptoProvider;
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Pt};
use str0m::stats::MediaIngressStats;
use str0m::{Candidate, Rtc};

/// A publisher gets at most one keyframe request per track this often.
pub(crate) const KEYFRAME_INTERVAL: Duration = Duration::from_secs(1);
/// How far back a forwarded stream can resend for a NACK. A second is many
/// round trips; str0m keeps three by default, and a room's forwarded streams
/// times that history was most of a session's memory.
const RESEND_HISTORY: Duration = Duration::from_secs(1);
/// The same history's cap in packets (a second of a 2.5 Mbit/s camera).
const RESEND_PACKETS: usize = 256;
/// str0m's default: queued resends are dropped while resends exceed this share of what is sent.
const RESEND_SHARE_CAP: Option<f32> = Some(0.15);

/// A track this member publishes.
pub(crate) struct TrackIn {
    pub(crate) mid: Mid,
    pub(crate) kind: MediaKind,
    pub(crate) source: TrackSource,
    /// Its simulcast layers (a video's one stream is one layer).
    pub(crate) layers: Layers,
    /// When a keyframe was last asked for before any layer was heard.
    unheard_request: Option<Instant>,
    /// Forwarded to the others (offered to them). A screen is, once it
    /// sends: until someone shares, the others need no m-line for it, and
    /// in a room of 50 that is a third of every member's m-lines.
    pub(crate) announced: bool,
}

/// What a subscriber needs to know of a published track.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Published {
    mid: Mid,
    kind: MediaKind,
    source: TrackSource,
}

impl TrackIn {
    pub(crate) fn published(&self) -> Published {
        Published { mid: self.mid, kind: self.kind, source: self.source }
    }
}

/// Another member's track forwarded to this one.
pub(crate) struct TrackOut {
    pub(crate) origin: PeerId,
    pub(crate) origin_mid: Mid,
    pub(crate) source: TrackSource,
    pub(crate) kind: MediaKind,
    pub(crate) state: OutState,
    /// Which of the video's layers this member is sent.
    pub(crate) feed: Feed,
    /// The payload type its m-line was answered with, once open.
    pub(crate) pt: Option<Pt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutState {
    /// To be added at the next offer.
    ToOpen,
    /// In the offer awaiting its answer.
    Opening(Mid),
    Open(Mid),
    /// Its publisher is gone: to be stopped at the next offer.
    ToStop(Mid),
    Stopping(Mid),
}

impl TrackOut {
    /// The m-line it is sent on, once offered.
    pub(crate) fn mid(&self) -> Option<Mid> {
        match self.state {
            OutState::ToOpen => None,
            OutState::Opening(m) | OutState::Open(m) | OutState::ToStop(m) | OutState::Stopping(m) => Some(m),
        }
    }
}

pub(crate) struct Session {
    pub(crate) peer: PeerId,
    pub(crate) room: String,
    pub(crate) rtc: Rtc,
    pending: Option<SdpPendingOffer>,
    pub(crate) tracks_in: Vec<TrackIn>,
    pub(crate) tracks_out: Vec<TrackOut>,
    /// Remote addresses its packets came from, for the engine's map.
    pub(crate) addrs: Vec<SocketAddr>,
    /// When str0m next wants time.
    pub(crate) deadline: Option<Instant>,
    /// Video bytes forwarded in the current second, against the cap.
    window: (Instant, u64),
    /// Its video went over the cap: subscribers need a keyframe when it resumes.
    pub(crate) capped: bool,
    /// DTLS is up: media written to it is sent (before, str0m drops it).
    pub(crate) connected: bool,
    /// str0m's statistics are totals per m-line; the metrics want what is new.
    pub(crate) seen: HashMap<(Mid, Way), u64>,
    /// What its page wants of each publisher's video, kept for tracks not open yet.
    wants: HashMap<(PeerId, TrackSource), Want>,
    /// What its downlink carries, as its losses show it.
    pub(crate) downlink: Downlink,
    /// str0m's estimate of its downlink, in bits a second, once there is
    /// one (with `Config::bandwidth_estimation`).
    pub(crate) estimate_bps: Option<u64>,
    /// When one of its videos last went down a layer (or paused) for bandwidth.
    pub(crate) last_step_down: Option<Instant>,
    /// Whose video it was last told is paused.
    pub(crate) paused_told: Vec<PeerId>,
}

/// Which way a statistic counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Way {
    PacketsOut,
    BytesOut,
    NacksIn,
    PacketsIn,
}

impl Session {
    /// Opens a session with a member's first offer.
    pub(crate) fn open(
        peer: PeerId,
        room: String,
        offer: &str,
        candidates: &[Candidate],
        crypto: &Arc<CryptoProvider>,
        bandwidth_estimation: bool,
        now: Instant,
    ) -> Result<(Self, String), SdpError> {
        let offer = parse_offer(offer)?;
        // What reaches the member: each subscriber's videos share it (`allocate.rs`).
        let estimate_from = bandwidth_estimation.then(|| Bitrate::kbps(u64::from(shared::budget::START_KBPS)));
        let mut rtc = Rtc::builder()
            .set_crypto_provider(crypto.clone())
            .set_ice_lite(true)
            // Opus and VP8, which every browser sends: each codec named
            // costs every m-line of an SDP (a room of 50 names ~150).
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            // Resends come from this history; str0m's default of 1000
            // packets per forwarded video (over a megabyte) times a room's
            // tracks is what a session would hold. 256 is over a second.
            .set_send_buffer_video(256)
            // Packets are forwarded as they come (`engine/forward.rs`), not
            // depacketized into frames and packetized again per subscriber.
            .set_rtp_mode(true)
            .set_stats_interval(Some(Duration::from_secs(1)))
            .enable_bwe(estimate_from)
            .build(now);
        for candidate in candidates {
            rtc.add_local_candidate(candidate.clone());
        }
        let mids = mids_of(&offer);
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| SdpError::Unusable(e.to_string()))?;
        let mut session = Self {
            peer,
            room,
            rtc,
            pending: None,
            tracks_in: vec![],
            tracks_out: vec![],
            addrs: vec![],
            deadline: None,
            window: (now, 0),
            capped: false,
            connected: false,
            seen: HashMap::new(),
            wants: HashMap::new(),
            downlink: Downlink::new(now),
            estimate_bps: None,
            last_step_down: None,
            paused_told: vec![],
        };
        session.note_published(&mids);
        Ok((session, to_send(&answer)))
    }

    /// Takes note of the tracks an offer of the member's publishes. str0m
    /// tells of them (`MediaAdded`) only once the connection is up, but the
    /// others can be offered them at once, which saves a new member's
    /// arrival on the others' screens that wait (DTLS: 50–100 ms).
    fn note_published(&mut self, mids: &[Mid]) {
        let media: Vec<_> = mids
            .iter()
            .filter_map(|&mid| self.rtc.media(mid).map(|media| (mid, media.kind(), media.direction())))
            .collect();
        for (mid, kind, direction) in media {
            self.published(mid, kind, direction);
        }
    }

    /// The tracks it publishes that the others are to be given now: all
    /// new ones but a screen, which waits for [`Session::sending`].
    pub(crate) fn take_unannounced(&mut self) -> Vec<Published> {
        let fresh = self.tracks_in.iter_mut().filter(|t| !t.announced && t.source != TrackSource::Screen);
        fresh
            .map(|t| {
                t.announced = true;
                t.published()
            })
            .collect()
    }

    /// Media came on `mid`: the track, if the others are to be given it now.
    pub(crate) fn sending(&mut self, mid: Mid) -> Option<Published> {
        let track = self.tracks_in.iter_mut().find(|t| t.mid == mid && !t.announced)?;
        track.announced = true;
        Some(track.published())
    }

    /// A later offer from the member: an ICE restart or a change. Ours in
    /// flight, if any, is dropped (str0m rolls it back) and made again.
    pub(crate) fn accept_offer(&mut self, offer: &str) -> Result<String, SdpError> {
        let offer = parse_offer(offer)?;
        let mids = mids_of(&offer);
        let answer = self.rtc.sdp_api().accept_offer(offer).map_err(|e| SdpError::Unusable(e.to_string()))?;
        self.note_published(&mids);
        if self.pending.take().is_some() {
            for track in &mut self.tracks_out {
                track.state = match track.state {
                    OutState::Opening(_) => OutState::ToOpen,
                    OutState::Stopping(m) => OutState::ToStop(m),
                    other => other,
                };
            }
        }
        Ok(to_send(&answer))
    }

    /// The member's answer to our offer; returns the tracks now open (their
    /// publishers owe this member a keyframe).
    pub(crate) fn accept_answer(&mut self, answer: &str) -> Result<Vec<(PeerId, Mid, Feed)>, SdpError> {
        let answer = SdpAnswer::from_sdp_string(answer).map_err(|e| SdpError::Unreadable(e.to_string()))?;
        let pending = self.pending.take().ok_or(SdpError::NoOfferWaiting)?;
        self.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| SdpError::Unusable(e.to_string()))?;
        let mut opened = vec![];
        for track in &mut self.tracks_out {
            if let OutState::Opening(m) = track.state {
                track.state = OutState::Open(m);
                track.pt = answered_pt(&self.rtc, m, track.kind);
                if let Some(stream) = self.rtc.direct_api().stream_tx_by_mid(m, None) {
                    stream.set_rtx_cache(RESEND_PACKETS, RESEND_HISTORY, RESEND_SHARE_CAP);
                }
                if track.kind == MediaKind::Video {
                    opened.push((track.origin, track.origin_mid, track.feed));
                }
            }
        }
        self.tracks_out.retain(|t| !matches!(t.state, OutState::Stopping(_)));
        Ok(opened)
    }

    /// A track the member publishes was negotiated (read from its offer, or
    /// told by str0m's `MediaAdded`: the second time changes nothing). Its
    /// source is its place among the member's m-lines: audio is the
    /// microphone, the first video the camera, the next the screen.
    pub(crate) fn published(&mut self, mid: Mid, kind: MediaKind, direction: Direction) -> Option<TrackSource> {
        if !direction.is_receiving() || self.tracks_in.iter().any(|t| t.mid == mid) {
            return None;
        }
        let videos = self.tracks_in.iter().filter(|t| t.kind == MediaKind::Video).count();
        let source = match (kind, videos) {
            (MediaKind::Audio, _) if self.tracks_in.iter().any(|t| t.kind == MediaKind::Audio) => return None,
            (MediaKind::Audio, _) => TrackSource::Microphone,
            (MediaKind::Video, 0) => TrackSource::Camera,
            (MediaKind::Video, 1) => TrackSource::Screen,
            (MediaKind::Video, _) => return None,
        };
        self.tracks_in.push(TrackIn {
            mid,
            kind,
            source,
            layers: Layers::default(),
            unheard_request: None,
            announced: false,
        });
        Some(source)
    }

    pub(crate) fn forward_from(&mut self, origin: PeerId, track: Published) {
        let exists = self.tracks_out.iter().any(|t| t.origin == origin && t.origin_mid == track.mid);
        if !exists {
            let want = self.wants.get(&(origin, track.source)).copied().unwrap_or(Want::Best);
            self.tracks_out.push(TrackOut {
                origin,
                origin_mid: track.mid,
                source: track.source,
                kind: track.kind,
                state: OutState::ToOpen,
                feed: Feed::new(want),
                pt: None,
            });
        }
    }

    /// What its page draws, all of it: a video not named gets the largest layer.
    pub(crate) fn view(&mut self, views: &[VideoView]) {
        self.wants = views.iter().map(|v| ((v.peer, v.source), Want::of(v))).collect();
        for track in &mut self.tracks_out {
            track.feed.want = self.wants.get(&(track.origin, track.source)).copied().unwrap_or(Want::Best);
        }
    }

    /// Who speaks in the room now: their cameras are sent a layer up.
    pub(crate) fn speakers_are(&mut self, speakers: &[PeerId]) {
        for track in self.tracks_out.iter_mut().filter(|t| t.source == TrackSource::Camera) {
            track.feed.speaker = speakers.contains(&track.origin);
        }
    }

    /// The publisher `origin` left: stop everything of theirs.
    pub(crate) fn stop_forwarding(&mut self, origin: PeerId) {
        self.tracks_out.retain(|t| !(t.origin == origin && t.state == OutState::ToOpen));
        for track in self.tracks_out.iter_mut().filter(|t| t.origin == origin) {
            track.state = match track.state {
                OutState::Opening(m) | OutState::Open(m) => OutState::ToStop(m),
                other => other,
            };
        }
    }

    /// Our next offer, when tracks are to be added or stopped and none is
    /// in flight.
    pub(crate) fn offer_if_needed(&mut self) -> Option<(String, Vec<SfuTrack>)> {
        if self.pending.is_some()
            || !self.tracks_out.iter().any(|t| matches!(t.state, OutState::ToOpen | OutState::ToStop(_)))
        {
            return None;
        }
        let mut change = self.rtc.sdp_api();
        for track in &mut self.tracks_out {
            match track.state {
                OutState::ToOpen => {
                    // The stream groups a member's camera and microphone, so the browser syncs them.
                    let stream = match track.source {
                        TrackSource::Screen => format!("{}-screen", track.origin),
                        _ => format!("{}-camera", track.origin),
                    };
                    let name: &str = track.source.into();
                    let id = format!("{}-{name}", track.origin);
                    let mid = change.add_media(track.kind, Direction::SendOnly, Some(stream), Some(id), None);
                    track.state = OutState::Opening(mid);
                }
                OutState::ToStop(mid) => {
                    change.stop_media(mid);
                    track.state = OutState::Stopping(mid);
                }
                _ => {}
            }
        }
        let (offer, pending) = change.apply()?;
        self.pending = Some(pending);
        let tracks = self
            .tracks_out
            .iter()
            .filter(|t| matches!(t.state, OutState::Opening(_) | OutState::Open(_)))
            .filter_map(|t| Some(SfuTrack { mid: t.mid()?.to_string(), peer: t.origin, source: t.source }))
            .collect();
        Some((offer.to_sdp_string(), tracks))
    }

    /// Asks this member for a keyframe of `mid`'s layer `layer` (None:
    /// each layer it sends), at most once a second per layer; how many
    /// requests went.
    pub(crate) fn request_keyframe(
        &mut self,
        mid: Mid,
        layer: Option<usize>,
        kind: KeyframeRequestKind,
        now: Instant,
    ) -> u64 {
        let Some(track) = self.tracks_in.iter_mut().find(|t| t.mid == mid && t.kind == MediaKind::Video) else {
            return 0;
        };
        if track.layers.is_empty() {
            // Nothing heard yet: the whole track is asked, as a publisher without layers would be.
            if too_soon(track.unheard_request, now) {
                return 0;
            }
            let mut api = self.rtc.direct_api();
            let Some(stream) = api.stream_rx_by_mid(mid, None) else { return 0 };
            stream.request_keyframe(kind);
            track.unheard_request = Some(now);
            return 1;
        }
        let all = 0..track.layers.len();
        let layers = layer.map_or(all, |one| one..one + 1);
        let mut sent = 0;
        for index in layers {
            let Some(layer) = track.layers.get_mut(index) else { continue };
            if too_soon(layer.last_keyframe_request, now) {
                // Not dropped: a subscriber that started just after another still needs one.
                layer.keyframe_owed = true;
                continue;
            }
            let mut api = self.rtc.direct_api();
            let Some(stream) = api.stream_rx_by_mid(mid, layer.rid) else { continue };
            stream.request_keyframe(kind);
            layer.last_keyframe_request = Some(now);
            layer.keyframe_owed = false;
            sent += 1;
        }
        sent
    }

    /// A frame of this member's `mid` arrived on layer `layer`: a keyframe
    /// settles what is owed; otherwise an owed request goes once its
    /// interval is over.
    pub(crate) fn settle_keyframe(&mut self, mid: Mid, layer: usize, keyframe: bool, now: Instant) -> u64 {
        let Some(track) = self.tracks_in.iter_mut().find(|t| t.mid == mid) else { return 0 };
        let Some(owed) = track.layers.get_mut(layer) else { return 0 };
        if keyframe {
            owed.keyframe_owed = false;
        }
        if !owed.keyframe_owed {
            return 0;
        }
        self.request_keyframe(mid, Some(layer), KeyframeRequestKind::Pli, now)
    }

    /// Counts a video frame against the member's cap; false when over it.
    pub(crate) fn within_cap(&mut self, bytes: usize, cap_kbps: u32, now: Instant) -> bool {
        if now.saturating_duration_since(self.window.0) >= Duration::from_secs(1) {
            self.window = (now, 0);
        }
        self.window.1 += bytes as u64;
        self.window.1 * 8 <= u64::from(cap_kbps) * 1000
    }

    /// How much `total` grew since it was last seen.
    /// Notes what str0m's last receiver report to the member said it lost
    /// of a layer it publishes.
    pub(crate) fn lost_upstream(&mut self, stats: &MediaIngressStats) {
        let Some(loss) = stats.loss else { return };
        let Some(track) = self.tracks_in.iter_mut().find(|t| t.mid == stats.mid) else { return };
        if let Some(layer) = track.layers.index_of(stats.rid).and_then(|at| track.layers.get_mut(at)) {
            layer.lost_upstream = Some(loss.clamp(0.0, 1.0));
        }
    }

    pub(crate) fn growth(&mut self, mid: Mid, way: Way, total: u64) -> u64 {
        let last = self.seen.insert((mid, way), total).unwrap_or(0);
        total.saturating_sub(last)
    }

    /// The video tracks forwarded to this member, each as its publisher,
    /// their m-line and what this member wants of it.
    pub(crate) fn open_video(&self) -> impl Iterator<Item = (PeerId, Mid, Feed)> + '_ {
        self.tracks_out
            .iter()
            .filter(|t| t.kind == MediaKind::Video && matches!(t.state, OutState::Open(_)))
            .map(|t| (t.origin, t.origin_mid, t.feed))
    }
}

/// The payload type the member answered `mid` with for the one codec of
/// its `kind` the SFU speaks (Opus, VP8): what forwarded packets carry, as
/// browsers number codecs differently (Chromium's VP8 is 96, Firefox's 120).
fn answered_pt(rtc: &Rtc, mid: Mid, kind: MediaKind) -> Option<Pt> {
    let codec = match kind {
        MediaKind::Audio => Codec::Opus,
        MediaKind::Video => Codec::Vp8,
    };
    let config = rtc.codec_config();
    let is_codec = |pt: Pt| config.find(|p| p.pt() == pt).is_some_and(|p| p.spec().codec == codec);
    rtc.media(mid)?.remote_pts().iter().copied().find(|&pt| is_codec(pt))
}

/// Whether a keyframe request last made at `last` holds off another now.
fn too_soon(last: Option<Instant>, now: Instant) -> bool {
    last.is_some_and(|at| now.saturating_duration_since(at) < KEYFRAME_INTERVAL)
}

fn parse_offer(sdp: &str) -> Result<SdpOffer, SdpError> {
    SdpOffer::from_sdp_string(sdp).map_err(|e| SdpError::Unreadable(shared::protocol::excerpt(&e.to_string())))
}

/// Our answer as the member gets it: its camera and screen start sending at
/// the mesh's start rate, not at Chromium's 300 kbit/s (whose first
/// keyframe, paced out at that rate, kept the others waiting ~100 ms more).
fn to_send(answer: &SdpAnswer) -> String {
    shared::budget::with_start_bitrate(&answer.to_sdp_string(), shared::budget::START_KBPS)
}

/// The m-lines of an offer, in order.
fn mids_of(offer: &SdpOffer) -> Vec<Mid> {
    offer.media_lines.iter().map(|line| line.mid()).collect()
}
