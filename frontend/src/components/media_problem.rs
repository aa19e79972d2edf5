use crate::media::Request;
use crate::session::Session;
use leptos::prelude::*;

/// Why there is no camera or microphone, and what to do instead.
#[component]
pub fn MediaProblem() -> impl IntoView {
    let session = expect_context::<Session>();
    move || {
        let err = session.media_error.get()?;
        let retry = err.may_work_on_retry();
        Some(view! {
            <div class="banner error" id="media-error" role="alert">
                <p>{err.to_string()}</p>
                <div class="actions">
                    <Show when=move || retry>
                        <button on:click=move |_| session.start_media(Request::camera_and_mic())>"Try again"</button>
                        <button id="audio-only" on:click=move |_| session.start_media(Request::AUDIO_ONLY)>
                            "Use only my microphone"
                        </button>
                    </Show>
                    // Watching and listening needs no permission and no secure page.
                    <button id="receive-only" on:click=move |_| session.receive_only()>
                        "Join without camera or microphone"
                    </button>
                </div>
            </div>
        })
    }
}
