//! The accept loop, plain or TLS. `axum::serve` reads headers without a
//! deadline, never closes an idle connection and counts nothing per address,
//! so one address could hold every file descriptor with idle or trickling
//! sockets. Here each TCP connection is counted against its address from
//! accept to close, gets a bounded TLS handshake, is served by hyper with a
//! header-read timeout, and is dropped once no byte has moved either way for
//! the idle timeout. An upgraded WebSocket leaves the idle watch (its own
//! heartbeat polices it) but keeps its place in the count.

use crate::per_ip::{IpSlot, PerIp};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// A client gets this long to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Once stopping, how long requests in flight get to finish; a client
/// trickling its headers would otherwise hold the stop for the header timeout.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What is answered, without reading, to a connection over its address's
/// count (plain HTTP only: over TLS nothing can be said before a handshake).
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\n\
content-type: text/plain\r\ncontent-length: 56\r\n\r\n\
Too many connections from your address. Try again later.";

/// How connections are served.
#[derive(Clone)]
pub struct Served {
    pub app: Router,
    pub tls: Option<TlsAcceptor>,
    /// Open TCP connections per address.
    pub per_ip: Arc<PerIp>,
    /// A request's head must arrive within this.
    pub header_read: Duration,
    /// A connection with no byte either way for this long is closed.
    pub idle: Duration,
}

/// Accepts until `stopping` turns true, then lets every connection finish
/// the request it is serving (idle ones close at once) and returns once
/// they have. Upgraded WebSockets are not waited for: they have left hyper.
pub async fn serve(listener: TcpListener, served: Served, mut stopping: watch::Receiver<bool>) {
    let served = Arc::new(served);
    // Each connection holds a receiver; `closed` resolves when all are gone.
    let (open, open_rx) = watch::channel(());
    // Turned true when the drain is over: whatever is still open is dropped.
    let (abandon, abandoned) = watch::channel(false);
    loop {
        let (tcp, addr) = tokio::select! {
            biased;
            () = stopped(&mut stopping) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    wait_after(err).await;
                    continue;
                }
            },
        };
        let Some(slot) = served.per_ip.acquire(addr.ip()) else {
            tracing::debug!(%addr, "too many connections from one address: closed at accept");
            if served.tls.is_none() {
                let _ = tcp.try_write(TOO_MANY);
            }
            continue;
        };
        // Signaling is small messages that someone waits for: no Nagle
        // delay (it put ~40 ms on the relay's tail under load).
        let _ = tcp.set_nodelay(true);
        let (served, stopping, open_rx) = (served.clone(), stopping.clone(), open_rx.clone());
        let mut abandoned = abandoned.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = connection(tcp, addr, slot, &served, stopping) => {}
                () = stopped(&mut abandoned) => tracing::debug!(%addr, "still open after the drain: dropped"),
            }
            drop(open_rx);
        });
    }
    drop(listener);
    drop(open_rx);
    if timeout(DRAIN_TIMEOUT, open.closed()).await.is_err() {
        tracing::warn!(open = open.receiver_count(), "requests still in flight: stopping anyway");
        abandon.send_replace(true);
        open.closed().await;
    }
}

async fn connection(
    tcp: TcpStream,
    addr: SocketAddr,
    slot: IpSlot,
    served: &Served,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Activity::new();
    let tcp = Watched { io: tcp, activity: activity.clone(), _slot: slot };
    let Some(acceptor) = &served.tls else {
        return http(tcp, addr, served, &activity, stopping).await;
    };
    let handshake = tokio::select! {
        handshake = timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)) => handshake,
        // A connection not yet HTTPS has no request to finish.
        () = stopped(&mut stopping) => return,
    };
    match handshake {
        Ok(Ok(tls)) => http(tls, addr, served, &activity, stopping).await,
        // Browsers that do not trust the certificate end up here.
        Ok(Err(err)) => tracing::debug!(%addr, %err, "TLS handshake failed"),
        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
    }
}

/// Serves HTTP (and upgrades) on `io` until it closes, idles out, or the
/// server stops.
async fn http<I>(io: I, addr: SocketAddr, served: &Served, activity: &Activity, mut stopping: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Each request carries its client's address, as
    // `into_make_service_with_connect_info` would give it.
    let read = BytesRead(activity.read.clone());
    let app = served.app.clone().map_request(move |req: Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(addr));
        req.extensions_mut().insert(read.clone());
        req
    });
    let mut builder = Builder::new(TokioExecutor::new());
    // hyper enforces the header-read timeout only with a timer.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(served.header_read);
    builder.http2().timer(TokioTimer::new()).enable_connect_protocol();
    let mut conn = pin!(builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(app)));
    let mut idle = pin!(activity.idle_for(served.idle));
    let mut stopping_now = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%addr, %err, "connection ended with an error");
                }
                return;
            }
            () = &mut idle => {
                tracing::debug!(%addr, "idle: closed");
                return;
            }
            () = stopped(&mut stopping), if !stopping_now => {
                stopping_now = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Resolves once the server is stopping (or its stop signal is gone).
pub async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// As `axum::serve` does: a client that gave up is no error; anything else
/// (out of file descriptors, say) is waited out.
async fn wait_after(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(%err, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Bytes read from a connection so far, for the request handlers: a
/// WebSocket message being assembled shows only there (see `ws::Assembly`).
#[derive(Debug, Clone)]
pub struct BytesRead(Arc<AtomicU64>);

impl BytesRead {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// When a connection last moved a byte, in milliseconds since it opened,
/// and how many it has read.
#[derive(Clone)]
struct Activity {
    opened: Instant,
    last_ms: Arc<AtomicU64>,
    read: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Self {
        Self { opened: Instant::now(), last_ms: Arc::default(), read: Arc::default() }
    }

    fn touch(&self) {
        let ms = self.opened.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
            }
            sleep_until(deadline).await;
        }
    }
}

/// A socket that notes each byte it moves, and holds its address's place
/// in the count for as long as it is open (an upgraded WebSocket included).
struct Watched {
    io: TcpStream,
    activity: Activity,
    _slot: IpSlot,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.activity.read.fetch_add(read as u64, Ordering::Relaxed);
            self.activity.touch();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
