//! Calls through a real TURN relay: coturn on 127.0.0.1 sharing a secret
//! with Moim (`--turn-secret`), and `--relay-only`, so each page may use
//! relayed candidates only: the call flows through coturn or not at all. In a
//! mesh room (page to coturn to page) and on the media server (page to coturn
//! to the SFU).

use e2e::coturn::Coturn;
use e2e::{Browser, Harness, Result, TRACK_PEER_CONNECTIONS};
use serde_json::{json, Value};

/// The candidate types, [ours, theirs], of each connected connection's
/// selected pair.
const PATHS: &str = "const done = arguments[arguments.length - 1];
  (async () => {
    const out = [];
    for (const pc of window.pcs.filter(pc => pc.connectionState === 'connected')) {
      const stats = [...(await pc.getStats()).values()];
      const byId = id => stats.find(s => s.id === id);
      const transport = stats.find(s => s.type === 'transport');
      const pair = transport && byId(transport.selectedCandidatePairId);
      if (pair) out.push([byId(pair.localCandidateId).candidateType, byId(pair.remoteCandidateId).candidateType]);
    }
    return out;
  })().then(done, e => done(String(e)));";

async fn browser(harness: &Harness) -> Result<Browser> {
    let person = harness.browser(&[]).await?;
    harness.cdp(&person, "Page.addScriptToEvaluateOnNewDocument", json!({ "source": TRACK_PEER_CONNECTIONS })).await?;
    Ok(person)
}

/// `person`'s connected connections' paths, after checking each was made
/// relay-only.
async fn paths(person: &Browser) -> Result<Vec<(String, String)>> {
    let policies = person.eval("return window.pcs.map(pc => pc.getConfiguration().iceTransportPolicy)").await?;
    let policies = policies.as_array().ok_or("a list of policies")?;
    assert!(!policies.is_empty() && policies.iter().all(|p| p == "relay"), "every connection relay-only: {policies:?}");
    let found = person.client.execute_async(PATHS, vec![]).await?;
    let pair = |p: &Value| Some((p.get(0)?.as_str()?.to_owned(), p.get(1)?.as_str()?.to_owned()));
    let pairs: Option<Vec<_>> = found.as_array().map(|all| all.iter().filter_map(pair).collect());
    Ok(pairs.ok_or(format!("no selected pairs: {found}"))?)
}

async fn relayed_call(harness: &Harness, room: &str) -> Result<[Browser; 2]> {
    let ana = browser(harness).await?;
    let bo = browser(harness).await?;
    ana.join(room, "Ana").await?;
    bo.join(room, "Bo").await?;
    ana.wait_for_live_remote_videos(1).await?;
    bo.wait_for_live_remote_videos(1).await?;
    Ok([ana, bo])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_call_flows_through_coturn_when_members_may_only_relay() -> Result<()> {
    let coturn = Coturn::start().await?;
    let config = backend::Config { turn: Some(coturn.rest()), relay_only: true, ..e2e::config(2)? };
    let harness = Harness::start_config(config).await?;
    let [ana, bo] = relayed_call(&harness, "relayed").await?;
    for person in [&ana, &bo] {
        let paths = paths(person).await?;
        // Each side's candidate is its own relay on coturn: neither sees the other's address.
        assert_eq!(paths, [("relay".to_owned(), "relay".to_owned())], "one connection, relayed both ways");
    }
    // And the tile says so.
    ana.link_details_saying(&["Relayed through a TURN server, over UDP"]).await?;
    assert!(coturn.allocations() >= 2, "coturn allocated a relay for each page:\n{}", coturn.log_text());
    assert!(coturn.permissions() >= 2, "and let each send to the other's relay");
    ana.close().await?;
    bo.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_the_media_server_flows_through_coturn() -> Result<()> {
    let coturn = Coturn::start().await?;
    let sfu = backend::SfuSettings { from: 2, media: backend::sfu::Config::loopback() };
    let config = backend::Config { turn: Some(coturn.rest()), relay_only: true, sfu: Some(sfu), ..e2e::config(6)? };
    let harness = Harness::start_config(config).await?;
    let [ana, bo] = relayed_call(&harness, "relayed-sfu").await?;
    for person in [&ana, &bo] {
        let paths = paths(person).await?;
        // From the page's relay on coturn to the media server's own address.
        assert_eq!(paths, [("relay".to_owned(), "host".to_owned())], "one connection, to the SFU, relayed");
    }
    // The tile's details are of the link to the server.
    ana.link_details_saying(&["Your link to the media server", "Relayed through a TURN server", "Video "]).await?;
    assert!(coturn.allocations() >= 2, "coturn allocated a relay for each page:\n{}", coturn.log_text());
    ana.close().await?;
    bo.close().await
}
