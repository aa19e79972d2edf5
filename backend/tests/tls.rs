//! `--tls`: HTTPS and WSS on one port with a self-signed certificate, against
//! the real server with real rustls clients.

mod common;

use backend::tls::{self, SelfSigned};
use backend::Limits;
use common::*;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use shared::protocol::close_code;
use shared::ServerMsg;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

type Wss = WebSocketStream<TlsStream<TcpStream>>;

/// The self-signed certificate in `dir`, made there if need be.
fn certificate(dir: &Path) -> (tls::Identity, SelfSigned) {
    tls::self_signed(dir, &[]).unwrap()
}

/// A TLS server on 127.0.0.1 that stops when `shutdown` resolves.
async fn start_tls(
    identity: &tls::Identity,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    start_tls_with(identity, Limits::default(), shutdown).await
}

async fn start_tls_with(
    identity: &tls::Identity,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = identity.server_config().unwrap();
    let server = tokio::spawn(backend::serve_tls_with(listener, config(6), limits, tls, shutdown));
    (addr, server)
}

/// A client that trusts `cert` alone.
fn trusting(cert: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn handshake(client: &TlsConnector, addr: SocketAddr) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    timeout(WAIT, client.connect(name, tcp)).await.unwrap()
}

/// `GET path` over HTTPS; the whole response.
async fn https_get(client: &TlsConnector, addr: SocketAddr, path: &str) -> String {
    let mut tls = handshake(client, addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n", addr.port());
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    timeout(WAIT, tls.read_to_string(&mut response)).await.unwrap().unwrap();
    response
}

/// A WebSocket over TLS, from a page with `origin`; on refusal, the status.
async fn wss(client: &TlsConnector, addr: SocketAddr, origin: &str) -> Result<Wss, (u16, String)> {
    let tls = handshake(client, addr).await.unwrap();
    let mut request = format!("wss://localhost:{}/ws", addr.port()).into_client_request().unwrap();
    request.headers_mut().insert("origin", HeaderValue::from_str(origin).unwrap());
    upgraded(tokio_tungstenite::client_async(request, tls).await, origin)
}

async fn next_frame_tls(ws: &mut Wss) -> Message {
    loop {
        match timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(frame))) => return frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// Joins room `r`; returns the Welcome.
async fn join_tls(ws: &mut Wss, name: &str) -> ServerMsg {
    ws.send(Message::text(join_msg("r", name).to_string())).await.unwrap();
    match next_frame_tls(ws).await {
        Message::Text(text) => ServerMsg::decode(&text).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

#[tokio::test]
async fn https_and_wss_share_the_port_and_the_pages_own_origin_may_join() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, _) = certificate(dir.path());
    let (addr, _server) = start_tls(&identity, std::future::pending()).await;
    let client = trusting(&identity.chain[0]);

    let health = https_get(&client, addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    assert!(health.ends_with("\r\n\r\nok"), "{health}");

    let own = format!("https://localhost:{}", addr.port());
    let mut ws = wss(&client, addr, &own).await.unwrap_or_else(|refused| panic!("own origin refused: {refused:?}"));
    let welcome = join_tls(&mut ws, "Ana").await;
    assert!(matches!(welcome, ServerMsg::Welcome { .. }), "{welcome:?}");

    let refused = wss(&client, addr, "https://evil.example").await.err();
    assert_eq!(refused.map(|r| r.0), Some(403));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_fails_the_handshake() {
    let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (identity, _) = certificate(ours.path());
    let (other, _) = certificate(theirs.path());
    let (addr, _server) = start_tls(&identity, std::future::pending()).await;

    let err = handshake(&trusting(&other.chain[0]), addr).await.unwrap_err();
    let rustls_err = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    assert!(matches!(rustls_err, Some(rustls::Error::InvalidCertificate(_))), "{err:?}");
    // The failed handshake harmed no one else.
    let health = https_get(&trusting(&identity.chain[0]), addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
}

#[tokio::test]
async fn a_second_run_reuses_the_stored_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (first, made) = certificate(dir.path());
    assert_eq!(made, SelfSigned::Generated);
    let stored = std::fs::read(dir.path().join(tls::CERT_FILE)).unwrap();

    let (second, made) = certificate(dir.path());
    assert_eq!(made, SelfSigned::Reused);
    assert_eq!(second.chain, first.chain);
    assert_eq!(std::fs::read(dir.path().join(tls::CERT_FILE)).unwrap(), stored);
    // A client that trusted the first run trusts the second.
    let (addr, _server) = start_tls(&second, std::future::pending()).await;
    let health = https_get(&trusting(&first.chain[0]), addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
}

#[tokio::test]
async fn a_tls_server_stops_like_a_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, _) = certificate(dir.path());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    let (addr, server) = start_tls(&identity, shutdown).await;
    let client = trusting(&identity.chain[0]);
    let mut ws = wss(&client, addr, &format!("https://localhost:{}", addr.port())).await.unwrap();
    join_tls(&mut ws, "Ana").await;

    stop.send(()).unwrap();
    match next_frame_tls(&mut ws).await {
        Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), close_code::GOING_AWAY);
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    // Then the connection ends; the server drops it without a TLS
    // close_notify, harmless after the WebSocket's own closing handshake.
    match timeout(WAIT, ws.next()).await.unwrap() {
        None => {}
        Some(Err(WsError::Io(err))) if err.kind() == std::io::ErrorKind::UnexpectedEof => {}
        other => panic!("expected the end, got {other:?}"),
    }
    let served = timeout(WAIT, server).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
    // And soon accepts no more: the accepting task ends once aborted.
    let closed = timeout(WAIT, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    assert!(closed.await.is_ok(), "still accepting on {addr}");
}

#[tokio::test]
async fn the_per_ip_limit_sees_tls_clients_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, _) = certificate(dir.path());
    let limits = Limits { max_connections_per_ip: 1, ..Limits::default() };
    let (addr, _server) = start_tls_with(&identity, limits, std::future::pending()).await;
    let client = trusting(&identity.chain[0]);
    let own = format!("https://localhost:{}", addr.port());
    let mut first = wss(&client, addr, &own).await.unwrap();
    join_tls(&mut first, "Ana").await;
    let second = wss(&client, addr, &own).await.err();
    assert_eq!(second.map(|r| r.0), Some(429));
}

#[tokio::test]
async fn over_tls_an_idle_or_trickling_connection_is_closed_too() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, _) = certificate(dir.path());
    let limits = Limits {
        header_read_timeout: std::time::Duration::from_secs(1),
        idle_timeout: std::time::Duration::from_secs(1),
        heartbeat_timeout: std::time::Duration::from_secs(1),
        ..Limits::default()
    };
    let (addr, _server) = start_tls_with(&identity, limits, std::future::pending()).await;
    let client = trusting(&identity.chain[0]);
    // Handshaken, then nothing.
    let mut idle = handshake(&client, addr).await.unwrap();
    // Handshaken, then a request that never ends.
    let mut trickle = handshake(&client, addr).await.unwrap();
    trickle.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: a").await.unwrap();
    for tls in [&mut idle, &mut trickle] {
        let mut rest = Vec::new();
        // Ends (EOF, or an error once the server is gone) well before WAIT.
        let _ = timeout(WAIT, tls.read_to_end(&mut rest)).await.expect("still open");
    }
}
