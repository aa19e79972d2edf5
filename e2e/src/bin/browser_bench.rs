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
//!    In the same runs, the same call in a room on the media server (a
//!    second server, `--sfu-from 2`): the target is the mesh's figure + 50 ms.
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

#[path = "browser_bench/call.rs"]
mod call;
#[path = "browser_bench/page_load.rs"]
mod page_load;
#[path = "browser_bench/pages.rs"]
mod pages;
#[path = "browser_bench/report.rs"]
mod report;
#[path = "browser_bench/stats.rs"]
mod stats;

use call::{call_setup, floor_run};
use e2e::{Browser, Harness, Result};
use page_load::page_load;
use pages::{prepare_dist, ON_NEW_DOCUMENT};
use report::loadavg;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The longest a call may take to show video before the run counts as failed.
const CALL_PATIENCE: Duration = Duration::from_secs(30);
/// Quiet time before each measured step, so the previous one's work is over.
const SETTLE: Duration = Duration::from_millis(1000);

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

async fn bench(args: Args) -> Result<()> {
    let started = Instant::now();
    let load_before = loadavg();
    let dist = prepare_dist()?;
    let mut harness = Harness::start(2).await?;
    harness.serve_dist(dist.clone()).await?;
    eprintln!("serving {} at {}", dist.display(), harness.base);
    let mut sfu = Harness::start_sfu(2, 2).await?;
    sfu.serve_dist(dist.clone()).await?;
    eprintln!("and with every room on the media server at {}", sfu.base);

    // Every browser is closed at the end, whatever happened; the harness's
    // Drop kills chromedriver's process group as a last resort.
    let mut browsers: Vec<Browser> = Vec::new();
    let result = measure(&harness, &sfu, &args, &mut browsers).await;
    for browser in browsers {
        if let Err(err) = browser.close().await {
            eprintln!("closing a browser: {err}");
        }
    }
    let results = result?;
    let report = report::report(&args, &results, &load_before, &loadavg(), started.elapsed());
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
    /// The same call in a room on the media server: newcomer, resident.
    sfu: (Marks, Marks),
}

async fn measure(harness: &Harness, sfu: &Harness, args: &Args, browsers: &mut Vec<Browser>) -> Result<Results> {
    let mut results = Results::default();
    let base = harness.base.as_str();

    // Figure 2: two browsers reused across runs; each run opens a new room
    // in both (a fresh page load, which also leaves the last run's room).
    browsers.push(harness.browser(&[]).await?); // the one already in the room
    browsers.push(harness.browser(&[]).await?); // the newcomer, who also hosts the floor page
    browsers.push(sfu.browser(&[]).await?); // the same two, for the server with the SFU
    browsers.push(sfu.browser(&[]).await?);
    let prefix = format!("bench-{}", std::process::id());
    for run in 0..args.runs {
        let (resident, newcomer) = (&browsers[0], &browsers[1]);
        let (sfu_resident, sfu_newcomer) = (&browsers[2], &browsers[3]);
        let room = format!("{prefix}-{run}");
        let on_sfu = async {
            let call = call_setup(sfu_resident, sfu_newcomer, &format!("{prefix}-sfu-{run}")).await;
            park(&[sfu_resident, sfu_newcomer]).await;
            call
        };
        // Alternate which goes first, so a drift in machine load hits both alike.
        let floors = async {
            let floor = floor_run(newcomer, base, None).await;
            (floor, floor_run(newcomer, base, Some(shared::budget::START_KBPS)).await)
        };
        let (moim, (floor, strict), on_sfu) = if run % 2 == 0 {
            let moim = call_setup(resident, newcomer, &room).await;
            park(&[resident, newcomer]).await;
            (moim, floors.await, on_sfu.await)
        } else {
            let on_sfu = on_sfu.await;
            let floors = floors.await;
            (call_setup(resident, newcomer, &room).await, floors, on_sfu)
        };
        park(&[resident, newcomer]).await;
        match (moim, floor, strict, on_sfu) {
            (Ok((newcomer_marks, resident_marks, skew)), Ok(floor), Ok(strict), Ok((sfu_new, sfu_res, _))) => {
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
                eprintln!(
                    "  on the SFU {:.0} ms (newcomer) / {:.0} ms (in the room)",
                    sfu_new["frame"], sfu_res["frame"]
                );
                results.max_clock_skew_ms = results.max_clock_skew_ms.max(skew.abs());
                let sfu = (sfu_new, sfu_res);
                results.calls.push(CallRun { newcomer: newcomer_marks, resident: resident_marks, floor, strict, sfu });
            }
            (moim, floor, strict, on_sfu) => {
                let why = [
                    moim.err().map(|e| format!("Moim: {e}")),
                    floor.err().map(|e| format!("floor: {e}")),
                    strict.err().map(|e| format!("floor with the start rate: {e}")),
                    on_sfu.err().map(|e| format!("on the SFU: {e}")),
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
    let visitor = &browsers[4];
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

fn number(v: Value) -> Result<f64> {
    v.as_f64().ok_or_else(|| format!("not a number: {v}").into())
}

fn marks(v: Value) -> Result<Marks> {
    let Value::Object(map) = v else { return Err(format!("not an object: {v}").into()) };
    Ok(map.into_iter().filter_map(|(k, v)| Some((k, v.as_f64()?))).collect())
}
