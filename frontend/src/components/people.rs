use crate::session::Session;
use leptos::prelude::*;

/// Who is here, and who is muted or has the camera off.
#[component]
pub fn People() -> impl IntoView {
    let session = expect_context::<Session>();
    let tiles = session.view.tiles;
    view! {
        <section class="people">
            <h3>{move || format!("People ({})", tiles.with(Vec::len) + 1)}</h3>
            <ul id="people">
                <li class="person me">"You"
                    <State muted=session.muted.into() camera_off=session.camera_off.into() />
                </li>
                <For each=move || tiles.get() key=|tile| tile.peer children=|tile| view! {
                    <li class="person" data-peer=tile.peer.to_string()>
                        <span class="name">{move || tile.name.get()}</span>
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
        <Show when=move || muted.get()><span class="badge muted">"Muted"</span></Show>
        <Show when=move || camera_off.get()><span class="badge camera-off">"Camera off"</span></Show>
    }
}
