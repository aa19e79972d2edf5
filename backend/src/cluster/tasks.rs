//! A node's three background tasks: publishing what it sends the others
//! (in order, numbered), listening on its own channel (reconnecting with
//! backoff), and the upkeep of its heartbeat, its leases and its view of
//! the other nodes.

use super::envelope::{self, Body, Envelope, Numbering, Order};
use super::{lease, Cluster, BATCH, FRESH_LEASE};
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use shared::RoomName;
use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Publishes what the node sends, in order, numbered per receiver; a batch
/// per round trip.
pub(super) async fn publish(
    mut redis: ConnectionManager,
    node: String,
    run: u64,
    mut queue: mpsc::Receiver<(String, Body)>,
    cluster: Weak<Cluster>,
) {
    let mut numbering = Numbering::default();
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut pipe = redis::pipe();
        // Members here whose words are in this batch, told if it fails.
        let mut speakers = HashSet::new();
        for (to, body) in batch.drain(..) {
            if let Body::Said { conn, .. } = &body {
                speakers.insert(*conn);
            }
            let seq = numbering.next(&to);
            let envelope = Envelope { from: node.clone(), run, seq, body };
            match serde_json::to_string(&envelope) {
                Ok(text) => {
                    pipe.publish(envelope::channel(&to), text).ignore();
                }
                Err(e) => tracing::error!("cannot write a message for node {to}: {e}"),
            }
        }
        let count = pipe.cmd_iter().count() as u64;
        let Some(cluster) = cluster.upgrade() else { return };
        match pipe.query_async::<()>(&mut redis).await {
            Ok(()) => cluster.metrics.sent.fetch_add(count, Relaxed),
            // The receivers see the gap and their members reconnect; the
            // members here whose words were lost are told now.
            Err(e) => {
                tracing::warn!("cannot publish to the other nodes: {e}");
                cluster.tell_unreachable(speakers);
                cluster.metrics.unsent.fetch_add(count, Relaxed)
            }
        };
    }
}

/// Listens on the node's channel, reconnecting with backoff.
pub(super) async fn listen(cluster: Weak<Cluster>) {
    let mut order = Order::default();
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(client) = cluster.upgrade().map(|c| (c.client.clone(), envelope::channel(&c.node))) else { return };
        let (client, channel) = client;
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(Duration::from_secs(2), subscribed).await {
            Ok(Ok(pubsub)) => {
                backoff = Duration::from_millis(100);
                let Some(c) = cluster.upgrade() else { return };
                c.listening.store(true, Relaxed);
                c.upkeep_now.notify_one();
                tracing::info!("listening to the other nodes");
                drop(c);
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    let Some(cluster) = cluster.upgrade() else { return };
                    match serde_json::from_slice::<Envelope>(message.get_payload_bytes()) {
                        Ok(envelope) => cluster.receive(envelope, &mut order).await,
                        Err(e) => tracing::warn!("an unreadable message on the node's channel: {e}"),
                    }
                }
                tracing::warn!("lost the connection to Redis: reconnecting");
            }
            Ok(Err(e)) => tracing::debug!("cannot listen on Redis: {e}"),
            Err(_) => tracing::debug!("Redis did not answer"),
        }
        let Some(c) = cluster.upgrade() else { return };
        c.listening.store(false, Relaxed);
        drop(c);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Every [`lease::UPKEEP`]: the heartbeat, the leases (renewed, or given up
/// once their room is empty), and the nodes this one works with (gone ones
/// are parted from).
pub(super) async fn upkeep(cluster: Weak<Cluster>, now: Arc<tokio::sync::Notify>) {
    let mut tick = tokio::time::interval(lease::UPKEEP);
    // Nodes whose heartbeat was missing at the last look: gone if it still is.
    let mut missing: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = now.notified() => {}
        }
        let Some(cluster) = cluster.upgrade() else { return };
        if cluster.draining() {
            return;
        }
        let mut redis = cluster.redis.clone();
        let beat = lease::beat(&mut redis, &cluster.node, cluster.run).await;
        if let Err(e) = &beat {
            tracing::warn!("Redis does not answer: {e}");
        }
        if beat.is_err() {
            cluster.beating.store(false, Relaxed);
            continue;
        }
        let Ok(in_use) = cluster.hub.rooms().await else { return };
        let in_use: HashSet<RoomName> = in_use.into_iter().collect();
        let owned: Vec<(RoomName, Instant)> = cluster.shared().owned.iter().map(|(r, t)| (r.clone(), *t)).collect();
        let (empty, kept): (Vec<_>, Vec<_>) =
            owned.into_iter().partition(|(room, since)| !in_use.contains(room) && since.elapsed() > FRESH_LEASE);
        for (room, _) in empty {
            cluster.shared().owned.remove(&room);
            let _ = lease::release(&mut redis, &room, &cluster.node).await;
        }
        let kept: Vec<RoomName> = kept.into_iter().map(|(room, _)| room).collect();
        match lease::renew(&mut redis, &kept, &cluster.node).await {
            Ok(renewed) => {
                for (room, _) in kept.iter().zip(renewed).filter(|(_, renewed)| !renewed) {
                    tracing::error!(%room, "another node holds this room's lease now");
                    cluster.shared().owned.remove(room);
                }
            }
            Err(e) => tracing::warn!("cannot renew the rooms' leases: {e}"),
        }
        // Healthy once the leases are back too (Redis may have restarted empty).
        cluster.beating.store(true, Relaxed);
        let others: HashSet<String> = {
            let shared = cluster.shared();
            let owners = shared.attached.values().map(|a| a.owner.clone());
            shared.homes.keys().map(|(home, _)| home.clone()).chain(owners).collect()
        };
        // Twice missing, a tick apart: a Redis that restarted empty lacks
        // every heartbeat until each node's next tick.
        let mut still = HashSet::new();
        for node in others {
            if let Ok(false) = lease::alive(&mut redis, &node).await {
                if missing.contains(&node) && !cluster.heard_lately(&node) {
                    tracing::warn!(%node, "a node is gone: its members reconnect");
                    cluster.part_from(&node, false);
                } else {
                    still.insert(node);
                }
            }
        }
        missing = still;
    }
}
