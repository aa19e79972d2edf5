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
    Server::start(&["--redis", &redis.url(), "--node-id", id, "--sfu-from", "0", "--message-rate", "1000"])
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
    let sent = common::metric(addr(&nodes[1]), "moim_cluster_sent_total").await;
    assert!(sent >= 50, "Ben's 50 candidates crossed: {sent}");

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
    send(
        &mut ben,
        json!({ "type": "join", "version": PROTOCOL_VERSION, "room": "locked", "name": "Ben", "password": "guess" }),
    )
    .await;
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

/// Waits for the server to close `ws` (saying "reconnect"), within `limit`.
async fn closed_within(ws: &mut Ws, limit: Duration) -> u16 {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => return frame.code.into(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close within {limit:?}, got {other:?}"),
        }
    }
}

async fn resume(ws: &mut Ws, token: &str) -> ServerMsg {
    send(ws, json!({ "type": "resume", "version": PROTOCOL_VERSION, "token": token })).await;
    recv(ws).await
}

#[tokio::test]
async fn the_rooms_node_killed_its_members_reconnect_and_the_room_is_owned_anew() {
    let redis = Redis::start();
    let mut nodes = [node(&redis, "n1"), node(&redis, "n2"), node(&redis, "n3")];
    let mut ana = connect(addr(&nodes[0])).await;
    join(&mut ana, "r", "Ana").await;
    let mut ben = connect(addr(&nodes[1])).await;
    let (_, token) = join_with_token(&mut ben, "r", "Ben").await;
    let mut cho = connect(addr(&nodes[2])).await;
    let (c, _) = join(&mut cho, "r", "Cho").await;
    expect_joined(&mut ben, c).await;

    nodes[0].kill();
    // Its heartbeat lapses (6 s) and the others look every 2 s, twice.
    let code = closed_within(&mut ben, Duration::from_secs(15)).await;
    assert_eq!(code, shared::protocol::close_code::GOING_AWAY, "told to reconnect");
    assert_eq!(closed_within(&mut cho, Duration::from_secs(4)).await, shared::protocol::close_code::GOING_AWAY);

    // As the page does: resume (the seat died with its node), then join again.
    let mut ben = connect(addr(&nodes[1])).await;
    assert!(matches!(resume(&mut ben, &token).await, ServerMsg::Error { code: ErrorCode::ResumeFailed, .. }));
    let (b, peers) = join(&mut ben, "r", "Ben").await;
    assert!(peers.is_empty(), "{peers:?}");
    let mut cho = connect(addr(&nodes[2])).await;
    let (c, peers) = join(&mut cho, "r", "Cho").await;
    assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [b], "the room is whole again, on n2");
    expect_joined(&mut ben, c).await;
    send(&mut cho, offer_msg(b, "again")).await;
    assert_eq!(recv(&mut ben).await, ServerMsg::Offer { from: c, sdp: "again".into() });
}

#[tokio::test]
async fn redis_restarted_under_load_nothing_is_delivered_twice_or_out_of_order() {
    let mut redis = Redis::start();
    let nodes = [node(&redis, "n1"), node(&redis, "n2")];
    let mut ana = connect(addr(&nodes[0])).await;
    let (a, _) = join(&mut ana, "r", "Ana").await;
    let mut ben = connect(addr(&nodes[1])).await;
    let (b, mut token) = join_with_token(&mut ben, "r", "Ben").await;
    expect_joined(&mut ana, b).await;

    // Ana sends numbered offers every 5 ms; Redis is killed and started again (empty) midway.
    let sender = tokio::spawn(async move {
        for i in 0..1200u32 {
            send(&mut ana, offer_msg(b, &i.to_string())).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ana
    });
    let restarter = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(1500));
        redis.restart();
        redis
    });
    let mut seen: Vec<u32> = Vec::new();
    let mut reconnects = 0;
    loop {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        match tokio::time::timeout(Duration::from_secs(15), ben.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => match ServerMsg::decode(&text).unwrap() {
                ServerMsg::Offer { from, sdp } if from == a => {
                    let n: u32 = sdp.parse().unwrap();
                    assert!(seen.last().is_none_or(|last| n > *last), "{n} after {:?}", seen.last());
                    seen.push(n);
                    if n == 1199 {
                        break;
                    }
                }
                other => panic!("unexpected {other:?}"),
            },
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => {
                // Messages were lost while Redis was away: Ben is told to
                // reconnect, and takes his seat back.
                reconnects += 1;
                assert!(reconnects <= 5, "reconnected {reconnects} times");
                ben = loop {
                    let mut again = connect(addr(&nodes[1])).await;
                    match resume(&mut again, &token).await {
                        ServerMsg::Resumed { you, resume: Some(next), .. } => {
                            assert_eq!(you, b);
                            token = next;
                            break again;
                        }
                        // Redis not back yet: the page tries again.
                        ServerMsg::Error { code: ErrorCode::Unavailable, .. } => {
                            tokio::time::sleep(Duration::from_millis(200)).await
                        }
                        other => panic!("expected resumed, got {other:?}"),
                    }
                };
            }
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("nothing for 15 s; saw {} up to {:?}", seen.len(), seen.last()),
        }
    }
    let _ana = sender.await.unwrap();
    let _redis = restarter.await.unwrap();
    assert!(seen.len() > 600, "most arrived: {}", seen.len());
}

