//! Simulcast: a publisher's camera comes in up to three layers (`rid`s,
//! smallest to largest) and each subscriber is sent the one its tile needs.
//! [`Layers`] is what the SFU knows of one published video's layers;
//! [`Feed`] is one subscriber's choice among them, switched only on a
//! keyframe of the new layer and with its sequence numbers, times and VP8
//! picture numbers rewritten so the viewer's decoder sees one continuous
//! stream. Both are plain state: the engine feeds them packets and carries
//! out what they decide.

use std::time::{Duration, Instant};
use str0m::media::{MediaTime, Rid};

/// A layer not heard from for this long is gone: its sender stopped it
/// (Chromium drops its top layers while its own uplink is short, and
/// brings them back). A viewer on it sees a still picture until then, so
/// it is short: three frames of a camera at 5 a second. (A video with one
/// layer is never gone while it sends: each frame is heard before it is
/// forwarded.)
const LIVE_FOR: Duration = Duration::from_millis(600);
/// A layer fills a tile when it has this share of the tile's width and
/// height, in percent: a little upscaling is invisible, a layer twice the
/// size is bandwidth for nothing.
const FILLS_PERCENT: u32 = 85;

/// What a subscriber wants of one video, from the size its page draws it at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// The largest layer there is: what a page gets until it tells.
    Best,
    /// Drawn at this many device pixels.
    Size { width: u16, height: u16 },
    /// Not drawn (off screen, hidden, minimised): nothing is sent.
    Hidden,
}

impl Want {
    pub(crate) fn of(view: &shared::VideoView) -> Self {
        match (view.width, view.height) {
            (0, _) | (_, 0) => Self::Hidden,
            (width, height) => Self::Size { width, height },
        }
    }
}

/// How much of a subscriber's downlink one of its videos may take: what
/// the bandwidth allocation (`allocate.rs`) leaves a [`Feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Allowance {
    /// Nothing: the video is paused to save bandwidth.
    Paused,
    /// Layers of at most this many pixels.
    UpTo(u32),
    /// Whatever fills the tile (no estimate yet, or room for it).
    Any,
}

impl Allowance {
    pub(crate) fn admits(self, pixels: u32) -> bool {
        match self {
            Self::Paused => false,
            Self::UpTo(most) => pixels <= most,
            Self::Any => true,
        }
    }
}

/// The bytes a layer brought in the current second, and its rate over the last.
#[derive(Debug, Default, Clone, Copy)]
struct Meter {
    since: Option<Instant>,
    bytes: u64,
    bps: u64,
}

impl Meter {
    fn add(&mut self, bytes: usize, now: Instant) {
        let since = *self.since.get_or_insert(now);
        let elapsed = now.saturating_duration_since(since);
        if elapsed >= Duration::from_secs(1) {
            self.bps = self.bytes * 8 * 1000 / elapsed.as_millis() as u64;
            (self.since, self.bytes) = (Some(now), 0);
        }
        self.bytes += bytes as u64;
    }

    /// Bits a second: the last second's, or this one's so far if more (a new layer).
    fn bps(&self) -> u64 {
        self.bps.max(self.bytes * 8)
    }
}

/// One layer a publisher sends (or its only stream, `rid` None).
pub(crate) struct Layer {
    pub(crate) rid: Option<Rid>,
    /// Its frames' size, read from its last keyframe; None until one came.
    pub(crate) size: Option<(u16, u16)>,
    last_heard: Instant,
    rate: Meter,
    pub(crate) last_keyframe_request: Option<Instant>,
    /// A request came too soon after the last: it goes when the interval
    /// is over, unless a keyframe comes first.
    pub(crate) keyframe_owed: bool,
    /// The fraction of it lost on its way in, by the SFU's last receiver
    /// report (None before the first): its viewers' reports count that
    /// too, and it is not theirs.
    pub(crate) lost_upstream: Option<f32>,
}

impl Layer {
    fn is_live(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_heard) < LIVE_FOR
    }
}

