//! Rooms of six: the cap, member counts under concurrent joins and leaves, and
//! the occupancy endpoint, against the real server with real clients.

mod common;

use common::*;
use futures_util::future::join_all;
use serde_json::{json, Value};
use shared::{ApiError, ErrorCode, PeerId, RoomStatus, ServerMsg};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

const CAPACITY: usize = 6;
const FULL: &str = "this room is full: 6 of 6";

async fn room_status(addr: SocketAddr, room: &str) -> RoomStatus {
    let res = get(addr, &format!("/api/rooms/{room}")).await;
    assert_eq!(res.status(), 200, "{room}");
    assert_eq!(res.headers()["cache-control"], "no-store", "{room}");
    assert_eq!(res.headers()["content-type"], "application/json");
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

/// Rooms of six. A dropped socket's seat is kept only briefly, so members
/// who drop (one of the ways to go here) leave soon after.
async fn server() -> SocketAddr {
    let limits = backend::Limits { resume_window: std::time::Duration::from_millis(200), ..backend::Limits::default() };
    start_with(config(CAPACITY), limits).await
}

async fn members(addr: SocketAddr, room: &str) -> usize {
    room_status(addr, room).await.members
}

/// Polls until `room` has `expected` members: a dropped socket reaches the
/// hub a moment later, and nobody may be left in the room to hear of it.
async fn await_members(addr: SocketAddr, room: &str, expected: usize) {
    poll_until(|| members(addr, room), |now| *now == expected).await;
}

/// One client that asked to join, and what it was told.
struct Joiner {
    ws: Ws,
    room: String,
    outcome: Outcome,
}

enum Outcome {
    Welcome { you: PeerId, peers: Vec<PeerId> },
    Full(String),
}

/// Connects everyone first, then sends every join at once, so the hub sees
/// them interleaved. `rooms[i]` is the room of client `i`.
async fn join_at_once(addr: SocketAddr, rooms: Vec<String>) -> Vec<Joiner> {
    let barrier = Arc::new(Barrier::new(rooms.len()));
    let tasks: Vec<JoinHandle<Joiner>> = rooms
        .into_iter()
        .enumerate()
        .map(|(i, room)| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut ws = connect(addr).await;
                barrier.wait().await;
                send(&mut ws, join_msg(&room, &format!("guest {i}"))).await;
                // Before joining nothing reaches a client, so this is the answer.
                let outcome = match recv(&mut ws).await {
                    ServerMsg::Welcome { you, peers, .. } => {
                        Outcome::Welcome { you, peers: peers.iter().map(|p| p.id).collect() }
                    }
                    ServerMsg::Error { code: ErrorCode::RoomFull, message } => Outcome::Full(message),
                    other => panic!("client {i}: expected a welcome or room_full, got {other:?}"),
                };
                Joiner { ws, room, outcome }
            })
        })
        .collect();
    join_all(tasks).await.into_iter().map(Result::unwrap).collect()
}

/// A client just welcomed, with the ids of the members already there.
struct Welcomed {
    ws: Ws,
    id: PeerId,
    peers: Vec<PeerId>,
}

/// A member, told about everyone else in its room.
struct Member {
    ws: Ws,
    id: PeerId,
    others: BTreeSet<PeerId>,
}

/// Splits `joiners` into members (by room) and the refused, checking every
/// refusal's wording and that each room's members agree on who is there.
fn sort_out(joiners: Vec<Joiner>) -> (HashMap<String, Vec<Welcomed>>, Vec<Ws>) {
    let mut admitted: HashMap<String, Vec<Welcomed>> = HashMap::new();
    let mut refused = Vec::new();
    for Joiner { ws, room, outcome } in joiners {
        match outcome {
            Outcome::Welcome { you, peers } => admitted.entry(room).or_default().push(Welcomed { ws, id: you, peers }),
            Outcome::Full(message) => {
                assert_eq!(message, FULL);
                refused.push(ws);
            }
        }
    }
    (admitted, refused)
}

