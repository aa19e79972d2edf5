//! Security headers on every response. The Content-Security-Policy is one
//! the app really runs under (the browser suites check no violation is
//! reported): scripts only from this origin, plus the inline ones of the
//! built `index.html` by their hashes, so an injected script runs nowhere.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::static_files::WebApp;

/// Who may use what: the meeting needs the camera, microphone, a screen and
/// a speaker choice on its own pages, and no frame of another site does.
const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(self), display-capture=(self), speaker-selection=(self)";

/// Everything after `script-src` and `style-src`, which carry the hashes.
/// - `img-src data: blob:`: CSS may inline small images, and a still of a
///   video is a blob.
/// - `media-src blob:`: a `<video>` given a blob URL; live streams are set
///   as `srcObject`, which CSP does not police.
/// - `connect-src 'self'`: `/api` and `/ws` (Chromium counts same-origin
///   ws:/wss: as 'self'); WebRTC is not governed by CSP.
/// - Styles: the page sets styles only through the CSSOM (Leptos'
///   `style:` sets a property), which CSP leaves alone, so no
///   `'unsafe-inline'`; an inline `<style>` in `index.html` is allowed by
///   its hash like a script.
const REST: &str = "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'";

/// A year, the usual; only sent over TLS (a browser ignores it over http).
const HSTS: &str = "max-age=31536000";

/// The headers' values, the CSP kept in step with `dist/index.html`.
#[derive(Debug)]
pub struct SecurityHeaders {
    /// `None` for the embedded app, which never changes.
    index: Option<PathBuf>,
    hsts: bool,
    csp: Mutex<Csp>,
}

#[derive(Debug)]
struct Csp {
    /// When and how big `index.html` was when `value` was made from it.
    stamp: Option<(SystemTime, u64)>,
    value: HeaderValue,
}

impl SecurityHeaders {
    /// Hashes the inline scripts of the app's `index.html` (none if it is
    /// missing).
    pub fn new(app: &WebApp, hsts: bool) -> Self {
        let (index, csp) = match app {
            WebApp::Folder(dist) => {
                let index = dist.join("index.html");
                let csp = Csp::read(&index);
                (Some(index), csp)
            }
            WebApp::Embedded => {
                let html = crate::static_files::embedded::file("index.html")
                    .map(crate::static_files::embedded::unpacked)
                    .unwrap_or_default();
                (None, Csp { stamp: None, value: policy(&String::from_utf8_lossy(&html)) })
            }
        };
        tracing::debug!(csp = ?csp.value, "content security policy");
        Self { index, hsts, csp: Mutex::new(csp) }
    }

    /// The policy; on a page, made anew if `index.html` changed since, so a
    /// rebuild while the server runs (a new inline script) is not blocked.
    /// One `stat` per page load; other responses reuse the last.
    fn csp(&self, for_page: bool) -> HeaderValue {
        let mut csp = self.csp.lock().unwrap_or_else(PoisonError::into_inner);
        let page_index = self.index.as_ref().filter(|_| for_page);
        if let Some(index) = page_index.filter(|index| stamp(index) != csp.stamp) {
            *csp = Csp::read(index);
            tracing::info!(csp = ?csp.value, "index.html changed: new content security policy");
        }
        csp.value.clone()
    }
}

impl Csp {
    fn read(index: &Path) -> Self {
        // The stamp first: a change while reading is seen next time.
        let stamp = stamp(index);
        let html = std::fs::read_to_string(index).unwrap_or_default();
        Self { stamp, value: policy(&html) }
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The Content-Security-Policy for a page whose HTML is `html`.
pub fn policy(html: &str) -> HeaderValue {
    let sources = |tag: &str| -> String {
        inline_bodies(html, tag).iter().map(|body| format!(" '{}'", sha256_source(body))).collect()
    };
    let value = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{}; style-src 'self'{}; {REST}",
        sources("script"),
        sources("style"),
    );
    // Base64 and fixed text only: always a valid header value.
    HeaderValue::from_str(&value).expect("a CSP is visible ASCII")
}

/// `sha256-<base64>` of an inline element's text, as the browser hashes it:
/// after the parser has turned CRLF and CR into LF.
fn sha256_source(body: &str) -> String {
    let text = body.replace("\r\n", "\n").replace('\r', "\n");
    let digest = Sha256::digest(text.as_bytes());
    format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest))
}

