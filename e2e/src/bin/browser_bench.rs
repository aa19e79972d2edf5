//! Figures 2 and 3 of the issue "Measured speed", in headless Chromium on
//! loopback, with the real app served by the real backend (`e2e::Harness`):
//!
//! 2. **Call setup**: from the second member's Join click to the first remote
//!    video frame, on the newcomer's page and on the page already in the
//!    room; next to it, in the same run, the floor: one page, two
//!    `RTCPeerConnection`s wired by direct calls, media already captured,
//!    from `createOffer` to the first remote frame on each side; and a
//!    stricter floor, the same page asking for Moim's start rate
//!    (`x-google-start-bitrate`) in the descriptions it hands over.
//! 3. **Page load to the self-preview's first frame**: `/r/<room>` from
//!    navigation start to the first frame of `video.self`; next to it a
//!    bare page that only calls `getUserMedia` and shows it in a `<video>`.
//!
//! ```sh
//! MOIM_DIST=/work/main/dist cargo run -p e2e --release --bin browser_bench -- --runs 10
//! cargo run -p e2e --release --bin browser_bench -- --smoke   # 2 runs, CI-sized
//! ```
//!
//! Writes the report to `target/bench/browser.md` (`--smoke`:
//! `target/bench/browser-smoke.md`; `--out FILE` to choose). With
//! `BENCH_DEBUG=1` it also prints, per call, when Join was clicked and the
//! floor started (wall clock, to line up with a system profile), and the
//! long animation frames (with script attribution) that delayed each page.

use e2e::{Browser, Harness, Result};
use fantoccini::Locator;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest a call may take to show video before the run counts as failed.
const CALL_PATIENCE: Duration = Duration::from_secs(30);
/// Quiet time before each measured step, so the previous one's work is over.
const SETTLE: Duration = Duration::from_millis(1000);

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
/// runs no inline script but its own page's.
fn floor_js() -> String {
    include_str!("../../js/floor.js").to_owned()
}

/// Installed on both Moim pages just before the Join click (the peer
/// connection and the signaling socket are made after it, so wrapping
/// their constructors now catches them): marks the first remote video
/// frame and the steps on the way, in ms of `performance.timeOrigin +
/// performance.now()`.
const INSTRUMENT: &str = include_str!("../../js/instrument.js");

/// Installed in the page-load browser before any page script runs (CDP
/// `Page.addScriptToEvaluateOnNewDocument`), on every page it opens: marks,
/// in `performance.now()` ms (i.e. since navigation start), the first frame
/// of `video.self` and the steps on the way.
const ON_NEW_DOCUMENT: &str = include_str!("../../js/on_new_document.js");

/// What a finished page load left behind, read after the first frame and once
/// the app has taken over `index.html`'s early screen.
const READ_LOAD: &str = include_str!("../../js/read_load.js");

/// The offset of `performance.timeOrigin + performance.now()` from
/// `Date.now()` in this page, averaged over 20 ms of samples: subtracting
/// it puts two browser processes' marks on the one system clock.
const CLOCK_OFFSET: &str = include_str!("../../js/clock_offset.js");

