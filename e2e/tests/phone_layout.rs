//! Every phone, every name: the welcome and room screens fit portrait phones
//! from 320 px wide and a phone held sideways, with the longest room name
//! (64 characters, no break opportunity) and display names (40) the rules
//! allow, in English and Korean: nothing scrolls sideways, the page is not
//! zoomed out, Join can be pressed, every control of the bar is on screen.
//! The same holds with six people and a shared screen, with the device
//! pickers and the help list open, and for the error banners.

use e2e::{js_str, Browser, Harness, Result};
use fantoccini::{key::Key, Locator};

const ROOM: &str = "teamstandup20261204weeklyplanningandretrospectivewithallofthecre";
const ANA: &str = "Anastasia Konstantinopoulou-Wolfeschlege";
const BO: &str = "보라색하늘아래에서노래하는사람들의모임을이끄는사람입니다하하하하하하하하하하하하";

/// What does not fit: sideways scrolling, a zoomed-out page, the named
/// elements that are not wholly inside the viewport's width, and a tile's
/// name or badges that stick out of the tile.
/// (A page wider than the phone widens the layout viewport, `innerWidth`,
/// past the screen's, `clientWidth`: the browser zooms out or scrolls.)
const OVERFLOW: &str = "const w = document.documentElement.clientWidth, out = [];
  if (window.innerWidth > w) out.push(`laid out ${window.innerWidth} wide on a screen of ${w}`);
  if (document.documentElement.scrollWidth > w) out.push(`scrolls sideways: ${document.documentElement.scrollWidth} > ${w}`);
  if (window.visualViewport && window.visualViewport.scale < 0.99) out.push(`zoomed out to ${window.visualViewport.scale}`);
  for (const sel of arguments[0]) for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.left < -0.5 || r.right > w + 0.5)) out.push(`${sel} from ${Math.round(r.left)} to ${Math.round(r.right)} of ${w}`);
  }
  for (const part of document.querySelectorAll('.tile figcaption > *, .tile > .link')) {
    const r = part.getBoundingClientRect(), tile = part.closest('.tile').getBoundingClientRect();
    if (r.width > 0 && (r.top < tile.top - 0.5 || r.bottom > tile.bottom + 0.5 || r.right > tile.right + 0.5))
      out.push(`a tile's ${part.className} sticks out of it`);
  }
  return out;";

async fn overflow(person: &Browser, selectors: &[&str]) -> Result<Vec<String>> {
    let found = person.client.execute(OVERFLOW, vec![serde_json::json!(selectors)]).await?;
    Ok(serde_json::from_value(found)?)
}

/// Whether a tap at the middle of `selector` (scrolled into view) lands on it.
async fn tappable(person: &Browser, selector: &str) -> Result<bool> {
    let script = format!(
        "const el = document.querySelector({s}); el.scrollIntoView({{block: 'center'}});
         const r = el.getBoundingClientRect();
         const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
         return !!hit && (hit === el || el.contains(hit));",
        s = js_str(selector)
    );
    Ok(person.eval(&script).await? == true)
}

/// Opens a phone's page in Korean.
async fn in_korean(harness: &Harness, phone: &Browser) -> Result<()> {
    let source = serde_json::json!({ "source": "localStorage.setItem('moim.lang', 'ko')" });
    harness.cdp(phone, "Page.addScriptToEvaluateOnNewDocument", source).await?;
    Ok(())
}

/// A phone of `width` × `height`, in Korean if `korean`, and the tag its screenshots are named by.
async fn open_phone(harness: &Harness, width: u32, height: u32, korean: bool) -> Result<(Browser, String)> {
    let phone = harness.phone_of(width, height).await?;
    if korean {
        in_korean(harness, &phone).await?;
    }
    Ok((phone, format!("{width}x{height}{}", if korean { "-ko" } else { "" })))
}

