//! One `RTCPeerConnection` to one remote member ([`Peer`]), or to the
//! server's media server ([`SfuPeer`]): the only code that touches `Rtc*`.
//! Each closes itself and removes its listeners when dropped.

mod gather;
mod loopback;
mod sfu;
mod stats;

pub use gather::{gather, Gathered};
pub use loopback::call_itself;
pub use sfu::{Outgoing, SfuPeer, SfuPeerEvent};

use crate::mailbox::Mailbox;
use gloo_events::EventListener;
use shared::budget::{with_start_bitrate, VideoBudget, START_KBPS};
use shared::call::ConnectionState;
use shared::{IceCandidate, IceConfig};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcBundlePolicy, RtcConfiguration, RtcDataChannel, RtcDataChannelInit,
    RtcDataChannelState, RtcIceCandidateInit, RtcIceTransportPolicy, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcPeerConnectionState, RtcRtpSender, RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType,
    RtcSessionDescriptionInit, RtcTrackEvent,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step} failed: {detail}")]
pub struct RtcError {
    pub step: &'static str,
    pub detail: String,
}

impl RtcError {
    fn at(step: &'static str) -> impl Fn(JsValue) -> Self {
        move |err| {
            let detail = err
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .or_else(|| err.as_string())
                .unwrap_or_else(|| format!("{err:?}"));
            Self { step, detail }
        }
    }
}

/// What a connection reports, delivered to the callback given to [`Peer::new`].
#[derive(Debug, Clone)]
pub enum PeerEvent {
    /// A local ICE candidate to send to the other side.
    IceCandidate(IceCandidate),
    /// The remote side's media arrived (or a track was added to it).
    Stream(MediaStream),
    ChatOpen,
    Chat(String),
    /// `connectionState` changed.
    State(ConnectionState),
}

pub struct Peer {
    pc: RtcPeerConnection,
    chat: RtcDataChannel,
    events: Mailbox<PeerEvent>,
    _listeners: Vec<EventListener>,
}

impl Peer {
    pub fn new(ice: &IceConfig, on_event: impl Fn(PeerEvent) + 'static) -> Result<Self, RtcError> {
        Self::with(ice, Mailbox::to(on_event))
    }

    /// A connection whose events are kept until [`Peer::listen`]: made
    /// before it is known who is at the other end.
    pub fn open(ice: &IceConfig) -> Result<Self, RtcError> {
        Self::with(ice, Mailbox::keeping())
    }

    /// Sends this connection's events, those kept so far first, to `on_event`.
    pub fn listen(&self, on_event: impl Fn(PeerEvent) + 'static) {
        self.events.listen(on_event);
    }

    fn with(ice: &IceConfig, events: Mailbox<PeerEvent>) -> Result<Self, RtcError> {
        let pc = new_connection(ice)?;

        // A pre-agreed channel (same id on both sides): no `datachannel` event
        // and no extra round trip; it rides on the first offer.
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(0);
        let chat = pc.create_data_channel_with_data_channel_dict("chat", &init);

        let mut listeners = Vec::new();
        let emit = events.clone();
        listeners.push(EventListener::new(&pc, "icecandidate", move |e| {
            let Some(e) = e.dyn_ref::<RtcPeerConnectionIceEvent>() else { return };
            // A null candidate marks the end of gathering: nothing to send.
            let Some(c) = e.candidate() else { return };
            if c.candidate().is_empty() {
                return;
            }
            emit.deliver(PeerEvent::IceCandidate(IceCandidate {
                candidate: c.candidate(),
                sdp_mid: c.sdp_mid(),
                sdp_m_line_index: c.sdp_m_line_index(),
            }));
        }));
        let emit = events.clone();
        listeners.push(EventListener::new(&pc, "track", move |e| {
            let Some(e) = e.dyn_ref::<RtcTrackEvent>() else { return };
            let stream = match e.streams().iter().next() {
                Some(s) => s.unchecked_into::<MediaStream>(),
                None => {
                    let Ok(s) = MediaStream::new() else { return };
                    s.add_track(&e.track());
                    s
                }
            };
            emit.deliver(PeerEvent::Stream(stream));
        }));
        let emit = events.clone();
        let pc2 = pc.clone();
        listeners.push(EventListener::new(&pc, "connectionstatechange", move |_| {
            emit.deliver(PeerEvent::State(state_of(&pc2)));
        }));
        let emit = events.clone();
        listeners.push(EventListener::new(&chat, "open", move |_| emit.deliver(PeerEvent::ChatOpen)));
        let emit = events.clone();
        listeners.push(EventListener::new(&chat, "message", move |e| {
            if let Some(text) = e.dyn_ref::<web_sys::MessageEvent>().and_then(|m| m.data().as_string()) {
                emit.deliver(PeerEvent::Chat(text));
            }
        }));
        Ok(Self { pc, chat, events, _listeners: listeners })
    }

