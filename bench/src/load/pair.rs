//! One pair's task: both WebSockets of a room of two, driven through the phases.

use super::{
    now_ns, send, wait_sio, wait_welcome, Phase, PhaseMsg, Proto, Report, Stats, Ws, DRAIN, DRAIN_MAX, READ_BATCH,
    RECEIVED, TICK,
};
use futures_util::{FutureExt, SinkExt, StreamExt};
use shared::PROTOCOL_VERSION;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

/// One direction of a pair; sequence numbers run on across phases.
#[derive(Debug, Default)]
struct Dir {
    next_send: u64,
    expect: u64,
    inflight: u32,
    credits: f64,
}

enum In {
    Relay { seq: u64, ts: u64 },
    Ping,
    Refused,
    Error,
    Other,
}

struct Pair {
    proto: Proto,
    room: String,
    /// Moim peer ids, for the `to` field.
    id_a: u64,
    id_b: u64,
    joined: bool,
    ab: Dir,
    ba: Dir,
    phase_id: u64,
    phase: Phase,
    reported: bool,
    stats: Stats,
    next_lat: Instant,
    next_tick: Instant,
    /// Where this pair's first latency probe / credit tick falls, as a
    /// fraction of the period, so the pairs do not all fire at once.
    offset: f64,
    out_a: Vec<String>,
    out_b: Vec<String>,
    dead: bool,
    /// When the last relayed message arrived (for the drain).
    last_rx: Instant,
    reports: mpsc::UnboundedSender<Report>,
}

impl Pair {
    fn dir(&mut self, from: Side) -> &mut Dir {
        match from {
            Side::A => &mut self.ab,
            Side::B => &mut self.ba,
        }
    }

    /// Queues one relayed message from `from` to its partner.
    fn send(&mut self, from: Side) {
        let dir = self.dir(from);
        let seq = dir.next_send;
        dir.next_send += 1;
        dir.inflight += 1;
        self.stats.sent += 1;
        let text = self.encode(from, seq, now_ns());
        match from {
            Side::A => self.out_a.push(text),
            Side::B => self.out_b.push(text),
        }
    }

    /// An ICE candidate, the message a call sends most, with the sequence
    /// number and send time inside the candidate string.
    fn encode(&self, from: Side, seq: u64, ts: u64) -> String {
        let candidate = format!(
            "candidate:3169012345 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 \
             ufrag bnch network-id 1 seq {seq} ts {ts}"
        );
        match self.proto {
            Proto::Moim | Proto::Floor => {
                let to = match from {
                    Side::A => self.id_b,
                    Side::B => self.id_a,
                };
                format!(
                    r#"{{"type":"ice","to":{to},"candidate":{{"candidate":"{candidate}","sdpMid":"0","sdpMLineIndex":0}}}}"#
                )
            }
            Proto::SocketIo => format!(
                r#"42["webrtc_ice_candidate",{{"roomId":"{}","candidate":{{"candidate":"{candidate}","sdpMid":"0","sdpMLineIndex":0}}}}]"#,
                self.room
            ),
        }
    }

    fn classify(&self, text: &str) -> In {
        let relay = match self.proto {
            Proto::Moim | Proto::Floor => text.contains(r#""type":"ice""#),
            Proto::SocketIo => text.starts_with(r#"42["webrtc_ice_candidate""#),
        };
        if relay {
            return match (number_after(text, " seq "), number_after(text, " ts ")) {
                (Some(seq), Some(ts)) => In::Relay { seq, ts },
                _ => In::Error,
            };
        }
        match self.proto {
            Proto::SocketIo if text == "2" => In::Ping,
            Proto::Moim if text.contains(r#""type":"error""#) => {
                if text.contains("too_many_messages") {
                    In::Refused
                } else {
                    In::Error
                }
            }
            _ => In::Other,
        }
    }

    fn on_frame(&mut self, side: Side, frame: Option<Result<Message, WsError>>) {
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                self.dead = true;
                return;
            }
            Some(Ok(_)) => return,
        };
        match self.classify(&text) {
            In::Ping => match side {
                Side::A => self.out_a.push("3".into()),
                Side::B => self.out_b.push("3".into()),
            },
            In::Relay { seq, ts } => self.on_relay(side, seq, ts),
            In::Refused => {
                let dir = self.dir(side);
                dir.inflight = dir.inflight.saturating_sub(1);
                self.stats.refused += 1;
            }
            In::Error => self.stats.errors += 1,
            In::Other => {}
        }
    }

