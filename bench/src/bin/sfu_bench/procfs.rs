//! The servers as child processes, and what /proc says about them.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of `pid` (or "self"), all its threads, in seconds.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; `rest` starts at field 3.
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok())).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 / hz as f64
}

/// CPU seconds all cores together spent busy since boot (/proc/stat).
pub fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let busy: u64 = fields.iter().take(8).enumerate().filter(|&(i, _)| i != 3 && i != 4).map(|(_, v)| v).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    busy as f64 / hz as f64
}

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
    pub fn start(binary: &Path, capacity: usize, log: &Path) -> Result<Backend, String> {
        let media_port = free_udp_port()?.to_string();
        let capacity = capacity.to_string();
        let mut cmd = Command::new(binary);
        cmd.args(["--bind", "127.0.0.1", "--port", "0", "--max-connections-per-ip", "0", "--ice-server", ""])
            .args(["--room-capacity", &capacity, "--message-rate", "1000000", "--message-burst", "1000000"])
            .args(["--sfu-from", "2", "--media-port", &media_port, "--media-address", "127.0.0.1"]);
        let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(stderr);
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
        // "… running at http://localhost:PORT": the digits after the last colon.
        let port = line
            .rsplit(':')
            .next()
            .map(|p| p.trim_start().chars().take_while(char::is_ascii_digit).collect::<String>())
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("no port in {line:?}"))?;
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
