//! A harness for driving the real app: the backend in this process on an
//! ephemeral port, serving `dist/`, and headless Chromium through
//! chromedriver (WebDriver, via `fantoccini`), one browser per person.

use fantoccini::ClientBuilder;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

pub mod axe;
mod browser;
pub mod cluster;
pub mod coturn;

pub use browser::Browser;

pub type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// How long any single "wait until" may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(90);

pub struct Harness {
    pub base: String,
    pub port: u16,
    config: backend::Config,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Dropping or firing it shuts the server down gracefully.
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    webdriver: String,
    _chromedriver: Child,
    /// chromedriver's and its browsers' TMPDIR: browsers killed at the end
    /// leave their profile folders behind, so the harness removes them.
    scratch: PathBuf,
}

type Server = tokio::task::JoinHandle<std::io::Result<()>>;

/// Runs the backend until the returned sender fires (or is dropped).
fn serve(listener: tokio::net::TcpListener, config: backend::Config) -> (Server, tokio::sync::oneshot::Sender<()>) {
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop.await;
    };
    let server = tokio::spawn(backend::serve_with(listener, config, backend::Limits::default(), stop));
    (server, shutdown)
}

pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("e2e sits in the workspace").to_owned()
}

impl Harness {
    /// Starts the backend (rooms of `capacity`) and chromedriver.
    pub async fn start(capacity: usize) -> Result<Self> {
        Self::start_with(capacity, None).await
    }

    /// [`Harness::start`], with TURN credentials made from a secret as
    /// `--turn-secret` makes them.
    pub async fn start_with(capacity: usize, turn: Option<backend::turn::TurnRest>) -> Result<Self> {
        Self::launch_server(backend::Config { turn, ..config(capacity)? }).await
    }

    /// The server with `config` (start from [`config`]).
    pub async fn start_config(config: backend::Config) -> Result<Self> {
        Self::launch_server(config).await
    }

    async fn launch_server(config: backend::Config) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let (server, shutdown) = serve(listener, config.clone());
        let (chromedriver, webdriver, scratch) = start_chromedriver().await?;
        let base = format!("http://localhost:{}", addr.port());
        Ok(Self {
            base,
            port: addr.port(),
            config,
            server,
            shutdown: Some(shutdown),
            webdriver,
            _chromedriver: chromedriver,
            scratch,
        })
    }

    /// The server with its media server (SFU) on 127.0.0.1: rooms of
    /// `capacity` move to it when their `sfu_from`th member joins (2: every
    /// room is on it).
    pub async fn start_sfu(capacity: usize, sfu_from: usize) -> Result<Self> {
        let sfu = backend::SfuSettings { from: sfu_from, media: backend::sfu::Config::loopback() };
        Self::launch_server(backend::Config { sfu: Some(sfu), ..config(capacity)? }).await
    }
}

/// Rooms of `capacity`, the built app, no ICE servers.
pub fn config(capacity: usize) -> Result<backend::Config> {
    let dist_dir = std::env::var_os("MOIM_DIST").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("dist"));
    if !dist_dir.join("index.html").exists() {
        return Err(format!(
            "{} has no index.html: run `cargo xtask test` (it builds the app first)",
            dist_dir.display()
        )
        .into());
    }
    Ok(backend::Config {
        ice_servers: vec![],
        room_capacity: capacity,
        web_app: backend::static_files::WebApp::Folder(dist_dir),
        turn: None,
        room_passwords: vec![],
        relay_only: false,
        sfu: None,
        cluster: None,
    })
}

