//! The address bar and remembered preferences: `/r/<room>` links and the
//! display name kept in local storage (the language is kept there too, by
//! [`crate::i18n`]).

const NAME_KEY: &str = "moim.name";

/// The room named by a `/r/<room>` path, if any.
pub fn room_from_path(path: &str) -> Option<String> {
    let raw = path.strip_prefix("/r/")?.trim_end_matches('/');
    let decoded = js_sys::decode_uri_component(raw).ok()?.as_string()?;
    (!decoded.is_empty()).then_some(decoded)
}

/// The path of "Test my setup".
pub const SETUP_CHECK: &str = "/check";

pub fn is_setup_check() -> bool {
    web_sys::window().and_then(|w| w.location().pathname().ok()).is_some_and(|p| p.trim_end_matches('/') == SETUP_CHECK)
}

pub fn current_room() -> Option<String> {
    room_from_path(&web_sys::window()?.location().pathname().ok()?)
}

/// The shareable link for `room` on this server.
pub fn room_link(room: &str) -> String {
    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    format!("{origin}/r/{}", String::from(js_sys::encode_uri_component(room)))
}

/// Puts the room's link on the clipboard, to paste to the others.
pub fn copy_room_link(room: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(&room_link(room));
    }
}

/// Puts `/r/<room>` in the address bar (without reloading) so it can be copied.
pub fn show_room_in_address_bar(room: &str) {
    let Some(window) = web_sys::window() else { return };
    let path = format!("/r/{}", String::from(js_sys::encode_uri_component(room)));
    // Opened from the room's link, as most are: the browser's work for a
    // history entry is not needed at the moment of joining.
    if window.location().pathname().is_ok_and(|now| now == path) {
        return;
    }
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
    }
}

pub(crate) fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub fn remembered_name() -> String {
    storage().and_then(|s| s.get_item(NAME_KEY).ok()?).unwrap_or_default()
}

pub fn remember_name(name: &str) {
    let Some(s) = storage() else { return };
    // Opened by someone who joined before, it already says so.
    if s.get_item(NAME_KEY).ok().flatten().as_deref() != Some(name) {
        let _ = s.set_item(NAME_KEY, name);
    }
}
