use super::{
    Chat, DevicePickers, HelpOverlay, LanguagePicker, MediaProblem, MediaToggles, People, SelfTile, ShareButton, Tile,
};
use crate::i18n::{tr, use_lang, use_texts};
use crate::meeting::RemoteTile;
use crate::session::Session;
use leptos::prelude::*;
use shared::pages::Pages;
use shared::spotlight::Spotlight;
use shared::PeerId;
use wasm_bindgen::JsCast;

/// The meeting: everyone's video, your controls, the people and the chat.
#[component]
pub fn Room() -> impl IntoView {
    let session = expect_context::<Session>();
    let view_state = session.view;
    let (lang, t) = (use_lang(), use_texts());
    let count = move || view_state.tiles.with(Vec::len) + 1;
    // The grid lays out the tiles drawn (a new arrival's waits a moment).
    let drawn = move || view_state.tiles.get().into_iter().filter(|tile| tile.drawn.get()).collect::<Vec<_>>();
    // One tile large, the rest in a row below (shared::spotlight): a shared
    // screen unasked, or the one clicked. One listener for every tile: a click
    // in a remote tile (or Enter on its name) picks it.
    let spotlight = RwSignal::new(Spotlight::Auto);
    // Past shared::pages::PER_PAGE people the grid pages, a speaker brought
    // onto the page shown (meeting/view.rs keeps the pages). A tile off it
    // is hidden (unless large): its sound plays, and the server sends no
    // video for it (meeting/views.rs reads it as not drawn).
    let shown = move |tile: &RemoteTile| {
        view_state.pages.with(|pages| pages.shows(tile.peer)) || spotlight.get().is_large(tile.peer, tile.sharing.get())
    };
    let in_grid = move || drawn().iter().filter(|tile| shown(tile)).count() + 1;
    // Columns for a near-square grid: 1, 2, 2, 2, 3, 3 for one to six people.
    let columns = move || (in_grid() as f64).sqrt().ceil() as usize;
    let on_grid_click = move |ev: web_sys::MouseEvent| {
        let tile = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest(".tile.remote").ok().flatten());
        let Some(tile) = tile else { return };
        if let Some(peer) = tile.get_attribute("data-peer").and_then(|id| id.parse().ok()) {
            spotlight.set(Spotlight::clicked(PeerId(peer), tile.class_list().contains("large")));
        }
    };
    // The tab says which meeting it is, among the others.
    Effect::new(move |_| set_tab_title(&format!("{} · Moim", view_state.room.get())));
    on_cleanup(|| set_tab_title("Moim"));
    // On a narrow screen the pickers wait behind a button (style.css), leaving the room to the video.
    let devices_open = RwSignal::new(false);
    view! {
        <main class="room">
            <header>
                // Shortened with an ellipsis when long: whole in the title.
                <h1 title=move || view_state.room.get()>{move || view_state.room.get()}</h1>
                <span class="count">{move || (t().here)(count())}</span>
                <button id="copy-link" on:click=move |_| crate::route::copy_room_link(&view_state.room.get_untracked())>{tr(|t| t.copy_link)}</button>
                <LanguagePicker />
            </header>
            {move || view_state.notice.get().map(|problem| view! {
                <div class="banner warn" role="status">
                    <span id="notice">{problem.text(lang.get())}</span>
                    {problem.is_connection().then(|| view! { " " <super::SetupCheckLink /> })}
                </div>
            })}
            <MediaProblem />
            <section class="grid" data-count=in_grid style:--columns=move || columns().to_string() on:click=on_grid_click>
                <SelfTile />
                <For each=drawn key=|tile| tile.peer children=move |tile| view! { <Tile tile spotlight /> } />
            </section>
            <nav class="controls">
                <PageTurner />
                <MediaToggles />
                <ShareButton />
                <button id="devices-button" aria-controls="devices" aria-expanded=move || devices_open.get().to_string()
                    on:click=move |_| devices_open.update(|open| *open = !*open)>{tr(|t| t.devices)}</button>
                <div id="devices" class:open=move || devices_open.get()><DevicePickers /></div>
                <HelpOverlay />
                <button id="leave" class="leave" on:click=move |_| session.leave()>{tr(|t| t.leave)}</button>
            </nav>
            <aside class="side">
                <People />
                <Chat />
            </aside>
        </main>
    }
}

/// "‹ 1 / 2 ›" under the grid, while there is more than one page.
#[component]
fn PageTurner() -> impl IntoView {
    let pages = expect_context::<Session>().view.pages;
    let page = move || pages.with(Pages::page);
    let count = move || pages.with(Pages::count);
    // Always there, hidden while everyone fits: cheaper than drawing it
    // anew. The pages go round, so neither button is ever disabled.
    view! {
        <span class="pages" hidden=move || count() < 2>
            <button id="page-previous" aria-label=tr(|t| t.previous_page) on:click=move |_| pages.update(Pages::previous)>"‹"</button>
            <span id="page-number">{move || format!("{} / {}", page() + 1, count())}</span>
            <button id="page-next" aria-label=tr(|t| t.next_page) on:click=move |_| pages.update(Pages::next)>"›"</button>
        </span>
    }
}

fn set_tab_title(title: &str) {
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        document.set_title(title);
    }
}
