//! The cameras, microphones and speakers the browser can see.

use super::capture::media_devices;
use super::MediaError;
use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaDeviceInfo, MediaDeviceKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    /// The browser's name for it; empty until the person has granted access
    /// once, and then shown as "Camera 2" and the like (in their language).
    pub label: String,
    /// Its place among devices of its kind, from 1.
    pub number: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceList {
    pub cameras: Vec<Device>,
    pub microphones: Vec<Device>,
    pub speakers: Vec<Device>,
}

/// `enumerateDevices()`, sorted by kind.
pub async fn list() -> Result<DeviceList, MediaError> {
    let promise = media_devices()?.enumerate_devices().map_err(MediaError::from_js)?;
    let infos: js_sys::Array = JsFuture::from(promise).await.map_err(MediaError::from_js)?.unchecked_into();
    let mut list = DeviceList::default();
    for info in infos.iter().map(|i| i.unchecked_into::<MediaDeviceInfo>()) {
        let bucket = match info.kind() {
            MediaDeviceKind::Videoinput => &mut list.cameras,
            MediaDeviceKind::Audioinput => &mut list.microphones,
            MediaDeviceKind::Audiooutput => &mut list.speakers,
            _ => continue,
        };
        if info.device_id().is_empty() {
            continue;
        }
        bucket.push(Device { id: info.device_id(), label: info.label(), number: bucket.len() + 1 });
    }
    Ok(list)
}

/// Calls `on_change` when a device is plugged in or removed, until dropped.
pub fn on_change(on_change: impl Fn() + 'static) -> Result<EventListener, MediaError> {
    let devices = media_devices()?;
    Ok(EventListener::new(&devices, "devicechange", move |_| on_change()))
}
