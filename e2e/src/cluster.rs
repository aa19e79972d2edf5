//! Moim as an operator with two machines runs it: two `moim` processes
//! (the real binary) sharing rooms through a `redis-server`, behind one
//! nginx with one public address. All on 127.0.0.1, started and stopped by
//! the test; `cargo xtask setup --browsers` installs redis-server and nginx.

use crate::Result;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The `moim` binary: `MOIM_BINARY`, else the workspace's debug build
/// (`cargo xtask test` builds it before the e2e tests).
fn moim_binary() -> Result<PathBuf> {
    let binary = std::env::var_os("MOIM_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/debug/moim"));
    if !binary.is_file() {
        return Err(
            format!("no {}: build it with `cargo build -p backend` (or set MOIM_BINARY)", binary.display()).into()
        );
    }
    Ok(binary)
}

fn scratch(what: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("moim-e2e-{what}-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// A `redis-server` on a unix socket, keeping nothing on disk.
pub struct Redis {
    dir: PathBuf,
    _child: Child,
}

impl Redis {
    pub async fn start() -> Result<Self> {
        let dir = scratch("redis")?;
        let socket = dir.join("redis.sock");
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "/usr/bin/redis-server".into());
        let child = Command::new(&binary)
            .args(["--port", "0", "--save", "", "--appendonly", "no", "--unixsocketperm", "700"])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e} (run `cargo xtask setup --browsers`)"))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if std::time::Instant::now() > deadline {
                return Err("redis-server made no socket within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Self { dir, _child: child })
    }

    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.dir.join("redis.sock").display())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One `moim` process of the cluster, serving `MOIM_DIST`.
pub struct Node {
    pub id: String,
    pub port: u16,
    child: Child,
}

impl Node {
    pub async fn start(redis: &Redis, id: &str) -> Result<Self> {
        let dist = crate::config(2)?.web_app;
        let backend::static_files::WebApp::Folder(dist) = dist else { return Err("e2e serves a folder".into()) };
        let mut command = Command::new(moim_binary()?);
        command
            .args(["--bind", "127.0.0.1", "--port", "0", "--ice-server", "", "--sfu-from", "0", "--no-qr"])
            // Behind the proxy every page has its address.
            .args(["--max-connections-per-ip", "0", "--redis", &redis.url(), "--node-id", id, "--drain-secs", "5"])
            .arg("--dist")
            .arg(dist)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MOIM_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn()?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(port) =
                    line.split_once("running at http://localhost:").and_then(|(_, p)| p.trim().parse().ok())
                {
                    return Ok::<u16, std::io::Error>(port);
                }
            }
            Err(std::io::Error::other("it ended before saying its port"))
        })
        .await
        .map_err(|_| format!("node {id} did not say its port within 30 s"))??;
        // Keep reading, so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { id: id.to_owned(), port, child })
    }

    /// SIGKILL: the machine died.
    pub async fn kill(&mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// SIGTERM, as a service manager stopping it for an upgrade; waits for it to exit.
    pub async fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        let pid = self.child.id().ok_or("already exited")?;
        Command::new("kill").args(["-TERM", &pid.to_string()]).status().await?;
        Ok(tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.map_err(|_| "did not exit")??)
    }

    /// A figure from its `/metrics`.
    pub async fn metric(&self, name: &str) -> Result<u64> {
        let text = crate::http_get(self.port, "/metrics").await?;
        let value = text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')).ok_or(format!("no {name}"))?;
        Ok(value.trim().parse()?)
    }
}

/// nginx in front of the nodes, one address for all: WebSockets forwarded,
/// a node that refuses or says 503 (draining) skipped. `least_conn` sends
/// each new WebSocket to the node with fewer open, as it spreads members.
pub struct Nginx {
    pub port: u16,
    dir: PathBuf,
    _child: Child,
}

impl Nginx {
    pub async fn start(nodes: &[&Node]) -> Result<Self> {
        let dir = scratch("nginx")?;
        let port = crate::free_port().await?;
        let upstreams: String = nodes
            .iter()
            .map(|n| format!("        server 127.0.0.1:{} max_fails=1 fail_timeout=2s;\n", n.port))
            .collect();
        let d = dir.display();
        let conf = format!(
            "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream moim {{
        least_conn;
{upstreams}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://moim;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
        }}
    }}
}}
"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf)?;
        let binary = std::env::var("NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e} (run `cargo xtask setup --browsers`)"))?;
        crate::until_listening(port, "nginx").await?;
        Ok(Self { port, dir, _child: child })
    }

    pub fn base(&self) -> String {
        format!("http://localhost:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
