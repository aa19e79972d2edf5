//! `/api`: small JSON answers for the web app. Everything here reflects live
//! state, so nothing may be cached.

use crate::cluster::Cluster;
use crate::hub::{Hub, HubStopped};
use crate::per_ip::client_key;
use crate::rate::MessageRate;
use crate::rooms::RoomError;
use crate::turn::TurnRest;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, FromRef, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, map_response, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use shared::{ApiError, ErrorCode, IceConfig, IceServer, RoomName, RoomStatus};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The ICE configuration for a page that has not joined yet: it prepares its
/// first peer connection with it before Join. The servers every member is
/// given; with `--turn-secret`, TURN credentials of the page's own (user
/// [`crate::turn::LOBBY_USER`]), made from the same secret as each member's.
#[derive(Clone, Debug, Default)]
pub struct LobbyIce {
    pub fixed: Arc<Vec<IceServer>>,
    pub turn: Option<Arc<TurnRest>>,
    pub relay_only: bool,
}

impl LobbyIce {
    pub fn config(&self) -> IceConfig {
        let mut servers = Vec::clone(&self.fixed);
        servers.extend(self.turn.as_ref().map(|turn| turn.for_lobby()));
        IceConfig { servers, relay_only: self.relay_only }
    }
}

/// `rate`: requests one client address may make, to all of `/api`
/// together; `None` for no limit (behind a proxy, where every client has
/// the proxy's address).
pub fn router<S>(rate: Option<MessageRate>) -> Router<S>
where
    Occupancy: FromRef<S>,
    LobbyIce: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    let routes = Router::new()
        // A catch-all never matches an empty name, which must be refused too
        // rather than fall through to the web app.
        .route("/api/rooms/", get(empty_room_status))
        // A catch-all, so `a/b` is refused as a name instead of served the app.
        .route("/api/rooms/{*room}", get(room_status))
        .route("/api/ice-servers", get(ice_servers));
    let routes = match rate {
        // `route_layer`: only these routes spend the budget, not the app's fallback.
        Some(rate) => routes.route_layer(from_fn_with_state(Arc::new(Budgets::new(rate)), throttle)),
        None => routes,
    };
    routes.layer(map_response(no_store))
}

/// Addresses remembered at most; see [`Budgets::make_room`].
const MAX_ADDRESSES: usize = 10_000;

/// A token bucket per client address. Each request asks the hub (one
/// channel round trip) or mints TURN credentials (an HMAC): cheap, but
/// unthrottled one address could make ~28,000 a second of them. A page asks
/// once on load, then every 5 s and as its room name is typed.
#[derive(Debug)]
struct Budgets {
    rate: MessageRate,
    buckets: Mutex<HashMap<IpAddr, Allowance>>,
}

/// A bucket without debt (unlike [`crate::rate::Bucket`]'s, whose refused
/// messages cost too): a refused request costs nothing, so a page that was
/// refused gets in again as soon as the rate allows.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    tokens: f64,
    last: Instant,
}

impl Allowance {
    fn full(rate: MessageRate, now: Instant) -> Self {
        Self { tokens: rate.burst.into(), last: now }
    }

    fn refilled(self, rate: MessageRate, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        (self.tokens + elapsed * f64::from(rate.per_second)).min(rate.burst.into())
    }

    /// Takes a token, or says how long until there is one.
    fn take(&mut self, rate: MessageRate, now: Instant) -> Result<(), Duration> {
        self.tokens = self.refilled(rate, now);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / f64::from(rate.per_second)))
        }
    }
}

impl Budgets {
    fn new(rate: MessageRate) -> Self {
        Self { rate, buckets: Mutex::default() }
    }

    fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = client_key(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if !buckets.contains_key(&key) && buckets.len() >= MAX_ADDRESSES {
            self.make_room(&mut buckets, now);
        }
        buckets.entry(key).or_insert_with(|| Allowance::full(self.rate, now)).take(self.rate, now)
    }

    /// Forgets addresses whose bucket has refilled (a new one would be the
    /// same), so memory stays bounded. If most are still busy (requests from
    /// thousands of addresses within seconds: a flood no per-address budget
    /// stops), forgets them all rather than scan again on every request.
    fn make_room(&self, buckets: &mut HashMap<IpAddr, Allowance>, now: Instant) {
        let burst = f64::from(self.rate.burst);
        buckets.retain(|_, a| a.refilled(self.rate, now) < burst);
        if buckets.len() > MAX_ADDRESSES / 2 {
            tracing::warn!(addresses = buckets.len(), "API requests from too many addresses to track: budgets reset");
            buckets.clear();
        }
    }
}

/// Refuses a request over its address's budget with 429, `Retry-After` and
/// an [`ApiError`]. Without connect info (a router built bare) no budget.
async fn throttle(State(budgets): State<Arc<Budgets>>, req: Request, next: Next) -> Response {
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(ip) = client {
        if let Err(wait) = budgets.take(ip, Instant::now()) {
            tracing::debug!(%ip, ?wait, "API request over the address's budget");
            return Error::TooMany(wait).into_response();
        }
    }
    next.run(req).await
}