async fn health(server: &Server) -> String {
    common::get(addr(server), "/healthz").await.text().await.unwrap()
}

#[tokio::test]
async fn without_redis_a_room_on_one_node_goes_on_and_the_rest_is_refused_clearly() {
    let mut redis = Redis::start();
    let (n1, n2) = (node(&redis, "n1"), node(&redis, "n2"));
    common::poll_until(|| health(&n1), |h| h == "ok").await;
    let ((mut ana, a), (mut ben, b)) = common::pair(addr(&n1), "here").await;
    // Dan, on n2, is in the room through n1.
    let mut dan = connect(addr(&n2)).await;
    let (d, _) = join(&mut dan, "here", "Dan").await;
    expect_joined(&mut ana, d).await;
    expect_joined(&mut ben, d).await;

    redis.stop();
    common::poll_until(|| health(&n1), |h| h == "degraded").await;
    // Both on n1, which holds the room: nothing changes for them.
    common::assert_relays((&mut ana, a), (&mut ben, b)).await;
    common::assert_relays((&mut ben, b), (&mut ana, a)).await;
    // What Dan says cannot reach the room: he is told so, in words.
    send(&mut dan, offer_msg(a, "lost")).await;
    let message = expect_error(&mut dan, ErrorCode::Unavailable).await;
    assert!(message.contains("cannot be reached"), "{message}");
    // Who holds a room cannot be asked: a join on the other node is refused, saying why.
    let mut cho = connect(addr(&n2)).await;
    send(&mut cho, join_msg("here", "Cho")).await;
    let message = expect_error(&mut cho, ErrorCode::Unavailable).await;
    assert!(message.contains("cannot be reached"), "{message}");

    // Redis comes back (empty): n1 takes its lease again, and Cho gets in.
    redis.restart();
    common::poll_until(|| health(&n1), |h| h == "ok").await;
    common::poll_until(|| health(&n2), |h| h == "ok").await;
    let (c, peers) = join(&mut cho, "here", "Cho").await;
    assert_eq!(peers.len(), 3, "{peers:?}");
    expect_joined(&mut ana, c).await;
    common::assert_relays((&mut cho, c), (&mut ana, a)).await;
}

#[tokio::test]
async fn a_node_drained_with_sigterm_ends_no_meeting() {
    let redis = Redis::start();
    let mut n1 = Server::start(&["--redis", &redis.url(), "--node-id", "n1", "--sfu-from", "0", "--drain-secs", "5"]);
    let n2 = node(&redis, "n2");
    let mut ana = connect(addr(&n1)).await;
    let (_, ana_token) = join_with_token(&mut ana, "r", "Ana").await;
    let mut ben = connect(addr(&n2)).await;
    let (_, ben_token) = join_with_token(&mut ben, "r", "Ben").await;

    n1.terminate();
    // Both are told to move: Ana's socket on n1, Ben's on n2 (his room was on n1).
    assert_eq!(closed_within(&mut ben, Duration::from_secs(5)).await, shared::protocol::close_code::GOING_AWAY);
    assert_eq!(closed_within(&mut ana, Duration::from_secs(5)).await, shared::protocol::close_code::GOING_AWAY);
    // n1 says it is stopping, so a load balancer sends pages elsewhere.
    let status = reqwest::get(format!("http://{}/healthz", addr(&n1))).await.map(|r| r.status().as_u16());
    assert!(matches!(status, Err(_) | Ok(503)), "{status:?}");

    // Their pages come back through n2: the old seats went with n1, so they join again.
    let mut ana = connect(addr(&n2)).await;
    assert!(matches!(resume(&mut ana, &ana_token).await, ServerMsg::Error { code: ErrorCode::ResumeFailed, .. }));
    let (a, _) = join(&mut ana, "r", "Ana").await;
    let mut ben = connect(addr(&n2)).await;
    assert!(matches!(resume(&mut ben, &ben_token).await, ServerMsg::Error { code: ErrorCode::ResumeFailed, .. }));
    let (b, peers) = join(&mut ben, "r", "Ben").await;
    assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [a], "the meeting goes on, on n2");
    expect_joined(&mut ana, b).await;
    // n1 has exited on its own, in time.
    assert!(n1.exited_within(Duration::from_secs(10)), "n1 still running");
}

