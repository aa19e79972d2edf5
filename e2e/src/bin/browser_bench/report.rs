//! The Markdown report: the figures against their floors, the targets, the steps, and how it was measured.

use crate::stats::{column, median_ms, ms, stats, Stats};
use crate::{workspace_root, Args, CallRun, Marks, Results, CALL_PATIENCE, SETTLE};
use std::fmt::Write as _;
use std::time::Duration;

pub fn loadavg() -> String {
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

pub fn report(args: &Args, r: &Results, load_before: &str, load_after: &str, took: Duration) -> String {
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
    let sfu_newcomer = column(r.calls.iter().map(|c| &c.sfu.0), "frame");
    let sfu_resident = column(r.calls.iter().map(|c| &c.sfu.1), "frame");
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
    for (page, on_sfu, mesh) in
        [("newcomer's page", &sfu_newcomer, &newcomer), ("page already in the room", &sfu_resident, &resident)]
    {
        let _ = writeln!(
            s,
            "| 2. call setup, {page}, **in a room on the media server** (`--sfu-from 2`; beside: the mesh's figure) | {} | {} | {} | {n_calls} |",
            ms(on_sfu),
            ms(mesh),
            fmt_diff(diff(on_sfu, mesh))
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
        ("call setup on the SFU ≤ the mesh + 50 ms, newcomer's page", diff(&sfu_newcomer, &newcomer)),
        ("call setup on the SFU ≤ the mesh + 50 ms, page already in the room", diff(&sfu_resident, &resident)),
    ] {
        let _ = writeln!(s, "| {label} | {} ({}) |", x.map(|x| met(x <= 50.0)).unwrap_or("–"), fmt_diff(x));
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
    step_rows(&mut s, &steps, r.calls.iter().map(|c| (&c.newcomer, &c.resident)));
    let _ = writeln!(
        s,
        "\n**In a room on the media server** (`--sfu-from 2`): the newcomer offers its own tracks, the server answers, \
         then offers the tracks of those already there (a second remote description); the page in the room is offered \
         the newcomer's.\n"
    );
    let _ = writeln!(s, "| step | newcomer's page | page in the room |\n|---|---:|---:|");
    let sfu_steps = [
        ("`join` sent", "out_join"),
        ("`welcome` received", "in_welcome"),
        ("`peer_joined` received", "in_peer_joined"),
        ("`new RTCPeerConnection` returned", "pc_new"),
        ("`createOffer` done", "createOffer_done"),
        ("`sfu_offer` sent", "out_sfu_offer"),
        ("`sfu_answer` received", "in_sfu_answer"),
        ("the server's answer set", "setRemoteDescription_done"),
        ("`sfu_offer` received (the others' tracks)", "in_sfu_offer"),
        ("the server's offer set (newcomer: its second remote description)", "setRemoteDescription_done_2"),
        ("`createAnswer` done", "createAnswer_done"),
        ("`sfu_answer` sent", "out_sfu_answer"),
        ("ICE connected", "ice_connected"),
        ("connection connected", "pc_connected"),
        ("`track` event", "track"),
        ("room screen in the DOM", "room_in_dom"),
        ("remote `<video>` in the DOM", "remote_video_in_dom"),
        ("stream set on the remote `<video>`", "remote_stream_set"),
        ("remote video `loadeddata`", "loadeddata"),
        ("**first remote frame** (requestVideoFrameCallback)", "frame"),
        ("main-thread long tasks (> 50 ms) before it, total ms", "busy"),
    ];
    step_rows(&mut s, &sfu_steps, r.calls.iter().map(|c| (&c.sfu.0, &c.sfu.1)));
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

/// One row per step present: its median on the newcomer's and on the resident's page.
fn step_rows<'a>(s: &mut String, steps: &[(&str, &str)], runs: impl Iterator<Item = (&'a Marks, &'a Marks)> + Clone) {
    for (label, key) in steps {
        let a = column(runs.clone().map(|(newcomer, _)| newcomer), key);
        let b = column(runs.clone().map(|(_, resident)| resident), key);
        if a.is_some() || b.is_some() {
            let _ = writeln!(s, "| {label} | {} | {} |", median_ms(&a), median_ms(&b));
        }
    }
}