/// Why an API request failed.
#[derive(Debug, thiserror::Error)]
enum Error {
    /// Refused in the same words a `join` with that name would be.
    #[error(transparent)]
    Refused(#[from] RoomError),
    /// Not even text, e.g. percent-encoded bytes that are not UTF-8.
    #[error("invalid room name: {0}")]
    UnreadableName(PathRejection),
    #[error(transparent)]
    Stopped(#[from] HubStopped),
    /// Over this address's budget; the time until the next request may pass.
    #[error("too many requests from this address: try again in a moment")]
    TooMany(Duration),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::Refused(err) => (StatusCode::BAD_REQUEST, err.code()),
            Self::UnreadableName(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRoomName),
            // No ErrorCode fits, and no client can act on it beyond retrying.
            Self::Stopped(_) => {
                tracing::error!("room status asked of a stopped hub");
                return (StatusCode::SERVICE_UNAVAILABLE, self.to_string()).into_response();
            }
            // Not quite a message over the WebSocket's rate, but the same
            // advice: slow down. Whole seconds, rounded up, at least one.
            Self::TooMany(wait) => {
                let body = ApiError { code: ErrorCode::TooManyMessages, message: self.to_string() };
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let retry = [(header::RETRY_AFTER, seconds.max(1).to_string())];
                return (StatusCode::TOO_MANY_REQUESTS, retry, Json(body)).into_response();
            }
        };
        let body = ApiError { code, message: self.to_string() };
        (status, Json(body)).into_response()
    }
}

/// Where rooms' occupancy is asked: this node's hub, or in a cluster the
/// room's node.
#[derive(Debug, Clone)]
pub struct Occupancy {
    pub hub: Hub,
    pub cluster: Option<Arc<Cluster>>,
}

/// `GET /api/rooms/{room}`: how full the room is (0 when nobody is in it).
async fn room_status(
    State(rooms): State<Occupancy>,
    room: Result<Path<String>, PathRejection>,
) -> Result<Json<RoomStatus>, Error> {
    let Path(raw) = room.map_err(Error::UnreadableName)?;
    status(&rooms, &raw).await
}

/// `GET /api/rooms/`: the empty name.
async fn empty_room_status(State(rooms): State<Occupancy>) -> Result<Json<RoomStatus>, Error> {
    status(&rooms, "").await
}

async fn status(rooms: &Occupancy, raw: &str) -> Result<Json<RoomStatus>, Error> {
    let room = RoomName::parse(raw).map_err(RoomError::InvalidRoomName)?;
    let status = match &rooms.cluster {
        Some(cluster) => cluster.status(room).await?,
        None => rooms.hub.status(room).await?,
    };
    Ok(Json(status))
}

/// `GET /api/ice-servers`: the servers and policy a member's `welcome` will
/// carry (with TURN credentials of the page's own), so the page can prepare
/// its first offer, and gather its candidates, ahead of Join.
async fn ice_servers(State(lobby): State<LobbyIce>) -> Json<IceConfig> {
    Json(lobby.config())
}

/// Occupancy changes by the second: a cached answer would be wrong.
async fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: MessageRate = MessageRate { per_second: 20, burst: 60 };
    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn passed(budgets: &Budgets, ip: IpAddr, n: usize, at: Instant) -> usize {
        (0..n).filter(|_| budgets.take(ip, at).is_ok()).count()
    }

    #[test]
    fn a_burst_passes_then_requests_wait_for_the_rate_without_debt() {
        let start = Instant::now();
        let budgets = Budgets::new(RATE);
        assert_eq!(passed(&budgets, A, 200, start), 60);
        let wait = budgets.take(A, start).unwrap_err();
        assert!(wait.abs_diff(Duration::from_millis(50)) < Duration::from_micros(1), "{wait:?}");
        // Refusals cost nothing: 100 ms later, two tokens.
        let later = start + Duration::from_millis(100);
        assert_eq!(passed(&budgets, A, 10, later), 2);
        let other = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(passed(&budgets, other, 1, later), 1, "another address has its own");
    }

    #[test]
    fn an_ipv6_network_shares_one_budget_and_mapped_ipv4_is_ipv4() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(one), client_key(same_64));
        assert_ne!(client_key(one), client_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(client_key(mapped), A);
    }

    #[test]
    fn the_map_of_addresses_stays_bounded() {
        let start = Instant::now();
        let budgets = Budgets::new(RATE);
        let ip = |i: u32| IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        let newcomer = |i: u8| IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, i));
        let len = || budgets.buckets.lock().unwrap().len();
        for i in 0..MAX_ADDRESSES as u32 {
            budgets.take(ip(i), start).unwrap();
        }
        assert_eq!(len(), MAX_ADDRESSES);
        // All still busy: forgotten rather than let the map grow.
        budgets.take(newcomer(1), start).unwrap();
        assert_eq!(len(), 1);
        // A spends its burst; the map fills again with addresses that asked once.
        assert_eq!(passed(&budgets, A, 60, start), 60, "A's burst");
        for i in 0..MAX_ADDRESSES as u32 - 2 {
            budgets.take(ip(i), start).unwrap();
        }
        assert_eq!(len(), MAX_ADDRESSES);
        // 100 ms on, those have refilled and go; A (two tokens of 60) stays.
        let soon = start + Duration::from_millis(100);
        budgets.take(newcomer(2), soon).unwrap();
        assert_eq!(len(), 2, "A and the newcomer");
        assert_eq!(passed(&budgets, A, 10, soon), 2, "A's budget was kept, not reset");
    }
}
