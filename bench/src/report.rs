//! The results as a Markdown table (printed, and written between markers in
//! docs/BENCHMARKS.md so the prose around them stays), and figure 4 from dist/.

mod client_size;
pub mod cluster;
mod machine;
mod targets;

use crate::load::Proto;
use crate::percentile::nearest_rank;
use crate::{PhaseResult, Run, Settings};
use std::fmt::Write as _;
use std::path::Path;

use client_size::client_size;
pub use machine::Facts;
use targets::targets;

pub const BEGIN: &str = "<!-- bench:begin (written by `cargo xtask bench`; edit outside the markers) -->";
pub const END: &str = "<!-- bench:end -->";

pub fn name(proto: Proto) -> &'static str {
    match proto {
        Proto::Moim => "Moim",
        Proto::SocketIo => "Socket.io",
        Proto::Floor => "floor relay",
    }
}

pub fn slug(proto: Proto) -> &'static str {
    match proto {
        Proto::Moim => "moim",
        Proto::SocketIo => "socketio",
        Proto::Floor => "floor",
    }
}

/// Nearest-rank percentile of sorted nanoseconds, in microseconds.
fn percentile(sorted: &[u32], p: f64) -> Option<f64> {
    nearest_rank(sorted, p).map(|ns| f64::from(ns) / 1_000.0)
}

struct Latency {
    samples: usize,
    p50: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    max: Option<f64>,
}

fn latency(result: &PhaseResult) -> Latency {
    let mut sorted = result.stats.latencies.clone();
    sorted.sort_unstable();
    Latency {
        samples: sorted.len(),
        p50: percentile(&sorted, 0.50),
        p99: percentile(&sorted, 0.99),
        p999: percentile(&sorted, 0.999),
        max: sorted.last().map(|&ns| f64::from(ns) / 1_000.0),
    }
}

fn thousands(n: f64) -> String {
    let n = n.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn us(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 1_000.0 => format!("{} µs", thousands(v)),
        Some(v) => format!("{v:.1} µs"),
        None => "–".into(),
    }
}

