//! `/ws`: one WebSocket per member. A read loop relays on the connection's
//! lines or turns frames into hub events; a write loop sends the peer's
//! queue. When either ends, the connection ends.

use crate::hub::{Hub, Kick, PeerConn, Queued};
use crate::lines::Lines;
use crate::metrics::Metrics;
use crate::origin;
use crate::per_ip::IpSlot;
use crate::rate::{Bucket, MessageRate, Verdict};
use crate::{AppState, Limits};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use shared::protocol::{close_code, MAX_FRAME_BYTES};
use shared::{ClientMsg, ErrorCode, PeerId, ServerMsg};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};

/// tungstenite's own limit, well above [`MAX_FRAME_BYTES`] so our check runs
/// first and can close with a reason; it still bounds what one frame costs.
const MAX_WS_MESSAGE: usize = 1024 * 1024;

/// Pings per heartbeat timeout: a peer must miss this many in a row (or
/// their pongs must all be late) before it is presumed gone.
const PINGS_PER_TIMEOUT: u32 = 3;

/// Bytes of frames held before tungstenite writes them out unasked.
const WRITE_BUFFER: usize = 16 * 1024;

/// Messages written before one flush, at most, when several are queued.
const WRITE_BATCH: usize = 32;

/// How long a closing handshake may take before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    // Absent only if the app is served without connect info: then no limit.
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if *state.stopping.borrow() {
        return refuse(&state, Refused::Stopping);
    }
    // Unreadable (non-ASCII) values count as present but wrong.
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""));
    // HTTP/2 has no Host header: the authority is in the URI.
    let host = match headers.get(header::HOST) {
        Some(host) => host.to_str().ok(),
        None => uri.authority().map(|a| a.as_str()),
    };
    // The first proxy's, if several appended theirs.
    let forwarded = headers
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next());
    let hosts: Vec<&str> = host.into_iter().chain(forwarded).collect();
    if !origin::allows(&state.limits.allowed_origins, origin, &hosts) {
        tracing::info!(?origin, ?hosts, "WebSocket from another origin refused");
        return refuse(&state, Refused::Origin);
    }
    let slot = match client {
        Some(Extension(ConnectInfo(addr))) => match state.per_ip.acquire(addr.ip()) {
            Some(slot) => Some(slot),
            None => {
                tracing::info!(ip = %addr.ip(), "too many connections from one address");
                return refuse(&state, Refused::TooManyFromAddress);
            }
        },
        None => None,
    };
    // Small buffers keep idle connections cheap (an offer grows the read
    // buffer as it must): 1 KiB instead of 4 KiB took an idle connection
    // from 9.7 to 6.6 KB of server memory (backend/tests/load.rs, --ignored).
    ws.read_buffer_size(1024)
        // Frames gather until the write loop flushes (it does after each
        // batch); the buffer grows only as far as a batch needs.
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| connection(socket, state, slot))
}

/// Why an upgrade was refused. The `Display` text is the response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("The server is restarting. Try again in a moment.")]
    Stopping,
    #[error(
        "This Moim server does not accept pages from other sites. \
         Its operator can allow one with --allowed-origin."
    )]
    Origin,
    #[error(
        "Too many connections from your address. \
         Close Moim in another tab or window, then try again."
    )]
    TooManyFromAddress,
}

impl Refused {
    /// Every variant, in declaration order (the metrics index by it).
    pub const ALL: [Self; 3] = [Self::Stopping, Self::Origin, Self::TooManyFromAddress];

    /// The `reason` label in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Stopping => "server_stopping",
            Self::Origin => "origin",
            Self::TooManyFromAddress => "too_many_from_address",
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Stopping => StatusCode::SERVICE_UNAVAILABLE,
            Self::Origin => StatusCode::FORBIDDEN,
            Self::TooManyFromAddress => StatusCode::TOO_MANY_REQUESTS,
        };
        (status, self.to_string()).into_response()
    }
}

fn refuse(state: &AppState, why: Refused) -> Response {
    state.metrics.refused(why);
    tracing::debug!(?why, "upgrade refused");
    why.into_response()
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client sent a close frame.
    ClientClosed,
    /// The client closed saying it is reconnecting (its socket seemed dead).
    Reconnecting,
    /// The socket failed or ended without a close frame (e.g. TCP dropped).
    Dropped,
    /// Nothing arrived for the heartbeat timeout, not even a pong.
    Silent,
    /// The hub dropped the peer for not reading its messages.
    TooSlow,
    /// A newer connection resumed this member.
    Replaced,
    TooBig,
    VersionMismatch,
    TooManyMessages,
    /// The server is stopping (the hub being gone means the same).
    Stopping,
}