    /// Forgets the candidates kept so far (see [`Peer::open`]): the browser
    /// adds each to the local description before firing its event, so an
    /// offer read after this lists them already, and the other side adding
    /// them again one by one holds its main thread while it sets its answer
    /// (each `addIceCandidate` waits for the connection's own thread).
    pub fn forget_kept_candidates(&self) {
        self.events.drop_kept(|event| matches!(event, PeerEvent::IceCandidate(_)));
    }

    /// Sends every track of `stream`; for a kind it lacks, asks to receive
    /// anyway so a member without a camera still sees the others.
    pub fn send_stream(&self, stream: &MediaStream) {
        for track in stream.get_tracks().iter() {
            self.pc.add_track_0(&track.unchecked_into(), stream);
        }
        for kind in ["audio", "video"] {
            let has = stream.get_tracks().iter().any(|t| MediaStreamTrack::from(t).kind() == kind);
            if !has {
                let init = RtcRtpTransceiverInit::new();
                init.set_direction(RtcRtpTransceiverDirection::Recvonly);
                self.pc.add_transceiver_with_str_and_init(kind, &init);
            }
        }
    }

    /// Makes an offer and sets it locally, handing its SDP to `send` as
    /// soon as it is made (see [`Peer::set_local`]).
    pub async fn offer(&self, send: impl FnOnce(String)) -> Result<(), RtcError> {
        let offer = JsFuture::from(self.pc.create_offer()).await.map_err(RtcError::at("createOffer"))?;
        self.set_local(offer.unchecked_into(), send).await
    }

    /// Applies the remote offer (rolling back our own offer on a collision:
    /// browsers do that implicitly).
    pub async fn set_remote_offer(&self, sdp: &str) -> Result<(), RtcError> {
        self.set_remote(RtcSdpType::Offer, sdp).await
    }

    /// Makes the answer to the applied offer and sets it locally, handing
    /// its SDP to `send` as soon as it is made (see [`Peer::set_local`]).
    pub async fn answer(&self, send: impl FnOnce(String)) -> Result<(), RtcError> {
        let answer = JsFuture::from(self.pc.create_answer()).await.map_err(RtcError::at("createAnswer"))?;
        self.set_local(answer.unchecked_into(), send).await
    }

    /// Asks for new ICE credentials in the next offer, so both sides look
    /// for paths on the network they have now; call [`Peer::offer`] next.
    pub fn restart_ice(&self) -> Result<(), RtcError> {
        call(&self.pc, "restartIce", &[]).map(drop).map_err(RtcError::at("restartIce"))
    }

    /// Our offer that awaits its answer, if one does: to send again when
    /// the first copy may have been lost.
    pub fn pending_offer(&self) -> Option<String> {
        pending_offer(&self.pc)
    }

    pub async fn set_remote_answer(&self, sdp: &str) -> Result<(), RtcError> {
        self.set_remote(RtcSdpType::Answer, sdp).await
    }

    pub async fn add_ice(&self, candidate: &IceCandidate) -> Result<(), RtcError> {
        let init = RtcIceCandidateInit::new(&candidate.candidate);
        init.set_sdp_mid(candidate.sdp_mid.as_deref());
        init.set_sdp_m_line_index(candidate.sdp_m_line_index);
        let promise = self.pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
        JsFuture::from(promise).await.map_err(RtcError::at("addIceCandidate"))?;
        Ok(())
    }

