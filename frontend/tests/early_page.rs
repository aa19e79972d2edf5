//! `index.html`'s early screen (the camera shown before the app starts) taken
//! over by the app, in headless Chromium like tests/browser.rs:
//! `cargo test -p frontend --target wasm32-unknown-unknown --test early_page`.

mod common;

use common::{document, wait_until};
use frontend::early_page::{PREVIEW_ID, SCREEN_ID};
use frontend::media::{self, Request};
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::HtmlVideoElement;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn the_welcome_screen_carries_on_in_the_early_preview() {
    // What index.html leaves: its capture's promise, and the stream playing in
    // `#early-preview` on the bare screen.
    let stream = media::capture(&Request::camera_and_mic()).await.expect("fake devices");
    let window = web_sys::window().unwrap();
    let promise = js_sys::Promise::resolve(&stream);
    js_sys::Reflect::set(&window, &media::EARLY_CAPTURE.into(), &promise).unwrap();
    let screen = document().create_element("main").unwrap();
    screen.set_id(SCREEN_ID);
    let video: HtmlVideoElement = document().create_element("video").unwrap().unchecked_into();
    video.set_id(PREVIEW_ID);
    video.set_class_name("self mirror");
    video.set_muted(true);
    screen.append_child(&video).unwrap();
    document().body().unwrap().append_child(&screen).unwrap();
    video.set_src_object(Some(&stream));
    let _ = video.play();
    wait_until("the early preview to play for a while", 10_000, || video.current_time() > 0.5).await;
    let played = video.current_time();

    let parent: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&parent).unwrap();
    let handle = leptos::mount::mount_to(parent.clone(), frontend::app::App);
    wait_until("the early screen to go", 2_000, || document().get_element_by_id(SCREEN_ID).is_none()).await;

    let shown = parent.query_selector(".welcome .preview video.self").unwrap().expect("a preview in the app");
    assert!(js_sys::Object::is(&shown, &video), "the app shows the very element the page showed the camera in");
    let previews = js_sys::eval("document.querySelectorAll('video.self').length").unwrap();
    assert_eq!(previews.as_f64(), Some(1.0), "one preview, not two");
    assert!(!video.has_attribute("id"), "the early id is not left behind");
    assert!(video.src_object().is_some_and(|s| js_sys::Object::is(&s, &stream)), "the same stream");
    assert!(!video.paused());
    assert!(video.current_time() >= played, "not started again ({} s after {played} s)", video.current_time());
    assert!(video.class_list().contains("mirror"));

    // The app drives it: leaving the welcome screen takes it along.
    TimeoutFuture::new(200).await;
    drop(handle);
    parent.remove();
    assert!(!video.is_connected(), "the preview left with the app");
    TimeoutFuture::new(50).await;
    assert!(video.paused(), "and stopped playing there");
    for track in stream.get_tracks() {
        track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
    }
}
