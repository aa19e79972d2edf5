//! Locked rooms: the first member's password, or the operator's, over real
//! WebSockets; the occupancy API says which rooms are locked.

mod common;

use backend::{Config, Limits};
use common::*;
use serde_json::json;
use shared::{ErrorCode, RoomName, RoomStatus, ServerMsg, PROTOCOL_VERSION};

fn locked_join(room: &str, name: &str, password: &str) -> serde_json::Value {
    json!({ "type": "join", "version": PROTOCOL_VERSION, "room": room, "name": name, "password": password })
}

async fn status(addr: std::net::SocketAddr, room: &str) -> RoomStatus {
    let res = get(addr, &format!("/api/rooms/{room}")).await;
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn the_first_member_locks_the_room_with_a_password() {
    let addr = signaling(3).await;
    let mut ana = connect(addr).await;
    send(&mut ana, locked_join("r", "Ana", "open sesame")).await;
    assert!(matches!(recv(&mut ana).await, ServerMsg::Welcome { .. }));
    assert!(status(addr, "r").await.locked);

    let mut ben = connect(addr).await;
    send(&mut ben, join_msg("r", "Ben")).await;
    let message = expect_error(&mut ben, ErrorCode::PasswordRequired).await;
    assert!(message.contains("password"), "{message}");
    send(&mut ben, locked_join("r", "Ben", "open sesame?")).await;
    expect_error(&mut ben, ErrorCode::WrongPassword).await;
    assert_silent(&mut ana).await;
    assert_eq!(status(addr, "r").await.members, 1);

    send(&mut ben, locked_join("r", "Ben", "open sesame")).await;
    assert!(matches!(recv(&mut ben).await, ServerMsg::Welcome { .. }));
    assert!(matches!(recv(&mut ana).await, ServerMsg::PeerJoined { .. }));
}

#[tokio::test]
async fn the_operator_locks_rooms_for_good() {
    let config = Config { room_passwords: vec![(RoomName::parse("board").unwrap(), "quarterly".into())], ..config(3) };
    let addr = start_with(config, Limits::default()).await;
    assert!(status(addr, "board").await.locked, "locked while empty");
    assert!(!status(addr, "lobby").await.locked);
    let mut ana = connect(addr).await;
    send(&mut ana, locked_join("board", "Ana", "my own")).await;
    expect_error(&mut ana, ErrorCode::WrongPassword).await;
    send(&mut ana, locked_join("board", "Ana", "quarterly")).await;
    assert!(matches!(recv(&mut ana).await, ServerMsg::Welcome { .. }));
}
