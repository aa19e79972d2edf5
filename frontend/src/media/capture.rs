//! Getting streams from `navigator.mediaDevices`: the only place it is touched.

use super::MediaError;
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaDevices, MediaStream, MediaStreamConstraints};

/// Which camera to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Camera {
    /// The camera facing the user (the front camera on a phone).
    Front,
    /// The camera facing away (the back camera on a phone).
    Back,
    /// One exact device from `enumerateDevices`.
    Device(String),
}

/// What to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub audio: bool,
    pub video: Option<Camera>,
}

impl Request {
    pub const AUDIO_ONLY: Request = Request { audio: true, video: None };

    pub fn camera_and_mic() -> Self {
        Self { audio: true, video: Some(Camera::Front) }
    }
}

pub(crate) fn media_devices() -> Result<MediaDevices, MediaError> {
    let window = web_sys::window().ok_or(MediaError::InsecureContext)?;
    if !window.is_secure_context() {
        return Err(MediaError::InsecureContext);
    }
    // `mediaDevices` is undefined outside secure contexts; web-sys returns Err.
    window.navigator().media_devices().map_err(|_| MediaError::InsecureContext)
}

/// A plain JS object from key / value pairs (built here rather than through
/// `serde_json`, whose `Value` printing costs the page's download more).
fn object(entries: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    for (key, value) in entries {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object
}

fn video_constraints(camera: &Camera) -> Object {
    let ideal = |n: u32| object(&[("ideal", n.into())]);
    let exact = |v: &str| object(&[("exact", v.into())]);
    let (key, value): (&str, JsValue) = match camera {
        Camera::Front => ("facingMode", "user".into()),
        Camera::Back => ("facingMode", exact("environment").into()),
        Camera::Device(id) => ("deviceId", exact(id).into()),
    };
    object(&[(key, value), ("width", ideal(1280).into()), ("height", ideal(720).into())])
}

fn audio_constraints() -> Object {
    object(&[("echoCancellation", true.into()), ("noiseSuppression", true.into()), ("autoGainControl", true.into())])
}

/// The `getUserMedia` constraints for `request` (also written out in
/// `index.html`'s early capture, which a browser test holds equal).
pub fn constraints(request: &Request) -> MediaStreamConstraints {
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&if request.audio { audio_constraints().into() } else { JsValue::FALSE });
    constraints.set_video(&request.video.as_ref().map_or(JsValue::FALSE, |camera| video_constraints(camera).into()));
    constraints
}

/// Asks the browser for the requested tracks (this is where the permission
/// prompt appears). The first ask for camera and microphone takes the capture
/// `index.html` started while the app was loading.
pub async fn capture(request: &Request) -> Result<MediaStream, MediaError> {
    if !request.audio && request.video.is_none() {
        return MediaStream::new().map_err(MediaError::from_js);
    }
    let early = (*request == Request::camera_and_mic()).then(take_early_capture).flatten();
    let promise = match early {
        Some(promise) => promise,
        None => media_devices()?.get_user_media_with_constraints(&constraints(request)).map_err(MediaError::from_js)?,
    };
    let stream = JsFuture::from(promise).await.map_err(MediaError::from_js)?;
    Ok(stream.unchecked_into())
}

/// The promise of `index.html`'s early capture, once: a retry after a refusal
/// must ask the browser again.
fn take_early_capture() -> Option<js_sys::Promise> {
    let window = web_sys::window()?;
    let key = JsValue::from_str(EARLY_CAPTURE);
    let promise = Reflect::get(&window, &key).ok()?.dyn_into::<js_sys::Promise>().ok()?;
    Reflect::delete_property(&window, &key).ok()?;
    Some(promise)
}

/// The global `index.html` leaves its capture in.
pub const EARLY_CAPTURE: &str = "moimEarlyMedia";

/// Opens one camera alone (for switching cameras without touching the mic).
pub async fn capture_camera(camera: &Camera) -> Result<web_sys::MediaStreamTrack, MediaError> {
    let stream = capture(&Request { audio: false, video: Some(camera.clone()) }).await?;
    first_track(&stream.get_video_tracks()).ok_or_else(|| MediaError::Other("the camera gave no video".into()))
}

/// Opens one microphone alone.
pub async fn capture_microphone(device_id: &str) -> Result<web_sys::MediaStreamTrack, MediaError> {
    let audio = audio_constraints();
    let _ = Reflect::set(&audio, &JsValue::from_str("deviceId"), &object(&[("exact", device_id.into())]));
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio);
    constraints.set_video(&JsValue::FALSE);
    let promise = media_devices()?.get_user_media_with_constraints(&constraints).map_err(MediaError::from_js)?;
    let stream: MediaStream = JsFuture::from(promise).await.map_err(MediaError::from_js)?.unchecked_into();
    first_track(&stream.get_audio_tracks()).ok_or_else(|| MediaError::Other("the microphone gave no audio".into()))
}

pub(crate) fn first_track(tracks: &js_sys::Array) -> Option<web_sys::MediaStreamTrack> {
    tracks.iter().next().map(|t| t.unchecked_into())
}