#[tokio::test]
async fn a_join_after_a_failed_resume_goes_to_the_node_holding_that_room() {
    let redis = Redis::start();
    let nodes = [node(&redis, "n1"), node(&redis, "n2"), node(&redis, "n3")];
    let mut ana = connect(addr(&nodes[0])).await;
    join(&mut ana, "r", "Ana").await;
    let mut ben = connect(addr(&nodes[1])).await;
    let (_, token) = join_with_token(&mut ben, "r", "Ben").await;
    // Ben leaves for good: his seat (on n1) is gone.
    send(&mut ben, json!({ "type": "leave" })).await;
    drop(ben);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // His page comes back through n3 with the old token, then joins another room.
    let mut ben = connect(addr(&nodes[2])).await;
    assert!(matches!(resume(&mut ben, &token).await, ServerMsg::Error { code: ErrorCode::ResumeFailed, .. }));
    let (b, peers) = join(&mut ben, "s", "Ben").await;
    assert!(peers.is_empty());
    // Room "s" is one room wherever its members connect.
    let mut cho = connect(addr(&nodes[1])).await;
    let (c, peers) = join(&mut cho, "s", "Cho").await;
    assert_eq!(peers.iter().map(|p| p.id).collect::<Vec<_>>(), [b], "Cho, on n2, finds Ben");
    expect_joined(&mut ben, c).await;
}

#[tokio::test]
async fn a_full_room_is_full_from_every_node() {
    let redis = Redis::start();
    let args = |id| {
        [
            "--redis".to_owned(),
            redis.url(),
            "--node-id".into(),
            id,
            "--sfu-from".into(),
            "0".into(),
            "--room-capacity".into(),
            "2".into(),
        ]
    };
    let nodes: Vec<Server> =
        (1..=3).map(|i| Server::start(&args(format!("n{i}")).each_ref().map(String::as_str))).collect();
    let mut ana = connect(addr(&nodes[0])).await;
    join(&mut ana, "pair", "Ana").await;
    let mut ben = connect(addr(&nodes[1])).await;
    join(&mut ben, "pair", "Ben").await;
    let mut cho = connect(addr(&nodes[2])).await;
    send(&mut cho, join_msg("pair", "Cho")).await;
    expect_error(&mut cho, ErrorCode::RoomFull).await;
}

#[tokio::test]
async fn a_room_on_the_media_server_uses_the_media_server_of_its_node() {
    let redis = Redis::start();
    let sfu_node = |id: &str| Server::start(&["--redis", &redis.url(), "--node-id", id, "--sfu-from", "2"]);
    let (n1, n2) = (sfu_node("n1"), sfu_node("n2"));
    let mut ana = connect(addr(&n1)).await;
    send(&mut ana, join_msg("big", "Ana")).await;
    assert!(matches!(recv(&mut ana).await, ServerMsg::Welcome { sfu: true, .. }));
    // Ben's socket is on n2; his media session is with the room's node, n1.
    let mut ben = connect(addr(&n2)).await;
    send(&mut ben, join_msg("big", "Ben")).await;
    assert!(matches!(recv(&mut ben).await, ServerMsg::Welcome { sfu: true, .. }));
    send(&mut ben, json!({ "type": "sfu_offer", "sdp": common::browser_offer() })).await;
    let sdp = loop {
        match recv(&mut ben).await {
            ServerMsg::SfuAnswer { sdp } => break sdp,
            ServerMsg::PeerJoined { .. } | ServerMsg::SfuOffer { .. } => continue,
            other => panic!("expected the media server's answer, got {other:?}"),
        }
    };
    // The media port is the node's own port number (UDP).
    assert!(sdp.contains(&format!("127.0.0.1 {} typ host", n1.port)), "n1's media address: {sdp}");
    assert_eq!(common::metric(addr(&n1), "moim_sfu_sessions").await, 1);
    assert_eq!(common::metric(addr(&n2), "moim_sfu_sessions").await, 0, "none on Ben's own node");
}

#[tokio::test]
async fn members_of_a_drained_node_take_their_seats_back_through_another() {
    let redis = Redis::start();
    let n1 = node(&redis, "n1");
    let mut n2 = Server::start(&["--redis", &redis.url(), "--node-id", "n2", "--sfu-from", "0", "--drain-secs", "5"]);
    let mut ana = connect(addr(&n1)).await;
    let (a, _) = join(&mut ana, "r", "Ana").await;
    let mut ben = connect(addr(&n2)).await;
    let (b, token) = join_with_token(&mut ben, "r", "Ben").await;
    expect_joined(&mut ana, b).await;

    // n2 only carries Ben's socket; his seat is on n1, and stays.
    n2.terminate();
    assert_eq!(closed_within(&mut ben, Duration::from_secs(5)).await, shared::protocol::close_code::GOING_AWAY);
    let mut again = connect(addr(&n1)).await;
    assert!(matches!(resume(&mut again, &token).await, ServerMsg::Resumed { you, .. } if you == b));
    send(&mut again, offer_msg(a, "still me")).await;
    assert_eq!(recv(&mut ana).await, ServerMsg::Offer { from: b, sdp: "still me".into() }, "Ana never saw Ben leave");
    assert!(n2.exited_within(Duration::from_secs(10)));
}
