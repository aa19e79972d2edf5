//! Your own camera and microphone: one stream that the preview shows and every
//! peer connection sends, plus the mute / camera-off state that must survive
//! a device switch, and the screen you share in place of the camera.

use super::capture::{capture_camera, capture_microphone, first_track, Camera};
use super::MediaError;
use std::cell::{Cell, RefCell};
use web_sys::{MediaStream, MediaStreamTrack};

pub struct LocalMedia {
    stream: MediaStream,
    muted: Cell<bool>,
    camera_off: Cell<bool>,
    screen: RefCell<Option<MediaStreamTrack>>,
}

impl LocalMedia {
    pub fn new(stream: MediaStream) -> Self {
        Self { stream, muted: Cell::new(false), camera_off: Cell::new(false), screen: RefCell::new(None) }
    }

    pub fn stream(&self) -> &MediaStream {
        &self.stream
    }

    pub fn audio_track(&self) -> Option<MediaStreamTrack> {
        first_track(&self.stream.get_audio_tracks())
    }

    pub fn video_track(&self) -> Option<MediaStreamTrack> {
        first_track(&self.stream.get_video_tracks())
    }

    /// The shared screen, while sharing.
    pub fn screen(&self) -> Option<MediaStreamTrack> {
        self.screen.borrow().clone()
    }

    pub fn sharing(&self) -> bool {
        self.screen.borrow().is_some()
    }

    /// What the others should see: the shared screen, else the camera.
    pub fn outgoing_video(&self) -> Option<MediaStreamTrack> {
        self.screen().or_else(|| self.video_track())
    }

    /// Starts or ends sharing; a screen no longer shared is stopped, which
    /// also ends the browser's "sharing" indicator.
    pub fn set_screen(&self, track: Option<MediaStreamTrack>) {
        if let Some(old) = self.screen.replace(track) {
            old.stop();
        }
    }

    /// What the others are told: muted, camera off, sharing.
    pub fn state(&self) -> shared::MediaState {
        shared::MediaState { muted: self.muted(), camera_off: self.camera_off(), sharing: self.sharing() }
    }

    pub fn muted(&self) -> bool {
        self.muted.get()
    }

    pub fn camera_off(&self) -> bool {
        self.camera_off.get()
    }

    /// Mutes by disabling the track (silence is still sent, so unmuting is
    /// instant and needs no renegotiation).
    pub fn set_muted(&self, muted: bool) {
        self.muted.set(muted);
        if let Some(track) = self.audio_track() {
            track.set_enabled(!muted);
        }
    }

    /// Turns the camera off by disabling the track (peers receive black).
    pub fn set_camera_off(&self, off: bool) {
        self.camera_off.set(off);
        if let Some(track) = self.video_track() {
            track.set_enabled(!off);
        }
    }

    pub fn camera_id(&self) -> Option<String> {
        self.video_track().and_then(|t| t.get_settings().get_device_id())
    }

    pub fn microphone_id(&self) -> Option<String> {
        self.audio_track().and_then(|t| t.get_settings().get_device_id())
    }

    /// Replaces the camera track in the stream and returns the new track, for
    /// `replaceTrack` on every sender. The old track is stopped *first*:
    /// phones cannot open a second camera while one is running. If the new
    /// camera fails, the old one is reopened.
    pub async fn switch_camera(&self, camera: Camera) -> Result<MediaStreamTrack, MediaError> {
        let old = self.video_track();
        let old_id = self.camera_id();
        if let Some(old) = &old {
            old.stop();
            self.stream.remove_track(old);
        }
        let track = match capture_camera(&camera).await {
            Ok(track) => track,
            Err(err) => {
                if let Some(id) = old_id {
                    if let Ok(track) = capture_camera(&Camera::Device(id)).await {
                        self.adopt(&track, !self.camera_off());
                    }
                }
                return Err(err);
            }
        };
        self.adopt(&track, !self.camera_off());
        Ok(track)
    }

    /// Replaces the microphone track, keeping the mute state.
    pub async fn switch_microphone(&self, device_id: &str) -> Result<MediaStreamTrack, MediaError> {
        let track = capture_microphone(device_id).await?;
        if let Some(old) = self.audio_track() {
            old.stop();
            self.stream.remove_track(&old);
        }
        self.adopt(&track, !self.muted());
        Ok(track)
    }

    fn adopt(&self, track: &MediaStreamTrack, enabled: bool) {
        track.set_enabled(enabled);
        self.stream.add_track(track);
    }
}

impl Drop for LocalMedia {
    /// Releases the camera light and the microphone.
    fn drop(&mut self) {
        for track in self.stream.get_tracks().iter() {
            web_sys::MediaStreamTrack::from(track).stop();
        }
        self.set_screen(None);
    }
}
