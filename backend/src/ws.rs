//! `/ws`: one WebSocket per member. A read loop turns frames into hub events;
//! a write loop sends the peer's queue. When either ends, the connection ends.

use crate::hub::{Hub, PeerConn};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use shared::protocol::{close_code, MAX_FRAME_BYTES};
use shared::{ClientMsg, ErrorCode, PeerId, ServerMsg};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};

/// tungstenite's own limit, well above [`MAX_FRAME_BYTES`] so our check runs
/// first and can close with a reason; it still bounds what one frame costs.
const MAX_WS_MESSAGE: usize = 1024 * 1024;

/// Pings make browsers answer even when idle, so a vanished peer (sleeping
/// laptop, dropped network) is noticed and does not hold a seat in its room.
const PING_EVERY: Duration = Duration::from_secs(20);
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// How long a closing handshake may take before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn upgrade(ws: WebSocketUpgrade, State(hub): State<Hub>) -> Response {
    // Signaling messages are small: small buffers keep idle connections cheap.
    ws.read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| connection(socket, hub))
}

/// How a connection ends.
#[derive(Debug)]
enum End {
    /// The peer left or the socket failed: nothing more to say.
    Gone,
    /// We end it, with a close code and a reason for the user.
    Close { code: u16, reason: String },
}

impl End {
    fn close(code: u16, reason: impl Into<String>) -> Self {
        Self::Close {
            code,
            reason: reason.into(),
        }
    }
}

async fn connection(socket: WebSocket, hub: Hub) {
    let Ok(PeerConn {
        id: peer,
        mut outbox,
        replies,
        mut kicked,
    }) = hub.connect().await
    else {
        return;
    };
    tracing::info!(%peer, "connected");
    let (mut sink, mut stream) = socket.split();

    let end = tokio::select! {
        end = read_loop(&mut stream, &hub, peer, &replies) => end,
        end = write_loop(&mut sink, &mut outbox) => end,
        Ok(()) = &mut kicked => End::close(close_code::TOO_SLOW, "too slow to receive messages"),
    };
    // The others hear PeerLeft now, whatever the closing handshake below costs.
    let _ = hub.disconnect(peer).await;
    tracing::info!(%peer, ?end, "disconnected");
    finish(sink, stream, end).await;
}

async fn read_loop(
    stream: &mut SplitStream<WebSocket>,
    hub: &Hub,
    peer: PeerId,
    replies: &mpsc::Sender<ServerMsg>,
) -> End {
    loop {
        let frame = match timeout(IDLE_LIMIT, stream.next()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(err))) => {
                tracing::debug!(%peer, %err, "read failed");
                return End::Gone;
            }
            Ok(None) => return End::Gone,
            Err(_) => {
                tracing::debug!(%peer, "nothing received, not even a pong: presumed gone");
                return End::Gone;
            }
        };
        let reply = match frame {
            Message::Text(text) if text.len() > MAX_FRAME_BYTES => return too_big(),
            Message::Binary(data) if data.len() > MAX_FRAME_BYTES => return too_big(),
            Message::Text(text) => match ClientMsg::decode(&text) {
                Ok(msg) => match hub.message(peer, msg).await {
                    Ok(()) => continue,
                    Err(_) => return End::Gone,
                },
                Err(err) => ServerMsg::error(err.code(), err.to_string()),
            },
            Message::Binary(_) => {
                ServerMsg::error(ErrorCode::InvalidMessage, "send JSON text frames")
            }
            // tungstenite answers pings itself; any frame proves the peer is there.
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return End::Gone,
        };
        if replies.send(reply).await.is_err() {
            return End::Gone;
        }
    }
}

fn too_big() -> End {
    End::close(
        close_code::TOO_BIG,
        format!("message larger than {} KiB", MAX_FRAME_BYTES / 1024),
    )
}

async fn write_loop(
    sink: &mut SplitSink<WebSocket, Message>,
    outbox: &mut mpsc::Receiver<ServerMsg>,
) -> End {
    let mut ping = interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let (frame, then_close) = tokio::select! {
            msg = outbox.recv() => {
                let Some(msg) = msg else { return End::Gone };
                // A client on another protocol version cannot go on: tell it why, then close.
                let then_close = matches!(&msg, ServerMsg::Error { code: ErrorCode::VersionMismatch, .. });
                (Message::Text(msg.encode().into()), then_close)
            }
            _ = ping.tick() => (Message::Ping(Bytes::new()), false),
        };
        if sink.send(frame).await.is_err() {
            return End::Gone;
        }
        if then_close {
            return End::close(
                close_code::VERSION_MISMATCH,
                "protocol version mismatch: reload the page",
            );
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
        match end {
            End::Gone => sink.close().await?,
            End::Close { code, reason } => {
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                sink.send(Message::Close(Some(frame))).await?;
            }
        }
        while let Some(Ok(_)) = stream.next().await {}
        Ok::<_, axum::Error>(())
    };
    let _ = timeout(CLOSE_TIMEOUT, handshake).await;
}
