use crate::media::Request;
use crate::session::Session;
use leptos::prelude::*;

/// Why there is no camera or microphone, and what to do instead.
#[component]
pub fn MediaProblem() -> impl IntoView {
    let session = expect_context::<Session>();
    move || {
        let err = session.media_error.get()?;
        let fallback = err.offers_fallback();
        Some(view! {
            <div class="banner error" id="media-error" role="alert">
                <p>{err.to_string()}</p>
                <Show when=move || fallback>
                    <div class="actions">
                        <button on:click=move |_| session.start_media(Request::camera_and_mic())>"Try again"</button>
                        <button id="audio-only" on:click=move |_| session.start_media(Request::AUDIO_ONLY)>
                            "Use only my microphone"
                        </button>
                        <button id="receive-only" on:click=move |_| session.receive_only()>
                            "Join without camera or microphone"
                        </button>
                    </div>
                </Show>
            </div>
        })
    }
}
