//! The Markdown report: the machine, one row per server and point, the
//! anchors and the targets.

use crate::point::{Measured, Point, Server};
use crate::{janus, Settings};
use std::process::Command;

const BEGIN: &str = "<!-- sfu:begin (written by `cargo xtask bench sfu`; edit outside the markers) -->";
const END: &str = "<!-- sfu:end -->";

pub struct Facts {
    date: String,
    machine: String,
    load_before: String,
    backend: String,
    janus: String,
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

impl Facts {
    pub fn gather(settings: &Settings) -> Facts {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model =
            cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']));
        let root = settings.scratch.parent().and_then(|p| p.parent()).and_then(|p| p.parent());
        let commit = root.map(|r| output("git", &["-C", &r.to_string_lossy(), "rev-parse", "--short", "HEAD"]));
        let dirty = root.map(|r| output("git", &["-C", &r.to_string_lossy(), "status", "--porcelain"]));
        Facts {
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            // `--all`: the bot's own threads may be pinned to one (`--pin`).
            machine: format!(
                "`nproc --all` = {}{}, {}",
                output("nproc", &["--all"]),
                if settings.pin { " (servers pinned to core 0, the bot to core 1)" } else { "" },
                model.unwrap_or("unknown CPU")
            ),
            load_before: load_average(),
            backend: format!(
                "{} at commit {}{}",
                settings.backend.display(),
                commit.unwrap_or_default(),
                if dirty.is_some_and(|d| !d.is_empty()) { " with uncommitted changes" } else { "" }
            ),
            janus: janus::version().unwrap_or_else(|| "not installed".into()),
        }
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}"))
}

fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn one_line(m: &Measured, point: Point) -> String {
    format!(
        "{} pkt/s ({:.1} sent per publisher), {:.1} Mbit/s, loss {:.2}%, delay p50 {} / p99 {} ms, server {:.2} cores, bot {:.2}, other {:.2}; \
         {} PeerConnections up in {:.1} s{}",
        thousands(m.packets_per_sec()),
        m.sent_per_publisher(point),
        m.mbps(),
        m.loss() * 100.0,
        ms(m.percentile_ms(0.5)),
        ms(m.percentile_ms(0.99)),
        m.server_cpu,
        m.bot_cpu,
        m.other_cpu,
        m.sessions,
        m.setup_secs,
        if m.errors.is_empty() { String::new() } else { format!("; {}", m.errors.join("; ")) }
    )
}

fn row(server: Server, point: Point, result: &Result<Measured, String>, notes: &mut Vec<String>) -> String {
    let pcs = result.as_ref().map(|m| format!(" ({} PCs)", m.sessions)).unwrap_or_default();
    let head = format!("| {} × {} | {}{pcs} |", point.publishers, point.subscribers, server.name());
    let m = match result {
        Ok(m) => m,
        Err(e) => {
            notes.push(format!("{} at {} × {}: {e}", server.name(), point.publishers, point.subscribers));
            return format!("{head} failed ({}) | | | | | | | | |", notes.len());
        }
    };
    let per_core = if m.server_cpu > 0.01 { thousands(m.packets_per_sec() / m.server_cpu) } else { "–".into() };
    let members = point.members() as f64;
    let rss = (m.rss_loaded_kib as f64 - m.rss_start_kib as f64) / members;
    let mut mark = String::new();
    if !m.errors.is_empty() {
        notes.push(format!(
            "{} at {} × {}: {}",
            server.name(),
            point.publishers,
            point.subscribers,
            m.errors.join("; ")
        ));
        mark = format!(" ({})", notes.len());
    }
    format!(
        "{head} {}{mark} | {:.0} | {:.1} | {:.2} | **{per_core}** | {} KiB | {} / {} | {:.2}% | {:.2} / {:.2} |",
        thousands(m.packets_per_sec()),
        m.sent_per_publisher(point),
        m.mbps(),
        m.server_cpu,
        thousands(rss.max(0.0)),
        ms(m.percentile_ms(0.5)),
        ms(m.percentile_ms(0.99)),
        m.loss() * 100.0,
        m.bot_cpu,
        m.other_cpu,
    )
}

pub fn render(
    settings: &Settings,
    facts: &Facts,
    results: &[(Server, Point, Result<Measured, String>)],
    extra: &[String],
) -> String {
    let mut out = String::new();
    out.push_str(&format!("### Results, {}\n\n", facts.date));
    out.push_str(&format!(
        "Command: `{}`. Machine: {}; load average {} when the run began, {} when it ended (the cores are shared with \
         other work: builds, browser tests). Moim: {} (`--sfu-from 2`). Janus: {} (Debian), videoroom, HTTP API. \
         Each point: a fresh server, {:.0} s counted after {:.0} s of warm-up.\n\n",
        settings.command,
        facts.machine,
        facts.load_before,
        load_average(),
        facts.backend,
        facts.janus,
        settings.measure.as_secs_f64(),
        settings.warm.as_secs_f64(),
    ));
    out.push_str(
        "| publishers × subscribers | server | **forwarded packets/s** | sent/s per publisher | Mbit/s | \
         server CPU (cores) | **packets/s per server core** | server RSS per member | delay p50 / p99 (ms) | loss | \
         bot / other CPU (cores) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut notes = Vec::new();
    for (server, point, result) in results {
        out.push_str(&row(*server, *point, result, &mut notes));
        out.push('\n');
    }
    out.push('\n');
    for (i, note) in notes.iter().enumerate() {
        out.push_str(&format!("({}) {note}\n", i + 1));
    }
    for note in extra {
        out.push_str(&format!("{note}\n"));
    }
    if !notes.is_empty() || !extra.is_empty() {
        out.push('\n');
    }
    out.push_str(&targets(settings, results));
    out
}

fn targets(settings: &Settings, results: &[(Server, Point, Result<Measured, String>)]) -> String {
    let best = |server: Server| {
        results
            .iter()
            .filter(|(s, _, _)| *s == server)
            .filter_map(|(_, p, r)| r.as_ref().ok().filter(|m| m.within(settings)).map(|m| (p, m)))
            .max_by(|a, b| a.1.packets_per_sec().total_cmp(&b.1.packets_per_sec()))
    };
    let describe = |server: Server| match best(server) {
        Some((p, m)) => format!(
            "{} forwarded packets/s at {} × {} ({} per server core)",
            thousands(m.packets_per_sec()),
            p.publishers,
            p.subscribers,
            if m.server_cpu > 0.01 { thousands(m.packets_per_sec() / m.server_cpu) } else { "–".into() }
        ),
        None => "no point within the limits".into(),
    };
    format!(
        "Most within the limits (loss ≤ {:.0}%, p99 ≤ {:.0} ms): Moim {}; Janus {}. \
         Anchors (published, other machines): LiveKit 38–75k forwarded packets/s per vCPU; mediasoup about 500 \
         consumers per core. Target: ≥ 50,000 forwarded packets/s per core at < 1% loss, and not behind Janus.\n",
        settings.max_loss * 100.0,
        settings.max_p99_ms,
        describe(Server::Moim),
        describe(Server::Janus),
    )
}

/// Writes the report to `settings.out` and, for a full run, between the
/// markers in docs/BENCHMARKS.md (which must already hold them).
pub fn write(settings: &Settings, markdown: &str) -> Result<(), String> {
    if let Some(dir) = settings.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&settings.out, markdown).map_err(|e| format!("{}: {e}", settings.out.display()))?;
    eprintln!("sfu_bench: wrote {}", settings.out.display());
    let Some(docs) = &settings.docs else { return Ok(()) };
    let text = std::fs::read_to_string(docs).map_err(|e| format!("{}: {e}", docs.display()))?;
    let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
        eprintln!("sfu_bench: no sfu markers in {}; left it alone", docs.display());
        return Ok(());
    };
    let updated = format!("{}{BEGIN}\n{markdown}{}", &text[..a], &text[b..]);
    std::fs::write(docs, updated).map_err(|e| format!("{}: {e}", docs.display()))?;
    eprintln!("sfu_bench: wrote {}", docs.display());
    Ok(())
}