/// The layers of one published video, by index in the order first heard
/// (indices stay valid: a layer that stops is kept, only not live).
#[derive(Default)]
pub(crate) struct Layers {
    layers: Vec<Layer>,
}

impl Layers {
    /// A frame of `bytes` arrived on `rid` (its size, when a keyframe says
    /// it): the layer's index.
    pub(crate) fn heard(&mut self, rid: Option<Rid>, size: Option<(u16, u16)>, bytes: usize, now: Instant) -> usize {
        let index = match self.index_of(rid) {
            Some(index) => index,
            None => {
                let rate = Meter::default();
                let layer = Layer {
                    rid,
                    size: None,
                    last_heard: now,
                    rate,
                    last_keyframe_request: None,
                    keyframe_owed: false,
                    lost_upstream: None,
                };
                self.layers.push(layer);
                self.layers.len() - 1
            }
        };
        let layer = &mut self.layers[index];
        layer.last_heard = now;
        layer.size = size.or(layer.size);
        layer.rate.add(bytes, now);
        index
    }

    /// What a subscriber wanting `want` could be sent, smallest first, up
    /// to what fills its tile (a layer more for a `speaker`'s, as
    /// [`Layers::pick_for`]): each layer's pixels and bits a second. Empty
    /// when it wants nothing.
    pub(crate) fn options(&self, want: Want, speaker: bool, now: Instant) -> Vec<(u32, u64)> {
        let Some(top) = self.pick_for(want, speaker, Allowance::Any, now).and_then(|i| self.layers.get(i)) else {
            return vec![];
        };
        let mut options: Vec<(u32, u64)> =
            self.live(now).map(|(_, l)| (pixels(l), l.rate.bps())).filter(|&(p, _)| p <= pixels(top)).collect();
        options.sort_unstable();
        options
    }

    fn live(&self, now: Instant) -> impl Iterator<Item = (usize, &Layer)> {
        self.layers.iter().enumerate().filter(move |(_, l)| l.is_live(now))
    }

    pub(crate) fn len(&self) -> usize {
        self.layers.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    pub(crate) fn index_of(&self, rid: Option<Rid>) -> Option<usize> {
        self.layers.iter().position(|l| l.rid == rid)
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut Layer> {
        self.layers.get_mut(index)
    }

    /// Whether layer `index` is live and within `allowance`.
    fn usable(&self, index: usize, allowance: Allowance, now: Instant) -> bool {
        self.layers.get(index).is_some_and(|l| l.is_live(now) && allowance.admits(pixels(l)))
    }

    pub(crate) fn get(&self, index: usize) -> Option<&Layer> {
        self.layers.get(index)
    }

    /// The layer to send to a subscriber that wants `want`, within
    /// `allowance`: the smallest live one that fills it, else the largest
    /// live one; None for nothing.
    pub(crate) fn pick(&self, want: Want, allowance: Allowance, now: Instant) -> Option<usize> {
        let live = || self.live(now).filter(move |(_, l)| allowance.admits(pixels(l)));
        let largest = live().max_by_key(|(i, l)| (pixels(l), usize::MAX - i)).map(|(i, _)| i);
        match want {
            Want::Hidden => None,
            Want::Best => largest,
            Want::Size { width, height } => {
                let fills = |l: &Layer| {
                    l.size.is_some_and(|(w, h)| {
                        u32::from(w) * 100 >= u32::from(width) * FILLS_PERCENT
                            && u32::from(h) * 100 >= u32::from(height) * FILLS_PERCENT
                    })
                };
                live().filter(|(_, l)| fills(l)).min_by_key(|(_, l)| pixels(l)).map(|(i, _)| i).or(largest)
            }
        }
    }

    /// [`Layers::pick`], and for a `speaker`'s tile in a grid of many (one
    /// that the smallest layer fills) the next layer up: the face people
    /// watch is sharper. Only there: a bigger tile is filled already, and
    /// each switch waits on a keyframe, which on a busy machine stalls it.
    pub(crate) fn pick_for(&self, want: Want, speaker: bool, allowance: Allowance, now: Instant) -> Option<usize> {
        let picked = self.pick(want, allowance, now)?;
        if !speaker || want == Want::Best {
            return Some(picked);
        }
        let mut live: Vec<(u32, usize)> =
            self.live(now).filter(|(_, l)| allowance.admits(pixels(l))).map(|(i, l)| (pixels(l), i)).collect();
        live.sort_unstable();
        match live.as_slice() {
            [(_, smallest), (_, next), ..] if *smallest == picked => Some(*next),
            _ => Some(picked),
        }
    }
}

/// A layer's pixels; one whose size is not known yet ranks below every known one.
fn pixels(layer: &Layer) -> u32 {
    layer.size.map_or(0, |(w, h)| u32::from(w) * u32::from(h))
}

/// One packet of a layer, as a [`Feed`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packet {
    pub(crate) layer: usize,
    /// The first packet of a keyframe.
    pub(crate) keyframe: bool,
    /// Its extended sequence number on its layer.
    pub(crate) seq: u64,
    pub(crate) time: MediaTime,
    /// Its VP8 PictureID and TL0PICIDX, when its descriptor has them.
    pub(crate) picture: Option<Picture>,
}

/// A VP8 payload descriptor's picture numbering (RFC 7741): each layer
/// counts its own, so a switch must continue the viewer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Picture {
    pub(crate) id: u16,
    /// 15-bit PictureIDs (else 7).
    pub(crate) long: bool,
    pub(crate) tl0: Option<u8>,
}