    /// `at` received a message from its partner.
    fn on_relay(&mut self, at: Side, seq: u64, ts: u64) {
        let latency = now_ns().saturating_sub(ts);
        let from = match at {
            Side::A => Side::B,
            Side::B => Side::A,
        };
        let dir = self.dir(from);
        let in_order = seq == dir.expect;
        dir.expect = seq + 1;
        dir.inflight = dir.inflight.saturating_sub(1);
        if !in_order {
            self.stats.out_of_order += 1;
        }
        self.stats.received += 1;
        self.last_rx = Instant::now();
        RECEIVED.fetch_add(1, Ordering::Relaxed);
        let latency = u32::try_from(latency).unwrap_or(u32::MAX);
        match self.phase {
            Phase::Latency { .. } => {
                self.stats.latencies.push(latency);
                if at == Side::B {
                    self.send(Side::B);
                }
            }
            Phase::Throughput { measure_from, .. } if Instant::now() >= measure_from => {
                self.stats.latencies.push(latency);
            }
            _ => {}
        }
    }

    fn begin(&mut self, msg: PhaseMsg) {
        self.phase_id = msg.id;
        self.phase = msg.phase;
        self.stats = Stats::default();
        self.reported = false;
        let now = Instant::now();
        match self.phase {
            Phase::Idle | Phase::Close => self.reported = true,
            Phase::Join if self.joined => self.report(),
            Phase::Join => {}
            Phase::Latency { start, period, .. } => {
                self.next_lat = start + period.mul_f64(self.offset);
            }
            Phase::Throughput { .. } => {
                self.next_tick = now + TICK.mul_f64(self.offset);
                self.ab.credits = 1.0;
                self.ba.credits = 1.0;
            }
        }
        if self.dead {
            self.report();
        }
    }

    fn next_wake(&self, now: Instant) -> Option<Instant> {
        if self.reported {
            return None;
        }
        match self.phase {
            Phase::Latency { end, .. } if now < end => Some(self.next_lat.min(end)),
            Phase::Throughput { end, rate, .. } if now < end => {
                Some(if rate.is_some() { self.next_tick.min(end) } else { end })
            }
            Phase::Latency { end, .. } | Phase::Throughput { end, .. } => Some(self.drain_deadline(end)),
            _ => None,
        }
    }

    /// When a phase that ended at `end` stops waiting for what is in flight.
    fn drain_deadline(&self, end: Instant) -> Instant {
        (self.last_rx.max(end) + DRAIN).min(end + DRAIN_MAX)
    }

    fn on_timer(&mut self, now: Instant) {
        match self.phase {
            Phase::Latency { end, period, .. } if now < end && now >= self.next_lat => {
                if self.ab.inflight == 0 && self.ba.inflight == 0 {
                    self.send(Side::A);
                }
                while self.next_lat <= now {
                    self.next_lat += period;
                }
            }
            Phase::Throughput { end, rate: Some(rate), .. } if now < end && now >= self.next_tick => {
                let most = (rate * 0.3).max(1.0);
                for dir in [&mut self.ab, &mut self.ba] {
                    dir.credits = (dir.credits + rate * TICK.as_secs_f64()).min(most);
                }
                while self.next_tick <= now {
                    self.next_tick += TICK;
                }
            }
            _ => {}
        }
    }

    /// Queues what the throughput phase allows now.
    fn pump(&mut self, now: Instant) {
        let Phase::Throughput { end, rate, window, cap, .. } = self.phase else {
            return;
        };
        if now >= end || self.dead {
            return;
        }
        for side in [Side::A, Side::B] {
            loop {
                let sent = self.stats.sent;
                let dir = self.dir(side);
                let paced_out = rate.is_some() && dir.credits < 1.0;
                if dir.inflight >= window || paced_out || sent >= cap * 2 {
                    break;
                }
                if rate.is_some() {
                    dir.credits -= 1.0;
                }
                self.send(side);
            }
        }
    }

    fn maybe_report(&mut self, now: Instant) {
        if self.reported {
            return;
        }
        if let Phase::Latency { end, .. } | Phase::Throughput { end, .. } = self.phase {
            let drained = self.ab.inflight == 0 && self.ba.inflight == 0;
            if now >= end && (drained || now >= self.drain_deadline(end)) {
                self.report();
            }
        }
    }

    fn report(&mut self) {
        if self.reported {
            return;
        }
        let mut stats = std::mem::take(&mut self.stats);
        stats.lost = u64::from(self.ab.inflight) + u64::from(self.ba.inflight);
        stats.dead = u64::from(self.dead);
        self.ab.inflight = 0;
        self.ba.inflight = 0;
        self.reported = true;
        let _ = self.reports.send(Report { phase_id: self.phase_id, stats });
    }