fn kib(v: f64) -> String {
    format!("{v:.1} KiB")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn ratio(moim: Option<f64>, other: Option<f64>) -> String {
    match (moim, other) {
        (Some(m), Some(o)) if o > 0.0 && m / o < 0.1 => format!("{:.3}×", m / o),
        (Some(m), Some(o)) if o > 0.0 => format!("{:.2}×", m / o),
        _ => "–".into(),
    }
}

/// Memory per idle connection as the issue defines it, and two breakdowns.
struct Memory {
    per_connection: f64,
    marginal: f64,
    lobby: f64,
}

fn memory(run: &Run, clients: usize) -> Memory {
    let [start, first, lobby, joined] = run.rss.map(|v| v as f64);
    let rest = (clients - run.first).max(1) as f64;
    Memory {
        per_connection: (joined - start) / clients as f64,
        marginal: (joined - first) / rest,
        lobby: (lobby - first) / rest,
    }
}

type Outcome = (Proto, usize, Result<Run, String>);

fn find(runs: &[Outcome], proto: Proto, clients: usize) -> Option<&Result<Run, String>> {
    runs.iter().find(|(p, n, _)| *p == proto && *n == clients).map(|(_, _, r)| r)
}

/// One table row: a label, a cell per server, and the ratio.
fn row(out: &mut String, label: &str, moim: String, socketio: String, ratio: String) {
    let _ = writeln!(out, "| {label} | {moim} | {socketio} | {ratio} |");
}

fn checks(result: &PhaseResult) -> String {
    let s = &result.stats;
    let mut text = format!("{} / {}", thousands(s.lost as f64), thousands(s.out_of_order as f64));
    if s.refused > 0 || s.errors > 0 || s.dead > 0 {
        let _ = write!(text, " (refused {}, errors {}, pairs dropped {})", s.refused, s.errors, s.dead);
    }
    text
}

pub fn render(settings: &Settings, facts: &Facts, root: &Path, runs: &[Outcome]) -> String {
    let mut out = String::new();
    let socketio = format!("Socket.io {}", facts.socketio);
    let _ = writeln!(out, "## Results, {}\n", facts.date);
    let _ = writeln!(
        out,
        "Command: `{}`{}. Machine: `nproc` = {}, {} (/proc/cpuinfo), {} RAM, Linux {}; \
         load average {} when the run began and {} when it ended (the cores are shared \
         with other work). Placement: {}. Moim: {}, rustc {}. Node {} with {socketio}.\n",
        settings.command,
        if settings.smoke { " (tiny CI-sized run)" } else { "" },
        facts.nproc,
        facts.cpu,
        facts.memory,
        facts.kernel,
        facts.load,
        facts.load_after,
        facts.placement,
        facts.backend,
        facts.rustc.trim_start_matches("rustc "),
        facts.node,
    );

    for &clients in &settings.sizes {
        let moim = find(runs, Proto::Moim, clients);
        let sio = find(runs, Proto::SocketIo, clients);
        let _ = writeln!(
            out,
            "### {} clients ({} rooms of two)\n",
            thousands(clients as f64),
            thousands((clients / 2) as f64)
        );
        for (proto, run) in [(Proto::Moim, moim), (Proto::SocketIo, sio)] {
            if let Some(Err(err)) = run {
                let _ = writeln!(out, "{} could not be measured: {err}.\n", name(proto));
            }
        }
        let (m, s) = (moim.and_then(|r| r.as_ref().ok()), sio.and_then(|r| r.as_ref().ok()));
        if m.is_some() || s.is_some() {
            let _ = writeln!(out, "| | Moim | {socketio} | Moim / Socket.io |");
            let _ = writeln!(out, "|---|---:|---:|---:|");
            main_rows(&mut out, Columns(m, s), settings, clients);
            out.push('\n');
        }
        floor(&mut out, m, find(runs, Proto::Floor, clients), clients);
    }

    targets(&mut out, settings, runs);
    method(&mut out, settings, runs);
    client_size(&mut out, root);
    out
}

/// Two servers' runs side by side, for the rows of one table.
struct Columns<'a>(Option<&'a Run>, Option<&'a Run>);

impl Columns<'_> {
    /// A row of text about each run, without a ratio.
    fn text(&self, out: &mut String, label: &str, show: impl Fn(&Run) -> String) {
        let cell = |run: Option<&Run>| run.map_or("–".into(), &show);
        row(out, label, cell(self.0), cell(self.1), String::new());
    }

    /// A row of one figure of each run, and their ratio.
    fn figure(&self, out: &mut String, label: &str, value: impl Fn(&Run) -> Option<f64>, show: impl Fn(f64) -> String) {
        let (a, b) = (self.0.and_then(&value), self.1.and_then(&value));
        let cell = |v: Option<f64>| v.map_or("–".into(), &show);
        row(out, label, cell(a), cell(b), ratio(a, b));
    }
}