/// How to send a packet to one subscriber: its numbers on the viewer's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Out {
    pub(crate) seq: u64,
    pub(crate) time: MediaTime,
    pub(crate) picture: Option<Picture>,
}

/// What to do with one packet for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Send it, so numbered.
    pub(crate) send: Option<Out>,
    /// The layer to switch to waits for a keyframe: ask its publisher.
    pub(crate) ask: Option<usize>,
}

/// One subscriber's view of one published video: the layer it is sent, and
/// the offsets that keep its sequence numbers, times and picture numbers
/// continuous across switches, so the viewer's decoder sees one stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Feed {
    pub(crate) want: Want,
    /// Its publisher is speaking: in a grid of many it is sent a layer up
    /// ([`Layers::pick_for`]).
    pub(crate) speaker: bool,
    /// What the subscriber's downlink leaves it.
    pub(crate) allowance: Allowance,
    /// The layer being sent; None before the first keyframe and while hidden.
    pub(crate) current: Option<usize>,
    /// Added to the current layer's times (each layer counts from its own random start).
    offset: i64,
    /// The last time sent, and when: a switch continues from there.
    last: Option<(MediaTime, Instant)>,
    /// Added to the current layer's sequence numbers.
    seq_offset: u64,
    /// The current layer's first packet sent: one older came before the switch.
    since_seq: u64,
    /// The highest sequence number sent.
    last_seq: Option<u64>,
    /// Added to the current layer's PictureID and TL0PICIDX.
    picture_offset: (u16, u8),
    /// The last picture numbers sent.
    last_picture: Option<Picture>,
}

impl Feed {
    pub(crate) fn new(want: Want) -> Self {
        Self {
            want,
            speaker: false,
            allowance: Allowance::Any,
            current: None,
            offset: 0,
            last: None,
            seq_offset: 0,
            since_seq: 0,
            last_seq: None,
            picture_offset: (0, 0),
            last_picture: None,
        }
    }

