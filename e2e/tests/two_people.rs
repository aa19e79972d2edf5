//! Two people meet, in the real app, in real headless Chromium: each sees the
//! other's live video, chat crosses, a camera switch keeps the call alive,
//! mute shows up on the other side, a third person is told the room is full,
//! and closing a browser removes its tile. The newcomer's first offer is
//! made on the welcome screen, before Join, and made again when a device is
//! switched there, also when each member gets TURN credentials of its own;
//! the member already in the room answers it on a connection made ahead too.

use e2e::{js_str, Browser, Harness, Result, TRACK_PEER_CONNECTIONS};

const REMOTE_TILES: &str = "return document.querySelectorAll('.tile.remote').length";

/// Before Join: notes the welcome screen's preview, where it has got to,
/// and counts streams set on it from now on.
const MARK_THE_PREVIEW: &str = "
    const v = window.preview = document.querySelector('video.self');
    window.previewAt = v.currentTime;
    window.previewStreamSet = 0;
    const src = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject');
    Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
        ...src, set(s) { if (this === window.preview) window.previewStreamSet++; src.set.call(this, s); },
    });
    return true";

/// In the room: is your tile's video the welcome screen's, playing on?
const THE_PREVIEW_IN_THE_ROOM: &str = "
    const v = document.querySelector('.tile.self video');
    return { same: v === window.preview, playing: !v.paused && v.currentTime > window.previewAt,
        streamSet: window.previewStreamSet, previews: document.querySelectorAll('video.self').length }";

/// How many of the connections `person` made (kept in `window.pcs`), from
/// the `from`-th on, were used for a call (have a remote description).
async fn answered_from(person: &Browser, from: usize) -> Result<serde_json::Value> {
    person.eval(&format!("return window.pcs.slice({from}).filter(p => !!p.remoteDescription).length")).await
}

