//! The run's settings: the command line and the defaults it changes.

use crate::load::Proto;
use std::path::{Path, PathBuf};
use std::time::Duration;

const USAGE: &str = "usage: bench [--smoke] [--clients N,N..] [--only moim|socketio|floor] [--pin] [--out FILE]
             [--backend FILE] [--cluster]

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
  --backend      measure this backend binary instead
  --cluster      two Moim nodes on one redis-server: the pairs within one node,
                 then split across the two (default 10000 clients; its table
                 goes between the cluster markers)";

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
    /// Two nodes through Redis instead of the servers side by side
    /// (`--cluster`; `cargo xtask bench cluster`).
    pub cluster: bool,
}

/// Messages in flight in all, at most, in the throughput phases: enough to
/// keep either server busy without queueing seconds of backlog.
pub const IN_FLIGHT: u32 = 32_000;

/// Messages in flight per direction with `clients` clients.
pub fn window(settings: &Settings, clients: usize) -> u32 {
    (IN_FLIGHT / clients.max(1) as u32).clamp(1, settings.window)
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench sits in the workspace").to_owned()
}

pub fn parse_args() -> Result<Settings, String> {
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
        cluster: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--smoke" => {}
            "--pin" => settings.pin = true,
            "--cluster" => settings.cluster = true,
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
    if settings.cluster {
        if !args.iter().any(|a| a == "--clients") && !smoke {
            settings.sizes = vec![10_000];
        }
        if !args.iter().any(|a| a == "--out") && smoke {
            settings.out = root().join("target/bench/cluster-smoke.md");
        }
        if !args.iter().any(|a| a == "--command") {
            settings.command = format!("cargo xtask bench cluster{}", if smoke { " --smoke" } else { "" });
        }
    }
    Ok(settings)
}
