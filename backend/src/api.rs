//! `/api`: small JSON answers for the web app. Everything here reflects live
//! state, so nothing may be cached.

use crate::hub::{Hub, HubStopped};
use crate::rooms::RoomError;
use crate::turn::TurnRest;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRef, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use shared::{ApiError, ErrorCode, IceServer, RoomName, RoomStatus};
use std::sync::Arc;

/// The ICE servers for a page that has not joined yet: it prepares its first
/// peer connection with them before Join. The servers every member is given;
/// with `--turn-secret`, TURN credentials of the page's own (user
/// [`crate::turn::LOBBY_USER`]), made from the same secret as each member's.
#[derive(Clone, Debug, Default)]
pub struct LobbyIce {
    pub fixed: Arc<Vec<IceServer>>,
    pub turn: Option<Arc<TurnRest>>,
}

impl LobbyIce {
    pub fn servers(&self) -> Vec<IceServer> {
        let mut servers = Vec::clone(&self.fixed);
        servers.extend(self.turn.as_ref().map(|turn| turn.for_lobby()));
        servers
    }
}

pub fn router<S>() -> Router<S>
where
    Hub: FromRef<S>,
    LobbyIce: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        // A catch-all never matches an empty name, which must be refused too
        // rather than fall through to the web app.
        .route("/api/rooms/", get(empty_room_status))
        // A catch-all, so `a/b` is refused as a name instead of served the app.
        .route("/api/rooms/{*room}", get(room_status))
        .route("/api/ice-servers", get(ice_servers))
        .layer(map_response(no_store))
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
        };
        let body = ApiError {
            code,
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

/// `GET /api/rooms/{room}`: how full the room is (0 when nobody is in it).
async fn room_status(
    State(hub): State<Hub>,
    room: Result<Path<String>, PathRejection>,
) -> Result<Json<RoomStatus>, Error> {
    let Path(raw) = room.map_err(Error::UnreadableName)?;
    status(&hub, &raw).await
}

/// `GET /api/rooms/`: the empty name.
async fn empty_room_status(State(hub): State<Hub>) -> Result<Json<RoomStatus>, Error> {
    status(&hub, "").await
}

async fn status(hub: &Hub, raw: &str) -> Result<Json<RoomStatus>, Error> {
    let room = RoomName::parse(raw).map_err(RoomError::InvalidRoomName)?;
    Ok(Json(hub.status(room).await?))
}

/// `GET /api/ice-servers`: the servers a member's `welcome` will carry (with
/// TURN credentials of the page's own), so the page can prepare its first
/// offer, and gather its candidates, ahead of Join.
async fn ice_servers(State(lobby): State<LobbyIce>) -> Json<Vec<IceServer>> {
    Json(lobby.servers())
}

/// Occupancy changes by the second: a cached answer would be wrong.
async fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
