//! The browser-facing modules in real headless Chromium with a fake camera and
//! microphone (see webdriver.json). Run by `cargo xtask test`.

use frontend::media::{self, Camera, LocalMedia, Request};
use frontend::rtc::{Peer, PeerEvent};
use frontend::warm_peer::WarmPeer;
use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::channel::oneshot;
use futures::{FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use shared::call::ConnectionState;
use shared::{IceConfig, IceServer};
use std::rc::Rc;
use wasm_bindgen_test::*;
use web_sys::MediaStreamTrackState;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn media_gets_a_stream_and_lists_cameras() {
    let local = LocalMedia::new(media::capture(&Request::camera_and_mic()).await.expect("fake devices"));
    assert!(local.video_track().is_some());
    assert!(local.audio_track().is_some());
    assert!(local.camera_id().is_some());
    let devices = media::list_devices().await.unwrap();
    assert!(!devices.cameras.is_empty(), "the fake camera is listed");
    assert!(!devices.microphones.is_empty());
    assert!(
        devices.cameras.iter().any(|c| Some(&c.id) == local.camera_id().as_ref()),
        "the current camera is in the list"
    );
}

#[wasm_bindgen_test]
async fn toggles_flip_the_right_tracks_and_survive_a_camera_switch() {
    let local = LocalMedia::new(media::capture(&Request::camera_and_mic()).await.unwrap());
    let (audio, video) = (local.audio_track().unwrap(), local.video_track().unwrap());

    local.set_muted(true);
    assert!(!audio.enabled() && video.enabled(), "mute touches only the microphone");
    local.set_camera_off(true);
    assert!(!audio.enabled() && !video.enabled());
    local.set_muted(false);
    assert!(audio.enabled() && !video.enabled(), "unmute leaves the camera off");

    let camera = local.camera_id().unwrap();
    let new = local.switch_camera(Camera::Device(camera)).await.unwrap();
    assert_eq!(video.ready_state(), MediaStreamTrackState::Ended, "the old camera is released first");
    assert!(!new.enabled(), "camera-off survives the switch");
    assert_eq!(local.stream().get_video_tracks().length(), 1);
    assert_eq!(local.video_track().unwrap().id(), new.id());
    local.set_camera_off(false);
    assert!(new.enabled(), "the toggle acts on the track now being sent");
}

#[wasm_bindgen_test]
async fn a_missing_camera_is_a_typed_error() {
    let err = media::capture(&Request { audio: false, video: Some(Camera::Device("no-such-camera".into())) })
        .await
        .unwrap_err();
    assert!(matches!(err, media::MediaError::Unsupported | media::MediaError::NoDevice), "got {err:?}");
}

#[wasm_bindgen_test]
fn the_pages_early_capture_asks_for_what_the_app_asks() {
    let page = include_str!("../../index.html");
    let start = page.find("getUserMedia(").expect("index.html starts the capture early") + "getUserMedia(".len();
    let end = start + page[start..].find(");").unwrap();
    let early: serde_json::Value = serde_json::from_str(&page[start..end]).expect("the constraints are JSON");
    let app = js_sys::JSON::stringify(&media::constraints(&Request::camera_and_mic())).unwrap();
    let app: serde_json::Value = serde_json::from_str(&String::from(app)).unwrap();
    assert_eq!(early, app);
}

#[wasm_bindgen_test]
async fn the_first_capture_takes_the_early_one_and_only_once() {
    let window = web_sys::window().unwrap();
    let early = media::capture(&Request::AUDIO_ONLY).await.unwrap();
    let promise = js_sys::Promise::resolve(&early);
    js_sys::Reflect::set(&window, &media::EARLY_CAPTURE.into(), &promise).unwrap();

    let first = media::capture(&Request::camera_and_mic()).await.unwrap();
    assert_eq!(first.id(), early.id(), "the early stream is adopted, not a second capture");
    assert!(js_sys::Reflect::get(&window, &media::EARLY_CAPTURE.into()).unwrap().is_undefined());
    let again = media::capture(&Request::camera_and_mic()).await.unwrap();
    assert_ne!(again.id(), early.id(), "a retry asks the browser again");
    assert_eq!(again.get_video_tracks().length(), 1);
}

/// Forwards one peer's ICE candidates to the other as they appear.
fn connect_ice(mut from: UnboundedReceiver<PeerEvent>, to: Rc<Peer>) -> UnboundedReceiver<PeerEvent> {
    let (rest_tx, rest_rx) = unbounded();
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(event) = from.next().await {
            match event {
                PeerEvent::IceCandidate(c) => to.add_ice(&c).await.expect("candidate applies"),
                other => {
                    let _ = rest_tx.unbounded_send(other);
                }
            }
        }
    });
    rest_rx
}

