use crate::i18n::{tr, use_texts};
use crate::session::Session;
use leptos::prelude::*;

/// Who is here, and who is muted or has the camera off.
#[component]
pub fn People() -> impl IntoView {
    let session = expect_context::<Session>();
    let tiles = session.view.tiles;
    let t = use_texts();
    view! {
        // Focusable: on a small screen the list scrolls, and must from the keyboard too.
        <section class="people" tabindex="0" aria-labelledby="people-heading">
            <h2 id="people-heading">{move || (t().people)(tiles.with(Vec::len) + 1)}</h2>
            <ul id="people">
                <li class="person me">{tr(|t| t.you)}
                    <State muted=session.muted.into() camera_off=session.camera_off.into() />
                </li>
                <For each=move || tiles.get() key=|tile| tile.peer children=|tile| view! {
                    <li class="person" data-peer=tile.peer.to_string()>
                        <span class="name" title=move || tile.name.get()>{move || tile.name.get()}</span>
                        <State muted=tile.muted.into() camera_off=tile.camera_off.into() />
                    </li>
                } />
            </ul>
        </section>
    }
}

#[component]
fn State(muted: Signal<bool>, camera_off: Signal<bool>) -> impl IntoView {
    view! {
        <Show when=move || muted.get()><span class="badge muted">{tr(|t| t.muted)}</span></Show>
        <Show when=move || camera_off.get()><span class="badge camera-off">{tr(|t| t.camera_off_badge)}</span></Show>
    }
}