    async fn join(&mut self, a: &mut Ws, b: &mut Ws) -> Result<(), String> {
        match self.proto {
            Proto::Moim | Proto::Floor => {
                let join = |name: &str| {
                    serde_json::json!({
                        "type": "join",
                        "version": PROTOCOL_VERSION,
                        "room": self.room,
                        "name": name,
                    })
                    .to_string()
                };
                send(a, join("a")).await?;
                let (id_a, _) = wait_welcome(a).await?;
                send(b, join("b")).await?;
                let (id_b, peers) = wait_welcome(b).await?;
                if peers != [id_a] {
                    return Err(format!("room {} has {peers:?}, expected [{id_a}]", self.room));
                }
                self.id_a = id_a;
                self.id_b = id_b;
            }
            Proto::SocketIo => {
                let join = format!(r#"42["join","{}"]"#, self.room);
                send(a, join.clone()).await?;
                wait_sio(a, r#"42["room_created""#).await?;
                send(b, join).await?;
                wait_sio(b, r#"42["room_joined""#).await?;
            }
        }
        self.joined = true;
        Ok(())
    }
}

/// The digits after `marker` in `text`.
fn number_after(text: &str, marker: &str) -> Option<u64> {
    let start = text.find(marker)? + marker.len();
    let digits = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

async fn flush(ws: &mut Ws, out: &mut Vec<String>) -> Result<(), WsError> {
    if out.is_empty() {
        return Ok(());
    }
    for text in out.drain(..) {
        ws.feed(Message::text(text)).await?;
    }
    ws.flush().await
}

/// Drives one pair until the `Close` phase. With `join_now` it joins first
/// and reports that as phase 0.
pub async fn run_pair(
    proto: Proto,
    idx: usize,
    mut a: Ws,
    mut b: Ws,
    join_now: bool,
    mut phases: watch::Receiver<PhaseMsg>,
    reports: mpsc::UnboundedSender<Report>,
) {
    let now = Instant::now();
    let mut pair = Pair {
        proto,
        room: format!("bench-{idx}"),
        id_a: 0,
        id_b: 0,
        joined: false,
        ab: Dir::default(),
        ba: Dir::default(),
        phase_id: 0,
        phase: Phase::Idle,
        reported: true,
        stats: Stats::default(),
        next_lat: now,
        next_tick: now,
        // Low-discrepancy spread of the pairs over a period.
        offset: (idx as f64 * 0.618_033_988_749_895).fract(),
        out_a: Vec::new(),
        out_b: Vec::new(),
        dead: false,
        last_rx: now,
        reports,
    };
    if join_now {
        pair.reported = false;
        if let Err(err) = pair.join(&mut a, &mut b).await {
            eprintln!("bench: pair {idx}: {err}");
            pair.dead = true;
        }
        pair.report();
    }
    let first = phases.borrow_and_update().clone();
    if first.id > 0 {
        pair.begin(first);
    }
    let mut sleep = Box::pin(tokio::time::sleep(Duration::from_secs(3600)));
    let mut armed: Option<Instant> = None;
    loop {
        if matches!(pair.phase, Phase::Close) {
            let _ = timeout(Duration::from_secs(1), a.close(None)).await;
            let _ = timeout(Duration::from_secs(1), b.close(None)).await;
            return;
        }
        if pair.dead {
            pair.report();
            if phases.changed().await.is_err() {
                return;
            }
            let next = phases.borrow_and_update().clone();
            pair.begin(next);
            continue;
        }
        if matches!(pair.phase, Phase::Join) && !pair.reported {
            if let Err(err) = pair.join(&mut a, &mut b).await {
                eprintln!("bench: pair {idx}: {err}");
                pair.dead = true;
            }
            pair.report();
            continue;
        }
        let now = Instant::now();
        let wake = pair.next_wake(now);
        if wake != armed {
            if let Some(at) = wake {
                sleep.as_mut().reset(at);
            }
            armed = wake;
        }
        tokio::select! {
            frame = a.next() => pair.on_frame(Side::A, frame),
            frame = b.next() => pair.on_frame(Side::B, frame),
            changed = phases.changed() => match changed {
                Ok(()) => {
                    let next = phases.borrow_and_update().clone();
                    pair.begin(next);
                }
                Err(_) => return,
            },
            () = &mut sleep, if armed.is_some() => {
                armed = None;
                pair.on_timer(Instant::now());
            }
        }
        // Whatever else is already readable, before one write: arrivals that
        // came in one read are answered in one flush, as a browser's event
        // loop answers what one task found, instead of a write per message.
        for _ in 0..READ_BATCH {
            let mut read = false;
            if let Some(frame) = a.next().now_or_never() {
                pair.on_frame(Side::A, frame);
                read = true;
            }
            if let Some(frame) = b.next().now_or_never() {
                pair.on_frame(Side::B, frame);
                read = true;
            }
            if !read || pair.dead {
                break;
            }
        }
        let now = Instant::now();
        pair.pump(now);
        if flush(&mut a, &mut pair.out_a).await.is_err() || flush(&mut b, &mut pair.out_b).await.is_err() {
            pair.dead = true;
        }
        pair.maybe_report(now);
    }
}
