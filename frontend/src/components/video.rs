use crate::{early_page, media};
use leptos::html::Video;
use leptos::prelude::*;
use std::cell::RefCell;
use web_sys::{HtmlVideoElement, MediaStream};

thread_local! {
    /// The `<video>` your camera was last shown in, carried from screen to
    /// screen (see [`StreamVideo`]'s `own_camera`).
    static OWN_CAMERA: RefCell<Option<HtmlVideoElement>> = const { RefCell::new(None) };
}

/// A `<video>` showing a stream. `playsinline` keeps iOS from going full
/// screen; `muted` is for your own preview, so you don't hear yourself.
/// `speaker` picks the output device where the browser allows it.
/// `own_camera`: your camera's preview (the welcome screen's, your tile's in
/// the room), which carries on in the element that already shows it, so it
/// neither goes black nor starts again when the screen changes: at first
/// the `<video>` `index.html` shows the camera in before the app starts,
/// then the last screen's. It plays no sound, so `speaker` need not follow it.
#[component]
pub fn StreamVideo(
    stream: RwSignal<Option<MediaStream>, LocalStorage>,
    #[prop(optional)] muted: bool,
    #[prop(optional)] mirror: bool,
    #[prop(optional)] class: &'static str,
    #[prop(optional)] speaker: Option<RwSignal<Option<String>>>,
    #[prop(optional)] own_camera: bool,
) -> impl IntoView {
    let video = NodeRef::<Video>::new();
    Effect::new(move |shown: Option<Option<Shown>>| {
        let stream = stream.get();
        let mut shown = shown.flatten().or_else(|| video.get().map(|ours| Shown::new(ours, own_camera)))?;
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
    /// Carried over already showing your camera, not yet given a stream here.
    carried: bool,
}

impl Shown {
    fn new(ours: HtmlVideoElement, own_camera: bool) -> Self {
        if !own_camera {
            return Self { video: ours, carried: false };
        }
        let carried = early_page::take_preview(&ours).or_else(|| {
            let last = OWN_CAMERA.with_borrow(Clone::clone)?;
            // A move within one task keeps it playing; from a screen already
            // gone it was paused, and `show` plays it again.
            ours.replace_with_with_node_1(&last).ok().map(|()| last)
        });
        let video = carried.clone().unwrap_or(ours);
        OWN_CAMERA.set(Some(video.clone()));
        Self { video, carried: carried.is_some() }
    }

    fn show(&mut self, stream: Option<&MediaStream>) {
        if self.carried {
            // Until the app has the stream there is nothing to clear, and
            // setting the very stream it shows would start the video again.
            let Some(stream) = stream else { return };
            self.carried = false;
            // (`Object::is`: web-sys' `==` on a `MediaStream` is false here for the same object.)
            if self.video.src_object().is_some_and(|shown| js_sys::Object::is(&shown, stream)) {
                if self.video.paused() {
                    play(&self.video);
                }
                return;
            }
        }
        media::attach(&self.video, stream);
        // Autoplay may be refused before a click; the join click lets it start.
        play(&self.video);
    }
}

/// Starts playback. Its promise may reject, and that is expected: autoplay
/// refused before a click, or "interrupted by a new load request" when the
/// next stream is set first (every multi-person join). Awaiting it here
/// handles the rejection, which would otherwise be an uncaught page error.
fn play(video: &HtmlVideoElement) {
    if let Ok(promise) = video.play() {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        });
    }
}
