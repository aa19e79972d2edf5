//! The real `moim` binary, for what only a process of its own shows:
//! its memory, from /proc.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `moim` binary on 127.0.0.1 and an ephemeral port, killed on drop
/// (a failing test included).
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// With `args` after the address, no ICE servers and no web app.
    pub fn start(args: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_moim"));
        command
            .args(["--bind", "127.0.0.1", "--port", "0", "--ice-server", "", "--dist", "/nonexistent/moim-dist"])
            .args(args)
            // Warnings only: an info line per connection would cost more than the relaying.
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // The flags above, not whatever MOIM_* the environment holds.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MOIM_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("cannot start the backend binary");
        let stdout = child.stdout.take().expect("piped");
        // Keep reading stdout, so the server never blocks on a full pipe; its
        // warnings show with the test's output.
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = line
                    .split_once("Moim is running at http://localhost:")
                    .and_then(|(_, rest)| rest.trim().parse::<u16>().ok());
                match (port, port_tx.take()) {
                    (Some(port), Some(tx)) => {
                        let _ = tx.send(port);
                    }
                    (_, tx) => {
                        port_tx = tx;
                        eprintln!("[server] {line}");
                    }
                }
            }
        });
        let mut server = Server { child, port: 0 };
        server.port = match port_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => port,
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                panic!("the server did not say its port within 30 s (exit status {status:?})")
            }
        };
        server
    }

    /// Sends SIGTERM, as a service manager stopping it would.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM failed");
    }

    /// Kills it at once (SIGKILL), as a crash or a pulled plug would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it exits (successfully) within `limit`.
    pub fn exited_within(&mut self, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, from /proc (Linux only, like the deployment).
    pub fn rss_bytes(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in {path}"));
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A server that died explains every client error at once.
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!("the server had exited: {status}");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
