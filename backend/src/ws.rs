//! `/ws`: one WebSocket per member. A read loop relays on the connection's
//! lines or turns frames into hub events; a write loop sends the peer's
//! queue. When either ends, the connection ends.

use crate::accept::{stopped, BytesRead};
use crate::close::{End, Refused};
use crate::cluster::Route;
use crate::hub::{Kick, PeerConn};
use crate::lines::Lines;
use crate::metrics::Metrics;
use crate::origin;
use crate::per_ip::IpSlot;
use crate::queue::{Outbox, Queue};
use crate::rate::{Bucket, MessageRate, Verdict};
use crate::{AppState, Limits};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use shared::protocol::{close_code, MAX_FRAME_BYTES};
use shared::{ClientMsg, ErrorCode, ServerMsg};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::watch;
use tokio::time::{interval_at, timeout, timeout_at, Instant, MissedTickBehavior};

/// tungstenite's own limit on a message, and so on a fragmented one being
/// assembled: past it the read fails and we close with 1009.
const MAX_WS_MESSAGE: usize = MAX_FRAME_BYTES;

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
    read: Option<Extension<BytesRead>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if *state.stopping.borrow() {
        return refuse(&state, Refused::Stopping);
    }
    // Unreadable (non-ASCII) values count as present but wrong.
    let origin = headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or(""));
    // HTTP/2 has no Host header: the authority is in the URI.
    let host = match headers.get(header::HOST) {
        Some(host) => host.to_str().ok(),
        None => uri.authority().map(|a| a.as_str()),
    };
    // The first proxy's, if several appended theirs.
    let forwarded = headers.get("x-forwarded-host").and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next());
    let hosts: Vec<&str> = host.into_iter().chain(forwarded).collect();
    if !origin::allows(&state.limits.allowed_origins, origin, &hosts) {
        tracing::info!(?origin, ?hosts, "WebSocket from another origin refused");
        return refuse(&state, Refused::Origin);
    }
    let slot = match client {
        Some(Extension(ConnectInfo(addr))) => match state.per_ip.acquire(addr.ip()) {
            Some(slot) => Some(slot),
            None => {
                tracing::debug!(ip = %addr.ip(), "too many connections from one address");
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
        .on_upgrade(move |socket| connection(socket, state, slot, read.map(|Extension(read)| read)))
}

fn refuse(state: &AppState, why: Refused) -> Response {
    state.metrics.refused(why);
    tracing::debug!(?why, "upgrade refused");
    why.into_response()
}

/// `slot` (its client's address, when known) counts this connection against
/// that address until it ends, or, if its member keeps the seat for a
/// resume, until the seat is let go.
async fn connection(socket: WebSocket, state: AppState, slot: Option<IpSlot>, read: Option<BytesRead>) {
    let _open = state.metrics.connection_opened();
    let hub = &state.hub;
    let heartbeat = state.limits.heartbeat_timeout;
    let Ok(PeerConn { id: peer, mut outbox, replies, mut kicked, lines }) =
        hub.connect_from(slot.as_ref().map(IpSlot::ip)).await
    else {
        return;
    };
    tracing::debug!(%peer, "connected");
    let ip = slot.as_ref().map(IpSlot::ip);
    let mut route = Route::new(hub.clone(), state.cluster.clone(), peer, ip, replies.clone());
    let (mut sink, mut stream) = socket.split();

    // Biased: once the server stops, nothing more is read or sent, so members
    // hear the close, not the others leaving one by one before it.
    let mut wait = None;
    let mut stopping = state.stopping.clone();
    let end = tokio::select! {
        biased;
        () = stopped(&mut stopping) => End::Stopping,
        Ok(kick) = &mut kicked => match kick {
            Kick::TooSlow => End::TooSlow,
            Kick::Replaced => End::Replaced,
            Kick::TooManyAttempts(retry) => {
                wait = Some(retry);
                End::TooManyAttempts
            }
            Kick::Moved => End::Moved,
        },
        end = read_loop(&mut stream, &mut route, &lines, (&replies, read), &state.limits) => end,
        end = write_loop(&mut sink, &mut outbox, heartbeat, &state.metrics, &state.stopping) => end,
    };
    // The others hear PeerLeft now, whatever the closing handshake below
    // costs; unless the socket just dropped, when the member may come back.
    // Told to move (its room's node is gone or lost messages), it keeps the
    // seat too; so does a member whose seat is on another node when this
    // one stops: it resumes through a node still running.
    let keep_seat =
        matches!(end, End::Dropped | End::Reconnecting | End::Moved) || (end == End::Stopping && route.remote());
    if route.remote() {
        // Its seat is on another node, which keeps what it never wrote.
        route.end(keep_seat, outbox.close_and_drain().await).await;
    }
    let _ = hub.disconnect_from(peer, keep_seat, &mut outbox, slot).await;
    state.metrics.connection_closed(end);
    tracing::debug!(%peer, ?end, "disconnected");
    let mut close = end.close_frame();
    if let (Some(frame), Some(wait)) = (close.as_mut(), wait.filter(|w| !w.is_zero())) {
        frame.reason = crate::guesses::try_again_in(wait).into();
    }
    finish(sink, stream, close).await;
}

/// Generic over the stream (a `WebSocket`'s, or a channel's in the tests
/// below), as axum's `examples/testing-websockets` has it.
async fn read_loop<S>(
    stream: &mut S,
    route: &mut Route,
    lines: &Lines,
    (replies, read): (&Queue, Option<BytesRead>),
    limits: &Limits,
) -> End
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let heartbeat = limits.heartbeat_timeout;
    let peer = route.conn();
    // tokio's clock, so tests with a paused one see the same time.
    let now = || Instant::now().into_std();
    let mut bucket = Bucket::new(limits.message_rate, now());
    // A pong proves the client reads what we send (browsers answer pings by
    // themselves): one that keeps sending but never answers is not reading,
    // and would only fill its queue and buffers.
    let mut answered = Instant::now();
    let mut sent_since = false;
    let mut assembly = Assembly::new(read);
    loop {
        // Checked here too: under a steady stream of frames the read below
        // never waits long enough to time out.
        let deadline = answered + heartbeat;
        if sent_since && Instant::now() >= deadline {
            tracing::debug!(%peer, ?heartbeat, "sends but answers no ping: not reading");
            return End::TooSlow;
        }
        let frame = match timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(err))) => {
                tracing::debug!(%peer, %err, "read failed");
                return read_error(err);
            }
            Ok(None) => return End::Dropped,
            Err(_) if sent_since => {
                tracing::debug!(%peer, ?heartbeat, "sends but answers no ping: not reading");
                return End::TooSlow;
            }
            Err(_) => {
                tracing::debug!(%peer, ?heartbeat, "nothing received, not even a pong: presumed gone");
                return End::Silent;
            }
        };
        if matches!(frame, Message::Pong(_)) {
            (answered, sent_since) = (Instant::now(), false);
        } else {
            sent_since = true;
        }
        assembly.saw(&frame);
        if assembly.stalled(heartbeat) {
            tracing::debug!(%peer, "a message being assembled stalled: closing");
            return End::Incomplete;
        }
        // Pongs answer our pings and a close ends it all: neither is the
        // client's to ration. Anything else, pings included, costs a token.
        if !matches!(frame, Message::Pong(_) | Message::Close(_)) {
            match bucket.take(now()) {
                Verdict::Pass => {}
                Verdict::Refuse => {
                    tracing::debug!(%peer, "over the message rate: dropped one");
                    match reply(replies, too_many(limits.message_rate)) {
                        Ok(()) => continue,
                        Err(end) => return end,
                    }
                }
                Verdict::Close => {
                    tracing::debug!(%peer, "still over the message rate after refusals: closing");
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
                Ok(msg) => match route.message(lines, msg).await {
                    Ok(()) => continue,
                    Err(_) => return End::Stopping,
                },
                Err(err) => ServerMsg::error(err.code(), err.to_string()),
            },
            Message::Binary(_) => ServerMsg::error(ErrorCode::InvalidMessage, "send JSON text frames"),
            // tungstenite answers pings itself; pongs were noted above.
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(Some(frame)) if frame.code == close_code::RECONNECTING => return End::Reconnecting,
            Message::Close(_) => return End::ClientClosed,
        };
        if let Err(end) = self::reply(replies, reply) {
            return end;
        }
    }
}

