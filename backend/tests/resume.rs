//! Sockets that drop mid-meeting: the member takes its seat back on a new
//! connection with the token from its welcome, and the room never notices.
//! Real server, real WebSocket clients.

mod common;

use backend::Limits;
use common::*;
use futures_util::SinkExt;
use serde_json::json;
use shared::protocol::close_code;
use shared::{ErrorCode, PeerId, ServerMsg};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// Joins and returns my id and resume token.
async fn join_with_token(ws: &mut Ws, room: &str, name: &str) -> (PeerId, String) {
    send(ws, join_msg(room, name)).await;
    match recv(ws).await {
        ServerMsg::Welcome { you, resume: Some(token), .. } => (you, token),
        other => panic!("expected a welcome with a resume token, got {other:?}"),
    }
}

fn resume_msg(token: &str) -> serde_json::Value {
    json!({ "type": "resume", "version": shared::PROTOCOL_VERSION, "token": token })
}

/// Ana (with her token) and Ben, in one room, Ana told of Ben.
async fn ana_and_ben(addr: SocketAddr) -> ((Ws, PeerId, String), (Ws, PeerId)) {
    let mut a = connect(addr).await;
    let (a_id, token) = join_with_token(&mut a, "r", "Ana").await;
    let mut b = connect(addr).await;
    let (b_id, _) = join(&mut b, "r", "Ben").await;
    assert!(matches!(recv(&mut a).await, ServerMsg::PeerJoined { peer } if peer.id == b_id));
    ((a, a_id, token), (b, b_id))
}

/// A new connection resumes `token`'s seat, expecting to be `you` next to `others`.
async fn resume(addr: SocketAddr, token: &str, you: PeerId, others: &[PeerId]) -> Ws {
    let mut ws = connect(addr).await;
    send(&mut ws, resume_msg(token)).await;
    match recv(&mut ws).await {
        ServerMsg::Resumed { you: got, peers, .. } => {
            assert_eq!(got, you, "the same member, the same id");
            assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), others);
        }
        other => panic!("expected resumed, got {other:?}"),
    }
    ws
}

#[tokio::test]
async fn a_dropped_socket_resumes_its_seat_and_gets_what_it_missed() {
    let addr = signaling(3).await;
    let ((a, a_id, token), (mut b, b_id)) = ana_and_ben(addr).await;
    // The TCP connection ends without a closing handshake, as when a
    // phone's network changes.
    drop(a);
    send(&mut b, offer_msg(a_id, "sent while Ana was away")).await;
    assert_silent(&mut b).await;

    let mut a = resume(addr, &token, a_id, &[b_id]).await;
    assert_eq!(recv(&mut a).await, ServerMsg::Offer { from: b_id, sdp: "sent while Ana was away".into() });
    assert_relays((&mut a, a_id), (&mut b, b_id)).await;
    assert_relays((&mut b, b_id), (&mut a, a_id)).await;
    assert_silent(&mut b).await;
}

#[tokio::test]
async fn a_client_that_closes_saying_it_reconnects_keeps_its_seat() {
    let addr = signaling(3).await;
    let ((mut a, a_id, token), (mut b, b_id)) = ana_and_ben(addr).await;
    let reconnecting = CloseFrame { code: CloseCode::from(close_code::RECONNECTING), reason: "".into() };
    a.close(Some(reconnecting)).await.unwrap();
    assert_silent(&mut b).await;
    let mut a = resume(addr, &token, a_id, &[b_id]).await;
    assert_relays((&mut b, b_id), (&mut a, a_id)).await;
}

#[tokio::test]
async fn a_resume_takes_over_a_connection_the_server_still_thinks_alive() {
    let addr = signaling(3).await;
    let ((mut old, a_id, token), (mut b, b_id)) = ana_and_ben(addr).await;
    let mut new = resume(addr, &token, a_id, &[b_id]).await;
    let frame = expect_close(&mut old).await;
    assert_eq!(u16::from(frame.code), close_code::REPLACED);
    assert_relays((&mut b, b_id), (&mut new, a_id)).await;
    assert_silent(&mut b).await;
}

#[tokio::test]
async fn a_seat_not_taken_back_in_time_is_given_up_and_the_room_told() {
    let window = Duration::from_millis(700);
    let limits = Limits { resume_window: window, ..Limits::default() };
    let addr = start_with(config(3), limits).await;
    let ((a, a_id, token), (mut b, _)) = ana_and_ben(addr).await;
    let dropped = Instant::now();
    drop(a);
    assert_eq!(recv(&mut b).await, ServerMsg::PeerLeft { peer: a_id });
    assert!(dropped.elapsed() >= window / 2, "left after only {:?}", dropped.elapsed());

    let mut late = connect(addr).await;
    send(&mut late, resume_msg(&token)).await;
    let message = expect_error(&mut late, ErrorCode::ResumeFailed).await;
    assert!(message.contains("join again"), "{message}");
    // The refused connection is still good for a fresh join.
    let (fresh, peers) = join(&mut late, "r", "Ana").await;
    assert_ne!(fresh, a_id);
    assert_eq!(peers.len(), 1);
}

#[tokio::test]
async fn bad_resumes_are_refused_and_change_nothing() {
    let addr = signaling(3).await;
    let ((mut a, a_id, token), (mut b, b_id)) = ana_and_ben(addr).await;
    let mut stranger = connect(addr).await;
    send(&mut stranger, resume_msg("0123456789abcdef0123456789abcdef")).await;
    expect_error(&mut stranger, ErrorCode::ResumeFailed).await;
    // A member may not take another seat on top of its own.
    send(&mut b, resume_msg(&token)).await;
    expect_error(&mut b, ErrorCode::AlreadyJoined).await;
    send(&mut stranger, json!({ "type": "resume", "version": 99, "token": token })).await;
    expect_error(&mut stranger, ErrorCode::VersionMismatch).await;
    assert_relays((&mut a, a_id), (&mut b, b_id)).await;
    assert_silent(&mut a).await;
}

#[tokio::test]
async fn a_ping_is_answered_with_a_pong() {
    let addr = signaling(2).await;
    let mut ws = connect(addr).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, ServerMsg::Pong);
    join(&mut ws, "r", "Ana").await;
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert_eq!(recv(&mut ws).await, ServerMsg::Pong);
}
