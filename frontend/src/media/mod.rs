//! Cameras, microphones and screens: the only code that touches
//! `navigator.mediaDevices`.

mod capture;
mod devices;
mod error;
mod level;
mod local;
mod screen;
mod tone;

pub use capture::{capture, capture_camera, capture_microphone, constraints, Camera, Request, EARLY_CAPTURE};
pub use devices::{list as list_devices, on_change as on_devices_change, Device, DeviceList};
pub use error::MediaError;
pub use level::{can_choose_speaker, set_speaker, AudioMeter, SPEAKING};
pub use local::LocalMedia;
pub use screen::{can_share_screen, capture_screen};
pub use tone::play_test_tone;

/// Shows `stream` in a `<video>` (or clears it).
pub fn attach(video: &web_sys::HtmlVideoElement, stream: Option<&web_sys::MediaStream>) {
    video.set_src_object(stream);
}