/// Starts chromedriver on a free port: it, its address and its TMPDIR.
async fn start_chromedriver() -> Result<(Child, String, PathBuf)> {
    let port = free_port().await?;
    let scratch = std::env::temp_dir().join(format!("moim-e2e-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromedriver = Command::new(&binary)
        .arg(format!("--port={port}"))
        .env("TMPDIR", &scratch)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        // Its own process group, which its browsers join: see `Drop`.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {binary}: {e} (run `cargo xtask setup`)"))?;
    let webdriver = format!("http://127.0.0.1:{port}");
    until_listening(port, "chromedriver").await?;
    Ok((chromedriver, webdriver, scratch))
}

/// Waits (20 s at most) until something accepts TCP on 127.0.0.1:`port`.
pub(crate) async fn until_listening(port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what} did not start listening on {port}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

impl Harness {
    /// Stops the server as when its process ends: every socket closed, no
    /// new connection accepted. Pages already loaded now find no server.
    pub async fn stop_server(&mut self) -> Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.server).await??;
        Ok(())
    }

    /// Stops the server as on SIGTERM (every socket closed with "going
    /// away", every room forgotten) and starts a new one on the same port.
    pub async fn restart_server(&mut self) -> Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.server).await??;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await?;
        let (server, shutdown) = serve(listener, self.config.clone());
        (self.server, self.shutdown) = (server, Some(shutdown));
        Ok(())
    }

    /// A new, separate browser (its own profile), with a fake camera and
    /// microphone it may use. `extra_args` are added to Chromium's command line.
    pub async fn browser(&self, extra_args: &[&str]) -> Result<Browser> {
        let mut args = vec!["--use-fake-ui-for-media-stream"];
        args.extend_from_slice(extra_args);
        self.launch(args).await
    }

    /// A phone-sized browser (390×844 portrait, touch, three cameras:
    /// Chromium's second fake camera is a depth camera, which it previews but
    /// never sends over WebRTC, so a test switches between the others).
    pub async fn phone(&self) -> Result<Browser> {
        self.phone_of(390, 844).await
    }

    /// [`Harness::phone`] with a screen of `width` × `height` CSS pixels
    /// (wider than high: a phone held sideways).
    pub async fn phone_of(&self, width: u32, height: u32) -> Result<Browser> {
        self.launch_with(
            vec!["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=device-count=3"],
            phone_screen(width, height),
        )
        .await
    }

    /// Takes `count` seats in `room` with bare signaling clients (no media),
    /// so a room can be filled without a browser per seat.
    pub async fn hold_seats(&self, room: &str, count: usize) -> Result<Vec<Seat>> {
        let names: Vec<String> = (0..count).map(|i| format!("Seat {i}")).collect();
        self.hold_seats_as(room, &names).await
    }

    /// [`Harness::hold_seats`], one seat per name.
    pub async fn hold_seats_as(&self, room: &str, names: &[String]) -> Result<Vec<Seat>> {
        let mut seats = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws", self.port)).await?;
            let join = shared::ClientMsg::join(room, name.as_str());
            ws.send(Message::text(serde_json::to_string(&join)?)).await?;
            match ws.next().await {
                // Keep reading, so pings are answered and the seat stays taken.
                Some(Ok(Message::Text(text))) if text.contains("\"welcome\"") => {
                    seats.push(Seat(tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} })))
                }
                other => return Err(format!("seat {i} was not welcomed: {other:?}").into()),
            }
        }
        Ok(seats)
    }

    /// A browser whose user says "Block" to the camera and microphone prompt.
    pub async fn browser_denying_media(&self) -> Result<Browser> {
        self.launch(vec!["--deny-permission-prompts"]).await
    }

    /// [`Harness::browser_denying_media`] on a phone's screen.
    pub async fn phone_denying_media(&self, width: u32, height: u32) -> Result<Browser> {
        self.launch_with(vec!["--deny-permission-prompts"], phone_screen(width, height)).await
    }

    async fn launch(&self, extra_args: Vec<&str>) -> Result<Browser> {
        self.launch_with(extra_args, Value::Null).await
    }

    async fn launch_with(&self, extra_args: Vec<&str>, mobile_emulation: Value) -> Result<Browser> {
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required",
            "--lang=en-US",
            "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1280,800",
        ];
        if !extra_args.iter().any(|a| a.starts_with("--use-fake-device-for-media-stream")) {
            args.push("--use-fake-device-for-media-stream");
        }
        args.extend(extra_args);
        let mut options = json!({ "binary": chromium_binary(), "args": args });
        if !mobile_emulation.is_null() {
            options["mobileEmulation"] = mobile_emulation;
        }
        let caps = json!({ "goog:chromeOptions": options });
        let Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.webdriver)
            .await?;
        let browser = Browser { client, base: self.base.clone() };
        // Every page is watched for CSP violations: see `Browser::csp_violations`.
        self.cdp(&browser, "Page.addScriptToEvaluateOnNewDocument", json!({ "source": WATCH_CSP })).await?;
        Ok(browser)
    }
}

/// ChromeDriver's mobile emulation for a phone of `width` × `height` CSS pixels.
fn phone_screen(width: u32, height: u32) -> Value {
    json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true, "mobile": true } })
}

fn chromium_binary() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

pub(crate) async fn free_port() -> Result<u16> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(l.local_addr()?.port())
}

/// A room member without a browser: a signaling connection holding a seat.
/// Dropping it drops the connection, which frees the seat.
pub struct Seat(tokio::task::JoinHandle<()>);

/// Killing chromedriver alone would orphan its browsers, which then run
/// their fake cameras on until the machine is rebooted; a test that fails
/// never reaches `Browser::close`. So the whole process group goes.
impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(pid) = self._chromedriver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where tests leave screenshots for a person to look at: `e2e/artifacts/`.
pub fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts").join(name)
}

/// Keeps every WebSocket the page makes in `window.sockets`, so a test can
/// watch or drop one; add it with CDP `Page.addScriptToEvaluateOnNewDocument`
/// before opening the page (the app opens its socket as it starts).
pub const TRACK_SOCKETS: &str = "window.sockets = [];
    const Native = window.WebSocket;
    window.WebSocket = function (...args) { const s = new Native(...args); window.sockets.push(s); return s; };
    window.WebSocket.prototype = Native.prototype;
    for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) window.WebSocket[k] = Native[k];";