struct Args {
    runs: usize,
    smoke: bool,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args { runs: 10, smoke: false, out: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => args.runs = it.next().ok_or("--runs needs a number")?.parse()?,
            "--smoke" => args.smoke = true,
            "--out" => args.out = Some(it.next().ok_or("--out needs a file")?.into()),
            "-h" | "--help" => {
                println!("browser_bench [--runs N (default 10)] [--smoke (2 runs)] [--out FILE]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if args.smoke {
        args.runs = 2;
    }
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("browser_bench: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    match runtime.block_on(bench(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("browser_bench: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("e2e sits in the workspace").to_owned()
}

/// `dist/` (or `$MOIM_DIST`) copied to `target/bench/browser-dist/`, with
/// `bare.html` and `floor.html` added.
fn prepare_dist() -> Result<PathBuf> {
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

async fn bench(args: Args) -> Result<()> {
    let started = Instant::now();
    let load_before = loadavg();
    let dist = prepare_dist()?;
    let mut harness = Harness::start(2).await?;
    harness.serve_dist(dist.clone()).await?;
    eprintln!("serving {} at {}", dist.display(), harness.base);

    // Every browser is closed at the end, whatever happened; the harness's
    // Drop kills chromedriver's process group as a last resort.
    let mut browsers: Vec<Browser> = Vec::new();
    let result = measure(&harness, &args, &mut browsers).await;
    for browser in browsers {
        if let Err(err) = browser.close().await {
            eprintln!("closing a browser: {err}");
        }
    }
    let results = result?;
    let report = report(&args, &results, &load_before, &loadavg(), started.elapsed());
    println!("{report}");
    let out = args.out.clone().unwrap_or_else(|| {
        workspace_root().join(if args.smoke { "target/bench/browser-smoke.md" } else { "target/bench/browser.md" })
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &report)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// Milestones of one run, in ms after that run's start (the Join click for
/// Moim, the start of `createOffer` for the floor).
type Marks = BTreeMap<String, f64>;

#[derive(Default)]
struct Results {
    /// Per successful run: the newcomer's page, the page already in the room, the floor.
    calls: Vec<CallRun>,
    call_failures: Vec<String>,
    /// Largest disagreement between the two pages' clocks that was corrected.
    max_clock_skew_ms: f64,
    /// Per load: marks since navigation start.
    moim_warm: Vec<Marks>,
    bare_warm: Vec<Marks>,
    moim_cold: Vec<Marks>,
    bare_cold: Vec<Marks>,
}

struct CallRun {
    newcomer: Marks,
    resident: Marks,
    floor: Marks,
    /// The floor whose descriptions ask for Moim's start rate.
    strict: Marks,
}

async fn measure(harness: &Harness, args: &Args, browsers: &mut Vec<Browser>) -> Result<Results> {
    let mut results = Results::default();
    let base = harness.base.as_str();

    // Figure 2: two browsers reused across runs; each run opens a new room
    // in both (a fresh page load, which also leaves the last run's room).
    browsers.push(harness.browser(&[]).await?); // the one already in the room
    browsers.push(harness.browser(&[]).await?); // the newcomer, who also hosts the floor page
    let prefix = format!("bench-{}", std::process::id());
    for run in 0..args.runs {
        let (resident, newcomer) = (&browsers[0], &browsers[1]);
        let room = format!("{prefix}-{run}");
        // Alternate which goes first, so a drift in machine load hits both alike.
        let floors = async {
            let floor = floor_run(newcomer, base, None).await;
            (floor, floor_run(newcomer, base, Some(shared::budget::START_KBPS)).await)
        };
        let (moim, (floor, strict)) = if run % 2 == 0 {
            let moim = call_setup(resident, newcomer, &room).await;
            park(&[resident, newcomer]).await;
            (moim, floors.await)
        } else {
            let floors = floors.await;
            (call_setup(resident, newcomer, &room).await, floors)
        };
        park(&[resident, newcomer]).await;
        match (moim, floor, strict) {
            (Ok((newcomer_marks, resident_marks, skew)), Ok(floor), Ok(strict)) => {
                eprintln!(
                    "call setup run {}: Moim {:.0} ms (newcomer) / {:.0} ms (in the room); floor {:.0} / {:.0} ms; \
                     with the start rate {:.0} / {:.0} ms",
                    run + 1,
                    newcomer_marks["frame"],
                    resident_marks["frame"],
                    floor["frame_offerer"],
                    floor["frame_answerer"],
                    strict["frame_offerer"],
                    strict["frame_answerer"]
                );
                results.max_clock_skew_ms = results.max_clock_skew_ms.max(skew.abs());
                results.calls.push(CallRun { newcomer: newcomer_marks, resident: resident_marks, floor, strict });
            }
            (moim, floor, strict) => {
                let why = [
                    moim.err().map(|e| format!("Moim: {e}")),
                    floor.err().map(|e| format!("floor: {e}")),
                    strict.err().map(|e| format!("floor with the start rate: {e}")),
                ];
                let why = why.into_iter().flatten().collect::<Vec<_>>().join("; ");
                eprintln!("call setup run {} failed: {why}", run + 1);
                results.call_failures.push(why);
            }
        }
    }
    if results.calls.is_empty() {
        return Err(format!("every call setup run failed: {}", results.call_failures.join(" | ")).into());
    }

    // Figure 3: a third, fresh browser, so its HTTP cache starts empty.
    browsers.push(harness.browser(&[]).await?);
    let visitor = &browsers[2];
    harness.cdp(visitor, "Page.addScriptToEvaluateOnNewDocument", json!({ "source": ON_NEW_DOCUMENT })).await?;
    harness.cdp(visitor, "Network.enable", json!({})).await?;
    // One load of each first, not counted: a first visit fills the cache.
    let first_moim = page_load(visitor, base, &format!("/r/{prefix}-load-first")).await?;
    let first_bare = page_load(visitor, base, "/bare.html").await?;
    eprintln!(
        "first visit: Moim {:.0} ms, bare {:.0} ms (not counted)",
        first_moim["self_frame"], first_bare["self_frame"]
    );
    for (cold, label) in [(false, "repeat visit"), (true, "HTTP cache disabled")] {
        harness.cdp(visitor, "Network.setCacheDisabled", json!({ "cacheDisabled": cold })).await?;
        for i in 0..args.runs {
            let moim_url = format!("/r/{prefix}-load-{}-{i}", if cold { "cold" } else { "warm" });
            let (moim, bare) = if i % 2 == 0 {
                let moim = page_load(visitor, base, &moim_url).await?;
                (moim, page_load(visitor, base, "/bare.html").await?)
            } else {
                let bare = page_load(visitor, base, "/bare.html").await?;
                (page_load(visitor, base, &moim_url).await?, bare)
            };
            eprintln!(
                "page load, {label}, {}: Moim {:.0} ms, bare {:.0} ms",
                i + 1,
                moim["self_frame"],
                bare["self_frame"]
            );
            let (m, b) = if cold {
                (&mut results.moim_cold, &mut results.bare_cold)
            } else {
                (&mut results.moim_warm, &mut results.bare_warm)
            };
            m.push(moim);
            b.push(bare);
        }
    }
    harness.cdp(visitor, "Network.setCacheDisabled", json!({ "cacheDisabled": false })).await?;
    park(&[visitor]).await;
    Ok(results)
}

/// Sends pages to `about:blank`: their cameras stop and Moim pages leave their rooms.
async fn park(browsers: &[&Browser]) {
    for b in browsers {
        let _ = b.client.goto("about:blank").await;
    }
}

async fn wait_until(browser: &Browser, what: &str, script: &str, patience: Duration) -> Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        if browser.eval(script).await? == Value::Bool(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let page = browser.eval("return document.body?.innerText ?? ''").await.unwrap_or_default();
            return Err(format!("timed out waiting for {what}; the page says:\n{page}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One Moim call: the resident is in `room`, the newcomer clicks Join.
/// Returns the newcomer's and the resident's marks in ms after the click
/// (both put on the system clock), and the clock correction between them.
async fn call_setup(resident: &Browser, newcomer: &Browser, room: &str) -> Result<(Marks, Marks, f64)> {
    const PREVIEW_LIVE: &str = "const v = document.querySelector('video.self');
        return !document.getElementById('early') && !!v && !!v.srcObject && v.currentTime > 0";
    resident.open_room(room).await?;
    newcomer.open_room(room).await?;
    for b in [resident, newcomer] {
        wait_until(b, "a live self-preview", PREVIEW_LIVE, Duration::from_secs(60)).await?;
    }
    resident.join_as("Ana").await?;
    wait_until(resident, "Ana in the room", "return !!document.querySelector('main.room')", Duration::from_secs(60))
        .await?;
    let name = newcomer.client.find(Locator::Css("#name")).await?;
    name.clear().await?;
    name.send_keys("Bo").await?;
    wait_until(
        newcomer,
        "Join to be enabled",
        "return !document.querySelector('#join').disabled",
        Duration::from_secs(60),
    )
    .await?;
    tokio::time::sleep(SETTLE).await;

    for b in [resident, newcomer] {
        b.eval(INSTRUMENT).await?;
    }
    newcomer
        .eval("document.querySelector('#join').addEventListener('click', () => window.__b.mark('click'), { capture: true, once: true }); return true")
        .await?;
    newcomer.client.find(Locator::Css("#join")).await?.click().await?;

    let has_frame = "return !!window.__b && 'frame' in window.__b.marks";
    let (a, b) = tokio::join!(
        wait_until(newcomer, "the first remote frame on the newcomer's page", has_frame, CALL_PATIENCE),
        wait_until(resident, "the first remote frame on the page in the room", has_frame, CALL_PATIENCE),
    );
    a?;
    b?;
    // A little longer, so late milestones (connection state, loadeddata) are in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let newcomer_offset = number(newcomer.eval(CLOCK_OFFSET).await?)?;
    let resident_offset = number(resident.eval(CLOCK_OFFSET).await?)?;
    let newcomer_raw = marks(newcomer.eval("return window.__b.marks").await?)?;
    let resident_raw = marks(resident.eval("return window.__b.marks").await?)?;
    let click = *newcomer_raw.get("click").ok_or("the click listener did not fire")? - newcomer_offset;
    if std::env::var_os("BENCH_DEBUG").is_some() {
        // Wall-clock ms, to line up with a system profile (`perf record -k CLOCK_REALTIME`).
        eprintln!("  Join clicked at {click:.1} ms since the epoch");
    }
    let rebase = |raw: Marks, offset: f64| raw.into_iter().map(|(k, v)| (k, v - offset - click)).collect::<Marks>();
    let (mut newcomer_marks, mut resident_marks) =
        (rebase(newcomer_raw, newcomer_offset), rebase(resident_raw, resident_offset));
    // Main-thread long tasks that began between the click and this side's first frame.
    for (who, page, offset, marks) in [
        ("newcomer", newcomer, newcomer_offset, &mut newcomer_marks),
        ("in the room", resident, resident_offset, &mut resident_marks),
    ] {
        let long = page.eval("return window.__b.long").await?;
        let frame = marks["frame"];
        let busy: f64 = long
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|task| Some((task.get(0)?.as_f64()? - offset - click, task.get(1)?.as_f64()?)))
            .filter(|(start, _)| (0.0..frame).contains(start))
            .map(|(_, duration)| duration)
            .sum();
        marks.insert("busy".into(), busy);
        if std::env::var_os("BENCH_DEBUG").is_some() {
            let loaf = page.eval("return window.__b.loaf").await?;
            for f in loaf.as_array().into_iter().flatten() {
                let start = f["start"].as_f64().unwrap_or_default() - offset - click;
                if (0.0..frame).contains(&start) {
                    eprintln!("  {who}: long frame at {start:.0} ms: {}", f);
                }
            }
        }
    }
    Ok((newcomer_marks, resident_marks, newcomer_offset - resident_offset))
}

/// One floor measurement, on `floor.html` in `browser`.
/// With `start_kbps`, the stricter floor: its descriptions carry Moim's start rate.
async fn floor_run(browser: &Browser, base: &str, start_kbps: Option<u32>) -> Result<Marks> {
    browser.client.goto(&format!("{base}/floor.html")).await?;
    let value = browser
        .client
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 window.floor({}, {}).then(done, e => done({{ error: String(e) }}));",
                SETTLE.as_millis(),
                start_kbps.unwrap_or(0)
            ),
            vec![],
        )
        .await?;
    if let Some(err) = value.get("error") {
        return Err(format!("the floor page failed: {err}").into());
    }
    let m = marks(value)?;
    if std::env::var_os("BENCH_DEBUG").is_some() {
        eprintln!("  floor started at {:.1} ms since the epoch", m.get("t0_epoch").copied().unwrap_or_default());
    }
    for k in ["frame_offerer", "frame_answerer"] {
        if !m.contains_key(k) {
            return Err(format!("the floor page has no {k}").into());
        }
    }
    // The answerer's offer as applied: with the rate on every video codec (VP8, VP9, H.264…), or none.
    let with_rate = m.get("start_rate_codecs").copied().unwrap_or_default();
    if (start_kbps.is_some() && with_rate < 2.0) || (start_kbps.is_none() && with_rate > 0.0) {
        return Err(format!("the floor's offer carries the start rate on {with_rate} codecs").into());
    }
    Ok(m)
}

/// Loads `path` and returns the page's marks (ms since navigation start)
/// once `video.self` has shown its first frame.
async fn page_load(browser: &Browser, base: &str, path: &str) -> Result<Marks> {
    park(&[browser]).await;
    // Let the last page's camera and renderer wind down.
    tokio::time::sleep(SETTLE / 2).await;
    browser.client.goto(&format!("{base}{path}")).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = browser.eval(READ_LOAD).await?;
        if !value.is_null() {
            return marks(value);
        }
        if Instant::now() > deadline {
            return Err(format!("{path}: no self-preview frame within 60 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn number(v: Value) -> Result<f64> {
    v.as_f64().ok_or_else(|| format!("not a number: {v}").into())
}

fn marks(v: Value) -> Result<Marks> {
    let Value::Object(map) = v else { return Err(format!("not an object: {v}").into()) };
    Ok(map.into_iter().filter_map(|(k, v)| Some((k, v.as_f64()?))).collect())
}

// ---- statistics and the report ----

struct Stats {
    median: f64,
    min: f64,
    max: f64,
    n: usize,
}

fn stats(values: impl IntoIterator<Item = f64>) -> Option<Stats> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some(Stats { median, min: v[0], max: v[n - 1], n })
}

fn column<'a>(runs: impl IntoIterator<Item = &'a Marks>, key: &str) -> Option<Stats> {
    stats(runs.into_iter().filter_map(|m| m.get(key).copied()))
}

fn ms(s: &Option<Stats>) -> String {
    match s {
        Some(s) => format!("{:.0} ms ({:.0}–{:.0})", s.median, s.min, s.max),
        None => "–".into(),
    }
}

fn median_ms(s: &Option<Stats>) -> String {
    match s {
        // (+ 0.0: no "-0")
        Some(s) if s.n > 0 => format!("{:.0}", s.median.round() + 0.0),
        _ => "–".into(),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

fn command_line() -> String {
    let mut cmd = String::new();
    if let Some(dist) = std::env::var_os("MOIM_DIST") {
        let _ = write!(cmd, "MOIM_DIST={} ", dist.to_string_lossy());
    }
    cmd.push_str("cargo run -p e2e ");
    if !cfg!(debug_assertions) {
        cmd.push_str("--release ");
    }
    cmd.push_str("--bin browser_bench");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        let _ = write!(cmd, " -- {}", args.join(" "));
    }
    cmd
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

fn report(args: &Args, r: &Results, load_before: &str, load_after: &str, took: Duration) -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = command_output("git", &["-C", &workspace_root().to_string_lossy(), "rev-parse", "--short", "HEAD"]);
    let wasm = std::fs::read_dir(workspace_root().join("target/bench/browser-dist"))
        .ok()
        .and_then(|d| {
            d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).find(|n| n.ends_with("_bg.wasm"))
        })
        .unwrap_or_else(|| "?".into());

    let newcomer = column(r.calls.iter().map(|c| &c.newcomer), "frame");
    let resident = column(r.calls.iter().map(|c| &c.resident), "frame");
    let floor_offerer = column(r.calls.iter().map(|c| &c.floor), "frame_offerer");
    let floor_answerer = column(r.calls.iter().map(|c| &c.floor), "frame_answerer");
    let strict_offerer = column(r.calls.iter().map(|c| &c.strict), "frame_offerer");
    let strict_answerer = column(r.calls.iter().map(|c| &c.strict), "frame_answerer");
    let moim_warm = column(&r.moim_warm, "self_frame");
    let bare_warm = column(&r.bare_warm, "self_frame");
    let moim_cold = column(&r.moim_cold, "self_frame");
    let bare_cold = column(&r.bare_cold, "self_frame");
    let ratio = |a: &Option<Stats>, b: &Option<Stats>| match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => Some(a.median / b.median),
        _ => None,
    };
    let diff = |a: &Option<Stats>, b: &Option<Stats>| match (a, b) {
        (Some(a), Some(b)) => Some(a.median - b.median),
        _ => None,
    };
    let fmt_ratio = |x: Option<f64>| x.map(|x| format!("{x:.2}×")).unwrap_or_else(|| "–".into());
    let fmt_diff = |x: Option<f64>| x.map(|x| format!("{x:+.0} ms")).unwrap_or_else(|| "–".into());
    let n_calls = format!(
        "{}{}",
        r.calls.len(),
        if r.call_failures.is_empty() { String::new() } else { format!(" ({} failed)", r.call_failures.len()) }
    );

    let mut s = String::new();
    let _ = writeln!(s, "# Browser benchmarks (figures 2 and 3 of \"Measured speed\")\n");
    let _ = writeln!(s, "Date: {date}. Command: `{}`.", command_line());
    let _ = writeln!(
        s,
        "Browser: `{}` (`{chromium} --version`), headless, fake camera and microphone \
         (`--use-fake-device-for-media-stream`), loopback only, no STUN/TURN. \
         App: commit {commit}, `{wasm}`. Machine: `nproc` = {}; load average {load_before} at the start, \
         {load_after} at the end (cores shared with other work). Took {:.0} s.\n",
        command_output(&chromium, &["--version"]),
        command_output("nproc", &[]),
        took.as_secs_f64()
    );
    if args.smoke {
        let _ = writeln!(s, "**Smoke run** (2 runs each): numbers are indicative only.\n");
    }
    let _ = writeln!(
        s,
        "| figure | Moim median (min–max) | floor / bare median (min–max) | Moim / floor or Moim − bare | runs |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let _ = writeln!(
        s,
        "| **2. call setup, newcomer's page**: Join click → first remote frame (floor: offerer side) | {} | {} | {} | {n_calls} |",
        ms(&newcomer),
        ms(&floor_offerer),
        fmt_ratio(ratio(&newcomer, &floor_offerer))
    );
    let _ = writeln!(
        s,
        "| **2. call setup, page already in the room**: Join click → first remote frame (floor: answerer side) | {} | {} | {} | {n_calls} |",
        ms(&resident),
        ms(&floor_answerer),
        fmt_ratio(ratio(&resident, &floor_answerer))
    );
    for (page, moim, strict) in
        [("newcomer's page", &newcomer, &strict_offerer), ("page already in the room", &resident, &strict_answerer)]
    {
        let _ = writeln!(
            s,
            "| 2. call setup, {page}, against the stricter floor: its descriptions also ask for Moim's start rate | {} | {} | {} | {n_calls} |",
            ms(moim),
            ms(strict),
            fmt_ratio(ratio(moim, strict))
        );
    }
    let _ = writeln!(
        s,
        "| **3. page load → self-preview's first frame**, repeat visit (HTTP cache on) | {} | {} | {} | {} |",
        ms(&moim_warm),
        ms(&bare_warm),
        fmt_diff(diff(&moim_warm, &bare_warm)),
        r.moim_warm.len()
    );
    let _ = writeln!(
        s,
        "| 3. page load → self-preview's first frame, HTTP cache disabled (a first visit) | {} | {} | {} | {} |",
        ms(&moim_cold),
        ms(&bare_cold),
        fmt_diff(diff(&moim_cold, &bare_cold)),
        r.moim_cold.len()
    );

    let _ = writeln!(s, "\n### Targets\n");
    let _ = writeln!(s, "| target | result |\n|---|---|");
    for (label, x) in [
        ("call setup ≤ 1.15× the floor, newcomer's page", ratio(&newcomer, &floor_offerer)),
        ("call setup ≤ 1.15× the floor, page already in the room", ratio(&resident, &floor_answerer)),
    ] {
        let _ = writeln!(s, "| {label} | {} ({}) |", x.map(|x| met(x <= 1.15)).unwrap_or("–"), fmt_ratio(x));
    }
    for (label, x) in [
        ("page load to self-preview ≤ bare + 100 ms, repeat visit", diff(&moim_warm, &bare_warm)),
        ("page load to self-preview ≤ bare + 100 ms, cache disabled", diff(&moim_cold, &bare_cold)),
    ] {
        let _ = writeln!(s, "| {label} | {} ({}) |", x.map(|x| met(x <= 100.0)).unwrap_or("–"), fmt_diff(x));
    }

    // Where the time goes: medians of each milestone.
    let _ = writeln!(
        s,
        "\n### Call setup, step by step (median ms after the Join click; floor: after `createOffer` starts)\n"
    );
    let _ = writeln!(s, "| step | newcomer's page | page in the room |\n|---|---:|---:|");
    let steps = [
        ("signaling socket created", "ws_new"),
        ("socket open", "ws_open"),
        ("`join` sent", "out_join"),
        ("`welcome` received", "in_welcome"),
        ("`peer_joined` received", "in_peer_joined"),
        ("`new RTCPeerConnection` called", "pc_constructor_called"),
        ("`new RTCPeerConnection` returned", "pc_new"),
        ("first `addTrack` returned", "addTrack_returned"),
        ("app's `welcome` handler returned (its synchronous part)", "handled_welcome"),
        ("app's `peer_joined` handler returned (its synchronous part)", "handled_peer_joined"),
        ("room screen in the DOM", "room_in_dom"),
        ("remote `<video>` in the DOM", "remote_video_in_dom"),
        ("`createOffer` called", "createOffer_start"),
        ("`createOffer` done", "createOffer_done"),
        ("local description set (offer / answer)", "setLocalDescription_done"),
        ("`offer` sent", "out_offer"),
        ("`offer` received", "in_offer"),
        ("`setRemoteDescription` called (answer / offer)", "setRemoteDescription_start"),
        ("remote description set (answer / offer)", "setRemoteDescription_done"),
        ("`createAnswer` called", "createAnswer_start"),
        ("`createAnswer` done", "createAnswer_done"),
        ("`answer` sent", "out_answer"),
        ("`answer` received", "in_answer"),
        ("first local ICE candidate", "local_candidate"),
        ("first remote ICE candidate received", "in_ice"),
        ("ICE connected", "ice_connected"),
        ("connection connected", "pc_connected"),
        ("`track` event", "track"),
        ("stream set on the remote `<video>`", "remote_stream_set"),
        ("remote video `loadeddata`", "loadeddata"),
        ("**first remote frame** (requestVideoFrameCallback)", "frame"),
        ("main-thread long tasks (> 50 ms) before it, total ms", "busy"),
    ];
    for (label, key) in steps {
        let a = column(r.calls.iter().map(|c| &c.newcomer), key);
        let b = column(r.calls.iter().map(|c| &c.resident), key);
        if a.is_some() || b.is_some() {
            let _ = writeln!(s, "| {label} | {} | {} |", median_ms(&a), median_ms(&b));
        }
    }
    let _ = writeln!(
        s,
        "\n| floor step | offerer | answerer | offerer, with the start rate | answerer, with the start rate |\n|---|---:|---:|---:|---:|"
    );
    let floor_col = |k: &str| column(r.calls.iter().map(|c| &c.floor), k);
    let strict_col = |k: &str| column(r.calls.iter().map(|c| &c.strict), k);
    for (label, offerer, answerer) in [
        ("offer set locally", Some("offer_ready"), None),
        ("offer applied", None, Some("offer_applied")),
        ("answer set locally", None, Some("answer_ready")),
        ("answer applied", Some("answer_applied"), None),
    ] {
        let cell = |col: &dyn Fn(&str) -> Option<Stats>, key: Option<&str>| {
            key.map(|k| median_ms(&col(k))).unwrap_or_default()
        };
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {} | {} |",
            cell(&floor_col, offerer),
            cell(&floor_col, answerer),
            cell(&strict_col, offerer),
            cell(&strict_col, answerer)
        );
    }
    for (label, key) in [
        ("ICE connected", "ice_connected"),
        ("connection connected", "pc_connected"),
        ("`track` event", "track"),
        ("**first remote frame**", "frame"),
    ] {
        let (offerer, answerer) = (format!("{key}_offerer"), format!("{key}_answerer"));
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {} | {} |",
            median_ms(&floor_col(&offerer)),
            median_ms(&floor_col(&answerer)),
            median_ms(&strict_col(&offerer)),
            median_ms(&strict_col(&answerer))
        );
    }

    let _ = writeln!(
        s,
        "| main-thread long tasks (> 50 ms) before the later frame, total ms | {} | | {} | |",
        median_ms(&floor_col("busy")),
        median_ms(&strict_col("busy"))
    );
    let _ = writeln!(
        s,
        "| (before the start, not counted: two `new RTCPeerConnection` + `addTrack`, ms) | {} | | {} | |",
        median_ms(&floor_col("construct_ms")),
        median_ms(&strict_col("construct_ms"))
    );

    // The same path cut into phases, Moim against the floor: where the extra time is.
    let _ = writeln!(s, "\n### Call setup in phases (median ms of each run's phase)\n");
    let _ = writeln!(s, "| phase | Moim | floor | Moim − floor |\n|---|---:|---:|---:|");
    let span = |runs: &mut dyn Iterator<Item = &Marks>, from: &str, to: &str| {
        stats(runs.filter_map(|m| Some(m.get(to)? - if from.is_empty() { 0.0 } else { *m.get(from)? })))
    };
    // (label, which Moim page, Moim's marks from → to, the floor's marks from → to); "" is the start.
    type Phase = (&'static str, fn(&CallRun) -> &Marks, &'static str, &'static str, &'static str, &'static str);
    let phases: [Phase; 8] = [
        ("newcomer: start → offer out (Moim: join, welcome, the offer prepared before the click sent; floor: `createOffer`, set locally)", |c| &c.newcomer, "", "out_offer", "", "offer_ready"),
        ("newcomer: offer out → answer applied (Moim: relayed both ways)", |c| &c.newcomer, "out_offer", "setRemoteDescription_done", "offer_ready", "answer_applied"),
        ("newcomer: answer applied → connected", |c| &c.newcomer, "setRemoteDescription_done", "pc_connected", "answer_applied", "pc_connected_offerer"),
        ("newcomer: connected → first remote frame", |c| &c.newcomer, "pc_connected", "frame", "pc_connected_offerer", "frame_offerer"),
        ("in the room: start → offer applied (Moim: socket, join, welcome, offer made and relayed)", |c| &c.resident, "", "setRemoteDescription_done", "", "offer_applied"),
        ("in the room: offer applied → answer set locally", |c| &c.resident, "setRemoteDescription_done", "setLocalDescription_done", "offer_applied", "answer_ready"),
        ("in the room: answer set → connected", |c| &c.resident, "setLocalDescription_done", "pc_connected", "answer_ready", "pc_connected_answerer"),
        ("in the room: connected → first remote frame", |c| &c.resident, "pc_connected", "frame", "pc_connected_answerer", "frame_answerer"),
    ];
    for (label, side, from, to, floor_from, floor_to) in phases {
        let moim = span(&mut r.calls.iter().map(side), from, to);
        let floor = span(&mut r.calls.iter().map(|c| &c.floor), floor_from, floor_to);
        let extra = match (&moim, &floor) {
            (Some(a), Some(b)) => format!("{:+.0}", a.median - b.median),
            _ => "–".into(),
        };
        let _ = writeln!(s, "| {label} | {} | {} | {extra} |", median_ms(&moim), median_ms(&floor));
    }

    let _ = writeln!(s, "\n### Page load, step by step (median ms since navigation start)\n");
    let _ = writeln!(
        s,
        "| step | Moim, repeat visit | bare, repeat visit | Moim, cache disabled | bare, cache disabled |\n|---|---:|---:|---:|---:|"
    );
    for (label, key) in [
        ("HTML received (navigation `responseEnd`)", "html_response_end"),
        ("app JS requested", "js_fetch_start"),
        ("app JS received", "js_response_end"),
        ("wasm requested", "wasm_fetch_start"),
        ("wasm received", "wasm_response_end"),
        ("`DOMContentLoaded` done", "dom_content_loaded"),
        ("`WebAssembly.instantiateStreaming` called", "wasm_instantiateStreaming_call"),
        ("`WebAssembly.instantiate` called", "wasm_instantiate_call"),
        ("wasm compiled and instantiated", "wasm_instantiated"),
        ("`video.self` in the DOM", "self_video_in_dom"),
        ("`getUserMedia` called", "gum_call"),
        ("`getUserMedia` resolved", "gum_done"),
        ("stream set on `video.self`", "self_stream_set"),
        ("`TrunkApplicationStarted` (wasm `init` done)", "wasm_started"),
        ("**first self-preview frame**", "self_frame"),
        ("the app's welcome screen drawn (`#join` in the DOM)", "app_drawn"),
        ("main-thread long tasks (> 50 ms) before it, total ms", "busy"),
    ] {
        let cells = [&r.moim_warm, &r.bare_warm, &r.moim_cold, &r.bare_cold].map(|runs| median_ms(&column(runs, key)));
        if cells.iter().all(|c| c == "–") {
            continue;
        }
        let _ = writeln!(s, "| {label} | {} |", cells.join(" | "));
    }

    let _ = writeln!(s, "\n### How\n");
    let _ = writeln!(
        s,
        "The backend runs in the benchmark's process on an ephemeral loopback port (`e2e::Harness`), serving a copy of \
         `dist/` with two extra pages, `bare.html` and `floor.html` (target/bench/browser-dist/); Chromium is driven \
         through chromedriver. Every `getUserMedia` asks what the app asks (1280×720 ideal, user-facing camera, audio \
         with echo cancellation, noise suppression, auto gain).\n\n\
         **Call setup** (figure 2): two browsers, reused across runs. Each run both open `/r/<new room>` (a fresh page \
         load, which also leaves the previous room), wait for a live self-preview, the first clicks Join and is in the \
         room, the second has typed its name; after {} ms of quiet a script is run on both pages that watches \
         `.tile.remote video` (MutationObserver → `requestVideoFrameCallback`) and wraps `WebSocket` and \
         `RTCPeerConnection` to time the steps (a signaling message counts as received when the app reads it, and its \
         handler as returned when the microtask queued then runs), and a capturing click listener on `#join` marks the click; then \
         WebDriver clicks `#join`. Times are `performance.timeOrigin + performance.now()` in each page, put on one \
         clock by subtracting each page's measured offset from `Date.now()` (the largest difference between the two \
         pages' offsets was {:.2} ms). Then both pages go to `about:blank` (leaving the room, stopping the cameras), \
         and the floor runs on `floor.html` in the newcomer's browser: `getUserMedia`, {} ms of quiet, two \
         `RTCPeerConnection`s in the one page each sending the stream (audio and video) to the other, candidates \
         handed over directly (held until the remote description is set), offer → answer by direct calls, timed from \
         the start of `createOffer` to each side's first remote frame (`requestVideoFrameCallback`). Then the stricter \
         floor, the same with each description handed over asking for Moim's start rate \
         (`x-google-start-bitrate={}` on every video codec, as `shared::budget::with_start_bitrate` writes it; the \
         run fails unless the answerer's applied offer has it on at least two codecs). Odd runs measure the floors \
         first. A run counts only if Moim and both floors show video within {} s. The floor has no \
         signaling server and no data channel (Moim negotiates a pre-agreed chat channel in the same offer).\n\n\
         **Page load** (figure 3): a third, fresh browser, a script added with CDP \
         `Page.addScriptToEvaluateOnNewDocument` (runs before any of the page's) watches for `video.self` and marks \
         its first frame (`requestVideoFrameCallback`) in `performance.now()`, i.e. ms since navigation start; in \
         Moim that is `index.html`'s early preview, which the app's welcome screen takes over, and a load is read \
         only once it has (`#early` gone; `#join` in the DOM marks the app's screen drawn). Each \
         load starts from `about:blank` after {} ms of quiet; Moim (`/r/<new room>`) and `bare.html` alternate. One \
         load of each fills the cache and is not counted; then {} loads of each with the HTTP cache on (a repeat \
         visit: HTML revalidated, hashed assets from cache, V8's wasm code cache may apply) and {} with it disabled \
         (CDP `Network.setCacheDisabled`: everything fetched and compiled again, as on a first visit).",
        SETTLE.as_millis(),
        r.max_clock_skew_ms,
        SETTLE.as_millis(),
        shared::budget::START_KBPS,
        CALL_PATIENCE.as_secs(),
        (SETTLE / 2).as_millis(),
        r.moim_warm.len(),
        r.moim_cold.len(),
    );
    if !r.call_failures.is_empty() {
        let _ = writeln!(s, "\nFailed call setup runs:\n");
        for f in &r.call_failures {
            let _ = writeln!(s, "- {}", f.replace('\n', " "));
        }
    }
    s
}
