//! Moim's server: WebSocket signaling at `/ws`, room occupancy at
//! `/api/rooms/{room}`, counters at `/metrics` and the built web app, on one
//! origin. Media flows browser to browser; the server only introduces peers.

mod accept;
mod api;
mod close;
pub mod cluster;
mod guesses;
mod headers;
pub mod hub;
pub mod lan;
pub mod lines;
mod metrics;
mod origin;
pub mod per_ip;
pub mod queue;
mod rate;
pub mod rooms;
pub mod static_files;
pub mod tls;
pub mod turn;
mod ws;

use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use hub::Hub;
use rooms::{IceSource, Rooms};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::trace::TraceLayer;

pub use origin::{AllowedOrigin, OriginError, PublicHost, PublicHostError};
pub use rate::MessageRate;
/// The media server, for configuring [`SfuSettings`].
pub use sfu;

#[derive(Clone, Debug)]
pub struct Config {
    /// Sent to every member in `Welcome`, for their `RTCPeerConnection`.
    pub ice_servers: Vec<shared::IceServer>,
    /// Members per room; the app is a mesh, so keep it small.
    pub room_capacity: usize,
    /// Where the built web app is served from.
    pub web_app: static_files::WebApp,
    /// TURN servers sharing a secret with Moim: each joiner also gets an
    /// entry with credentials of its own that expire.
    pub turn: Option<turn::TurnRest>,
    /// Members may use TURN-relayed paths only, so none learns another's
    /// address (`--relay-only`; needs a TURN server in the ICE servers).
    pub relay_only: bool,
    /// Rooms locked by the operator; other rooms may be locked by their
    /// first member.
    pub room_passwords: Vec<(shared::RoomName, String)>,
    /// The media server (SFU) rooms move to as they grow; `None`: every
    /// room stays a mesh.
    pub sfu: Option<SfuSettings>,
    /// Other nodes to share rooms with, through Redis (`--redis`); `None`:
    /// this process is the whole service.
    pub cluster: Option<cluster::ClusterConfig>,
}

/// When rooms move to the SFU, and where it listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SfuSettings {
    /// A room moves when this many are in it (2: every room is on it).
    pub from: usize,
    pub media: sfu::Config,
}

/// How connections are policed. Kept apart from [`Config`], with defaults,
/// so a new limit never breaks code that builds a `Config` field by field.
#[derive(Clone, Debug)]
pub struct Limits {
    /// A member silent this long (not even answering the server's pings) is
    /// presumed gone and leaves its room, so no ghost tile stays behind.
    pub heartbeat_timeout: Duration,
    /// Pages that may open the WebSocket besides the server's own origin
    /// (requests without an `Origin`, i.e. not from a browser, always may).
    pub allowed_origins: Vec<AllowedOrigin>,
    /// Messages per connection; beyond it they are refused, then the
    /// connection is closed.
    pub message_rate: MessageRate,
    /// How long a member whose connection dropped keeps its seat, so it can
    /// resume without the room noticing (see `ClientMsg::Resume`).
    pub resume_window: Duration,
    /// Open WebSockets per client IP address; 0 means no limit. Behind a
    /// reverse proxy every client has the proxy's address. TCP connections
    /// of any kind are counted at accept against twice this (a page also
    /// keeps a few HTTP connections open beside its WebSocket).
    pub max_connections_per_ip: usize,
    /// A request's head must arrive within this (a trickle holds nothing).
    pub header_read_timeout: Duration,
    /// A connection with no byte either way for this long is closed (an
    /// open WebSocket is never idle: it is pinged).
    pub idle_timeout: Duration,
    /// The names the server is reached at (`--public-host`). When any is
    /// given, requests for other hosts (but loopback) get 421, so a site
    /// whose name was made to resolve here (DNS rebinding) is refused.
    pub public_hosts: Vec<PublicHost>,
    /// Requests to `/api` per client address (one budget per IPv4 address
    /// or IPv6 /64): 429 beyond it. Not applied when
    /// `max_connections_per_ip` is 0 (behind a proxy).
    pub api_rate: MessageRate,
    /// Send `Strict-Transport-Security`: set when serving HTTPS.
    pub hsts: bool,
    /// On SIGTERM, how long members get to move to other nodes (in a
    /// cluster) or to close, before the process exits anyway.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            heartbeat_timeout: Duration::from_secs(15),
            allowed_origins: Vec::new(),
            message_rate: MessageRate::default(),
            resume_window: hub::RESUME_WINDOW,
            max_connections_per_ip: 50,
            // nginx's client_header_timeout is 60 s, Galène's 60 s / 120 s.
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            public_hosts: Vec::new(),
            // A page asks on load, every 5 s and per keystroke of a room
            // name; a few pages behind one NAT stay well under it.
            api_rate: MessageRate { per_second: 20, burst: 60 },
            hsts: false,
            drain: DRAIN_TIMEOUT,
        }
    }
}

