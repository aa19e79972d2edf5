//! The report of `bench --cluster`: the same pairs within one node and
//! across two, side by side, between the cluster markers of docs/BENCHMARKS.md.

use super::{latency, thousands, us, Facts};
use crate::cluster::Split;
use crate::{PhaseResult, Run, Settings};
use std::fmt::Write as _;

pub const BEGIN: &str = "<!-- cluster:begin (written by `cargo xtask bench cluster`; edit outside the markers) -->";
pub const END: &str = "<!-- cluster:end -->";

pub type Outcome = (usize, Split, Result<Run, String>);

/// What one phase says of delivery: each message once and in order.
fn delivery(result: &PhaseResult) -> String {
    let s = &result.stats;
    format!(
        "{} sent, {} received, {} lost, {} out of order or repeated, {} connections dropped",
        thousands(s.sent as f64),
        thousands(s.received as f64),
        s.lost,
        s.out_of_order,
        s.dead
    )
}

pub fn render(settings: &Settings, facts: &Facts, runs: &[Outcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Results, {}\n", facts.date);
    let _ = writeln!(
        out,
        "Command: `{}`{}. Machine: `nproc` = {}, {}; load average {} when the run began and {} when it \
         ended. Moim: {}. Two nodes (`--redis redis+unix://…`, `--node-id bench-1`/`bench-2`) and one \
         `redis-server` (no persistence), all on loopback; the servers' CPU is the two nodes' and Redis's \
         together.\n",
        settings.command,
        if settings.smoke { " (tiny CI-sized run)" } else { "" },
        facts.nproc,
        facts.cpu,
        facts.load,
        facts.load_after,
        facts.backend,
    );
    for &clients in &settings.sizes {
        let _ = writeln!(
            out,
            "#### {} clients ({} rooms of two)\n",
            thousands(clients as f64),
            thousands((clients / 2) as f64)
        );
        let found: Vec<(Split, &Result<Run, String>)> =
            runs.iter().filter(|(c, _, _)| *c == clients).map(|(_, split, run)| (*split, run)).collect();
        let _ = writeln!(
            out,
            "| pairs | light load p50 / p99 / p99.9 | paced: relayed msgs/s | per node | servers' CPU (cores) | paced p50 / p99 | delivery (paced) |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|");
        for (split, run) in &found {
            match run {
                Ok(run) => {
                    let light = latency(&run.latency);
                    let paced = latency(&run.paced);
                    let nodes = if *split == Split::Within { 1.0 } else { 2.0 };
                    let _ = writeln!(
                        out,
                        "| {} | {} / {} / {} | {} | {} | {:.2} | {} / {} | {} |",
                        split.name(),
                        us(light.p50),
                        us(light.p99),
                        us(light.p999),
                        thousands(run.paced.rate),
                        thousands(run.paced.rate / nodes),
                        run.paced.server_cpu,
                        us(paced.p50),
                        us(paced.p99),
                        delivery(&run.paced),
                    );
                }
                Err(err) => {
                    let _ = writeln!(out, "| {} | could not be measured: {err} | | | | | |", split.name());
                }
            }
        }
        let p50 = |split: Split| {
            found
                .iter()
                .find(|(s, _)| *s == split)
                .and_then(|(_, r)| r.as_ref().ok())
                .and_then(|r| latency(&r.latency).p50)
        };
        if let (Some(within), Some(across)) = (p50(Split::Within), p50(Split::Across)) {
            let _ = writeln!(
                out,
                "\nThe hop across nodes adds **{:.0} µs** at the median under light load ({} against {}; target ≤ 500 µs).\n",
                across - within,
                us(Some(across)),
                us(Some(within)),
            );
        } else {
            out.push('\n');
        }
    }
    out
}
