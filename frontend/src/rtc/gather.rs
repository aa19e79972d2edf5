//! Gathers ICE candidates with some servers and nobody to call, for the
//! setup check: which candidates came, and which errors
//! (`icecandidateerror`: the server's STUN error code, or 701 when it did
//! not answer).

use super::{new_connection, RtcError};
use gloo_events::EventListener;
use gloo_timers::future::TimeoutFuture;
use shared::IceConfig;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RtcIceGatheringState, RtcPeerConnectionIceEvent};

#[derive(Debug, Default)]
pub struct Gathered {
    /// The candidate lines (`candidate:... typ relay ...`).
    pub candidates: Vec<String>,
    pub errors: Vec<u16>,
}

/// Gathers with `ice` until the browser is done or `within_ms` pass.
pub async fn gather(ice: &IceConfig, within_ms: u32) -> Result<Gathered, RtcError> {
    let pc = new_connection(ice)?;
    // Something to negotiate, or there is nothing to gather for.
    let _channel = pc.create_data_channel("probe");
    let found = Rc::new(RefCell::new(Gathered::default()));
    let seen = found.clone();
    let _candidates = EventListener::new(&pc, "icecandidate", move |e| {
        let candidate = e.dyn_ref::<RtcPeerConnectionIceEvent>().and_then(|e| e.candidate()).map(|c| c.candidate());
        if let Some(line) = candidate.filter(|c| !c.is_empty()) {
            seen.borrow_mut().candidates.push(line);
        }
    });
    let failed = found.clone();
    let _errors = EventListener::new(&pc, "icecandidateerror", move |e| {
        // `RTCPeerConnectionIceErrorEvent`: read by name, as web-sys' typing of it varies.
        let code = js_sys::Reflect::get(e, &"errorCode".into()).ok().and_then(|c| c.as_f64()).unwrap_or(0.0);
        failed.borrow_mut().errors.push(code as u16);
    });
    let offer = JsFuture::from(pc.create_offer()).await.map_err(RtcError::at("createOffer"))?;
    let offer: web_sys::RtcSessionDescriptionInit = offer.unchecked_into();
    JsFuture::from(pc.set_local_description(&offer)).await.map_err(RtcError::at("setLocalDescription"))?;
    let mut waited = 0;
    while pc.ice_gathering_state() != RtcIceGatheringState::Complete && waited < within_ms {
        TimeoutFuture::new(100).await;
        waited += 100;
    }
    pc.close();
    let gathered = std::mem::take(&mut *found.borrow_mut());
    Ok(gathered)
}
