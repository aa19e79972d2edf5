use crate::i18n::{tr, use_texts, Texts};
use crate::media::{self, Camera};
use crate::session::Session;
use leptos::prelude::*;

/// Mute and camera toggles; labels say what a click will do.
#[component]
pub fn MediaToggles() -> impl IntoView {
    let session = expect_context::<Session>();
    let Session { muted, camera_off, has_camera, has_microphone, .. } = session;
    let t = use_texts();
    view! {
        <button id="mute" class="toggle" class:off=move || muted.get()
            aria-pressed=move || muted.get().to_string() title=tr(|t| t.mute_title)
            disabled=move || !has_microphone.get()
            on:click=move |_| session.toggle_mute()>
            {move || if muted.get() { t().unmute } else { t().mute }}
        </button>
        <button id="camera" class="toggle" class:off=move || camera_off.get()
            aria-pressed=move || camera_off.get().to_string() title=tr(|t| t.camera_title)
            disabled=move || !has_camera.get()
            on:click=move |_| session.toggle_camera()>
            {move || if camera_off.get() { t().camera_on } else { t().camera_off }}
        </button>
        <Show when=move || session.devices.with(|d| d.cameras.len() >= 2) && has_camera.get()>
            // Shown on touch screens only (style.css): phones have a front and a back camera.
            <button id="flip" class="toggle" on:click=move |_| session.flip_camera()>
                {move || if session.facing_back.get() { t().front_camera } else { t().back_camera }}
            </button>
        </Show>
    }
}

/// Share a screen in place of the camera. Phones cannot, so it is not shown there.
#[component]
pub fn ShareButton() -> impl IntoView {
    let session = expect_context::<Session>();
    let sharing = session.sharing;
    let t = use_texts();
    media::can_share_screen().then(|| {
        view! {
            <button id="share" class="toggle" class:on=move || sharing.get()
                aria-pressed=move || sharing.get().to_string() title=tr(|t| t.share_title)
                disabled=move || !session.has_camera.get()
                on:click=move |_| session.toggle_share()>
                {move || if sharing.get() { t().stop_sharing } else { t().share_screen }}
            </button>
        }
    })
}

/// Camera, microphone and speaker pickers, refreshed when devices come and go.
#[component]
pub fn DevicePickers() -> impl IntoView {
    let session = expect_context::<Session>();
    let Session { devices, camera_id, microphone_id, speaker_id, .. } = session;
    // Keep the listener alive as long as the pickers are on screen.
    let listener = crate::media::on_devices_change(move || session.refresh_devices()).ok();
    let _listener = StoredValue::new_local(listener);
    let can_choose_speaker = media::can_choose_speaker();
    view! {
        <Picker id="camera-select" label=|t| t.camera options=Signal::derive(move || devices.get().cameras)
            current=camera_id.into() choose=move |id| session.switch_camera(Camera::Device(id)) />
        <Picker id="microphone-select" label=|t| t.microphone options=Signal::derive(move || devices.get().microphones)
            current=microphone_id.into() choose=move |id| session.switch_microphone(id) />
        {if can_choose_speaker {
            view! {
                <Picker id="speaker-select" label=|t| t.speaker options=Signal::derive(move || devices.get().speakers)
                    current=speaker_id.into() choose=move |id| session.choose_speaker(id) />
            }.into_any()
        } else {
            view! { <p class="hint" id="speaker-note">{tr(|t| t.system_speaker_only)}</p> }.into_any()
        }}
    }
}

/// One device `<select>`, the current device preselected.
#[component]
fn Picker(
    id: &'static str,
    /// Which of the texts labels it.
    label: fn(&'static Texts) -> &'static str,
    options: Signal<Vec<media::Device>>,
    current: Signal<Option<String>>,
    choose: impl Fn(String) + 'static,
) -> impl IntoView {
    let t = use_texts();
    // A picker with nothing to pick (no such device, or none allowed) is not shown.
    view! {
        <label class="picker" class:hidden=move || options.with(Vec::is_empty)><span class="label">{tr(label)}</span>
            <select id=id disabled=move || options.with(Vec::is_empty)
                on:change=move |ev| choose(event_target_value(&ev))>
                {move || {
                    let noun = label(t());
                    options.get().into_iter().map(|media::Device { id, label: name, number }| {
                        let selected = current.get().as_deref() == Some(id.as_str());
                        // Unnamed until access is granted: "Camera 2".
                        let name = if name.is_empty() { format!("{noun} {number}") } else { name };
                        view! { <option value=id prop:selected=selected>{name}</option> }
                    }).collect_view()
                }}
            </select>
        </label>
    }
}
