//! One pair's relay latency through a running server, measured by the
//! leanest client there is: two threads with blocking sockets (tungstenite's
//! synchronous client), so the number is the server's and the kernel's, not
//! an async load generator's. The two members of a room take turns: each
//! relays an ICE candidate to the other as soon as it hears one, one round a
//! millisecond (about 2,000 relays a second, the relay benchmark's light
//! load); every one-way relay is timed on this process's one clock.
//!
//! `target/release/probe ws://127.0.0.1:PORT/ws` against Moim or the floor
//! (`target/release/floor`) prints p50 / p99 / p99.9 of 10,000 relays each way.
//! With `spin` after the address, both threads poll their sockets instead of
//! sleeping, to take the reading client's wake-up out of the figure; on two
//! cores they take the server's core too (docs/BENCHMARKS.md).

#[path = "../percentile.rs"]
mod percentile;

use percentile::nearest_rank;
use serde_json::{json, Value};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::stream::MaybeTlsStream;
use tokio_tungstenite::tungstenite::{connect, Error as WsError, Message, WebSocket};

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;
type Error = Box<dyn std::error::Error + Send + Sync>;

const ROUNDS: u64 = 11_000;
const WARM_UP: u64 = 1_000;

fn open(url: &str, room: &str, name: &str) -> Result<(Ws, u64, Vec<u64>), Error> {
    let (mut ws, _) = connect(url)?;
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_nodelay(true)?;
    }
    let join = json!({ "type": "join", "version": shared::PROTOCOL_VERSION, "room": room, "name": name });
    ws.send(Message::text(join.to_string()))?;
    loop {
        let msg: Value = serde_json::from_str(ws.read()?.to_text()?)?;
        if msg["type"] == "welcome" {
            let peers = msg["peers"].as_array().map(|p| p.iter().filter_map(|p| p["id"].as_u64()).collect());
            return Ok((ws, msg["you"].as_u64().ok_or("welcome without `you`")?, peers.unwrap_or_default()));
        }
    }
}

fn candidate(to: u64, seq: u64) -> Message {
    let line =
        format!("candidate:3169012345 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 ufrag bnch seq {seq}");
    Message::text(
        json!({ "type": "ice", "to": to, "candidate": { "candidate": line, "sdpMid": "0", "sdpMLineIndex": 0 } })
            .to_string(),
    )
}

/// Reads until the next ICE candidate; the time it arrived. With `spin` the
/// socket is non-blocking and polled, so this thread never sleeps.
fn next_candidate(ws: &mut Ws, spin: bool) -> Result<Instant, Error> {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) if text.contains(r#""type":"ice""#) => return Ok(Instant::now()),
            Ok(_) => {}
            Err(WsError::Io(e)) if spin && e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sends one message; a polled socket may take it in more than one write.
fn send(ws: &mut Ws, msg: Message) -> Result<(), Error> {
    let mut result = ws.send(msg);
    loop {
        match result {
            Err(WsError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => result = ws.flush(),
            other => return Ok(other?),
        }
    }
}

fn quantiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |p: f64| nearest_rank(&v, p).unwrap_or_default().as_secs_f64() * 1e6;
    format!("p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs", at(0.5), at(0.99), at(0.999))
}

fn main() -> Result<(), Error> {
    let usage = "usage: probe ws://127.0.0.1:PORT/ws [spin]";
    let url = std::env::args().nth(1).ok_or(usage)?;
    let spin = match std::env::args().nth(2).as_deref() {
        None => false,
        Some("spin") => true,
        Some(_) => return Err(usage.into()),
    };
    let room = format!("probe-{}", std::process::id());
    let (mut a, id_a, _) = open(&url, &room, "a")?;
    let (mut b, id_b, peers) = open(&url, &room, "b")?;
    if peers != [id_a] {
        return Err(format!("the room has {peers:?}, expected [{id_a}]").into());
    }
    for ws in [&a, &b] {
        if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
            tcp.set_nonblocking(spin)?;
        }
    }
    // B answers each candidate at once and reports when it arrived.
    let (sent_tx, sent_rx) = mpsc::channel::<Instant>();
    let (b_to_a_tx, b_to_a_rx) = mpsc::channel::<(Duration, Instant)>();
    let answerer = std::thread::spawn(move || -> Result<(), Error> {
        for seq in 0..ROUNDS {
            let arrived = next_candidate(&mut b, spin)?;
            let sent = sent_rx.recv()?;
            let reply = Instant::now();
            send(&mut b, candidate(id_a, seq))?;
            b_to_a_tx.send((arrived - sent, reply))?;
        }
        Ok(())
    });
    let (mut a_to_b, mut b_to_a) = (Vec::new(), Vec::new());
    for seq in 0..ROUNDS {
        std::thread::sleep(Duration::from_millis(1));
        let sent = Instant::now();
        send(&mut a, candidate(id_b, seq))?;
        sent_tx.send(sent)?;
        let arrived = next_candidate(&mut a, spin)?;
        let (one_way, replied) = b_to_a_rx.recv()?;
        if seq >= WARM_UP {
            a_to_b.push(one_way);
            b_to_a.push(arrived - replied);
        }
    }
    answerer.join().map_err(|_| "the answering thread panicked")??;
    println!("{url}: a → b {}; b → a {}", quantiles(a_to_b), quantiles(b_to_a));
    Ok(())
}
