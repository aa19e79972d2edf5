//! The speaker test: a short tone played on a chosen output.

use super::set_speaker;
use wasm_bindgen_futures::JsFuture;

/// Seconds of tone, at 440 Hz, sampled at `RATE`.
const SECONDS: f64 = 0.8;
const RATE: u32 = 24_000;
/// The sine comes from the recurrence s[n] = 2cos(w)·s[n-1] − s[n-2], with
/// w = 2π·440/24000: `f64::sin` would bring libm's trigonometry (~6 KB)
/// into the page's wasm. 2cos(w), and s[1] = sin(w):
const TWO_COS_W: f64 = 1.986745531200793;
const SIN_W: f64 = 0.11493715049286661;

/// Plays the tone on the speaker `device_id` (the default output when
/// `None` or when the browser cannot choose); done once it has started.
pub async fn play_test_tone(device_id: Option<&str>) -> Result<(), String> {
    let wav = js_sys::Uint8Array::from(wav_tone().as_slice());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("audio/wav");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&js_sys::Array::of1(&wav), &options)
        .map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let audio = web_sys::HtmlAudioElement::new_with_src(&url).map_err(|e| format!("{e:?}"))?;
    if let Some(id) = device_id {
        set_speaker(&audio, id);
    }
    let played = match audio.play() {
        Ok(promise) => JsFuture::from(promise).await.map(drop).map_err(|e| format!("{e:?}")),
        Err(e) => Err(format!("{e:?}")),
    };
    // The element keeps playing from the blob it already read.
    let _ = web_sys::Url::revoke_object_url(&url);
    played
}

/// A mono 16-bit WAV of the tone, faded in and out so it does not click.
fn wav_tone() -> Vec<u8> {
    let samples = (SECONDS * f64::from(RATE)) as u32;
    let (mut before, mut now) = (-SIN_W, 0.0);
    let tone = (0..samples).map(|i| {
        let t = f64::from(i) / f64::from(RATE);
        let fade = (t / 0.05).min((SECONDS - t) / 0.05).clamp(0.0, 1.0);
        let value = now * fade * 0.3;
        (before, now) = (now, TWO_COS_W * now - before);
        (value * f64::from(i16::MAX)) as i16
    });
    shared::wav::mono16(RATE, tone)
}
