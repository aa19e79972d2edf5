//! Janus's HTTP API (a session, plugin handles, the videoroom's requests and
//! its long-polled events) and the bot's publishers and subscribers on it.
//! Plain HTTP/1.1 over a `TcpStream`, one request a connection.

use crate::janus::ROOM;
use crate::peer::{self, Peer};
use crate::stats::Shared;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const EVENT_WAIT: Duration = Duration::from_secs(20);

/// One HTTP request to Janus on 127.0.0.1:`port`; the JSON it answers.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>, wait: Duration) -> Result<Value, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("janus http: {e}"))?;
    stream.set_read_timeout(Some(wait)).map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("janus http write: {e}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| format!("janus http read: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("janus http: no header end")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!("janus http: {}", head.lines().next().unwrap_or_default()));
    }
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() };
    serde_json::from_str(&body).map_err(|e| format!("janus http: {e}: {body}"))
}

/// A chunked body's data (Janus answers an HTTP/1.0 request unchunked, but
/// in case).
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn get(port: u16, path: &str) -> Result<Value, String> {
    http(port, "GET", path, None, Duration::from_secs(5))
}

/// GET `path` from 127.0.0.1:`port` as text (Moim's /metrics).
pub fn get_text(port: u16, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    Ok(response.split_once("\r\n\r\n").map_or(response.clone(), |(_, body)| body.to_owned()))
}

fn transaction() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A Janus reply that is not an error.
fn ok(reply: Value) -> Result<Value, String> {
    match reply["janus"].as_str() {
        Some("error") => Err(format!("janus: {}", reply["error"])),
        _ => Ok(reply),
    }
}

type Routes = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Value>>>>;

/// One Janus session for the whole bot; its events are long-polled on a
/// thread and routed to the handle they come from.
pub struct Session {
    port: u16,
    id: u64,
    routes: Routes,
    stop: Arc<AtomicBool>,
}

impl Session {
    pub fn create(port: u16) -> Result<Arc<Session>, String> {
        let body = json!({"janus": "create", "transaction": transaction()});
        let reply = ok(http(port, "POST", "/janus", Some(&body), EVENT_WAIT)?)?;
        let id = reply["data"]["id"].as_u64().ok_or("janus: create gave no session id")?;
        let session = Arc::new(Session { port, id, routes: Arc::default(), stop: Arc::default() });
        let (routes, stop) = (session.routes.clone(), session.stop.clone());
        std::thread::spawn(move || poll_events(port, id, &routes, &stop));
        Ok(session)
    }

    /// Destroys the session (and with it every handle and PeerConnection).
    pub fn destroy(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let body = json!({"janus": "destroy", "transaction": transaction()});
        let _ = http(self.port, "POST", &format!("/janus/{}", self.id), Some(&body), EVENT_WAIT);
    }

    fn attach(&self) -> Result<(u64, mpsc::UnboundedReceiver<Value>), String> {
        let body = json!({"janus": "attach", "plugin": "janus.plugin.videoroom", "transaction": transaction()});
        let reply = ok(http(self.port, "POST", &format!("/janus/{}", self.id), Some(&body), EVENT_WAIT)?)?;
        let handle = reply["data"]["id"].as_u64().ok_or("janus: attach gave no handle id")?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.routes.lock().expect("routes").insert(handle, tx);
        Ok((handle, rx))
    }

    fn message(&self, handle: u64, body: Value, jsep: Option<Value>) -> Result<(), String> {
        let mut request = json!({"janus": "message", "body": body, "transaction": transaction()});
        if let Some(jsep) = jsep {
            request["jsep"] = jsep;
        }
        ok(http(self.port, "POST", &format!("/janus/{}/{handle}", self.id), Some(&request), EVENT_WAIT)?).map(|_| ())
    }
}