/// Reads `PeerJoined`s until each member knows the whole room, and checks
/// they all know the same room.
async fn settle(admitted: Vec<Welcomed>) -> Vec<Member> {
    let ids: BTreeSet<PeerId> = admitted.iter().map(|w| w.id).collect();
    assert_eq!(ids.len(), admitted.len(), "ids are unique");
    let members = join_all(admitted.into_iter().map(|Welcomed { mut ws, id, peers }| {
        let expected = ids.len() - 1;
        async move {
            let mut others: BTreeSet<PeerId> = peers.into_iter().collect();
            while others.len() < expected {
                match recv(&mut ws).await {
                    ServerMsg::PeerJoined { peer } => assert!(others.insert(peer.id)),
                    other => panic!("{id}: expected peer_joined, got {other:?}"),
                }
            }
            Member { ws, id, others }
        }
    }))
    .await;
    for m in &members {
        let mut room = m.others.clone();
        room.insert(m.id);
        assert_eq!(room, ids, "{} sees another room", m.id);
    }
    members
}

/// The ways a member goes.
#[derive(Clone, Copy, Debug)]
enum Exit {
    /// A `leave` message; the socket stays open.
    Leave,
    /// A WebSocket close handshake.
    Close,
    /// The TCP connection just drops.
    Drop,
}

/// Sends `leave` and returns the `PeerLeft`s it got before the hub saw it,
/// in order. A second `leave` is refused as `not_joined`, and that reply is
/// queued after everything the first could still be sent, so it marks the end.
async fn leave(mut ws: Ws, id: PeerId) -> (Ws, Vec<PeerId>) {
    send(&mut ws, json!({ "type": "leave" })).await;
    send(&mut ws, json!({ "type": "leave" })).await;
    let mut left = Vec::new();
    loop {
        match recv(&mut ws).await {
            ServerMsg::PeerLeft { peer } => left.push(peer),
            ServerMsg::Error { code: ErrorCode::NotJoined, .. } => return (ws, left),
            other => panic!("{id}: expected peer_left, got {other:?}"),
        }
    }
}

async fn exit(mut ws: Ws, id: PeerId, how: Exit) -> Option<Vec<PeerId>> {
    match how {
        Exit::Leave => Some(leave(ws, id).await.1),
        Exit::Close => {
            ws.close(None).await.unwrap();
            None
        }
        Exit::Drop => None,
    }
}

/// Asserts the refused were never in any room: nothing reached them, and
/// the hub still says they have not joined.
async fn assert_never_joined(refused: Vec<Ws>) {
    join_all(refused.into_iter().map(|mut ws| async move {
        send(&mut ws, json!({ "type": "leave" })).await;
        expect_error(&mut ws, ErrorCode::NotJoined).await;
    }))
    .await;
}

#[tokio::test]
async fn six_join_the_seventh_is_refused_and_the_six_carry_on() {
    let addr = server().await;
    let mut six = Vec::new();
    for i in 0..CAPACITY {
        let mut ws = connect(addr).await;
        let (id, peers) = join(&mut ws, "standup", &format!("guest {i}")).await;
        assert_eq!(peers.len(), i);
        six.push(Welcomed { ws, id, peers: peers.iter().map(|p| p.id).collect() });
    }
    let mut six = settle(six).await;
    assert_eq!(
        room_status(addr, "standup").await,
        RoomStatus { room: shared::RoomName::parse("standup").unwrap(), members: 6, capacity: 6, locked: false }
    );

    let mut seventh = connect(addr).await;
    send(&mut seventh, join_msg("standup", "late")).await;
    assert_eq!(expect_error(&mut seventh, ErrorCode::RoomFull).await, FULL);
    assert_eq!(members(addr, "standup").await, 6);

    // Everyone reaches everyone, and nothing else arrives.
    for from in 0..CAPACITY {
        for to in 0..CAPACITY {
            if from != to {
                let (a, b) = pick_two(&mut six, from, to);
                assert_relays((&mut a.ws, a.id), (&mut b.ws, b.id)).await;
            }
        }
    }
    join_all(six.iter_mut().map(|m| assert_silent(&mut m.ws))).await;

    // One leaves: the seventh gets the seat.
    let gone = six.pop().unwrap();
    leave(gone.ws, gone.id).await;
    let (_, peers) = join(&mut seventh, "standup", "late").await;
    assert_eq!(peers.len(), 5);
    assert_eq!(members(addr, "standup").await, 6);
}

