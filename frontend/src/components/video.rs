use crate::media;
use leptos::html::Video;
use leptos::prelude::*;
use web_sys::MediaStream;

/// A `<video>` showing a stream. `playsinline` keeps iOS from going full
/// screen; `muted` is for your own preview, so you don't hear yourself.
/// `speaker` picks the output device where the browser allows it.
#[component]
pub fn StreamVideo(
    stream: RwSignal<Option<MediaStream>, LocalStorage>,
    #[prop(optional)] muted: bool,
    #[prop(optional)] mirror: bool,
    #[prop(optional)] class: &'static str,
    #[prop(optional)] speaker: Option<RwSignal<Option<String>>>,
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
    Effect::new(move |_| {
        if let (Some(el), Some(id)) = (video.get(), speaker.and_then(|s| s.get())) {
            media::set_speaker(&el, &id);
        }
    });
    view! {
        <video node_ref=video class=class class:mirror=mirror autoplay playsinline
            muted=muted prop:muted=muted></video>
    }
}
