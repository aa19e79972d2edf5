use crate::components::{Room, Welcome};
use crate::media::Request;
use crate::session::Session;
use leptos::prelude::*;

/// The whole page: the welcome screen until you are in a room.
#[component]
pub fn App() -> impl IntoView {
    crate::i18n::provide_lang();
    let session = Session::new();
    provide_context(session);
    // Start the camera at once, so the preview is live while you type.
    session.start_media(Request::camera_and_mic());
    view! {
        <Show when=move || session.in_room() fallback=|| view! { <Welcome /> }>
            <Room />
        </Show>
    }
}
