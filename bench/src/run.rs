//! One server measured: start it, open and join the pairs, run the timed phases, stop it.

use crate::load::{self, Phase, PhaseMsg, Proto, Report, Stats, RECEIVED};
use crate::servers;
use crate::settings::{window, Settings};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until, Instant};

/// One phase's numbers from all pairs together.
pub struct PhaseResult {
    pub stats: Stats,
    /// Relayed messages a second in the measurement window.
    pub rate: f64,
    /// CPU cores the server and the load generator used in that window.
    pub server_cpu: f64,
    pub client_cpu: f64,
    /// CPU cores everything else on the machine used meanwhile.
    pub other_cpu: f64,
    /// Which attempt this was (see [`Settings::attempts`]).
    pub attempts: u32,
}

pub struct Run {
    pub connect_secs: f64,
    /// Clients joined before the first memory reading.
    pub first: usize,
    /// VmRSS in KiB: at start; with `first` clients joined; with all
    /// connected but the rest not joined; with all joined.
    pub rss: [u64; 4],
    pub latency: PhaseResult,
    pub latency_period: Duration,
    pub paced: PhaseResult,
    pub unpaced: Option<PhaseResult>,
    pub rss_after: u64,
}

pub async fn run_one(
    proto: Proto,
    clients: usize,
    settings: &Settings,
    backend: &Path,
    socketio: &Path,
    server_cpu: Option<usize>,
    log: &Path,
) -> Result<Run, String> {
    let (backend, socketio, log) = (backend.to_owned(), socketio.to_owned(), log.to_owned());
    let mut server = tokio::task::spawn_blocking(move || servers::start(proto, &backend, &socketio, server_cpu, &log))
        .await
        .map_err(|e| e.to_string())??;
    let (port, pid) = (server.port, server.pid);
    let result =
        drive(proto, clients, settings, Target { ports: (port, port), pids: vec![pid], servers: vec![&mut server] })
            .await;
    let alive = server.alive();
    tokio::task::spawn_blocking(move || server.stop()).await.map_err(|e| e.to_string())?;
    match result {
        Err(err) if !alive => Err(format!("{err} (the server exited)")),
        other => other,
    }
}

/// What the pairs connect to: each pair's first member to `ports.0`, its
/// second to `ports.1`; the CPU of `pids` together is the servers'.
pub struct Target<'a> {
    pub ports: (u16, u16),
    pub pids: Vec<u32>,
    pub servers: Vec<&'a mut servers::Server>,
}

impl Target<'_> {
    fn alive(&mut self) -> bool {
        self.servers.iter_mut().all(|s| s.alive())
    }
}

pub async fn drive(proto: Proto, clients: usize, settings: &Settings, mut target: Target<'_>) -> Result<Run, String> {
    let pids = target.pids.clone();
    let pid = pids[0];
    let ports = target.ports;
    let pairs = clients / 2;
    let first_pairs = (pairs / 10).max(1);
    sleep(settings.settle).await;
    let rss0 = servers::rss_kib(pid);

    let (phases, phase_rx) = watch::channel(PhaseMsg { id: 0, phase: Phase::Idle });
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let mut tasks = Vec::with_capacity(pairs);
    let started = Instant::now();

    // A tenth of the pairs open and join: the warm-up reading.
    open_pairs(proto, ports, 0..first_pairs, true, &phase_rx, &report_tx, &mut tasks).await?;
    collect(&mut reports, 0, first_pairs, Duration::from_secs(120)).await?;
    sleep(settings.settle).await;
    let rss1 = servers::rss_kib(pid);

    // The rest open, and wait in the lobby.
    open_pairs(proto, ports, first_pairs..pairs, false, &phase_rx, &report_tx, &mut tasks).await?;
    sleep(settings.settle).await;
    let rss2 = servers::rss_kib(pid);

    // Everyone joins.
    let mut phases = Phases { tx: phases, id: 0 };
    let join = phases.next(Phase::Join);
    let joined = collect(&mut reports, join, pairs, Duration::from_secs(300)).await?;
    check_alive(&joined, "joining")?;
    let connect_secs = started.elapsed().as_secs_f64();
    sleep(settings.settle).await;
    let rss3 = servers::rss_kib(pid);
    if !target.alive() {
        return Err("the server exited".into());
    }

    // Light load: one message in flight per pair.
    let period = Duration::from_secs_f64(2.0 * pairs as f64 / settings.latency_rate);
    let length = Duration::from_secs_f64(settings.latency_secs).max(period * 3);
    let mut latency = None;
    for attempt in 1..=settings.attempts {
        let start = Instant::now() + Duration::from_millis(100);
        let end = start + length;
        let t0 = Instant::now();
        let (r0, s0, c0, m0) = counters(&pids);
        let id = phases.next(Phase::Latency { start, end, period });
        sleep_until(end).await;
        let (r1, s1, c1, m1) = counters(&pids);
        let secs = t0.elapsed().as_secs_f64();
        let stats = collect_sum(&mut reports, id, pairs).await?;
        let result = PhaseResult {
            stats,
            rate: (r1 - r0) as f64 / secs,
            server_cpu: (s1 - s0) / secs,
            client_cpu: (c1 - c0) / secs,
            other_cpu: ((m1 - m0) - (s1 - s0) - (c1 - c0)).max(0.0) / secs,
            attempts: attempt,
        };
        if keep_quietest(&mut latency, result, settings).await {
            break;
        }
    }
    let latency = latency.expect("at least one attempt");

    let mut throughput = |rate: Option<f64>| {
        let start = Instant::now() + Duration::from_millis(50);
        let measure_from = start + settings.warm;
        let end = measure_from + settings.measure;
        let id = phases.next(Phase::Throughput {
            measure_from,
            end,
            rate,
            window: window(settings, clients),
            cap: settings.cap,
        });
        (id, measure_from, end)
    };
    let mut paced = None;
    for attempt in 1..=settings.attempts {
        let (id, from, end) = throughput(Some(settings.paced_rate));
        let mut result = measure(&mut reports, id, pairs, from, end, &pids).await?;
        result.attempts = attempt;
        if keep_quietest(&mut paced, result, settings).await {
            break;
        }
    }
    let paced = paced.expect("at least one attempt");
    let mut unpaced = None;
    for attempt in 1..=settings.attempts {
        let (id, from, end) = throughput(None);
        let mut result = measure(&mut reports, id, pairs, from, end, &pids).await?;
        result.attempts = attempt;
        if keep_quietest(&mut unpaced, result, settings).await {
            break;
        }
    }
    let rss_after = servers::rss_kib(pid);
    if !target.alive() {
        return Err("the server exited".into());
    }

    phases.next(Phase::Close);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    Ok(Run {
        connect_secs,
        first: first_pairs * 2,
        rss: [rss0, rss1, rss2, rss3],
        latency,
        latency_period: period,
        paced,
        unpaced,
        rss_after,
    })
}

