//! The page's state and the actions the controls take: your media, your
//! devices, and the meeting if you are in one. Components read its signals
//! and call its methods; it is shared through Leptos context.

use crate::media::{self, AudioMeter, Camera, DeviceList, LocalMedia, MediaError, Request};
use crate::meeting::{Meeting, MeetingView, Phase, Prepared, Problem};
use crate::signaling::Socket;
use crate::warm_peer::{WarmPeer, FRESH_FOR_MS};
use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::rc::Rc;
use web_sys::{MediaStream, MediaStreamTrack};

/// How often the microphone level meter redraws.
const METER_MS: u32 = 100;

/// How long after the preview starts the first offer is prepared.
const WARM_DELAY_MS: u32 = 500;

/// How often the prepared offer's age is checked, while on the welcome screen.
const WARM_CHECK_MS: u32 = 30_000;

#[derive(Clone, Copy)]
pub struct Session {
    local: RwSignal<Option<Rc<LocalMedia>>, LocalStorage>,
    /// The stream to preview; set again after a device switch so `<video>`s refresh.
    pub preview: RwSignal<Option<MediaStream>, LocalStorage>,
    pub media_error: RwSignal<Option<MediaError>>,
    pub media_pending: RwSignal<bool>,
    /// "Join without camera or microphone" was pressed on the welcome
    /// screen: it joins as soon as that (empty) media is in place.
    pub join_without_media: RwSignal<bool>,
    pub muted: RwSignal<bool>,
    pub camera_off: RwSignal<bool>,
    pub has_camera: RwSignal<bool>,
    pub has_microphone: RwSignal<bool>,
    pub devices: RwSignal<DeviceList>,
    pub camera_id: RwSignal<Option<String>>,
    pub microphone_id: RwSignal<Option<String>>,
    /// The chosen speaker (`None`: the system's default).
    pub speaker_id: RwSignal<Option<String>>,
    /// Your microphone's loudness, 0..1, for the meter and your tile.
    pub mic_level: RwSignal<f64>,
    meter: StoredValue<Option<(Rc<AudioMeter>, Interval)>, LocalStorage>,
    /// Which way the camera faces, for the front/back button on phones.
    pub facing_back: RwSignal<bool>,
    pub sharing: RwSignal<bool>,
    /// The shared screen, shown on your own tile while sharing.
    pub screen_preview: RwSignal<Option<MediaStream>, LocalStorage>,
    screen_ended: StoredValue<Option<EventListener>, LocalStorage>,
    meeting: RwSignal<Option<Meeting>, LocalStorage>,
    /// A socket opened while the person is on the welcome screen, for Join.
    lobby: StoredValue<Option<Socket>, LocalStorage>,
    /// A connection with its offer made, prepared on the welcome screen for Join.
    warm: StoredValue<Option<WarmPeer>, LocalStorage>,
    /// Counts preparations, so an older one finishing late is dropped.
    warm_round: StoredValue<u32>,
    /// Keeps the prepared connection fresh while the person waits.
    warm_timer: StoredValue<Option<Interval>, LocalStorage>,
    /// The preparation about to start (a newer request replaces it).
    warm_soon: StoredValue<Option<Timeout>, LocalStorage>,
    pub view: MeetingView,
}

impl Session {
    pub fn new() -> Self {
        Self {
            local: RwSignal::new_local(None),
            preview: RwSignal::new_local(None),
            media_error: RwSignal::new(None),
            media_pending: RwSignal::new(false),
            join_without_media: RwSignal::new(false),
            muted: RwSignal::new(false),
            camera_off: RwSignal::new(false),
            has_camera: RwSignal::new(false),
            has_microphone: RwSignal::new(false),
            devices: RwSignal::new(DeviceList::default()),
            camera_id: RwSignal::new(None),
            microphone_id: RwSignal::new(None),
            speaker_id: RwSignal::new(None),
            mic_level: RwSignal::new(0.0),
            meter: StoredValue::new_local(None),
            facing_back: RwSignal::new(false),
            sharing: RwSignal::new(false),
            screen_preview: RwSignal::new_local(None),
            screen_ended: StoredValue::new_local(None),
            meeting: RwSignal::new_local(None),
            lobby: StoredValue::new_local(None),
            warm: StoredValue::new_local(None),
            warm_round: StoredValue::new(0),
            warm_timer: StoredValue::new_local(None),
            warm_soon: StoredValue::new_local(None),
            view: MeetingView::new(),
        }
    }

    fn local(&self) -> Option<Rc<LocalMedia>> {
        self.local.get_untracked()
    }

    fn meeting(&self) -> Option<Meeting> {
        self.meeting.get_untracked()
    }