    /// A packet of one of the video's layers arrived (already [`Layers::heard`]).
    pub(crate) fn on_packet(&mut self, layers: &Layers, packet: Packet, now: Instant) -> Verdict {
        let Some(target) = layers.pick_for(self.want, self.speaker, self.allowance, now) else {
            self.current = None;
            return Verdict { send: None, ask: None };
        };
        let layer = packet.layer;
        // Nothing to show (just started, or its layer stopped): the first
        // keyframe of any layer it may have starts it, and the target's follows.
        let stalled = self.current.is_none_or(|current| !layers.usable(current, self.allowance, now));
        let starts = stalled && layers.usable(layer, self.allowance, now);
        if packet.keyframe && self.current != Some(layer) && (layer == target || starts) {
            self.switch_to(packet, now);
        }
        let ask = (self.current != Some(target)).then_some(target);
        // A packet of the layer from before the switch (a late resend) would land among the old layer's.
        if self.current != Some(layer) || packet.seq < self.since_seq {
            return Verdict { send: None, ask };
        }
        let time = packet.time.numer() as i64 + self.offset;
        let time = MediaTime::new(time.max(0) as u64, packet.time.frequency());
        let seq = packet.seq.wrapping_add(self.seq_offset);
        let picture = packet.picture.map(|p| Picture {
            id: p.id.wrapping_add(self.picture_offset.0) & picture_mask(p.long),
            long: p.long,
            tl0: p.tl0.map(|tl0| tl0.wrapping_add(self.picture_offset.1)),
        });
        if self.last.is_none_or(|(last, _)| time.numer() >= last.numer()) {
            self.last = Some((time, now));
        }
        self.last_seq = Some(self.last_seq.map_or(seq, |last| last.max(seq)));
        self.last_picture = picture.or(self.last_picture);
        Verdict { send: Some(Out { seq, time, picture }), ask }
    }

    /// Continues from the last packet sent: times as far on as the clock
    /// has gone, sequence and picture numbers at the next.
    fn switch_to(&mut self, packet: Packet, now: Instant) {
        let time = packet.time;
        if let Some((last, at)) = self.last {
            let elapsed = now.saturating_duration_since(at);
            let ticks = (elapsed.as_micros() as u64 * u64::from(time.denom()) / 1_000_000).max(1);
            self.offset = (last.numer() + ticks) as i64 - time.numer() as i64;
        }
        self.seq_offset = match self.last_seq {
            Some(last) => (last + 1).wrapping_sub(packet.seq),
            None => rebase(packet.seq),
        };
        self.since_seq = packet.seq;
        if let (Some(last), Some(new)) = (self.last_picture, packet.picture) {
            let id = last.id.wrapping_add(1).wrapping_sub(new.id);
            let tl0 = match (last.tl0, new.tl0) {
                (Some(last), Some(new)) => last.wrapping_add(1).wrapping_sub(new),
                _ => 0,
            };
            self.picture_offset = (id, tl0);
        }
        self.current = Some(packet.layer);
    }

    /// A packet of a track without layers (audio): sent as it comes, its
    /// sequence numbers rebased once ([`rebase`]).
    pub(crate) fn pass(&mut self, seq: u64) -> u64 {
        if self.last_seq.is_none() {
            self.seq_offset = rebase(seq);
        }
        let seq = seq.wrapping_add(self.seq_offset);
        self.last_seq = Some(seq);
        seq
    }

    /// The layer a keyframe request from this subscriber is for.
    pub(crate) fn layer_to_refresh(&self, layers: &Layers, now: Instant) -> Option<usize> {
        self.current.or_else(|| layers.pick_for(self.want, self.speaker, self.allowance, now))
    }
}

/// What starts a viewer's stream at the publisher's 16-bit sequence number
/// with a rollover count of 0: a publisher's extended numbers count its
/// rollovers since it began, which a new viewer's SRTP would not know.
fn rebase(seq: u64) -> u64 {
    0u64.wrapping_sub(seq & !0xffff)
}

fn picture_mask(long: bool) -> u16 {
    if long {
        0x7fff
    } else {
        0x7f
    }
}

/// The length of a VP8 payload descriptor (RFC 7741, 4.2): the frame
/// starts after it.
pub(crate) fn vp8_descriptor_len(payload: &[u8]) -> Option<usize> {
    let first = *payload.first()?;
    if first & 0x80 == 0 {
        return Some(1);
    }
    let extension = *payload.get(1)?;
    let mut len = 2;
    if extension & 0x80 != 0 {
        len += if *payload.get(len)? & 0x80 != 0 { 2 } else { 1 };
    }
    if extension & 0x40 != 0 {
        len += 1;
    }
    if extension & 0x30 != 0 {
        len += 1;
    }
    (len < payload.len()).then_some(len)
}

