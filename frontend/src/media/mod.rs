//! Cameras, microphones and screens: the only code that touches
//! `navigator.mediaDevices`.

mod capture;
mod devices;
mod error;
mod local;

pub(crate) use capture::to_js;
pub use capture::{capture, capture_camera, capture_microphone, Camera, Request};
pub use devices::{list as list_devices, on_change as on_devices_change, Device, DeviceList};
pub use error::MediaError;
pub use local::LocalMedia;

/// Shows `stream` in a `<video>` (or clears it).
pub fn attach(video: &web_sys::HtmlVideoElement, stream: Option<&web_sys::MediaStream>) {
    video.set_src_object(stream);
}
