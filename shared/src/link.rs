//! A connection's health, as a tile shows it: which path it takes (direct on
//! the LAN, direct through STUN, or relayed; over UDP, TCP or TLS), its
//! round-trip time, loss, bitrates and video, from two readings of the
//! browser's `getStats()` a couple of seconds apart; and whether it is weak,
//! sustained, so one bad reading does not flash an icon. Pure: the browser
//! side only copies numbers out of `getStats()` into a [`Report`].

/// Loss over this share of packets, sustained, is a weak connection.
pub const WEAK_LOSS_PERCENT: f64 = 5.0;
/// A round trip over this, sustained, is a weak connection.
pub const WEAK_RTT_MS: f64 = 400.0;
/// Readings in a row that must agree before the weak icon comes or goes.
pub const SUSTAINED_READINGS: u8 = 2;
/// How often the page reads each connection's stats.
pub const POLL_MS: u32 = 2_000;

/// How the media gets from one side to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Host candidates on both sides: the same network (or a public address).
    Direct,
    /// A reflexive candidate on either side: through a NAT, found by STUN.
    Stun,
    /// A relay candidate on either side: through a TURN server.
    Relayed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    /// TCP wrapped in TLS (`turns:`), the way through the strictest firewalls.
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    pub route: Route,
    pub transport: Transport,
}

impl Path {
    /// From the selected candidate pair: each side's `candidateType`
    /// (`host`, `srflx`, `prflx`, `relay`), the local candidate's `protocol`
    /// and, for a relay, its `relayProtocol` (how we reach the TURN server).
    pub fn of(local_type: &str, remote_type: &str, protocol: &str, relay_protocol: Option<&str>) -> Self {
        let either = |kind: &[&str]| kind.contains(&local_type) || kind.contains(&remote_type);
        let route = if either(&["relay"]) {
            Route::Relayed
        } else if either(&["srflx", "prflx"]) {
            Route::Stun
        } else {
            Route::Direct
        };
        // Our leg to a TURN server is what a firewall sees of us.
        let leg = if local_type == "relay" { relay_protocol.unwrap_or(protocol) } else { protocol };
        let transport = match leg.to_ascii_lowercase().as_str() {
            "tls" => Transport::Tls,
            "tcp" => Transport::Tcp,
            _ => Transport::Udp,
        };
        Self { route, transport }
    }
}

/// One incoming track in a reading (`inbound-rtp`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inbound {
    /// The `MediaStreamTrack` id it plays into (`trackIdentifier`).
    pub track: String,
    pub video: bool,
    pub bytes: u64,
    pub packets: u64,
    /// Cumulative, as `getStats()` counts it (may go down on duplicates).
    pub lost: i64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f64>,
}

/// One reading of a connection's `getStats()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// When it was read, in ms (`Date.now()`).
    pub at_ms: f64,
    /// The selected candidate pair's path, once there is one.
    pub path: Option<Path>,
    /// The selected pair's `currentRoundTripTime`, in ms.
    pub rtt_ms: Option<f64>,
    /// All the connection sends (`outbound-rtp` bytes).
    pub bytes_out: u64,
    pub inbound: Vec<Inbound>,
    /// One tile's part of a connection that carries others' media too (the
    /// media server's): path, round trip and what we send are the link's.
    pub shared: bool,
}

impl Report {
    /// The part of this reading one tile shows: the tracks `shows` picks
    /// (on the media server, one connection carries every member's).
    pub fn for_tracks(&self, shows: impl Fn(&str) -> bool) -> Report {
        let inbound = self.inbound.iter().filter(|i| shows(&i.track)).cloned().collect();
        Report { inbound, shared: true, ..self.clone() }
    }

    fn bytes_in(&self) -> u64 {
        self.inbound.iter().map(|i| i.bytes).sum()
    }

    fn packets(&self) -> u64 {
        self.inbound.iter().map(|i| i.packets).sum()
    }

    fn lost(&self) -> i64 {
        self.inbound.iter().map(|i| i.lost).sum()
    }
}

/// What the tile's details say, between two readings.
#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    pub path: Option<Path>,
    pub rtt_ms: Option<f64>,
    /// Of the packets due in the interval, the share lost.
    pub loss_percent: f64,
    pub kbps_in: f64,
    pub kbps_out: f64,
    /// The incoming video's size and frame rate, if video comes.
    pub video: Option<(u32, u32, f64)>,
    /// See [`Report::shared`].
    pub shared: bool,
}

impl Details {
    pub fn between(before: &Report, now: &Report) -> Self {
        let secs = ((now.at_ms - before.at_ms) / 1000.0).max(0.001);
        let kbps = |after: u64, earlier: u64| after.saturating_sub(earlier) as f64 * 8.0 / 1000.0 / secs;
        let received = now.packets().saturating_sub(before.packets()) as f64;
        let lost = (now.lost() - before.lost()).max(0) as f64;
        let loss_percent = if received + lost > 0.0 { 100.0 * lost / (received + lost) } else { 0.0 };
        let video =
            now.inbound.iter().filter(|i| i.video).find_map(|i| Some((i.width?, i.height?, i.fps.unwrap_or(0.0))));
        Self {
            path: now.path,
            rtt_ms: now.rtt_ms,
            loss_percent,
            kbps_in: kbps(now.bytes_in(), before.bytes_in()),
            kbps_out: kbps(now.bytes_out, before.bytes_out),
            video,
            shared: now.shared,
        }
    }

