//! What `index.html` shows before the app has started: the camera, in a
//! `<video>` on a bare welcome screen. Opening the camera needs the main
//! thread at several steps, and starting the app holds it for 60–90 ms in one
//! piece, so the page shows the camera first and the app starts after
//! ([`shown`]); the app's welcome screen then carries on in that same `<video>`
//! ([`take_preview`]) so the preview does not go black and start again.
//! `index.html`'s capture itself is taken in `media::capture`.

use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlVideoElement;

/// The global promise `index.html` settles once its preview shows a frame,
/// its capture has failed, or 300 ms have passed.
pub const SHOWN: &str = "moimEarlyShown";
/// The bare welcome screen, removed when the app's is drawn.
pub const SCREEN_ID: &str = "early";
/// The `<video>` in it.
pub const PREVIEW_ID: &str = "early-preview";

/// Waits until the app may start (at once on a page without the early screen).
pub async fn shown() {
    let Some(window) = web_sys::window() else { return };
    if let Ok(promise) = Reflect::get(&window, &JsValue::from_str(SHOWN)).and_then(JsCast::dyn_into::<Promise>) {
        let _ = JsFuture::from(promise).await;
    }
}

/// Puts the early preview in `place`'s position in the page and removes the
/// rest of the early screen; `None` if there is none (it is taken once).
pub fn take_preview(place: &HtmlVideoElement) -> Option<HtmlVideoElement> {
    let document = web_sys::window()?.document()?;
    let preview = document.get_element_by_id(PREVIEW_ID)?.dyn_into::<HtmlVideoElement>().ok()?;
    // A move, within one task: the video keeps playing.
    place.replace_with_with_node_1(&preview).ok()?;
    preview.remove_attribute("id").ok()?;
    if let Some(screen) = document.get_element_by_id(SCREEN_ID) {
        screen.remove();
    }
    Some(preview)
}
