//! axe-core finds no violations on the welcome screen, the room screen, the
//! help overlay, the tile's connection details and the error banners.

use e2e::{Browser, Harness, Result};

async fn no_violations(person: &Browser, screen: &str) -> Result<()> {
    let found = person.accessibility_violations().await?;
    assert!(found.is_empty(), "{screen}: {found:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_finds_nothing_on_any_screen() -> Result<()> {
    let harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    ana.open_room("axe").await?;
    ana.wait_for_preview().await?;
    no_violations(&ana, "the welcome screen").await?;
    ana.join_as("Ana").await?;
    let bo = harness.browser(&[]).await?;
    bo.join("axe", "Bo").await?;
    ana.wait_for_live_remote_videos(1).await?;
    no_violations(&ana, "the room screen").await?;
    ana.eval("document.querySelector('#help-button').click()").await?;
    ana.wait_for("the help overlay", "return !!document.querySelector('#help')").await?;
    no_violations(&ana, "the help overlay").await?;
    ana.eval("document.querySelector('#help-button').click()").await?;
    ana.link_details_saying(&["Round trip"]).await?;
    no_violations(&ana, "the connection details").await?;
    // The room is full: the welcome screen's error banner.
    let cy = harness.browser(&[]).await?;
    cy.join("axe", "Cy").await?;
    cy.wait_for("the room-full message", "return !!document.querySelector('#join-error')").await?;
    no_violations(&cy, "the room-full banner").await?;
    // Media refused: its banner and choices.
    let dee = harness.browser_denying_media().await?;
    dee.open_room("other").await?;
    dee.wait_for("the media message", "return !!document.querySelector('#media-error')").await?;
    no_violations(&dee, "the media banner").await?;
    for person in [ana, bo, cy, dee] {
        person.close().await?;
    }
    Ok(())
}
