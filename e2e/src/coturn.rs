//! A real TURN server for the tests: Debian's coturn (`cargo xtask setup
//! --browsers` installs it), on 127.0.0.1 only, with a secret shared with
//! Moim (`use-auth-secret`, what `--turn-secret` speaks), and a log the tests
//! read to see that it relayed.

use crate::Result;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub const SECRET: &str = "moim-e2e-turn-secret";

pub struct Coturn {
    pub port: u16,
    log: PathBuf,
    scratch: PathBuf,
    _child: Child,
}

impl Coturn {
    pub async fn start() -> Result<Self> {
        let port = crate::free_port().await?;
        let scratch = std::env::temp_dir().join(format!("moim-coturn-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&scratch)?;
        let log = scratch.join("turnserver.log");
        let binary = std::env::var("TURNSERVER").unwrap_or_else(|_| "/usr/bin/turnserver".into());
        let child = Command::new(&binary)
            .arg("-n") // no config file: everything is on this line
            .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"])
            .args(["--listening-port", &port.to_string()])
            .args(["--use-auth-secret", "--static-auth-secret", SECRET, "--realm", "moim.test"])
            // Its peers (browsers, Moim's media server) are on loopback too.
            .arg("--allow-loopback-peers")
            .args(["--no-tls", "--no-dtls", "--no-cli", "--no-multicast-peers", "--fingerprint"])
            .args(["--verbose", "--simple-log", "--log-file"])
            .arg(&log)
            .arg("--pidfile")
            .arg(scratch.join("turnserver.pid"))
            .arg("--userdb")
            .arg(scratch.join("turndb"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e} (run `cargo xtask setup --browsers`)"))?;
        let what = format!("coturn (its log: {})", log.display());
        crate::until_listening(port, &what).await?;
        Ok(Self { port, log, scratch, _child: child })
    }

    /// `--turn-secret`/`--turn-url` for Moim: credentials per member that
    /// this coturn verifies.
    pub fn rest(&self) -> backend::turn::TurnRest {
        backend::turn::TurnRest {
            urls: vec![format!("turn:127.0.0.1:{}?transport=udp", self.port)],
            secret: SECRET.into(),
            ttl: Duration::from_secs(3600),
        }
    }

    /// Relay allocations it granted so far.
    pub fn allocations(&self) -> usize {
        self.log_text().matches("ALLOCATE processed, success").count()
    }

    /// Permissions it granted, one per peer address a client relays to.
    pub fn permissions(&self) -> usize {
        self.log_text().matches("CREATE_PERMISSION processed, success").count()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        // `kill_on_drop` stops it; its folder (log, pid) goes with it.
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
