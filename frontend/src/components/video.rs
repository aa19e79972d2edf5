use crate::{early_page, media};
use leptos::html::Video;
use leptos::prelude::*;
use web_sys::{HtmlVideoElement, MediaStream};

/// A `<video>` showing a stream. `playsinline` keeps iOS from going full
/// screen; `muted` is for your own preview, so you don't hear yourself.
/// `speaker` picks the output device where the browser allows it.
/// `early`: carry on in the `<video>` `index.html` shows the camera in before
/// the app starts, if it is there (the welcome screen's preview, which plays
/// no sound, so `speaker` need not follow it).
#[component]
pub fn StreamVideo(
    stream: RwSignal<Option<MediaStream>, LocalStorage>,
    #[prop(optional)] muted: bool,
    #[prop(optional)] mirror: bool,
    #[prop(optional)] class: &'static str,
    #[prop(optional)] speaker: Option<RwSignal<Option<String>>>,
    #[prop(optional)] early: bool,
) -> impl IntoView {
    let video = NodeRef::<Video>::new();
    Effect::new(move |shown: Option<Option<Shown>>| {
        let stream = stream.get();
        let mut shown = shown.flatten().or_else(|| video.get().map(|ours| Shown::new(ours, early)))?;
        shown.show(stream.as_ref());
        Some(shown)
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

/// The element a [`StreamVideo`] shows its stream in.
struct Shown {
    video: HtmlVideoElement,
    /// Still showing `index.html`'s capture, not yet given a stream here.
    early: bool,
}

impl Shown {
    fn new(ours: HtmlVideoElement, early: bool) -> Self {
        match early.then(|| early_page::take_preview(&ours)).flatten() {
            Some(video) => Self { video, early: true },
            None => Self { video: ours, early: false },
        }
    }

    fn show(&mut self, stream: Option<&MediaStream>) {
        if self.early {
            // Until the app has the stream there is nothing to clear, and
            // setting the very stream it shows would start the video again.
            let Some(stream) = stream else { return };
            self.early = false;
            // (`Object::is`: web-sys' `==` on a `MediaStream` is false here for the same object.)
            if self.video.src_object().is_some_and(|shown| js_sys::Object::is(&shown, stream)) {
                return;
            }
        }
        media::attach(&self.video, stream);
        // Autoplay may be refused before a click; the join click lets it start.
        let _ = self.video.play();
    }
}
