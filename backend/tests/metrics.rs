//! `GET /metrics` after real traffic: the Prometheus text parses, and every
//! number is what the traffic should have made it.

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use shared::{ErrorCode, ServerMsg, PROTOCOL_VERSION};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::Message;

/// Sample (`name` or `name{label="value"}`) to value.
type Samples = HashMap<String, u64>;

/// Parses the text format strictly: every sample follows its family's
/// `# HELP` and `# TYPE`, counters end in `_total`, no sample twice.
fn parse(text: &str) -> Samples {
    let mut helped = HashSet::new();
    let mut kinds = HashMap::new();
    let mut samples = Samples::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect(line);
            assert!(!help.is_empty(), "{line}");
            assert!(helped.insert(name.to_owned()), "HELP twice: {line}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect(line);
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            assert!(matches!(kind, "gauge" | "counter"), "{line}");
            assert!(kinds.insert(name.to_owned(), kind).is_none(), "{line}");
        } else {
            let (key, value) = line.rsplit_once(' ').expect(line);
            let name = key.split('{').next().unwrap();
            let kind = kinds.get(name).unwrap_or_else(|| panic!("no TYPE for {line}"));
            assert_eq!(*kind == "counter", name.ends_with("_total"), "{line}");
            if let Some(labels) = key.strip_prefix(name) {
                assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with("\"}")), "{line}");
            }
            let value = value.parse().unwrap_or_else(|_| panic!("not a count: {line}"));
            assert!(samples.insert(key.to_owned(), value).is_none(), "twice: {line}");
        }
    }
    samples
}

async fn scrape(addr: SocketAddr) -> Samples {
    let res = get(addr, "/metrics").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(res.headers()["cache-control"], "no-store");
    parse(&res.text().await.unwrap())
}

/// Closes are counted as connections end, a moment after the client sees
/// them: polls until `ready` holds.
async fn scrape_until(addr: SocketAddr, ready: impl Fn(&Samples) -> bool) -> Samples {
    poll_until(|| scrape(addr), ready).await
}

fn error_key(code: &str) -> String {
    format!("moim_errors_total{{code=\"{code}\"}}")
}

fn closed_key(reason: &str) -> String {
    format!("moim_connections_closed_total{{reason=\"{reason}\"}}")
}

/// Asserts every sample of `family` is 0 but those in `nonzero`.
fn assert_family(samples: &Samples, family: &str, nonzero: &[(String, u64)]) {
    let mut seen = 0;
    for (key, value) in samples.iter().filter(|(k, _)| k.starts_with(family)) {
        let want = nonzero.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v);
        assert_eq!(*value, want, "{key}");
        seen += 1;
    }
    assert!(seen > nonzero.len(), "{family} has too few samples");
    for (key, _) in nonzero {
        assert!(samples.contains_key(key), "{key} missing");
    }
}

#[tokio::test]
async fn metrics_count_real_traffic() {
    let addr = signaling(2).await;
    let fresh = scrape(addr).await;
    for key in ["moim_connections_open", "moim_rooms", "moim_members", "moim_messages_relayed_total"] {
        assert_eq!(fresh[key], 0, "{key}");
    }
    assert_family(&fresh, "moim_errors_total", &[]);
    assert_family(&fresh, "moim_connections_refused_total", &[]);
    assert_family(&fresh, "moim_connections_closed_total", &[]);

    // Three relays: an offer, an answer, a media state.
    let ((mut a, a_id), (mut b, b_id)) = pair(addr, "r").await;
    assert_relays((&mut a, a_id), (&mut b, b_id)).await;
    send(&mut b, json!({ "type": "answer", "to": a_id, "sdp": "v=1" })).await;
    assert!(matches!(recv(&mut a).await, ServerMsg::Answer { .. }));
    send(&mut a, json!({ "type": "media_state", "muted": true })).await;
    assert!(matches!(recv(&mut b).await, ServerMsg::MediaState { .. }));

    // Errors: one not_json, two unknown_peer, one room_full, one version_mismatch.
    let mut c = connect(addr).await;
    join(&mut c, "other", "Cy").await;
    c.send(Message::text("hello")).await.unwrap();
    expect_error(&mut c, ErrorCode::NotJson).await;
    for _ in 0..2 {
        send(&mut c, offer_msg(a_id, "v=0")).await;
        expect_error(&mut c, ErrorCode::UnknownPeer).await;
    }
    let mut d = connect(addr).await;
    send(&mut d, join_msg("r", "Dee")).await;
    expect_error(&mut d, ErrorCode::RoomFull).await;
    let mut old = connect(addr).await;
    let newer = json!({ "type": "join", "version": PROTOCOL_VERSION + 1, "room": "r", "name": "Old" });
    send(&mut old, newer).await;
    expect_error(&mut old, ErrorCode::VersionMismatch).await;
    expect_close(&mut old).await;
    drop(old);

    let during = scrape(addr).await;
    assert_eq!(
        (during["moim_rooms"], during["moim_members"]),
        (2, 3),
        "r has two, other one; the refused are not members"
    );

    // Ends: one close handshake, one dropped socket (besides the version one).
    d.close(None).await.unwrap();
    drop(c);
    let after = scrape_until(addr, |s| s["moim_connections_open"] == 2).await;
    assert_eq!(
        (after["moim_rooms"], after["moim_members"]),
        (2, 3),
        "Cy's socket dropped: the seat waits for a resume"
    );
    assert_eq!(after["moim_messages_relayed_total"], 3);
    assert_family(
        &after,
        "moim_errors_total",
        &[
            (error_key("not_json"), 1),
            (error_key("unknown_peer"), 2),
            (error_key("room_full"), 1),
            (error_key("version_mismatch"), 1),
        ],
    );
    assert_family(&after, "moim_connections_refused_total", &[]);
    assert_family(
        &after,
        "moim_connections_closed_total",
        &[(closed_key("client_closed"), 1), (closed_key("dropped"), 1), (closed_key("version_mismatch"), 1)],
    );
}
