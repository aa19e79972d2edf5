//! What the server accepts as names and tokens, and what it echoes back, over
//! real WebSockets: one spelling per room, names that show, resume tokens
//! good for one resume, and short answers to bad frames.

mod common;

use common::*;
use serde_json::json;
use shared::protocol::{close_code, MAX_FRAME_BYTES};
use shared::{ErrorCode, PeerId, ServerMsg, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Message;

fn resume_msg(token: &str) -> serde_json::Value {
    json!({ "type": "resume", "version": PROTOCOL_VERSION, "token": token })
}

/// Joins and returns my id and resume token.
async fn join_with_token(ws: &mut Ws, room: &str, name: &str) -> (PeerId, String) {
    send(ws, join_msg(room, name)).await;
    match recv(ws).await {
        ServerMsg::Welcome { you, resume: Some(token), .. } => (you, token),
        other => panic!("expected a welcome with a resume token, got {other:?}"),
    }
}

/// Resumes `token` on `ws` as `you`; returns the next token.
async fn resume_as(ws: &mut Ws, token: &str, you: PeerId) -> String {
    send(ws, resume_msg(token)).await;
    match recv(ws).await {
        ServerMsg::Resumed { you: got, resume: Some(next), .. } if got == you => next,
        other => panic!("expected resumed as {you} with a new token, got {other:?}"),
    }
}

#[tokio::test]
async fn a_resume_token_works_once_and_the_next_one_is_given() {
    let addr = signaling(3).await;
    let mut a = connect(addr).await;
    let (a_id, first) = join_with_token(&mut a, "r", "Ana").await;
    let mut b = connect(addr).await;
    let (b_id, _) = join(&mut b, "r", "Ben").await;
    recv(&mut a).await; // Ben's arrival

    let mut again = connect(addr).await;
    let second = resume_as(&mut again, &first, a_id).await;
    assert_ne!(second, first);
    assert_eq!(u16::from(expect_close(&mut a).await.code), close_code::REPLACED);

    // Whoever else holds the first token can't take the seat with it.
    let mut thief = connect(addr).await;
    send(&mut thief, resume_msg(&first)).await;
    expect_error(&mut thief, ErrorCode::ResumeFailed).await;
    assert_relays((&mut b, b_id), (&mut again, a_id)).await;

    // The second token works, once.
    let mut third_conn = connect(addr).await;
    let third = resume_as(&mut third_conn, &second, a_id).await;
    assert_ne!(third, second);
    assert_eq!(u16::from(expect_close(&mut again).await.code), close_code::REPLACED);
    send(&mut thief, resume_msg(&second)).await;
    expect_error(&mut thief, ErrorCode::ResumeFailed).await;
    assert_relays((&mut b, b_id), (&mut third_conn, a_id)).await;
    assert_relays((&mut third_conn, a_id), (&mut b, b_id)).await;
    assert_silent(&mut b).await;
}

#[tokio::test]
async fn two_spellings_of_a_room_name_are_one_room() {
    let addr = signaling(3).await;
    let mut a = connect(addr).await;
    let mut b = connect(addr).await;
    let (a_id, _) = join(&mut a, "cafe\u{301}", "Ana").await;
    send(&mut b, join_msg("caf\u{e9}", "Ben")).await;
    match recv(&mut b).await {
        ServerMsg::Welcome { room, peers, .. } => {
            assert_eq!(room.as_str(), "caf\u{e9}", "the composed spelling");
            assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [a_id]);
        }
        other => panic!("expected a welcome, got {other:?}"),
    }
    assert!(matches!(recv(&mut a).await, ServerMsg::PeerJoined { .. }));
    let res = get(addr, "/api/rooms/cafe%CC%81").await;
    let status: shared::RoomStatus = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!((status.room.as_str(), status.members), ("caf\u{e9}", 2));
}

#[tokio::test]
async fn names_that_show_nothing_or_turn_text_around_are_refused() {
    let addr = signaling(3).await;
    let mut ws = connect(addr).await;
    for (name, why) in [
        ("\u{200B}", "no visible character"),
        ("\u{3164}\u{3164}", "no visible character"),
        ("\u{2800}", "no visible character"),
        ("Ana\u{202E}gpj.exe", "text direction"),
        ("Z\u{36B}\u{36B}\u{36B}\u{36B}", "marks"),
    ] {
        send(&mut ws, join_msg("r", name)).await;
        let message = expect_error(&mut ws, ErrorCode::InvalidDisplayName).await;
        assert!(message.contains(why), "{name:?}: {message}");
    }
    for room in [".", ".."] {
        send(&mut ws, join_msg(room, "Ana")).await;
        expect_error(&mut ws, ErrorCode::InvalidRoomName).await;
    }
    let (_, peers) = join(&mut ws, "r", "김민지").await;
    assert!(peers.is_empty(), "the refusals left nothing behind");
}

#[tokio::test]
async fn a_bad_frame_is_not_echoed_back_at_length() {
    let addr = signaling(2).await;
    let mut ws = connect(addr).await;
    let frame = format!(r#"{{"type":"offer","sdp":"","to":"{}"}}"#, "\u{301}".repeat(32_000));
    assert!(frame.len() <= MAX_FRAME_BYTES);
    ws_send_text(&mut ws, frame).await;
    let reply = match next_frame(&mut ws).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    };
    assert!(reply.len() < 300, "{} bytes: {reply}", reply.len());
    let ServerMsg::Error { code, message } = ServerMsg::decode(&reply).unwrap() else { panic!("{reply}") };
    assert_eq!(code, ErrorCode::InvalidMessage);
    assert!(message.contains("offer"), "{message}");
    // Still a good connection.
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, ServerMsg::Pong);
}

async fn ws_send_text(ws: &mut Ws, text: String) {
    use futures_util::SinkExt;
    ws.send(Message::text(text)).await.unwrap();
}
