//! Figure 2's runs: one Moim call between two browsers, and the floor page's call within one page.

use crate::pages::{CLOCK_OFFSET, INSTRUMENT};
use crate::{marks, number, Marks, CALL_PATIENCE, SETTLE};
use e2e::{Browser, Result};
use fantoccini::Locator;
use serde_json::Value;
use std::time::{Duration, Instant};

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
pub async fn call_setup(resident: &Browser, newcomer: &Browser, room: &str) -> Result<(Marks, Marks, f64)> {
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
pub async fn floor_run(browser: &Browser, base: &str, start_kbps: Option<u32>) -> Result<Marks> {
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