/// Numbers the phases and tells every pair about the next one.
struct Phases {
    tx: watch::Sender<PhaseMsg>,
    id: u64,
}

impl Phases {
    fn next(&mut self, phase: Phase) -> u64 {
        self.id += 1;
        self.tx.send_replace(PhaseMsg { id: self.id, phase });
        self.id
    }
}

/// Keeps whichever attempt other work disturbed least; true once that one
/// was quiet enough to stop trying. Pauses before another attempt.
async fn keep_quietest(best: &mut Option<PhaseResult>, result: PhaseResult, settings: &Settings) -> bool {
    let last = result.attempts >= settings.attempts;
    if best.as_ref().is_none_or(|b| result.other_cpu < b.other_cpu) {
        *best = Some(result);
    }
    let quiet = best.as_ref().is_some_and(|b| b.other_cpu <= settings.quiet);
    if !quiet && !last {
        eprintln!("bench:   other work used the cores meanwhile; trying again");
        sleep(settings.settle * 2).await;
    }
    quiet
}

/// Relayed-message count, the servers' CPU seconds and our own CPU seconds.
fn counters(pids: &[u32]) -> (u64, f64, f64, f64) {
    (
        RECEIVED.load(Ordering::Relaxed),
        pids.iter().map(|pid| servers::cpu_seconds(&pid.to_string())).sum(),
        servers::cpu_seconds("self"),
        servers::machine_busy_seconds(),
    )
}

async fn measure(
    reports: &mut mpsc::UnboundedReceiver<Report>,
    id: u64,
    pairs: usize,
    from: Instant,
    end: Instant,
    pids: &[u32],
) -> Result<PhaseResult, String> {
    sleep_until(from).await;
    let t0 = Instant::now();
    let (r0, s0, c0, m0) = counters(pids);
    sleep_until(end).await;
    let (r1, s1, c1, m1) = counters(pids);
    let window = t0.elapsed().as_secs_f64();
    let stats = collect_sum(reports, id, pairs).await?;
    Ok(PhaseResult {
        stats,
        rate: (r1 - r0) as f64 / window,
        server_cpu: (s1 - s0) / window,
        client_cpu: (c1 - c0) / window,
        other_cpu: ((m1 - m0) - (s1 - s0) - (c1 - c0)).max(0.0) / window,
        attempts: 1,
    })
}

#[allow(clippy::too_many_arguments)]
async fn open_pairs(
    proto: Proto,
    (port_a, port_b): (u16, u16),
    range: std::ops::Range<usize>,
    join_now: bool,
    phases: &watch::Receiver<PhaseMsg>,
    reports: &mpsc::UnboundedSender<Report>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<(), String> {
    use futures_util::StreamExt;
    let mut opened = futures_util::stream::iter(range)
        .map(|idx| async move {
            let a = load::open(proto, port_a).await?;
            let b = load::open(proto, port_b).await?;
            Ok::<_, String>((idx, a, b))
        })
        .buffer_unordered(128);
    while let Some(result) = opened.next().await {
        let (idx, a, b) = result?;
        tasks.push(tokio::spawn(load::run_pair(proto, idx, a, b, join_now, phases.clone(), reports.clone())));
    }
    Ok(())
}

async fn collect(
    reports: &mut mpsc::UnboundedReceiver<Report>,
    id: u64,
    count: usize,
    limit: Duration,
) -> Result<Vec<Stats>, String> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        match tokio::time::timeout_at(deadline, reports.recv()).await {
            Ok(Some(report)) if report.phase_id == id => got.push(report.stats),
            Ok(Some(_)) => continue,
            Ok(None) => return Err("every pair has stopped".into()),
            Err(_) => return Err(format!("only {} of {count} pairs reported within {limit:?}", got.len())),
        }
    }
    Ok(got)
}

/// Every pair's report of a timed phase, added up.
async fn collect_sum(reports: &mut mpsc::UnboundedReceiver<Report>, id: u64, pairs: usize) -> Result<Stats, String> {
    let all = collect(reports, id, pairs, load::DRAIN_MAX + Duration::from_secs(60)).await?;
    let mut total = Stats::default();
    for stats in all {
        total.add(stats);
    }
    Ok(total)
}

fn check_alive(reports: &[Stats], what: &str) -> Result<(), String> {
    let dead = reports.iter().filter(|s| s.dead > 0).count();
    if dead > 0 {
        return Err(format!("{dead} pairs failed while {what}"));
    }
    Ok(())
}