async fn next_event(rx: &mut UnboundedReceiver<PeerEvent>, want: impl Fn(&PeerEvent) -> bool) -> PeerEvent {
    let mut timeout = TimeoutFuture::new(30_000).fuse();
    loop {
        futures::select! {
            event = rx.next() => match event {
                Some(e) if want(&e) => return e,
                Some(_) => continue,
                None => panic!("events ended"),
            },
            _ = timeout => panic!("timed out waiting for a peer event"),
        }
    }
}

/// Two peer connections in this page, `a` sending `local`, their ICE
/// candidates handed over directly; the other events come out here.
struct Pair {
    a: Rc<Peer>,
    b: Rc<Peer>,
    a_events: UnboundedReceiver<PeerEvent>,
    b_events: UnboundedReceiver<PeerEvent>,
}

fn pair(local: &LocalMedia) -> Pair {
    let (a_tx, a_rx) = unbounded();
    let (b_tx, b_rx) = unbounded();
    let a = Rc::new(Peer::new(&IceConfig::default(), move |e| drop(a_tx.unbounded_send(e))).unwrap());
    let b = Rc::new(Peer::new(&IceConfig::default(), move |e| drop(b_tx.unbounded_send(e))).unwrap());
    a.send_stream(local.stream());
    let a_events = connect_ice(a_rx, b.clone());
    let b_events = connect_ice(b_rx, a.clone());
    Pair { a, b, a_events, b_events }
}

/// The offer `pc` makes and sends; set locally once this returns.
async fn offer_of(pc: &Peer) -> String {
    let mut sdp = String::new();
    pc.offer(|made| sdp = made).await.unwrap();
    sdp
}

/// The answer `pc` makes and sends; set locally once this returns.
async fn answer_of(pc: &Peer) -> String {
    let mut sdp = String::new();
    pc.answer(|made| sdp = made).await.unwrap();
    sdp
}

/// A negotiation as the page runs it: each description is sent the moment it
/// is made, and the other side applies it while it is still being set locally.
async fn negotiate(a: &Peer, b: &Peer) {
    let (offer_tx, offer_rx) = oneshot::channel();
    let (answer_tx, answer_rx) = oneshot::channel();
    let offering = async { a.offer(|sdp| drop(offer_tx.send(sdp))).await.unwrap() };
    let answering = async {
        b.set_remote_offer(&offer_rx.await.unwrap()).await.unwrap();
        b.answer(|sdp| drop(answer_tx.send(sdp))).await.unwrap();
    };
    let applying = async { a.set_remote_answer(&answer_rx.await.unwrap()).await.unwrap() };
    futures::join!(offering, answering, applying);
}

#[wasm_bindgen_test]
async fn two_peer_connections_connect_and_deliver_media_and_chat() {
    let local = LocalMedia::new(media::capture(&Request::camera_and_mic()).await.unwrap());
    let Pair { a, b, mut a_events, mut b_events } = pair(&local);

    negotiate(&a, &b).await;

    let PeerEvent::Stream(remote) = next_event(&mut b_events, |e| matches!(e, PeerEvent::Stream(_))).await else {
        unreachable!()
    };
    next_event(&mut b_events, |e| matches!(e, PeerEvent::State(ConnectionState::Connected))).await;
    assert_eq!(remote.get_video_tracks().length(), 1, "the camera arrives");
    assert_eq!(remote.get_audio_tracks().length(), 1, "the microphone arrives");

    // The pre-agreed chat channel opens with the connection.
    next_event(&mut a_events, |e| matches!(e, PeerEvent::ChatOpen)).await;
    a.send_chat("안녕하세요").unwrap();
    let chat = next_event(&mut b_events, |e| matches!(e, PeerEvent::Chat(_))).await;
    assert!(matches!(chat, PeerEvent::Chat(t) if t == "안녕하세요"));

    // replaceTrack swaps the camera without renegotiation.
    let new = local.switch_camera(Camera::Front).await.unwrap();
    a.replace_track(&new).await.unwrap();
    assert_eq!(a.sender("video").unwrap().track().unwrap().id(), new.id());
    assert_eq!(a.connection_state(), ConnectionState::Connected);
}

