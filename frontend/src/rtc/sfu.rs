//! The one `RTCPeerConnection` to the server's media server (SFU), in a room
//! whose media goes through it. It sends the microphone, the camera and the
//! screen on three sendonly m-lines, in that order (the screen's has no track
//! until a share starts: sharing swaps tracks, it does not renegotiate), and
//! receives what the server forwards on m-lines it adds by offering. The
//! server is ICE-lite and its candidates are in its SDP: ours are not sent.

use super::{call, cap_video, new_connection, pending_offer, set_local, set_remote, state_of, RtcError};
use gloo_events::EventListener;
use shared::budget::VideoBudget;
use shared::call::ConnectionState;
use shared::{IceConfig, TrackSource};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcPeerConnection, RtcRtpSender, RtcRtpTransceiver, RtcRtpTransceiverDirection,
    RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit,
};

/// What the connection reports, to the callback given to [`SfuPeer::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SfuPeerEvent {
    /// `connectionState` changed.
    State(ConnectionState),
    /// A forwarded track arrived (its transceiver has its `mid`).
    Track,
}

/// Frames a forwarded video decodes before it counts as flowing: the first
/// come in a burst, then may pause while the sender and the server settle
/// their rates, and a tile switched in that pause stalls.
const STEADY_FRAMES: f64 = 10.0;

pub struct SfuPeer {
    pc: RtcPeerConnection,
    /// The microphone's, the camera's and the screen's, in the offer's order.
    senders: [RtcRtpSender; 3],
    _listeners: Vec<EventListener>,
}

/// What each of our three m-lines sends.
pub struct Outgoing {
    pub microphone: Option<MediaStreamTrack>,
    pub camera: Option<MediaStreamTrack>,
    pub screen: Option<MediaStreamTrack>,
    /// The stream our tracks belong to (their `msid`).
    pub stream: MediaStream,
}

/// The camera's `sendEncodings`: `shared::budget::LAYERS`. A browser
/// that cannot send them all sends fewer; the server picks among those it gets.
fn simulcast_layers() -> js_sys::Array {
    shared::budget::LAYERS
        .iter()
        .map(|layer| {
            let encoding = js_sys::Object::new();
            let set = |key: &str, value: JsValue| js_sys::Reflect::set(&encoding, &key.into(), &value);
            let _ = set("rid", layer.rid.into());
            let _ = set("scaleResolutionDownBy", layer.scale_resolution_down_by.into());
            let _ = set("maxBitrate", f64::from(layer.max_bitrate_bps).into());
            encoding
        })
        .collect()
}

fn index(source: TrackSource) -> usize {
    match source {
        TrackSource::Microphone => 0,
        TrackSource::Camera => 1,
        TrackSource::Screen => 2,
    }
}

impl SfuPeer {
    pub fn new(
        ice: &IceConfig,
        outgoing: &Outgoing,
        on_event: impl Fn(SfuPeerEvent) + 'static,
    ) -> Result<Self, RtcError> {
        let pc = new_connection(ice)?;
        let streams = js_sys::Array::of1(&outgoing.stream);
        let add = |kind: &str, track: Option<&MediaStreamTrack>, layered: bool| {
            let init = RtcRtpTransceiverInit::new();
            init.set_direction(RtcRtpTransceiverDirection::Sendonly);
            // Through Reflect: web-sys' typings of `streams` and `sendEncodings` lag the spec.
            let _ = js_sys::Reflect::set(&init, &"streams".into(), &streams);
            if layered {
                let _ = js_sys::Reflect::set(&init, &"sendEncodings".into(), &simulcast_layers());
            }
            match track {
                Some(track) => pc.add_transceiver_with_media_stream_track_and_init(track, &init),
                None => pc.add_transceiver_with_str_and_init(kind, &init),
            }
            .sender()
        };
        let senders = [
            add("audio", outgoing.microphone.as_ref(), false),
            add("video", outgoing.camera.as_ref(), true),
            add("video", outgoing.screen.as_ref(), false),
        ];
        let on_event = std::rc::Rc::new(on_event);
        let emit = on_event.clone();
        let pc2 = pc.clone();
        let state =
            EventListener::new(&pc, "connectionstatechange", move |_| emit(SfuPeerEvent::State(state_of(&pc2))));
        let emit = on_event;
        let track = EventListener::new(&pc, "track", move |_| emit(SfuPeerEvent::Track));
        Ok(Self { pc, senders, _listeners: vec![state, track] })
    }

