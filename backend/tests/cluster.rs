//! Three `moim` processes on one `redis-server` of the test's own: members
//! whose sockets land on different nodes meet in one room, which lives on
//! one node; faults (a node killed, Redis restarted) end no meeting.

mod common;

use common::binary::Server;
use common::redis::Redis;
use common::{connect, expect_error, join, join_msg, offer_msg, recv, send, Ws};
use serde_json::json;
use shared::{ErrorCode, PeerId, ServerMsg, PROTOCOL_VERSION};
use std::net::SocketAddr;
use std::time::Duration;

fn node(redis: &Redis, id: &str) -> Server {
    Server::start(&["--redis", &redis.url(), "--node-id", id, "--sfu-from", "0"])
}

fn addr(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port))
}

/// The welcome's id and resume token.
async fn join_with_token(ws: &mut Ws, room: &str, name: &str) -> (PeerId, String) {
    send(ws, join_msg(room, name)).await;
    match recv(ws).await {
        ServerMsg::Welcome { you, resume: Some(token), .. } => (you, token),
        other => panic!("expected a welcome, got {other:?}"),
    }
}

async fn expect_joined(ws: &mut Ws, who: PeerId) {
    match recv(ws).await {
        ServerMsg::PeerJoined { peer } if peer.id == who => {}
        other => panic!("expected {who} to join, got {other:?}"),
    }
}

#[tokio::test]
async fn members_on_three_nodes_meet_and_every_message_crosses_in_order() {
    let redis = Redis::start();
    let nodes = [node(&redis, "n1"), node(&redis, "n2"), node(&redis, "n3")];
    let (mut ana, mut ben, mut cho) =
        (connect(addr(&nodes[0])).await, connect(addr(&nodes[1])).await, connect(addr(&nodes[2])).await);
    let (a, _) = join(&mut ana, "r", "Ana").await;
    let (b, peers) = join(&mut ben, "r", "Ben").await;
    assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [a], "Ben, on n2, is in Ana's room on n1");
    expect_joined(&mut ana, b).await;
    let (c, peers) = join(&mut cho, "r", "Cho").await;
    assert_eq!(peers.len(), 2);
    expect_joined(&mut ana, c).await;
    expect_joined(&mut ben, c).await;

    // Offers, answers and candidates, in every direction, in order.
    for i in 0..50 {
        send(&mut ana, offer_msg(b, &format!("a{i}"))).await;
        send(&mut cho, json!({ "type": "answer", "to": b, "sdp": format!("c{i}") })).await;
        send(&mut ben, json!({ "type": "ice", "to": c, "candidate": { "candidate": format!("b{i}"), "sdp_mid": "0", "sdpMLineIndex": 0 } })).await;
    }
    let (mut from_a, mut from_c) = (0, 0);
    while from_a < 50 || from_c < 50 {
        match recv(&mut ben).await {
            ServerMsg::Offer { from, sdp } if from == a => {
                assert_eq!(sdp, format!("a{from_a}"));
                from_a += 1;
            }
            ServerMsg::Answer { from, sdp } if from == c => {
                assert_eq!(sdp, format!("c{from_c}"));
                from_c += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    for i in 0..50 {
        match recv(&mut cho).await {
            ServerMsg::Ice { from, candidate } if from == b => assert_eq!(candidate.candidate, format!("b{i}")),
            other => panic!("unexpected {other:?}"),
        }
    }

    // The room's status, from any node.
    for server in &nodes {
        let text = common::get(addr(server), "/api/rooms/r").await.text().await.unwrap();
        let status: serde_json::Value = serde_json::from_str(&text).expect("a JSON status");
        assert_eq!(status["members"], 3, "from node on port {}", server.port);
    }
    // Each node counts what it relayed to the others.
    let metrics = common::get(addr(&nodes[1]), "/metrics").await.text().await.unwrap();
    let sent = metrics.lines().find_map(|l| l.strip_prefix("moim_cluster_sent_total ")).map(str::parse::<u64>);
    assert!(sent.is_some_and(|n| n.is_ok_and(|n| n >= 50)), "Ben's 50 candidates crossed: {metrics}");

    // Leaving on one node is heard on the others.
    send(&mut ben, json!({ "type": "leave" })).await;
    assert_eq!(recv(&mut ana).await, ServerMsg::PeerLeft { peer: b });
    assert_eq!(recv(&mut cho).await, ServerMsg::PeerLeft { peer: b });
}

#[tokio::test]
async fn a_locked_room_refuses_a_wrong_password_from_any_node() {
    let redis = Redis::start();
    let (n1, n2) = (node(&redis, "n1"), node(&redis, "n2"));
    let mut ana = connect(addr(&n1)).await;
    send(&mut ana, json!({ "type": "join", "version": PROTOCOL_VERSION, "room": "locked", "name": "Ana", "password": "open sesame" })).await;
    assert!(matches!(recv(&mut ana).await, ServerMsg::Welcome { .. }));
    let mut ben = connect(addr(&n2)).await;
    send(&mut ben, json!({ "type": "join", "version": PROTOCOL_VERSION, "room": "locked", "name": "Ben", "password": "guess" })).await;
    expect_error(&mut ben, ErrorCode::WrongPassword).await;
    send(&mut ben, json!({ "type": "join", "version": PROTOCOL_VERSION, "room": "locked", "name": "Ben" })).await;
    expect_error(&mut ben, ErrorCode::PasswordRequired).await;
    send(&mut ben, json!({ "type": "join", "version": PROTOCOL_VERSION, "room": "locked", "name": "Ben", "password": "open sesame" })).await;
    assert!(matches!(recv(&mut ben).await, ServerMsg::Welcome { .. }));
}

#[tokio::test]
async fn a_member_resuming_on_another_node_keeps_its_seat() {
    let redis = Redis::start();
    let nodes = [node(&redis, "n1"), node(&redis, "n2"), node(&redis, "n3")];
    let mut ana = connect(addr(&nodes[0])).await;
    let (a, _) = join(&mut ana, "r", "Ana").await;
    let mut ben = connect(addr(&nodes[1])).await;
    let (b, token) = join_with_token(&mut ben, "r", "Ben").await;
    expect_joined(&mut ana, b).await;
    // Ben's network changes: the socket just drops, and he comes back through n3.
    drop(ben);
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&mut ana, offer_msg(b, "while away")).await;
    let mut again = connect(addr(&nodes[2])).await;
    send(&mut again, json!({ "type": "resume", "version": PROTOCOL_VERSION, "token": token })).await;
    match recv(&mut again).await {
        ServerMsg::Resumed { you, peers, .. } => {
            assert_eq!(you, b, "the same seat");
            assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [a]);
        }
        other => panic!("expected resumed, got {other:?}"),
    }
    assert_eq!(recv(&mut again).await, ServerMsg::Offer { from: a, sdp: "while away".into() }, "what it missed");
    send(&mut again, json!({ "type": "answer", "to": a, "sdp": "back" })).await;
    assert_eq!(recv(&mut ana).await, ServerMsg::Answer { from: b, sdp: "back".into() }, "Ana never saw Ben leave");
}