/// Opens `room` (its connections kept in `window.pcs`) and waits on the
/// welcome screen until its first offer is made, before Join.
async fn open_until_the_offer_is_made(harness: &Harness, person: &Browser, room: &str) -> Result<()> {
    harness
        .cdp(person, "Page.addScriptToEvaluateOnNewDocument", serde_json::json!({ "source": TRACK_PEER_CONNECTIONS }))
        .await?;
    person.open_room(room).await?;
    person.wait_for_preview().await?;
    person
        .wait_for(
            "a connection with its offer made, on the welcome screen",
            "return window.pcs.length === 1 && window.pcs[0].signalingState === 'have-local-offer'",
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_meet_chat_switch_cameras_and_part() -> Result<()> {
    let harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    // Bo's machine has three cameras, so Bo can switch: Chromium's second
    // fake camera is a depth camera (Y16), which it previews but never sends
    // over WebRTC, so Bo switches to the third.
    let bo = harness.browser(&["--use-fake-device-for-media-stream=device-count=3"]).await?;

    ana.open_room("standup").await?;
    ana.wait_for_preview().await?;
    ana.eval(MARK_THE_PREVIEW).await?;
    ana.join_as("Ana").await?;
    ana.wait_for("Ana in the room", "return !!document.querySelector('main.room')").await?;
    ana.wait_for(
        "her tile to show the camera",
        "return document.querySelector('.tile.self video')?.currentTime > window.previewAt + 0.2",
    )
    .await?;
    let carried = ana.eval(THE_PREVIEW_IN_THE_ROOM).await?;
    assert_eq!(
        carried,
        serde_json::json!({ "same": true, "playing": true, "streamSet": 0, "previews": 1 }),
        "her tile carries on in the welcome screen's preview: not a new one, not started again"
    );
    bo.join("standup", "Bo").await?;

    ana.wait_for_live_remote_videos(1).await?;
    bo.wait_for_live_remote_videos(1).await?;
    ana.wait_for("Bo's name on his tile", "return document.querySelector('.tile.remote .name')?.textContent === 'Bo'")
        .await?;
    bo.wait_for("Ana's name on her tile", "return document.querySelector('.tile.remote .name')?.textContent === 'Ana'")
        .await?;
    assert_eq!(ana.eval("return location.pathname").await?, "/r/standup");
    assert_eq!(ana.eval("return !!window.moimStartFailed").await?, false, "no failure to start was shown on the way");
    let previews = "return document.querySelectorAll('video.self').length";
    assert_eq!(ana.eval(previews).await?, 1, "the welcome screen's preview (index.html's early one) left with it");
    ana.screenshot(&e2e::artifact("two-people-ana.png")).await?;

    // Chat crosses peer to peer, with the sender's name, as text.
    let line = "<b>hello</b> from Ana";
    ana.say(line).await?;
    bo.wait_for(
        "Ana's chat line at Bo",
        &format!(
            "return [...document.querySelectorAll('.chat-line')].some(l =>
                l.querySelector('.from').textContent === 'Ana' && l.querySelector('.text').textContent === {})",
            js_str(line)
        ),
    )
    .await?;
    assert_eq!(
        bo.eval("return document.querySelectorAll('.chat-line .text *').length").await?,
        0,
        "chat is never HTML"
    );
    // The early preview, the app, the call and the chat, all within the CSP.
    ana.assert_csp_kept().await?;
    bo.assert_csp_kept().await?;

    // Bo mutes: his button flips, his audio track is disabled, Ana sees the badge.
    bo.client.find(fantoccini::Locator::Css("#mute")).await?.click().await?;
    bo.wait_for("Bo's button to say Unmute", "return document.querySelector('#mute').textContent === 'Unmute'").await?;
    ana.wait_for("the muted badge on Bo's tile", "return !!document.querySelector('.tile.remote .badge.muted')")
        .await?;

    // Bo switches camera: the other camera is used and Ana's view of him stays live.
    let cameras = bo.eval("return document.querySelectorAll('#camera-select option').length").await?;
    assert_eq!(cameras, 3, "the fake device gives Bo three cameras");
    let before = bo.eval("return document.querySelector('#camera-select').value").await?;
    let target = bo
        .eval(
            "const s = document.querySelector('#camera-select');
             const other = [...s.options].find(o => o.textContent === 'fake_device_2').value;
             s.value = other; s.dispatchEvent(new Event('change', { bubbles: true }));
             return other;",
        )
        .await?;
    assert_ne!(before, target);
    bo.wait_for(
        "Bo's preview to use the other camera",
        &format!(
            "const t = document.querySelector('video.self').srcObject.getVideoTracks()[0];
             return !!t && t.readyState === 'live' && t.getSettings().deviceId === {target}"
        ),
    )
    .await?;
    assert_eq!(
        bo.eval("return document.querySelector('video.self').srcObject.getAudioTracks()[0].enabled").await?,
        false,
        "still muted after the switch"
    );
    ana.wait_for_live_remote_videos(1).await?;

    // A third person is told, in words, that the room is full; the call goes on.
    let cy = harness.browser(&[]).await?;
    cy.join("standup", "Cy").await?;
    cy.wait_for(
        "the room-full message",
        "return /room is full: 2 of 2/.test(document.querySelector('#join-error')?.textContent ?? '')",
    )
    .await?;
    assert_eq!(ana.eval(REMOTE_TILES).await?, 1);
    // Where Cy looks: the message and the button to try again, with the page at its top.
    for what in ["#join-error", "#join"] {
        assert!(cy.in_sight_at_top(what).await?, "{what} is on screen without scrolling");
    }
    cy.screenshot(&e2e::artifact("room-full.png")).await?;
    cy.close().await?;
    ana.wait_for_live_remote_videos(1).await?;

    // Bo closes his browser: his tile leaves Ana's page.
    bo.close().await?;
    ana.wait_for("Bo's tile to go", &format!("{REMOTE_TILES} === 0")).await?;
    ana.wait_for(
        "a notice that Bo left",
        "return [...document.querySelectorAll('.chat-notice')].some(n => n.textContent === 'Bo left')",
    )
    .await?;

    // Ana can leave and come back.
    ana.client.find(fantoccini::Locator::Css("#leave")).await?.click().await?;
    ana.wait_for("the welcome screen", "return !!document.querySelector('main.welcome')").await?;
    ana.client.find(fantoccini::Locator::Css("#join")).await?.click().await?;
    ana.wait_for("Ana back in the room", "return !!document.querySelector('main.room')").await?;
    ana.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newcomer_s_offer_is_made_before_join_and_again_for_a_new_microphone() -> Result<()> {
    let harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    let bo = harness.browser(&[]).await?;
    harness
        .cdp(&ana, "Page.addScriptToEvaluateOnNewDocument", serde_json::json!({ "source": TRACK_PEER_CONNECTIONS }))
        .await?;
    ana.join("retro", "Ana").await?;
    ana.wait_for("Ana in the room", "return !!document.querySelector('main.room')").await?;
    // In the room, Ana has a spare connection ready for whoever comes next.
    ana.wait_for(
        "a spare connection in the room",
        "window.spare = window.pcs.find(p => p.signalingState === 'stable' && !p.remoteDescription
            && p.getSenders().length === 2);
         return !!window.spare",
    )
    .await?;
    let made_by_ana =
        ana.eval("return window.pcs.length").await?.as_u64().ok_or("window.pcs.length is a number")? as usize;

    open_until_the_offer_is_made(&harness, &bo, "retro").await?;
    // Bo picks another microphone after that offer was made: a new one is
    // prepared for it, and the old one closed.
    let target = bo
        .eval(
            "const s = document.querySelector('#microphone-select');
             const other = [...s.options].find(o => o.value !== s.value).value;
             s.value = other; s.dispatchEvent(new Event('change', { bubbles: true }));
             return other;",
        )
        .await?;
    bo.wait_for(
        "a new connection with its offer made, for the new microphone, its candidates gathered",
        "return window.pcs.length === 2 && window.pcs[1].signalingState === 'have-local-offer'
            && window.pcs[0].signalingState === 'closed' && window.pcs[1].iceGatheringState === 'complete'",
    )
    .await?;
    // Candidates Ana is given one by one, on the connection that answers Bo.
    ana.eval(
        "const add = window.spare.addIceCandidate.bind(window.spare);
         window.added = 0;
         window.spare.addIceCandidate = c => { window.added++; return add(c); };
         const stats = window.spare.getStats.bind(window.spare);
         window.statsWhile = [];
         window.spare.getStats = (...a) => { window.statsWhile.push(window.spare.connectionState); return stats(...a); };
         return true",
    )
    .await?;
    // What Bo's connections are doing when his room screen is drawn.
    bo.eval(
        "window.drawnWith = null;
         new MutationObserver((_, seen) => {
             if (!document.querySelector('main.room')) return;
             window.drawnWith = window.pcs.map(p => p.signalingState).join();
             seen.disconnect();
         }).observe(document.body, { childList: true, subtree: true });
         return true",
    )
    .await?;
    bo.join_as("Bo").await?;

    ana.wait_for_live_remote_videos(1).await?;
    bo.wait_for_live_remote_videos(1).await?;
    // Join used the prepared connection; any made since is a spare for the next arrival.
    assert_eq!(
        bo.eval("return window.pcs[1].connectionState").await?,
        "connected",
        "Join used the prepared connection"
    );
    assert_eq!(answered_from(&bo, 2).await?, 0, "Join made no other");
    // Drawing it holds the page for 50–100 ms: it waits for Ana's answer,
    // which was read behind it.
    assert_eq!(
        bo.eval("return window.drawnWith").await?,
        "closed,stable",
        "Bo's room is drawn once Ana's answer is applied"
    );
    let sent = bo
        .eval("return window.pcs[1].getSenders().find(s => s.track?.kind === 'audio').track.getSettings().deviceId")
        .await?;
    assert_eq!(sent, target, "it sends the microphone Bo picked");
    assert_eq!(ana.eval("return window.spare.connectionState").await?, "connected", "Ana answered Bo on her spare");
    // Bo's candidates, gathered before Join, came in his offer, not again after it.
    let in_offer = ana.eval("return window.spare.remoteDescription.sdp.includes('a=candidate:')").await?;
    assert_eq!(in_offer, true, "the offer lists Bo's candidates");
    assert_eq!(ana.eval("return window.added").await?, 0, "none sent again one by one");
    // His offer asks Ana's video to start at 720p's rate, not the browser's 300 kbit/s.
    let start = ana.eval("return window.spare.remoteDescription.sdp.match(/x-google-start-bitrate=\\d+/g)").await?;
    let expected = format!("x-google-start-bitrate={}", shared::budget::START_KBPS);
    let each = start.as_array().ok_or(format!("no start rate in Bo's offer: {start}"))?;
    assert!(each.len() >= 2 && each.iter().all(|s| *s == *expected), "on each video codec (VP8, VP9…): {start}");
    // Who is speaking is read from the stats once connected, not while the call sets up.
    let stats_while = ana.eval("return window.statsWhile").await?;
    let states = stats_while.as_array().ok_or("statsWhile is a list")?;
    assert!(!states.is_empty(), "Ana's page reads Bo's voice level");
    assert!(states.iter().all(|s| s == "connected"), "no stats read before connected: {stats_while}");
    // Any made since is her next spare, not one that answered Bo.
    assert_eq!(answered_from(&ana, made_by_ana).await?, 0, "no connection was made to answer Bo");
    ana.close().await?;
    bo.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_turn_credentials_per_member_the_offer_is_still_made_before_join() -> Result<()> {
    // No TURN server listens on port 9: the candidates gathered are the
    // host's, and the call connects on them.
    let turn = backend::turn::TurnRest {
        urls: vec!["turn:127.0.0.1:9".into()],
        secret: "coturn-static-auth-secret".into(),
        ttl: std::time::Duration::from_secs(3600),
    };
    let harness = Harness::start_with(2, Some(turn)).await?;
    let ana = harness.browser(&[]).await?;
    let bo = harness.browser(&[]).await?;
    ana.join("retro", "Ana").await?;
    ana.wait_for("Ana in the room", "return !!document.querySelector('main.room')").await?;
    open_until_the_offer_is_made(&harness, &bo, "retro").await?;
    let user = bo.eval("return window.pcs[0].getConfiguration().iceServers[0].username").await?;
    assert!(user.as_str().is_some_and(|u| u.ends_with(":moim-lobby")), "the page's own TURN credentials: {user}");
    bo.join_as("Bo").await?;
    ana.wait_for_live_remote_videos(1).await?;
    bo.wait_for_live_remote_videos(1).await?;
    assert_eq!(
        bo.eval("return window.pcs[0].connectionState").await?,
        "connected",
        "Join used the connection prepared with the page's credentials"
    );
    assert_eq!(answered_from(&bo, 1).await?, 0, "Join made no other");
    ana.close().await?;
    bo.close().await
}
