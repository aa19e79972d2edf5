//! Load: the real server binary with many WebSocket clients in many rooms.
//! Every member sends numbered offers to every other member of its room;
//! each must arrive exactly once, in order, stamped with its real sender,
//! and never in another room. The server's memory per idle connection is
//! measured from /proc and bounded.
//!
//! Sizes come from `MOIM_LOAD_CLIENTS`, `MOIM_LOAD_ROOM_SIZE` and
//! `MOIM_LOAD_MESSAGES` (offers each member sends each other member), the
//! time limit from `MOIM_LOAD_TIMEOUT` (seconds) and the memory bound from
//! `MOIM_LOAD_MAX_BYTES_PER_CONN`. The big run:
//!
//! ```text
//! cargo test -p backend --release --test load -- --ignored --nocapture
//! ```

mod common;

use common::binary::Server;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use shared::{ClientMsg, PeerId, ServerMsg};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async_with_config, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The server's per-connection rate (backend/src/rate.rs: 50 a second, 200 at
/// once). Clients stay well under it, so a refusal means the server got it
/// wrong or this machine stalled for seconds, not that the test is greedy.
const SEND_EVERY: Duration = Duration::from_millis(25); // 40 a second
/// Offers one member may send at once when sending starts. All the room's
/// members start together, so a member receives (room size − 1) × this at
/// once: kept far below the server's 256-message queue per peer
/// (`hub::PEER_QUEUE`), beyond which a slow reader is dropped.
const RECEIVED_AT_ONCE: usize = 64;
/// Handshakes in flight at once: the listen backlog is finite.
const CONNECTING_AT_ONCE: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Load {
    clients: usize,
    room_size: usize,
    /// Offers each member sends each other member.
    messages: usize,
    timeout: Duration,
    max_bytes_per_conn: u64,
}

impl Load {
    /// `defaults`, each overridden by its environment variable if set.
    fn from_env(defaults: Load) -> Load {
        let var = |name: &str, default: u64| -> u64 {
            match std::env::var(name) {
                Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
                Err(_) => default,
            }
        };
        let load = Load {
            clients: var("MOIM_LOAD_CLIENTS", defaults.clients as u64) as usize,
            room_size: var("MOIM_LOAD_ROOM_SIZE", defaults.room_size as u64) as usize,
            messages: var("MOIM_LOAD_MESSAGES", defaults.messages as u64) as usize,
            timeout: Duration::from_secs(var("MOIM_LOAD_TIMEOUT", defaults.timeout.as_secs())),
            max_bytes_per_conn: var("MOIM_LOAD_MAX_BYTES_PER_CONN", defaults.max_bytes_per_conn),
        };
        assert!(load.clients >= 1, "MOIM_LOAD_CLIENTS must be at least 1");
        assert!(
            (2..=u16::MAX as usize).contains(&load.room_size),
            "MOIM_LOAD_ROOM_SIZE must be at least 2 (the server's smallest room)"
        );
        load
    }

    fn rooms(&self) -> usize {
        self.clients.div_ceil(self.room_size)
    }

