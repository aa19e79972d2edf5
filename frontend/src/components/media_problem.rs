use crate::i18n::use_lang;
use crate::media::Request;
use crate::session::Session;
use leptos::prelude::*;

/// Why there is no camera or microphone, and what to do instead.
#[component]
pub fn MediaProblem() -> impl IntoView {
    let session = expect_context::<Session>();
    let lang = use_lang();
    // Drawn again whole when the error or the language changes.
    move || {
        let err = session.media_error.get()?;
        let lang = lang.get();
        let t = lang.texts();
        let retry = err.may_work_on_retry().then(|| view! {
            <button on:click=move |_| session.start_media(Request::camera_and_mic())>{t.try_again}</button>
            <button id="audio-only" on:click=move |_| session.start_media(Request::AUDIO_ONLY)>{t.use_only_microphone}</button>
        });
        Some(view! {
            <div class="banner error" id="media-error" role="alert">
                <p>{err.text(lang)}</p>
                <p><super::SetupCheckLink /></p>
                <div class="actions">
                    {retry}
                    // Watching and listening needs no permission and no secure page.
                    <button id="receive-only" on:click=move |_| session.receive_only()>{t.join_without_media}</button>
                </div>
            </div>
        })
    }
}
