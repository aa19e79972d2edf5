//! `sfu_bench`: Moim's media server (SFU) beside Janus 1.1's videoroom, in
//! one run on loopback, driven by the same native load bot (str0m as the
//! WebRTC client). Run it with `cargo xtask bench sfu` (`--smoke` for one
//! tiny point); see docs/BENCHMARKS.md, "Rooms of many".

// The bot reads CPU ticks and signals its servers through libc (each call
// says why it is sound); nothing else in the workspace may.
#![allow(unsafe_code)]

mod janus;
mod janus_api;
mod media;
mod moim;
mod peer;
mod pin;
mod point;
#[path = "../../printed_port.rs"]
mod printed_port;
#[path = "../../proc_stats.rs"]
mod proc_stats;
mod procfs;
mod recv;
mod report;
mod stats;

use point::{Point, Server};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: sfu_bench [--smoke] [--points 1x1,1x10,..] [--only moim|janus] [--measure SECS]
                 [--pin] [--backend FILE] [--out FILE]

  Sweeps publishers x subscribers in one room (every publisher also receives
  the other publishers) on Moim's SFU and on Janus's videoroom, one point at a
  time, each on a fresh server, until loss passes 1% or p99 delay 50 ms
  (one publisher to ever more listeners, and rooms of P x S, each series
  stopping on its own).
  Publishers send 500 kbit/s of VP8 (62.5 one-packet frames a second, a
  keyframe every 3 s) and 50 Opus-sized packets a second.
  Writes target/bench/sfu.md, and with a full run the table in
  docs/BENCHMARKS.md between its sfu:begin/end markers.

  --smoke     one point (1x2), short: proves it runs (Janus skipped if missing)
  --points    the points, in order (default 1x1,1x5,1x10,1x25,1x50,10x10,15x15,25x25)
  --only      measure one server
  --measure   seconds counted per point (default 10)
  --pin       each server on core 0 alone, the bot on core 1: both servers
              get the same CPU (one core) whatever they would take unpinned
  --backend   Moim's backend binary (default: target/release/moim)
  --out       where to write the Markdown report";

pub struct Settings {
    pub smoke: bool,
    pub points: Vec<Point>,
    pub servers: Vec<Server>,
    pub warm: Duration,
    pub measure: Duration,
    /// Servers on one core, the bot on another ([`pin`]).
    pub pin: bool,
    pub grace: Duration,
    /// How long to wait for every stream to reach its receivers.
    pub flow_wait: Duration,
    pub max_loss: f64,
    pub max_p99_ms: f64,
    pub backend: PathBuf,
    pub scratch: PathBuf,
    pub out: PathBuf,
    pub docs: Option<PathBuf>,
    pub command: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench sits in the workspace").to_owned()
}

fn parse_points(text: &str) -> Result<Vec<Point>, String> {
    text.split(',')
        .map(|p| {
            let (a, b) = p.trim().split_once('x').ok_or(format!("--points: {p:?} is not PxS"))?;
            let publishers: usize = a.parse().map_err(|e| format!("--points {p}: {e}"))?;
            let subscribers: usize = b.parse().map_err(|e| format!("--points {p}: {e}"))?;
            if publishers == 0 || publishers + subscribers < 2 || publishers > 500 || subscribers > 500 {
                return Err(format!("--points {p}: 1 to 500 publishers, at least two members"));
            }
            Ok(Point { publishers, subscribers })
        })
        .collect()
}

fn parse_args() -> Result<Settings, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let root = root();
    let exe_dir = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_owned));
    let mut s = Settings {
        smoke,
        points: parse_points(if smoke { "1x2" } else { "1x1,1x5,1x10,1x25,1x50,10x10,15x15,25x25" })?,
        servers: vec![Server::Moim, Server::Janus],
        warm: Duration::from_secs(if smoke { 1 } else { 3 }),
        measure: Duration::from_secs(if smoke { 3 } else { 10 }),
        pin: false,
        grace: Duration::from_secs(1),
        flow_wait: Duration::from_secs(if smoke { 15 } else { 30 }),
        max_loss: 0.01,
        max_p99_ms: 50.0,
        backend: exe_dir.map(|d| d.join("moim")).filter(|b| b.is_file()).unwrap_or(root.join("target/release/moim")),
        scratch: root.join("target/bench/sfu"),
        out: root.join(if smoke { "target/bench/sfu-smoke.md" } else { "target/bench/sfu.md" }),
        docs: (!smoke).then(|| root.join("docs/BENCHMARKS.md")),
        command: if smoke { "cargo xtask bench sfu --smoke".into() } else { "cargo xtask bench sfu".into() },
    };
    let mut it = args.iter();
    let mut custom = false;
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--smoke" => {}
            "--points" => {
                s.points = parse_points(&value()?)?;
                custom = true;
            }
            "--only" => {
                s.servers = match value()?.as_str() {
                    "moim" => vec![Server::Moim],
                    "janus" => vec![Server::Janus],
                    other => return Err(format!("--only moim or janus, not {other:?}")),
                };
                custom = true;
            }
            "--measure" => {
                let secs: u64 = value()?.parse().map_err(|e| format!("--measure: {e}"))?;
                s.measure = Duration::from_secs(secs.clamp(1, 120));
                custom = true;
            }
            "--pin" => {
                s.pin = true;
                custom = true;
            }
            "--backend" => s.backend = PathBuf::from(value()?),
            "--out" => s.out = PathBuf::from(value()?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if custom {
        // A partial run leaves the published table alone.
        s.docs = None;
        s.command = format!("sfu_bench {}", args.join(" "));
    }
    Ok(s)
}

