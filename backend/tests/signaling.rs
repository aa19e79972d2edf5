//! The real server on 127.0.0.1:0 with real WebSocket and HTTP clients. Each
//! test starts its own server, with no ICE servers (no network needed).

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use shared::protocol::{close_code, MAX_FRAME_BYTES};
use shared::{ErrorCode, PeerId, ServerMsg, PROTOCOL_VERSION};
use std::path::PathBuf;
use tokio_tungstenite::tungstenite::Message;

/// A scratch folder removed on drop (no tempfile crate offline).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("moim-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn join_lists_the_members_already_there() {
    let addr = signaling(2).await;
    let mut a = connect(addr).await;
    let (a_id, peers) = join(&mut a, "standup", "Ana").await;
    assert!(peers.is_empty());
    send(&mut a, json!({ "type": "media_state", "muted": true, "camera_off": false })).await;

    let mut b = connect(addr).await;
    send(&mut b, join_msg("standup", "Ben")).await;
    let ServerMsg::Welcome {
        version,
        you: b_id,
        room,
        capacity,
        ice_servers,
        peers,
        resume,
        sfu: false,
        relay_only: false,
    } = recv(&mut b).await
    else {
        panic!("expected a welcome")
    };
    assert_eq!((version, room.as_str(), capacity), (PROTOCOL_VERSION, "standup", 2));
    assert!(resume.is_some(), "every welcome carries a resume token");
    assert!(ice_servers.is_empty());
    assert_ne!(b_id, a_id);
    assert_eq!(peers.len(), 1);
    assert_eq!((peers[0].id, peers[0].name.as_str()), (a_id, "Ana"));
    assert!(peers[0].state.muted && !peers[0].state.camera_off, "media state is kept");

    let ServerMsg::PeerJoined { peer } = recv(&mut a).await else { panic!("expected peer_joined") };
    assert_eq!((peer.id, peer.name.as_str()), (b_id, "Ben"));
}

#[tokio::test]
async fn relays_reach_only_the_addressed_member() {
    let addr = signaling(2).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r1").await;
    let mut c = connect(addr).await;
    join(&mut c, "r2", "Cy").await;

    assert_relays((&mut a, a_id), (&mut b, b_id)).await;
    send(&mut b, json!({ "type": "answer", "to": a_id, "sdp": "v=1" })).await;
    assert_eq!(recv(&mut a).await, ServerMsg::Answer { from: b_id, sdp: "v=1".into() });
    let candidate = json!({ "candidate": "candidate:1", "sdpMid": "0", "sdpMLineIndex": 0 });
    send(&mut a, json!({ "type": "ice", "to": b_id, "candidate": candidate })).await;
    let ServerMsg::Ice { from, candidate } = recv(&mut b).await else { panic!("expected ice") };
    assert_eq!((from, candidate.sdp_m_line_index), (a_id, Some(0)));

    assert_silent(&mut c).await;
    assert_silent(&mut a).await;
}

#[tokio::test]
async fn a_forged_from_is_ignored() {
    let addr = signaling(2).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r").await;
    send(&mut a, json!({ "type": "offer", "to": b_id, "from": 999, "sdp": "v=0" })).await;
    assert_eq!(recv(&mut b).await, ServerMsg::Offer { from: a_id, sdp: "v=0".into() });
}

#[tokio::test]
async fn peer_left_when_the_socket_closes() {
    let addr = signaling(2).await;
    let ((mut a, _), (mut b, b_id)) = pair(addr, "r").await;
    b.close(None).await.unwrap();
    assert_eq!(recv(&mut a).await, ServerMsg::PeerLeft { peer: b_id });
}

#[tokio::test]
async fn peer_left_on_leave_and_the_leaver_may_rejoin() {
    let addr = signaling(2).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r").await;
    send(&mut b, json!({ "type": "leave" })).await;
    assert_eq!(recv(&mut a).await, ServerMsg::PeerLeft { peer: b_id });

    let (again, peers) = join(&mut b, "r", "Ben").await;
    assert_eq!((again, peers.len(), peers[0].id), (b_id, 1, a_id));
}

