//! What one address can do to the server on purpose, tried over real
//! sockets against the real server: sockets that never read, trickled and
//! idle requests, password guessing, frames that break RFC 6455, seats
//! piled up by dropping connections. Each must cost the attacker, not the
//! server or anyone else.

mod common;

use backend::Limits;
use common::binary::Server;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use shared::protocol::close_code;
use shared::{ErrorCode, ServerMsg, PROTOCOL_VERSION};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

/// A text frame that decodes to an error whose serde message would quote
/// the 32,000 combining marks, each Debug-escaped (about 4× the frame).
fn marks_frame() -> String {
    let to = "\u{301}".repeat(32_000);
    json!({ "type": "offer", "sdp": "", "to": to }).to_string()
}

/// `name` in /metrics, with its labels, e.g. `moim_connections_open`.
async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let text = get(addr, "/metrics").await.text().await.unwrap();
    text.lines().find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0)
}

/// Waits (up to `WAIT`) until `name` reads `want`.
async fn metric_reaches(addr: SocketAddr, name: &str, want: u64) {
    poll_until(|| metric(addr, name), |got| *got == want).await;
}

#[tokio::test]
async fn an_error_reply_quotes_only_a_short_plain_excerpt() {
    let addr = signaling(2).await;
    let mut ws = connect(addr).await;
    ws.send(Message::text(marks_frame())).await.unwrap();
    let message = expect_error(&mut ws, ErrorCode::InvalidMessage).await;
    assert!(message.len() < 300, "{} bytes: {message:.200}", message.len());
    assert!(!message.contains('\u{301}'), "{message}");
    join(&mut ws, "r", "Ana").await;
}

#[tokio::test]
async fn sockets_that_send_but_never_read_are_closed_and_hold_no_memory() {
    let server = Server::start(&["--heartbeat-timeout", "2"]);
    let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
    metric_reaches(addr, "moim_connections_open", 0).await;
    let before = server.rss_bytes();
    // 20 sockets send 64 KB frames at 45 a second (inside the rate limit),
    // each answered with an error, and never read a byte.
    let frame = marks_frame();
    let mut senders = Vec::new();
    for _ in 0..20 {
        let (sink, stream) = connect(addr).await.split();
        let frame = frame.clone();
        senders.push(tokio::spawn(async move {
            let mut sink = sink;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(6) {
                if sink.send(Message::text(frame.clone())).await.is_err() {
                    return started.elapsed();
                }
                sleep(Duration::from_millis(22)).await;
            }
            drop(stream);
            started.elapsed()
        }));
    }
    // Closed within the heartbeat timeout (2 s) of their last pong, i.e.
    // of opening: no sender got to send for its whole 6 s.
    for sender in senders {
        let sent_for = sender.await.unwrap();
        assert!(sent_for < Duration::from_secs(5), "a never-reading socket lived {sent_for:?}");
    }
    metric_reaches(addr, "moim_connections_open", 0).await;
    let closed = metric(addr, "moim_connections_closed_total{reason=\"too_slow\"}").await;
    assert_eq!(closed, 20, "closed for not reading");
    let grew = server.rss_bytes().saturating_sub(before);
    eprintln!("RSS {} KiB before, grew by {} KiB", before >> 10, grew >> 10);
    assert!(grew < 24 << 20, "the server grew by {} MiB", grew >> 20);
}

fn locked_join(password: &str) -> serde_json::Value {
    json!({ "type": "join", "version": PROTOCOL_VERSION, "room": "vault", "name": "Eve", "password": password })
}

/// What a guess got: judged wrong, refused unjudged, or the connection closed.
enum Guess {
    Wrong,
    Refused,
    Closed(u16),
}

