//! Counters for `/metrics`, written by the SFU's thread and read by anyone.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) sessions: AtomicU64,
    pub(crate) packets_forwarded: AtomicU64,
    pub(crate) bytes_forwarded: AtomicU64,
    pub(crate) packets_sent: AtomicU64,
    pub(crate) packets_unsent: AtomicU64,
    pub(crate) keyframe_requests: AtomicU64,
    pub(crate) nacks: AtomicU64,
    pub(crate) packets_lost: AtomicU64,
    pub(crate) unknown_packets: AtomicU64,
    pub(crate) over_cap_packets: AtomicU64,
    pub(crate) downlink_cuts: AtomicU64,
    pub(crate) refused_sdp: AtomicU64,
}

/// One reading of every counter.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Sessions open now.
    pub sessions: u64,
    /// Media packets written to subscribers, and their bytes.
    pub packets_forwarded: u64,
    pub bytes_forwarded: u64,
    /// RTP packets sent to subscribers.
    pub packets_sent: u64,
    /// Packets dropped on the way out: the sending thread or the socket's buffer was full.
    pub packets_unsent: u64,
    /// PLI/FIR sent to publishers.
    pub keyframe_requests: u64,
    /// NACKs subscribers sent us (each answered from the send buffer).
    pub nacks: u64,
    /// Packets from publishers that never arrived (from loss reports).
    pub packets_lost: u64,
    /// Packets from addresses no session knows: dropped.
    pub unknown_packets: u64,
    /// Video frames not forwarded because their member sent over its cap.
    pub over_cap_packets: u64,
    /// Times a member's downlink lost over a tenth of its video in a second,
    /// and its videos were held to less (`downlink.rs`).
    pub downlink_cuts: u64,
    /// Offers and answers refused.
    pub refused_sdp: u64,
}

impl Metrics {
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            sessions: self.sessions.load(Relaxed),
            packets_forwarded: self.packets_forwarded.load(Relaxed),
            bytes_forwarded: self.bytes_forwarded.load(Relaxed),
            packets_sent: self.packets_sent.load(Relaxed),
            packets_unsent: self.packets_unsent.load(Relaxed),
            keyframe_requests: self.keyframe_requests.load(Relaxed),
            nacks: self.nacks.load(Relaxed),
            packets_lost: self.packets_lost.load(Relaxed),
            unknown_packets: self.unknown_packets.load(Relaxed),
            over_cap_packets: self.over_cap_packets.load(Relaxed),
            downlink_cuts: self.downlink_cuts.load(Relaxed),
            refused_sdp: self.refused_sdp.load(Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}

impl MetricsSnapshot {
    /// Each counter with its name and help text, in Prometheus' terms.
    pub fn entries(&self) -> [(&'static str, &'static str, bool, u64); 12] {
        [
            ("moim_sfu_sessions", "Media server sessions open.", false, self.sessions),
            (
                "moim_sfu_packets_forwarded_total",
                "Media packets forwarded to subscribers.",
                true,
                self.packets_forwarded,
            ),
            ("moim_sfu_bytes_forwarded_total", "Media bytes forwarded to subscribers.", true, self.bytes_forwarded),
            ("moim_sfu_packets_sent_total", "RTP packets sent to subscribers.", true, self.packets_sent),
            (
                "moim_sfu_packets_unsent_total",
                "Packets dropped on the way out (sending thread or socket buffer full).",
                true,
                self.packets_unsent,
            ),
            (
                "moim_sfu_keyframe_requests_total",
                "Keyframe requests (PLI/FIR) sent to publishers.",
                true,
                self.keyframe_requests,
            ),
            ("moim_sfu_nacks_total", "NACKs received from subscribers.", true, self.nacks),
            ("moim_sfu_packets_lost_total", "Packets from publishers that were lost.", true, self.packets_lost),
            ("moim_sfu_unknown_packets_total", "Packets from unknown addresses, dropped.", true, self.unknown_packets),
            (
                "moim_sfu_over_cap_packets_total",
                "Video packets over a member's bitrate cap, not forwarded.",
                true,
                self.over_cap_packets,
            ),
            (
                "moim_sfu_downlink_cuts_total",
                "Times a member's downlink lost over a tenth of its video and was held to less.",
                true,
                self.downlink_cuts,
            ),
            ("moim_sfu_refused_sdp_total", "Offers and answers refused.", true, self.refused_sdp),
        ]
    }
}