    /// Swaps what a sender of `kind` sends, without renegotiation.
    pub async fn replace_track(&self, track: &MediaStreamTrack) -> Result<(), RtcError> {
        let Some(sender) = self.sender(&track.kind()) else {
            return Err(RtcError { step: "replaceTrack", detail: format!("no {} sender", track.kind()) });
        };
        JsFuture::from(sender.replace_track(Some(track))).await.map_err(RtcError::at("replaceTrack"))?;
        Ok(())
    }

    pub fn sender(&self, kind: &str) -> Option<RtcRtpSender> {
        self.pc
            .get_senders()
            .iter()
            .map(RtcRtpSender::from)
            .find(|s| s.track().is_some_and(|t| t.kind() == kind))
            .or_else(|| {
                // A sender whose track was stopped still belongs to its transceiver.
                self.pc
                    .get_transceivers()
                    .iter()
                    .map(web_sys::RtcRtpTransceiver::from)
                    .find_map(|t| (t.receiver().track().kind() == kind).then(|| t.sender()))
            })
    }

    /// Caps the video this connection sends (see `shared::budget`). Before
    /// the first negotiation there is nothing to cap yet: the caller applies
    /// it again once connected.
    pub async fn set_video_budget(&self, budget: VideoBudget) -> Result<(), RtcError> {
        match self.sender("video") {
            Some(sender) => cap_video(&sender, budget).await,
            None => Ok(()),
        }
    }

    /// How loud the other side is right now, 0..1: the `audioLevel` of
    /// the incoming audio in `getStats()` (no Web Audio graph per member
    /// needed). Chromium no longer fills in the receivers' synchronization
    /// sources' levels reliably; the stats are the standard place.
    pub async fn audio_level(&self) -> f64 {
        let Ok(report) = JsFuture::from(self.pc.get_stats()).await else { return 0.0 };
        let get = |target: &JsValue, key: &str| js_sys::Reflect::get(target, &key.into()).ok();
        let Ok(values) = call(&report, "values", &[]) else { return 0.0 };
        let Ok(Some(entries)) = js_sys::try_iter(&values) else { return 0.0 };
        entries
            .flatten()
            .filter(|s| {
                get(s, "type").and_then(|t| t.as_string()).as_deref() == Some("inbound-rtp")
                    && get(s, "kind").and_then(|k| k.as_string()).as_deref() == Some("audio")
            })
            .filter_map(|s| get(&s, "audioLevel")?.as_f64())
            .fold(0.0, f64::max)
    }

    /// A reading of this connection's stats, for the tile's details.
    pub async fn report(&self) -> Option<shared::link::Report> {
        stats::read(&self.pc).await
    }

    pub fn send_chat(&self, text: &str) -> Result<(), RtcError> {
        if self.chat.ready_state() != RtcDataChannelState::Open {
            return Err(RtcError { step: "chat", detail: "the chat channel is not open yet".into() });
        }
        self.chat.send_with_str(text).map_err(RtcError::at("chat"))
    }

    pub fn connection_state(&self) -> ConnectionState {
        state_of(&self.pc)
    }

    async fn set_local(&self, desc: RtcSessionDescriptionInit, send: impl FnOnce(String)) -> Result<(), RtcError> {
        set_local(&self.pc, desc, send).await
    }

    async fn set_remote(&self, kind: RtcSdpType, sdp: &str) -> Result<(), RtcError> {
        set_remote(&self.pc, kind, sdp).await
    }
}

/// Gives `send` the SDP, then sets it locally. Setting an answer took
/// 50 ms in the call-setup benchmark, which the other side can spend
/// applying it instead: the description is final once made, and
/// `setLocalDescription` is called in this same task, so it is queued
/// on the connection before anything that comes back can be applied.
async fn set_local(
    pc: &RtcPeerConnection,
    desc: RtcSessionDescriptionInit,
    send: impl FnOnce(String),
) -> Result<(), RtcError> {
    send(to_send(&desc.get_sdp().unwrap_or_default()));
    JsFuture::from(pc.set_local_description(&desc)).await.map_err(RtcError::at("setLocalDescription"))?;
    Ok(())
}

