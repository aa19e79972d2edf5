//! How loud your microphone is, from Web Audio: drives the level meter on
//! the welcome screen and the "speaking" highlight on your own tile.

use wasm_bindgen::JsValue;
use web_sys::{AnalyserNode, AudioContext, MediaStream, MediaStreamAudioSourceNode};

/// Above this (RMS of the waveform, 0..1) someone is talking, not breathing.
pub const SPEAKING: f64 = 0.02;

pub struct AudioMeter {
    context: AudioContext,
    analyser: AnalyserNode,
    _source: MediaStreamAudioSourceNode,
    samples: std::cell::RefCell<Vec<f32>>,
}

impl AudioMeter {
    /// Listens to the audio of `stream` (without playing it). `None` when the
    /// stream has no audio or the browser has no Web Audio.
    pub fn new(stream: &MediaStream) -> Option<Self> {
        if stream.get_audio_tracks().length() == 0 {
            return None;
        }
        let context = AudioContext::new().ok()?;
        let analyser = context.create_analyser().ok()?;
        analyser.set_fft_size(512);
        let source = context.create_media_stream_source(stream).ok()?;
        source.connect_with_audio_node(&analyser).ok()?;
        let samples = std::cell::RefCell::new(vec![0.0; analyser.fft_size() as usize]);
        Some(Self { context, analyser, _source: source, samples })
    }

    /// The current level, 0 (silence) to 1.
    pub fn level(&self) -> f64 {
        // Browsers start an AudioContext suspended until a click; every
        // click-driven redraw gives it another chance.
        if self.context.state() == web_sys::AudioContextState::Suspended {
            let _ = self.context.resume();
        }
        let mut samples = self.samples.borrow_mut();
        self.analyser.get_float_time_domain_data(&mut samples);
        let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        (sum / samples.len().max(1) as f64).sqrt()
    }
}

impl Drop for AudioMeter {
    fn drop(&mut self) {
        let _ = self.context.close();
    }
}

/// Plays a `<video>`'s sound on the speaker `device_id` where the browser
/// can choose (`setSinkId`); `false` where it cannot.
pub fn set_speaker(video: &web_sys::HtmlMediaElement, device_id: &str) -> bool {
    let Ok(set_sink_id) = js_sys::Reflect::get(video, &"setSinkId".into()) else { return false };
    let Some(set_sink_id) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&set_sink_id) else { return false };
    set_sink_id.call1(video, &JsValue::from_str(device_id)).is_ok()
}

/// Whether speaker choice is possible in this browser.
pub fn can_choose_speaker() -> bool {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return false };
    document.create_element("video").is_ok_and(|v| js_sys::Reflect::has(&v, &"setSinkId".into()).unwrap_or(false))
}