/// The text of every `<tag>` element in `html` that has no `src`: inline
/// scripts or styles. Enough HTML for a page trunk wrote (quoted or bare
/// attributes, any case), not a general parser.
fn inline_bodies<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    // ASCII lowercasing keeps every byte offset.
    let lower = html.to_ascii_lowercase();
    let (open, close) = (format!("<{tag}"), format!("</{tag}"));
    let mut bodies = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find(&open) {
        let start = at + found + open.len();
        // `<scripts>` or `<style-x>` are other elements.
        if !lower[start..].starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/') {
            at = start;
            continue;
        }
        let Some((attributes, body_start)) = opening_tag(&lower, start) else {
            break;
        };
        let body_end = lower[body_start..].find(&close).map_or(html.len(), |i| body_start + i);
        if !attributes.contains(&"src") {
            bodies.push(&html[body_start..body_end]);
        }
        at = body_end;
    }
    bodies
}

/// The attribute names of the tag whose attributes start at `from`, and
/// where its content starts (after the `>`).
fn opening_tag(lower: &str, from: usize) -> Option<(Vec<&str>, usize)> {
    let bytes = lower.as_bytes();
    let mut names = Vec::new();
    let mut i = from;
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        match bytes.get(i)? {
            b'>' => return Some((names, i + 1)),
            _ => {
                let name_start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'>' | b'/') {
                    i += 1;
                }
                names.push(&lower[name_start..i]);
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    match bytes.get(i)? {
                        quote @ (b'"' | b'\'') => {
                            let end = lower[i + 1..].find(*quote as char)?;
                            i += end + 2;
                        }
                        _ => {
                            while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                                i += 1;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds the headers to `res`, whatever route made it.
pub async fn add(State(security): State<Arc<SecurityHeaders>>, mut res: Response) -> Response {
    let for_page = is_html(res.headers());
    let csp = security.csp(for_page);
    let headers = res.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("permissions-policy"), PERMISSIONS_POLICY),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    if security.hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    res
}

fn is_html(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_and_styles_are_found_and_external_ones_skipped() {
        let html = "<head><script>a()</script><SCRIPT type=module>\nb()\n</SCRIPT>\
            <script src=/x.js></script><script defer src=\"/y.js\"></script>\
            <script data-x='>' >c()</script><scripts>no</scripts><style>p{}</style>\
            <link rel=stylesheet href=/s.css></head>";
        assert_eq!(inline_bodies(html, "script"), ["a()", "\nb()\n", "c()"]);
        assert_eq!(inline_bodies(html, "style"), ["p{}"]);
        assert!(inline_bodies("<p>no scripts</p>", "script").is_empty());
        assert_eq!(inline_bodies("<script>unclosed", "script"), ["unclosed"]);
    }

    #[test]
    fn hashes_are_of_the_text_as_the_browser_reads_it() {
        // printf 'alert(1)' | openssl dgst -sha256 -binary | base64
        let want = "sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI=";
        assert_eq!(sha256_source("alert(1)"), want);
        assert_eq!(sha256_source("a\r\nb\rc"), sha256_source("a\nb\nc"));
    }

    #[test]
    fn the_policy_lists_the_hashes_and_keeps_everything_else_to_this_origin() {
        let csp = policy("<script>alert(1)</script><script src=/app.js></script>");
        let csp = csp.to_str().unwrap();
        assert!(csp.starts_with(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='; style-src 'self'; "
        ), "{csp}");
        for directive in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'self'", "connect-src 'self'"] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let none = policy("");
        assert!(none.to_str().unwrap().contains("script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "));
    }
}
