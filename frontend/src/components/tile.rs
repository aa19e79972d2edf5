use super::StreamVideo;
use crate::i18n::{tr, use_texts};
use crate::meeting::RemoteTile;
use crate::session::Session;
use leptos::prelude::*;
use shared::spotlight::Spotlight;

/// One remote member: their video, name, and what they have turned off.
/// `spotlight` says whether it fills the main area (the room's grid handles
/// the clicks that change it).
#[component]
pub fn Tile(tile: RemoteTile, spotlight: RwSignal<Spotlight>) -> impl IntoView {
    let session = expect_context::<Session>();
    let RemoteTile { peer, name, muted, camera_off, sharing, stream, connection, speaking, .. } = tile;
    let t = use_texts();
    // Gone with its member (or with the room: then the signal is too, hence `try_`).
    on_cleanup(move || {
        spotlight.try_update(|s| *s = s.left(peer));
    });
    view! {
        <figure class="tile remote" data-peer=peer.to_string() class:large=move || spotlight.get().is_large(peer, sharing.get())
            class:camera-off=move || camera_off.get() && !sharing.get() class:sharing=move || sharing.get() class:speaking=move || speaking.get() && !muted.get()>
            <StreamVideo stream=stream class="remote-video" speaker=session.speaker_id />
            <figcaption>
                // A button, so a keyboard can enlarge the tile too.
                <button type="button" class="name" title=tr(|t| t.enlarge_title)>{move || name.get()}</button>
                <Show when=move || muted.get()><span class="badge muted" title=tr(|t| t.muted)>{tr(|t| t.muted)}</span></Show>
                <Show when=move || camera_off.get()><span class="badge camera-off">{tr(|t| t.camera_off_badge)}</span></Show>
                <Show when=move || sharing.get()><span class="badge presenting">{tr(|t| t.presenting)}</span></Show>
                {move || t().connection(connection.get())
                    .map(|state| view! { <span class="badge state">{state}</span> })}
            </figcaption>
        </figure>
    }
}