    /// (With new ICE credentials if `restart_ice`,) makes an offer, hands its
    /// SDP to `send`, and sets it locally.
    pub async fn offer(&self, restart_ice: bool, send: impl FnOnce(String)) -> Result<(), RtcError> {
        if restart_ice {
            call(&self.pc, "restartIce", &[]).map_err(RtcError::at("restartIce"))?;
        }
        let offer = JsFuture::from(self.pc.create_offer()).await.map_err(RtcError::at("createOffer"))?;
        set_local(&self.pc, offer.unchecked_into(), send).await
    }

    pub async fn set_remote_answer(&self, sdp: &str) -> Result<(), RtcError> {
        set_remote(&self.pc, RtcSdpType::Answer, sdp).await
    }

    pub async fn set_remote_offer(&self, sdp: &str) -> Result<(), RtcError> {
        set_remote(&self.pc, RtcSdpType::Offer, sdp).await
    }

    /// Answers the applied offer: hands the SDP to `send`, then sets it locally.
    pub async fn answer(&self, send: impl FnOnce(String)) -> Result<(), RtcError> {
        let answer = JsFuture::from(self.pc.create_answer()).await.map_err(RtcError::at("createAnswer"))?;
        set_local(&self.pc, answer.unchecked_into(), send).await
    }

    /// Back to `stable` after a description could not be applied or answered.
    pub async fn roll_back(&self) {
        if self.pc.signaling_state() == web_sys::RtcSignalingState::Stable {
            return;
        }
        let desc = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
        let _ = JsFuture::from(self.pc.set_local_description(&desc)).await;
    }

    /// Our offer that awaits its answer, if one does.
    pub fn pending_offer(&self) -> Option<String> {
        pending_offer(&self.pc)
    }

    /// Sends `track` (or nothing) as our `source`, without renegotiation.
    pub async fn send(&self, source: TrackSource, track: Option<&MediaStreamTrack>) -> Result<(), RtcError> {
        let sender = &self.senders[index(source)];
        JsFuture::from(sender.replace_track(track)).await.map_err(RtcError::at("replaceTrack"))?;
        Ok(())
    }

    /// Caps the screen we send (the server forwards that one stream to
    /// everyone); the camera's layers have theirs from the start.
    pub async fn set_video_budget(&self, budget: VideoBudget) -> Result<(), RtcError> {
        cap_video(&self.senders[index(TrackSource::Screen)], budget).await
    }

    fn transceiver(&self, mid: &str) -> Option<RtcRtpTransceiver> {
        self.pc.get_transceivers().iter().map(RtcRtpTransceiver::from).find(|t| t.mid().as_deref() == Some(mid))
    }

    /// The track the server forwards on m-line `mid`.
    pub fn received(&self, mid: &str) -> Option<MediaStreamTrack> {
        self.transceiver(mid).map(|t| t.receiver().track())
    }

    /// Whether media flows on m-line `mid`: a video has decoded
    /// [`STEADY_FRAMES`], an audio receives packets (`getStats()` of its receiver).
    pub async fn flowing(&self, mid: &str) -> bool {
        let Some(receiver) = self.transceiver(mid).map(|t| t.receiver()) else { return false };
        let Ok(promise) = call(&receiver, "getStats", &[]) else { return false };
        let Ok(report) = JsFuture::from(js_sys::Promise::from(promise)).await else { return false };
        let get = |target: &JsValue, key: &str| js_sys::Reflect::get(target, &key.into()).ok();
        let Ok(values) = call(&report, "values", &[]) else { return false };
        let Ok(Some(entries)) = js_sys::try_iter(&values) else { return false };
        let number = |s: &JsValue, key| get(s, key).and_then(|v| v.as_f64()).unwrap_or(0.0);
        entries.flatten().any(|s| {
            get(&s, "type").and_then(|t| t.as_string()).as_deref() == Some("inbound-rtp")
                && match get(&s, "kind").and_then(|k| k.as_string()).as_deref() {
                    Some("video") => number(&s, "framesDecoded") >= STEADY_FRAMES,
                    _ => number(&s, "packetsReceived") > 0.0,
                }
        })
    }

    /// A reading of the connection to the server's stats: every member's
    /// tracks, which each tile picks its own from.
    pub async fn report(&self) -> Option<shared::link::Report> {
        super::stats::read(&self.pc).await
    }

    pub fn connection_state(&self) -> ConnectionState {
        state_of(&self.pc)
    }
}

impl Drop for SfuPeer {
    fn drop(&mut self) {
        self.pc.close();
    }
}
