use crate::media::Camera;
use crate::session::Session;
use leptos::prelude::*;

/// Mute and camera toggles; labels say what a click will do.
#[component]
pub fn MediaToggles() -> impl IntoView {
    let session = expect_context::<Session>();
    let Session { muted, camera_off, has_camera, has_microphone, .. } = session;
    view! {
        <button id="mute" class="toggle" class:off=move || muted.get()
            aria-pressed=move || muted.get().to_string()
            disabled=move || !has_microphone.get()
            on:click=move |_| session.toggle_mute()>
            {move || if muted.get() { "Unmute" } else { "Mute" }}
        </button>
        <button id="camera" class="toggle" class:off=move || camera_off.get()
            aria-pressed=move || camera_off.get().to_string()
            disabled=move || !has_camera.get()
            on:click=move |_| session.toggle_camera()>
            {move || if camera_off.get() { "Camera On" } else { "Camera Off" }}
        </button>
    }
}

/// Camera and microphone pickers, refreshed when devices come and go.
#[component]
pub fn DevicePickers() -> impl IntoView {
    let session = expect_context::<Session>();
    let Session { devices, camera_id, microphone_id, .. } = session;
    // Keep the listener alive as long as the pickers are on screen.
    let listener = crate::media::on_devices_change(move || session.refresh_devices()).ok();
    let _listener = StoredValue::new_local(listener);
    view! {
        <label class="picker">"Camera "
            <select id="camera-select" disabled=move || devices.with(|d| d.cameras.is_empty())
                on:change=move |ev| session.switch_camera(Camera::Device(event_target_value(&ev)))>
                {move || devices.get().cameras.into_iter().map(|d| {
                    let selected = camera_id.get().as_deref() == Some(d.id.as_str());
                    view! { <option value=d.id prop:selected=selected>{d.label}</option> }
                }).collect_view()}
            </select>
        </label>
        <label class="picker">"Microphone "
            <select id="microphone-select" disabled=move || devices.with(|d| d.microphones.is_empty())
                on:change=move |ev| session.switch_microphone(event_target_value(&ev))>
                {move || devices.get().microphones.into_iter().map(|d| {
                    let selected = microphone_id.get().as_deref() == Some(d.id.as_str());
                    view! { <option value=d.id prop:selected=selected>{d.label}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}