/// Keeps each Content-Security-Policy violation the page reports in
/// `window.cspViolations`; every browser gets it (see `Harness::launch_with`).
/// It also keeps each promise rejection nobody handled in `window.pageErrors`.
pub const WATCH_CSP: &str = "window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(
        `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber}) ${e.sample}`), true);
    window.pageErrors = [];
    window.addEventListener('unhandledrejection', (e) => window.pageErrors.push(String(e.reason)));";

/// Keeps every `RTCPeerConnection` the page makes in `window.pcs`; add it
/// like [`TRACK_SOCKETS`].
pub const TRACK_PEER_CONNECTIONS: &str = "window.pcs = [];
    const Native = window.RTCPeerConnection;
    window.RTCPeerConnection = function (...args) { const pc = new Native(...args); window.pcs.push(pc); return pc; };
    window.RTCPeerConnection.prototype = Native.prototype;";

/// A JS string literal for `s`.
pub fn js_str(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// A script expression: the remote tile named `name` on a page, if any.
pub fn tile_named(name: &str) -> String {
    format!(
        "[...document.querySelectorAll('.tile.remote')].find(t => t.querySelector('.name')?.textContent === {})",
        js_str(name)
    )
}

/// Waits until each of `people` shows `remote` live remote videos.
pub async fn everyone_sees(people: &[&Browser], remote: usize) -> Result<()> {
    for person in people {
        person.wait_for_live_remote_videos(remote).await?;
    }
    Ok(())
}

/// Four people meet in `room` as Ana, Bo, Cy and Di: Ana, then Bo, each in
/// the room before the next; then Cy and Di click Join at the same moment.
/// Returns once everyone sees the three others.
pub async fn four_meet(room: &str, people: [&Browser; 4]) -> Result<()> {
    let [ana, bo, cy, di] = people;
    for (person, name) in [(ana, "Ana"), (bo, "Bo")] {
        person.join(room, name).await?;
        person.wait_for(&format!("{name} in the room"), "return !!document.querySelector('main.room')").await?;
    }
    for person in [cy, di] {
        person.open_room(room).await?;
        person.wait_for_preview().await?;
    }
    let (c, d) = tokio::join!(cy.join_as("Cy"), di.join_as("Di"));
    c?;
    d?;
    everyone_sees(&people, 3).await
}

/// The body of a plain HTTP GET of `path` on 127.0.0.1:`port`.
pub(crate) async fn http_get(port: u16, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

impl Harness {
    /// The body of a plain HTTP GET of `path` on this server (e.g.
    /// `/metrics`), without another client dependency.
    pub async fn get(&self, path: &str) -> Result<String> {
        http_get(self.port, path).await
    }

    /// Serves the app (and any other files) from `dist_dir` instead of the
    /// `dist/` it started with: the server restarts on the same port, so
    /// call it before opening pages.
    pub async fn serve_dist(&mut self, dist_dir: PathBuf) -> Result<()> {
        if !dist_dir.join("index.html").exists() {
            return Err(format!("{} has no index.html", dist_dir.display()).into());
        }
        self.config.web_app = backend::static_files::WebApp::Folder(dist_dir);
        self.restart_server().await
    }

    /// Sends a Chrome DevTools Protocol command (e.g.
    /// `Page.addScriptToEvaluateOnNewDocument`) to `browser`'s current tab
    /// through chromedriver's `goog/cdp/execute`, and returns its result.
    pub async fn cdp(&self, browser: &Browser, method: &str, params: Value) -> Result<Value> {
        let session = browser.client.session_id().await?.ok_or("the browser has no WebDriver session")?;
        let host = self.webdriver.trim_start_matches("http://").to_owned();
        let body = json!({ "cmd": method, "params": params }).to_string();
        let request = format!(
            "POST /session/{session}/goog/cdp/execute HTTP/1.1\r\nHost: {host}\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        // Plain HTTP/1.1 on a blocking socket: fantoccini has no CDP call.
        let response = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(&host)?;
            stream.set_read_timeout(Some(PATIENCE))?;
            stream.write_all(request.as_bytes())?;
            let mut response = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                response.extend_from_slice(&chunk[..n]);
                // Stop at Content-Length, in case the connection is kept open.
                let text = String::from_utf8_lossy(&response);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head.lines().find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.trim()
                            .eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    });
                    if length.is_some_and(|len| body.len() >= len) {
                        break;
                    }
                }
            }
            Ok(response)
        })
        .await??;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text.split_once("\r\n\r\n").ok_or("chromedriver sent no HTTP response")?;
        let value: Value =
            serde_json::from_str(body).map_err(|e| format!("{method}: unreadable reply ({e}): {head}\n{body}"))?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("{method} failed: {value}").into());
        }
        Ok(value.get("value").cloned().unwrap_or(Value::Null))
    }
}
