//! The targets for Moim, each met or not, as the report's targets table.

use super::{find, kib, latency, memory, thousands, us, Outcome};
use crate::load::Proto;
use crate::Settings;
use std::fmt::Write as _;

const LATENCY_P50_US: f64 = 50.0;
const LATENCY_P99_US: f64 = 150.0;
const THROUGHPUT_RATIO: f64 = 5.0;
const MEMORY_KIB: f64 = 10.0;
/// A paced run that relays this share of its offer relayed all of it.
const OFFER_RELAYED: f64 = 0.99;

fn verdict(met: Option<bool>, value: String) -> String {
    match met {
        Some(true) => format!("met ({value})"),
        Some(false) => format!("**not met** ({value})"),
        None => "not measured".into(),
    }
}

pub(super) fn targets(out: &mut String, settings: &Settings, runs: &[Outcome]) {
    let _ = writeln!(out, "### Targets (Moim)\n");
    let mut header = "| target |".to_owned();
    let mut rule = "|---|".to_owned();
    for &clients in &settings.sizes {
        let _ = write!(header, " {} clients |", thousands(clients as f64));
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let moim = |n| find(runs, Proto::Moim, n).and_then(|r| r.as_ref().ok());
    let sio = |n| find(runs, Proto::SocketIo, n).and_then(|r| r.as_ref().ok());

    let mut line = format!("| relay latency p50 ≤ {LATENCY_P50_US} µs, light load |");
    for &n in &settings.sizes {
        let p = moim(n).and_then(|r| latency(&r.latency).p50);
        let _ = write!(line, " {} |", verdict(p.map(|v| v <= LATENCY_P50_US), us(p)));
    }
    let _ = writeln!(out, "{line}");
    let mut line = format!("| relay latency p99 ≤ {LATENCY_P99_US} µs, light load |");
    for &n in &settings.sizes {
        let p = moim(n).and_then(|r| latency(&r.latency).p99);
        let _ = write!(line, " {} |", verdict(p.map(|v| v <= LATENCY_P99_US), us(p)));
    }
    let _ = writeln!(out, "{line}");
    let mut line = format!("| throughput ≥ {THROUGHPUT_RATIO}× Socket.io, both paced alike |");
    for &n in &settings.sizes {
        let offered = settings.paced_rate * n as f64;
        let cell = match moim(n).zip(sio(n)) {
            // Relaying all that was offered shows no ceiling: the ratio is
            // the offer's over Socket.io's, whatever Moim could do.
            Some((m, s)) if m.paced.rate >= OFFER_RELAYED * offered => format!(
                "bound by the offer (≥ {:.2}×: Moim relayed all {} msg/s; see unpaced)",
                m.paced.rate / s.paced.rate.max(1e-9),
                thousands(offered)
            ),
            pair => {
                let r = pair.map(|(m, s)| m.paced.rate / s.paced.rate.max(1e-9));
                verdict(r.map(|v| v >= THROUGHPUT_RATIO), format!("{:.2}×", r.unwrap_or(0.0)))
            }
        };
        let _ = write!(line, " {cell} |");
    }
    let _ = writeln!(out, "{line}");
    let mut line = format!("| throughput ≥ {THROUGHPUT_RATIO}× Socket.io's, both unpaced |");
    for &n in &settings.sizes {
        let r =
            moim(n).zip(sio(n)).and_then(|(m, s)| Some(m.unpaced.as_ref()?.rate / s.unpaced.as_ref()?.rate.max(1e-9)));
        let _ = write!(line, " {} |", verdict(r.map(|v| v >= THROUGHPUT_RATIO), format!("{:.2}×", r.unwrap_or(0.0))));
    }
    let _ = writeln!(out, "{line}");
    let mut line = format!("| ≤ {MEMORY_KIB} KiB server memory per idle connection |");
    for &n in &settings.sizes {
        let v = moim(n).map(|r| memory(r, n).per_connection);
        let _ = write!(line, " {} |", verdict(v.map(|v| v <= MEMORY_KIB), v.map_or(String::new(), kib)));
    }
    let _ = writeln!(out, "{line}\n");
}
