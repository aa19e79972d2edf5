//! Four people in one room, in the real app: everyone sees everyone, two can
//! arrive at the same moment, a mute shows on every other screen, a screen
//! share reaches everyone, large, a tile can be made large by a click or from
//! the keyboard, chat crosses during a share, nothing breaks the server's
//! Content-Security-Policy, and someone leaving drops their tile everywhere.

use e2e::{everyone_sees, four_meet, tile_named, Harness, Result};
use fantoccini::key::Key;
use fantoccini::Locator;

/// The name on a remote tile, a button that makes the tile large.
fn name_button(name: &str) -> String {
    format!("//figure[contains(@class, 'remote')]//button[contains(@class, 'name') and text() = '{name}']")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_people_meet_mute_share_and_part() -> Result<()> {
    let started = std::time::Instant::now();
    let harness = Harness::start(6).await?;
    // Four browsers encode and decode twelve videos on this machine's cores:
    // a slower fake camera keeps them responsive.
    let fake = ["--use-fake-device-for-media-stream=fps=10"];
    let ana = harness.browser(&fake).await?;
    let bo = harness.browser(&fake).await?;
    let cy = harness.browser(&fake).await?;
    let di = harness.browser(&fake).await?;

    four_meet("weekly", [&ana, &bo, &cy, &di]).await?;
    assert_eq!(ana.eval("return document.title").await?, "weekly · Moim", "the tab names the meeting");
    eprintln!("{:?} four connected", started.elapsed());
    ana.screenshot(&e2e::artifact("four-people-ana.png")).await?;

    // Ana mutes: the three others show it on her tile.
    ana.client.find(Locator::Css("#mute")).await?.click().await?;
    for person in [&bo, &cy, &di] {
        person
            .wait_for("Ana's muted badge", &format!("return !!{}?.querySelector('.badge.muted')", tile_named("Ana")))
            .await?;
    }

    eprintln!("{:?} mute seen", started.elapsed());

    // Bo shares a screen: the others get it in place of his camera.
    let size = |name: &str| {
        format!(
            "const v = {}?.querySelector('video'); return v ? [v.videoWidth, v.videoHeight] : null",
            tile_named(name)
        )
    };
    let camera_size = cy.eval(&size("Bo")).await?;
    bo.client.find(Locator::Css("#share")).await?.click().await?;
    bo.wait_for(
        "Bo's button to say Stop sharing",
        "return document.querySelector('#share').textContent === 'Stop sharing'",
    )
    .await?;
    cy.wait_for(
        "Bo's screen at Cy",
        &format!("const v = {}?.querySelector('video'); return !!v && v.videoWidth > 0 && JSON.stringify([v.videoWidth, v.videoHeight]) !== {}", tile_named("Bo"), e2e::js_str(&camera_size.to_string())),
    )
    .await?;
    eprintln!("Bo's video at Cy: camera {camera_size}, screen {}", cy.eval(&size("Bo")).await?);
    everyone_sees(&[&ana, &cy, &di], 3).await?;
    // A shared screen is readable: large across the top, the others in a row beneath it.
    let layout = |test: &str| {
        format!(
            "const b = {}.getBoundingClientRect(), a = {}.getBoundingClientRect(); return {test}",
            tile_named("Bo"),
            tile_named("Ana")
        )
    };
    cy.wait_for("Bo's screen large above Ana", &layout("b.width > 2 * a.width && b.bottom <= a.top")).await?;
    eprintln!("{:?} share seen", started.elapsed());
    cy.screenshot(&e2e::artifact("four-people-share-cy.png")).await?;
    // Chat while the screen is shared.
    bo.say("the plan, on screen").await?;
    di.wait_for(
        "Bo's chat line at Di",
        "return [...document.querySelectorAll('.chat-line .text')].some(t => t.textContent === 'the plan, on screen')",
    )
    .await?;
    // Cy clicks the large screen: the even grid, Bo's screen in it.
    let even = layout("Math.abs(b.width - a.width) < 2 && Math.abs(b.height - a.height) < 2");
    cy.client.find(Locator::XPath(&name_button("Bo"))).await?.click().await?;
    cy.wait_for("the even grid while Bo shares", &even).await?;
    // From the keyboard, on Ana's name: Ana's tile is large, and stays so after the share.
    cy.client.find(Locator::XPath(&name_button("Ana"))).await?.send_keys(&Key::Enter.to_string()).await?;
    let ana_large = layout("a.width > 2 * b.width && a.bottom <= b.top");
    cy.wait_for("Ana large above Bo", &ana_large).await?;
    bo.client.find(Locator::Css("#share")).await?.click().await?;
    bo.wait_for(
        "Bo's own camera back on his tile",
        "return !document.querySelector('video.screen') && !!document.querySelector('.tile.self video.mirror')",
    )
    .await?;
    everyone_sees(&[&ana, &cy, &di], 3).await?;
    cy.wait_for("Ana still large", &ana_large).await?;
    cy.client.find(Locator::XPath(&name_button("Ana"))).await?.click().await?;
    cy.wait_for("the even grid again", &even).await?;
    eprintln!("{:?} share and back", started.elapsed());
    // Joining, the call, the share and the chat all ran within the server's
    // Content-Security-Policy: a policy that blocked any of it would break
    // the app without an error of the app's own.
    for person in [&ana, &bo, &cy, &di] {
        person.assert_csp_kept().await?;
    }

    // Di leaves: the others drop Di's tile and carry on.
    di.client.find(Locator::Css("#leave")).await?.click().await?;
    di.wait_for("Di's tab to be plain Moim again", "return document.title === 'Moim'").await?;
    for person in [&ana, &bo, &cy] {
        person.wait_for("Di's tile to go", &format!("return !{}", tile_named("Di"))).await?;
    }
    everyone_sees(&[&ana, &bo, &cy], 2).await?;
    for person in [ana, bo, cy, di] {
        person.close().await?;
    }
    Ok(())
}