/// A row's label, and the figure it shows out of a `T`.
type Row<T, V> = (&'static str, fn(&T) -> V);

fn micros(v: f64) -> String {
    format!("{v:.1} µs")
}

fn unpaced_per_message_us(run: &Run) -> Option<f64> {
    run.unpaced.as_ref().map(|u| u.server_cpu / u.rate.max(1.0) * 1e6)
}

/// The rows of Moim's table against Socket.io.
fn main_rows(out: &mut String, c: Columns, settings: &Settings, clients: usize) {
    c.figure(
        out,
        &format!(
            "**relayed messages/s**, every client paced at ≤ {} msg/s (offered {})",
            settings.paced_rate,
            thousands(settings.paced_rate * clients as f64)
        ),
        |r| Some(r.paced.rate),
        thousands,
    );
    c.figure(
        out,
        &format!("relayed messages/s, unpaced ({} in flight per direction)", crate::window(settings, clients)),
        |r| r.unpaced.as_ref().map(|u| u.rate),
        thousands,
    );
    let latency_rows: [Row<Latency, Option<f64>>; 4] = [
        ("**relay latency p50**, light load", |l| l.p50),
        ("**relay latency p99**, light load", |l| l.p99),
        ("relay latency p99.9, light load", |l| l.p999),
        ("relay latency max, light load", |l| l.max),
    ];
    for (label, pick) in latency_rows {
        c.figure(out, label, |r| pick(&latency(&r.latency)), |v| us(Some(v)));
    }
    c.text(out, "light-load samples (one message in flight per pair)", |r| {
        thousands(latency(&r.latency).samples as f64)
    });
    let paced_rows: [Row<Latency, Option<f64>>; 2] =
        [("relay latency p50 under the paced load", |l| l.p50), ("relay latency p99 under the paced load", |l| l.p99)];
    for (label, pick) in paced_rows {
        c.figure(out, label, |r| pick(&latency(&r.paced)), |v| us(Some(v)));
    }
    let memory_rows: [Row<Memory, f64>; 3] = [
        ("**server memory per idle connection**, (RSS with all idle − RSS at start) / N", |m| m.per_connection),
        ("… marginal, past the first tenth: (RSS all − RSS tenth) / rest", |m| m.marginal),
        ("… of which connected, before joining a room", |m| m.lobby),
    ];
    for (label, pick) in memory_rows {
        c.figure(out, label, |r| Some(pick(&memory(r, clients))), kib);
    }
    c.text(out, "server RSS: at start / tenth joined / all connected / all joined / after the load", rss_list);
    c.text(out, "server CPU during the paced run (cores)", |r| format!("{:.2}", r.paced.server_cpu));
    c.figure(
        out,
        "**server CPU per relayed message**, paced run",
        |r| Some(r.paced.server_cpu / r.paced.rate.max(1.0) * 1e6),
        micros,
    );
    c.text(out, "server CPU per relayed message, unpaced run", |r| {
        unpaced_per_message_us(r).map_or("–".into(), micros)
    });
    c.text(out, "load generator CPU during the paced run (cores)", |r| format!("{:.2}", r.paced.client_cpu));
    c.text(out, "other work on the machine during the paced run (cores; which try was kept)", |r| other(&r.paced));
    c.text(out, "other work on the machine during the light-load run (cores; which try was kept)", |r| {
        other(&r.latency)
    });
    c.text(out, "server / load generator / other CPU, unpaced run (cores; which try was kept)", |r| {
        r.unpaced.as_ref().map_or("–".into(), |u| format!("{:.2} / {:.2} / {}", u.server_cpu, u.client_cpu, other(u)))
    });
    c.text(out, "messages sent / received, paced run (whole phase)", |r| {
        let s = &r.paced.stats;
        format!("{} / {}", thousands(s.sent as f64), thousands(s.received as f64))
    });
    c.text(out, "**lost / out of order**, light load", |r| checks(&r.latency));
    c.text(out, "**lost / out of order**, paced run", |r| checks(&r.paced));
    c.text(out, "**lost / out of order**, unpaced run", |r| r.unpaced.as_ref().map_or("–".into(), checks));
    c.figure(out, "time to connect and join every client", |r| Some(r.connect_secs), |v| format!("{v:.1} s"));
}

/// Cores other work used, and which try of the phase this was.
fn other(result: &PhaseResult) -> String {
    format!("{:.2} (try {})", result.other_cpu, result.attempts)
}

fn rss_list(r: &Run) -> String {
    let [a, b, c, d] = r.rss;
    [a, b, c, d, r.rss_after].iter().map(|&v| mib(v)).collect::<Vec<_>>().join(" / ")
}

/// Moim next to the floor relay (src/bin/floor.rs): the same tokio and
/// tungstenite relaying raw frames, i.e. what this machine allows.
fn floor(out: &mut String, moim: Option<&Run>, floor: Option<&Result<Run, String>>, clients: usize) {
    let f = match floor {
        None => return,
        Some(Err(err)) => {
            let _ = writeln!(out, "The floor relay could not be measured: {err}.\n");
            return;
        }
        Some(Ok(run)) => run,
    };
    let _ = writeln!(
        out,
        "Against the floor, {} clients: a bare relay on Moim's stack (tokio, tungstenite; \
         `bench/src/bin/floor.rs`) that forwards each frame untouched to the other member: \
         no parsing, no sender stamp, no limits, no hub.\n",
        thousands(clients as f64)
    );
    let _ = writeln!(out, "| | Moim | floor relay | Moim / floor |\n|---|---:|---:|---:|");
    let c = Columns(moim, Some(f));
    c.figure(out, "relay latency p50, light load", |r| latency(&r.latency).p50, |v| us(Some(v)));
    c.figure(out, "relay latency p99, light load", |r| latency(&r.latency).p99, |v| us(Some(v)));
    c.figure(out, "relayed messages/s, unpaced", |r| r.unpaced.as_ref().map(|u| u.rate), thousands);
    c.figure(out, "server CPU per relayed message, unpaced run", unpaced_per_message_us, micros);
    c.figure(out, "server memory per idle connection", |r| Some(memory(r, clients).per_connection), kib);
    out.push('\n');
}

fn method(out: &mut String, settings: &Settings, runs: &[Outcome]) {
    let periods: Vec<String> = settings
        .sizes
        .iter()
        .filter_map(|&n| {
            find(runs, Proto::Moim, n)
                .or_else(|| find(runs, Proto::SocketIo, n))
                .and_then(|r| r.as_ref().ok())
                .map(|r| format!("{} ms at {}", r.latency_period.as_millis(), thousands(n as f64)))
        })
        .collect();
    let _ = writeln!(
        out,
        "How: each server runs alone as a child process (Moim: `target/release/moim --bind \
         127.0.0.1 --port 0 --max-connections-per-ip 0 --ice-server \"\" --room-capacity 2`; \
         Socket.io: `node target/bench/socketio/server.js`), started afresh for each client \
         count. The load generator (bench/src/load.rs: tokio + tokio-tungstenite, TCP_NODELAY \
         on its sockets, one task per room of two, which reads every frame already there \
         before it writes what they call for, in one flush per socket) opens and joins a tenth \
         of the pairs, reads \
         the server's VmRSS, opens the rest without joining, reads it, joins them, waits {:.1} s \
         and reads it again (the baseline is read {:.1} s after start, before any connection). \
         Every relayed message is an ICE candidate carrying a sequence number and the send \
         time (the monotonic clock of this one process) inside the candidate string; the \
         receiver checks that each direction's numbers arrive one after the other. \
         Light load: every pair connected, each pings once per period ({}) and the partner \
         answers at once, so never more than one message in flight per pair and about {} \
         relays a second in all, for at least {} s; both one-way relays are sampled. \
         Paced run: every client sends to its partner at ≤ {} msg/s (under Moim's default limit \
         of 50 a second per connection; the benchmark starts Moim with `--message-rate` and \
         `--message-burst` raised so the unpaced run is not refused), with at most min({}, {} / \
         clients) messages in flight per direction and {} per client; {:.1} s of warm-up, then \
         {:.1} s counted as messages received. Unpaced run: the same without \
         pacing, i.e. as fast as the server relays. After a phase the generator waits for \
         what is still in flight for as long as messages keep arriving (until {} s pass with \
         none, {} s at most); what never arrived is counted lost. A timed phase during which other work on the \
         machine used more than {:.2} cores (from /proc/stat) is run again, up to {} tries, \
         and the least disturbed try is reported.\n",
        settings.settle.as_secs_f64(),
        settings.settle.as_secs_f64(),
        periods.join(", "),
        thousands(settings.latency_rate),
        settings.latency_secs,
        settings.paced_rate,
        settings.window,
        thousands(f64::from(crate::IN_FLIGHT)),
        thousands(settings.cap as f64),
        settings.warm.as_secs_f64(),
        settings.measure.as_secs_f64(),
        crate::load::DRAIN.as_secs(),
        crate::load::DRAIN_MAX.as_secs(),
        settings.quiet,
        settings.attempts,
    );
}

/// Puts `generated` between the markers of `path`, keeping the rest; a file
/// without them gets a short header and the markers.
pub fn write_between(path: &Path, (begin_mark, end_mark): (&str, &str), generated: &str) -> Result<(), String> {
    let block = format!("{begin_mark}\n{generated}{end_mark}");
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let text = match (existing.find(begin_mark), existing.find(end_mark)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &existing[..begin], &existing[end + end_mark.len()..])
        }
        _ => format!(
            "# Benchmarks\n\nMoim's signaling server against a Socket.io 4 relay, measured by \
             `cargo xtask bench` (bench/).\n\n{block}\n"
        ),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}
