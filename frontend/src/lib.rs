//! Moim's browser app. Browser APIs sit behind three small modules —
//! [`media`], [`rtc`], [`signaling`] — and the negotiation decisions live in
//! `shared::call`; [`meeting`] wires them together and [`components`] draw,
//! in English or Korean: every word on screen is in [`i18n`].

pub mod app;
pub mod components;
pub mod early_page;
pub mod i18n;
pub mod mailbox;
pub mod media;
pub mod meeting;
pub mod route;
pub mod rtc;
pub mod session;
pub mod signaling;
pub mod warm_peer;

/// Mounts the app on `<body>`, once `index.html`'s early preview is up.
pub fn start() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        early_page::shown().await;
        leptos::mount::mount_to_body(app::App);
    });
}
