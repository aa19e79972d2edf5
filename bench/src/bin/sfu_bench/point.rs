//! One measured point: a fresh server, P publishers and S subscribers in one
//! room, media flowing, then a timed window counted on both sides.

use crate::janus::Janus;
use crate::janus_api::{self, Session};
use crate::media;
use crate::moim;
use crate::peer::Peer;
use crate::procfs::{self, Backend};
use crate::stats::{PeerReport, Shared};
use crate::Settings;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::sleep;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Moim,
    Janus,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Moim => "Moim",
            Server::Janus => "Janus",
        }
    }
}

/// Publishers × subscribers. Every publisher also receives every other
/// publisher (a room of many where P talk and S listen).
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub publishers: usize,
    pub subscribers: usize,
}

impl Point {
    pub fn members(&self) -> usize {
        self.publishers + self.subscribers
    }

    /// Streams each publisher's packets go out on: one per receiver.
    pub fn receivers_per_publisher(&self) -> usize {
        self.subscribers + self.publishers - 1
    }
}

pub struct Measured {
    /// Frames the publishers sent in the window, each once.
    pub published: u64,
    /// … times the receivers each has: what should have arrived.
    pub sent: u64,
    pub received: u64,
    pub packets: u64,
    pub duplicates: u64,
    pub window_secs: f64,
    pub bytes: u64,
    /// Sorted delays in µs.
    pub delays_us: Vec<u32>,
    pub server_cpu: f64,
    pub bot_cpu: f64,
    pub other_cpu: f64,
    pub rss_start_kib: u64,
    pub rss_loaded_kib: u64,
    /// PeerConnections the server held.
    pub sessions: usize,
    /// From the first join until every stream reached its receivers.
    pub setup_secs: f64,
    pub errors: Vec<String>,
}

impl Measured {
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 1.0;
        }
        1.0 - self.received as f64 / self.sent as f64
    }

    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.delays_us.is_empty() {
            return None;
        }
        let rank = ((p * self.delays_us.len() as f64).ceil() as usize).clamp(1, self.delays_us.len());
        Some(f64::from(self.delays_us[rank - 1]) / 1_000.0)
    }

    /// Packets a second each publisher sent (112.5 when the bot keeps up).
    pub fn sent_per_publisher(&self, point: Point) -> f64 {
        self.published as f64 / self.window_secs / point.publishers as f64
    }

    pub fn packets_per_sec(&self) -> f64 {
        self.packets as f64 / self.window_secs
    }

    pub fn mbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.window_secs / 1e6
    }

    /// Whether the point is within the sweep's limits (loss, p99).
    pub fn within(&self, settings: &Settings) -> bool {
        self.errors.is_empty()
            && self.loss() <= settings.max_loss
            && self.percentile_ms(0.99).is_some_and(|p99| p99 <= settings.max_p99_ms)
    }
}

/// The bot's side of one server: its peers, and how to leave.
enum Bot {
    Moim(Vec<moim::Member>),
    Janus(Arc<Session>, Vec<Peer>),
}

impl Bot {
    async fn leave(self) -> Vec<PeerReport> {
        let mut reports = Vec::new();
        match self {
            Bot::Moim(members) => {
                for member in members {
                    reports.push(member.leave().await);
                }
            }
            Bot::Janus(session, peers) => {
                for peer in peers {
                    reports.push(peer.stop().await);
                }
                let _ = tokio::task::spawn_blocking(move || session.destroy()).await;
            }
        }
        reports
    }
}

enum Process {
    Moim(Backend),
    Janus(Janus),
}

impl Process {
    fn pid(&self) -> u32 {
        match self {
            Process::Moim(b) => b.pid,
            Process::Janus(j) => j.pid,
        }
    }
}

