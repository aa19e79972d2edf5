//! A CPU profile of one page while a call sets up, for finding what the
//! browser benchmark's phases spend: the same two browsers and steps as
//! `browser_bench`'s call setup, with CDP's `Profiler` running on one page
//! from just before the Join click until the newcomer sees video.
//!
//! ```sh
//! CARGO_PROFILE_WASM_RELEASE_STRIP=false trunk build --release --dist /tmp/dist-names
//! MOIM_DIST=/tmp/dist-names cargo run -p e2e --release --bin call_profile -- newcomer 3
//! ```
//!
//! The first argument is the page profiled, `newcomer` (who clicks Join) or
//! `resident` (already in the room); the second how many calls. Each writes
//! `target/bench/call-<page>-<n>.cpuprofile`, which Chromium's DevTools
//! (Performance panel, "Load profile") and speedscope open. A build that
//! keeps the wasm's function names (the first command) shows them in it.

use e2e::{Harness, Result};
use fantoccini::Locator;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Asked of V8's sampler, in µs; a busy machine delivers fewer.
const SAMPLING_US: u32 = 100;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let page = args.next().unwrap_or_else(|| "newcomer".into());
    let calls: usize = match args.next() {
        Some(n) => n.parse().map_err(|e| format!("how many calls: {e}"))?,
        None => 3,
    };
    if !matches!(page.as_str(), "newcomer" | "resident") {
        return Err(format!("profile `newcomer` or `resident`, not {page:?}").into());
    }
    let dist = PathBuf::from(std::env::var("MOIM_DIST").unwrap_or_else(|_| "dist".into()));
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("e2e/ has no workspace")?.join("target/bench");
    std::fs::create_dir_all(&out_dir)?;
    let mut harness = Harness::start(2).await?;
    harness.serve_dist(dist).await?;
    let resident = harness.browser(&[]).await?;
    let newcomer = harness.browser(&[]).await?;
    let profiled = if page == "newcomer" { &newcomer } else { &resident };
    for call in 0..calls {
        let room = format!("profile-{}-{call}", std::process::id());
        resident.join(&room, "Ana").await?;
        resident.wait_for("Ana in the room", "return !!document.querySelector('main.room')").await?;
        newcomer.open_room(&room).await?;
        newcomer.wait_for_preview().await?;
        newcomer.type_name("Bo").await?;
        // Let both pages settle, as the benchmark does, before the profile starts.
        tokio::time::sleep(Duration::from_secs(1)).await;
        harness.cdp(profiled, "Profiler.enable", json!({})).await?;
        harness.cdp(profiled, "Profiler.setSamplingInterval", json!({ "interval": SAMPLING_US })).await?;
        harness.cdp(profiled, "Profiler.start", json!({})).await?;
        newcomer.client.find(Locator::Css("#join")).await?.click().await?;
        newcomer.wait_for_live_remote_videos(1).await?;
        let profile = harness.cdp(profiled, "Profiler.stop", json!({})).await?;
        let path = out_dir.join(format!("call-{page}-{call}.cpuprofile"));
        std::fs::write(&path, profile["profile"].to_string())?;
        eprintln!("wrote {}", path.display());
        for browser in [&resident, &newcomer] {
            let _ = browser.client.goto("about:blank").await;
        }
    }
    resident.close().await?;
    newcomer.close().await?;
    Ok(())
}