fn pick_two(members: &mut [Member], a: usize, b: usize) -> (&mut Member, &mut Member) {
    assert_ne!(a, b);
    if a < b {
        let (left, right) = members.split_at_mut(b);
        (&mut left[a], &mut right[0])
    } else {
        let (left, right) = members.split_at_mut(a);
        (&mut right[0], &mut left[b])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_at_once_into_a_room_of_six_then_the_six_leave_at_once() {
    let addr = server().await;
    let joiners = join_at_once(addr, vec!["busy".to_owned(); 40]).await;
    let (mut admitted, refused) = sort_out(joiners);
    assert_eq!(refused.len(), 34);
    let admitted = admitted.remove("busy").unwrap();
    assert_eq!(admitted.len(), 6);
    let six = settle(admitted).await;
    assert_eq!(members(addr, "busy").await, 6);

    // Four say `leave`, one closes, one just drops, all at once.
    let plan = [Exit::Leave, Exit::Close, Exit::Leave, Exit::Drop, Exit::Leave, Exit::Leave];
    let barrier = Arc::new(Barrier::new(six.len()));
    let tasks: Vec<_> = six
        .into_iter()
        .zip(plan)
        .map(|(m, how)| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let seen = exit(m.ws, m.id, how).await;
                (m.id, m.others, seen)
            })
        })
        .collect();
    let exits: Vec<_> = join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    await_members(addr, "busy", 0).await;

    // The hub takes departures one at a time, so each leaver heard exactly of
    // those who went before it: no one twice, never itself, and each later
    // leaver heard of the earlier one and of everyone the earlier one did.
    let mut heard: Vec<(PeerId, BTreeSet<PeerId>)> = Vec::new();
    for (id, others, seen) in exits {
        let Some(seen) = seen else { continue };
        let set: BTreeSet<PeerId> = seen.iter().copied().collect();
        assert_eq!(set.len(), seen.len(), "{id} heard a departure twice: {seen:?}");
        assert!(set.is_subset(&others), "{id} heard of strangers: {seen:?}");
        heard.push((id, set));
    }
    assert_eq!(heard.len(), 4);
    heard.sort_by_key(|(_, set)| set.len());
    for pair in heard.windows(2) {
        let ((earlier, before), (later, after)) = (&pair[0], &pair[1]);
        assert!(
            after.contains(earlier) && before.is_subset(after),
            "{later} heard {after:?} but {earlier} left before it, having heard {before:?}"
        );
    }

    assert_never_joined(refused).await;
    let mut ws = connect(addr).await;
    let (_, peers) = join(&mut ws, "busy", "next").await;
    assert!(peers.is_empty(), "no ghosts: {peers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rooms_at_once_each_count_right() {
    let addr = server().await;
    // Room k gets k + 1 clients: 1 to 9, so the last three overflow.
    let wanted: Vec<usize> = (1..=9).collect();
    let rooms: Vec<String> =
        wanted.iter().enumerate().flat_map(|(k, &n)| std::iter::repeat_n(format!("room-{k}"), n)).collect();
    let (mut admitted, refused) = sort_out(join_at_once(addr, rooms).await);
    assert_eq!(refused.len(), 1 + 2 + 3);

    let mut remaining = Vec::new();
    let mut exits = Vec::new();
    for (k, &n) in wanted.iter().enumerate() {
        let room = format!("room-{k}");
        let mut stayers = settle(admitted.remove(&room).unwrap_or_default()).await;
        assert_eq!(stayers.len(), n.min(CAPACITY), "{room}");
        assert_eq!(members(addr, &room).await, n.min(CAPACITY), "{room}");
        // Half of each room goes, alternately by `leave` and by dropping.
        let goners = stayers.split_off(stayers.len() - stayers.len() / 2);
        let gone: BTreeSet<PeerId> = goners.iter().map(|m| m.id).collect();
        for (i, m) in goners.into_iter().enumerate() {
            let how = if i % 2 == 0 { Exit::Leave } else { Exit::Drop };
            exits.push((m, how));
        }
        remaining.push((room, stayers, gone));
    }
    assert!(admitted.is_empty());

    join_all(exits.into_iter().map(|(m, how)| exit(m.ws, m.id, how))).await;

    // Each stayer hears of exactly its own room's departures.
    join_all(remaining.iter_mut().flat_map(|(room, stayers, gone)| {
        stayers.iter_mut().map(|m| {
            let (room, gone) = (room.clone(), gone.clone());
            async move {
                let mut heard = BTreeSet::new();
                while heard.len() < gone.len() {
                    match recv(&mut m.ws).await {
                        ServerMsg::PeerLeft { peer } => assert!(heard.insert(peer)),
                        other => panic!("{room}: expected peer_left, got {other:?}"),
                    }
                }
                assert_eq!(heard, gone, "{room}");
            }
        })
    }))
    .await;
    // Every departure has been applied (the stayers heard of it), so the
    // counts must already be exact: no polling.
    for (room, stayers, _) in &remaining {
        assert_eq!(members(addr, room).await, stayers.len(), "{room}");
    }
    assert_eq!(members(addr, "room-never-used").await, 0);
    assert_never_joined(refused).await;
}

