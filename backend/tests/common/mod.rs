//! Helpers for the tests that run the real server on 127.0.0.1:0 with real
//! WebSocket and HTTP clients. Each test starts its own server, with no ICE
//! servers (no network needed).

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

pub mod binary;
pub mod redis;

use backend::static_files::WebApp;
use backend::{Config, Limits};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shared::{ErrorCode, PeerId, PeerInfo, ServerMsg, PROTOCOL_VERSION};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Generous: only reached when something is broken.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched for.
pub const SILENCE: Duration = Duration::from_millis(300);

pub async fn start(room_capacity: usize, dist_dir: &Path) -> SocketAddr {
    let config = Config { web_app: WebApp::Folder(dist_dir.to_owned()), ..config(room_capacity) };
    start_with(config, Limits::default()).await
}

/// A server with chosen limits.
pub async fn start_with(config: Config, limits: Limits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let forever = std::future::pending();
    tokio::spawn(async move { backend::serve_with(listener, config, limits, forever).await });
    addr
}

/// Rooms of `room_capacity`, no ICE servers, no web app.
pub fn config(room_capacity: usize) -> Config {
    Config {
        ice_servers: vec![],
        room_capacity,
        web_app: WebApp::Folder("/nonexistent/moim-dist".into()),
        turn: None,
        room_passwords: vec![],
        relay_only: false,
        sfu: None,
        cluster: None,
    }
}

/// A server for signaling tests; its web app is not built.
pub async fn signaling(room_capacity: usize) -> SocketAddr {
    start_with(config(room_capacity), Limits::default()).await
}

pub async fn connect(addr: SocketAddr) -> Ws {
    connect_async(format!("ws://{addr}/ws")).await.unwrap().0
}

pub async fn send(ws: &mut Ws, msg: Value) {
    ws.send(Message::text(msg.to_string())).await.unwrap();
}

pub fn join_msg(room: &str, name: &str) -> Value {
    json!({ "type": "join", "version": PROTOCOL_VERSION, "room": room, "name": name })
}

pub fn offer_msg(to: PeerId, sdp: &str) -> Value {
    json!({ "type": "offer", "to": to, "sdp": sdp })
}

/// The next data or close frame (pings are answered by tungstenite).
pub async fn next_frame(ws: &mut Ws) -> Message {
    loop {
        match timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(frame))) => return frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

pub async fn recv(ws: &mut Ws) -> ServerMsg {
    match next_frame(ws).await {
        Message::Text(text) => ServerMsg::decode(&text).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub async fn assert_silent(ws: &mut Ws) {
    if let Ok(frame) = timeout(SILENCE, ws.next()).await {
        panic!("expected nothing, got {frame:?}");
    }
}

/// Expects an `Error` with `code`; returns its message.
pub async fn expect_error(ws: &mut Ws, code: ErrorCode) -> String {
    match recv(ws).await {
        ServerMsg::Error { code: got, message } if got == code => message,
        other => panic!("expected a {code:?} error, got {other:?}"),
    }
}

pub async fn expect_close(ws: &mut Ws) -> CloseFrame {
    match next_frame(ws).await {
        Message::Close(Some(frame)) => frame,
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// Joins and returns my id and the members already there.
pub async fn join(ws: &mut Ws, room: &str, name: &str) -> (PeerId, Vec<PeerInfo>) {
    send(ws, join_msg(room, name)).await;
    match recv(ws).await {
        ServerMsg::Welcome { you, peers, .. } => (you, peers),
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// Two members of `room`, the first already told about the second.
pub async fn pair(addr: SocketAddr, room: &str) -> ((Ws, PeerId), (Ws, PeerId)) {
    let (mut a, mut b) = (connect(addr).await, connect(addr).await);
    let (a_id, _) = join(&mut a, room, "Ana").await;
    let (b_id, _) = join(&mut b, room, "Ben").await;
    assert!(matches!(recv(&mut a).await, ServerMsg::PeerJoined { peer } if peer.id == b_id));
    ((a, a_id), (b, b_id))
}

/// Proves both ends are alive: an offer from one reaches the other.
pub async fn assert_relays(from: (&mut Ws, PeerId), to: (&mut Ws, PeerId)) {
    send(from.0, offer_msg(to.1, "v=0")).await;
    assert_eq!(recv(to.0).await, ServerMsg::Offer { from: from.1, sdp: "v=0".into() });
}

pub async fn get(addr: SocketAddr, path: &str) -> reqwest::Response {
    reqwest::get(format!("http://{addr}{path}")).await.unwrap()
}

/// The socket from a WebSocket upgrade, or the refusal's status and body;
/// any other failure is a broken test (`who` names the client).
pub fn upgraded<S>(
    result: Result<
        (WebSocketStream<S>, tokio_tungstenite::tungstenite::handshake::client::Response),
        tokio_tungstenite::tungstenite::Error,
    >,
    who: impl std::fmt::Display,
) -> Result<WebSocketStream<S>, (u16, String)> {
    match result {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            let body = res.body().as_deref().unwrap_or_default();
            Err((res.status().as_u16(), String::from_utf8_lossy(body).into_owned()))
        }
        Err(other) => panic!("{who}: {other}"),
    }
}

/// Polls `probe` every 20 ms until `ready` holds of what it gives, and
/// returns that: what a client sees ends (a close, a dropped socket) reaches
/// the server a moment later. Fails after `WAIT`, showing the last answer.
pub async fn poll_until<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
    mut probe: impl FnMut() -> F,
    ready: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = probe().await;
        if ready(&got) {
            return got;
        }
        assert!(tokio::time::Instant::now() < deadline, "never ready: {got:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An offer as a browser in an SFU room makes it: microphone, camera, screen.
pub fn browser_offer() -> String {
    use str0m::media::{Direction, MediaKind};
    let crypto = std::sync::Arc::new(str0m::crypto::from_feature_flags());
    let mut rtc = str0m::Rtc::builder().set_crypto_provider(crypto).build(std::time::Instant::now());
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, _pending) = change.apply().unwrap();
    offer.to_sdp_string()
}

/// Figure `name` (without labels) in the server's `/metrics`; fails if it is missing.
pub async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let text = get(addr, "/metrics").await.text().await.unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}
