//! Why the browser would not give us a camera or microphone, in words a
//! person can act on. Maps `DOMException` names to cases.

use crate::i18n::Lang;
use wasm_bindgen::{JsCast, JsValue};

/// `Display` is English, for logs; the screen shows [`MediaError::text`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("Camera and microphone access was blocked. Allow it in the browser's address bar (the camera icon), then reload the page.")]
    PermissionDenied,
    #[error("No camera or microphone was found. You can join with only your microphone, or without sending anything.")]
    NoDevice,
    #[error("Your camera or microphone is in use by another app or tab. Close it there, then try again.")]
    DeviceBusy,
    #[error("Camera and microphone only work on a secure page. Open Moim over https://, or on http://localhost on this computer.")]
    InsecureContext,
    #[error("The selected device does not support what was asked for. Pick another device.")]
    Unsupported,
    #[error("The browser could not start the camera or microphone: {0}")]
    Other(String),
}

impl MediaError {
    /// Classifies a rejected `getUserMedia` / `getDisplayMedia` promise.
    pub fn from_js(err: JsValue) -> Self {
        let Some(ex) = err.dyn_ref::<web_sys::DomException>() else {
            return Self::Other(format!("{err:?}"));
        };
        match ex.name().as_str() {
            "NotAllowedError" | "PermissionDeniedError" | "SecurityError" => Self::PermissionDenied,
            "NotFoundError" | "DevicesNotFoundError" => Self::NoDevice,
            "NotReadableError" | "TrackStartError" | "AbortError" => Self::DeviceBusy,
            "OverconstrainedError" | "ConstraintNotSatisfiedError" => Self::Unsupported,
            _ => Self::Other(ex.message()),
        }
    }

    /// The message for the person, in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        let t = lang.texts();
        match self {
            Self::PermissionDenied => t.media_blocked.to_owned(),
            Self::NoDevice => t.media_not_found.to_owned(),
            Self::DeviceBusy => t.media_busy.to_owned(),
            Self::InsecureContext => t.media_insecure.to_owned(),
            Self::Unsupported => t.media_unsupported.to_owned(),
            Self::Other(detail) => (t.media_other)(detail),
        }
    }

    /// Whether asking again (perhaps for the microphone alone) could succeed;
    /// on an insecure page it cannot.
    pub fn may_work_on_retry(&self) -> bool {
        matches!(self, Self::NoDevice | Self::DeviceBusy | Self::PermissionDenied | Self::Unsupported)
    }
}
