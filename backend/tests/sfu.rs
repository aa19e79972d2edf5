//! The media server behind the real signaling server: SDP rides the
//! member's WebSocket, only members of an SFU room reach it, and what it
//! does shows in /metrics.

mod common;

use backend::{Limits, SfuSettings};
use common::*;
use serde_json::json;
use shared::{ErrorCode, ServerMsg};

async fn sfu_server(from: usize) -> std::net::SocketAddr {
    let settings = SfuSettings { from, media: sfu::Config::loopback() };
    start_with(backend::Config { sfu: Some(settings), ..config(50) }, Limits::default()).await
}

#[tokio::test]
async fn a_member_of_an_sfu_room_gets_an_answer_and_leaving_ends_its_session() {
    let addr = sfu_server(2).await;
    let mut ws = connect(addr).await;
    send(&mut ws, join_msg("big", "Ana")).await;
    assert!(
        matches!(recv(&mut ws).await, ServerMsg::Welcome { sfu: true, .. }),
        "with --sfu-from 2 every room is on it"
    );

    send(&mut ws, json!({ "type": "sfu_offer", "sdp": browser_offer() })).await;
    let ServerMsg::SfuAnswer { sdp } = recv(&mut ws).await else { panic!("an answer") };
    assert!(sdp.contains("a=ice-lite") && sdp.contains("127.0.0.1"), "ICE-lite with a loopback candidate: {sdp}");
    assert_eq!(metric(addr, "moim_sfu_sessions").await, 1);

    send(&mut ws, json!({ "type": "leave" })).await;
    poll_until(|| async { metric(addr, "moim_sfu_sessions").await }, |n| *n == 0).await;
}

#[tokio::test]
async fn a_bad_sdp_gets_a_typed_error_and_the_connection_goes_on() {
    let addr = sfu_server(2).await;
    let mut ws = connect(addr).await;
    send(&mut ws, json!({ "type": "sfu_offer", "sdp": browser_offer() })).await;
    expect_error(&mut ws, ErrorCode::NotJoined).await;
    join(&mut ws, "big", "Ana").await;
    send(&mut ws, json!({ "type": "sfu_offer", "sdp": "v=0\r\nnot an offer" })).await;
    let message = expect_error(&mut ws, ErrorCode::InvalidSdp).await;
    assert!(message.contains("SDP"), "{message}");
    send(&mut ws, json!({ "type": "sfu_answer", "sdp": "v=0" })).await;
    expect_error(&mut ws, ErrorCode::InvalidSdp).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, ServerMsg::Pong);
    assert_eq!(metric(addr, "moim_sfu_refused_sdp_total").await, 2);
}

#[tokio::test]
async fn a_mesh_room_moves_when_its_nth_member_joins() {
    let addr = sfu_server(3).await;
    let ((mut a, _), (mut b, _)) = pair(addr, "grows").await;
    send(&mut a, json!({ "type": "sfu_offer", "sdp": browser_offer() })).await;
    expect_error(&mut a, ErrorCode::NoSfu).await;
    let mut c = connect(addr).await;
    send(&mut c, join_msg("grows", "Cy")).await;
    assert!(matches!(recv(&mut c).await, ServerMsg::Welcome { sfu: true, .. }));
    for ws in [&mut a, &mut b] {
        assert!(matches!(recv(ws).await, ServerMsg::PeerJoined { .. }));
        assert_eq!(recv(ws).await, ServerMsg::UseSfu);
    }
    send(&mut a, json!({ "type": "sfu_offer", "sdp": browser_offer() })).await;
    assert!(matches!(recv(&mut a).await, ServerMsg::SfuAnswer { .. }));
}