#[tokio::test]
async fn bad_input_is_answered_and_the_connection_lives() {
    let addr = signaling(2).await;
    let cases = [
        ("not JSON", Message::text("hello"), ErrorCode::NotJson),
        ("unknown type", Message::text(r#"{"type":"dance"}"#), ErrorCode::UnknownType),
        ("malformed offer", Message::text(r#"{"type":"offer","to":"x"}"#), ErrorCode::InvalidMessage),
        ("before joining", Message::text(offer_msg(PeerId(1), "v=0").to_string()), ErrorCode::NotJoined),
        ("empty room name", Message::text(join_msg("", "Ana").to_string()), ErrorCode::InvalidRoomName),
        (
            "100-character room name",
            Message::text(join_msg(&"a".repeat(100), "Ana").to_string()),
            ErrorCode::InvalidRoomName,
        ),
        ("bad display name", Message::text(join_msg("r", "a\nb").to_string()), ErrorCode::InvalidDisplayName),
        ("binary frame", Message::binary(b"{}".to_vec()), ErrorCode::InvalidMessage),
    ];
    for (i, (what, frame, code)) in cases.into_iter().enumerate() {
        let mut ws = connect(addr).await;
        ws.send(frame).await.unwrap();
        match recv(&mut ws).await {
            ServerMsg::Error { code: got, message } => {
                assert_eq!(got, code, "{what}: {message}");
                assert!(!message.is_empty(), "{what}");
            }
            other => panic!("{what}: expected an error, got {other:?}"),
        }
        join(&mut ws, &format!("room-{i}"), "Ana").await;
    }
}

#[tokio::test]
async fn messages_outside_your_room_are_refused() {
    let addr = signaling(2).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r1").await;
    let mut c = connect(addr).await;
    let (c_id, _) = join(&mut c, "r2", "Cy").await;

    for to in [c_id, a_id, PeerId(9999)] {
        send(&mut a, offer_msg(to, "v=0")).await;
        expect_error(&mut a, ErrorCode::UnknownPeer).await;
    }
    send(&mut a, join_msg("r2", "Ana")).await;
    expect_error(&mut a, ErrorCode::AlreadyJoined).await;

    assert_silent(&mut c).await;
    assert_relays((&mut a, a_id), (&mut b, b_id)).await;
}

#[tokio::test]
async fn another_protocol_version_is_told_to_reload_and_closed() {
    let addr = signaling(2).await;
    let mut ws = connect(addr).await;
    send(&mut ws, json!({ "type": "join", "version": PROTOCOL_VERSION + 1, "room": "r", "name": "Ana" })).await;
    let message = expect_error(&mut ws, ErrorCode::VersionMismatch).await;
    assert!(message.contains("reload"), "{message}");
    let frame = expect_close(&mut ws).await;
    assert_eq!(u16::from(frame.code), close_code::VERSION_MISMATCH);
    assert!(frame.reason.contains("reload"), "{}", frame.reason);
}

#[tokio::test]
async fn an_oversized_frame_closes_only_that_connection() {
    let addr = signaling(3).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r").await;
    let mut c = connect(addr).await;
    let (c_id, _) = join(&mut c, "r", "Cy").await;
    for ws in [&mut a, &mut b] {
        assert!(matches!(recv(ws).await, ServerMsg::PeerJoined { peer } if peer.id == c_id));
    }

    // Exactly the limit still goes through.
    let empty = offer_msg(b_id, "").to_string().len();
    let sdp = "a".repeat(MAX_FRAME_BYTES - empty);
    assert_eq!(offer_msg(b_id, &sdp).to_string().len(), MAX_FRAME_BYTES);
    send(&mut a, offer_msg(b_id, &sdp)).await;
    assert_eq!(recv(&mut b).await, ServerMsg::Offer { from: a_id, sdp });

    send(&mut c, offer_msg(a_id, &"a".repeat(MAX_FRAME_BYTES))).await;
    let frame = expect_close(&mut c).await;
    assert_eq!(u16::from(frame.code), close_code::TOO_BIG);
    assert_eq!(frame.reason.as_str(), format!("message larger than {} KiB", MAX_FRAME_BYTES / 1024));

    for ws in [&mut a, &mut b] {
        assert_eq!(recv(ws).await, ServerMsg::PeerLeft { peer: c_id });
    }
    assert_relays((&mut a, a_id), (&mut b, b_id)).await;
    assert_relays((&mut b, b_id), (&mut a, a_id)).await;
}

#[tokio::test]
async fn a_full_room_refuses_the_third_and_the_two_carry_on() {
    let addr = signaling(2).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r").await;
    let mut c = connect(addr).await;
    send(&mut c, join_msg("r", "Cy")).await;
    assert_eq!(expect_error(&mut c, ErrorCode::RoomFull).await, "this room is full: 2 of 2");

    assert_relays((&mut a, a_id), (&mut b, b_id)).await;
    assert_relays((&mut b, b_id), (&mut a, a_id)).await;
    join(&mut c, "elsewhere", "Cy").await;
}

#[tokio::test]
async fn the_web_app_is_served_with_deep_links() {
    let dist = TempDir::new("dist");
    let index = "<!doctype html><title>Moim</title>";
    std::fs::write(dist.0.join("index.html"), index).unwrap();
    std::fs::write(dist.0.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(dist.0.join("app.js.gz"), b"pretend gzip").unwrap();
    let addr = start(2, &dist.0).await;

    for path in ["/", "/r/some-room", "/r/team.alpha", "/settings"] {
        let res = get(addr, path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{path}");
        assert_eq!(res.text().await.unwrap(), index, "{path}");
    }

    assert_eq!(get(addr, "/app.js").await.text().await.unwrap(), "console.log(1)");
    let gzipped = reqwest::Client::new()
        .get(format!("http://{addr}/app.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.bytes().await.unwrap().as_ref(), b"pretend gzip");

    assert_eq!(get(addr, "/missing.js").await.status(), 404);
}

#[tokio::test]
async fn without_a_built_app_pages_explain_and_health_is_ok() {
    let addr = signaling(2).await;
    for path in ["/", "/r/some-room"] {
        let res = get(addr, path).await;
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(
            res.text().await.unwrap(),
            "Moim's web app is not built yet. Run `cargo xtask run` (or `trunk build --release`) \
             in the project folder, then reload."
        );
    }
    let health = get(addr, "/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
}

/// Media states go through the room's task and offers on a line straight to
/// the addressee; the other member still hears them in the order they were
/// said. On a multi-threaded runtime, so the two paths really race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_is_heard_in_the_order_it_spoke() {
    let addr = signaling(2).await;
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "order").await;
    // 120 messages, inside the default burst of 200.
    const ROUNDS: usize = 60;
    for i in 0..ROUNDS {
        send(&mut a, json!({ "type": "media_state", "muted": i % 2 == 0, "camera_off": false })).await;
        send(&mut a, offer_msg(b_id, &i.to_string())).await;
    }
    for i in 0..ROUNDS {
        let state = shared::MediaState { muted: i % 2 == 0, ..Default::default() };
        assert_eq!(recv(&mut b).await, ServerMsg::MediaState { from: a_id, state }, "round {i}");
        assert_eq!(recv(&mut b).await, ServerMsg::Offer { from: a_id, sdp: i.to_string() }, "round {i}");
    }
}
