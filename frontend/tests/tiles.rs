//! The meeting's tiles: each member's signals live as long as the member, not
//! as long as the page. Runs in headless Chromium like tests/browser.rs:
//! `cargo test -p frontend --target wasm32-unknown-unknown --test tiles`.

mod common;

use common::{document, wait_until};
use frontend::meeting::{MeetingView, RemoteTile};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use shared::call::ConnectionState;
use shared::{MediaState, PeerId};
use std::collections::VecDeque;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Whether every one of the tile's signals has been disposed.
fn disposed(tile: &RemoteTile) -> bool {
    tile.name.try_get_untracked().is_none()
        && tile.muted.try_get_untracked().is_none()
        && tile.camera_off.try_get_untracked().is_none()
        && tile.sharing.try_get_untracked().is_none()
        && tile.stream.try_get_untracked().is_none()
        && tile.connection.try_get_untracked().is_none()
        && tile.speaking.try_get_untracked().is_none()
        && tile.drawn.try_get_untracked().is_none()
}

/// Long enough for a gone tile's signals to be disposed: after the page's
/// redraw, on a timer of their own.
async fn redrawn() {
    TimeoutFuture::new(20).await;
}

#[wasm_bindgen_test]
async fn a_members_signals_are_disposed_when_they_leave_through_hundreds_of_arrivals() {
    let page = Owner::new();
    let view = page.with(MeetingView::new);
    // 200 arrivals; up to five people here at once, the longest here leaving first.
    let mut here: VecDeque<RemoteTile> = VecDeque::new();
    for n in 0..200u64 {
        let muted = MediaState { muted: n % 2 == 0, ..MediaState::default() };
        let tile = view.add_tile(PeerId(n), &format!("guest {n}"), muted, false);
        assert_eq!(tile.muted.get_untracked(), n % 2 == 0);
        assert_eq!(view.tile(PeerId(n)).map(|t| t.peer), Some(PeerId(n)));
        here.push_back(tile);
        if here.len() > 5 {
            let gone = here.pop_front().unwrap();
            assert_eq!(view.remove_tile(gone.peer), Some(format!("guest {}", gone.peer.0)), "their name, for the chat");
            assert!(view.tile(gone.peer).is_none());
            assert_eq!(view.remove_tile(gone.peer), None, "gone once");
            redrawn().await;
            assert!(disposed(&gone), "{}'s signals went with them", gone.peer);
            // What a late callback (the speaking poll, a timer) does with it: nothing, and no panic.
            gone.speaking.maybe_update(|s| !std::mem::replace(s, true));
            gone.drawn.set(true);
        }
        assert_eq!(view.live_tiles(), here.len());
        assert_eq!(view.tiles.with_untracked(Vec::len), here.len());
    }
    // Those still here are untouched by the others' going.
    for tile in &here {
        assert_eq!(tile.name.get_untracked(), format!("guest {}", tile.peer.0));
    }
    let order: Vec<PeerId> = view.tiles.with_untracked(|tiles| tiles.iter().map(|t| t.peer).collect());
    assert_eq!(order, here.iter().map(|t| t.peer).collect::<Vec<_>>(), "in order of arrival");
    // Leaving the meeting takes the rest.
    view.clear_tiles();
    assert_eq!(view.live_tiles(), 0);
    assert!(view.tiles.with_untracked(Vec::is_empty));
    redrawn().await;
    assert!(here.iter().all(disposed));
}

#[wasm_bindgen_test]
async fn a_member_who_comes_back_gets_a_new_tile_and_the_page_going_takes_the_tiles_with_it() {
    let page = Owner::new();
    let view = page.with(MeetingView::new);
    let old = view.add_tile(PeerId(1), "Ann", MediaState::default(), true);
    // Back (a new seat with the same id): the old tile's signals go, one tile stays.
    let new = view.add_tile(PeerId(1), "Ann again", MediaState::default(), false);
    assert_eq!(view.live_tiles(), 1);
    redrawn().await;
    assert!(disposed(&old));
    assert_eq!(new.name.get_untracked(), "Ann again");
    let other = view.add_tile(PeerId(2), "Bo", MediaState::default(), true);
    // The page's owner going (its tiles still there) disposes theirs too.
    page.cleanup();
    assert!(disposed(&new) && disposed(&other));
    assert!(view.tiles.try_get_untracked().is_none());
}

/// The page's rows: how many, and their text.
fn rows(parent: &web_sys::Element) -> Vec<String> {
    let list = parent.query_selector("ul").unwrap().expect("the list");
    std::iter::successors(list.first_element_child(), web_sys::Element::next_element_sibling)
        .map(|row| row.text_content().unwrap_or_default())
        .collect()
}

#[wasm_bindgen_test]
async fn a_tile_drawn_on_the_page_goes_with_its_member_even_just_after_a_change() {
    let page = Owner::new();
    let view = page.with(MeetingView::new);
    let parent: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&parent).unwrap();
    // Drawn the way the people list and the grid draw tiles: a row per tile,
    // each reading its signals.
    let handle = leptos::mount::mount_to(parent.clone(), move || {
        view! {
            <ul>
                <For each=move || view.tiles.get() key=|tile| tile.peer children=|tile| view! {
                    <li>{move || tile.name.get()}{move || tile.muted.get().then_some(" (muted)")}
                        " " {move || format!("{:?}", tile.connection.get()).to_lowercase()}</li>
                } />
            </ul>
        }
    });
    for n in 1..=3 {
        view.add_tile(PeerId(n), &format!("guest {n}"), MediaState::default(), true);
    }
    wait_until("three rows", 1_000, || rows(&parent).len() == 3).await;
    // A change the page has not drawn yet, and the member gone in the same
    // turn: the row must go without reading the disposed signals.
    let gone = view.tile(PeerId(2)).unwrap();
    gone.muted.set(true);
    gone.connection.set(ConnectionState::Failed);
    view.remove_tile(PeerId(2));
    let stays = view.tile(PeerId(3)).unwrap();
    stays.muted.set(true);
    redrawn().await;
    assert!(disposed(&gone));
    assert_eq!(rows(&parent), ["guest 1 connecting", "guest 3 (muted) connecting"]);
    // Many comings and goings, the page drawing them as they happen.
    for n in 10..60 {
        view.add_tile(PeerId(n), &format!("guest {n}"), MediaState::default(), true);
        if n % 2 == 0 {
            TimeoutFuture::new(0).await;
        }
        view.tile(PeerId(n - 1)).inspect(|tile| tile.connection.set(ConnectionState::Connected));
        view.remove_tile(PeerId(n - 1));
    }
    TimeoutFuture::new(50).await;
    assert_eq!(rows(&parent), ["guest 1 connecting", "guest 3 (muted) connecting", "guest 59 connecting"]);
    assert_eq!(view.live_tiles(), 3);
    view.clear_tiles();
    TimeoutFuture::new(50).await;
    assert!(rows(&parent).is_empty());
    drop(handle);
    parent.remove();
}
