//! How connections end without anyone saying goodbye: members who go silent,
//! against the real server with real clients.

mod common;

use backend::Limits;
use common::*;
use futures_util::StreamExt;
use shared::protocol::close_code;
use shared::ServerMsg;
use std::time::Duration;
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Reads for `how_long`, failing on anything but pings; returns how many came.
async fn only_pings_for(ws: &mut Ws, how_long: Duration) -> usize {
    let deadline = Instant::now() + how_long;
    let mut pings = 0;
    while let Ok(frame) = timeout_at(deadline, ws.next()).await {
        match frame {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("expected only pings, got {other:?}"),
        }
    }
    pings
}

#[tokio::test]
async fn a_member_that_stops_answering_is_dropped_and_the_room_told() {
    let heartbeat = Duration::from_secs(1);
    let limits = Limits { heartbeat_timeout: heartbeat, ..Limits::default() };
    let addr = start_with(config(3), limits).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r").await;
    let mut silent = connect(addr).await;
    let (silent_id, _) = join(&mut silent, "r", "Sil").await;
    for ws in [&mut a, &mut b] {
        assert!(matches!(recv(ws).await, ServerMsg::PeerJoined { peer } if peer.id == silent_id));
    }

    // From here `silent` is never polled: its socket stays open, but it
    // neither reads nor answers pings, like a laptop that went to sleep.
    let started = Instant::now();
    let (to_a, to_b) = tokio::join!(recv(&mut a), recv(&mut b));
    let waited = started.elapsed();
    assert_eq!(to_a, ServerMsg::PeerLeft { peer: silent_id });
    assert_eq!(to_b, ServerMsg::PeerLeft { peer: silent_id });
    assert!(waited >= heartbeat / 2, "dropped after only {waited:?}");
    assert!(waited < heartbeat + Duration::from_secs(2), "took {waited:?}");

    // Members that say nothing but answer pings stay, however long.
    let (pings_a, pings_b) = tokio::join!(only_pings_for(&mut a, 2 * heartbeat), only_pings_for(&mut b, 2 * heartbeat));
    assert!(pings_a >= 3 && pings_b >= 3, "pings: {pings_a}, {pings_b}");
    assert_relays((&mut a, a_id), (&mut b, b_id)).await;
    drop(silent);
}

#[tokio::test]
async fn shutdown_closes_every_connection_with_going_away_and_serve_returns() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    let server = tokio::spawn(backend::serve_with(listener, config(3), Limits::default(), shutdown));

    let ((mut a, _), (mut b, _)) = pair(addr, "r").await;
    let mut c = connect(addr).await;
    join(&mut c, "elsewhere", "Cy").await;
    // Connected but never joined: answered, so its connection is running.
    let mut lobby = connect(addr).await;
    send(&mut lobby, serde_json::json!({ "type": "leave" })).await;
    expect_error(&mut lobby, shared::ErrorCode::NotJoined).await;

    let started = Instant::now();
    stop.send(()).unwrap();
    for ws in [&mut a, &mut b, &mut c, &mut lobby] {
        // Straight to the close: nobody is told of the others leaving first.
        let frame = expect_close(ws).await;
        assert_eq!(u16::from(frame.code), close_code::GOING_AWAY);
        assert_eq!(frame.reason.as_str(), "the server is restarting");
        // Reading on sends tungstenite's answering close; then the stream ends.
        let end = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
        assert!(end.is_none(), "expected the end, got {end:?}");
    }
    let served = tokio::time::timeout(WAIT, server).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
    // Every closing handshake completed: none waited out its 2 s timeout.
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

/// The issue's case: SIGTERM to the real binary with 200 members.
#[tokio::test]
async fn sigterm_with_two_hundred_members_says_going_away_before_any_departure() {
    let server =
        common::binary::Server::start(&["--max-connections-per-ip", "0", "--room-capacity", "5", "--sfu-from", "0"]);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], server.port).into();

    // 40 rooms of 5, everyone told of everyone.
    let mut members = Vec::new();
    for i in 0..200 {
        let mut ws = connect(addr).await;
        let (_, peers) = join(&mut ws, &format!("room{}", i / 5), "m").await;
        members.push((ws, peers.len()));
    }
    for (ws, known) in &mut members {
        while *known < 4 {
            assert!(matches!(recv(ws).await, ServerMsg::PeerJoined { .. }));
            *known += 1;
        }
    }

    server.terminate();
    let heard = futures_util::future::join_all(members.into_iter().map(|(mut ws, _)| async move {
        // Everything up to the close frame.
        let mut before = Vec::new();
        loop {
            match next_frame(&mut ws).await {
                Message::Close(Some(frame)) => return (u16::from(frame.code), before),
                Message::Text(text) => before.push(text.to_string()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }))
    .await;
    for (code, before) in heard {
        assert_eq!(code, close_code::GOING_AWAY);
        assert!(before.is_empty(), "heard before the close: {before:?}");
    }
}

#[tokio::test]
async fn a_request_trickling_its_headers_does_not_hold_the_stop() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(backend::serve_with(listener, config(3), Limits::default(), async {
        let _ = stopped.await;
    }));
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: a").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    // Not the 30 s header timeout: at most the 5 s drain.
    let served = tokio::time::timeout(Duration::from_secs(7), server).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?} after {:?}", started.elapsed());
    drop(slow);
}

#[test]
fn version_names_the_build() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_moim")).arg("--version").output().unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    // The commit, and whether the web app is inside (it is when dist/ was built first).
    let expected = format!("moim {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(said.starts_with(&expected), "{said}");
    assert!(said.contains("web app embedded") || said.contains("no web app embedded: serves --dist"), "{said}");
}
