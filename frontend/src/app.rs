use crate::components::{Room, SetupCheck, Welcome};
use crate::media::Request;
use crate::session::Session;
use leptos::prelude::*;

/// The whole page: the welcome screen until you are in a room; or, at
/// `/check`, "Test my setup".
#[component]
pub fn App() -> impl IntoView {
    crate::i18n::provide_lang();
    if crate::route::is_setup_check() {
        return view! { <SetupCheck /> }.into_any();
    }
    let session = Session::new();
    provide_context(session);
    // Start the camera and the socket at once, so the preview is live while
    // you type and Join needs no handshake.
    session.start_media(Request::camera_and_mic());
    session.preconnect();
    view! {
        <Show when=move || session.in_room() fallback=|| view! { <Welcome /> }>
            <Room />
        </Show>
    }
    .into_any()
}
