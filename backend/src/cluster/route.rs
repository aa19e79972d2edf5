//! The home side of a connection: where what its member says goes. Until
//! its Join (or Resume) names a room held elsewhere, to the hub here; from
//! then on, to the room's node, until it leaves or its connection ends.

use super::envelope::Body;
use super::{Cluster, Place};
use crate::hub::{Hub, HubStopped, Queued};
use crate::lines::Lines;
use crate::queue::Queue;
use shared::{ClientMsg, ErrorCode, PeerId, ServerMsg};
use std::net::IpAddr;
use std::sync::Arc;

/// Said to a member whose room's node cannot be reached.
pub const UNREACHABLE: &str = "The server that holds this room cannot be reached right now. Try again in a moment.";

pub struct Route {
    hub: Hub,
    cluster: Option<Arc<Cluster>>,
    conn: PeerId,
    ip: Option<IpAddr>,
    /// The connection's queue, for what its member's node says.
    queue: Queue,
    /// The node serving this connection's member, when not this one.
    owner: Option<String>,
}

impl Route {
    pub fn new(hub: Hub, cluster: Option<Arc<Cluster>>, conn: PeerId, ip: Option<IpAddr>, queue: Queue) -> Self {
        Self { hub, cluster, conn, ip, queue, owner: None }
    }

    /// Sends `msg` where it belongs; a refusal goes into the connection's queue.
    pub async fn message(&mut self, lines: &Lines, msg: ClientMsg) -> Result<(), HubStopped> {
        let Some(cluster) = self.cluster.clone() else {
            return self.hub.message(self.conn, lines, msg).await;
        };
        // Attached, everything goes to the room's node; but a Join is placed
        // again (the seat a Resume looked for there may be gone, and the
        // room held elsewhere).
        let placed = match &self.owner {
            Some(owner) if !matches!(msg, ClientMsg::Join { .. }) => Place::There(owner.clone()),
            _ => cluster.place(&msg).await,
        };
        let owner = match placed {
            Place::There(owner) if self.owner.as_ref() == Some(&owner) => owner,
            Place::There(owner) => {
                self.end(false, vec![]).await;
                cluster.attach(self.conn, &owner, self.queue.clone());
                self.owner = Some(owner.clone());
                owner
            }
            Place::Here => {
                self.end(false, vec![]).await;
                return self.hub.message(self.conn, lines, msg).await;
            }
            Place::Unreachable => {
                self.unreachable();
                return Ok(());
            }
        };
        let leaving = matches!(msg, ClientMsg::Leave);
        if cluster.send(&owner, Body::Said { conn: self.conn, ip: self.ip, msg }).await.is_err() {
            self.unreachable();
        }
        if leaving {
            // In the lobby again: its next Join is placed afresh.
            self.end(false, vec![]).await;
        }
        Ok(())
    }

    fn unreachable(&self) {
        let _ = self.queue.try_send(Box::new(ServerMsg::error(ErrorCode::Unavailable, UNREACHABLE)));
    }

    /// The connection ended (or left its room): its owner hears it, with
    /// what its queue still held for the seat.
    pub async fn end(&mut self, keep_seat: bool, unsent: Vec<Queued>) {
        let (Some(cluster), Some(owner)) = (&self.cluster, self.owner.take()) else { return };
        cluster.detach(self.conn);
        let unsent = unsent.into_iter().map(|msg| *msg).collect();
        let _ = cluster.send(&owner, Body::Ended { conn: self.conn, keep_seat, unsent }).await;
    }

    /// The connection's id on this node.
    pub fn conn(&self) -> PeerId {
        self.conn
    }

    /// Served by another node.
    pub fn remote(&self) -> bool {
        self.owner.is_some()
    }
}