impl End {
    /// Every variant, in declaration order (the metrics index by it).
    pub const ALL: [Self; 10] = [
        Self::ClientClosed,
        Self::Reconnecting,
        Self::Dropped,
        Self::Silent,
        Self::TooSlow,
        Self::Replaced,
        Self::TooBig,
        Self::VersionMismatch,
        Self::TooManyMessages,
        Self::Stopping,
    ];

    /// The `reason` label in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Self::ClientClosed => "client_closed",
            Self::Reconnecting => "client_reconnecting",
            Self::Dropped => "dropped",
            Self::Silent => "heartbeat_timeout",
            Self::TooSlow => "too_slow",
            Self::Replaced => "replaced",
            Self::TooBig => "too_big",
            Self::VersionMismatch => "version_mismatch",
            Self::TooManyMessages => "too_many_messages",
            Self::Stopping => "server_stopping",
        }
    }

    /// The close frame we send, if this end is ours to explain.
    fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Self::ClientClosed | Self::Reconnecting | Self::Dropped | Self::Silent => return None,
            Self::TooSlow => (
                close_code::TOO_SLOW,
                "too slow to receive messages".to_owned(),
            ),
            Self::Replaced => (
                close_code::REPLACED,
                "resumed on a newer connection".to_owned(),
            ),
            Self::TooBig => (
                close_code::TOO_BIG,
                format!("message larger than {} KiB", MAX_FRAME_BYTES / 1024),
            ),
            Self::VersionMismatch => (
                close_code::VERSION_MISMATCH,
                "protocol version mismatch: reload the page".to_owned(),
            ),
            Self::TooManyMessages => (
                close_code::TOO_MANY_MESSAGES,
                "too many messages".to_owned(),
            ),
            Self::Stopping => (
                close_code::GOING_AWAY,
                "the server is restarting".to_owned(),
            ),
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// `_slot` counts this connection against its address until it ends.
async fn connection(socket: WebSocket, state: AppState, _slot: Option<IpSlot>) {
    let _open = state.metrics.connection_opened();
    let hub = &state.hub;
    let heartbeat = state.limits.heartbeat_timeout;
    let Ok(PeerConn {
        id: peer,
        mut outbox,
        replies,
        mut kicked,
        lines,
    }) = hub.connect().await
    else {
        return;
    };
    tracing::info!(%peer, "connected");
    let (mut sink, mut stream) = socket.split();

    // Biased: once the server stops, nothing more is read or sent, so members
    // hear the close, not the others leaving one by one before it.
    let end = tokio::select! {
        biased;
        () = stopped(state.stopping.clone()) => End::Stopping,
        Ok(kick) = &mut kicked => match kick {
            Kick::TooSlow => End::TooSlow,
            Kick::Replaced => End::Replaced,
        },
        end = read_loop(&mut stream, hub, (peer, &lines), &replies, &state.limits) => end,
        end = write_loop(&mut sink, &mut outbox, heartbeat, &state.metrics) => end,
    };
    // The others hear PeerLeft now, whatever the closing handshake below
    // costs; unless the socket just dropped, when the member may come back.
    let keep_seat = matches!(end, End::Dropped | End::Reconnecting);
    let _ = hub.disconnect(peer, keep_seat, &mut outbox).await;
    state.metrics.connection_closed(end);
    tracing::info!(%peer, ?end, "disconnected");
    finish(sink, stream, end).await;
}