async fn guess(ws: &mut Ws, password: &str) -> Guess {
    send(ws, locked_join(password)).await;
    match next_frame(ws).await {
        Message::Close(Some(frame)) => Guess::Closed(frame.code.into()),
        Message::Text(text) => match ServerMsg::decode(&text).unwrap() {
            ServerMsg::Error { code: ErrorCode::WrongPassword, .. } => Guess::Wrong,
            ServerMsg::Error { code: ErrorCode::TooManyAttempts, message } => {
                assert!(message.contains("try again in"), "{message}");
                Guess::Refused
            }
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn password_guessing_from_one_address_is_slowed_and_the_members_are_not() {
    let room = shared::RoomName::parse("vault").unwrap();
    let config = backend::Config { room_passwords: vec![(room, "right".into())], ..config(3) };
    let addr = start_with(config, Limits::default()).await;
    let (mut owner, mut friend) = (connect(addr).await, connect(addr).await);
    send(&mut owner, locked_join("right")).await;
    let ServerMsg::Welcome { you: owner_id, .. } = recv(&mut owner).await else { panic!("no welcome") };
    send(&mut friend, locked_join("right")).await;
    let ServerMsg::Welcome { you: friend_id, .. } = recv(&mut friend).await else { panic!("no welcome") };
    recv(&mut owner).await; // the friend's arrival

    // Guess as fast as the server answers for 3 s, reconnecting when closed.
    let (mut judged, mut refused, mut closed) = (0, 0, 0);
    let started = Instant::now();
    let mut ws = connect(addr).await;
    for turn in 0.. {
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
        match guess(&mut ws, &format!("guess{judged}")).await {
            Guess::Wrong => judged += 1,
            // Kept under the message rate, which would close it first.
            Guess::Refused => {
                refused += 1;
                sleep(Duration::from_millis(25)).await;
            }
            Guess::Closed(code) => {
                assert_eq!(code, close_code::TOO_MANY_ATTEMPTS);
                closed += 1;
                ws = connect(addr).await;
            }
        }
        // The owner's call goes on meanwhile.
        if turn % 10 == 0 {
            assert_relays((&mut owner, owner_id), (&mut friend, friend_id)).await;
        }
    }
    // 3 typos pass at once, then 1 s, 2 s, 4 s... between guesses: at most
    // 5 in 3 s, so 1,000 would take hours (the whole schedule is in
    // backend/src/guesses.rs's tests).
    assert!((3..=5).contains(&judged), "{judged} guesses judged in 3 s");
    assert!(refused > 0 && closed >= 1, "refused {refused}, closed {closed}");
    assert_silent(&mut owner).await;
}

#[tokio::test]
async fn a_third_wrong_password_on_one_connection_closes_it() {
    let room = shared::RoomName::parse("vault").unwrap();
    let config = backend::Config { room_passwords: vec![(room, "right".into())], ..config(3) };
    let addr = start_with(config, Limits::default()).await;
    let mut ws = connect(addr).await;
    for _ in 0..2 {
        assert!(matches!(guess(&mut ws, "wrong").await, Guess::Wrong));
    }
    send(&mut ws, locked_join("wrong")).await;
    let frame = expect_close(&mut ws).await;
    assert_eq!(u16::from(frame.code), close_code::TOO_MANY_ATTEMPTS);
}

/// Reads until the server closes; how long that took.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match timeout(limit, tcp.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("still open after {limit:?}"),
        }
    }
}

fn short_timeouts() -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(1),
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_trickled_request_is_cut_by_the_header_timeout() {
    let addr = start_with(config(2), short_timeouts()).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = tcp.into_split();
    let trickle = tokio::spawn(async move {
        write.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").await.unwrap();
        // A byte every 200 ms: each is activity, so only the header timeout can cut it.
        for _ in 0..50 {
            if write.write_all(b"a").await.is_err() {
                return;
            }
            sleep(Duration::from_millis(200)).await;
        }
    });
    let mut buf = Vec::new();
    let read_all = timeout(Duration::from_secs(5), read.read_to_end(&mut buf)).await;
    assert!(read_all.is_ok(), "the trickle was held past 5 s");
    trickle.abort();
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let addr = start_with(config(2), short_timeouts()).await;
    // One that never says anything.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // One kept alive after a request.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\nok") {
        answer.push(timeout(WAIT, kept.read_u8()).await.unwrap().unwrap());
    }
    closed_within(&mut silent, Duration::from_secs(4)).await;
    closed_within(&mut kept, Duration::from_secs(4)).await;
}

