//! Security headers on every response, over a real socket: the page, a deep
//! link, the API, health, metrics and a 404 alike; the CSP names the built
//! page's inline scripts by hash, and follows a rebuild.

mod common;

use backend::{Config, Limits};
use common::*;
use std::net::SocketAddr;
use std::path::Path;

/// `printf "console.log('early')" | openssl dgst -sha256 -binary | base64`
const EARLY_HASH: &str = "'sha256-5mvci9TGxOt87lcsK69oK3n8G7xvjn79hEJt5N6nELs='";
/// The same for `alert(1)`.
const REBUILT_HASH: &str = "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='";

const PAGE: &str = "<!doctype html><html><head><script>console.log('early')</script>\
    <script type=module src=/app.js></script></head><body></body></html>";

const PATHS: [&str; 7] = ["/", "/r/x", "/api/rooms/x", "/api/ice-servers", "/healthz", "/metrics", "/missing.js"];

async fn server_with_page(dist: &Path, page: &str, limits: Limits) -> SocketAddr {
    std::fs::write(dist.join("index.html"), page).unwrap();
    let config = Config { web_app: backend::static_files::WebApp::Folder(dist.to_owned()), ..config(6) };
    start_with(config, limits).await
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{} has no {name}", res.url()))
}

fn csp(res: &reqwest::Response) -> String {
    header(res, "content-security-policy")
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let dist = tempfile::tempdir().unwrap();
    let addr = server_with_page(dist.path(), PAGE, Limits::default()).await;
    for path in PATHS {
        let res = get(addr, path).await;
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&res, "referrer-policy"), "no-referrer", "{path}");
        assert_eq!(
            header(&res, "permissions-policy"),
            "camera=(self), microphone=(self), display-capture=(self), speaker-selection=(self)",
            "{path}"
        );
        assert_eq!(
            csp(&res),
            format!(
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {EARLY_HASH}; style-src 'self'; \
                 img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
                 object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
            ),
            "{path}"
        );
        // Plain HTTP: no HSTS.
        assert!(res.headers().get("strict-transport-security").is_none(), "{path}");
    }
    // The page itself was served, not an error with headers on.
    let page = get(addr, "/r/x").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), PAGE);
}

#[tokio::test]
async fn hsts_is_sent_when_asked_for() {
    let dist = tempfile::tempdir().unwrap();
    let limits = Limits { hsts: true, ..Limits::default() };
    let addr = server_with_page(dist.path(), PAGE, limits).await;
    for path in ["/", "/healthz", "/api/rooms/x"] {
        let res = get(addr, path).await;
        assert_eq!(header(&res, "strict-transport-security"), "max-age=31536000", "{path}");
    }
}

#[tokio::test]
async fn without_a_built_page_the_policy_has_no_hashes() {
    let addr = start_with(config(6), Limits::default()).await;
    let res = get(addr, "/").await;
    assert_eq!(res.status(), 503, "not built");
    let policy = csp(&res);
    assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval'; "), "{policy}");
    assert!(!policy.contains("sha256-"), "{policy}");
}

#[tokio::test]
async fn a_rebuilt_page_gets_a_policy_with_its_own_hashes() {
    let dist = tempfile::tempdir().unwrap();
    let addr = server_with_page(dist.path(), PAGE, Limits::default()).await;
    assert!(csp(&get(addr, "/").await).contains(EARLY_HASH));
    // As trunk rewrites index.html while the server runs; CRLF line ends,
    // which the browser reads as LF before it hashes.
    let rebuilt =
        "<html><head>\r\n<script>alert(1)</script>\r\n<script>\r\nconsole.log('early')</script></head></html>";
    std::fs::write(dist.path().join("index.html"), rebuilt).unwrap();
    let policy = csp(&get(addr, "/r/again").await);
    assert!(policy.contains(&format!("'wasm-unsafe-eval' {REBUILT_HASH} 'sha256-")), "{policy}");
    assert!(!policy.contains(EARLY_HASH), "the old script is no longer allowed: {policy}");
    // `\nconsole.log('early')`, the CRLF read as LF.
    let second = "'sha256-krfR51p7x8uQtYEkrVYwVmE/uoeFlbZrtNgs4E0G8dc='";
    assert!(policy.contains(second), "{policy}");
    // Other responses carry the same policy from then on.
    assert_eq!(csp(&get(addr, "/healthz").await), policy);
}