/// How long open WebSockets get to close once the server stops; a closing
/// handshake is bounded well below this (see `ws::CLOSE_TIMEOUT`).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What the handlers share; cheap to clone.
#[derive(Clone, Debug)]
struct AppState {
    hub: Hub,
    limits: Arc<Limits>,
    metrics: Arc<metrics::Metrics>,
    per_ip: Arc<per_ip::PerIp>,
    /// Turns `true` when the server starts stopping. Every WebSocket holds a
    /// clone until it has closed, which is how [`serve_with`] knows they have.
    stopping: watch::Receiver<bool>,
    lobby_ice: api::LobbyIce,
    sfu: Option<Arc<sfu::Sfu>>,
    cluster: Option<Arc<cluster::Cluster>>,
}

impl FromRef<AppState> for Hub {
    fn from_ref(state: &AppState) -> Hub {
        state.hub.clone()
    }
}

impl FromRef<AppState> for api::Occupancy {
    fn from_ref(state: &AppState) -> api::Occupancy {
        api::Occupancy { hub: state.hub.clone(), cluster: state.cluster.clone() }
    }
}

impl FromRef<AppState> for api::LobbyIce {
    fn from_ref(state: &AppState) -> api::LobbyIce {
        state.lobby_ice.clone()
    }
}

fn rooms(config: &Config) -> Rooms {
    let ice = ice_source(config.ice_servers.clone(), config.turn.clone()).relay_only(config.relay_only);
    let mut rooms = Rooms::with_ice_source(config.room_capacity, ice);
    if let Some(settings) = &config.sfu {
        rooms = rooms.with_sfu_from(settings.from);
    }
    if let Some(cluster) = &config.cluster {
        rooms = rooms.on_node(&cluster.node_id);
    }
    config.room_passwords.iter().fold(rooms, |rooms, (room, password)| rooms.lock(room.clone(), password.clone()))
}

/// Starts the media server on its own thread; its events come to the hub.
fn start_sfu(
    media: &sfu::Config,
) -> std::io::Result<(Arc<sfu::Sfu>, tokio::sync::mpsc::UnboundedReceiver<sfu::Event>)> {
    // Unbounded: the SFU's thread must never wait on tokio. Its events are
    // answers to members' own (rate-limited) messages, and a speaker list a
    // few times a second.
    let (events, inbox) = tokio::sync::mpsc::unbounded_channel();
    let sfu = sfu::Sfu::start(media.clone(), move |event| {
        let _ = events.send(event);
    })
    .map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot start the media server on UDP port {}: {e}", media.port))
    })?;
    Ok((Arc::new(sfu), inbox))
}

/// The whole server. Starts the hub task (and the media server's thread),
/// so call it inside a Tokio runtime.
fn app(
    config: Config,
    limits: Limits,
    stopping: watch::Receiver<bool>,
) -> std::io::Result<(Router, Option<Arc<cluster::Cluster>>)> {
    let sfu = config.sfu.as_ref().map(|settings| start_sfu(&settings.media)).transpose()?;
    let security = Arc::new(headers::SecurityHeaders::new(&config.web_app, limits.hsts));
    let public_hosts: Arc<[PublicHost]> = limits.public_hosts.clone().into();
    // Per address, like the connections: both off together behind a proxy.
    let api_routes = api::router((limits.max_connections_per_ip != 0).then_some(limits.api_rate));
    let sfu_handle = sfu.as_ref().map(|(sfu, _)| sfu.clone());
    let hub = Hub::spawn_with_sfu(rooms(&config), limits.resume_window, sfu);
    let cluster = config.cluster.as_ref().map(|settings| cluster::Cluster::start(settings, hub.clone()));
    let cluster = cluster.transpose().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let state = AppState {
        sfu: sfu_handle,
        hub,
        cluster: cluster.clone(),
        per_ip: Arc::new(per_ip::PerIp::new(limits.max_connections_per_ip)),
        limits: Arc::new(limits),
        metrics: Arc::default(),
        stopping,
        lobby_ice: api::LobbyIce {
            fixed: Arc::new(config.ice_servers.clone()),
            turn: config.turn.clone().map(Arc::new),
            relay_only: config.relay_only,
        },
    };
    let router = Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::scrape))
        .merge(api_routes)
        .with_state(state)
        .merge(static_files::router(&config.web_app))
        // Outside every route: a refusal gets the security headers too.
        .layer(axum::middleware::from_fn_with_state(public_hosts, origin::misdirected))
        .layer(axum::middleware::map_response_with_state(security, headers::add))
        .layer(TraceLayer::new_for_http());
    Ok((router, cluster))
}

