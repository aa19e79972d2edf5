//! Sharing a screen or window with `getDisplayMedia`.

use super::capture::{first_track, media_devices};
use super::MediaError;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DisplayMediaStreamConstraints, MediaStream, MediaStreamTrack};

/// Whether this browser can share a screen at all (phones cannot).
pub fn can_share_screen() -> bool {
    media_devices().is_ok_and(|d| js_sys::Reflect::has(&d, &JsValue::from_str("getDisplayMedia")).unwrap_or(false))
}

/// Asks the person what to share; `Ok(None)` when they cancel the picker,
/// which is a choice, not an error.
pub async fn capture_screen() -> Result<Option<MediaStreamTrack>, MediaError> {
    let constraints = DisplayMediaStreamConstraints::new();
    constraints.set_video(&JsValue::TRUE);
    constraints.set_audio(&JsValue::FALSE);
    let promise = media_devices()?.get_display_media_with_constraints(&constraints).map_err(MediaError::from_js)?;
    let stream: MediaStream = match JsFuture::from(promise).await {
        Ok(stream) => stream.into(),
        Err(err) => {
            return match MediaError::from_js(err) {
                MediaError::PermissionDenied => Ok(None),
                other => Err(other),
            }
        }
    };
    let track = first_track(&stream.get_video_tracks())
        .ok_or_else(|| MediaError::Other("the screen capture gave no video".into()))?;
    // Text on a slide should stay sharp: prefer resolution over frame rate.
    let _ = js_sys::Reflect::set(&track, &"contentHint".into(), &"detail".into());
    Ok(Some(track))
}
