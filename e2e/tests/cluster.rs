//! Two Moim nodes sharing rooms through Redis, behind one nginx: what an
//! operator with two machines runs. Two browsers whose sockets land on
//! different nodes meet; the node holding their room dies (SIGKILL) or is
//! drained (SIGTERM), and the call comes back without a reload.

use e2e::cluster::{Nginx, Node, Redis};
use e2e::{Browser, Harness, Result, TRACK_PEER_CONNECTIONS};

const NOTICE: &str = "(document.querySelector('#notice')?.textContent ?? '')";

struct Cluster {
    // Dropped in this order: browsers (the harness) before the servers.
    harness: Harness,
    nodes: Vec<Node>,
    _nginx: Nginx,
    _redis: Redis,
}

async fn cluster() -> Result<Cluster> {
    let redis = Redis::start().await?;
    let nodes = vec![Node::start(&redis, "n1").await?, Node::start(&redis, "n2").await?];
    let nginx = Nginx::start(&nodes.iter().collect::<Vec<_>>()).await?;
    let mut harness = Harness::start(2).await?;
    // Pages go to the one public address, not to a node.
    harness.base = nginx.base();
    Ok(Cluster { harness, nodes, _nginx: nginx, _redis: redis })
}

/// Ana and Bo in `room`, through the proxy, hearing and seeing each other,
/// each socket on a node of its own; their pages marked (see [`mark`]), and
/// the index of the node holding their room.
async fn in_a_call(cluster: &Cluster, room: &str) -> Result<(Browser, Browser, usize)> {
    let (ana, bo) = (cluster.harness.browser(&[]).await?, cluster.harness.browser(&[]).await?);
    for person in [&ana, &bo] {
        let source = serde_json::json!({ "source": TRACK_PEER_CONNECTIONS });
        cluster.harness.cdp(person, "Page.addScriptToEvaluateOnNewDocument", source).await?;
    }
    ana.join(room, "Ana").await?;
    ana.wait_for("Ana in the room", "return !!document.querySelector('main.room')").await?;
    bo.join(room, "Bo").await?;
    for page in [&ana, &bo] {
        page.wait_for_live_remote_videos(1).await?;
        page.wait_for_remote_audio().await?;
    }
    for node in &cluster.nodes {
        let open = node.metric("moim_connections_open").await?;
        assert_eq!(open, 1, "node {} holds one of the two sockets", node.id);
    }
    mark(&ana, &bo).await?;
    Ok((ana, bo, holder(cluster).await?))
}

/// The node whose hub has the room.
async fn holder(cluster: &Cluster) -> Result<usize> {
    for (i, node) in cluster.nodes.iter().enumerate() {
        if node.metric("moim_rooms").await? == 1 {
            return Ok(i);
        }
    }
    Err("no node holds the room".into())
}

/// Both pages get back into the room by themselves and see and hear each other.
async fn comes_back(ana: &Browser, bo: &Browser) -> Result<()> {
    ana.wait_for("Bo's tile made anew", "return !!document.querySelector('.tile.remote:not([data-old])')").await?;
    for (who, page) in [("Ana", ana), ("Bo", bo)] {
        page.wait_for(&format!("{who}'s notice to clear"), &format!("return ({NOTICE}) === ''")).await?;
        page.wait_for_live_remote_videos(1).await?;
        page.wait_for_remote_audio().await?;
        assert_eq!(page.eval("return window.moimSameDocument === true").await?, true, "no reload");
    }
    Ok(())
}

/// Marks both documents (a reload would lose it) and Ana's tile of Bo,
/// which goes with the old connection.
async fn mark(ana: &Browser, bo: &Browser) -> Result<()> {
    ana.eval("window.moimSameDocument = true; document.querySelector('.tile.remote').dataset.old = 1; return true")
        .await?;
    bo.eval("window.moimSameDocument = true; return true").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_on_two_nodes_meet_and_the_call_survives_its_node_dying() -> Result<()> {
    let mut cluster = cluster().await?;
    let (ana, bo, held) = in_a_call(&cluster, "standup").await?;

    cluster.nodes[held].kill().await?;
    // Media goes browser to browser: the call carries on while the pages
    // have yet to learn that the room's node is gone (up to ~10 s).
    ana.wait_for_live_remote_videos(1).await?;
    bo.wait_for_live_remote_videos(1).await?;
    assert_eq!(ana.eval("return document.querySelectorAll('.tile.remote[data-old]').length").await?, 1);

    comes_back(&ana, &bo).await?;
    let live = &cluster.nodes[1 - held];
    assert_eq!(live.metric("moim_members").await?, 2, "the room lives on node {} now", live.id);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_drained_with_sigterm_loses_no_meeting() -> Result<()> {
    let mut cluster = cluster().await?;
    let (ana, bo, held) = in_a_call(&cluster, "retro").await?;

    let status = cluster.nodes[held].terminate().await?;
    assert!(status.success(), "the drained node exits cleanly: {status}");

    comes_back(&ana, &bo).await?;
    assert_eq!(cluster.nodes[1 - held].metric("moim_members").await?, 2);
    Ok(())
}