/// Resolves once the server is stopping (or its stop signal is gone).
async fn stopped(mut stopping: watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

async fn read_loop(
    stream: &mut SplitStream<WebSocket>,
    hub: &Hub,
    (peer, lines): (PeerId, &Lines),
    replies: &mpsc::Sender<Queued>,
    limits: &Limits,
) -> End {
    let heartbeat = limits.heartbeat_timeout;
    let mut bucket = Bucket::new(limits.message_rate, std::time::Instant::now());
    loop {
        // Any frame resets the clock; the write loop's pings make live
        // clients send pongs even when they have nothing to say.
        let frame = match timeout(heartbeat, stream.next()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(err))) => {
                tracing::debug!(%peer, %err, "read failed");
                return End::Dropped;
            }
            Ok(None) => return End::Dropped,
            Err(_) => {
                tracing::info!(%peer, ?heartbeat, "nothing received, not even a pong: presumed gone");
                return End::Silent;
            }
        };
        // Pongs answer our pings and a close ends it all: neither is the
        // client's to ration. Anything else, pings included, costs a token.
        if !matches!(frame, Message::Pong(_) | Message::Close(_)) {
            match bucket.take(std::time::Instant::now()) {
                Verdict::Pass => {}
                Verdict::Refuse => {
                    tracing::debug!(%peer, "over the message rate: dropped one");
                    if replies.send(Box::new(too_many(limits.message_rate))).await.is_err() {
                        return End::Dropped;
                    }
                    continue;
                }
                Verdict::Close => {
                    tracing::info!(%peer, "still over the message rate after refusals: closing");
                    return End::TooManyMessages;
                }
            }
        }
        let reply = match frame {
            Message::Text(text) if text.len() > MAX_FRAME_BYTES => return End::TooBig,
            Message::Binary(data) if data.len() > MAX_FRAME_BYTES => return End::TooBig,
            Message::Text(text) => match ClientMsg::decode(&text) {
                // Answered here: the hub has nothing to add.
                Ok(ClientMsg::Ping) => ServerMsg::Pong,
                Ok(msg) => match hub.message(peer, lines, msg).await {
                    Ok(()) => continue,
                    Err(_) => return End::Stopping,
                },
                Err(err) => ServerMsg::error(err.code(), err.to_string()),
            },
            Message::Binary(_) => {
                ServerMsg::error(ErrorCode::InvalidMessage, "send JSON text frames")
            }
            // tungstenite answers pings itself; any frame proves the peer is there.
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(Some(frame)) if frame.code == close_code::RECONNECTING => {
                return End::Reconnecting
            }
            Message::Close(_) => return End::ClientClosed,
        };
        // Our own queue: closed only if the connection is already ending.
        if replies.send(Box::new(reply)).await.is_err() {
            return End::Dropped;
        }
    }
}

fn too_many(rate: MessageRate) -> ServerMsg {
    let message = format!(
        "too many messages: at most {} a second ({} at once); this one was dropped",
        rate.per_second, rate.burst
    );
    ServerMsg::error(ErrorCode::TooManyMessages, message)
}

async fn write_loop(
    sink: &mut SplitSink<WebSocket, Message>,
    outbox: &mut mpsc::Receiver<Queued>,
    heartbeat: Duration,
    metrics: &Metrics,
) -> End {
    // Never zero: `interval_at` panics on a zero period.
    let every = (heartbeat / PINGS_PER_TIMEOUT).max(Duration::from_millis(10));
    let mut ping = interval_at(Instant::now() + every, every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            msg = outbox.recv() => msg,
            _ = ping.tick() => {
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    return End::Dropped;
                }
                continue;
            }
        };
        // The hub dropped its end: it has stopped.
        let Some(msg) = first else { return End::Stopping };
        // Whatever else is already queued goes out in the same write: one
        // syscall for a burst of ICE candidates instead of one each.
        let (mut next, mut batch) = (Some(msg), 0);
        while let Some(msg) = next.take() {
            // A client on another protocol version cannot go on: tell it why, then close.
            let then_close = matches!(&*msg, ServerMsg::Error { code: ErrorCode::VersionMismatch, .. });
            metrics.sent(&msg);
            if sink.feed(Message::Text(msg.encode().into())).await.is_err() {
                return End::Dropped;
            }
            if then_close {
                let _ = sink.flush().await;
                return End::VersionMismatch;
            }
            batch += 1;
            if batch == WRITE_BATCH {
                if sink.flush().await.is_err() {
                    return End::Dropped;
                }
                batch = 0;
            }
            next = outbox.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            return End::Dropped;
        }
    }
}

/// Sends our Close (or answers theirs), then waits briefly for the peer's
/// Close so the socket shuts down cleanly instead of racing our frame.
async fn finish(
    mut sink: SplitSink<WebSocket, Message>,
    mut stream: SplitStream<WebSocket>,
    end: End,
) {
    let handshake = async {
        match end.close_frame() {
            None => sink.close().await?,
            Some(frame) => sink.send(Message::Close(Some(frame))).await?,
        }
        while let Some(Ok(_)) = stream.next().await {}
        Ok::<_, axum::Error>(())
    };
    let _ = timeout(CLOSE_TIMEOUT, handshake).await;
}
