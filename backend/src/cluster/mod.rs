//! Rooms across nodes (`--redis`). Each room lives on one node, the holder
//! of its lease in Redis; its state stays in that node's hub. A member whose
//! WebSocket lands on another node (its "home") is served through the
//! owner: the home sends what the member says to the owner's channel, and
//! the owner's hub sees the member as a connection like any other, whose
//! messages it sends back through the home ([`owner`]). Redis holds leases
//! and carries messages; nothing else.
//!
//! Without `--redis` none of this runs: one node, nothing to install.

pub mod envelope;
mod lease;
mod owner;
mod route;
mod tasks;

use crate::hub::{Event as HubEvent, Hub, Kick};
use crate::queue::Queue;
use envelope::{Body, Envelope, Order, RemoteKick, Seen};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
pub use route::Route;
use shared::{ClientMsg, ErrorCode, PeerId, RoomName, RoomStatus, ServerMsg};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

/// Messages waiting to be published. A member's connection waits when it is
/// full (as for the hub's queue), which slows the chattiest first; a
/// publish that fails (Redis away) fails within a second, so it drains.
const OUTGOING: usize = 8192;
/// Published in one round trip, at most.
const BATCH: usize = 1024;
/// A lease taken for a join is kept this long even before anyone is in.
const FRESH_LEASE: Duration = Duration::from_secs(5);
/// How long a node waits for another's answer about a room.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// `--redis` and `--node-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `redis://host:port/db` or `redis+unix:///path/to/socket`.
    pub redis_url: String,
    pub node_id: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClusterError {
    #[error("--redis {url:?} is not a Redis URL (redis://host:port or redis+unix:///path): {reason}")]
    BadUrl { url: String, reason: String },
    #[error("--node-id {0:?}: use 1 to 32 letters, digits, '-' or '_'")]
    BadNodeId(String),
}

impl ClusterConfig {
    /// A random node id: eight hex digits.
    pub fn random_node_id() -> String {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).expect("the OS has no randomness");
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn check_node_id(id: &str) -> Result<(), ClusterError> {
        let fits =
            (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        fits.then_some(()).ok_or_else(|| ClusterError::BadNodeId(id.to_owned()))
    }
}

/// Where a connection's message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    Here,
    There(String),
    /// Redis cannot be asked: only rooms this node holds can be joined.
    Unreachable,
}

/// What crossed between nodes, for `/metrics`.
#[derive(Debug, Default)]
pub struct ClusterMetrics {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    /// Envelopes seen before (dropped).
    pub repeats: AtomicU64,
    /// Envelopes that never came (Redis was away): the members concerned
    /// reconnect and resume.
    pub lost: AtomicU64,
    /// Messages that could not be published.
    pub unsent: AtomicU64,
}

/// A connection here whose member another node serves.
struct Attached {
    owner: String,
    /// The connection's queue: what the owner says goes straight in, as a
    /// relay between two members of one node does, not through the hub.
    queue: Queue,
}

#[derive(Default)]
struct Shared {
    /// Leases this node holds, since when.
    owned: HashMap<RoomName, Instant>,
    /// Owner side: members homed elsewhere, by (home, connection there).
    homes: HashMap<(String, PeerId), mpsc::Sender<owner::Inbound>>,
    /// Home side: connections here served by another node.
    attached: HashMap<PeerId, Attached>,
    asks: HashMap<u64, oneshot::Sender<RoomStatus>>,
    next_ask: u64,
    /// When each node was last heard from: right after Redis comes back,
    /// a live node's heartbeat may not be there yet.
    heard: HashMap<String, Instant>,
}

