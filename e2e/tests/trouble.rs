//! When something stands in the way, the page says what happened and what to
//! do, and offers the way that still works.

use e2e::{Harness, Result, TRACK_SOCKETS};

const MEDIA_ERROR: &str = "document.querySelector('#media-error')?.textContent ?? ''";
/// `index.html` shows the camera before the app starts; with no camera to
/// show, the app's screen still replaces it, one preview and no early screen.
const EARLY_SCREEN_GONE: &str =
    "return !document.getElementById('early') && document.querySelectorAll('video.self').length === 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_camera_can_still_join_to_watch_and_listen() -> Result<()> {
    let harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    ana.join("lecture", "Ana").await?;

    let bo = harness.browser_denying_media().await?;
    bo.open_room("lecture").await?;
    bo.wait_for("the blocked-permission message", &format!("return /access was blocked/.test({MEDIA_ERROR})")).await?;
    bo.screenshot(&e2e::artifact("permission-denied.png")).await?;
    assert_eq!(bo.eval(EARLY_SCREEN_GONE).await?, true, "the app took over index.html's early screen");
    // Join is disabled until there is media to send (or nothing, by choice).
    bo.client.find(fantoccini::Locator::Css("#name")).await?.send_keys("Bo").await?;
    // One press: the button says Join, so it joins.
    bo.client.find(fantoccini::Locator::Css("#receive-only")).await?.click().await?;
    bo.wait_for("Bo in the room", "return !!document.querySelector('main.room')").await?;
    bo.wait_for_live_remote_videos(1).await?;
    let note = bo.eval("return document.querySelector('#no-media-note')?.innerText ?? ''").await?;
    assert!(note.as_str().is_some_and(|n| n.contains("cannot hear you")), "the page says what the others get: {note}");
    let pickers =
        bo.eval("return [...document.querySelectorAll('.picker')].filter(p => p.offsetParent !== null).length").await?;
    assert_eq!(pickers, 0, "no empty device pickers");
    bo.screenshot(&e2e::artifact("joined-without-media.png")).await?;
    ana.wait_for(
        "Bo's tile, without video",
        "return document.querySelector('.tile.remote .name')?.textContent === 'Bo'",
    )
    .await?;
    ana.close().await?;
    bo.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insecure_page_explains_https() -> Result<()> {
    let harness = Harness::start(2).await?;
    // A name other than localhost makes plain http an insecure context, as a
    // LAN address would; the resolver keeps the traffic on loopback.
    let cy = harness.browser(&["--host-resolver-rules=MAP moim.test 127.0.0.1"]).await?;
    cy.client.goto(&format!("http://moim.test:{}/r/lecture", harness.port)).await?;
    cy.wait_for("the secure-page message", &format!("return /secure page.*https:\\/\\//.test({MEDIA_ERROR})")).await?;
    assert_eq!(
        cy.eval("return !!document.querySelector('#audio-only')").await?,
        false,
        "asking again cannot help here"
    );
    assert_eq!(cy.eval("return !!document.querySelector('#receive-only')").await?, true);
    assert_eq!(cy.eval(EARLY_SCREEN_GONE).await?, true);
    cy.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_gone_is_explained() -> Result<()> {
    let mut harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    harness.cdp(&ana, "Page.addScriptToEvaluateOnNewDocument", serde_json::json!({ "source": TRACK_SOCKETS })).await?;
    ana.open_room("lecture").await?;
    ana.wait_for_preview().await?;
    // The socket the page opened ahead of Join goes with the server.
    harness.stop_server().await?;
    ana.wait_for("the page's socket to close", "return window.sockets[0]?.readyState === WebSocket.CLOSED").await?;
    ana.join_as("Ana").await?;
    ana.wait_for(
        "the server-unreachable message",
        "return /Can't reach the Moim server/.test(document.querySelector('#join-error')?.textContent ?? '')",
    )
    .await?;
    assert_eq!(ana.eval("return !document.querySelector('#join').disabled").await?, true, "Join can be tried again");
    let check = ana.eval("return document.querySelector('[role=alert] a.setup-check')?.getAttribute('href')").await?;
    assert_eq!(check, "/check", "a connection error links to Test my setup");
    ana.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_cannot_load_says_so_and_offers_a_reload() -> Result<()> {
    let harness = Harness::start(2).await?;
    let cy = harness.browser(&[]).await?;
    // The network loses the app's wasm on the way, as a flaky connection might.
    harness.cdp(&cy, "Network.enable", serde_json::json!({})).await?;
    harness.cdp(&cy, "Network.setBlockedURLs", serde_json::json!({ "urls": ["*.wasm"] })).await?;
    cy.open_room("lecture").await?;
    cy.wait_for(
        "the could-not-start message",
        "const b = document.querySelector('#early-failed');
         return !!b && !b.hidden && /could not start.*reload/.test(b.textContent) && window.moimStartFailed",
    )
    .await?;
    // The camera shows all the same: index.html opened it, not the app.
    cy.wait_for("the early preview", "return document.querySelector('#early-preview').currentTime > 0").await?;
    cy.screenshot(&e2e::artifact("app-did-not-load.png")).await?;
    // In the language the person chose in the app before.
    cy.eval("localStorage.setItem('moim.lang', 'ko'); location.reload(); return true").await?;
    cy.wait_for(
        "the message in Korean",
        "const b = document.querySelector('#early-failed');
         return !!b && !b.hidden && b.textContent.includes('시작하지 못했어요') && b.textContent.includes('새로 고침')",
    )
    .await?;

    // With the network whole again, Reload brings the app.
    harness.cdp(&cy, "Network.setBlockedURLs", serde_json::json!({ "urls": [] })).await?;
    cy.client.find(fantoccini::Locator::Css("#early-reload")).await?.click().await?;
    cy.wait_for_preview().await?;
    assert_eq!(cy.eval("return !!document.querySelector('#early-failed')").await?, false, "the app took the page over");
    cy.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_stalls_on_the_way_says_so_until_it_arrives() -> Result<()> {
    const SLOW_SHOWN: &str = "const b = document.querySelector('#early-failed');
        return !!b && !b.hidden && b.textContent.includes('오래 걸리고') && b.textContent.includes('새로 고침')";
    let harness = Harness::start(2).await?;
    // A browser that speaks Korean: index.html picks the language from the
    // browser's list by the rule the app uses, so the two agree.
    let cy = harness.browser(&[]).await?;
    let agent = cy.eval("return navigator.userAgent").await?;
    let korean = serde_json::json!({ "userAgent": agent, "acceptLanguage": "ko-KR,ko" });
    harness.cdp(&cy, "Emulation.setUserAgentOverride", korean).await?;
    // The app's wasm is held on the way and does not come, as on a stalled
    // download: no error, no end.
    let hold = serde_json::json!({ "patterns": [{ "urlPattern": "*.wasm", "requestStage": "Request" }] });
    harness.cdp(&cy, "Fetch.enable", hold).await?;
    cy.open_room("lecture").await?;
    cy.wait_for("the early preview", "return document.querySelector('#early-preview').currentTime > 0").await?;
    assert_eq!(cy.eval(SLOW_SHOWN).await?, false, "no message while the app may still come in time");
    cy.wait_for("the taking-long message, in Korean", SLOW_SHOWN).await?;
    assert_eq!(cy.eval("return !!window.moimStartFailed").await?, false, "slow is not failed");
    cy.screenshot(&e2e::artifact("app-slow-to-arrive.png")).await?;

    // Once the download moves again the app takes the page over, message and
    // all, in the same language.
    harness.cdp(&cy, "Fetch.disable", serde_json::json!({})).await?;
    cy.wait_for_preview().await?;
    assert_eq!(cy.eval("return !!document.querySelector('#early-failed')").await?, false, "the app took the page over");
    assert_eq!(cy.eval("return document.documentElement.lang").await?, "ko");
    cy.close().await
}
