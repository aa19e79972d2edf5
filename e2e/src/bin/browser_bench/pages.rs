//! The pages the benchmark serves besides the app (bare.html, floor.html) and the scripts it runs in them.

use crate::workspace_root;
use e2e::Result;
use std::path::{Path, PathBuf};

/// What the app asks `getUserMedia` for (frontend/src/media/capture.rs),
/// used by the bare page and the floor so all capture the same.
const CONSTRAINTS: &str = "{ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } } }";

/// Figure 3's comparison: a page that only captures and shows the camera.
fn bare_html() -> String {
    r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>bare</title></head>
<body>
<video class="self" autoplay playsinline muted></video>
<script src="bare.js"></script>
</body>
</html>
"#.to_string()
}

/// The script of [`bare_html`], a file of its own: the server's Content-Security-Policy
/// runs no inline script but its own page's.
fn bare_js() -> String {
    format!(
        r#"navigator.mediaDevices.getUserMedia({CONSTRAINTS})
  .then(stream => {{ document.querySelector('video.self').srcObject = stream; }});
"#
    )
}

/// Figure 2's floor: `window.floor()` captures, waits, then connects two
/// peer connections in this page by direct calls and resolves with the
/// milestones in ms after the start of `createOffer`. The offerer plays the
/// newcomer's part (in Moim the newcomer offers), the answerer the part of
/// the one already in the room. `window.floor(settleMs, startKbps)` with a
/// rate hands each side the other's description with that
/// `x-google-start-bitrate` on its video codecs, as Moim's
/// `shared::budget::with_start_bitrate` does: the stricter floor.
fn floor_html() -> String {
    r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>floor</title></head>
<body>
<video id="at-offerer" width="320" height="180" autoplay playsinline></video>
<video id="at-answerer" width="320" height="180" autoplay playsinline></video>
<script src="floor.js"></script>
</body>
</html>
"#
    .to_string()
}

/// The script of [`floor_html`], a file of its own: the server's Content-Security-Policy
/// runs no inline script but its own page's. Its `{CONSTRAINTS}` is filled in here, as the
/// `format!` it was written in before it moved to e2e/js/ did.
fn floor_js() -> String {
    include_str!("../../../js/floor.js").replace("{CONSTRAINTS}", CONSTRAINTS)
}

/// Installed on both Moim pages just before the Join click (the peer
/// connection and the signaling socket are made after it, so wrapping
/// their constructors now catches them): marks the first remote video
/// frame and the steps on the way, in ms of `performance.timeOrigin +
/// performance.now()`.
pub const INSTRUMENT: &str = include_str!("../../../js/instrument.js");

/// Installed in the page-load browser before any page script runs (CDP
/// `Page.addScriptToEvaluateOnNewDocument`), on every page it opens: marks,
/// in `performance.now()` ms (i.e. since navigation start), the first frame
/// of `video.self` and the steps on the way.
pub const ON_NEW_DOCUMENT: &str = include_str!("../../../js/on_new_document.js");

/// What a finished page load left behind, read after the first frame and once
/// the app has taken over `index.html`'s early screen.
pub const READ_LOAD: &str = include_str!("../../../js/read_load.js");

/// The offset of `performance.timeOrigin + performance.now()` from
/// `Date.now()` in this page, averaged over 20 ms of samples: subtracting
/// it puts two browser processes' marks on the one system clock.
pub const CLOCK_OFFSET: &str = include_str!("../../../js/clock_offset.js");

/// `dist/` (or `$MOIM_DIST`) copied to `target/bench/browser-dist/`, with
/// `bare.html` and `floor.html` added.
pub fn prepare_dist() -> Result<PathBuf> {
    let source = std::env::var_os("MOIM_DIST").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("dist"));
    if !source.join("index.html").exists() {
        return Err(format!("{} has no index.html: build the app first", source.display()).into());
    }
    let target = workspace_root().join("target/bench/browser-dist");
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    copy_dir(&source, &target)?;
    std::fs::write(target.join("bare.html"), bare_html())?;
    std::fs::write(target.join("floor.html"), floor_html())?;
    std::fs::write(target.join("bare.js"), bare_js())?;
    std::fs::write(target.join("floor.js"), floor_js())?;
    Ok(target)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
            // As served from dist/: the same Last-Modified, so the same caching.
            std::fs::File::options().write(true).open(&dest)?.set_modified(entry.metadata()?.modified()?)?;
        }
    }
    Ok(())
}
