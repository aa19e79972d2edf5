//! The meeting screen around the call: the welcome screen counts who is in
//! the room and a full room says so; the speaking highlight, keyboard
//! shortcuts, help, people list and device pickers; a phone-sized screen.

use e2e::{Harness, Result};
use fantoccini::{key::Key, Locator};

const OCCUPANCY: &str = "return (document.querySelector('#occupancy')?.textContent ?? '')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seventh_is_refused_and_the_welcome_screen_counts() -> Result<()> {
    let harness = Harness::start(6).await?;
    let mut seats = harness.hold_seats("busy", 6).await?;
    let eve = harness.browser(&[]).await?;
    eve.open_room("busy").await?;
    eve.wait_for("the full count", &format!("{OCCUPANCY} === 'This room is full: 6 of 6.'")).await?;
    eve.join_as("Eve").await?;
    eve.wait_for(
        "the room-full message",
        "return document.querySelector('#join-error')?.textContent === 'Sorry, this room is full: 6 of 6. Try another room name, or wait until someone leaves.'",
    )
    .await?;
    eve.screenshot(&e2e::artifact("seventh-refused.png")).await?;

    // A seat frees up: the count follows, and Eve gets in.
    seats.pop();
    eve.wait_for("the count to drop", &format!("{OCCUPANCY} === '5 of 6 here now.'")).await?;
    eve.client.find(Locator::Css("#join")).await?.click().await?;
    // The seats never answer her offers: her room is drawn without them.
    eve.wait_for("Eve in the room", "return !!document.querySelector('main.room')").await?;
    eve.wait_for("six here", "return document.querySelector('.count')?.textContent === '6 here'").await?;
    eve.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaking_shortcuts_help_people_and_pickers() -> Result<()> {
    let harness = Harness::start(6).await?;
    let ana = harness.browser(&[]).await?;
    let bo = harness.browser(&[]).await?;
    ana.open_room("desk").await?;
    ana.wait_for("the welcome meter to move", "return Number(document.querySelector('#mic-level')?.value) > 0").await?;
    ana.wait_for("Nobody here yet", &format!("{OCCUPANCY} === 'Nobody is here yet.'")).await?;
    let link = ana.eval("return document.querySelector('#room-link')?.textContent").await?;
    assert_eq!(link, format!("{}/r/desk", harness.base), "the link to share, before joining");
    ana.join_as("Ana").await?;
    ana.wait_for("Ana in the room", "return !!document.querySelector('main.room')").await?;
    bo.open_room("desk").await?;
    bo.wait_for("one here", &format!("{OCCUPANCY} === '1 of 6 here now.'")).await?;
    bo.join_as("Bo").await?;
    ana.wait_for_live_remote_videos(1).await?;

    // The fake microphone beeps: Bo's tile lights up at Ana's while it does.
    ana.wait_for("Bo's tile to show him speaking", "return !!document.querySelector('.tile.remote.speaking')").await?;

    // Bo picks another microphone: it replaces the one sent, and his voice keeps lighting his tile.
    let target = bo
        .eval(
            "const s = document.querySelector('#microphone-select');
             // A real device: a track opened as 'default' reports the device behind it.
             const other = [...s.options].find(o => o.value !== s.value && !['default', 'communications'].includes(o.value)).value;
             s.value = other; s.dispatchEvent(new Event('change', { bubbles: true }));
             return other;",
        )
        .await?;
    bo.wait_for(
        "Bo's new microphone",
        &format!(
            "const t = document.querySelector('video.self').srcObject.getAudioTracks()[0];
             return !!t && t.readyState === 'live' && t.getSettings().deviceId === {target}"
        ),
    )
    .await?;
    ana.wait_for("a pause in Bo's beeps", "return !document.querySelector('.tile.remote.speaking')").await?;
    ana.wait_for("Bo's new microphone heard", "return !!document.querySelector('.tile.remote.speaking')").await?;

    // Everyone in the people list, with their state.
    ana.wait_for("both in the people list", "return [...document.querySelectorAll('#people .person')].map(p => p.firstChild.textContent).join() === 'You,Bo'").await?;

    // Shortcuts: M mutes (and the others see it), typing in the chat does not.
    let body = ana.client.find(Locator::Css("body")).await?;
    body.send_keys("m").await?;
    ana.wait_for("M to mute", "return document.querySelector('#mute').textContent === 'Unmute'").await?;
    bo.wait_for(
        "Ana muted in Bo's people list",
        "return !!document.querySelector('#people .person[data-peer] .badge.muted')",
    )
    .await?;
    ana.client.find(Locator::Css("#chat-input")).await?.send_keys("mmm").await?;
    assert_eq!(
        ana.eval("return document.querySelector('#mute').textContent").await?,
        "Unmute",
        "typing is not a shortcut"
    );
    body.send_keys("v").await?;
    ana.wait_for("V to turn the camera off", "return document.querySelector('#camera').textContent === 'Camera On'")
        .await?;
    bo.wait_for("Ana's camera-off badge", "return !!document.querySelector('.tile.remote .badge.camera-off')").await?;
    body.send_keys("?").await?;
    ana.wait_for("the help list", "return /Mute or unmute/.test(document.querySelector('#help')?.textContent ?? '')")
        .await?;
    ana.screenshot(&e2e::artifact("help.png")).await?;
    body.send_keys(&Key::Escape.to_string()).await?;
    ana.wait_for("the help list to close", "return !document.querySelector('#help')").await?;

    // Every device can be picked: camera, microphone, and speaker where the
    // browser allows, behind the Devices button, each labelled and wide
    // enough for the device's whole name ("Fake Default Audio Input").
    let shown = |what: &str| format!("return document.querySelector('{what}')?.getClientRects().length > 0");
    assert_eq!(ana.eval(&shown("#camera-select")).await?, false, "the pickers wait behind Devices");
    ana.client.find(Locator::Css("#devices-button")).await?.click().await?;
    ana.wait_for("the pickers to open", &shown("#camera-select")).await?;
    for picker in ["#camera-select", "#microphone-select", "#speaker-select"] {
        let options = ana.eval(&format!("return document.querySelectorAll('{picker} option').length")).await?;
        assert!(options.as_u64() >= Some(1), "{picker} lists devices");
    }
    let unreadable = ana.unreadable_pickers().await?;
    ana.screenshot(&e2e::artifact("device-pickers.png")).await?;
    assert!(unreadable.is_empty(), "{unreadable:?}");

    // A new member's tile waits for their offer only a moment: one who never
    // offers (a bare signaling client) still gets a tile.
    let _seat = harness.hold_seats("desk", 1).await?;
    ana.wait_for("a tile for the seat", "return document.querySelectorAll('.tile.remote').length === 2").await?;
    ana.close().await?;
    bo.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_gets_a_usable_meeting_screen() -> Result<()> {
    let harness = Harness::start(6).await?;
    let phone = harness.phone().await?;
    let desk = harness.browser(&[]).await?;
    desk.join("walk", "Desk").await?;
    phone.open_room("walk").await?;
    phone.wait_for_preview().await?;
    for what in ["#room", "#name", "#join"] {
        assert!(phone.in_sight_at_top(what).await?, "{what} is on the phone's first screen");
    }
    phone.join_as("Phone").await?;
    phone.wait_for_live_remote_videos(1).await?;
    desk.wait_for_live_remote_videos(1).await?;
    phone.screenshot(&e2e::artifact("phone.png")).await?;

    assert_eq!(phone.eval("return innerWidth").await?, 390);
    assert_eq!(
        phone.eval("return document.documentElement.scrollWidth <= innerWidth").await?,
        true,
        "nothing sticks out sideways"
    );
    for control in ["#mute", "#camera", "#leave", "#flip"] {
        let visible = phone
            .eval(&format!(
                "const r = document.querySelector('{control}')?.getBoundingClientRect();
                 return !!r && r.width > 0 && r.left >= 0 && r.right <= innerWidth"
            ))
            .await?;
        assert_eq!(visible, true, "{control} is on screen");
    }
    // Keyboard shortcuts are not offered to a touch screen, and the device
    // pickers wait behind a button, so the bar is two rows on a phone, not four.
    let shown = |what: &str| format!("return document.querySelector('{what}')?.getClientRects().length > 0");
    assert_eq!(phone.eval(&shown("#help-button")).await?, false, "no Shortcuts button on a phone");
    assert_eq!(phone.eval(&shown("#camera-select")).await?, false, "the pickers wait behind Devices");
    let bar_height = phone.eval("return document.querySelector('nav.controls').getBoundingClientRect().height").await?;
    assert!(
        bar_height.as_f64().is_some_and(|h| h < 100.0),
        "the bar takes two rows of buttons at most, not {bar_height} px"
    );
    phone.client.find(Locator::Css("#devices-button")).await?.click().await?;
    phone.wait_for("the pickers to open", &shown("#camera-select")).await?;
    assert_eq!(desk.eval(&shown("#help-button")).await?, true, "a desktop keeps its Shortcuts button");
    assert!(phone.unreadable_pickers().await?.is_empty(), "the phone's pickers are labelled and whole");

    // The phone picks its third camera, then flips: the fakes say no facing,
    // so the flip takes the other camera in turn. The desk keeps seeing live video.
    let third = phone
        .eval(
            "const s = document.querySelector('#camera-select');
             s.value = [...s.options].find(o => o.textContent === 'fake_device_2').value;
             s.dispatchEvent(new Event('change', { bubbles: true }));
             return s.value;",
        )
        .await?;
    let sending = "return document.querySelector('video.self').srcObject.getVideoTracks()[0]?.getSettings().deviceId";
    phone.wait_for("the third camera", &format!("{sending} === {third}")).await?;
    desk.wait_for_live_remote_videos(1).await?;
    phone.client.find(Locator::Css("#flip")).await?.click().await?;
    phone
        .wait_for("the flip to finish", "return document.querySelector('#flip').textContent === 'Front camera'")
        .await?;
    assert_ne!(phone.eval(sending).await?, third, "the flip changed camera");
    desk.wait_for_live_remote_videos(1).await?;
    phone.close().await?;
    desk.close().await
}
