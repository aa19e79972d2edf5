//! The server restarts mid-call: both pages notice, say they are
//! reconnecting, get back into the room on the new server, and the call is
//! made again, with video and chat, without a reload. A page whose socket
//! drops takes its seat back and nobody notices. Also: a locked room asks
//! for its password in words.

use e2e::{js_str, Harness, Result, TRACK_SOCKETS};

const NOTICE: &str = "(document.querySelector('#notice')?.textContent ?? '')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_comes_back_after_the_server_restarts() -> Result<()> {
    let mut harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    let bo = harness.browser(&[]).await?;
    ana.join("standup", "Ana").await?;
    ana.wait_for("Ana in the room", "return !!document.querySelector('main.room')").await?;
    bo.join("standup", "Bo").await?;
    ana.wait_for_live_remote_videos(1).await?;
    bo.wait_for_live_remote_videos(1).await?;
    // Marks the page (a reload would lose it) and Bo's tile, which goes
    // with the old connection: a new one is made for his new seat.
    ana.eval("window.moimSameDocument = true; document.querySelector('.tile.remote').dataset.old = 1; return true")
        .await?;

    harness.restart_server().await?;

    // The new server knows no one: the pages come back by themselves.
    ana.wait_for("Bo's tile made anew", "return !!document.querySelector('.tile.remote:not([data-old])')").await?;
    for (who, page) in [("Ana", &ana), ("Bo", &bo)] {
        page.wait_for(&format!("{who}'s notice to clear"), &format!("return ({NOTICE}) === ''")).await?;
        page.wait_for_live_remote_videos(1).await?;
    }
    assert_eq!(ana.eval("return window.moimSameDocument === true").await?, true, "no reload");
    let status: serde_json::Value = serde_json::from_str(&harness.get("/api/rooms/standup").await?)?;
    assert_eq!(status["members"], 2, "both are members of the new server's room: {status}");

    // Chat crosses on the new connection.
    let line = "still here?";
    bo.say(line).await?;
    ana.wait_for(
        "Bo's chat line at Ana",
        &format!(
            "return [...document.querySelectorAll('.chat-line .text')].some(t => t.textContent === {})",
            js_str(line)
        ),
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_resumes_its_seat_and_the_call_never_stops() -> Result<()> {
    let harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    let bo = harness.browser(&[]).await?;
    ana.join("standup", "Ana").await?;
    ana.wait_for("Ana in the room", "return !!document.querySelector('main.room')").await?;
    harness.cdp(&bo, "Page.addScriptToEvaluateOnNewDocument", serde_json::json!({ "source": TRACK_SOCKETS })).await?;
    bo.open_room("standup").await?;
    bo.wait_for_preview().await?;
    bo.wait_for("the socket opened before Join", "return window.sockets.length === 1").await?;
    bo.join_as("Bo").await?;
    ana.wait_for_live_remote_videos(1).await?;
    bo.wait_for_live_remote_videos(1).await?;
    assert_eq!(bo.eval("return window.sockets.length").await?, 1, "Join used the socket the page opened");
    ana.eval("document.querySelector('.tile.remote').dataset.old = 1; return true").await?;

    // Bo's socket goes away as when the network changes under it.
    bo.eval("window.sockets.at(-1).close(4100); return true").await?;
    bo.wait_for(
        "a new socket, open",
        "return window.sockets.length === 2 && window.sockets[1].readyState === WebSocket.OPEN",
    )
    .await?;
    bo.wait_for("Bo's notice to clear", &format!("return ({NOTICE}) === ''")).await?;
    let metrics = harness.get("/metrics").await?;
    assert!(metrics.lines().any(|l| l == "moim_resumes_total 1"), "one resume:\n{metrics}");

    // Ana never saw Bo go: the same tile, no departure, video still live.
    ana.wait_for_live_remote_videos(1).await?;
    assert_eq!(ana.eval("return !!document.querySelector('.tile.remote[data-old]')").await?, true, "the same tile");
    let left = ana
        .eval("return [...document.querySelectorAll('.chat-line')].some(l => l.textContent.includes('Bo left'))")
        .await?;
    assert_eq!(left, false, "no departure was noted");
    // And signaling works on the new socket: Bo mutes, Ana sees the badge.
    bo.client.find(fantoccini::Locator::Css("#mute")).await?.click().await?;
    ana.wait_for("the muted badge on Bo's tile", "return !!document.querySelector('.tile.remote .badge.muted')")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_room_asks_for_its_password() -> Result<()> {
    let harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    ana.open_room("vault").await?;
    ana.wait_for_preview().await?;
    ana.client.find(fantoccini::Locator::Css("#password")).await?.send_keys("open sesame").await?;
    ana.join_as("Ana").await?;
    ana.wait_for("Ana in the room", "return !!document.querySelector('main.room')").await?;

    let bo = harness.browser(&[]).await?;
    bo.open_room("vault").await?;
    bo.wait_for(
        "the welcome screen to say the room is locked",
        "return !!document.querySelector('#occupancy')?.textContent.includes('locked')",
    )
    .await?;
    bo.wait_for_preview().await?;
    bo.join_as("Bo").await?;
    bo.wait_for(
        "the password request",
        "return document.querySelector('#join-error')?.textContent.includes('Enter its password')",
    )
    .await?;
    bo.client.find(fantoccini::Locator::Css("#password")).await?.send_keys("open sesame").await?;
    bo.join_as("Bo").await?;
    bo.wait_for_live_remote_videos(1).await?;
    ana.wait_for_live_remote_videos(1).await?;
    Ok(())
}