    pub fn is_weak(&self) -> bool {
        self.loss_percent > WEAK_LOSS_PERCENT || self.rtt_ms.is_some_and(|rtt| rtt > WEAK_RTT_MS)
    }
}

/// Follows one connection's readings: the details of the last interval, and
/// the weak flag, which changes only after [`SUSTAINED_READINGS`] agree.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    last: Option<Report>,
    weak: bool,
    /// Readings in a row that disagree with `weak`.
    against: u8,
}

impl Tracker {
    /// Takes a reading; the details since the last one (none for the first).
    pub fn read(&mut self, report: Report) -> Option<Details> {
        let details =
            self.last.replace(report).zip(self.last.as_ref()).map(|(before, now)| Details::between(&before, now));
        if let Some(details) = &details {
            if details.is_weak() == self.weak {
                self.against = 0;
            } else {
                self.against += 1;
                if self.against >= SUSTAINED_READINGS {
                    self.weak = !self.weak;
                    self.against = 0;
                }
            }
        }
        details
    }

    pub fn weak(&self) -> bool {
        self.weak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at_s: f64, bytes: u64, packets: u64, lost: i64, rtt_ms: f64) -> Report {
        Report {
            at_ms: at_s * 1000.0,
            path: Some(Path::of("host", "host", "udp", None)),
            rtt_ms: Some(rtt_ms),
            bytes_out: bytes / 2,
            inbound: vec![Inbound {
                track: "cam".into(),
                video: true,
                bytes,
                packets,
                lost,
                width: Some(640),
                height: Some(480),
                fps: Some(30.0),
            }],
            shared: false,
        }
    }

    #[test]
    fn the_path_is_named_by_the_pair_s_candidates() {
        assert_eq!(Path::of("host", "host", "udp", None), Path { route: Route::Direct, transport: Transport::Udp });
        assert_eq!(Path::of("srflx", "host", "udp", None).route, Route::Stun);
        assert_eq!(Path::of("host", "prflx", "udp", None).route, Route::Stun);
        // The other side's relay is a relayed path too; our leg is what we use to reach ours.
        assert_eq!(Path::of("host", "relay", "tcp", None), Path { route: Route::Relayed, transport: Transport::Tcp });
        let turns = Path::of("relay", "srflx", "udp", Some("tls"));
        assert_eq!(turns, Path { route: Route::Relayed, transport: Transport::Tls });
    }

    #[test]
    fn rates_and_loss_come_from_the_interval() {
        // 2 s apart: 500,000 bytes more in is 2,000 kbit/s; 10 lost of 200 due is 5%.
        let details =
            Details::between(&reading(10.0, 1_000_000, 1_000, 20, 30.0), &reading(12.0, 1_500_000, 1_190, 30, 35.0));
        assert_eq!(details.kbps_in, 2_000.0);
        assert_eq!(details.kbps_out, 1_000.0);
        assert_eq!(details.loss_percent, 5.0);
        assert_eq!(details.rtt_ms, Some(35.0));
        assert_eq!(details.video, Some((640, 480, 30.0)));
        assert!(!details.is_weak(), "5% is the limit, not over it");
    }

    #[test]
    fn a_tile_s_part_of_a_shared_connection() {
        let mut report = reading(1.0, 100, 10, 0, 20.0);
        report.inbound.push(Inbound { track: "other".into(), bytes: 900, ..Inbound::default() });
        let mine = report.for_tracks(|track| track == "cam");
        assert_eq!(mine.inbound.len(), 1);
        assert_eq!((mine.rtt_ms, mine.path), (report.rtt_ms, report.path), "the link itself is shared");
        assert!(mine.shared && !report.shared);
    }

    #[test]
    fn weak_only_when_sustained_and_back_the_same_way() {
        let mut tracker = Tracker::default();
        let mut at = 0.0;
        let mut read = |tracker: &mut Tracker, rtt: f64| {
            at += 2.0;
            tracker.read(reading(at, at as u64 * 1000, at as u64 * 100, 0, rtt));
            tracker.weak()
        };
        assert!(!read(&mut tracker, 30.0));
        assert!(!read(&mut tracker, 900.0), "one slow reading is not a weak connection");
        assert!(!read(&mut tracker, 30.0));
        assert!(!read(&mut tracker, 900.0));
        assert!(read(&mut tracker, 900.0), "two in a row are");
        assert!(read(&mut tracker, 30.0), "and one good reading does not clear it");
        assert!(!read(&mut tracker, 30.0));
    }

    #[test]
    fn heavy_loss_is_weak() {
        let details = Details::between(&reading(0.0, 0, 0, 0, 20.0), &reading(2.0, 1000, 90, 10, 20.0));
        assert_eq!(details.loss_percent, 10.0);
        assert!(details.is_weak());
    }

    #[test]
    fn the_first_reading_has_nothing_to_compare_with() {
        let mut tracker = Tracker::default();
        assert_eq!(tracker.read(reading(0.0, 0, 0, 0, 20.0)), None);
        assert!(tracker.read(reading(2.0, 10, 1, 0, 20.0)).is_some());
    }
}
