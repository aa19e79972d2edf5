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

#[component]
pub fn SetupCheck() -> impl IntoView {
    let (lang, t) = (use_lang(), use_texts());
    let secure = web_sys::window().is_some_and(|w| w.is_secure_context());
    let devices = RwSignal::new(None::<Result<(usize, usize), MediaError>>);
    let stream = RwSignal::new_local(None::<MediaStream>);
    let size = RwSignal::new(None::<(u32, u32)>);
    let heard = RwSignal::new(false);
    let level = RwSignal::new(0.0);
    let speaker = RwSignal::new(None::<Result<(), String>>);
    let socket = RwSignal::new(None::<bool>);
    let stun = RwSignal::new(None::<Stun>);
    let turn = RwSignal::new(None::<Turn>);
    let call = RwSignal::new(None::<Call>);

    // Kept alive while the page is shown.
    let meter = StoredValue::new_local(None::<(AudioMeter, Interval)>);
    let probe_socket = StoredValue::new_local(None::<Socket>);

    spawn_local(async move {
        let captured = media::capture(&Request::camera_and_mic()).await;
        let listed = media::list_devices().await;
        match (captured, listed) {
            (Ok(captured), Ok(list)) => {
                devices.set(Some(Ok((list.cameras.len(), list.microphones.len()))));
                size.set(camera_size(&captured));
                if let Some(audio) = AudioMeter::new(&captured) {
                    let poll = Interval::new(100, move || {
                        let now = meter.with_value(|m| m.as_ref().map_or(0.0, |(m, _)| m.level()));
                        level.set(now);
                        if now > media::SPEAKING {
                            heard.set(true);
                        }
                    });
                    meter.set_value(Some((audio, poll)));
                }
                stream.set(Some(captured));
            }
            (Err(e), _) | (_, Err(e)) => devices.set(Some(Err(e))),
        }
        probe_network(stun, turn, call, stream.get_untracked()).await;
    });
    match Socket::connect(&signaling::default_url(), move |event| match event {
        SocketEvent::Open => {
            socket.set(Some(true));
            probe_socket.update_value(|s| drop(s.take()));
        }
        SocketEvent::Closed { .. } => {
            socket.update(|s| *s = Some(s.unwrap_or(false)));
        }
        _ => {}
    }) {
        Ok(opened) => probe_socket.set_value(Some(opened)),
        Err(_) => socket.set(Some(false)),
    }

    let play = move |_| {
        spawn_local(async move {
            speaker.set(Some(media::play_test_tone(None).await));
        });
    };
    let lines = move || {
        let t = t();
        let pending = |status: Option<Status>, text: Option<String>| {
            (status.unwrap_or(Status::Waiting), text.unwrap_or_else(|| t.check_waiting.to_owned()))
        };
        vec![
            if secure {
                (Status::Good, t.check_secure_ok.to_owned())
            } else {
                (Status::Bad, t.check_secure_bad.to_owned())
            },
            match devices.get() {
                None => pending(None, None),
                Some(Ok((cameras, microphones))) => (Status::Good, (t.check_devices_ok)(cameras, microphones)),
                Some(Err(e)) => (Status::Bad, e.text(lang.get())),
            },
            match (devices.get(), size.get()) {
                (None, _) => pending(None, None),
                (_, Some((w, h))) => (Status::Good, (t.check_preview_ok)(w, h)),
                (Some(_), None) => (Status::Bad, t.check_preview_none.to_owned()),
            },
            if heard.get() {
                (Status::Good, t.check_mic_heard.to_owned())
            } else {
                (Status::Waiting, t.check_mic_waiting.to_owned())
            },
            match socket.get() {
                None => pending(None, None),
                Some(true) => (Status::Good, t.check_socket_ok.to_owned()),
                Some(false) => (Status::Bad, t.check_socket_bad.to_owned()),
            },
            match stun.get() {
                None => pending(None, None),
                Some(stun) => (stun_status(&stun), (t.check_stun)(&stun)),
            },
            match turn.get() {
                None => pending(None, None),
                Some(turn) => (turn_status(&turn), (t.check_turn)(&turn)),
            },
            call_line(t, call.get()).unwrap_or_else(|| pending(None, None)),
        ]
    };
    let names = ["secure", "devices", "camera", "microphone", "socket", "stun", "turn", "relay-call"];

    view! {
        <main class="check">
            <header>
                <h1>{tr(|t| t.check_title)}</h1>
                <LanguagePicker />
            </header>
            <p>{tr(|t| t.check_intro)}</p>
            <div class="check-media">
                <StreamVideo stream=stream muted=true mirror=true class="self" own_camera=true />
                <meter class="level" min="0" max="0.2" value=move || level.get().to_string()></meter>
            </div>
            <ul class="check-lines">
                {move || lines().into_iter().zip(names).map(|((status, text), name)| view! {
                    <li class=format!("check-line {}", status.class()) data-check=name>{text}</li>
                }).collect_view()}
                <li class=move || format!("check-line {}", match speaker.get() {
                        None => "waiting",
                        Some(Ok(())) => "good",
                        Some(Err(_)) => "bad",
                    }) data-check="speaker">
                    <button type="button" on:click=play>{tr(|t| t.check_speaker_button)}</button>
                    " "
                    {move || match speaker.get() {
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
async fn probe_network(
    stun: RwSignal<Option<Stun>>,
    turn: RwSignal<Option<Turn>>,
    call: RwSignal<Option<Call>>,
    camera: Option<MediaStream>,
) {
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
    let found = rtc::gather(&IceConfig { servers: stun_servers, relay_only: false }, STUN_MS).await.unwrap_or_default();
    stun.set(Some(check::stun(stun_configured, &found.candidates, &found.errors)));

    let relay = IceConfig { relay_only: true, servers: turn_servers };
    let found = rtc::gather(&relay, TURN_MS).await.unwrap_or_default();
    let outcome = check::turn(!relay.servers.is_empty(), &found.candidates, &found.errors);
    let relays = matches!(outcome, Turn::Relay { .. });
    turn.set(Some(outcome));
    if !relays {
        call.set(Some(Call::NoRelay));
        return;
    }
    let through = rtc::call_itself(&relay, camera.as_ref(), CALL_MS).await;
    call.set(Some(match through {
        Ok(Some(details)) => Call::Through(details),
        _ => Call::Failed,
    }));
}
