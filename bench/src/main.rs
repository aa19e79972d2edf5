//! `bench`: Moim's backend against a Socket.io 4 relay written like the
//! classic tutorial's server.js, side by side in one run on loopback, driven
//! by the same native load generator. Run it with `cargo xtask bench`
//! (`--smoke` for a tiny run); see docs/BENCHMARKS.md.

// The benchmark pins threads to cores and reads CPU ticks through libc
// (each call says why it is sound); nothing else in the workspace may.
#![allow(unsafe_code)]

mod load;
mod percentile;
mod report;
mod servers;

use load::{Phase, PhaseMsg, Proto, Report, Stats, RECEIVED};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until, Instant};

const USAGE: &str = "usage: bench [--smoke] [--clients N,N..] [--only moim|socketio|floor] [--pin] [--out FILE]
             [--backend FILE]

  Starts Moim's release backend (beside this binary) and the Socket.io 4 server
  in bench/socketio (installed from npm into target/bench/socketio), one after
  the other, and a bare relay on the same stack as Moim's (the floor: what this
  machine allows), and measures them with the same clients: relayed messages a second,
  relay latency at light load, server memory per idle connection, loss and order.
  Writes docs/BENCHMARKS.md (with --smoke: target/bench/BENCHMARKS-smoke.md).

  --smoke        200 clients, short phases: a CI-sized check that it all works
  --clients      client counts (rooms of two), default 1000,10000
  --only         measure one server (the floor is a bare tokio-tungstenite
                 relay, src/bin/floor.rs: what this machine allows)
  --pin          pin the server to one core and the clients to the others
                 (by default the kernel places both, as in production)
  --out          where to write the Markdown report
  --backend      measure this backend binary instead";

pub struct Settings {
    pub smoke: bool,
    pub sizes: Vec<usize>,
    pub servers: Vec<Proto>,
    /// Pause before reading a server's memory.
    pub settle: Duration,
    /// Length of the light-load latency phase (at least three probes a pair).
    pub latency_secs: f64,
    /// Relays a second, all pairs together, in the latency phase.
    pub latency_rate: f64,
    pub warm: Duration,
    pub measure: Duration,
    /// Messages in flight per direction in the throughput phases, at most;
    /// fewer with many clients (see [`IN_FLIGHT`]).
    pub window: u32,
    /// Messages a second per client in the paced phase: under Moim's 50.
    pub paced_rate: f64,
    /// Messages per client per throughput phase, at most.
    pub cap: u64,
    pub pin: bool,
    /// Tries per timed phase: one disturbed by other work on the machine
    /// (more than `quiet` cores) is run again, and the quietest is kept.
    pub attempts: u32,
    pub quiet: f64,
    pub out: PathBuf,
    pub command: String,
    /// Another backend binary than the one beside this one.
    pub backend: Option<PathBuf>,
}

/// Messages in flight in all, at most, in the throughput phases: enough to
/// keep either server busy without queueing seconds of backlog.
pub const IN_FLIGHT: u32 = 32_000;

/// Messages in flight per direction with `clients` clients.
pub fn window(settings: &Settings, clients: usize) -> u32 {
    (IN_FLIGHT / clients.max(1) as u32).clamp(1, settings.window)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench sits in the workspace").to_owned()
}

fn parse_args() -> Result<Settings, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut settings = Settings {
        smoke,
        sizes: if smoke { vec![200] } else { vec![1_000, 10_000] },
        servers: vec![Proto::Moim, Proto::SocketIo, Proto::Floor],
        settle: Duration::from_millis(if smoke { 500 } else { 2_000 }),
        latency_secs: if smoke { 2.0 } else { 15.0 },
        latency_rate: if smoke { 1_000.0 } else { 2_000.0 },
        warm: Duration::from_millis(if smoke { 500 } else { 2_000 }),
        measure: Duration::from_secs(if smoke { 2 } else { 10 }),
        window: 16,
        paced_rate: 45.0,
        cap: 20_000,
        pin: false,
        attempts: if smoke { 1 } else { 3 },
        quiet: 0.25,
        out: root().join(if smoke { "target/bench/BENCHMARKS-smoke.md" } else { "docs/BENCHMARKS.md" }),
        command: if smoke { "cargo xtask bench --smoke".into() } else { "cargo xtask bench".into() },
        backend: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--smoke" => {}
            "--pin" => settings.pin = true,
            "--clients" => {
                settings.sizes = value()?
                    .split(',')
                    .map(|n| n.trim().replace('_', "").parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--clients: {e}"))?;
                if settings.sizes.iter().any(|&n| n < 2 || n % 2 == 1) {
                    return Err("--clients: even numbers of at least 2 (rooms of two)".into());
                }
            }
            "--only" => {
                settings.servers = match value()?.as_str() {
                    "moim" => vec![Proto::Moim],
                    "socketio" => vec![Proto::SocketIo],
                    "floor" => vec![Proto::Floor],
                    other => return Err(format!("--only moim, socketio or floor, not {other:?}")),
                }
            }
            "--out" => settings.out = PathBuf::from(value()?),
            "--backend" => settings.backend = Some(PathBuf::from(value()?)),
            "--command" => settings.command = value()?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(settings)
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect()
    }
}

