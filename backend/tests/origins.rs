//! Which pages may open `/ws`: the server's own, clients that send no
//! `Origin`, and the listed ones. Real handshakes with chosen headers.

mod common;

use backend::{AllowedOrigin, Limits};
use common::*;
use std::net::SocketAddr;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const REFUSED: &str = "This Moim server does not accept pages from other sites. \
                       Its operator can allow one with --allowed-origin.";

/// Connects as a page of `origin` would; on refusal, the status and body.
async fn connect_from(addr: SocketAddr, origin: &str) -> Result<Ws, (u16, String)> {
    connect_with(addr, &[("origin", origin)]).await
}

/// Connects with extra headers; on refusal, the status and body.
async fn connect_with(addr: SocketAddr, headers: &[(&'static str, &str)]) -> Result<Ws, (u16, String)> {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, HeaderValue::from_str(value).unwrap());
    }
    let origin = headers.first().map_or("", |h| h.1);
    upgraded(connect_async(request).await, origin)
}

/// Joins a fresh room, proving the connection works.
async fn assert_usable(ws: Result<Ws, (u16, String)>, origin: &str) {
    let mut ws = ws.unwrap_or_else(|refused| panic!("{origin} refused: {refused:?}"));
    join(&mut ws, "r", "Ana").await;
}

async fn refused_origins(addr: SocketAddr) -> String {
    let text = get(addr, "/metrics").await.text().await.unwrap();
    let line =
        text.lines().find(|l| l.starts_with("moim_connections_refused_total{reason=\"origin\"}")).unwrap().to_owned();
    line.rsplit(' ').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_servers_own_origin_and_clients_without_one_are_accepted() {
    let addr = signaling(6).await;
    let own = format!("http://{addr}");
    assert_usable(connect_from(addr, &own).await, &own).await;
    // tungstenite sends no Origin, like any non-browser client.
    join(&mut connect(addr).await, "r", "Bot").await;
    let localhost = format!("http://localhost:{}", addr.port());
    let res = connect_from(addr, &localhost).await;
    assert!(res.is_err(), "Host is 127.0.0.1, not localhost");
    assert_eq!(refused_origins(addr).await, "1");
}

#[tokio::test]
async fn behind_a_proxy_the_forwarded_host_is_the_servers_own() {
    // As `trunk serve` proxies /ws: the page's Origin, Host rewritten to the
    // backend, and the host the browser used in X-Forwarded-Host.
    let addr = signaling(6).await;
    let page = [("origin", "http://localhost:8081"), ("x-forwarded-host", "localhost:8081")];
    assert_usable(connect_with(addr, &page).await, "proxied").await;
    let elsewhere = [("origin", "https://evil.example"), ("x-forwarded-host", "localhost:8081")];
    assert_eq!(connect_with(addr, &elsewhere).await.err().map(|r| r.0), Some(403));
}

#[tokio::test]
async fn a_foreign_origin_is_refused_with_403_and_a_sentence() {
    let addr = signaling(6).await;
    let other_port = format!("http://127.0.0.1:{}", addr.port().wrapping_add(1));
    let foreign = ["https://evil.example", "null", other_port.as_str()];
    for origin in foreign {
        let Err((status, body)) = connect_from(addr, origin).await else {
            panic!("{origin} was accepted");
        };
        assert_eq!((status, body.as_str()), (403, REFUSED), "{origin}");
    }
    assert_eq!(refused_origins(addr).await, "3");
}

#[tokio::test]
async fn a_listed_origin_is_accepted_and_no_other() {
    let limits = Limits {
        allowed_origins: vec![
            AllowedOrigin::parse("https://meet.example.org").unwrap(),
            AllowedOrigin::parse("http://10.0.0.5:8080").unwrap(),
        ],
        ..Limits::default()
    };
    let addr = start_with(config(6), limits).await;
    for origin in ["https://meet.example.org", "http://10.0.0.5:8080"] {
        assert_usable(connect_from(addr, origin).await, origin).await;
    }
    let own = format!("http://{addr}");
    assert_usable(connect_from(addr, &own).await, &own).await;
    for origin in ["http://meet.example.org", "https://evil.example"] {
        let refused = connect_from(addr, origin).await.err();
        assert_eq!(refused.map(|r| r.0), Some(403), "{origin}");
    }
}
