//! The owner's side of a member homed on another node: to the hub it is a
//! connection like any other, whose socket is the home node's channel.

use super::envelope::Body;
use super::Cluster;
use crate::hub::{Event, PeerConn};
use shared::{ClientMsg, PeerId, ServerMsg};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What the home says, waiting for this member's task: about a
/// connection's queue's worth (the home rations what members send).
pub(super) const INBOUND: usize = crate::hub::PEER_QUEUE;

pub(super) enum Inbound {
    Said(ClientMsg),
    Ended { keep_seat: bool, unsent: Vec<ServerMsg> },
}

/// Serves connection `conn` of node `home` until the home says it ended
/// or the hub drops it.
pub(super) async fn serve(
    cluster: Arc<Cluster>,
    home: String,
    conn: PeerId,
    ip: Option<IpAddr>,
    mut inbound: mpsc::Receiver<Inbound>,
) {
    let hub = cluster.hub.clone();
    let Ok(PeerConn { id, mut outbox, mut kicked, lines, .. }) = hub.connect_from(ip).await else { return };
    tracing::debug!(%home, %conn, %id, "a member from another node");
    let (keep_seat, unsent) = loop {
        tokio::select! {
            biased;
            Ok(kick) = &mut kicked => {
                let _ = cluster.send(&home, Body::Kicked { conn, kick: kick.into() }).await;
                break (false, vec![]);
            }
            Some(msg) = outbox.recv() => {
                if cluster.send(&home, Body::Told { conn, msg: *msg }).await.is_err() {
                    return; // The node is shutting down.
                }
            }
            said = inbound.recv() => match said {
                Some(Inbound::Said(msg)) => {
                    if hub.message(id, &lines, msg).await.is_err() {
                        return;
                    }
                }
                Some(Inbound::Ended { keep_seat, unsent }) => break (keep_seat, unsent),
                None => break (true, vec![]),
            },
        }
    };
    // What the home never wrote comes first, then what this side still held.
    let mut all: Vec<crate::hub::Queued> = unsent.into_iter().map(Box::new).collect();
    all.extend(outbox.close_and_drain().await);
    let _ = hub.send(Event::Disconnect { peer: id, keep_seat, unsent: all, slot: None }).await;
    let mut shared = cluster.shared();
    if shared.homes.get(&(home.clone(), conn)).is_some_and(|task| task.is_closed()) {
        shared.homes.remove(&(home, conn));
    }
}