/// The size a VP8 keyframe says its frames are (RFC 6386 9.1: after the
/// 3-byte tag and the start code, 14 bits of width, then of height).
pub(crate) fn vp8_size(frame: &[u8]) -> Option<(u16, u16)> {
    let keyframe = frame.first()? & 1 == 0;
    let header = frame.get(3..10)?;
    if !keyframe || header[..3] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([header[3], header[4]]) & 0x3fff;
    let height = u16::from_le_bytes([header[5], header[6]]) & 0x3fff;
    Some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUARTER: (u16, u16) = (320, 180);
    const HALF: (u16, u16) = (640, 360);
    const FULL: (u16, u16) = (1280, 720);

    fn rid(name: &str) -> Option<Rid> {
        Some(Rid::from(name))
    }

    fn three(now: Instant) -> Layers {
        let mut layers = Layers::default();
        layers.heard(rid("q"), Some(QUARTER), 100, now);
        layers.heard(rid("h"), Some(HALF), 300, now);
        layers.heard(rid("f"), Some(FULL), 1000, now);
        layers
    }

    fn at(ticks: u64) -> MediaTime {
        MediaTime::from_90khz(ticks)
    }

    #[test]
    fn the_smallest_layer_that_fills_the_tile_is_picked() {
        let now = Instant::now();
        let layers = three(now);
        let size = |width, height| Want::Size { width, height };
        assert_eq!(layers.pick(size(160, 90), Allowance::Any, now), Some(0));
        assert_eq!(layers.pick(size(320, 180), Allowance::Any, now), Some(0));
        assert_eq!(layers.pick(size(360, 200), Allowance::Any, now), Some(0), "a little upscaling is fine");
        assert_eq!(layers.pick(size(400, 225), Allowance::Any, now), Some(1));
        assert_eq!(layers.pick(size(1000, 560), Allowance::Any, now), Some(2));
        assert_eq!(layers.pick(size(3840, 2160), Allowance::Any, now), Some(2), "nothing fills a 4K tile: the largest");
        assert_eq!(layers.pick(Want::Best, Allowance::Any, now), Some(2));
        assert_eq!(layers.pick(Want::Hidden, Allowance::Any, now), None);
        let half = u32::from(HALF.0) * u32::from(HALF.1);
        assert_eq!(layers.pick(Want::Best, Allowance::UpTo(half), now), Some(1), "what the downlink leaves");
        assert_eq!(layers.pick(size(160, 90), Allowance::UpTo(half), now), Some(0));
        assert_eq!(layers.pick(Want::Best, Allowance::Paused, now), None);
        let options = layers.options(size(400, 225), false, now);
        assert_eq!(
            options.iter().map(|&(pixels, _)| pixels).collect::<Vec<_>>(),
            [320 * 180, half],
            "up to what fills"
        );
    }

    #[test]
    fn a_layer_that_stopped_is_not_picked_and_one_of_unknown_size_ranks_last() {
        let start = Instant::now();
        let mut layers = three(start);
        let later = start + LIVE_FOR;
        layers.heard(rid("q"), None, 100, later);
        layers.heard(rid("h"), None, 300, later);
        assert_eq!(layers.pick(Want::Best, Allowance::Any, later), Some(1), "full stopped: half is the best there is");
        layers.heard(rid("x"), None, 100, later);
        assert_eq!(layers.pick(Want::Best, Allowance::Any, later), Some(1));
        let mut single = Layers::default();
        single.heard(None, None, 100, start);
        assert_eq!(
            single.pick(Want::Size { width: 100, height: 100 }, Allowance::Any, start),
            Some(0),
            "no simulcast: its one stream"
        );
    }

    /// Packet `seq` of `layer` (each layer numbers its own), at `ticks`.
    fn packet(layer: usize, keyframe: bool, seq: u64, ticks: u64) -> Packet {
        Packet { layer, keyframe, seq, time: at(ticks), picture: None }
    }

    /// The viewer's sequence number and time for a packet sent; None if not.
    fn sent(verdict: Verdict) -> Option<(u64, MediaTime)> {
        verdict.send.map(|out| (out.seq, out.time))
    }

    #[test]
    fn a_switch_waits_for_a_keyframe_of_the_new_layer_and_numbers_run_on() {
        let start = Instant::now();
        let layers = three(start);
        let mut feed = Feed::new(Want::Size { width: 320, height: 180 });
        // Nothing until a keyframe; the quarter layer's is asked for.
        let v = feed.on_packet(&layers, packet(0, false, 100, 1000), start);
        assert_eq!(v, Verdict { send: None, ask: Some(0) });
        assert_eq!(sent(feed.on_packet(&layers, packet(2, false, 9000, 50_000), start)), None, "not the layer wanted");
        assert_eq!(sent(feed.on_packet(&layers, packet(0, true, 101, 4000), start)), Some((101, at(4000))));
        assert_eq!(sent(feed.on_packet(&layers, packet(0, false, 102, 7000), start)), Some((102, at(7000))));
        // The tile grows: quarter goes on until full's keyframe.
        feed.want = Want::Best;
        let now = start + Duration::from_millis(33);
        let v = feed.on_packet(&layers, packet(0, false, 103, 10_000), now);
        assert_eq!((sent(v), v.ask), (Some((103, at(10_000))), Some(2)));
        assert_eq!(sent(feed.on_packet(&layers, packet(2, false, 9001, 56_000), now)), None);
        // Full's keyframe, 33 ms on: its numbers now follow quarter's.
        let now = now + Duration::from_millis(33);
        let v = feed.on_packet(&layers, packet(2, true, 9002, 59_000), now);
        assert_eq!((sent(v), v.ask), (Some((104, at(12_970))), None));
        assert_eq!(sent(feed.on_packet(&layers, packet(0, false, 104, 13_000), now)), None, "quarter no longer");
        assert_eq!(sent(feed.on_packet(&layers, packet(2, false, 9003, 62_000), now)), Some((105, at(15_970))));
        assert_eq!(sent(feed.on_packet(&layers, packet(2, false, 9001, 56_000), now)), None, "a resend from before");
    }

    #[test]
    fn picture_numbers_run_on_across_a_switch_and_a_viewer_starts_at_rollover_zero() {
        let now = Instant::now();
        let layers = three(now);
        let mut feed = Feed::new(Want::Size { width: 320, height: 180 });
        let picture = |id, tl0| Some(Picture { id, long: true, tl0: Some(tl0) });
        // Quarter's numbers, its sequence numbers past a rollover.
        let first = Packet { picture: picture(0x7ffe, 255), ..packet(0, true, 3 * 65_536 + 7, 0) };
        let out = feed.on_packet(&layers, first, now).send.unwrap();
        assert_eq!((out.seq, out.picture), (7, picture(0x7ffe, 255)), "the viewer's stream starts at rollover 0");
        feed.want = Want::Best;
        let keyframe = Packet { picture: picture(40, 9), ..packet(2, true, 500, 3000) };
        let out = feed.on_packet(&layers, keyframe, now).send.unwrap();
        assert_eq!((out.seq, out.picture), (8, picture(0x7fff, 0)));
        let next = Packet { picture: picture(41, 10), ..packet(2, false, 501, 6000) };
        let out = feed.on_packet(&layers, next, now).send.unwrap();
        assert_eq!((out.seq, out.picture), (9, picture(0, 1)), "both wrap as the fields do");
        assert_eq!(Feed::new(Want::Best).pass(2 * 65_536 + 5), 5, "audio too");
    }

    #[test]
    fn a_vp8_descriptor_says_where_the_frame_starts() {
        assert_eq!(vp8_descriptor_len(&[0x10, 0x9d]), Some(1), "no extensions");
        assert_eq!(vp8_descriptor_len(&[0x90, 0x80, 0x81, 0x02, 0x9d]), Some(4), "a 15-bit PictureID");
        assert_eq!(vp8_descriptor_len(&[0x90, 0xe0, 0x05, 0x07, 0x20, 0x9d]), Some(5), "7-bit, TL0PICIDX, TID");
        assert_eq!(vp8_descriptor_len(&[0x90, 0x80]), None, "cut short");
        assert_eq!(vp8_descriptor_len(&[]), None);
    }

    #[test]
    fn the_speakers_tile_is_sent_a_layer_up() {
        let now = Instant::now();
        let layers = three(now);
        let small = Want::Size { width: 320, height: 180 };
        assert_eq!(layers.pick_for(small, false, Allowance::Any, now), Some(0));
        assert_eq!(layers.pick_for(small, true, Allowance::Any, now), Some(1), "quarter fills it: half is sent");
        let half = u32::from(HALF.0) * u32::from(HALF.1);
        assert_eq!(layers.pick_for(small, true, Allowance::UpTo(half / 2), now), Some(0), "within the downlink");
        let medium = Want::Size { width: 640, height: 360 };
        assert_eq!(layers.pick_for(medium, true, Allowance::Any, now), Some(1), "a bigger tile is filled already");
        assert_eq!(layers.pick_for(Want::Hidden, true, Allowance::Any, now), None, "nor is one not drawn sent");
        assert_eq!(layers.options(small, true, now).len(), 2, "the speaker's may climb to half");
    }

    #[test]
    fn hidden_sends_nothing_and_showing_again_starts_from_a_keyframe() {
        let now = Instant::now();
        let layers = three(now);
        let mut feed = Feed::new(Want::Best);
        assert!(feed.on_packet(&layers, packet(2, true, 1, 0), now).send.is_some());
        feed.want = Want::Hidden;
        assert_eq!(feed.on_packet(&layers, packet(2, true, 2, 3000), now), Verdict { send: None, ask: None });
        feed.want = Want::Best;
        assert_eq!(feed.on_packet(&layers, packet(2, false, 3, 6000), now), Verdict { send: None, ask: Some(2) });
        assert_eq!(sent(feed.on_packet(&layers, packet(2, true, 4, 9000), now)).map(|(seq, _)| seq), Some(2), "no gap");
    }

    #[test]
    fn a_vp8_keyframe_says_its_size() {
        assert_eq!(vp8_size(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]), Some((320, 240)));
        // The top two bits of each are the scaling, not the size.
        assert_eq!(vp8_size(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0xc5, 0xd0, 0x42]), Some((1280, 720)));
        assert_eq!(vp8_size(&[0x11, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]), None, "a delta frame");
        assert_eq!(vp8_size(&[0x10, 0x02, 0x00, 0x9d]), None);
        assert_eq!(vp8_size(&[]), None);
    }

    #[test]
    fn a_video_with_nothing_to_show_starts_on_the_first_keyframe_of_any_layer() {
        let now = Instant::now();
        let layers = three(now);
        let mut feed = Feed::new(Want::Size { width: 320, height: 180 });
        // Full's keyframe comes first: shown at once, quarter's asked for.
        let v = feed.on_packet(&layers, packet(2, true, 70, 50_000), now);
        assert_eq!((sent(v), v.ask), (Some((70, at(50_000))), Some(0)));
        assert_eq!(sent(feed.on_packet(&layers, packet(0, false, 10, 1000), now)), None);
        let later = now + Duration::from_millis(33);
        assert_eq!(
            sent(feed.on_packet(&layers, packet(0, true, 11, 4000), later)),
            Some((71, at(52_970))),
            "then quarter's, running on"
        );
        assert_eq!(sent(feed.on_packet(&layers, packet(2, true, 71, 53_000), later)), None, "full is not taken back");
    }
}
