use crate::media;
use leptos::html::Video;
use leptos::prelude::*;
use web_sys::MediaStream;

/// A `<video>` showing a stream. `playsinline` keeps iOS from going full
/// screen; `muted` is for your own preview, so you don't hear yourself.
#[component]
pub fn StreamVideo(
    stream: RwSignal<Option<MediaStream>, LocalStorage>,
    #[prop(optional)] muted: bool,
    #[prop(optional)] mirror: bool,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    let video = NodeRef::<Video>::new();
    Effect::new(move |_| {
        let stream = stream.get();
        if let Some(el) = video.get() {
            media::attach(&el, stream.as_ref());
            // Autoplay may be refused before a click; the join click lets it start.
            let _ = el.play();
        }
    });
    view! {
        <video node_ref=video class=class class:mirror=mirror autoplay playsinline
            muted=muted prop:muted=muted></video>
    }
}
