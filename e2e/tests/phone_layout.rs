//! Every phone, every name: the welcome and room screens fit portrait phones
//! from 320 px wide and a phone held sideways, with the longest room name
//! (64 characters, no break opportunity) and display names (40) the rules
//! allow, in English and Korean: nothing scrolls sideways, the page is not
//! zoomed out, Join can be pressed, every control of the bar is on screen.

use e2e::{js_str, Browser, Harness, Result};

const ROOM: &str = "teamstandup20261204weeklyplanningandretrospectivewithallofthecre";
const ANA: &str = "Anastasia Konstantinopoulou-Wolfeschlege";
const BO: &str = "보라색하늘아래에서노래하는사람들의모임을이끄는사람입니다하하하하하하하하하하하하";

/// What does not fit: sideways scrolling, a zoomed-out page, and the named
/// elements that are not wholly inside the viewport's width.
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

/// One phone joins the room (where a desktop member with a long name waits) and is measured.
async fn check_phone(harness: &Harness, width: u32, height: u32, korean: bool) -> Result<()> {
    let phone = harness.phone_of(width, height).await?;
    let tag = format!("{width}x{height}{}", if korean { "-ko" } else { "" });
    if korean {
        harness
            .cdp(
                &phone,
                "Page.addScriptToEvaluateOnNewDocument",
                serde_json::json!({ "source": "localStorage.setItem('moim.lang', 'ko')" }),
            )
            .await?;
    }
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
