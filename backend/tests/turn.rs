//! `--turn-secret`: every joiner's Welcome carries TURN credentials of its
//! own, in coturn's REST format, checked here as coturn would check them.
//! `/api/ice-servers` gives a page the same list ahead of Join, with TURN
//! credentials of its own.

mod common;

use backend::turn::TurnRest;
use backend::{Config, Limits};
use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use shared::{IceConfig, IceServer, PeerId, ServerMsg};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &str = "coturn-static-auth-secret";
const TTL: Duration = Duration::from_secs(3600);

fn turn_config() -> Config {
    Config {
        ice_servers: vec![IceServer {
            urls: vec!["stun:stun.example.org:3478".into()],
            username: None,
            credential: None,
        }],
        turn: Some(TurnRest {
            urls: vec!["turn:turn.example.org:3478".into(), "turns:turn.example.org:5349".into()],
            secret: SECRET.into(),
            ttl: TTL,
        }),
        ..config(6)
    }
}

/// Joins `room` and returns my id and the Welcome's ICE servers.
async fn welcome_ice(ws: &mut Ws, room: &str, name: &str) -> (PeerId, Vec<IceServer>) {
    send(ws, join_msg(room, name)).await;
    match recv(ws).await {
        ServerMsg::Welcome { you, ice_servers, .. } => (you, ice_servers),
        other => panic!("expected a welcome, got {other:?}"),
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// What coturn does: recompute the HMAC of the username with the secret.
fn verifies(username: &str, credential: &str) -> bool {
    let Ok(mac) = base64::engine::general_purpose::STANDARD.decode(credential) else {
        return false;
    };
    let mut expected = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
    expected.update(username.as_bytes());
    expected.verify_slice(&mac).is_ok()
}

/// The TURN entry's username and credential, checked; returns the username.
fn check_turn_entry(servers: &[IceServer], me: &str) -> String {
    assert_eq!(servers.len(), 2, "{servers:?}");
    assert_eq!(servers[0].urls, ["stun:stun.example.org:3478"]);
    let turn = &servers[1];
    assert_eq!(turn.urls, ["turn:turn.example.org:3478", "turns:turn.example.org:5349"]);
    let username = turn.username.clone().expect("a username");
    let credential = turn.credential.as_deref().expect("a credential");
    let (expiry, user) = username.split_once(':').expect("<expiry>:<user>");
    let expiry: u64 = expiry.parse().unwrap();
    let now = unix_now();
    assert!(expiry > now, "expired: {expiry} <= {now}");
    assert!(expiry <= now + TTL.as_secs(), "{expiry} is past now + ttl");
    assert_eq!(user, me);
    assert!(verifies(&username, credential), "{username} / {credential}");
    username
}

#[tokio::test]
async fn every_joiner_gets_turn_credentials_of_its_own_that_verify() {
    let addr = start_with(turn_config(), Limits::default()).await;
    let (mut a, mut b) = (connect(addr).await, connect(addr).await);
    let (a_id, a_servers) = welcome_ice(&mut a, "r", "Ana").await;
    let (b_id, b_servers) = welcome_ice(&mut b, "r", "Ben").await;
    let a_user = check_turn_entry(&a_servers, &format!("moim-{a_id}"));
    let b_user = check_turn_entry(&b_servers, &format!("moim-{b_id}"));
    assert_ne!(a_user, b_user);
    assert!(!verifies(&a_user, b_servers[1].credential.as_deref().unwrap()));
}

#[tokio::test]
async fn without_a_secret_the_welcome_has_only_the_fixed_servers() {
    let config = Config { turn: None, ..turn_config() };
    let addr = start_with(config, Limits::default()).await;
    let (_, servers) = welcome_ice(&mut connect(addr).await, "r", "Ana").await;
    assert_eq!(servers.len(), 1);
    assert!(servers[0].username.is_none() && servers[0].credential.is_none());
}

#[tokio::test]
async fn the_lobby_gets_the_welcome_s_servers_when_they_are_the_same_for_all() {
    let config = Config { turn: None, ..turn_config() };
    let addr = start_with(config, Limits::default()).await;
    let res = get(addr, "/api/ice-servers").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let lobby = serde_json::from_str::<IceConfig>(&res.text().await.unwrap()).unwrap().servers;
    let (_, welcome) = welcome_ice(&mut connect(addr).await, "r", "Ana").await;
    assert_eq!(lobby, welcome);
}

#[tokio::test]
async fn the_lobby_gets_turn_credentials_of_its_own_that_verify() {
    let addr = start_with(turn_config(), Limits::default()).await;
    let res = get(addr, "/api/ice-servers").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let lobby = serde_json::from_str::<IceConfig>(&res.text().await.unwrap()).unwrap().servers;
    check_turn_entry(&lobby, backend::turn::LOBBY_USER);
    // The same servers as a member's, so the page's prepared connection fits.
    let (me, welcome) = welcome_ice(&mut connect(addr).await, "r", "Ana").await;
    let urls = |servers: &[IceServer]| servers.iter().map(|s| s.urls.clone()).collect::<Vec<_>>();
    assert_eq!(urls(&lobby), urls(&welcome));
    assert_ne!(lobby[1].username, welcome[1].username, "moim-{me} has credentials of its own");
}

#[tokio::test]
async fn relay_only_reaches_members_and_the_lobby() {
    let addr = start_with(Config { relay_only: true, ..turn_config() }, Limits::default()).await;
    let lobby: IceConfig = serde_json::from_str(&get(addr, "/api/ice-servers").await.text().await.unwrap()).unwrap();
    assert!(lobby.relay_only, "the page prepares its first connection relay-only too");
    let mut ws = connect(addr).await;
    send(&mut ws, join_msg("r", "Ana")).await;
    let ServerMsg::Welcome { relay_only, .. } = recv(&mut ws).await else { panic!("expected a welcome") };
    assert!(relay_only);
    // Without it, neither says so.
    let addr = start_with(turn_config(), Limits::default()).await;
    let lobby: IceConfig = serde_json::from_str(&get(addr, "/api/ice-servers").await.text().await.unwrap()).unwrap();
    assert!(!lobby.relay_only);
}