#[tokio::test]
async fn room_status_counts_and_refuses_bad_names() {
    let addr = server().await;
    let res = get(addr, "/api/rooms/standup").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(body, json!({ "room": "standup", "members": 0, "capacity": 6, "locked": false }));

    let mut a = connect(addr).await;
    join(&mut a, "standup", "Ana").await;
    let mut b = connect(addr).await;
    let (b_id, _) = join(&mut b, "standup", "Ben").await;
    let mut c = connect(addr).await;
    join(&mut c, "elsewhere", "Cy").await;
    assert_eq!(members(addr, "standup").await, 2);
    assert_eq!(members(addr, "elsewhere").await, 1);
    // The name as `join` reads it: trimmed, any script.
    let trimmed = room_status(addr, "%20standup%20").await;
    assert_eq!((trimmed.room.as_str(), trimmed.members), ("standup", 2));
    let korean = room_status(addr, "%EB%AA%A8%EC%9E%84-1").await;
    assert_eq!((korean.room.as_str(), korean.members), ("모임-1", 0));
    assert_eq!(members(addr, &"a".repeat(64)).await, 0);

    assert!(matches!(recv(&mut a).await, ServerMsg::PeerJoined { peer } if peer.id == b_id));
    b.close(None).await.unwrap();
    assert_eq!(recv(&mut a).await, ServerMsg::PeerLeft { peer: b_id });
    assert_eq!(members(addr, "standup").await, 1);

    let too_long = format!("/api/rooms/{}", "a".repeat(65));
    for (what, path, says) in [
        ("empty", "/api/rooms/", "the name is empty"),
        ("blank", "/api/rooms/%20%20", "the name is empty"),
        ("65 characters", too_long.as_str(), "longer than 64"),
        ("a slash", "/api/rooms/a/b", "'/'"),
        ("an encoded slash", "/api/rooms/a%2Fb", "'/'"),
        ("markup", "/api/rooms/%3Cb%3E", "'<'"),
        ("not UTF-8", "/api/rooms/%FF", "UTF-8"),
    ] {
        let res = get(addr, path).await;
        assert_eq!(res.status(), 400, "{what}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{what}");
        assert_eq!(res.headers()["content-type"], "application/json", "{what}");
        let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        assert_eq!(body["code"], "invalid_room_name", "{what}: {body}");
        let error: ApiError = serde_json::from_value(body).unwrap();
        assert_eq!(error.code, ErrorCode::InvalidRoomName);
        assert!(
            error.message.starts_with("invalid room name: ") && error.message.contains(says),
            "{what}: {}",
            error.message
        );
    }
}
