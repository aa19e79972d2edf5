use super::StreamVideo;
use crate::i18n::tr;
use crate::media::SPEAKING;
use crate::session::Session;
use leptos::prelude::*;

/// Your own tile: the camera (mirrored, like a mirror), or the screen you share.
#[component]
pub fn SelfTile() -> impl IntoView {
    let session = expect_context::<Session>();
    let Session { muted, camera_off, sharing, mic_level, .. } = session;
    let speaking = move || !muted.get() && mic_level.get() > SPEAKING;
    view! {
        <figure class="tile self" class:camera-off=move || camera_off.get() && !sharing.get()
            class:speaking=speaking>
            <Show when=move || sharing.get()
                fallback=move || view! { <StreamVideo stream=session.preview muted=true mirror=true class="self" own_camera=true /> }>
                <StreamVideo stream=session.screen_preview muted=true class="self screen" />
            </Show>
            // Sending nothing: said on the tile where the picture would be.
            <Show when=move || session.sends_nothing() && !sharing.get()>
                <p class="self-note" id="no-media-note">{tr(|t| t.sending_nothing)}</p>
            </Show>
            <figcaption><span class="name">{tr(|t| t.you)}</span>
                <Show when=move || muted.get()><span class="badge muted">{tr(|t| t.muted)}</span></Show>
                <Show when=move || sharing.get()><span class="badge presenting">{tr(|t| t.presenting)}</span></Show>
            </figcaption>
        </figure>
    }
}
