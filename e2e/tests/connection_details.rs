//! The tile's connection details: the signal button opens what the page
//! reads from `getStats()` every couple of seconds (path, round trip, loss,
//! rates, video size), on a real loopback call.

use e2e::{Harness, Result};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_call_reads_direct_with_its_round_trip_and_rates() -> Result<()> {
    let harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    let bo = harness.browser(&[]).await?;
    ana.join("details", "Ana").await?;
    bo.join("details", "Bo").await?;
    ana.wait_for_live_remote_videos(1).await?;
    let text = ana
        .link_details_saying(&["Direct, on the local network, over UDP", "Round trip", "Loss 0.0%", "Video "])
        .await?;
    // Bo's camera comes in, and Ana's goes out, at a real rate.
    let rates = text.lines().find(|l| l.starts_with("In ")).ok_or(format!("no rates in {text:?}"))?;
    let numbers: Vec<f64> =
        rates.split(|c: char| !c.is_ascii_digit() && c != '.').filter_map(|n| n.parse().ok()).collect();
    assert!(numbers.len() == 2 && numbers.iter().all(|&n| n > 0.0), "both rates above zero: {rates}");
    assert!(!text.contains("media server"), "a mesh call is the member's own connection: {text}");
    ana.screenshot(&e2e::artifact("connection-details.png")).await?;
    // A second click closes them.
    ana.eval("document.querySelector('.tile.remote button.link').click()").await?;
    ana.wait_for("the details closed", "return !document.querySelector('.link-details')").await?;
    ana.close().await?;
    bo.close().await
}
