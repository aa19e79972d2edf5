//! The two servers as child processes, and what /proc says about them.

use crate::load::Proto;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Socket.io version installed from npm, read from our package.json.
pub fn socketio_version(root: &Path) -> Result<String, String> {
    let manifest = root.join("bench/socketio/package.json");
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("reading {}: {e}", manifest.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    json["dependencies"]["socket.io"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} names no socket.io", manifest.display()))
}

/// Copies `bench/socketio` into `scratch` and installs socket.io there from
/// npm, unless the pinned version is already installed. Returns server.js.
pub fn prepare_socketio(root: &Path, scratch: &Path) -> Result<PathBuf, String> {
    let version = socketio_version(root)?;
    std::fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    for file in ["package.json", "server.js"] {
        let from = root.join("bench/socketio").join(file);
        std::fs::copy(&from, scratch.join(file)).map_err(|e| format!("copying {}: {e}", from.display()))?;
    }
    let installed = std::fs::read_to_string(scratch.join("node_modules/socket.io/package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|j| j["version"].as_str().map(str::to_owned));
    if installed.as_deref() != Some(version.as_str()) {
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--prefix"]).arg(scratch);
        eprintln!("bench: running {npm:?}");
        let status = npm.status().map_err(|e| format!("could not run npm (Node.js and npm are needed): {e}"))?;
        if !status.success() {
            return Err(format!("npm install failed ({status})"));
        }
    }
    Ok(scratch.join("server.js"))
}

pub struct Server {
    child: Child,
    pub pid: u32,
    pub port: u16,
}

/// Starts `proto`'s server on an ephemeral loopback port, pinned to `cpu`
/// if given, and waits for the line that names its port. Its stderr goes to
/// `log`.
pub fn start(proto: Proto, backend: &Path, socketio: &Path, cpu: Option<usize>, log: &Path) -> Result<Server, String> {
    start_with(proto, backend, socketio, cpu, log, &[])
}

/// [`start`], with `extra` flags for Moim (a cluster node's `--redis` and `--node-id`).
pub fn start_with(
    proto: Proto,
    backend: &Path,
    socketio: &Path,
    cpu: Option<usize>,
    log: &Path,
    extra: &[String],
) -> Result<Server, String> {
    let mut cmd = match proto {
        Proto::Moim => {
            let mut cmd = Command::new(backend);
            cmd.args([
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--max-connections-per-ip",
                "0",
                "--ice-server",
                "",
                "--room-capacity",
                "2",
                // The relay is measured: rooms stay a mesh.
                "--sfu-from",
                "0",
                // The default 50 a second would refuse the unpaced run.
                "--message-rate",
                "1000000",
                "--message-burst",
                "1000000",
            ]);
            cmd.args(extra);
            cmd
        }
        // Built beside this binary (src/bin/floor.rs).
        Proto::Floor => Command::new(
            std::env::current_exe().map_err(|e| format!("where is the bench binary? {e}"))?.with_file_name("floor"),
        ),
        Proto::SocketIo => {
            let mut cmd = Command::new("node");
            cmd.arg(socketio).env("PORT", "0");
            cmd
        }
    };
    let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(stderr);
    if let Some(cpu) = cpu {
        use std::os::unix::process::CommandExt;
        // SAFETY: sched_setaffinity is a plain system call, safe between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                crate::pin_to(&[cpu]);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(|e| format!("could not start {:?}: {e}", cmd.get_program()))?;
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the port line, then keeps the pipe drained.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut tx = Some(tx);
        while let Some(Ok(line)) = lines.next() {
            if line.contains("running at") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line);
                }
            }
        }
    });
    let line = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            return Err(format!("{proto:?} printed no address within a minute; see {}", log.display()));
        }
    };
    let port = crate::printed_port::printed_port(&line)?;
    Ok(Server { child, pid, port })
}

impl Server {
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then SIGKILL if it has not exited within five seconds.
    pub fn stop(mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        for _ in 0..50 {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub use crate::proc_stats::{cpu_seconds, machine_busy_seconds, rss_kib};