#[tokio::test]
async fn connections_are_counted_per_address_at_accept() {
    // 2 WebSockets per address, so 4 TCP connections of any kind.
    let limits = Limits { max_connections_per_ip: 2, ..Limits::default() };
    let addr = start_with(config(2), limits).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    let mut answer = String::new();
    timeout(WAIT, fifth.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    held.pop();
    // The count follows the close (the server notices it on its next read).
    let healthz = || async {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut answer = String::new();
        let _ = timeout(WAIT, tcp.read_to_string(&mut answer)).await;
        answer
    };
    poll_until(healthz, |answer| answer.starts_with("HTTP/1.1 200")).await;
}

/// A WebSocket opened by hand, to send what no client library would.
async fn raw_ws(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tcp
}

/// One frame as a client must send it: FIN, `opcode`, masked.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![first];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend((n as u16).to_be_bytes());
        }
    }
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// The next frame from the server (never masked): its opcode and payload.
async fn server_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let read = async {
        let first = tcp.read_u8().await?;
        let len = match tcp.read_u8().await? & 0x7f {
            126 => u64::from(tcp.read_u16().await?),
            127 => tcp.read_u64().await?,
            n => u64::from(n),
        };
        let mut payload = vec![0; len as usize];
        tcp.read_exact(&mut payload).await?;
        Ok::<_, std::io::Error>((first & 0x0f, payload))
    };
    timeout(WAIT, read).await.unwrap().unwrap()
}

#[tokio::test]
async fn frames_that_break_the_protocol_get_their_close_code_and_give_the_seat_up() {
    let addr = signaling(2).await;
    let too_big = {
        // A header announcing more than the limit: refused before the bytes arrive.
        let mut frame = vec![0x81, 0x80 | 127];
        frame.extend((shared::protocol::MAX_FRAME_BYTES as u64 + 1).to_be_bytes());
        frame.extend([1, 2, 3, 4]);
        frame
    };
    let cases: [(&str, Vec<u8>, u16); 4] = [
        ("unmasked", vec![0x81, 0x02, b'h', b'i'], 1002),
        ("reserved bit", masked(0x80 | 0x40 | 0x1, b"hi"), 1002),
        ("not UTF-8", masked(0x81, &[0xff, 0xfe, 0xfd]), 1007),
        ("too big", too_big, 1009),
    ];
    for (what, frame, code) in cases {
        let room = format!("r-{code}-{}", what.len());
        let mut member = connect(addr).await;
        let (member_id, _) = join(&mut member, &room, "Ana").await;
        let mut raw = raw_ws(addr).await;
        let join = json!({ "type": "join", "version": PROTOCOL_VERSION, "room": room, "name": "Raw" }).to_string();
        raw.write_all(&masked(0x81, join.as_bytes())).await.unwrap();
        let (_, welcome) = server_frame(&mut raw).await;
        assert!(String::from_utf8_lossy(&welcome).contains("welcome"), "{what}");
        let ServerMsg::PeerJoined { peer } = recv(&mut member).await else { panic!("{what}: no arrival") };

        raw.write_all(&frame).await.unwrap();
        let (opcode, close) = server_frame(&mut raw).await;
        assert_eq!(opcode, 0x8, "{what}: a close frame");
        assert_eq!(u16::from_be_bytes([close[0], close[1]]), code, "{what}");
        // At once, not after the 15 s a dropped connection's seat is kept.
        assert_eq!(recv(&mut member).await, ServerMsg::PeerLeft { peer: peer.id }, "{what}");
        assert_ne!(peer.id, member_id);
    }
}