/// One point, given up after a bound: a server that cannot keep up (the SFU
/// thread saturated at 25 × 25) would otherwise keep the bot waiting on its
/// renegotiations for good. Each point has a runtime of its own, so giving up
/// ends every task of it; dropping the point stops its server.
fn measure_bounded(server: Server, point: Point, settings: &Settings) -> Result<point::Measured, String> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    // Joins (a few seconds per member at worst), the wait for the streams, the window, and leaving.
    let limit = Duration::from_secs(60 + 3 * point.members() as u64)
        + settings.flow_wait
        + settings.warm
        + settings.measure
        + settings.grace;
    let measured = runtime.block_on(async {
        tokio::time::timeout(limit, point::measure(server, point, settings)).await.unwrap_or_else(|_| {
            Err(format!("gave up after {} s: the server had not finished the point", limit.as_secs()))
        })
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    measured
}

fn main() -> ExitCode {
    let mut settings = match parse_args() {
        Ok(s) => s,
        Err(message) => {
            eprintln!("sfu_bench: {message}");
            return ExitCode::FAILURE;
        }
    };
    if settings.pin {
        // Before any other thread starts: they inherit it.
        if let Err(e) = pin::bot() {
            eprintln!("sfu_bench: --pin: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = std::fs::create_dir_all(&settings.scratch) {
        eprintln!("sfu_bench: {}: {e}", settings.scratch.display());
        return ExitCode::FAILURE;
    }
    let mut notes = Vec::new();
    if settings.servers.contains(&Server::Janus) && !Path::new(janus::BINARY).is_file() {
        let message = format!("{} is missing (cargo xtask setup --janus installs it)", janus::BINARY);
        if !settings.smoke {
            eprintln!("sfu_bench: {message}");
            return ExitCode::FAILURE;
        }
        eprintln!("sfu_bench: {message}: Janus skipped");
        notes.push(format!("Janus skipped: {message}."));
        settings.servers.retain(|&s| s != Server::Janus);
    }
    if settings.servers.contains(&Server::Moim) && !settings.backend.is_file() {
        eprintln!("sfu_bench: no {}; build it first: cargo build --release -p backend", settings.backend.display());
        return ExitCode::FAILURE;
    }
    let facts = report::Facts::gather(&settings);
    let mut results = Vec::new();
    // (server, series) pairs past their limits: a series (one publisher to
    // ever more listeners; rooms of P × P) stops at its first point past
    // them, the other goes on.
    let mut stopped = Vec::new();
    for &point in &settings.points {
        let series = point.publishers == 1;
        for server in settings.servers.clone() {
            if stopped.contains(&(server, series)) {
                continue;
            }
            eprintln!("sfu_bench: {} with {} x {}", server.name(), point.publishers, point.subscribers);
            let measured = measure_bounded(server, point, &settings);
            match &measured {
                Ok(m) => {
                    eprintln!("sfu_bench:   {}", report::one_line(m, point));
                    if !m.within(&settings) {
                        eprintln!("sfu_bench:   past the limits: {}'s series stops here", server.name());
                        stopped.push((server, series));
                    }
                }
                Err(e) => {
                    eprintln!("sfu_bench:   failed: {e}");
                    stopped.push((server, series));
                }
            }
            results.push((server, point, measured));
        }
    }
    let markdown = report::render(&settings, &facts, &results, &notes);
    println!("{markdown}");
    if let Err(e) = report::write(&settings, &markdown) {
        eprintln!("sfu_bench: {e}");
        return ExitCode::FAILURE;
    }
    // A smoke run proves the whole path works: any failure fails it. A full
    // sweep ends at a failing point by design; it fails only if nothing ran.
    let failed = if settings.smoke {
        results.iter().any(|(_, _, r)| r.as_ref().map_or(true, |m| !m.errors.is_empty() || m.received == 0))
    } else {
        results.iter().all(|(_, _, r)| r.is_err())
    };
    if failed {
        eprintln!("sfu_bench: failed (see the report)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