pub async fn measure(server: Server, point: Point, settings: &Settings) -> Result<Measured, String> {
    let tag = format!("{}-{}x{}", server.name().to_lowercase(), point.publishers, point.subscribers);
    let (scratch, name) = (settings.scratch.clone(), tag.clone());
    let backend = settings.backend.clone();
    let capacity = (point.members() + 10).max(50);
    let pin = settings.pin;
    let process = tokio::task::spawn_blocking(move || match server {
        Server::Moim => {
            Backend::start(&backend, capacity, &scratch.join(format!("{name}.log")), pin).map(Process::Moim)
        }
        Server::Janus => Janus::start(&scratch.join(&name), point.publishers, pin).map(Process::Janus),
    })
    .await
    .map_err(|e| e.to_string())??;
    let pid = process.pid();
    sleep(Duration::from_millis(500)).await;
    let rss_start_kib = procfs::rss_kib(pid);
    let shared = Arc::new(Shared::new());
    let setup = Instant::now();
    let mut errors = Vec::new();
    let (bot, sessions) = match connect(server, &process, point, shared.clone()).await {
        Ok(connected) => connected,
        Err(e) => {
            drop(process);
            return Err(e);
        }
    };
    // Until every receiver has seen both tracks of every publisher it gets.
    let expected = point.publishers * point.receivers_per_publisher() * 2;
    let deadline = Instant::now() + settings.flow_wait;
    while shared.streams_seen.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        sleep(Duration::from_millis(50)).await;
    }
    let flowing = (shared.streams_seen.load(Ordering::Relaxed), expected);
    if flowing.0 < expected {
        errors.push(format!("only {} of {} streams reached their receivers", flowing.0, expected));
    }
    let setup_secs = setup.elapsed().as_secs_f64();
    sleep(settings.warm).await;
    let rss_loaded_kib = procfs::rss_kib(pid);

    let pid_s = pid.to_string();
    let (server0, bot0, busy0) =
        (procfs::cpu_seconds(&pid_s), procfs::cpu_seconds("self"), procfs::machine_busy_seconds());
    let udp0 = procfs::udp_buffer_errors();
    let start = Instant::now();
    let end = start + settings.measure;
    shared.set_window(media::ns_since_epoch(start), media::ns_since_epoch(end));
    sleep(settings.measure).await;
    let window_secs = start.elapsed().as_secs_f64();
    let (server1, bot1, busy1) =
        (procfs::cpu_seconds(&pid_s), procfs::cpu_seconds("self"), procfs::machine_busy_seconds());
    let udp1 = procfs::udp_buffer_errors();
    // What was sent in the window and is still on its way.
    sleep(settings.grace).await;
    // Moim's own counters (packets, NACKs, loss it saw), kept for reading.
    if let Process::Moim(backend) = &process {
        let port = backend.port;
        let file = settings.scratch.join(format!("{tag}.metrics"));
        let _ = tokio::task::spawn_blocking(move || {
            janus_api::get_text(port, "/metrics").map(|text| std::fs::write(file, text))
        })
        .await;
    }
    let failed = shared.failed.load(Ordering::Relaxed);
    let reports = bot.leave().await;
    drop(process);

    let (server_cpu, bot_cpu) = ((server1 - server0) / window_secs, (bot1 - bot0) / window_secs);
    let other_cpu = ((busy1 - busy0) / window_secs - server_cpu - bot_cpu).max(0.0);
    let mut m = Measured {
        published: 0,
        sent: 0,
        received: 0,
        packets: 0,
        duplicates: 0,
        window_secs,
        bytes: 0,
        delays_us: Vec::new(),
        server_cpu,
        bot_cpu,
        other_cpu,
        rss_start_kib,
        rss_loaded_kib,
        sessions,
        setup_secs,
        errors,
    };
    if failed > 0 {
        m.errors.push(format!("{failed} peer connections failed"));
    }
    let (rcvbuf, sndbuf) = (udp1.0.saturating_sub(udp0.0), udp1.1.saturating_sub(udp0.1));
    if rcvbuf + sndbuf > 0 {
        m.errors.push(format!(
            "the kernel dropped {rcvbuf} datagrams at full receive buffers and {sndbuf} at full send buffers \
             (machine-wide) in the window"
        ));
    }
    let mut ice_drops = 0;
    for r in reports {
        m.published += r.sent[0] + r.sent[1];
        m.sent += (r.sent[0] + r.sent[1]) * point.receivers_per_publisher() as u64;
        ice_drops += r.ice_drops;
        m.received += r.frames;
        m.packets += r.packets;
        m.duplicates += r.duplicates;
        m.bytes += r.bytes;
        m.delays_us.extend(r.delays_us);
        if let Some(e) = r.error {
            if m.errors.len() < 5 {
                m.errors.push(e);
            }
        }
    }
    m.delays_us.sort_unstable();
    if ice_drops > 0 {
        m.errors.push(format!("ICE reported {ice_drops} disconnections"));
    }
    Ok(m)
}

/// Joins the publishers, then the subscribers; returns the bot and how many
/// PeerConnections the server holds for it.
async fn connect(server: Server, process: &Process, point: Point, shared: Arc<Shared>) -> Result<(Bot, usize), String> {
    match process {
        Process::Moim(backend) => {
            let mut members = Vec::new();
            for i in 0..point.members() {
                let publisher = (i < point.publishers).then_some(i as u16);
                let name = if publisher.is_some() { format!("pub {i}") } else { format!("sub {i}") };
                match moim::join(backend.port, "bench", &name, publisher, shared.clone()).await {
                    Ok(member) => members.push(member),
                    Err(e) => {
                        Bot::Moim(members).leave().await;
                        return Err(format!("{} {name}: {e}", server.name()));
                    }
                }
            }
            let n = members.len();
            Ok((Bot::Moim(members), n))
        }
        Process::Janus(janus) => {
            let port = janus.port;
            let ip = janus.media_ip.into();
            let session =
                tokio::task::spawn_blocking(move || Session::create(port)).await.map_err(|e| e.to_string())??;
            let mut peers = Vec::new();
            let feeds: Vec<u64> = (1..=point.publishers as u64).collect();
            let mut result = Ok(());
            for (i, &feed) in feeds.iter().enumerate() {
                match janus_api::publish(session.clone(), ip, feed, i as u16, shared.clone()).await {
                    Ok(peer) => peers.push(peer),
                    Err(e) => {
                        result = Err(format!("Janus publisher {i}: {e}"));
                        break;
                    }
                }
            }
            // Publishers hear each other; subscribers hear every publisher.
            let mut lists: Vec<Vec<u64>> = Vec::new();
            if point.publishers > 1 {
                lists.extend(feeds.iter().map(|&own| feeds.iter().copied().filter(|&f| f != own).collect()));
            }
            lists.extend((0..point.subscribers).map(|_| feeds.clone()));
            for list in lists {
                if result.is_err() {
                    break;
                }
                match janus_api::subscribe(session.clone(), ip, list, shared.clone()).await {
                    Ok(peer) => peers.push(peer),
                    Err(e) => result = Err(format!("Janus subscriber: {e}")),
                }
            }
            let n = peers.len();
            let bot = Bot::Janus(session, peers);
            match result {
                Ok(()) => Ok((bot, n)),
                Err(e) => {
                    bot.leave().await;
                    Err(e)
                }
            }
        }
    }
}
