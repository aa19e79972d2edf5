use crate::i18n::{tr, use_texts};
use crate::session::Session;
use gloo_events::EventListener;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// The keyboard shortcuts, and the "Shortcuts" button with their list
/// (`Texts::shortcut_list`). They work anywhere in the meeting except while typing.
#[component]
pub fn HelpOverlay() -> impl IntoView {
    let session = expect_context::<Session>();
    let open = RwSignal::new(false);
    let t = use_texts();
    let listener = web_sys::window().map(|window| {
        EventListener::new(&window, "keydown", move |event| {
            let Some(key) = event.dyn_ref::<web_sys::KeyboardEvent>() else { return };
            if key.ctrl_key() || key.meta_key() || key.alt_key() || typing_in(key) {
                return;
            }
            match key.key().as_str() {
                "m" | "M" => session.toggle_mute(),
                "v" | "V" => session.toggle_camera(),
                "s" | "S" if crate::media::can_share_screen() => session.toggle_share(),
                "?" => open.update(|o| *o = !*o),
                "Escape" => open.set(false),
                _ => return,
            }
            event.prevent_default();
        })
    });
    let _listener = StoredValue::new_local(listener);
    view! {
        <button id="help-button" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
            {tr(|t| t.shortcuts)}
        </button>
        <Show when=move || open.get()>
            <div class="overlay" on:click=move |_| open.set(false)>
                <div id="help" class="dialog" role="dialog" aria-label=tr(|t| t.keyboard_shortcuts)>
                    <h2>{tr(|t| t.keyboard_shortcuts)}</h2>
                    <dl>{move || t().shortcut_list.map(|(key, what)| view! { <dt><kbd>{key}</kbd></dt><dd>{what}</dd> })}</dl>
                </div>
            </div>
        </Show>
    }
}

/// Whether the key went to a text field (typing "m" in the chat must not mute).
fn typing_in(event: &web_sys::KeyboardEvent) -> bool {
    event.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).is_some_and(|el| {
        matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT") || el.has_attribute("contenteditable")
    })
}