#[tokio::test]
async fn seats_kept_for_a_resume_count_against_their_address() {
    let limits = Limits { max_connections_per_ip: 2, resume_window: Duration::from_secs(1), ..Limits::default() };
    let addr = start_with(config(6), limits).await;
    for name in ["Ana", "Ben"] {
        let mut ws = connect(addr).await;
        join(&mut ws, "r", name).await;
        // Dropped without a close: the seat is kept for a resume.
        drop(ws);
    }
    metric_reaches(addr, "moim_connections_open", 0).await;
    let url = format!("ws://{addr}/ws");
    let refused = upgraded(tokio_tungstenite::connect_async(&url).await, "third");
    assert!(matches!(refused, Err((429, _))), "{:?}", refused.map(|_| ()));
    // Once the seats are let go, so is the address.
    sleep(Duration::from_millis(1500)).await;
    let mut ws = connect(addr).await;
    join(&mut ws, "r", "Cy").await;
}

#[tokio::test]
async fn deep_nesting_and_path_traversal_are_refused_plainly() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<!doctype html><title>Moim</title>").unwrap();
    let addr = start(2, dist.path()).await;
    let mut ws = connect(addr).await;
    let deep = format!("{{\"type\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    ws.send(Message::text(deep.chars().take(60_000).collect::<String>())).await.unwrap();
    let code = match recv(&mut ws).await {
        ServerMsg::Error { code, .. } => code,
        other => panic!("{other:?}"),
    };
    assert!(matches!(code, ErrorCode::NotJson | ErrorCode::UnknownType), "{code:?}");
    join(&mut ws, "r", "Ana").await;

    for path in
        ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/r/..%2f..%2fetc%2fpasswd", "/..%5c..%5cetc%5cpasswd"]
    {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        timeout(WAIT, tcp.read_to_string(&mut answer)).await.unwrap().unwrap();
        assert!(!answer.contains("root:"), "{path}: {answer}");
    }
}

#[tokio::test]
async fn a_fragmented_message_trickled_while_answering_pings_is_cut_in_time() {
    let limits = Limits { heartbeat_timeout: Duration::from_secs(1), ..Limits::default() };
    let addr = start_with(config(2), limits).await;
    let raw = raw_ws(addr).await;
    let (mut read, mut write) = raw.into_split();
    let (pings, mut pinged) = tokio::sync::mpsc::unbounded_channel();
    // The server's frames: pings are handed over to be answered, the close returned.
    let reader = tokio::spawn(async move {
        loop {
            let first = read.read_u8().await.unwrap();
            let len = (read.read_u8().await.unwrap() & 0x7f) as usize;
            let mut payload = vec![0; len];
            read.read_exact(&mut payload).await.unwrap();
            match first & 0x0f {
                0x9 => pings.send(payload).unwrap(),
                0x8 => return u16::from_be_bytes([payload[0], payload[1]]),
                other => panic!("unexpected opcode {other}"),
            }
        }
    });
    // A text message begun, then 1 KB more every 100 ms, never finished
    // (64 KiB, the size bound, would take 6 s).
    let started = Instant::now();
    let mut first = masked(0x01, &[b' '; 1024]);
    first[0] = 0x01; // no FIN
    write.write_all(&first).await.unwrap();
    while !reader.is_finished() && started.elapsed() < Duration::from_secs(5) {
        while let Ok(ping) = pinged.try_recv() {
            let _ = write.write_all(&masked(0x8A, &ping)).await;
        }
        let mut more = masked(0x00, &[b' '; 1024]);
        more[0] = 0x00; // a continuation, no FIN
        if write.write_all(&more).await.is_err() {
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    let code = timeout(WAIT, reader).await.unwrap().unwrap();
    assert_eq!(code, 1008);
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}