/// The `a=ice-ufrag:` of an SDP: new ICE credentials mean a new one.
fn ice_ufrag(sdp: &str) -> String {
    sdp.lines().find_map(|l| l.strip_prefix("a=ice-ufrag:")).expect("an ice-ufrag line").to_owned()
}

#[wasm_bindgen_test]
async fn an_ice_restart_renegotiates_new_credentials_and_the_call_stays_up() {
    let local = LocalMedia::new(media::capture(&Request::camera_and_mic()).await.unwrap());
    let Pair { a, b, mut b_events, .. } = pair(&local);
    let first = offer_of(&a).await;
    assert_eq!(a.pending_offer().as_deref(), Some(first.as_str()), "the offer awaits its answer");
    b.set_remote_offer(&first).await.unwrap();
    let answer = answer_of(&b).await;
    a.set_remote_answer(&answer).await.unwrap();
    assert_eq!(a.pending_offer(), None, "answered: nothing to send again");
    next_event(&mut b_events, |e| matches!(e, PeerEvent::State(ConnectionState::Connected))).await;

    // What the page does when a connection fails.
    a.restart_ice().unwrap();
    let restart = offer_of(&a).await;
    assert_ne!(ice_ufrag(&restart), ice_ufrag(&first), "the restart offer has new ICE credentials");
    b.set_remote_offer(&restart).await.unwrap();
    let answer = answer_of(&b).await;
    assert_ne!(ice_ufrag(&answer), ice_ufrag(&first));
    a.set_remote_answer(&answer).await.unwrap();
    // Connected over the new credentials: the old ones are gone from both descriptions.
    for _ in 0..100 {
        if a.connection_state() == ConnectionState::Connected && b.connection_state() == ConnectionState::Connected {
            break;
        }
        TimeoutFuture::new(100).await;
    }
    assert_eq!((a.connection_state(), b.connection_state()), (ConnectionState::Connected, ConnectionState::Connected));
}

