//! The synthetic media a publisher sends, and the stamp every packet carries.
//!
//! Each video frame is one RTP packet (a VP8 frame of [`VIDEO_BYTES`], under
//! str0m's 1,150-byte datagram, so its packetizer never splits it and an SFU
//! that re-packetizes frames sends the same packets): 62.5 frames a second,
//! 500 kbit/s, a keyframe every [`KEYFRAME_EVERY`] or when asked (PLI/FIR).
//! Audio is an Opus-sized packet every 20 ms. After the codec's own header
//! each payload carries a [`Stamp`]: who sent it, which track, its sequence
//! number and the send time on this process's monotonic clock.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bytes of one video frame (= one packet's payload, before the VP8
/// payload descriptor str0m adds).
pub const VIDEO_BYTES: usize = 1_000;
/// 62.5 frames a second × 1,000 bytes = 500 kbit/s.
pub const VIDEO_PERIOD: Duration = Duration::from_micros(16_000);
/// An Opus packet of 20 ms at about 40 kbit/s.
pub const AUDIO_BYTES: usize = 100;
pub const AUDIO_PERIOD: Duration = Duration::from_millis(20);
pub const KEYFRAME_EVERY: Duration = Duration::from_secs(3);

const MAGIC: [u8; 2] = *b"MB";
const STAMP_BYTES: usize = 2 + 2 + 1 + 4 + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Audio = 0,
    Video = 1,
}

/// What each packet says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub publisher: u16,
    pub kind: Kind,
    pub seq: u32,
    /// Nanoseconds since [`epoch`] when the frame was handed to str0m.
    pub sent_ns: u64,
}

/// The one clock every stamp is read against (publishers and subscribers
/// live in this process).
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

pub fn ns_since_epoch(t: Instant) -> u64 {
    t.saturating_duration_since(epoch()).as_nanos() as u64
}

impl Stamp {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.publisher.to_be_bytes());
        out.push(self.kind as u8);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.sent_ns.to_be_bytes());
    }

    fn read(bytes: &[u8]) -> Option<Stamp> {
        let b = bytes.get(..STAMP_BYTES)?;
        if b[..2] != MAGIC {
            return None;
        }
        let kind = match b[4] {
            0 => Kind::Audio,
            1 => Kind::Video,
            _ => return None,
        };
        Some(Stamp {
            publisher: u16::from_be_bytes([b[2], b[3]]),
            kind,
            seq: u32::from_be_bytes(b[5..9].try_into().ok()?),
            sent_ns: u64::from_be_bytes(b[9..17].try_into().ok()?),
        })
    }

    /// Finds the stamp in a received frame: after the Opus TOC byte, a VP8
    /// interframe's 3-byte tag or a keyframe's 10-byte header.
    pub fn find(frame: &[u8]) -> Option<Stamp> {
        [1, 3, 10].iter().find_map(|&at| frame.get(at..).and_then(Stamp::read))
    }
}

/// A VP8 frame (RFC 6386 §9.1): the frame tag, for a keyframe the start
/// code and a 640×360 size, then the stamp and filler. The first
/// partition's size is the rest of the frame.
pub fn vp8_frame(stamp: Stamp, keyframe: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(VIDEO_BYTES);
    let header = if keyframe { 10 } else { 3 };
    let partition = (VIDEO_BYTES - header) as u32;
    // Bit 0: 0 = keyframe; bits 1-3: version 0; bit 4: show_frame; 5-23: size.
    let tag = u32::from(!keyframe) | (1 << 4) | (partition << 5);
    out.extend_from_slice(&tag.to_le_bytes()[..3]);
    if keyframe {
        out.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        out.extend_from_slice(&640u16.to_le_bytes());
        out.extend_from_slice(&360u16.to_le_bytes());
    }
    stamp.write(&mut out);
    out.resize(VIDEO_BYTES, 0x5a);
    out
}

/// An Opus packet: TOC byte (config 15, hybrid fullband 20 ms, mono, one
/// frame), then the stamp and filler.
pub fn opus_packet(stamp: Stamp) -> Vec<u8> {
    let mut out = Vec::with_capacity(AUDIO_BYTES);
    out.push(15 << 3);
    stamp.write(&mut out);
    out.resize(AUDIO_BYTES, 0xa5);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_back_from_every_kind_of_frame() {
        let stamp = Stamp { publisher: 7, kind: Kind::Video, seq: 42, sent_ns: 123_456_789 };
        assert_eq!(Stamp::find(&vp8_frame(stamp, true)), Some(stamp));
        assert_eq!(Stamp::find(&vp8_frame(stamp, false)), Some(stamp));
        let audio = Stamp { kind: Kind::Audio, ..stamp };
        assert_eq!(Stamp::find(&opus_packet(audio)), Some(audio));
        assert_eq!(vp8_frame(stamp, true)[0] & 1, 0, "keyframe bit");
        assert_eq!(vp8_frame(stamp, false)[0] & 1, 1, "interframe bit");
    }
}