/// Queues the connection's own reply, never waiting: a client that sends
/// while it does not read fills its queue and is closed, rather than
/// stopping this loop (and with it the heartbeat) in a wait.
fn reply(replies: &Queue, msg: ServerMsg) -> Result<(), End> {
    match replies.try_send(Box::new(msg)) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err(End::TooSlow),
        // Closed only if the connection is already ending.
        Err(TrySendError::Closed(_)) => Err(End::Dropped),
    }
}

/// Why a read failed: a broken rule gets its close code and gives the seat
/// up; a socket that just went away keeps it for a resume.
fn read_error(err: axum::Error) -> End {
    use tungstenite::error::{Error, ProtocolError};
    match err.into_inner().downcast::<Error>().map(|err| *err) {
        Ok(Error::Capacity(_)) => End::TooBig,
        Ok(Error::Utf8(_)) => End::InvalidUtf8,
        Ok(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => End::Dropped,
        Ok(Error::Protocol(_) | Error::AttackAttempt) => End::ProtocolError,
        _ => End::Dropped,
    }
}

/// A message sent in fragments is assembled out of this loop's sight: only
/// the connection's byte count shows it growing. One that has taken more
/// than [`Assembly::SLACK`] bytes beyond the control frames around it, and
/// the heartbeat timeout, without completing is closed: its size is already
/// bounded by the message limit, this bounds its time.
struct Assembly {
    read: Option<BytesRead>,
    since: Instant,
    mark: u64,
    controls: u64,
}

impl Assembly {
    const SLACK: u64 = 4096;
    /// The most one control frame (a ping or pong from the client) takes.
    const CONTROL: u64 = 2 + 4 + 125;

    fn new(read: Option<BytesRead>) -> Self {
        let mark = read.as_ref().map_or(0, BytesRead::get);
        Self { read, since: Instant::now(), mark, controls: 0 }
    }

    fn saw(&mut self, frame: &Message) {
        match frame {
            Message::Ping(_) | Message::Pong(_) => self.controls += 1,
            _ => *self = Self::new(self.read.take()),
        }
    }

    fn stalled(&self, limit: Duration) -> bool {
        let Some(read) = &self.read else { return false };
        let unexplained = read.get().saturating_sub(self.mark + self.controls * Self::CONTROL);
        self.since.elapsed() >= limit && unexplained > Self::SLACK
    }
}

fn too_many(rate: MessageRate) -> ServerMsg {
    let message = format!(
        "too many messages: at most {} a second ({} at once); this one was dropped",
        rate.per_second, rate.burst
    );
    ServerMsg::error(ErrorCode::TooManyMessages, message)
}

async fn write_loop<K>(
    sink: &mut K,
    outbox: &mut Outbox,
    heartbeat: Duration,
    metrics: &Metrics,
    stopping: &watch::Receiver<bool>,
) -> End
where
    K: Sink<Message> + Unpin,
{
    // Never zero: `interval_at` panics on a zero period.
    let every = (heartbeat / PINGS_PER_TIMEOUT).max(Duration::from_millis(10));
    let mut ping = interval_at(Instant::now() + every, every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let written = tokio::select! {
            msg = outbox.recv() => match msg {
                Some(msg) => timeout(heartbeat, write_batch(sink, msg, outbox, metrics, stopping)).await,
                // The hub dropped its end: it has stopped.
                None => return End::Stopping,
            },
            _ = ping.tick() => {
                timeout(heartbeat, async { sink.send(Message::Ping(Bytes::new())).await.map_err(|_| End::Dropped) }).await
            }
        };
        match written {
            Ok(Ok(())) => {}
            Ok(Err(end)) => return end,
            // The socket has not taken our bytes for as long as a silent
            // client is given: it is not reading, and would hold its
            // buffers for good.
            Err(_) => return End::TooSlow,
        }
    }
}

/// Writes `msg` and whatever else is already queued in one go: one syscall
/// for a burst of ICE candidates instead of one each.
async fn write_batch<K>(
    sink: &mut K,
    msg: Box<ServerMsg>,
    outbox: &mut Outbox,
    metrics: &Metrics,
    stopping: &watch::Receiver<bool>,
) -> Result<(), End>
where
    K: Sink<Message> + Unpin,
{
    let (mut next, mut batch) = (Some(msg), 0);
    while let Some(msg) = next.take() {
        // Whatever came after the server began stopping (a member leaving,
        // say) is not said: the close comes first. Checked here because
        // this task may have been polled just before the stop.
        if *stopping.borrow() {
            return Err(End::Stopping);
        }
        // A client on another protocol version cannot go on: tell it why, then close.
        let then_close = matches!(&*msg, ServerMsg::Error { code: ErrorCode::VersionMismatch, .. });
        metrics.sent(&msg);
        sink.feed(Message::Text(msg.encode().into())).await.map_err(|_| End::Dropped)?;
        if then_close {
            let _ = sink.flush().await;
            return Err(End::VersionMismatch);
        }
        batch += 1;
        if batch == WRITE_BATCH {
            sink.flush().await.map_err(|_| End::Dropped)?;
            batch = 0;
        }
        next = outbox.try_recv().ok();
    }
    sink.flush().await.map_err(|_| End::Dropped)
}

/// Sends our Close (or answers theirs), then waits briefly for the peer's
/// Close so the socket shuts down cleanly instead of racing our frame.
async fn finish(
    mut sink: SplitSink<WebSocket, Message>,
    mut stream: SplitStream<WebSocket>,
    close: Option<CloseFrame>,
) {
    let handshake = async {
        match close {
            None => sink.close().await?,
            Some(frame) => sink.send(Message::Close(Some(frame))).await?,
        }
        while let Some(Ok(_)) = stream.next().await {}
        Ok::<_, axum::Error>(())
    };
    let _ = timeout(CLOSE_TIMEOUT, handshake).await;
}

/// The loops driven by channels and a recording sink on a paused clock:
/// the heartbeat, the pong deadline, the rate limit, batching, the write
/// timeout and the stop, without a socket or a wall-clock wait.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;
    use crate::rooms::Rooms;
    use futures_channel::mpsc as chan;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    fn limits(heartbeat: u64) -> Limits {
        Limits { heartbeat_timeout: Duration::from_secs(heartbeat), ..Limits::default() }
    }

    async fn connected() -> (Hub, PeerConn) {
        let hub = Hub::spawn(Rooms::new(6, vec![]));
        let conn = hub.connect().await.unwrap();
        (hub, conn)
    }

    async fn read(stream: &mut (impl Stream<Item = Result<Message, axum::Error>> + Unpin), limits: &Limits) -> End {
        let (hub, conn) = connected().await;
        let mut route = Route::new(hub, None, conn.id, None, conn.replies.clone());
        read_loop(stream, &mut route, &conn.lines, (&conn.replies, None), limits).await
    }

    fn ping() -> Result<Message, axum::Error> {
        Ok(Message::text(r#"{"type":"ping"}"#))
    }

    /// Sends `frame()` every `every` until the loop under test has ended.
    fn every(
        every: Duration,
        frame: fn() -> Result<Message, axum::Error>,
    ) -> chan::UnboundedReceiver<Result<Message, axum::Error>> {
        let (tx, rx) = chan::unbounded();
        tokio::spawn(async move {
            while tx.unbounded_send(frame()).is_ok() {
                tokio::time::sleep(every).await;
            }
        });
        rx
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_sends_nothing_is_gone_after_the_heartbeat() {
        let started = Instant::now();
        assert_eq!(read(&mut futures_util::stream::pending(), &limits(15)).await, End::Silent);
        assert_eq!(started.elapsed(), Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_sends_but_answers_no_ping_is_not_reading() {
        let started = Instant::now();
        assert_eq!(read(&mut every(Duration::from_secs(1), ping), &limits(15)).await, End::TooSlow);
        assert!(started.elapsed() <= Duration::from_secs(15), "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_answers_pings_stays_however_quiet() {
        let pongs = every(Duration::from_secs(5), || Ok(Message::Pong(Bytes::new())));
        let mut pongs = pongs;
        let stayed = timeout(Duration::from_secs(600), read(&mut pongs, &limits(15))).await;
        assert!(stayed.is_err(), "ended: {stayed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_is_answered_refused_then_closed() {
        let (hub, mut conn) = connected().await;
        let limits = Limits { message_rate: MessageRate { per_second: 1, burst: 10 }, ..limits(15) };
        let mut flood = futures_util::stream::iter((0..100).map(|_| ping())).chain(futures_util::stream::pending());
        let mut route = Route::new(hub, None, conn.id, None, conn.replies.clone());
        let end = read_loop(&mut flood, &mut route, &conn.lines, (&conn.replies, None), &limits).await;
        assert_eq!(end, End::TooManyMessages);
        let mut replies = Vec::new();
        while let Ok(msg) = conn.outbox.try_recv() {
            replies.push(*msg);
        }
        let pongs = replies.iter().filter(|m| **m == ServerMsg::Pong).count();
        let refused = replies.iter().filter(|m| matches!(m, ServerMsg::Error { code: ErrorCode::TooManyMessages, .. }));
        assert_eq!((pongs, refused.count(), replies.len()), (10, 10, 20));
    }

    /// A sink that records frames and flushes, or never takes anything.
    #[derive(Default)]
    struct Recording {
        frames: Vec<Message>,
        flushes: usize,
        stuck: bool,
    }

    impl Sink<Message> for Recording {
        type Error = axum::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.stuck {
                Poll::Pending
            } else {
                Poll::Ready(Ok(()))
            }
        }
        fn start_send(mut self: Pin<&mut Self>, frame: Message) -> Result<(), Self::Error> {
            self.frames.push(frame);
            Ok(())
        }
        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.stuck {
                return Poll::Pending;
            }
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Runs the write loop over `sink` with 40 messages queued, for `run`
    /// (or until it ends).
    async fn write(sink: &mut Recording, stop: bool, run: Duration) -> Option<End> {
        let (_hub, mut conn) = connected().await;
        for i in 0..40 {
            conn.replies.try_send(Box::new(ServerMsg::error(ErrorCode::NotJson, format!("{i}")))).unwrap();
        }
        let (_stop, stopping) = watch::channel(stop);
        let metrics = Metrics::default();
        timeout(run, write_loop(sink, &mut conn.outbox, Duration::from_secs(15), &metrics, &stopping)).await.ok()
    }

    #[tokio::test(start_paused = true)]
    async fn what_is_queued_goes_out_in_batches_of_32_and_pings_follow() {
        let mut sink = Recording::default();
        assert_eq!(write(&mut sink, false, Duration::from_secs(6)).await, None, "still running");
        let texts = sink.frames.iter().filter(|f| matches!(f, Message::Text(_))).count();
        let pings = sink.frames.iter().filter(|f| matches!(f, Message::Ping(_))).count();
        // 32, then 8: two flushes for 40 messages; one ping at 5 s.
        assert_eq!((texts, pings), (40, 1));
        assert_eq!(sink.flushes, 2 + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_that_never_drain_end_it_within_the_heartbeat() {
        let mut sink = Recording { stuck: true, ..Recording::default() };
        let started = Instant::now();
        assert_eq!(write(&mut sink, false, Duration::from_secs(60)).await, Some(End::TooSlow));
        assert_eq!(started.elapsed(), Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn once_stopping_nothing_more_is_written() {
        let mut sink = Recording::default();
        assert_eq!(write(&mut sink, true, Duration::from_secs(1)).await, Some(End::Stopping));
        assert!(sink.frames.is_empty(), "{:?}", sink.frames);
    }
}
