//! "Test my setup" (`/check`): one line per thing a call needs, each green
//! or red with what to do, in the page's language. The probes run once, on
//! their own, as the page opens; the speaker's needs a click (browsers play
//! sound only after one).

use super::{LanguagePicker, StreamVideo};
use crate::i18n::{tr, use_lang, use_texts, Texts};
use crate::media::{self, AudioMeter, MediaError, Request};
use crate::rtc;
use crate::signaling::{self, Socket, SocketEvent};
use gloo_timers::callback::Interval;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::check::{self, Stun, Turn};
use shared::link::Details;
use shared::{IceConfig, IceServer};
use wasm_bindgen::JsCast;
use web_sys::MediaStream;

/// How long each gathering may take, and the call through the relay.
const STUN_MS: u32 = 6_000;
const TURN_MS: u32 = 8_000;
const CALL_MS: u32 = 15_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Good,
    Bad,
}

impl Status {
    fn class(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Good => "good",
            Status::Bad => "bad",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Call {
    Through(Details),
    Failed,
    NoRelay,
}

/// What the probes have found so far; `None`: still checking.
#[derive(Debug, Clone, Default, PartialEq)]
struct Found {
    /// Cameras and microphones, once allowed.
    devices: Option<Result<(usize, usize), MediaError>>,
    camera_size: Option<(u32, u32)>,
    heard: bool,
    speaker: Option<Result<(), String>>,
    /// The outputs to test on, where the browser lets a page choose.
    speakers: Vec<media::Device>,
    chosen_speaker: Option<String>,
    socket: Option<bool>,
    stun: Option<Stun>,
    turn: Option<Turn>,
    call: Option<Call>,
}

#[component]
pub fn SetupCheck() -> impl IntoView {
    let (lang, t) = (use_lang(), use_texts());
    let secure = web_sys::window().is_some_and(|w| w.is_secure_context());
    let found = RwSignal::new(Found::default());
    let stream = RwSignal::new_local(None::<MediaStream>);
    let level = RwSignal::new(0.0);
    // Kept alive while the page is shown.
    let meter = StoredValue::new_local(None::<(AudioMeter, Interval)>);
    let probe_socket = StoredValue::new_local(None::<Socket>);

    spawn_local(async move {
        let captured = media::capture(&Request::camera_and_mic()).await;
        let listed = media::list_devices().await;
        match (captured, listed) {
            (Ok(captured), Ok(list)) => {
                found.update(|f| {
                    f.devices = Some(Ok((list.cameras.len(), list.microphones.len())));
                    f.camera_size = camera_size(&captured);
                    if media::can_choose_speaker() {
                        f.speakers = list.speakers;
                    }
                });
                if let Some(audio) = AudioMeter::new(&captured) {
                    let poll = Interval::new(100, move || {
                        let now = meter.with_value(|m| m.as_ref().map_or(0.0, |(m, _)| m.level()));
                        level.set(now);
                        if now > media::SPEAKING && !found.with_untracked(|f| f.heard) {
                            found.update(|f| f.heard = true);
                        }
                    });
                    meter.set_value(Some((audio, poll)));
                }
                stream.set(Some(captured));
            }
            (Err(e), _) | (_, Err(e)) => found.update(|f| f.devices = Some(Err(e))),
        }
        probe_network(found, stream.get_untracked()).await;
    });
    match Socket::connect(&signaling::default_url(), move |event| match event {
        SocketEvent::Open => {
            found.update(|f| f.socket = Some(true));
            probe_socket.update_value(|s| drop(s.take()));
        }
        SocketEvent::Closed { .. } => found.update(|f| f.socket = Some(f.socket.unwrap_or(false))),
        _ => {}
    }) {
        Ok(opened) => probe_socket.set_value(Some(opened)),
        Err(_) => found.update(|f| f.socket = Some(false)),
    }

    let play = move |_| {
        spawn_local(async move {
            let on = found.with_untracked(|f| f.chosen_speaker.clone());
            let played = media::play_test_tone(on.as_deref()).await;
            found.update(|f| f.speaker = Some(played));
        });
    };
    let lines = move || {
        let (t, f) = (t(), found.get());
        let waiting = || (Status::Waiting, t.check_waiting.to_owned());
        vec![
            if secure {
                (Status::Good, t.check_secure_ok.to_owned())
            } else {
                (Status::Bad, t.check_secure_bad.to_owned())
            },
            match &f.devices {
                None => waiting(),
                Some(Ok((cameras, microphones))) => (Status::Good, (t.check_devices_ok)(*cameras, *microphones)),
                Some(Err(e)) => (Status::Bad, e.text(lang.get())),
            },
            match (&f.devices, f.camera_size) {
                (None, _) => waiting(),
                (_, Some((w, h))) => (Status::Good, (t.check_preview_ok)(w, h)),
                (Some(_), None) => (Status::Bad, t.check_preview_none.to_owned()),
            },
            if f.heard {
                (Status::Good, t.check_mic_heard.to_owned())
            } else {
                (Status::Waiting, t.check_mic_waiting.to_owned())
            },
            match f.socket {
                None => waiting(),
                Some(true) => (Status::Good, t.check_socket_ok.to_owned()),
                Some(false) => (Status::Bad, t.check_socket_bad.to_owned()),
            },
            match &f.stun {
                None => waiting(),
                Some(stun) => (stun_status(stun), (t.check_stun)(stun)),
            },
            match &f.turn {
                None => waiting(),
                Some(turn) => (turn_status(turn), (t.check_turn)(turn)),
            },
            call_line(t, f.call.clone()).unwrap_or_else(waiting),
        ]
    };
    let names = ["secure", "devices", "camera", "microphone", "socket", "stun", "turn", "relay-call"];
    let speaker = move || found.with(|f| f.speaker.clone());
    // Drawn again only when the list changes, not with every probe's news.
    let speakers = Memo::new(move |_| found.with(|f| f.speakers.clone()));

    view! {
        <main class="check">
            <header>
                <h1>{tr(|t| t.check_title)}</h1>
                <LanguagePicker />
            </header>
            <p>{tr(|t| t.check_intro)}</p>
            <div class="check-media">
                <StreamVideo stream=stream muted=true mirror=true class="self" own_camera=true />
                // In thousandths: an f64's `to_string` would bring float printing into the wasm.
                <meter class="level" min="0" max="200" value=move || ((level.get() * 1000.0) as i64).to_string()></meter>
            </div>
            <ul class="check-lines">
                {move || lines().into_iter().zip(names).map(|((status, text), name)| view! {
                    <li class=format!("check-line {}", status.class()) data-check=name>{text}</li>
                }).collect_view()}
                <li class=move || format!("check-line {}", match speaker() {
                        None => "waiting",
                        Some(Ok(())) => "good",
                        Some(Err(_)) => "bad",
                    }) data-check="speaker">
                    {move || {
                        let speakers = speakers.get();
                        (!speakers.is_empty()).then(|| view! {
                            <select aria-label=tr(|t| t.speaker)
                                on:change=move |ev| found.update(|f| f.chosen_speaker = Some(event_target_value(&ev)))>
                                {speakers.into_iter().map(|d| {
                                    let label = if d.label.is_empty() { format!("{} {}", t().speaker, d.number) } else { d.label };
                                    view! { <option value=d.id>{label}</option> }
                                }).collect_view()}
                            </select>
                        })
                    }}
                    " "
                    <button type="button" on:click=play>{tr(|t| t.check_speaker_button)}</button>
                    " "
                    {move || match speaker() {
                        None => t().check_speaker_hint.to_owned(),
                        Some(Ok(())) => t().check_speaker_played.to_owned(),
                        Some(Err(why)) => (t().check_speaker_failed)(&why),
                    }}
                </li>
            </ul>
            <a class="back" href="/">{tr(|t| t.back_to_moim)}</a>
        </main>
    }
}

/// "Test my setup", opened beside the page (a meeting under way goes on).
#[component]
pub fn SetupCheckLink() -> impl IntoView {
    view! { <a class="setup-check" href=crate::route::SETUP_CHECK target="_blank">{tr(|t| t.check_title)}</a> }
}

/// The camera's size as it sends it.
fn camera_size(stream: &MediaStream) -> Option<(u32, u32)> {
    let track: web_sys::MediaStreamTrack = stream.get_video_tracks().get(0).dyn_into().ok()?;
    let settings = track.get_settings();
    Some((settings.get_width()? as u32, settings.get_height()? as u32))
}

fn stun_status(stun: &Stun) -> Status {
    match stun {
        Stun::Reflexive(_) | Stun::NoTranslation => Status::Good,
        Stun::NotConfigured | Stun::Unreachable(_) => Status::Bad,
    }
}

fn turn_status(turn: &Turn) -> Status {
    if matches!(turn, Turn::Relay { .. }) {
        Status::Good
    } else {
        Status::Bad
    }
}

fn call_line(t: &Texts, call: Option<Call>) -> Option<(Status, String)> {
    Some(match call? {
        Call::Through(details) => {
            (Status::Good, (t.check_loopback_ok)(details.rtt_ms.unwrap_or_default(), details.loss_percent))
        }
        Call::Failed => (Status::Bad, t.check_loopback_bad.to_owned()),
        Call::NoRelay => (Status::Bad, t.check_loopback_skipped.to_owned()),
    })
}

/// The STUN and TURN servers this server hands out, each tried alone; then,
/// if a relay came, a short call through it.
async fn probe_network(found: RwSignal<Found>, camera: Option<MediaStream>) {
    let ice = signaling::lobby_ice().await.unwrap_or_default();
    let only = |turn: bool| -> Vec<IceServer> {
        let pick = |server: &IceServer| {
            let urls: Vec<String> = server.urls.iter().filter(|u| check::is_turn_url(u) == turn).cloned().collect();
            (!urls.is_empty()).then(|| IceServer { urls, ..server.clone() })
        };
        ice.servers.iter().filter_map(pick).collect()
    };
    let (stun_servers, turn_servers) = (only(false), only(true));
    let stun_configured = !stun_servers.is_empty();
    let gathered =
        rtc::gather(&IceConfig { servers: stun_servers, relay_only: false }, STUN_MS).await.unwrap_or_default();
    let stun = check::stun(stun_configured, &gathered.candidates, &gathered.errors);
    found.update(|f| f.stun = Some(stun));

    let relay = IceConfig { relay_only: true, servers: turn_servers };
    let gathered = rtc::gather(&relay, TURN_MS).await.unwrap_or_default();
    let turn = check::turn(!relay.servers.is_empty(), &gathered.candidates, &gathered.errors);
    let relays = matches!(turn, Turn::Relay { .. });
    found.update(|f| f.turn = Some(turn));
    if !relays {
        found.update(|f| f.call = Some(Call::NoRelay));
        return;
    }
    let through = rtc::call_itself(&relay, camera.as_ref(), CALL_MS).await;
    let call = match through {
        Ok(Some(details)) => Call::Through(details),
        _ => Call::Failed,
    };
    found.update(|f| f.call = Some(call));
}
