//! The web app built into the binary (`backend/build.rs` embeds `dist/`):
//! served from memory with no folder at all, so copying the binary is the
//! whole deployment. The test runs in an empty folder, checks the bytes
//! against `dist/`, and holds a call on it.

use backend::static_files::WebApp;
use e2e::{Harness, Result};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` with `headers`: the response head (lower-cased) and body.
async fn fetch(port: u16, path: &str, headers: &str) -> Result<(String, Vec<u8>)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
    Ok((head, response[split + 4..].to_vec()))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_built_into_the_binary_needs_no_folder() -> Result<()> {
    if !backend::static_files::embedded::available() {
        return Err("this build carries no web app: build dist/ before the backend (`cargo xtask test` does)".into());
    }
    let base = e2e::config(2)?;
    let WebApp::Folder(dist) = base.web_app.clone() else { unreachable!("e2e serves a folder by default") };
    let empty = std::env::temp_dir().join(format!("moim-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty)?;
    std::env::set_current_dir(&empty)?;
    let harness = Harness::start_config(backend::Config { web_app: WebApp::Embedded, ..base }).await?;

    // What a client that takes no gzip gets: the built file, byte for byte.
    let (head, body) = fetch(harness.port, "/index.html", "").await?;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(header(&head, "content-encoding"), None);
    assert_eq!(body, std::fs::read(dist.join("index.html"))?, "the embedded index.html is dist's");
    // A browser gets it gzipped, and a deep link gets the app.
    let (head, gzipped) = fetch(harness.port, "/r/standup", "Accept-Encoding: gzip, br\r\n").await?;
    assert_eq!(header(&head, "content-encoding"), Some("gzip"), "{head}");
    assert!(gzipped.len() < body.len(), "{} gzipped bytes of {}", gzipped.len(), body.len());
    assert_eq!(header(&head, "cache-control"), Some("no-cache"), "a new build is picked up on reload");
    let etag = header(&head, "etag").ok_or("an etag")?.to_owned();
    let (head, _) = fetch(harness.port, "/", &format!("If-None-Match: {etag}\r\n")).await?;
    assert!(head.starts_with("http/1.1 304"), "revalidated, not sent again: {head}");
    let (head, _) = fetch(harness.port, "/missing.js", "").await?;
    assert!(head.starts_with("http/1.1 404"), "{head}");

    // And the app works from it: a call, under the CSP made from the embedded page.
    let ana = harness.browser(&[]).await?;
    let bo = harness.browser(&[]).await?;
    ana.join("from-memory", "Ana").await?;
    bo.join("from-memory", "Bo").await?;
    ana.wait_for_live_remote_videos(1).await?;
    bo.wait_for_live_remote_videos(1).await?;
    let wasm = ana
        .eval(
            "const e = performance.getEntriesByType('resource').find(e => e.name.endsWith('.wasm'));
             return e ? [e.encodedBodySize, e.decodedBodySize] : null",
        )
        .await?;
    let size = |i: usize| wasm.get(i).and_then(Value::as_u64).unwrap_or_default();
    assert!(size(0) > 0 && size(0) * 2 < size(1), "the wasm came compressed: {wasm}");
    ana.assert_csp_kept().await?;
    ana.close().await?;
    bo.close().await?;
    std::env::set_current_dir(std::env::temp_dir())?;
    let _ = std::fs::remove_dir(&empty);
    Ok(())
}
