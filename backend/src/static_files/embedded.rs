//! The web app built into the binary (gzipped by `build.rs` from `dist/` at
//! compile time): served when no `--dist` is given, so copying the binary is
//! the whole deployment.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::io::Read;

/// One file of `dist/`.
pub struct EmbeddedFile {
    /// Relative to `dist/`, `/`-separated.
    pub path: &'static str,
    /// Quoted, for `ETag`: a hash of `gzip`.
    pub etag: &'static str,
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/web_app.rs"));

/// Whether this build carries the web app.
pub fn available() -> bool {
    FILES.iter().any(|f| f.path == "index.html")
}

pub fn file(path: &str) -> Option<&'static EmbeddedFile> {
    FILES.iter().find(|f| f.path == path)
}

/// A file's bytes as built (for the CSP's hashes of `index.html`).
pub fn unpacked(file: &EmbeddedFile) -> Vec<u8> {
    let mut raw = Vec::new();
    // Gzipped by our own build script: it reads back.
    let _ = flate2::read::GzDecoder::new(file.gzip).read_to_end(&mut raw);
    raw
}

/// `GET` of the app's files; any other path that is not a file name gets
/// `index.html`, whose router handles deep links like `/r/<room>`.
pub async fn serve(req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/');
    let found = match file(path) {
        Some(found) => found,
        None if super::is_file_name(req.uri().path()) => return StatusCode::NOT_FOUND.into_response(),
        None => match file("index.html") {
            Some(index) => index,
            None => return (StatusCode::SERVICE_UNAVAILABLE, super::NOT_BUILT).into_response(),
        },
    };
    respond(found, req.headers())
}

fn respond(file: &'static EmbeddedFile, asked: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(file.path)));
    headers.insert(header::ETAG, HeaderValue::from_static(file.etag));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let unchanged = asked
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == file.etag || tag.trim() == "*"));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if takes_gzip(asked) {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (headers, Body::from(file.gzip)).into_response();
    }
    // Browsers all take gzip; a script or an old client may not.
    (headers, Body::from(unpacked(file))).into_response()
}

/// Whether `Accept-Encoding` lists gzip (without `q=0`).
fn takes_gzip(headers: &HeaderMap) -> bool {
    let accepted = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok());
    accepted.flat_map(|v| v.split(',')).any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("q=0"));
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "webmanifest" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn gzip_is_sent_only_to_who_takes_it() {
        assert!(takes_gzip(&accepting("gzip, deflate, br, zstd")));
        assert!(takes_gzip(&accepting("br;q=1.0, gzip;q=0.5")));
        assert!(takes_gzip(&accepting("*")));
        assert!(!takes_gzip(&accepting("gzip;q=0")));
        assert!(!takes_gzip(&accepting("br")));
        assert!(!takes_gzip(&HeaderMap::new()));
    }

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("frontend-1a2b_bg.wasm"), "application/wasm");
        assert_eq!(content_type("no-extension"), "application/octet-stream");
    }
}