async fn set_remote(pc: &RtcPeerConnection, kind: RtcSdpType, sdp: &str) -> Result<(), RtcError> {
    let desc = RtcSessionDescriptionInit::new(kind);
    desc.set_sdp(sdp);
    JsFuture::from(pc.set_remote_description(&desc)).await.map_err(RtcError::at("setRemoteDescription"))?;
    Ok(())
}

/// Caps the video `sender` sends (see `shared::budget`).
async fn cap_video(sender: &RtcRtpSender, budget: VideoBudget) -> Result<(), RtcError> {
    // Through Reflect: web-sys' typings of these dictionaries lag the spec.
    let params = call(sender, "getParameters", &[]).map_err(RtcError::at("getParameters"))?;
    let encodings = js_sys::Reflect::get(&params, &"encodings".into()).unwrap_or_default();
    let Some(first) = encodings.dyn_ref::<js_sys::Array>().map(|e| e.get(0)).filter(|e| e.is_object()) else {
        return Ok(());
    };
    let set = |key: &str, value: f64| js_sys::Reflect::set(&first, &key.into(), &value.into());
    let _ = set("maxBitrate", f64::from(budget.max_bitrate_bps));
    let _ = set("scaleResolutionDownBy", budget.scale_resolution_down_by);
    let promise = call(sender, "setParameters", &[params]).map_err(RtcError::at("setParameters"))?;
    JsFuture::from(js_sys::Promise::from(promise)).await.map_err(RtcError::at("setParameters"))?;
    Ok(())
}

/// A connection bundling everything on one transport.
fn new_connection(ice: &IceConfig) -> Result<RtcPeerConnection, RtcError> {
    let config = RtcConfiguration::new();
    let servers = js_sys::Array::new();
    for server in &ice.servers {
        let js = web_sys::RtcIceServer::new();
        js.set_urls(&server.urls.iter().map(|url| wasm_bindgen::JsValue::from_str(url)).collect::<js_sys::Array>());
        if let Some(username) = &server.username {
            js.set_username(username);
        }
        if let Some(credential) = &server.credential {
            js.set_credential(credential);
        }
        servers.push(&js);
    }
    config.set_ice_servers(&servers);
    if ice.relay_only {
        config.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
    }
    // Every member is a browser that bundles (and so does the media server):
    // one transport for audio, video and chat from the first offer, so
    // candidates are gathered, sent and checked once, not once per kind.
    config.set_bundle_policy(RtcBundlePolicy::MaxBundle);
    RtcPeerConnection::new_with_configuration(&config).map_err(RtcError::at("RTCPeerConnection"))
}

/// Our offer that awaits its answer, if one does (as sent, see [`to_send`]).
fn pending_offer(pc: &RtcPeerConnection) -> Option<String> {
    let get = |target: &JsValue, key: &str| js_sys::Reflect::get(target, &key.into()).ok();
    if get(pc, "signalingState")?.as_string()? != "have-local-offer" {
        return None;
    }
    get(&get(pc, "localDescription")?, "sdp")?.as_string().as_deref().map(to_send)
}

/// Calls `target.name(...args)`.
fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function: js_sys::Function = js_sys::Reflect::get(target, &name.into())?.dyn_into()?;
    function.apply(target, &args.iter().collect())
}

/// The browser's `connectionState`, typed.
fn state_of(pc: &RtcPeerConnection) -> ConnectionState {
    match pc.connection_state() {
        RtcPeerConnectionState::Connecting => ConnectionState::Connecting,
        RtcPeerConnectionState::Connected => ConnectionState::Connected,
        RtcPeerConnectionState::Disconnected => ConnectionState::Disconnected,
        RtcPeerConnectionState::Failed => ConnectionState::Failed,
        RtcPeerConnectionState::Closed => ConnectionState::Closed,
        // `new`, and any state a later spec adds.
        _ => ConnectionState::New,
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.chat.close();
        self.pc.close();
    }
}

/// A description of ours as the other side gets it: their video senders
/// start at [`START_KBPS`], not at Chromium's 300 kbit/s.
fn to_send(sdp: &str) -> String {
    with_start_bitrate(sdp, START_KBPS)
}