pub struct Cluster {
    node: String,
    run: u64,
    redis: ConnectionManager,
    client: redis::Client,
    hub: Hub,
    outgoing: mpsc::Sender<(String, Body)>,
    shared: Mutex<Shared>,
    /// Redis answered the last heartbeat and the channel is subscribed.
    beating: AtomicBool,
    listening: AtomicBool,
    /// Stopping: no heartbeat, no new rooms.
    draining: AtomicBool,
    /// Runs the upkeep now (Redis is back: its heartbeat and leases may be gone).
    upkeep_now: Arc<tokio::sync::Notify>,
    pub metrics: ClusterMetrics,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node", &self.node).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Joins the cluster: starts the tasks that publish, listen and keep the
    /// leases. Redis need not be up yet (the node is `degraded` till it is).
    pub fn start(config: &ClusterConfig, hub: Hub) -> Result<Arc<Self>, ClusterError> {
        ClusterConfig::check_node_id(&config.node_id)?;
        let bad = |e: redis::RedisError| ClusterError::BadUrl { url: config.redis_url.clone(), reason: e.to_string() };
        let client = redis::Client::open(config.redis_url.as_str()).map_err(bad)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let redis = ConnectionManager::new_lazy_with_config(client.clone(), manager).map_err(bad)?;
        let mut run = [0u8; 8];
        getrandom::fill(&mut run).expect("the OS has no randomness");
        let (outgoing, to_publish) = mpsc::channel(OUTGOING);
        let cluster = Arc::new(Self {
            node: config.node_id.clone(),
            run: u64::from_le_bytes(run),
            redis,
            client,
            hub,
            outgoing,
            shared: Mutex::default(),
            beating: AtomicBool::new(false),
            listening: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            upkeep_now: Arc::default(),
            metrics: ClusterMetrics::default(),
        });
        tokio::spawn(tasks::publish(
            cluster.redis.clone(),
            cluster.node.clone(),
            cluster.run,
            to_publish,
            Arc::downgrade(&cluster),
        ));
        tokio::spawn(tasks::listen(Arc::downgrade(&cluster)));
        tokio::spawn(tasks::upkeep(Arc::downgrade(&cluster), cluster.upkeep_now.clone()));
        tracing::info!(node = %cluster.node, "in a cluster through Redis");
        Ok(cluster)
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Redis answers and this node hears its channel.
    pub fn healthy(&self) -> bool {
        self.beating.load(Relaxed) && self.listening.load(Relaxed)
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `body` for node `to`, waiting while the queue is full.
    async fn send(&self, to: &str, body: Body) -> Result<(), Unsent> {
        self.outgoing.send((to.to_owned(), body)).await.map_err(|_| Unsent)
    }

    /// [`Cluster::send`] where waiting is not possible: fails if the queue is full.
    fn send_now(&self, to: &str, body: Body) -> Result<(), Unsent> {
        self.outgoing.try_send((to.to_owned(), body)).map_err(|_| {
            self.metrics.unsent.fetch_add(1, Relaxed);
            Unsent
        })
    }

    /// Where a connection's first Join or Resume is served.
    pub(crate) async fn place(&self, msg: &ClientMsg) -> Place {
        match msg {
            ClientMsg::Join { room, .. } => match RoomName::parse(room) {
                Ok(room) => self.claim(&room).await,
                // The local hub says what is wrong with it.
                Err(_) => Place::Here,
            },
            ClientMsg::Resume { token, .. } => match token.split_once('.') {
                Some((node, _)) if node != self.node => match lease::alive(&mut self.redis.clone(), node).await {
                    Ok(true) => Place::There(node.to_owned()),
                    Ok(false) if self.heard_lately(node) => Place::There(node.to_owned()),
                    // Its node is gone, and the seat with it: the hub here says so.
                    Ok(false) => Place::Here,
                    Err(_) => Place::Unreachable,
                },
                _ => Place::Here,
            },
            _ => Place::Here,
        }
    }

    async fn claim(&self, room: &RoomName) -> Place {
        if self.draining() {
            return Place::Unreachable;
        }
        match lease::claim(&mut self.redis.clone(), room, &self.node).await {
            Ok(lease::Holder::Me) => {
                self.shared().owned.entry(room.clone()).or_insert_with(Instant::now);
                Place::Here
            }
            Ok(lease::Holder::Node(node)) => Place::There(node),
            // Redis is away: a room held here goes on.
            Err(e) if self.shared().owned.contains_key(room) => {
                tracing::debug!(%room, "Redis away ({e}): the room is held here");
                Place::Here
            }
            Err(e) => {
                tracing::warn!(%room, "cannot ask Redis who holds the room: {e}");
                Place::Unreachable
            }
        }
    }

    /// How full `room` is, asked of its holder wherever it is.
    pub async fn status(&self, room: RoomName) -> Result<RoomStatus, crate::hub::HubStopped> {
        let holder = lease::holder(&mut self.redis.clone(), &room).await.ok().flatten();
        let Some(node) = holder.filter(|node| *node != self.node) else {
            return self.hub.status(room).await;
        };
        let (reply, answer) = oneshot::channel();
        let id = {
            let mut shared = self.shared();
            shared.next_ask += 1;
            let id = shared.next_ask;
            shared.asks.insert(id, reply);
            id
        };
        let asked = self.send(&node, Body::Ask { id, room: room.clone() }).await.is_ok();
        let answered =
            if asked { tokio::time::timeout(ASK_TIMEOUT, answer).await.ok().and_then(Result::ok) } else { None };
        self.shared().asks.remove(&id);
        // An owner that does not answer is about to lose its lease: the room is empty here.
        match answered {
            Some(status) => Ok(status),
            None => self.hub.status(room).await,
        }
    }

    fn heard_lately(&self, node: &str) -> bool {
        let lately = Duration::from_millis(lease::ALIVE_MS);
        self.shared().heard.get(node).is_some_and(|at| at.elapsed() < lately)
    }

    fn attach(&self, conn: PeerId, owner: &str, queue: Queue) {
        self.shared().attached.insert(conn, Attached { owner: owner.to_owned(), queue });
    }

    fn detach(&self, conn: PeerId) {
        self.shared().attached.remove(&conn);
    }

    /// Tells these connections (served by other nodes) that what they said
    /// did not reach their room.
    fn tell_unreachable(&self, conns: HashSet<PeerId>) {
        let shared = self.shared();
        for attached in conns.iter().filter_map(|conn| shared.attached.get(conn)) {
            let _ = attached.queue.try_send(Box::new(ServerMsg::error(ErrorCode::Unavailable, route::UNREACHABLE)));
        }
    }

    /// Handles one envelope from the channel.
    async fn receive(self: &Arc<Self>, envelope: Envelope, order: &mut Order) {
        let Envelope { from, run, seq, body } = envelope;
        match order.see(&from, run, seq) {
            Seen::Next => {}
            Seen::Again => {
                self.metrics.repeats.fetch_add(1, Relaxed);
                return;
            }
            Seen::AfterGap { missed } => {
                tracing::warn!(node = %from, missed, "messages from a node were lost: its members reconnect");
                self.metrics.lost.fetch_add(missed, Relaxed);
                self.part_from(&from, true);
            }
        }
        self.metrics.received.fetch_add(1, Relaxed);
        self.shared().heard.insert(from.clone(), Instant::now());
        match body {
            Body::Said { conn, ip, msg } => self.said(&from, conn, ip, msg),
            Body::Ended { conn, keep_seat, unsent } => {
                if let Some(task) = self.shared().homes.remove(&(from, conn)) {
                    let _ = task.try_send(owner::Inbound::Ended { keep_seat, unsent });
                }
            }
            Body::Told { conn, msg } => {
                let attached = self.shared().attached.get(&conn).filter(|a| a.owner == from).map(|a| a.queue.clone());
                // Closed: the connection is ending, and its owner hears so next.
                if let Some(Err(TrySendError::Full(_))) = attached.map(|queue| queue.try_send(Box::new(msg))) {
                    tracing::warn!(%conn, "outgoing queue full: dropping the connection");
                    self.detach(conn);
                    let _ = self.hub.send(HubEvent::Kick { conn, kick: Kick::TooSlow }).await;
                }
            }
            Body::Kicked { conn, kick } => {
                let ours = {
                    let mut shared = self.shared();
                    let ours = shared.attached.get(&conn).is_some_and(|a| a.owner == from);
                    if ours {
                        shared.attached.remove(&conn);
                    }
                    ours
                };
                if ours {
                    let _ = self.hub.send(HubEvent::Kick { conn, kick: kick.into() }).await;
                }
            }
            Body::Ask { id, room } => {
                let cluster = self.clone();
                tokio::spawn(async move {
                    if let Ok(status) = cluster.hub.status(room).await {
                        let _ = cluster.send(&from, Body::Status { id, status }).await;
                    }
                });
            }
            Body::Status { id, status } => {
                if let Some(reply) = self.shared().asks.remove(&id) {
                    let _ = reply.send(status);
                }
            }
        }
    }

    /// A member homed on `home` said `msg`: to its task, started on its first word.
    fn said(self: &Arc<Self>, home: &str, conn: PeerId, ip: Option<std::net::IpAddr>, msg: ClientMsg) {
        let key = (home.to_owned(), conn);
        let task = self.shared().homes.get(&key).cloned();
        let task = match task {
            Some(task) if !task.is_closed() => task,
            _ => {
                let (task, inbound) = mpsc::channel(owner::INBOUND);
                self.shared().homes.insert(key, task.clone());
                tokio::spawn(owner::serve(self.clone(), home.to_owned(), conn, ip, inbound));
                task
            }
        };
        if task.try_send(owner::Inbound::Said(msg)).is_err() {
            // It sends faster than the room takes it: as a full queue, it is dropped.
            tracing::warn!(%home, %conn, "a member from another node is too far behind: dropping it");
            self.shared().homes.remove(&(home.to_owned(), conn));
            let _ = task.try_send(owner::Inbound::Ended { keep_seat: false, unsent: vec![] });
            let _ = self.send_now(home, Body::Kicked { conn, kick: RemoteKick::TooSlow });
        }
    }

    /// Ends everything this node has going with `node` (gone, or messages
    /// lost): its members here keep their seats and are told to reconnect;
    /// members here served by it reconnect and resume.
    fn part_from(&self, node: &str, tell: bool) {
        let (homes, attached) = {
            let mut shared = self.shared();
            if !tell {
                // Gone: a seat there cannot be resumed.
                shared.heard.remove(node);
            }
            let homes: Vec<_> = shared.homes.extract_if(|(home, _), _| home == node).collect();
            let attached: Vec<_> = shared.attached.extract_if(|_, a| a.owner == node).map(|(conn, _)| conn).collect();
            (homes, attached)
        };
        for ((_, conn), task) in homes {
            let _ = task.try_send(owner::Inbound::Ended { keep_seat: true, unsent: vec![] });
            if tell {
                let _ = self.send_now(node, Body::Kicked { conn, kick: RemoteKick::Moved });
            }
        }
        for conn in attached {
            let hub = self.hub.clone();
            tokio::spawn(async move { hub.send(HubEvent::Kick { conn, kick: Kick::Moved }).await });
        }
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Relaxed)
    }

    /// This node is stopping: its heartbeat ends at once (the others stop
    /// counting on it, and a member's rejoin takes its rooms' leases), and
    /// its members homed on other nodes are told to move. Its own members
    /// are told next, as their sockets close.
    pub async fn drain(&self) {
        self.draining.store(true, Relaxed);
        if let Err(e) = lease::stop_beating(&mut self.redis.clone(), &self.node).await {
            tracing::warn!("cannot end this node's heartbeat in Redis: {e}");
        }
        let homes: Vec<_> = self.shared().homes.drain().collect();
        tracing::info!(members = homes.len(), "draining: members on other nodes move");
        for ((home, conn), task) in homes {
            let _ = self.send_now(&home, Body::Kicked { conn, kick: RemoteKick::Moved });
            let _ = task.try_send(owner::Inbound::Ended { keep_seat: false, unsent: vec![] });
        }
        // What was queued goes out before the sockets close.
        self.flush().await;
    }

    /// Waits (a second at most) until what is queued for other nodes has
    /// been handed to Redis.
    async fn flush(&self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.outgoing.capacity() < OUTGOING && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The node's connections have closed: what they told other nodes goes
    /// out, and every room still held here is let go.
    pub async fn release_all(&self) {
        self.flush().await;
        let owned: Vec<RoomName> = self.shared().owned.drain().map(|(room, _)| room).collect();
        let mut redis = self.redis.clone();
        for room in owned {
            let _ = lease::release(&mut redis, &room, &self.node).await;
        }
    }
}

/// The outgoing queue was full.
#[derive(Debug, Clone, Copy)]
struct Unsent;

impl From<Kick> for RemoteKick {
    fn from(kick: Kick) -> Self {
        match kick {
            Kick::TooSlow => Self::TooSlow,
            Kick::Replaced => Self::Replaced,
            Kick::TooManyAttempts(wait) => Self::TooManyAttempts { wait_ms: wait.as_millis() as u64 },
            Kick::Moved => Self::Moved,
        }
    }
}

impl From<RemoteKick> for Kick {
    fn from(kick: RemoteKick) -> Self {
        match kick {
            RemoteKick::TooSlow => Self::TooSlow,
            RemoteKick::Replaced => Self::Replaced,
            RemoteKick::TooManyAttempts { wait_ms } => Self::TooManyAttempts(Duration::from_millis(wait_ms)),
            RemoteKick::Moved => Self::Moved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_redis_url_or_node_id_is_a_typed_error() {
        let hub = Hub::spawn(crate::rooms::Rooms::new(2, vec![]));
        let config = |url: &str, node: &str| ClusterConfig { redis_url: url.into(), node_id: node.into() };
        for url in ["", "http://localhost:6379", "redis://[::1"] {
            let refused = Cluster::start(&config(url, "n1"), hub.clone()).unwrap_err();
            assert!(matches!(refused, ClusterError::BadUrl { .. }), "{url:?}: {refused}");
        }
        let refused = Cluster::start(&config("redis://127.0.0.1:1", "a.b"), hub.clone()).unwrap_err();
        assert_eq!(refused, ClusterError::BadNodeId("a.b".into()));
        let random = ClusterConfig::random_node_id();
        assert!(ClusterConfig::check_node_id(&random).is_ok() && random.len() == 8, "{random}");
    }
}
