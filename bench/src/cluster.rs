//! `bench --cluster` (`cargo xtask bench cluster`): two Moim nodes sharing
//! rooms through one `redis-server`, all on loopback. The same pairs as the
//! relay benchmark, rooms of two, measured twice in one run: both members
//! on one node, then each pair split across the nodes, so what the hop
//! through Redis adds is read side by side.

use crate::load::Proto;
use crate::run::{self, Run, Target};
use crate::servers::{self, Server};
use crate::settings::Settings;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// Where a pair's two members are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Both on the first node (which holds their room).
    Within,
    /// One on each node: everything one says to the other crosses Redis.
    Across,
}

impl Split {
    pub const BOTH: [Split; 2] = [Split::Within, Split::Across];

    pub fn name(self) -> &'static str {
        match self {
            Split::Within => "both members on one node",
            Split::Across => "members on different nodes",
        }
    }
}

/// A `redis-server` on a unix socket in `dir`, keeping nothing on disk.
struct Redis {
    child: Child,
    socket: PathBuf,
}

impl Redis {
    fn start(dir: &Path) -> Result<Self, String> {
        if !Path::new(REDIS_SERVER).exists() {
            return Err(format!("{REDIS_SERVER} is missing: `cargo xtask setup --browsers` installs it"));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let socket = dir.join("redis.sock");
        let _ = std::fs::remove_file(&socket);
        let child = Command::new(REDIS_SERVER)
            .args(["--port", "0", "--save", "", "--appendonly", "no", "--unixsocketperm", "700"])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {REDIS_SERVER}: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if Instant::now() > deadline {
                return Err("redis-server made no socket within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { child, socket })
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One measurement of `clients` clients with their pairs placed by `split`.
pub async fn run_one(
    clients: usize,
    split: Split,
    settings: &Settings,
    backend: &Path,
    scratch: &Path,
) -> Result<Run, String> {
    let redis = Redis::start(&scratch.join("redis"))?;
    let mut nodes = Vec::new();
    for id in ["bench-1", "bench-2"] {
        let extra = [String::from("--redis"), redis.url(), String::from("--node-id"), id.to_owned()];
        let log = scratch.join(format!("{id}-{clients}.log"));
        let node = servers::start_with(Proto::Moim, backend, Path::new(""), None, &log, &extra)?;
        nodes.push(node);
    }
    // Redis's CPU counts with the servers': it carries every crossing message.
    let mut pids: Vec<u32> = nodes.iter().map(|n| n.pid).collect();
    pids.push(redis.child.id());
    let ports = match split {
        Split::Within => (nodes[0].port, nodes[0].port),
        Split::Across => (nodes[0].port, nodes[1].port),
    };
    let (first, second) = nodes.split_at_mut(1);
    let target = Target { ports, pids, servers: vec![&mut first[0], &mut second[0]] };
    let result = run::drive(Proto::Moim, clients, settings, target).await;
    for node in nodes {
        tokio::task::spawn_blocking(move || Server::stop(node)).await.map_err(|e| e.to_string())?;
    }
    drop(redis);
    result
}
