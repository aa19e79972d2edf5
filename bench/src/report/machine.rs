//! The machine and the software a run measured on: the report's opening facts.

use crate::{Placement, Settings};
use std::path::Path;
use std::process::Command;

/// The machine and the software, as they were for this run.
pub struct Facts {
    pub date: String,
    pub nproc: String,
    pub cpu: String,
    pub memory: String,
    pub kernel: String,
    pub load: String,
    pub rustc: String,
    pub node: String,
    pub socketio: String,
    pub placement: String,
    pub backend: String,
    pub load_after: String,
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn proc_field(file: &str, key: &str) -> String {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Which backend: the default build names the commit and whether the work
/// tree differed from it; another binary is named by its path.
fn backend_source(settings: &Settings, root: &Path, backend: &Path) -> String {
    if settings.backend.is_some() {
        return format!("the backend binary `{}`", backend.display());
    }
    let commit = output("git", &["-C", &root.to_string_lossy(), "rev-parse", "--short", "HEAD"]);
    let dirty = output(
        "git",
        &["-C", &root.to_string_lossy(), "status", "--porcelain", "--", "backend", "shared", "Cargo.lock"],
    );
    if dirty.is_empty() {
        format!("the backend built from commit {commit}")
    } else {
        format!("the backend built from commit {commit} plus uncommitted changes in backend/ or shared/")
    }
}

impl Facts {
    /// The load average once the run is over.
    pub fn finished(&mut self) {
        self.load_after = load_average();
    }

    pub fn gather(settings: &Settings, root: &Path, backend: &Path, placement: &Placement) -> Self {
        let placement = match placement.server_cpu {
            Some(cpu) => format!(
                "server pinned to CPU {cpu}, load generator to CPU {:?} (sched_setaffinity)",
                placement.client_cpus
            ),
            None if settings.pin => "not pinned: fewer than two CPUs".into(),
            None => "not pinned: the kernel places the server and the load generator on the \
                     cores as it would in production (`--pin` pins them apart)"
                .into(),
        };
        Self {
            date: today(),
            nproc: output("nproc", &[]),
            cpu: proc_field("/proc/cpuinfo", "model name"),
            memory: proc_field("/proc/meminfo", "MemTotal"),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".into()),
            load: load_average(),
            load_after: String::new(),
            backend: backend_source(settings, root, backend),
            rustc: output("rustc", &["-V"]),
            node: output("node", &["--version"]),
            socketio: crate::servers::socketio_version(root).unwrap_or_else(|e| e),
            placement,
        }
    }
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // Howard Hinnant's civil_from_days.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
