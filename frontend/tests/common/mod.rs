//! Helpers for the tests that mount the whole app (tests/i18n.rs,
//! tests/early_page.rs).

use gloo_timers::future::TimeoutFuture;

pub fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Polls `check` every 20 ms for up to `ms`.
pub async fn wait_until(what: &str, ms: u32, check: impl Fn() -> bool) {
    for _ in 0..ms / 20 {
        if check() {
            return;
        }
        TimeoutFuture::new(20).await;
    }
    panic!("timed out waiting for {what}");
}