/// The fixed ICE servers, plus fresh TURN credentials per joiner if any.
fn ice_source(fixed: Vec<shared::IceServer>, turn: Option<turn::TurnRest>) -> IceSource {
    match turn {
        None => IceSource::fixed(fixed),
        Some(turn) => IceSource::per_join(move |peer| {
            let mut servers = fixed.clone();
            servers.push(turn.for_peer(peer));
            servers
        }),
    }
}

/// Serves Moim with the default [`Limits`] until Ctrl-C or SIGTERM; see
/// [`serve_with`].
pub async fn serve(listener: TcpListener, config: Config) -> std::io::Result<()> {
    serve_with(listener, config, Limits::default(), shutdown_signal()).await
}

/// Serves Moim until `shutdown` resolves, then stops accepting, lets
/// in-flight HTTP requests finish, closes every WebSocket with 1001 "going
/// away" (clients reconnect later) and returns once they have closed.
pub async fn serve_with(
    listener: TcpListener,
    config: Config,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(listener, None, config, limits, shutdown).await
}

/// [`serve_with`] over HTTPS (and so WSS): what browsers require before a
/// page on another machine, a phone's say, may use the camera.
pub async fn serve_tls_with(
    listener: TcpListener,
    config: Config,
    limits: Limits,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(listener, Some(tls), config, limits, shutdown).await
}

/// Plain or TLS, the same stopping and draining.
async fn serve_on(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Config,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopping) = watch::channel(false);
    let drain = limits.drain;
    let (app, cluster) = app(config, limits.clone(), stopping.clone())?;
    let served = accept::Served {
        tls: tls.map(tokio_rustls::TlsAcceptor::from),
        per_ip: Arc::new(per_ip::PerIp::new(limits.max_connections_per_ip.saturating_mul(2))),
        header_read: limits.header_read_timeout,
        // Never below the heartbeat: a WebSocket over HTTP/2 stays under the idle watch.
        idle: limits.idle_timeout.max(limits.heartbeat_timeout),
        app,
    };
    let signal = async {
        shutdown.await;
        if let Some(cluster) = &cluster {
            // The others stop counting on this node, and its members homed
            // elsewhere are told to move, before its own are.
            cluster.drain().await;
        }
        tracing::info!("shutting down: closing every connection");
        stop.send_replace(true);
    };
    // Returns once stopped and every HTTP request in flight has finished.
    tokio::join!(signal, accept::serve(listener, served, stopping));
    // An upgraded WebSocket is not an HTTP request: each holds a receiver
    // of `stop` until it has closed.
    if tokio::time::timeout(drain.max(DRAIN_TIMEOUT), stop.closed()).await.is_err() {
        tracing::warn!(open = stop.receiver_count(), "connections still closing: stopping anyway");
    }
    if let Some(cluster) = &cluster {
        // Its members have moved: rooms still held here are let go.
        cluster.release_all().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Raises the soft limit on open files to the hard one (often 1024 against
/// 524288), so the per-address counts, not the OS, are what bind.
pub fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files"),
        Err(err) => tracing::warn!(%err, "cannot raise the open-files limit"),
    }
}

/// `ok`; in a cluster whose Redis does not answer, `degraded`: rooms held
/// here go on, but nothing that needs another node works (still 200: the
/// node serves, and a load balancer should keep sending it its members).
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    // Stopping (draining): a load balancer sends new members elsewhere.
    if *state.stopping.borrow() || state.cluster.as_ref().is_some_and(|c| c.draining()) {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "stopping").into_response();
    }
    match &state.cluster {
        Some(cluster) if !cluster.healthy() => "degraded".into_response(),
        _ => "ok".into_response(),
    }
}

/// Resolves on Ctrl-C or SIGTERM: the `shutdown` for [`serve_with`] in `main`.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