    /// Opens camera and microphone (or what `request` asks for).
    pub fn start_media(self, request: Request) {
        self.media_pending.set(true);
        spawn_local(async move {
            match media::capture(&request).await {
                Ok(stream) => {
                    self.media_error.set(None);
                    self.adopt(Rc::new(LocalMedia::new(stream)));
                }
                Err(err) => self.media_error.set(Some(err)),
            }
            self.media_pending.set(false);
            self.refresh_devices();
        });
    }

    /// Goes on without camera or microphone: you still see and hear others.
    /// On the welcome screen the button says Join, so it joins too.
    pub fn receive_only(self) {
        if self.meeting.get_untracked().is_none() {
            self.join_without_media.set(true);
        }
        self.start_media(Request { audio: false, video: None });
    }

    /// Neither camera nor microphone: the others get our name only.
    pub fn sends_nothing(self) -> bool {
        self.local.with(Option::is_some) && !self.has_camera.get() && !self.has_microphone.get()
    }

    fn adopt(self, local: Rc<LocalMedia>) {
        local.set_muted(self.muted.get_untracked());
        local.set_camera_off(self.camera_off.get_untracked());
        self.has_camera.set(local.video_track().is_some());
        self.has_microphone.set(local.audio_track().is_some());
        self.camera_id.set(local.camera_id());
        self.microphone_id.set(local.microphone_id());
        // `Clone::clone`, not web-sys' `MediaStream::clone` (a JS clone with
        // copies of the tracks, which a later device switch would not reach).
        self.preview.set(Some(Clone::clone(local.stream())));
        self.start_meter(&local);
        self.local.set(Some(local));
        self.prepare_offer_soon();
    }

    /// (Re)starts the level meter on the current microphone track.
    fn start_meter(self, local: &LocalMedia) {
        let level = self.mic_level;
        level.set(0.0);
        let meter = AudioMeter::new(local.stream()).map(|meter| {
            let meter = Rc::new(meter);
            let reader = meter.clone();
            let poll = Interval::new(METER_MS, move || {
                let now = reader.level();
                // Redraw only for a visible change.
                if (now - level.get_untracked()).abs() > 0.004 {
                    level.set(now);
                }
            });
            (meter, poll)
        });
        self.meter.set_value(meter);
    }

    pub fn refresh_devices(self) {
        spawn_local(async move {
            if let Ok(list) = media::list_devices().await {
                self.devices.set(list);
            }
        });
    }

    pub fn toggle_mute(self) {
        let muted = !self.muted.get_untracked();
        self.muted.set(muted);
        if let Some(local) = self.local() {
            local.set_muted(muted);
        }
        if let Some(meeting) = self.meeting() {
            meeting.media_state_changed();
        }
    }

    pub fn toggle_camera(self) {
        let off = !self.camera_off.get_untracked();
        self.camera_off.set(off);
        if let Some(local) = self.local() {
            local.set_camera_off(off);
        }
        if let Some(meeting) = self.meeting() {
            meeting.media_state_changed();
        }
    }

    pub fn switch_camera(self, camera: Camera) {
        self.switch_camera_or(camera, None);
    }

    /// Switches to `camera`, or to `fallback` if the browser cannot match it.
    fn switch_camera_or(self, camera: Camera, fallback: Option<Camera>) {
        let Some(local) = self.local() else { return };
        spawn_local(async move {
            let back = camera == Camera::Back;
            let mut result = local.switch_camera(camera).await;
            if let (Err(MediaError::Unsupported), Some(other)) = (&result, fallback) {
                result = local.switch_camera(other).await;
            }
            self.camera_id.set(local.camera_id());
            self.preview.set(Some(Clone::clone(local.stream())));
            self.prepare_offer_soon();
            match result {
                Ok(track) => {
                    self.facing_back.set(back);
                    // While sharing, the others keep seeing the screen (`replace_track` sees to it).
                    if let Some(meeting) = self.meeting() {
                        meeting.replace_track(&track).await;
                    }
                }
                Err(err) => self.media_error.set(Some(err)),
            }
        });
    }

    pub fn switch_microphone(self, device_id: String) {
        let Some(local) = self.local() else { return };
        spawn_local(async move {
            match local.switch_microphone(&device_id).await {
                Ok(track) => {
                    self.microphone_id.set(local.microphone_id());
                    self.start_meter(&local);
                    self.prepare_offer_soon();
                    if let Some(meeting) = self.meeting() {
                        meeting.replace_track(&track).await;
                    }
                }
                Err(err) => self.media_error.set(Some(err)),
            }
        });
    }

    /// Between the front and back camera (phones).
    pub fn flip_camera(self) {
        let next = if self.facing_back.get_untracked() { Camera::Front } else { Camera::Back };
        // Cameras that report no facing (desktops, the test fakes) are taken in turn.
        let current = self.camera_id.get_untracked();
        let other = self.devices.with_untracked(|d| {
            d.cameras.iter().find(|c| Some(&c.id) != current.as_ref()).map(|c| Camera::Device(c.id.clone()))
        });
        self.switch_camera_or(next, other);
    }