fn poll_events(port: u16, id: u64, routes: &Routes, stop: &AtomicBool) {
    let path = format!("/janus/{id}?maxev=100");
    while !stop.load(Ordering::SeqCst) {
        let events = match http(port, "GET", &path, None, Duration::from_secs(40)) {
            Ok(Value::Array(events)) => events,
            Ok(one) => vec![one],
            Err(_) => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let routes = routes.lock().expect("routes");
        for event in events {
            if let Some(tx) = event["sender"].as_u64().and_then(|h| routes.get(&h)) {
                let _ = tx.send(event);
            }
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| e.to_string())?
}

/// Waits for the handle's videoroom event named `wanted` (its
/// `plugindata.data.videoroom`, or its `janus` for core events such as
/// "webrtcup"), or the first with a JSEP if `wanted` is "jsep"; a
/// videoroom error fails.
async fn event(events: &mut mpsc::UnboundedReceiver<Value>, wanted: &str) -> Result<Value, String> {
    loop {
        let event = tokio::time::timeout(EVENT_WAIT, events.recv())
            .await
            .map_err(|_| format!("janus: no {wanted} event within {EVENT_WAIT:?}"))?
            .ok_or("janus: the session's events stopped")?;
        let data = &event["plugindata"]["data"];
        if let Some(error) = data["error"].as_str() {
            return Err(format!("janus videoroom: {error}"));
        }
        if (wanted == "jsep" && event["jsep"].is_object())
            || data["videoroom"].as_str() == Some(wanted)
            || event["janus"].as_str() == Some(wanted)
        {
            return Ok(event);
        }
    }
}

/// A publisher in the room: joins with `feed` as its id and publishes audio
/// then video (the same offer the bot makes to Moim).
pub async fn publish(
    session: Arc<Session>,
    ip: IpAddr,
    feed: u64,
    publisher: u16,
    shared: Arc<Shared>,
) -> Result<Peer, String> {
    let s = session.clone();
    let (handle, mut events) = blocking(move || s.attach()).await?;
    let s = session.clone();
    let join =
        json!({"request": "join", "ptype": "publisher", "room": ROOM, "id": feed, "display": format!("bot {feed}")});
    blocking(move || s.message(handle, join, None)).await?;
    event(&mut events, "joined").await?;
    let (peer, offer) = peer::start(ip, Some(publisher), true, shared).await?;
    let jsep = json!({"type": "offer", "sdp": offer.expect("an offer was asked for"), "trickle": false});
    let s = session.clone();
    blocking(move || s.message(handle, json!({"request": "publish"}), Some(jsep))).await?;
    let answer = event(&mut events, "jsep").await?;
    let sdp = answer["jsep"]["sdp"].as_str().ok_or("janus: answer without sdp")?.to_owned();
    if std::env::var_os("SFU_BENCH_DEBUG").is_some() {
        eprintln!("sfu_bench: Janus answers publisher {feed}:\n{sdp}");
    }
    peer.answer(sdp).await?;
    // Janus offers a feed to subscribers only once its PeerConnection is up.
    if let Err(e) = peer.connected(EVENT_WAIT).await {
        let report = peer.stop().await;
        return Err(format!("{e} ({})", report.error.unwrap_or_default()));
    }
    event(&mut events, "webrtcup").await?;
    Ok(peer)
}

/// A subscriber to `feeds` (Janus 1.x multistream: one PeerConnection for
/// all): Janus offers, the bot answers.
pub async fn subscribe(
    session: Arc<Session>,
    ip: IpAddr,
    feeds: Vec<u64>,
    shared: Arc<Shared>,
) -> Result<Peer, String> {
    let s = session.clone();
    let (handle, mut events) = blocking(move || s.attach()).await?;
    let streams: Vec<Value> = feeds.iter().map(|f| json!({"feed": f})).collect();
    let join = json!({"request": "join", "ptype": "subscriber", "room": ROOM, "streams": streams});
    let s = session.clone();
    blocking(move || s.message(handle, join, None)).await?;
    let offer = event(&mut events, "attached").await?;
    let sdp = offer["jsep"]["sdp"].as_str().ok_or("janus: attached without an offer")?.to_owned();
    let (peer, _) = peer::start(ip, None, false, shared).await?;
    let answer = peer.offer(sdp).await?;
    let jsep = json!({"type": "answer", "sdp": answer, "trickle": false});
    let s = session.clone();
    blocking(move || s.message(handle, json!({"request": "start"}), Some(jsep))).await?;
    event(&mut events, "event").await?;
    Ok(peer)
}
