use super::{Chat, DevicePickers, MediaProblem, MediaToggles, StreamVideo, Tile};
use crate::session::Session;
use leptos::prelude::*;

/// The meeting: everyone's video, your controls, the chat.
#[component]
pub fn Room() -> impl IntoView {
    let session = expect_context::<Session>();
    let view_state = session.view;
    let count = move || view_state.tiles.with(Vec::len) + 1;
    view! {
        <main class="room">
            <header>
                <h2>{move || view_state.room.get()}</h2>
                <span class="count">{move || format!("{} here", count())}</span>
                <button id="copy-link" on:click=move |_| copy_link(&view_state.room.get_untracked())>"Copy link"</button>
            </header>
            {move || view_state.notice.get().map(|text| view! { <div class="banner warn" id="notice" role="status">{text}</div> })}
            <MediaProblem />
            <section class="grid" data-count=count>
                <figure class="tile self" class:camera-off=move || session.camera_off.get()>
                    <StreamVideo stream=session.preview muted=true mirror=true class="self" />
                    <figcaption><span class="name">"You"</span>
                        <Show when=move || session.muted.get()><span class="badge muted">"Muted"</span></Show>
                    </figcaption>
                </figure>
                <For each=move || view_state.tiles.get() key=|tile| tile.peer children=|tile| view! { <Tile tile /> } />
            </section>
            <nav class="controls">
                <MediaToggles />
                <DevicePickers />
                <button id="leave" class="leave" on:click=move |_| session.leave()>"Leave"</button>
            </nav>
            <Chat />
        </main>
    }
}

fn copy_link(room: &str) {
    let link = crate::route::room_link(room);
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(&link);
    }
}
