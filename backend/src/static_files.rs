//! The built web app (trunk's `dist/`), served from the same origin as `/ws`.

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

pub const NOT_BUILT: &str = "Moim's web app is not built yet. \
Run `cargo xtask run` (or `trunk build --release`) in the project folder, then reload.";

/// Files from `dist`; any other path that is not a file name gets the app's
/// `index.html`, whose router handles deep links like `/r/<room>`.
pub fn router(dist: &Path) -> Router {
    let index = Arc::new(dist.join("index.html"));
    let files = ServeDir::new(dist).precompressed_gzip().precompressed_br().fallback(app_shell.with_state(index));
    Router::new().fallback_service(files).layer(map_response(revalidate_html))
}

async fn app_shell(State(index): State<Arc<PathBuf>>, req: Request) -> Response {
    let path = req.uri().path();
    // Room names may contain dots, so everything under /r/ is a deep link.
    let is_file_name = !path.starts_with("/r/") && Path::new(path).extension().is_some();
    if is_file_name {
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
