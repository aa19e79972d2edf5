//! What every bot peer counts, and the window they count in.

use crate::media::{Kind, Stamp};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Shared by every peer of one measured point.
pub struct Shared {
    /// The measurement window on [`crate::media::epoch`]'s clock, in ns:
    /// packets sent in it are counted on both sides. `u64::MAX` until set.
    start_ns: AtomicU64,
    end_ns: AtomicU64,
    /// (publisher, kind) streams some receiver has seen at least once, summed
    /// over receivers: everything flows when it reaches the expected count.
    pub streams_seen: AtomicUsize,
    /// Peers whose ICE and DTLS are up.
    pub connected: AtomicUsize,
    /// Peers that failed (ICE gave up, str0m error).
    pub failed: AtomicUsize,
}

impl Shared {
    pub fn new() -> Shared {
        Shared {
            start_ns: AtomicU64::new(u64::MAX),
            end_ns: AtomicU64::new(u64::MAX),
            streams_seen: AtomicUsize::new(0),
            connected: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        }
    }

    pub fn set_window(&self, start_ns: u64, end_ns: u64) {
        self.end_ns.store(end_ns, Ordering::SeqCst);
        self.start_ns.store(start_ns, Ordering::SeqCst);
    }

    pub fn in_window(&self, ns: u64) -> bool {
        ns >= self.start_ns.load(Ordering::Relaxed) && ns < self.end_ns.load(Ordering::Relaxed)
    }
}

/// One peer's counts, handed back when it stops.
#[derive(Default)]
pub struct PeerReport {
    /// Frames (= packets) this publisher sent in the window: audio, video.
    pub sent: [u64; 2],
    /// Frames sent in the window that this receiver got, and the RTP packets
    /// they were made of (one each, unless a server splits frames).
    pub frames: u64,
    pub packets: u64,
    /// UDP bytes that arrived while the window was open (media and RTCP).
    pub bytes: u64,
    /// Delay of each counted frame, send to receipt, in µs.
    pub delays_us: Vec<u32>,
    /// Frames that came twice or from before their stream's newest.
    pub duplicates: u64,
    /// Times ICE said the connection was lost.
    pub ice_drops: u64,
    pub error: Option<String>,
}

/// A receiver's view of the streams reaching it.
#[derive(Default)]
pub struct Receiving {
    seen: HashSet<(u16, Kind)>,
    /// Highest sequence number per stream, to spot duplicates.
    newest: std::collections::HashMap<(u16, Kind), u32>,
}

impl Receiving {
    /// Counts one received frame made of `packets` RTP packets.
    pub fn frame(&mut self, stamp: Stamp, packets: u64, now_ns: u64, shared: &Shared, report: &mut PeerReport) {
        let key = (stamp.publisher, stamp.kind);
        if self.seen.insert(key) {
            shared.streams_seen.fetch_add(1, Ordering::Relaxed);
        }
        match self.newest.get(&key) {
            Some(&newest) if stamp.seq <= newest => {
                report.duplicates += 1;
                return;
            }
            _ => {
                self.newest.insert(key, stamp.seq);
            }
        }
        if shared.in_window(stamp.sent_ns) {
            report.frames += 1;
            report.packets += packets;
            let delay = now_ns.saturating_sub(stamp.sent_ns) / 1_000;
            report.delays_us.push(delay.min(u64::from(u32::MAX)) as u32);
        }
    }
}
