//! A short call from this page to itself, for the setup check: two
//! connections made with the same servers and policy (relay-only, to prove
//! the relay), the camera and microphone sent one way, and the far side's
//! stats read twice for the round trip and the loss.

use super::{Peer, PeerEvent, RtcError};
use gloo_timers::future::TimeoutFuture;
use leptos::task::spawn_local;
use shared::call::ConnectionState;
use shared::link::Details;
use shared::IceConfig;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use web_sys::MediaStream;

/// How long the two readings are apart.
const MEASURE_MS: u32 = 2_000;

/// Connects within `within_ms` and measures; `Ok(None)` if it did not connect.
pub async fn call_itself(
    ice: &IceConfig,
    stream: Option<&MediaStream>,
    within_ms: u32,
) -> Result<Option<Details>, RtcError> {
    let slots: [Rc<RefCell<Weak<Peer>>>; 2] = Default::default();
    // Each side's candidates go straight to the other.
    let handler = |other: Rc<RefCell<Weak<Peer>>>| {
        move |event| {
            if let PeerEvent::IceCandidate(candidate) = event {
                if let Some(other) = other.borrow().upgrade() {
                    spawn_local(async move {
                        let _ = other.add_ice(&candidate).await;
                    });
                }
            }
        }
    };
    let a = Rc::new(Peer::new(ice, handler(slots[1].clone()))?);
    let b = Rc::new(Peer::new(ice, handler(slots[0].clone()))?);
    *slots[0].borrow_mut() = Rc::downgrade(&a);
    *slots[1].borrow_mut() = Rc::downgrade(&b);
    if let Some(stream) = stream {
        a.send_stream(stream);
    }
    let mut offer = String::new();
    a.offer(|sdp| offer = sdp).await?;
    b.set_remote_offer(&offer).await?;
    let mut answer = String::new();
    b.answer(|sdp| answer = sdp).await?;
    a.set_remote_answer(&answer).await?;
    let mut waited = 0;
    while b.connection_state() != ConnectionState::Connected {
        if waited >= within_ms {
            return Ok(None);
        }
        TimeoutFuture::new(100).await;
        waited += 100;
    }
    let Some(before) = b.report().await else { return Ok(None) };
    TimeoutFuture::new(MEASURE_MS).await;
    let Some(now) = b.report().await else { return Ok(None) };
    Ok(Some(Details::between(&before, &now)))
}
