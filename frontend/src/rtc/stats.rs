//! One reading of a connection's `getStats()`, copied into a
//! [`shared::link::Report`] (which decides what it means).

use super::call;
use shared::link::{Inbound, Path, Report};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcPeerConnection;

fn get(target: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(target, &key.into()).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

fn text(target: &JsValue, key: &str) -> Option<String> {
    get(target, key)?.as_string()
}

fn number(target: &JsValue, key: &str) -> Option<f64> {
    get(target, key)?.as_f64()
}

fn count(target: &JsValue, key: &str) -> u64 {
    number(target, key).unwrap_or(0.0).max(0.0) as u64
}

pub async fn read(pc: &RtcPeerConnection) -> Option<Report> {
    let stats = JsFuture::from(pc.get_stats()).await.ok()?;
    let entries: Vec<JsValue> = js_sys::try_iter(&call(&stats, "values", &[]).ok()?).ok()??.flatten().collect();
    // A few dozen entries: a search, not a map (hashing would add to the page's wasm).
    let by_id = |id: String| entries.iter().find(|s| text(s, "id").as_deref() == Some(id.as_str()));
    let of_type = |kind: &'static str| entries.iter().filter(move |s| text(s, "type").as_deref() == Some(kind));
    // The pair in use: the transport's selected one (Chromium), else the nominated succeeded one.
    let pair = of_type("transport").find_map(|t| by_id(text(t, "selectedCandidatePairId")?)).or_else(|| {
        of_type("candidate-pair").find(|p| {
            get(p, "nominated").and_then(|n| n.as_bool()) == Some(true)
                && text(p, "state").as_deref() == Some("succeeded")
        })
    });
    let path = pair.and_then(|pair| {
        let local = by_id(text(pair, "localCandidateId")?)?;
        let remote = by_id(text(pair, "remoteCandidateId")?)?;
        Some(Path::of(
            &text(local, "candidateType")?,
            &text(remote, "candidateType")?,
            &text(local, "protocol").unwrap_or_default(),
            text(local, "relayProtocol").as_deref(),
        ))
    });
    let inbound = of_type("inbound-rtp")
        .map(|s| Inbound {
            track: text(s, "trackIdentifier").unwrap_or_default(),
            video: text(s, "kind").as_deref() == Some("video"),
            bytes: count(s, "bytesReceived"),
            packets: count(s, "packetsReceived"),
            lost: number(s, "packetsLost").unwrap_or(0.0) as i64,
            width: number(s, "frameWidth").map(|w| w as u32),
            height: number(s, "frameHeight").map(|h| h as u32),
            fps: number(s, "framesPerSecond"),
        })
        .collect();
    Some(Report {
        at_ms: js_sys::Date::now(),
        path,
        rtt_ms: pair.and_then(|p| number(p, "currentRoundTripTime")).map(|secs| secs * 1000.0),
        bytes_out: of_type("outbound-rtp").map(|s| count(s, "bytesSent")).sum(),
        inbound,
        shared: false,
    })
}
