//! `bench`: Moim's backend against a Socket.io 4 relay written like the
//! classic tutorial's server.js, side by side in one run on loopback, driven
//! by the same native load generator. Run it with `cargo xtask bench`
//! (`--smoke` for a tiny run); see docs/BENCHMARKS.md.

// The benchmark pins threads to cores and reads CPU ticks through libc
// (each call says why it is sound); nothing else in the workspace may.
#![allow(unsafe_code)]

mod cluster;
mod load;
mod percentile;
mod printed_port;
mod proc_stats;
mod report;
mod run;
mod servers;
mod settings;

use load::Proto;
pub use run::{PhaseResult, Run};
pub use settings::{window, Settings, IN_FLIGHT};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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

/// `--cluster`: each size with its pairs within one node, then across two.
fn run_cluster(
    settings: &Settings,
    root: &std::path::Path,
    backend: &std::path::Path,
    scratch: &std::path::Path,
) -> ExitCode {
    let placement = Placement { server_cpu: None, client_cpus: allowed_cpus() };
    let mut facts = report::Facts::gather(settings, root, backend, &placement);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime");
    let mut runs = Vec::new();
    for &clients in &settings.sizes {
        for split in cluster::Split::BOTH {
            eprintln!("bench: two nodes, {clients} clients, {}", split.name());
            let run = runtime.block_on(cluster::run_one(clients, split, settings, backend, scratch));
            if let Err(err) = &run {
                eprintln!("bench: {} failed: {err}", split.name());
            }
            runs.push((clients, split, run));
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    facts.finished();
    let markdown = report::cluster::render(settings, &facts, &runs);
    let failed = runs.iter().any(|(_, _, r)| r.is_err());
    publish(settings, (report::cluster::BEGIN, report::cluster::END), &markdown, failed)
}

/// Prints the report, writes it between `markers` of the report file, and
/// fails if writing did or a measurement did.
fn publish(settings: &Settings, markers: (&str, &str), markdown: &str, failed: bool) -> ExitCode {
    println!("{markdown}");
    if let Err(err) = report::write_between(&settings.out, markers, markdown) {
        eprintln!("bench: {err}");
        return ExitCode::FAILURE;
    }
    eprintln!("bench: wrote {}", settings.out.display());
    if failed {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let settings = match settings::parse_args() {
        Ok(s) => s,
        Err(message) => {
            eprintln!("bench: {message}");
            return ExitCode::FAILURE;
        }
    };
    let root = settings::root();
    let backend = settings.backend.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("moim")))
            .filter(|b| b.is_file())
            .unwrap_or_else(|| root.join("target/release/moim"))
    });
    if settings.servers.contains(&Proto::Moim) && !backend.is_file() {
        eprintln!("bench: no {}; build it first: cargo build --release -p backend", backend.display());
        return ExitCode::FAILURE;
    }
    let scratch = root.join("target/bench");
    if settings.cluster {
        return run_cluster(&settings, &root, &backend, &scratch.join("cluster"));
    }
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
            let run = runtime.block_on(run::run_one(
                proto,
                clients,
                &settings,
                &backend,
                &socketio,
                placement.server_cpu,
                &log,
            ));
            if let Err(err) = &run {
                eprintln!("bench: {} with {clients} clients failed: {err}", report::name(proto));
            }
            runs.push((proto, clients, run));
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    facts.finished();

    let markdown = report::render(&settings, &facts, &root, &runs);
    let failed = runs.iter().any(|(_, _, r)| r.is_err());
    publish(&settings, (report::BEGIN, report::END), &markdown, failed)
}
