//! The servers as child processes, and what /proc says about them.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use crate::proc_stats::{cpu_seconds, machine_busy_seconds, rss_kib};

/// The kernel's UDP RcvbufErrors and SndbufErrors so far (/proc/net/snmp):
/// datagrams dropped because a socket's buffer was full, machine-wide.
pub fn udp_buffer_errors() -> (u64, u64) {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else { return (0, 0) };
    let field = |wanted: &str| {
        names
            .split_whitespace()
            .position(|n| n == wanted)
            .and_then(|i| values.split_whitespace().nth(i))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("RcvbufErrors"), field("SndbufErrors"))
}

/// SIGTERM, then SIGKILL if `child` has not exited within five seconds.
pub fn terminate(child: &mut Child, pid: u32) {
    // SAFETY: signalling our own child by its pid.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    for _ in 0..50 {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Moim's backend with every room on the SFU.
pub struct Backend {
    child: Child,
    pub pid: u32,
    pub port: u16,
}

/// A UDP port free on 127.0.0.1 now, for the SFU's media.
fn free_udp_port() -> Result<u16, String> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(socket.local_addr().map_err(|e| e.to_string())?.port())
}

impl Backend {
    /// Starts `binary` on an ephemeral port with rooms of up to `capacity`,
    /// all on the SFU, its media on 127.0.0.1; stderr goes to `log`.
    /// `pin`: on the servers' core ([`crate::pin`]).
    pub fn start(binary: &Path, capacity: usize, log: &Path, pin: bool) -> Result<Backend, String> {
        let media_port = free_udp_port()?.to_string();
        let capacity = capacity.to_string();
        let mut cmd = Command::new(binary);
        cmd.args(["--bind", "127.0.0.1", "--port", "0", "--max-connections-per-ip", "0", "--ice-server", ""])
            .args(["--room-capacity", &capacity, "--message-rate", "1000000", "--message-burst", "1000000"])
            .args(["--sfu-from", "2", "--media-port", &media_port, "--media-address", "127.0.0.1"]);
        let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(stderr);
        if pin {
            crate::pin::server(&mut cmd);
        }
        let mut child = cmd.spawn().map_err(|e| format!("could not start {}: {e}", binary.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the port line, then keeps the pipe drained.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("running at") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line);
                    }
                }
            }
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            terminate(&mut child, pid);
            return Err(format!("the backend printed no address within a minute; see {}", log.display()));
        };
        let port = crate::printed_port::printed_port(&line)?;
        Ok(Backend { child, pid, port })
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stop(&mut self) {
        terminate(&mut self.child, self.pid);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if self.alive() {
            self.stop();
        }
    }
}
