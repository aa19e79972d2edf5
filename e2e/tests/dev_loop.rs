//! The development loop the README promises: `trunk serve` for the client
//! with the backend beside it. Everything the page asks of the server goes
//! through trunk's proxies, as configured in the real `Trunk.toml` (only its
//! ports and folders are moved, so the test needs neither 8080 nor 8081).

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("e2e sits in the workspace").to_owned()
}

/// The real Trunk.toml with its paths made absolute, the page served on
/// `serve` and the backend looked for on `backend` instead of 8081 / 8080.
fn moved_config(dist: &Path, serve: u16, backend: u16) -> String {
    let real = std::fs::read_to_string(root().join("Trunk.toml")).expect("Trunk.toml");
    let moves = [
        ("target = \"index.html\"", format!("target = \"{}\"", root().join("index.html").display())),
        ("dist = \"dist\"", format!("dist = \"{}\"", dist.display())),
        ("port = 8081", format!("port = {serve}")),
        ("127.0.0.1:8080", format!("127.0.0.1:{backend}")),
    ];
    moves.into_iter().fold(real, |config, (from, to)| {
        assert!(config.contains(from), "Trunk.toml no longer has {from:?}: update this test");
        config.replace(from, &to)
    })
}

async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port()
}

/// The status line and body of `GET path` on `port`.
async fn get(port: u16, path: &str) -> Result<(String, String)> {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tcp.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no header end")?;
    Ok((head.lines().next().unwrap_or_default().to_owned(), body.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trunk_serve_proxies_what_the_page_asks_of_the_backend() -> Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let backend: SocketAddr = listener.local_addr()?;
    let config = backend::Config {
        ice_servers: vec![],
        room_capacity: 6,
        web_app: backend::static_files::WebApp::Folder("/nonexistent/moim-dist".into()),
        turn: None,
        room_passwords: vec![],
        relay_only: false,
        sfu: None,
        cluster: None,
    };
    tokio::spawn(backend::serve_with(listener, config, backend::Limits::default(), std::future::pending()));

    let scratch = std::env::temp_dir().join(format!("moim-dev-loop-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let serve = free_port().await;
    let trunk_toml = scratch.join("Trunk.toml");
    std::fs::write(&trunk_toml, moved_config(&scratch.join("dist"), serve, backend.port()))?;
    // trunk and the wasm-bindgen it needs, where `cargo xtask setup` put them.
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"))
        .join("bin");
    let path = std::env::join_paths(
        std::iter::once(cargo_bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    // --release: the build `cargo xtask test` has just made is reused.
    let mut trunk = Command::new(cargo_bin.join("trunk"))
        .args(["--config", &trunk_toml.display().to_string(), "serve", "--release", "--no-autoreload"])
        .current_dir(root())
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start trunk: {e} (run `cargo xtask setup`)"))?;

    // trunk answers once it has built the page.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok((status, _)) = get(serve, "/").await {
            if status.contains("200") {
                break;
            }
        }
        if let Some(status) = trunk.try_wait()? {
            return Err(format!("trunk serve exited: {status}").into());
        }
        if Instant::now() > deadline {
            return Err("trunk serve did not answer within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The server's own JSON, not the page (which a missing proxy would give).
    for path in ["/api/rooms/x", "/api/ice-servers"] {
        let (status, body) = get(serve, path).await?;
        let (_, direct) = get(backend.port(), path).await?;
        assert!(status.contains("200"), "{path}: {status}");
        assert_eq!(body, direct, "{path} through trunk");
        assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok(), "{path}: {body}");
    }
    // And the WebSocket: a join through trunk is welcomed.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{serve}/ws")).await?;
    let join = serde_json::json!({ "type": "join", "version": shared::PROTOCOL_VERSION, "room": "dev", "name": "Dev" });
    ws.send(Message::text(join.to_string())).await?;
    let welcome = tokio::time::timeout(Duration::from_secs(10), ws.next()).await?.ok_or("no answer")??;
    assert!(welcome.to_text()?.contains("\"welcome\""), "{welcome:?}");

    trunk.kill().await?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