    pub fn choose_speaker(self, device_id: String) {
        self.speaker_id.set(Some(device_id));
    }

    pub fn toggle_share(self) {
        if self.sharing.get_untracked() {
            return self.stop_share();
        }
        let Some(local) = self.local() else { return };
        spawn_local(async move {
            let track = match media::capture_screen().await {
                Ok(Some(track)) => track,
                Ok(None) => return, // the person cancelled the picker
                Err(err) => return self.view.notice.set(Some(Problem::ShareFailed(err))),
            };
            // The browser's own "Stop sharing" button ends the track.
            let ended = EventListener::once(&track, "ended", move |_| self.stop_share());
            self.screen_ended.set_value(Some(ended));
            // The same track, not a JS copy: stopping it must end the capture.
            local.set_screen(Some(Clone::clone(&track)));
            self.screen_preview.set(MediaStream::new_with_tracks(&js_sys::Array::of1(&track)).ok());
            self.sharing.set(true);
            self.send_video(track).await;
        });
    }

    /// Back to the camera (or to nothing, for someone without one).
    pub fn stop_share(self) {
        let Some(local) = self.local() else { return };
        local.set_screen(None);
        self.screen_ended.set_value(None);
        self.screen_preview.set(None);
        self.sharing.set(false);
        if let Some(camera) = local.video_track() {
            spawn_local(self.send_video(camera));
        }
    }

    async fn send_video(self, track: MediaStreamTrack) {
        if let Some(meeting) = self.meeting() {
            meeting.replace_track(&track).await;
            meeting.media_state_changed();
        }
    }

    /// Opens the signaling socket ahead of Join (in parallel with the
    /// camera), so joining skips the WebSocket handshake, and prepares the
    /// first offer and keeps it fresh, so joining skips making it.
    pub fn preconnect(self) {
        let socket = Socket::open(&crate::signaling::default_url()).ok();
        self.lobby.set_value(socket);
        if self.warm_timer.with_value(Option::is_none) {
            let timer = Interval::new(WARM_CHECK_MS, move || {
                let stale = self.warm.with_value(|w| w.as_ref().is_none_or(|w| w.age_ms() > FRESH_FOR_MS / 2.0));
                if stale {
                    self.prepare_offer();
                }
            });
            self.warm_timer.set_value(Some(timer));
        }
        self.prepare_offer_soon();
    }

    /// [`Session::prepare_offer`], once the page has drawn: it costs the
    /// main thread a few tens of milliseconds (and a request, the first
    /// time), and the preview comes first.
    fn prepare_offer_soon(self) {
        self.warm_soon.set_value(Some(Timeout::new(WARM_DELAY_MS, move || self.prepare_offer())));
    }

    /// Prepares the connection for the first offer after Join (with the
    /// camera and microphone as they are now), replacing an older one.
    fn prepare_offer(self) {
        let Some(local) = self.local() else { return };
        if self.meeting().is_some() {
            return;
        }
        let round = self.next_warm_round();
        spawn_local(async move {
            // Asked each time: TURN credentials expire.
            let Some(ice) = crate::signaling::lobby_ice().await else { return };
            match WarmPeer::prepare(ice, local.stream()).await {
                // Not if Join came meanwhile, or a newer one started.
                Ok(warm) if self.warm_round.get_value() == round && self.meeting().is_none() => {
                    self.warm.set_value(Some(warm));
                }
                Ok(_) => {}
                Err(err) => leptos::logging::warn!("{err}"),
            }
        });
    }

    fn next_warm_round(self) -> u32 {
        self.warm_round.update_value(|r| *r += 1);
        self.warm_round.get_value()
    }

    pub fn join(self, room: String, name: String, password: Option<String>) {
        let Some(local) = self.local() else { return };
        if let Some(old) = self.meeting() {
            old.leave();
        }
        let url = crate::signaling::default_url();
        self.next_warm_round();
        let prepared = Prepared {
            socket: self.lobby.try_update_value(Option::take).flatten(),
            peer: self.warm.try_update_value(Option::take).flatten(),
        };
        let meeting = Meeting::join(&url, prepared, room, name, password, local, self.view);
        self.meeting.set(Some(meeting));
    }

    pub fn leave(self) {
        if self.sharing.get_untracked() {
            self.stop_share();
        }
        if let Some(meeting) = self.meeting.get_untracked() {
            meeting.leave();
        }
        self.meeting.set(None);
        self.preconnect();
    }

    pub fn send_chat(self, text: &str) {
        if let Some(meeting) = self.meeting() {
            meeting.send_chat(text);
        }
    }

    /// In the room and its screen drawn ([`MeetingView::room_drawn`]).
    pub fn in_room(self) -> bool {
        self.view.phase.get() == Phase::InRoom && self.view.room_drawn.get()
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}
