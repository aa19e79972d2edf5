//! The built web app (trunk's `dist/`, or the copy built into the binary),
//! served from the same origin as `/ws`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower_http::services::{ServeDir, ServeFile};

pub mod embedded;

pub const NOT_BUILT: &str = "Moim's web app is not built yet. \
Run `cargo xtask run` (or `trunk build --release`) in the project folder, then reload.";

/// Where the web app is served from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebApp {
    /// A folder trunk built into (`--dist`).
    Folder(PathBuf),
    /// The copy built into this binary ([`embedded`]).
    Embedded,
}

impl WebApp {
    /// `--dist` if given; else the copy built in, if this build has one;
    /// else `dist` (the development loop, where the binary is built first).
    pub fn choose(dist: Option<PathBuf>) -> Self {
        match dist {
            Some(dist) => Self::Folder(dist),
            None if embedded::available() => Self::Embedded,
            None => Self::Folder("dist".into()),
        }
    }

    /// Whether there is an app to serve (else pages answer 503, [`NOT_BUILT`]).
    pub fn is_built(&self) -> bool {
        match self {
            Self::Folder(dist) => dist.join("index.html").is_file(),
            Self::Embedded => embedded::available(),
        }
    }
}

/// The app's files; any other path that is not a file name gets the app's
/// `index.html`, whose router handles deep links like `/r/<room>`.
pub fn router(app: &WebApp) -> Router {
    let router = match app {
        WebApp::Folder(dist) => {
            let index = Arc::new(dist.join("index.html"));
            let shell = app_shell.with_state(index);
            Router::new().fallback_service(ServeDir::new(dist).precompressed_gzip().precompressed_br().fallback(shell))
        }
        WebApp::Embedded => Router::new().fallback(embedded::serve),
    };
    router.layer(map_response(revalidate_html))
}

/// Whether `path` names a file (which is then missing, not a deep link).
/// Room names may contain dots, so everything under /r/ is a deep link.
pub fn is_file_name(path: &str) -> bool {
    !path.starts_with("/r/") && Path::new(path).extension().is_some()
}

async fn app_shell(State(index): State<Arc<PathBuf>>, req: Request) -> Response {
    if is_file_name(req.uri().path()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut file = ServeFile::new(index.as_path()).precompressed_gzip().precompressed_br();
    match file.try_call(req).await {
        Ok(res) if res.status() == StatusCode::NOT_FOUND => {
            (StatusCode::SERVICE_UNAVAILABLE, NOT_BUILT).into_response()
        }
        Ok(res) => res.map(Body::new),
        Err(err) => {
            tracing::error!(%err, index = %index.display(), "cannot read the web app");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// HTML must be revalidated so a new build's (hashed) assets are picked up
/// on the next load; a stale page would speak an old protocol version.
async fn revalidate_html(mut res: Response) -> Response {
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    res
}