/// Pins the calling process (threads made later inherit it). Allocates
/// nothing, so it is safe between fork and exec.
pub fn pin_to(cpus: &[usize]) {
    // SAFETY: as above; a failure leaves the affinity as it was.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Where each side runs: the server on one core, the clients on the rest.
pub struct Placement {
    pub server_cpu: Option<usize>,
    pub client_cpus: Vec<usize>,
}

fn main() -> ExitCode {
    let settings = match parse_args() {
        Ok(s) => s,
        Err(message) => {
            eprintln!("bench: {message}");
            return ExitCode::FAILURE;
        }
    };
    let root = root();
    let backend = settings.backend.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("backend")))
            .filter(|b| b.is_file())
            .unwrap_or_else(|| root.join("target/release/backend"))
    });
    if settings.servers.contains(&Proto::Moim) && !backend.is_file() {
        eprintln!("bench: no {}; build it first: cargo build --release -p backend", backend.display());
        return ExitCode::FAILURE;
    }
    let scratch = root.join("target/bench");
    let socketio = if settings.servers.contains(&Proto::SocketIo) {
        match servers::prepare_socketio(&root, &scratch.join("socketio")) {
            Ok(path) => path,
            Err(message) => {
                eprintln!("bench: {message}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        PathBuf::new()
    };

    let cpus = allowed_cpus();
    let placement = if settings.pin && cpus.len() >= 2 {
        Placement { server_cpu: Some(cpus[0]), client_cpus: cpus[1..].to_vec() }
    } else {
        Placement { server_cpu: None, client_cpus: cpus.clone() }
    };
    // Before pinning: `nproc` reads this process's affinity.
    let mut facts = report::Facts::gather(&settings, &root, &backend, &placement);
    if placement.server_cpu.is_some() {
        pin_to(&placement.client_cpus);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(placement.client_cpus.len().max(1))
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let mut runs = Vec::new();
    for &clients in &settings.sizes {
        for &proto in &settings.servers {
            eprintln!("bench: {} with {clients} clients", report::name(proto));
            let log = scratch.join(format!("{}-{clients}.log", report::slug(proto)));
            let run =
                runtime.block_on(run_one(proto, clients, &settings, &backend, &socketio, placement.server_cpu, &log));
            if let Err(err) = &run {
                eprintln!("bench: {} with {clients} clients failed: {err}", report::name(proto));
            }
            runs.push((proto, clients, run));
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    facts.finished();

    let markdown = report::render(&settings, &facts, &root, &runs);
    println!("{markdown}");
    if let Err(err) = report::write(&settings.out, &markdown) {
        eprintln!("bench: {err}");
        return ExitCode::FAILURE;
    }
    eprintln!("bench: wrote {}", settings.out.display());
    if runs.iter().any(|(_, _, r)| r.is_err()) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

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

async fn run_one(
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
    let result = drive(proto, clients, settings, &mut server).await;
    let alive = server.alive();
    tokio::task::spawn_blocking(move || server.stop()).await.map_err(|e| e.to_string())?;
    match result {
        Err(err) if !alive => Err(format!("{err} (the server exited)")),
        other => other,
    }
}

async fn drive(proto: Proto, clients: usize, settings: &Settings, server: &mut servers::Server) -> Result<Run, String> {
    let pid = server.pid;
    let port = server.port;
    let pairs = clients / 2;
    let first_pairs = (pairs / 10).max(1);
    sleep(settings.settle).await;
    let rss0 = servers::rss_kib(pid);

    let (phases, phase_rx) = watch::channel(PhaseMsg { id: 0, phase: Phase::Idle });
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let mut tasks = Vec::with_capacity(pairs);
    let started = Instant::now();

    // A tenth of the pairs open and join: the warm-up reading.
    open_pairs(proto, port, 0..first_pairs, true, &phase_rx, &report_tx, &mut tasks).await?;
    collect(&mut reports, 0, first_pairs, Duration::from_secs(120)).await?;
    sleep(settings.settle).await;
    let rss1 = servers::rss_kib(pid);

    // The rest open, and wait in the lobby.
    open_pairs(proto, port, first_pairs..pairs, false, &phase_rx, &report_tx, &mut tasks).await?;
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
    if !server.alive() {
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
        let (r0, s0, c0, m0) = counters(pid);
        let id = phases.next(Phase::Latency { start, end, period });
        sleep_until(end).await;
        let (r1, s1, c1, m1) = counters(pid);
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
        let mut result = measure(&mut reports, id, pairs, from, end, pid).await?;
        result.attempts = attempt;
        if keep_quietest(&mut paced, result, settings).await {
            break;
        }
    }
    let paced = paced.expect("at least one attempt");
    let mut unpaced = None;
    for attempt in 1..=settings.attempts {
        let (id, from, end) = throughput(None);
        let mut result = measure(&mut reports, id, pairs, from, end, pid).await?;
        result.attempts = attempt;
        if keep_quietest(&mut unpaced, result, settings).await {
            break;
        }
    }
    let rss_after = servers::rss_kib(pid);
    if !server.alive() {
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

/// Relayed-message count, server CPU seconds and our own CPU seconds.
fn counters(pid: u32) -> (u64, f64, f64, f64) {
    (
        RECEIVED.load(Ordering::Relaxed),
        servers::cpu_seconds(&pid.to_string()),
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
    pid: u32,
) -> Result<PhaseResult, String> {
    sleep_until(from).await;
    let t0 = Instant::now();
    let (r0, s0, c0, m0) = counters(pid);
    sleep_until(end).await;
    let (r1, s1, c1, m1) = counters(pid);
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
    port: u16,
    range: std::ops::Range<usize>,
    join_now: bool,
    phases: &watch::Receiver<PhaseMsg>,
    reports: &mpsc::UnboundedSender<Report>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<(), String> {
    use futures_util::StreamExt;
    let mut opened = futures_util::stream::iter(range)
        .map(|idx| async move {
            let a = load::open(proto, port).await?;
            let b = load::open(proto, port).await?;
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
