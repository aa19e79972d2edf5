//! The load generator: the same code drives both servers. Clients come in
//! pairs (a room of two); one task owns both WebSockets of a pair, so a
//! message's send and receive times are read from the same monotonic clock
//! and the in-flight count of each direction is known without locks.
//!
//! The coordinator moves every pair through phases ([`Phase`]) over a watch
//! channel; each pair answers each phase with one [`Report`].

use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod pair;

pub use pair::run_pair;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Relayed messages received by every client, for the throughput window.
pub static RECEIVED: AtomicU64 = AtomicU64::new(0);

/// A finished phase waits for messages still in flight while they keep
/// arriving; once nothing has arrived for this long, what is missing is lost.
pub const DRAIN: Duration = Duration::from_secs(10);

/// However slowly they keep arriving, a phase ends this long after its end.
pub const DRAIN_MAX: Duration = Duration::from_secs(120);

/// How often a paced sender earns its credits.
const TICK: Duration = Duration::from_millis(100);

/// At most this many frames from each socket are read before the pair
/// writes what they called for.
const READ_BATCH: usize = 32;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

fn base() -> std::time::Instant {
    static BASE: OnceLock<std::time::Instant> = OnceLock::new();
    *BASE.get_or_init(std::time::Instant::now)
}

/// Nanoseconds on the process's monotonic clock: what travels in a payload.
fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Moim's JSON protocol on `/ws`.
    Moim,
    /// Engine.IO v4 / Socket.IO v5 over a plain WebSocket.
    SocketIo,
    /// The floor relay (src/bin/floor.rs): Moim's join and frames, relayed raw.
    Floor,
}

#[derive(Debug, Clone)]
pub enum Phase {
    /// Connected; read (and answer pings), send nothing.
    Idle,
    /// Both members join their room.
    Join,
    /// Ping-pong: every `period` A sends one message to B, B answers at once;
    /// never more than one message in flight for the pair.
    Latency {
        start: Instant,
        end: Instant,
        period: Duration,
    },
    /// Both members send to each other until `end`: at most `window` messages
    /// in flight per direction, at most `cap` per member, and with `rate`
    /// at most that many a second per member.
    Throughput {
        measure_from: Instant,
        end: Instant,
        rate: Option<f64>,
        window: u32,
        cap: u64,
    },
    Close,
}

#[derive(Debug, Clone)]
pub struct PhaseMsg {
    pub id: u64,
    pub phase: Phase,
}

/// One pair's account of one phase.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub sent: u64,
    pub received: u64,
    /// Sent in this phase and not received by the end of the drain.
    pub lost: u64,
    /// Received with a sequence number other than the next expected one.
    pub out_of_order: u64,
    /// Refused by the server's rate limit (Moim's `too_many_messages`).
    pub refused: u64,
    /// Any other error message from the server.
    pub errors: u64,
    /// A connection of the pair ended.
    pub dead: u64,
    /// One-way relay latencies in nanoseconds.
    pub latencies: Vec<u32>,
}

impl Stats {
    pub fn add(&mut self, other: Stats) {
        self.sent += other.sent;
        self.received += other.received;
        self.lost += other.lost;
        self.out_of_order += other.out_of_order;
        self.refused += other.refused;
        self.errors += other.errors;
        self.dead += other.dead;
        self.latencies.extend(other.latencies);
    }
}

#[derive(Debug)]
pub struct Report {
    pub phase_id: u64,
    pub stats: Stats,
}

/// Opens one client connection and completes the protocol's own handshake
/// (for Socket.io: the Engine.IO open packet, then the `40` connect).
pub async fn open(proto: Proto, port: u16) -> Result<Ws, String> {
    let url = match proto {
        Proto::Moim | Proto::Floor => format!("ws://127.0.0.1:{port}/ws"),
        Proto::SocketIo => {
            format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
        }
    };
    // Small read buffers: ten thousand clients live in this process too.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let connect = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
    let (mut ws, _) = timeout(HANDSHAKE_TIMEOUT, connect)
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| format!("connect: {e}"))?;
    if proto == Proto::SocketIo {
        let open = next_text(&mut ws).await?;
        if !open.starts_with("0{") {
            return Err(format!("expected an Engine.IO open packet, got {open:?}"));
        }
        send(&mut ws, "40".into()).await?;
        wait_sio(&mut ws, "40").await?;
    }
    Ok(ws)
}

async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::text(text)).await.map_err(|e| format!("send: {e}"))
}

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        let frame = timeout(HANDSHAKE_TIMEOUT, ws.next()).await.map_err(|_| "no answer from the server".to_owned())?;
        match frame {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("connection ended".into()),
        }
    }
}

/// Reads until a Socket.io packet starting with `prefix`, answering pings.
async fn wait_sio(ws: &mut Ws, prefix: &str) -> Result<String, String> {
    loop {
        let text = next_text(ws).await?;
        if text == "2" {
            send(ws, "3".into()).await?;
        } else if text.starts_with(prefix) {
            return Ok(text);
        } else if text.starts_with(r#"42["full_room""#) {
            return Err(format!("room full: {text}"));
        }
    }
}

/// Reads until Moim's `welcome`: our id and the members already there.
/// Read as plain JSON, so fields added to the protocol later change nothing.
async fn wait_welcome(ws: &mut Ws) -> Result<(u64, Vec<u64>), String> {
    loop {
        let text = next_text(ws).await?;
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        match msg["type"].as_str() {
            Some("welcome") => {
                let you = msg["you"].as_u64().ok_or("welcome without `you`")?;
                let peers = msg["peers"]
                    .as_array()
                    .map(|peers| peers.iter().filter_map(|p| p["id"].as_u64()).collect())
                    .unwrap_or_default();
                return Ok((you, peers));
            }
            Some("error") => return Err(format!("join refused: {text}")),
            _ => continue,
        }
    }
}