#[wasm_bindgen_test]
async fn a_warm_peer_offers_ahead_and_connects_once_someone_listens() {
    let local = LocalMedia::new(media::capture(&Request::camera_and_mic()).await.unwrap());
    // It does not fit a meeting given other ICE servers, or sending other kinds of media.
    let none = IceConfig::default();
    let servers = |servers| IceConfig { servers, relay_only: false };
    let stun = servers(vec![IceServer { urls: vec!["stun:127.0.0.1:9".into()], username: None, credential: None }]);
    let warm = WarmPeer::prepare(none.clone(), local.stream()).await.unwrap();
    assert!(warm.into_peer_for(&stun, local.stream()).is_err());
    let audio_only = media::capture(&Request::AUDIO_ONLY).await.unwrap();
    let warm = WarmPeer::prepare(none.clone(), local.stream()).await.unwrap();
    assert!(warm.into_peer_for(&none, &audio_only).is_err());
    // With `--turn-secret` the page's TURN credentials (made before Join) and
    // the member's differ, from one secret: it still fits the same servers.
    let turn = |user: &str| {
        let server = IceServer {
            urls: vec!["turn:127.0.0.1:9".into()],
            username: Some(user.into()),
            credential: Some(format!("{user}-mac")),
        };
        servers(vec![server])
    };
    let warm = WarmPeer::prepare(turn("1:moim-lobby"), local.stream()).await.unwrap();
    assert!(warm.into_peer_for(&turn("1:moim-7"), local.stream()).is_ok());
    let warm = WarmPeer::prepare(turn("1:moim-lobby"), local.stream()).await.unwrap();
    assert!(warm.into_peer_for(&stun, local.stream()).is_err());
    // Nor a meeting whose server allows relayed paths only.
    let warm = WarmPeer::prepare(turn("1:moim-lobby"), local.stream()).await.unwrap();
    let relayed = IceConfig { relay_only: true, ..turn("1:moim-7") };
    assert!(warm.into_peer_for(&relayed, local.stream()).is_err());

    let warm = WarmPeer::prepare(none.clone(), local.stream()).await.unwrap();
    // Its candidates are gathered meanwhile, with nobody listening yet.
    TimeoutFuture::new(500).await;
    let a = Rc::new(warm.into_peer_for(&none, local.stream()).unwrap_or_else(|_| panic!("it fits")));
    let offer = a.pending_offer().expect("the offer is made and set locally");
    // The offer lists them, on the one transport audio, video and chat share.
    let sections: Vec<&str> = offer.split("\r\nm=").skip(1).collect();
    assert_eq!(sections.len(), 3, "audio, video and chat: {offer}");
    assert!(sections[0].contains("\r\na=candidate:"), "candidates in the offer: {offer}");
    assert!(sections[1..].iter().all(|m| !m.contains("a=candidate:")), "gathered once, for the bundle: {offer}");
    // So the ones kept for it are not sent again.
    a.forget_kept_candidates();
    let (a_tx, a_rx) = unbounded();
    let (b_tx, b_rx) = unbounded();
    let b = Rc::new(Peer::new(&IceConfig::default(), move |e| drop(b_tx.unbounded_send(e))).unwrap());
    b.set_remote_offer(&offer).await.unwrap();
    a.listen(move |e| drop(a_tx.unbounded_send(e)));
    let mut a_rx = a_rx;
    let first = futures::select! {
        event = a_rx.next() => event,
        _ = TimeoutFuture::new(300).fuse() => None,
    };
    assert!(!matches!(first, Some(PeerEvent::IceCandidate(_))), "no kept candidate, got {first:?}");
    let mut a_events = connect_ice(a_rx, b.clone());
    let answer = answer_of(&b).await;
    a.set_remote_answer(&answer).await.unwrap();
    let mut b_events = connect_ice(b_rx, a.clone());

    let PeerEvent::Stream(remote) = next_event(&mut b_events, |e| matches!(e, PeerEvent::Stream(_))).await else {
        unreachable!()
    };
    next_event(&mut b_events, |e| matches!(e, PeerEvent::State(ConnectionState::Connected))).await;
    next_event(&mut a_events, |e| matches!(e, PeerEvent::State(ConnectionState::Connected))).await;
    assert_eq!((remote.get_video_tracks().length(), remote.get_audio_tracks().length()), (1, 1));
}

#[wasm_bindgen_test]
async fn a_spare_peer_answers_the_next_member_s_offer() {
    let local = LocalMedia::new(media::capture(&Request::camera_and_mic()).await.unwrap());
    let spare = WarmPeer::spare(IceConfig::default(), local.stream()).unwrap();
    assert_eq!(spare.age_ms(), 0.0, "a spare has gathered nothing, so it does not go stale");
    let b = Rc::new(spare.into_peer_for(&IceConfig::default(), local.stream()).unwrap_or_else(|_| panic!("it fits")));
    assert_eq!(b.pending_offer(), None, "a spare makes no offer");
    let (a_tx, a_rx) = unbounded();
    let (b_tx, b_rx) = unbounded();
    let a = Rc::new(Peer::new(&IceConfig::default(), move |e| drop(a_tx.unbounded_send(e))).unwrap());
    a.send_stream(local.stream());
    b.listen(move |e| drop(b_tx.unbounded_send(e)));
    negotiate(&a, &b).await;
    let mut a_events = connect_ice(a_rx, b.clone());
    let mut b_events = connect_ice(b_rx, a.clone());
    for events in [&mut a_events, &mut b_events] {
        let PeerEvent::Stream(remote) = next_event(events, |e| matches!(e, PeerEvent::Stream(_))).await else {
            unreachable!()
        };
        assert_eq!((remote.get_video_tracks().length(), remote.get_audio_tracks().length()), (1, 1));
        next_event(events, |e| matches!(e, PeerEvent::State(ConnectionState::Connected))).await;
    }
}
