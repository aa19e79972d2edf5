//! What one client may do: how many messages a second, how many connections
//! from one address, against the real server.

mod common;

use backend::Limits;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shared::protocol::close_code;
use shared::{ErrorCode, PeerId, ServerMsg};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async, WebSocketStream};

fn ice_msg(to: PeerId, i: usize) -> Value {
    let candidate = format!("candidate:{i} 1 udp 2122260223 192.168.1.{} 50000 typ host", i % 250);
    json!({ "type": "ice", "to": to, "candidate": { "candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0 } })
}

fn media_state(i: usize) -> Value {
    json!({ "type": "media_state", "muted": i.is_multiple_of(2) })
}

/// Sends everything without waiting for answers, as fast as the socket
/// takes it; stops quietly if the server has closed.
async fn blast(ws: &mut Ws, msgs: impl IntoIterator<Item = Value>) {
    for msg in msgs {
        if ws.feed(Message::text(msg.to_string())).await.is_err() {
            return;
        }
    }
    let _ = ws.flush().await;
}

/// Every message until nothing has come for a while.
async fn drain(ws: &mut Ws) -> Vec<ServerMsg> {
    let mut got = Vec::new();
    while let Ok(frame) = timeout(SILENCE, ws.next()).await {
        match frame {
            Some(Ok(Message::Text(text))) => got.push(ServerMsg::decode(&text).unwrap()),
            Some(Ok(Message::Ping(_))) => {}
            other => panic!("expected messages, got {other:?}"),
        }
    }
    got
}

fn is_too_many(msg: &ServerMsg) -> bool {
    matches!(msg, ServerMsg::Error { code: ErrorCode::TooManyMessages, message }
        if message.starts_with("too many messages: at most 50 a second (200 at once)"))
}

#[tokio::test]
async fn an_ordinary_burst_of_150_ice_candidates_passes_untouched() {
    let addr = signaling(2).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r").await;
    blast(&mut a, (0..150).map(|i| ice_msg(b_id, i))).await;
    for i in 0..150 {
        match recv(&mut b).await {
            ServerMsg::Ice { from, candidate } => {
                assert_eq!(from, a_id);
                assert!(candidate.candidate.starts_with(&format!("candidate:{i} ")));
            }
            other => panic!("candidate {i}: got {other:?}"),
        }
    }
    assert_silent(&mut a).await;
    assert_silent(&mut b).await;
}

#[tokio::test]
async fn messages_over_the_rate_are_refused_one_by_one_and_the_connection_lives() {
    let addr = signaling(2).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r").await;
    // The join took one token of 200: 250 more overshoot by about 50.
    blast(&mut a, (0..250).map(media_state)).await;

    let refused = drain(&mut a).await;
    assert!(refused.iter().all(is_too_many), "{refused:?}");
    let passed = drain(&mut b).await;
    assert!(passed.iter().all(|m| matches!(m, ServerMsg::MediaState { from, .. } if *from == a_id)), "{passed:?}");
    assert_eq!(passed.len() + refused.len(), 250, "each one passed or was refused");
    // 199 tokens, plus what refilled at 50 a second while they arrived.
    assert!((199..230).contains(&passed.len()), "{} passed", passed.len());

    // Refusals are debt repaid at 50 a second: after about a second
    // messages pass again, and the connection was never closed.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        a.send(Message::text("hello")).await.unwrap();
        match recv(&mut a).await {
            ServerMsg::Error { code: ErrorCode::NotJson, .. } => break,
            other if is_too_many(&other) => {}
            other => panic!("expected not_json or too_many_messages, got {other:?}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "never passed again");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The probe may have taken the last whole token: let a few refill.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_relays((&mut a, a_id), (&mut b, b_id)).await;
}

#[tokio::test]
async fn a_flood_past_twice_the_budget_is_closed_with_4002() {
    let addr = signaling(2).await;
    let ((mut a, a_id), (mut b, _)) = pair(addr, "r").await;
    blast(&mut a, (0..500).map(media_state)).await;

    let mut refused = 0;
    let frame = loop {
        match next_frame(&mut a).await {
            Message::Text(text) => {
                assert!(is_too_many(&ServerMsg::decode(&text).unwrap()), "{text}");
                refused += 1;
            }
            Message::Close(Some(frame)) => break frame,
            other => panic!("expected refusals then a close, got {other:?}"),
        }
    };
    assert_eq!(u16::from(frame.code), close_code::TOO_MANY_MESSAGES);
    assert_eq!(frame.reason.as_str(), "too many messages");
    // The close ends the connection at once: refusals still queued then are
    // not written, so a fast flood may see none of them.
    assert!(refused <= 200, "{refused} refusals");

    // The room got only what passed, then heard the flooder leave.
    let mut passed = 0;
    loop {
        match recv(&mut b).await {
            ServerMsg::MediaState { from, .. } if from == a_id => passed += 1,
            ServerMsg::PeerLeft { peer } if peer == a_id => break,
            other => panic!("expected media states then peer_left, got {other:?}"),
        }
    }
    assert!((199..230).contains(&passed), "{passed} passed");
}

const TOO_MANY_FROM_ADDRESS: &str = "Too many connections from your address. \
                                     Close Moim in another tab or window, then try again.";

/// A WebSocket from `ip` (any 127.x.y.z is this machine); on refusal, the
/// status and body.
async fn connect_from_ip(addr: SocketAddr, ip: Ipv4Addr) -> Result<WebSocketStream<TcpStream>, (u16, String)> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(ip), 0)).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    upgraded(client_async(format!("ws://{addr}/ws"), stream).await, ip)
}

#[tokio::test]
async fn the_fourth_connection_from_one_address_gets_429() {
    let limits = Limits { max_connections_per_ip: 3, ..Limits::default() };
    let addr = start_with(config(6), limits).await;
    let home = Ipv4Addr::LOCALHOST;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(connect_from_ip(addr, home).await.unwrap());
    }
    let refused = connect_from_ip(addr, home).await.err();
    assert_eq!(refused, Some((429, TOO_MANY_FROM_ADDRESS.to_owned())));
    // Pages and the API are not connections that stay open: not limited.
    assert_eq!(get(addr, "/healthz").await.status(), 200);
    // Another address has its own three.
    let neighbour = Ipv4Addr::new(127, 0, 0, 2);
    for _ in 0..3 {
        open.push(connect_from_ip(addr, neighbour).await.unwrap());
    }
    assert!(connect_from_ip(addr, neighbour).await.is_err());

    // One closes: once the server has seen it go, its slot is free again.
    let mut first = open.remove(0);
    first.close(None).await.unwrap();
    while first.next().await.is_some() {}
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut again = loop {
        match connect_from_ip(addr, home).await {
            Ok(ws) => break ws,
            Err((429, _)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(other) => panic!("the freed slot was never given back: {other:?}"),
        }
    };
    again.send(Message::text(join_msg("r", "Ana").to_string())).await.unwrap();
    let welcome = loop {
        match again.next().await {
            Some(Ok(Message::Text(text))) => break ServerMsg::decode(&text).unwrap(),
            Some(Ok(Message::Ping(_))) => {}
            other => panic!("expected a welcome, got {other:?}"),
        }
    };
    assert!(matches!(welcome, ServerMsg::Welcome { .. }), "{welcome:?}");
    assert!(connect_from_ip(addr, home).await.is_err(), "full again");

    // Three refusals at least: one per address, and the last one.
    let metrics = get(addr, "/metrics").await.text().await.unwrap();
    let key = "moim_connections_refused_total{reason=\"too_many_from_address\"}";
    let refusals: u64 = metrics.lines().find_map(|l| l.strip_prefix(key)).and_then(|n| n.trim().parse().ok()).unwrap();
    assert!(refusals >= 3, "{refusals}");
}