/// One phone joins the room (where a desktop member with a long name waits) and is measured.
async fn check_phone(harness: &Harness, width: u32, height: u32, korean: bool) -> Result<()> {
    let (phone, tag) = open_phone(harness, width, height, korean).await?;
    phone.open_room(ROOM).await?;
    phone.wait_for_preview().await?;
    phone.type_name(BO).await?;
    let welcome = overflow(&phone, &["#join", "#room", "#name", "header", ".preview"]).await?;
    phone.screenshot(&e2e::artifact(&format!("phone-welcome-{tag}.png"))).await?;
    assert!(welcome.is_empty(), "{tag} welcome screen: {welcome:?}");
    assert!(tappable(&phone, "#join").await?, "{tag}: Join can be pressed (nothing lies over it)");
    phone.eval("document.querySelector('#join').click()").await?;
    phone.wait_for_live_remote_videos(1).await?;
    let room =
        overflow(&phone, &["header", "header h1", ".controls button", "#devices-button", ".tile", ".side"]).await?;
    phone.screenshot(&e2e::artifact(&format!("phone-room-{tag}.png"))).await?;
    assert!(room.is_empty(), "{tag} room screen: {room:?}");
    // The long names are shortened, and whole on hover or focus.
    let title = phone
        .eval("const h = document.querySelector('header h1'); return h.title || h.getAttribute('aria-label') || ''")
        .await?;
    assert_eq!(title, ROOM, "{tag}: the room's whole name is there to read");
    // A tile's long name, shortened, is whole while it has the focus, inside its tile.
    let whole = "const name = document.querySelector('.tile.remote .name'); name.focus();
        const r = name.getBoundingClientRect(), tile = name.closest('.tile').getBoundingClientRect();
        return [name.scrollWidth <= name.clientWidth, r.left >= tile.left && r.right <= tile.right && r.top >= tile.top]";
    assert_eq!(phone.eval(whole).await?, serde_json::json!([true, true]), "{tag}: a focused tile's name is whole");
    phone.screenshot(&e2e::artifact(&format!("phone-name-focused-{tag}.png"))).await?;
    phone.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_of_every_size_fit_the_longest_names() -> Result<()> {
    let harness = Harness::start(6).await?;
    let ana = harness.browser(&[]).await?;
    ana.join(ROOM, ANA).await?;
    for (width, height) in [(320, 568), (390, 844), (844, 390)] {
        check_phone(&harness, width, height, false).await?;
    }
    check_phone(&harness, 320, 568, true).await?;
    ana.close().await
}

/// What the room screen of six, with a screen shared, must keep on screen.
const ROOM_PARTS: &[&str] =
    &["header", "header h1", ".controls button", ".tile", ".tile .name", ".tile .badge", ".side"];

/// The sixth member joins on a phone where five wait, one of them sharing a
/// screen; the phone opens its device pickers and the help list. At the
/// narrowest size a seventh phone is refused: the room-full banner fits.
async fn sixth_on_a_phone(harness: &Harness, width: u32, height: u32, korean: bool) -> Result<()> {
    let (phone, tag) = open_phone(harness, width, height, korean).await?;
    phone.join(ROOM, BO).await?;
    phone.wait_for("five others", "return document.querySelectorAll('.tile.remote').length === 5").await?;
    phone
        .wait_for("the shared screen, large", "return document.querySelector('.grid > .large video')?.videoWidth > 0")
        .await?;
    let room = overflow(&phone, ROOM_PARTS).await?;
    phone.screenshot(&e2e::artifact(&format!("phone-six-{tag}.png"))).await?;
    assert!(room.is_empty(), "{tag} six and a screen: {room:?}");

    // A tile's connection details, on the narrowest tile.
    phone.eval("document.querySelector('.tile.remote:not(.large) button.link').click()").await?;
    phone.wait_for("the connection details", "return !!document.querySelector('.link-details')").await?;
    let details = overflow(&phone, &[".link-details"]).await?;
    phone.screenshot(&e2e::artifact(&format!("phone-details-{tag}.png"))).await?;
    assert!(details.is_empty(), "{tag} connection details: {details:?}");
    phone.eval("document.querySelector('.tile.remote:not(.large) button.link').click()").await?;

    phone.client.find(Locator::Css("#devices-button")).await?.click().await?;
    phone
        .wait_for("the pickers", "return document.querySelector('#camera-select')?.getClientRects().length > 0")
        .await?;
    let devices = overflow(&phone, &["#devices .picker", "#devices select", ".controls button"]).await?;
    let unreadable = phone.unreadable_pickers().await?;
    phone.screenshot(&e2e::artifact(&format!("phone-devices-{tag}.png"))).await?;
    assert!(devices.is_empty() && unreadable.is_empty(), "{tag} device pickers: {devices:?} {unreadable:?}");
    let violations = phone.accessibility_violations().await?;
    assert!(violations.is_empty(), "{tag} room screen: {violations:#?}");

    // A phone with a keyboard still has the shortcuts' list.
    phone.client.find(Locator::Css("body")).await?.send_keys("?").await?;
    phone.wait_for("the help list", "return !!document.querySelector('#help')").await?;
    let help = overflow(&phone, &["#help", "#help dd", "#help button"]).await?;
    phone.screenshot(&e2e::artifact(&format!("phone-help-{tag}.png"))).await?;
    assert!(help.is_empty(), "{tag} help list: {help:?}");
    phone.client.find(Locator::Css("body")).await?.send_keys(&Key::Escape.to_string()).await?;

    if width == 320 {
        let (seventh, _) = open_phone(harness, width, height, korean).await?;
        seventh.join(ROOM, ANA).await?;
        seventh.wait_for("the room-full message", "return !!document.querySelector('#join-error')").await?;
        let full = overflow(&seventh, &["#join-error", "#join", "header"]).await?;
        seventh.screenshot(&e2e::artifact(&format!("phone-full-{tag}.png"))).await?;
        assert!(full.is_empty(), "{tag} room-full banner: {full:?}");
        seventh.close().await?;
    }
    // Leaving gives the seat back at once (a closed page's is kept for its return).
    phone.client.find(Locator::Css("#leave")).await?.click().await?;
    phone.wait_for("the welcome screen", "return !!document.querySelector('#join')").await?;
    phone.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_people_and_a_shared_screen_fit_a_phone() -> Result<()> {
    let harness = Harness::start(6).await?;
    let ana = harness.browser(&["--use-fake-device-for-media-stream=fps=10"]).await?;
    ana.join(ROOM, ANA).await?;
    ana.client.find(Locator::Css("#share")).await?.click().await?;
    ana.wait_for("the share", "return document.querySelector('#share').getAttribute('aria-pressed') === 'true'")
        .await?;
    // Four more with the longest names, as bare seats: their tiles show names, no video.
    let names: Vec<String> = (1..=4).map(|i| format!("{}{i}", &ANA[..ANA.len() - 1])).collect();
    let _seats = harness.hold_seats_as(ROOM, &names).await?;
    for (width, height) in [(320, 568), (390, 844), (844, 390)] {
        sixth_on_a_phone(&harness, width, height, false).await?;
    }
    sixth_on_a_phone(&harness, 320, 568, true).await?;
    ana.close().await
}

/// A phone that refuses the camera and microphone: the banner and its
/// choices fit, and "Join without camera or microphone" joins at one press.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_banner_fits_a_phone() -> Result<()> {
    let harness = Harness::start(6).await?;
    for korean in [false, true] {
        let phone = harness.phone_denying_media(320, 568).await?;
        let tag = if korean { "320x568-ko" } else { "320x568" };
        if korean {
            in_korean(&harness, &phone).await?;
        }
        phone.open_room(ROOM).await?;
        phone.wait_for("the media message", "return !!document.querySelector('#media-error')").await?;
        phone.client.find(Locator::Css("#name")).await?.send_keys(BO).await?;
        let banner = overflow(&phone, &["#media-error", "#media-error button", "#join", "header"]).await?;
        phone.screenshot(&e2e::artifact(&format!("phone-media-refused-{tag}.png"))).await?;
        assert!(banner.is_empty(), "{tag} media banner: {banner:?}");
        phone.client.find(Locator::Css("#receive-only")).await?.click().await?;
        phone.wait_for("the room screen", "return !!document.querySelector('#leave')").await?;
        let room = overflow(&phone, ROOM_PARTS).await?;
        phone.screenshot(&e2e::artifact(&format!("phone-without-media-{tag}.png"))).await?;
        assert!(room.is_empty(), "{tag} room without media: {room:?}");
        phone.close().await?;
    }
    Ok(())
}