    /// Members of room `r`: full rooms, the last one possibly not.
    fn members(&self, room: usize) -> usize {
        self.room_size.min(self.clients - room * self.room_size)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rooms_relay_every_message_exactly_once() {
    run(Load::from_env(Load {
        clients: 400,
        room_size: 4,
        messages: 20,
        timeout: Duration::from_secs(120),
        max_bytes_per_conn: 64 * 1024,
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes in debug builds; run with --release --ignored --nocapture"]
async fn thousands_of_clients_relay_every_message_exactly_once() {
    run(Load::from_env(Load {
        clients: 5000,
        room_size: 10,
        messages: 10,
        timeout: Duration::from_secs(600),
        max_bytes_per_conn: 64 * 1024,
    }))
    .await;
}

async fn run(load: Load) {
    let started = Instant::now();
    let deadline = started + load.timeout;
    let capacity = load.room_size.to_string();
    let server = Server::start(&["--max-connections-per-ip", "0", "--room-capacity", &capacity, "--sfu-from", "0"]);
    let url = format!("ws://127.0.0.1:{}/ws", server.port);
    wait_healthy(server.port, deadline).await;
    let baseline = server.rss_bytes();
    println!(
        "load: {} clients in {} rooms of {}, {} offers to each room-mate; server pid {}, {} KiB baseline",
        load.clients,
        load.rooms(),
        load.room_size,
        load.messages,
        server.pid(),
        baseline / 1024
    );

    let (phase_tx, phase_rx) = watch::channel(Phase::Wait);
    let (present_tx, mut present_rx) = mpsc::unbounded_channel();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let received = Arc::new(AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for room in 0..load.rooms() {
        for member in 0..load.members(room) {
            let client = Client {
                url: url.clone(),
                room: format!("load-{room}"),
                name: format!("m{member}"),
                room_mates: load.members(room) - 1,
                messages: load.messages,
                phase: phase_rx.clone(),
                present: present_tx.clone(),
                done: done_tx.clone(),
                received: received.clone(),
            };
            let connecting = connecting.clone();
            clients.spawn(async move {
                let who = format!("{}/{}", client.room, client.name);
                client.run(connecting).await.map_err(|e| format!("{who}: {e}"))
            });
        }
    }

    // Everyone in, each seeing its whole room; then check the rooms the
    // server made are exactly the rooms the test meant.
    let presences = gather(&mut present_rx, load.clients, &mut clients, deadline, "joining").await;
    let joined_at = Instant::now();
    let mut rooms: BTreeMap<String, Vec<Presence>> = BTreeMap::new();
    for p in presences {
        rooms.entry(p.room.clone()).or_default().push(p);
    }
    assert_eq!(rooms.len(), load.rooms(), "rooms seen by the clients");
    for (room, members) in &rooms {
        let ids: BTreeSet<PeerId> = members.iter().map(|p| p.me).collect();
        assert_eq!(ids.len(), members.len(), "{room}: an id was given twice");
        for p in members {
            let mut others = ids.clone();
            others.remove(&p.me);
            assert_eq!(p.room_mates, others, "{room}: {} was introduced to the wrong members", p.me);
        }
    }

    // All connected and idle: what they cost the server.
    let idle = server.rss_bytes();
    let per_conn = idle.saturating_sub(baseline) / load.clients as u64;

    phase_tx.send_replace(Phase::Send);
    gather(&mut done_rx, load.clients, &mut clients, deadline, "relaying").await;
    let relay_secs = joined_at.elapsed().as_secs_f64();
    let after = server.rss_bytes();

    // Each client has checked everything that came in after it was done
    // (a duplicate would have), then closes.
    phase_tx.send_replace(Phase::Stop);
    let mut closed = 0;
    while closed < load.clients {
        let result = tokio::time::timeout_at(deadline, clients.join_next())
            .await
            .unwrap_or_else(|_| panic!("timed out closing: {closed} of {} clients closed", load.clients));
        match result {
            Some(Ok(Ok(()))) => closed += 1,
            Some(Ok(Err(e))) => panic!("{e}"),
            Some(Err(e)) => panic!("a client task failed: {e}"),
            None => break,
        }
    }

    // Each member's offers to each room-mate, plus its "end".
    let relayed = received.load(Ordering::Relaxed);
    let expected: usize =
        (0..load.rooms()).map(|r| load.members(r) * (load.members(r) - 1) * (load.messages + 1)).sum();
    assert_eq!(relayed, expected, "offers relayed in all");
    println!(
        "load: {} clients joined in {:.1} s; {relayed} offers relayed in {relay_secs:.1} s ({:.0}/s); \
         server RSS {} KiB idle → {} bytes per idle connection, {} KiB after relaying; {:.1} s in all",
        load.clients,
        (joined_at - started).as_secs_f64(),
        relayed as f64 / relay_secs,
        idle / 1024,
        per_conn,
        after / 1024,
        started.elapsed().as_secs_f64()
    );
    assert!(
        per_conn < load.max_bytes_per_conn,
        "an idle connection costs the server {per_conn} bytes (RSS {baseline} → {idle} for {} clients), \
         over the bound of {}",
        load.clients,
        load.max_bytes_per_conn
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Joined: wait, reading (which answers the server's pings).
    Wait,
    Send,
    /// Done everywhere: anything arriving now is one too many.
    Stop,
}

#[derive(Debug)]
struct Presence {
    room: String,
    me: PeerId,
    room_mates: BTreeSet<PeerId>,
}

/// Waits for `n` reports on `rx`. A client that ends before `Stop` has
/// failed: its error fails the test at once, not at the deadline.
async fn gather<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    n: usize,
    clients: &mut JoinSet<Result<(), String>>,
    deadline: Instant,
    what: &str,
) -> Vec<T> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        tokio::select! {
            Some(report) = rx.recv() => got.push(report),
            Some(ended) = clients.join_next() => match ended {
                Ok(Err(e)) => panic!("{what}: {e}"),
                Ok(Ok(())) => panic!("{what}: a client ended early without an error"),
                Err(e) => panic!("{what}: a client task failed: {e}"),
            },
            () = sleep_until(deadline) => panic!(
                "timed out {what}: {} of {n} clients done (raise MOIM_LOAD_TIMEOUT on a slow machine)",
                got.len()
            ),
        }
    }
    got
}

struct Client {
    url: String,
    room: String,
    name: String,
    room_mates: usize,
    messages: usize,
    phase: watch::Receiver<Phase>,
    present: mpsc::UnboundedSender<Presence>,
    done: mpsc::UnboundedSender<()>,
    received: Arc<AtomicUsize>,
}

/// What one member has heard from each room-mate.
#[derive(Debug, Default)]
struct Heard {
    next: HashMap<PeerId, usize>,
    ended: BTreeSet<PeerId>,
}

impl Client {
    async fn run(mut self, connecting: Arc<Semaphore>) -> Result<(), String> {
        let permit = connecting.acquire_owned().await.expect("never closed");
        // Small buffers, like the server's: thousands of these share the machine.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (ws, _) = connect_async_with_config(&self.url, Some(config), true)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let (mut sink, mut stream) = ws.split();
        send(&mut sink, &ClientMsg::join(&self.room, &self.name)).await?;
        let (me, mut room_mates) = match next(&mut stream).await? {
            ServerMsg::Welcome { you, peers, .. } => (you, peers.iter().map(|p| p.id).collect::<BTreeSet<_>>()),
            other => return Err(format!("expected a welcome, got {other:?}")),
        };
        drop(permit);

        let mut heard = Heard::default();
        let mut outbox = VecDeque::new();
        let mut pace = interval(SEND_EVERY);
        pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (mut present, mut done) = (false, false);
        loop {
            if !present && room_mates.len() == self.room_mates {
                present = true;
                let _ = self.present.send(Presence { room: self.room.clone(), me, room_mates: room_mates.clone() });
            }
            if !done
                && present
                && outbox.is_empty()
                && *self.phase.borrow() != Phase::Wait
                && heard.ended.len() == self.room_mates
            {
                done = true;
                let _ = self.done.send(());
            }
            tokio::select! {
                msg = next(&mut stream) => match msg? {
                    ServerMsg::PeerJoined { peer } if !present => {
                        room_mates.insert(peer.id);
                    }
                    ServerMsg::Offer { from, sdp } => {
                        self.check(me, &room_mates, &mut heard, from, &sdp)?;
                        self.received.fetch_add(1, Ordering::Relaxed);
                    }
                    ServerMsg::PeerJoined { peer } => return Err(format!("{} joined a full room", peer.id)),
                    // Once every client is done, they close in any order.
                    ServerMsg::PeerLeft { .. } if *self.phase.borrow() == Phase::Stop => {
                        return stop(sink, done, &heard, self.room_mates).await;
                    }
                    ServerMsg::PeerLeft { peer } => return Err(format!("room-mate {peer} left")),
                    ServerMsg::Error { code, message } => return Err(format!("server error {code:?}: {message}")),
                    // Whatever else the protocol grows is not this test's business.
                    _ => {}
                },
                changed = self.phase.changed() => {
                    changed.map_err(|_| "the test ended".to_owned())?;
                    let phase = *self.phase.borrow_and_update();
                    match phase {
                        Phase::Wait => {}
                        Phase::Send => {
                            // Round by round, so each room-mate hears #0, #1, … in turn.
                            for seq in (0..self.messages).map(|s| s.to_string()).chain(["end".to_owned()]) {
                                for &to in &room_mates {
                                    outbox.push_back(ClientMsg::Offer { to, sdp: format!("{}/{me}:{seq}", self.room) });
                                }
                            }
                            let burst = (RECEIVED_AT_ONCE / self.room_mates.max(1)).max(1);
                            for msg in outbox.drain(..burst.min(outbox.len())) {
                                send(&mut sink, &msg).await?;
                            }
                            pace.reset();
                        }
                        Phase::Stop => return stop(sink, done, &heard, self.room_mates).await,
                    }
                }
                _ = pace.tick(), if !outbox.is_empty() => {
                    let msg = outbox.pop_front().expect("not empty");
                    send(&mut sink, &msg).await?;
                }
            }
        }
    }

    /// An offer must come from a room-mate, carry that room-mate's own
    /// `<room>/<id>:<seq>`, and be the next in its sequence.
    fn check(
        &self,
        me: PeerId,
        room_mates: &BTreeSet<PeerId>,
        heard: &mut Heard,
        from: PeerId,
        sdp: &str,
    ) -> Result<(), String> {
        let (room, rest) = sdp.split_once('/').ok_or_else(|| format!("malformed offer {sdp:?}"))?;
        if room != self.room {
            return Err(format!("{me} got {sdp:?}, an offer sent in another room"));
        }
        if !room_mates.contains(&from) {
            return Err(format!("{me} got {sdp:?} from {from}, who is not a room-mate"));
        }
        let (sender, seq) = rest.split_once(':').ok_or_else(|| format!("malformed offer {sdp:?}"))?;
        if sender != from.to_string() {
            return Err(format!("{me} got {sdp:?} stamped from {from}"));
        }
        if heard.ended.contains(&from) {
            return Err(format!("{me} got {sdp:?} after {from}'s last offer (a duplicate?)"));
        }
        let next = heard.next.entry(from).or_default();
        let expected = if *next == self.messages { "end".to_owned() } else { next.to_string() };
        if seq != expected {
            return Err(format!(
                "{me} expected offer {expected} from {from}, got {seq}: lost, duplicated or reordered"
            ));
        }
        *next += 1;
        if seq == "end" {
            heard.ended.insert(from);
        }
        Ok(())
    }
}

/// Ends a client on `Stop`: an error unless it had heard everything.
async fn stop(mut sink: SplitSink<Ws, Message>, done: bool, heard: &Heard, room_mates: usize) -> Result<(), String> {
    if !done {
        return Err(format!("stopped before done: {} of {room_mates} room-mates finished", heard.ended.len()));
    }
    let _ = sink.send(Message::Close(None)).await;
    Ok(())
}

async fn send(sink: &mut SplitSink<Ws, Message>, msg: &ClientMsg) -> Result<(), String> {
    sink.send(Message::text(msg.encode())).await.map_err(|e| format!("cannot send: {e}"))
}

/// The next server message; pings are answered by tungstenite as we read.
async fn next(stream: &mut SplitStream<Ws>) -> Result<ServerMsg, String> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                return ServerMsg::decode(&text).map_err(|e| format!("undecodable {text:?}: {e}"))
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed by the server: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("connection failed: {e}")),
            None => return Err("connection ended".into()),
        }
    }
}

async fn wait_healthy(port: u16, deadline: Instant) {
    let url = format!("http://127.0.0.1:{port}/healthz");
    loop {
        if let Ok(res) = reqwest::get(&url).await {
            if res.status().is_success() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the server never answered {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
