//! `--public-host` against DNS rebinding: a hostile site that points its own
//! name at the server sends `Host` and `Origin` that agree, so only the name
//! gives it away. With public hosts set, requests for any other name get 421
//! on every route, `/ws` included; loopback names always work. Real sockets,
//! hand-written requests, so every header is the test's choice.

mod common;

use backend::{AllowedOrigin, Limits, PublicHost};
use common::*;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const MISDIRECTED: &str = "This Moim server answers only to the names its operator gave it \
(--public-host), and this request was sent to another one. Use the address you were given.";

/// Every kind of route: the app, a deep link, the API, health, metrics, `/ws`.
const ROUTES: [&str; 6] = ["/", "/r/x", "/api/rooms/x", "/healthz", "/metrics", "/ws"];

async fn guarded(extra: Limits) -> SocketAddr {
    let limits = Limits {
        public_hosts: vec![
            PublicHost::parse("moim.example.org").unwrap(),
            PublicHost::parse("meet.example.org:8443").unwrap(),
        ],
        ..extra
    };
    start_with(config(6), limits).await
}

/// Sends `request` as is; the status and the body.
async fn raw(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status =
        response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not HTTP: {response:?}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

/// `GET path` sent to `host`, with extra header lines.
async fn get_for(addr: SocketAddr, path: &str, host: &str, extra: &str) -> (u16, String) {
    raw(addr, &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")).await
}

/// A WebSocket handshake with these headers; on refusal the status and body.
async fn ws_with(addr: SocketAddr, headers: &[(&'static str, &str)]) -> Result<Ws, (u16, String)> {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, HeaderValue::from_str(value).unwrap());
    }
    upgraded(connect_async(request).await, format!("{headers:?}"))
}

#[tokio::test]
async fn by_default_any_host_is_served_as_before() {
    let addr = signaling(6).await;
    let evil = format!("evil.example:{}", addr.port());
    assert_eq!(get_for(addr, "/healthz", &evil, "").await, (200, "ok".into()));
    // The rebinding case itself: Origin and Host agree, so `/ws` takes it.
    let origin = format!("http://{evil}");
    let ws = ws_with(addr, &[("origin", &origin), ("host", &evil)]).await;
    join(&mut ws.expect("no public host set: the old rule"), "r", "Ana").await;
}

#[tokio::test]
async fn another_name_is_misdirected_on_every_route() {
    let addr = guarded(Limits::default()).await;
    let port = addr.port();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".into(),
        format!("meet.example.org:{port}"),
        "10.0.0.5:8080".into(),
    ] {
        for path in ROUTES {
            let (status, body) = get_for(addr, path, &host, "").await;
            assert_eq!((status, body.as_str()), (421, MISDIRECTED), "{path} for {host}");
        }
    }
}

#[tokio::test]
async fn the_public_names_and_loopback_are_served() {
    let addr = guarded(Limits::default()).await;
    let port = addr.port();
    for host in [
        "moim.example.org".to_owned(),
        format!("MOIM.example.org:{port}"),
        "meet.example.org:8443".into(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(get_for(addr, "/healthz", &host, "").await, (200, "ok".into()), "{host}");
        assert_eq!(get_for(addr, "/api/rooms/x", &host, "").await.0, 200, "{host}");
    }
}

#[tokio::test]
async fn a_request_naming_no_host_or_two_is_misdirected() {
    let addr = guarded(Limits::default()).await;
    // HTTP/1.0 without Host: no browser sends that.
    let (status, _) = raw(addr, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 421);
    // An absolute URI names the host the request is for, whatever Host says.
    let (status, _) = get_for(addr, "http://evil.example/healthz", "moim.example.org", "").await;
    assert_eq!(status, 421);
    // A proxy that kept Host as the backend's and told the browser's in
    // X-Forwarded-Host: that one must be public too.
    let local = format!("127.0.0.1:{}", addr.port());
    let (status, _) = get_for(addr, "/healthz", &local, "X-Forwarded-Host: evil.example\r\n").await;
    assert_eq!(status, 421);
    let (status, _) = get_for(addr, "/healthz", &local, "X-Forwarded-Host: moim.example.org\r\n").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_websocket_takes_only_pages_of_a_public_or_listed_origin() {
    let limits =
        Limits { allowed_origins: vec![AllowedOrigin::parse("https://app.example.net").unwrap()], ..Limits::default() };
    let addr = guarded(limits).await;
    let port = addr.port();

    // The rebinding: refused before the Origin check, for the name.
    let evil = format!("evil.example:{port}");
    let origin = format!("http://{evil}");
    let refused = ws_with(addr, &[("origin", &origin), ("host", &evil)]).await.err();
    assert_eq!(refused, Some((421, MISDIRECTED.to_owned())));

    // The public name's pages, loopback's, and a listed origin's are welcome.
    let local = format!("localhost:{port}");
    let local_origin = format!("http://{local}");
    for (origin, host) in [
        ("https://moim.example.org", "moim.example.org"),
        ("https://meet.example.org:8443", "meet.example.org:8443"),
        (local_origin.as_str(), local.as_str()),
        ("https://app.example.net", "moim.example.org"),
    ] {
        let ws = ws_with(addr, &[("origin", origin), ("host", host)]).await;
        let mut ws = ws.unwrap_or_else(|e| panic!("{origin} to {host}: {e:?}"));
        join(&mut ws, "r", "Ana").await;
    }
    // A page of another site sent to the public name: the Origin check's 403.
    let refused = ws_with(addr, &[("origin", "https://evil.example"), ("host", "moim.example.org")]).await.err();
    assert_eq!(refused.map(|r| r.0), Some(403));
}
