//! The connection to the server's media server (SFU), in a room whose media
//! goes through it: carrying out `shared::sfu_link`'s decisions on
//! [`SfuPeer`], putting what it forwards in each member's tile (their camera
//! and microphone, or their screen while they share, as the mesh shows it),
//! watching for each moving member's media to flow, and the server's word on
//! who is speaking.

use super::{Inner, RemoteTile};
use crate::rtc::{Outgoing, SfuPeer, SfuPeerEvent};
use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::call::{ConnectionState, Input, SfuAction, SfuEvent};
use shared::{ClientMsg, PeerId, TrackSource};
use std::rc::Rc;
use web_sys::{MediaStream, MediaStreamTrack};

/// How often the tracks of members still moving to the SFU are checked for media.
const FLOW_CHECK_MS: u32 = 150;

impl Inner {
    pub(super) fn sfu_peer(&self) -> Option<Rc<SfuPeer>> {
        self.sfu.borrow().clone()
    }

    /// Carries out one of the SFU link's decisions.
    pub(super) fn run_sfu(self: &Rc<Self>, action: SfuAction) {
        match action {
            SfuAction::Create => self.create_sfu(),
            SfuAction::MakeOffer { ice_restart } => self.spawn_sfu(move |this, pc| this.sfu_offer(pc, ice_restart)),
            SfuAction::ApplyAnswer { sdp } => self.spawn_sfu(move |this, pc| this.sfu_apply_answer(pc, sdp)),
            SfuAction::AcceptOffer { sdp } => self.spawn_sfu(move |this, pc| this.sfu_accept_offer(pc, sdp)),
            SfuAction::ResendOffer => {
                if let Some(sdp) = self.sfu_peer().and_then(|pc| pc.pending_offer()) {
                    self.send(&ClientMsg::SfuOffer { sdp });
                }
            }
            SfuAction::Close => {
                self.sfu.borrow_mut().take();
                self.sfu_watch.borrow_mut().take();
                self.sfu_view_poll.borrow_mut().take();
                self.sfu_shown.borrow_mut().clear();
            }
            SfuAction::Later { timer, after_ms } => {
                let weak = Rc::downgrade(self);
                Timeout::new(after_ms, move || {
                    if let Some(inner) = weak.upgrade() {
                        inner.input(Input::Sfu(SfuEvent::Timer(timer)));
                    }
                })
                .forget();
            }
            SfuAction::ShowMedia { .. } => self.sync_sfu_tiles(),
            SfuAction::Paused { peers } => self.mark_tiles(&peers, |tile| tile.paused),
            SfuAction::Speaking { peers } => {
                self.mark_tiles(&peers, |tile| tile.speaking);
                self.view.speakers_changed(&peers);
            }
        }
    }

    /// Sets one of each tile's flags: whether its member is among `peers`
    /// (a tile redraws only if its flag changed).
    fn mark_tiles(&self, peers: &[PeerId], flag: fn(&RemoteTile) -> RwSignal<bool>) {
        for tile in self.view.tiles.get_untracked() {
            let on = peers.contains(&tile.peer);
            flag(&tile).maybe_update(|was| std::mem::replace(was, on) != on);
        }
    }

    /// One connection, to the server, sending what we send everyone.
    fn create_sfu(self: &Rc<Self>) {
        // No member gets a connection of their own any more: no spare for the next.
        self.spare.borrow_mut().take();
        self.spare_soon.borrow_mut().take();
        let ice = self.call.borrow().joined().map(|j| j.ice.clone()).unwrap_or_default();
        let screen = self.local.screen();
        let outgoing = Outgoing {
            microphone: self.local.audio_track(),
            camera: self.local.video_track().filter(|_| screen.is_none()),
            screen,
            stream: Clone::clone(self.local.stream()),
        };
        let weak = Rc::downgrade(self);
        let on_event = move |event| {
            if let Some(inner) = weak.upgrade() {
                inner.on_sfu(event);
            }
        };
        match SfuPeer::new(&ice, &outgoing, on_event) {
            Ok(pc) => {
                *self.sfu.borrow_mut() = Some(Rc::new(pc));
                self.sfu_shown.borrow_mut().clear();
                *self.sfu_watch.borrow_mut() = Some(self.every(FLOW_CHECK_MS, Inner::check_flow));
                *self.sfu_view_poll.borrow_mut() = Some(self.every(super::views::VIEW_CHECK_MS, Inner::send_views));
            }
            Err(err) => self.view.notice.set(Some(super::Problem::NoConnection(err.to_string()))),
        }
    }

    fn on_sfu(self: &Rc<Self>, event: SfuPeerEvent) {
        match event {
            SfuPeerEvent::Track => self.sync_sfu_tiles(),
            SfuPeerEvent::State(state) => {
                if state == ConnectionState::Connected {
                    self.apply_video_budget();
                }
                self.input(Input::Sfu(SfuEvent::Connection(state)));
                self.sync_sfu_tiles();
            }
        }
    }

    /// Runs an async step against the SFU connection, if there is one.
    fn spawn_sfu<F, Fut>(self: &Rc<Self>, step: F)
    where
        F: FnOnce(Rc<Self>, Rc<SfuPeer>) -> Fut,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        if let Some(pc) = self.sfu_peer() {
            spawn_local(step(self.clone(), pc));
        }
    }

    async fn sfu_offer(self: Rc<Self>, pc: Rc<SfuPeer>, ice_restart: bool) {
        let send = |sdp| {
            self.send(&ClientMsg::SfuOffer { sdp });
            self.input(Input::Sfu(SfuEvent::OfferSent));
            // An offer may open a new session on the server, which knows no views yet.
            self.forget_views();
        };
        if let Err(err) = pc.offer(ice_restart, send).await {
            leptos::logging::warn!("{err}");
            pc.roll_back().await;
            self.input(Input::Sfu(SfuEvent::OfferFailed));
        }
    }

    async fn sfu_apply_answer(self: Rc<Self>, pc: Rc<SfuPeer>, sdp: String) {
        if let Err(err) = pc.set_remote_answer(&sdp).await {
            leptos::logging::warn!("{err}");
            pc.roll_back().await;
        }
        self.input(Input::Sfu(SfuEvent::AnswerApplied));
        self.apply_video_budget();
        self.draw_room_if_answered();
    }

    async fn sfu_accept_offer(self: Rc<Self>, pc: Rc<SfuPeer>, sdp: String) {
        if let Err(err) = pc.set_remote_offer(&sdp).await {
            leptos::logging::warn!("{err}");
            pc.roll_back().await;
            return self.input(Input::Sfu(SfuEvent::AcceptFailed));
        }
        self.sync_sfu_tiles();
        let told = std::cell::Cell::new(false);
        let send = |sdp| {
            told.set(true);
            self.send(&ClientMsg::SfuAnswer { sdp });
            self.input(Input::Sfu(SfuEvent::OfferAccepted));
            // What waited for our answer (as in the mesh): the room screen,
            // and the tiles of those whose tracks this offer brought. Without
            // this they waited out their timers (250 ms).
            self.draw_room_if_answered();
            let call = self.call.borrow();
            for track in call.sfu().tracks() {
                if let Some(tile) = self.view.tile(track.peer) {
                    tile.draw();
                }
            }
        };
        if let Err(err) = pc.answer(send).await {
            leptos::logging::warn!("{err}");
            if !told.get() {
                pc.roll_back().await;
                self.input(Input::Sfu(SfuEvent::AcceptFailed));
            }
        }
    }

    /// Checks the tracks of members still shown through their own connection:
    /// once theirs flows through the SFU, the call moves their tile over.
    fn check_flow(self: &Rc<Self>) {
        let mids = self.call.borrow().sfu().awaited_mids();
        let Some(pc) = self.sfu_peer().filter(|_| !mids.is_empty()) else { return };
        let this = self.clone();
        spawn_local(async move {
            for mid in mids {
                if pc.flowing(&mid).await {
                    this.input(Input::Sfu(SfuEvent::MediaFlowing { mid }));
                }
            }
        });
    }

    /// Puts in each tile shown through the SFU what it forwards of that
    /// member: their microphone, and their screen while they share (as the
    /// mesh shows it), else their camera. A tile's stream is replaced only
    /// when its tracks change, so the video does not start over.
    pub(super) fn sync_sfu_tiles(&self) {
        let Some(pc) = self.sfu_peer() else { return };
        let state = pc.connection_state();
        let call = self.call.borrow();
        let link = call.sfu();
        let tiles = self.view.tiles.get_untracked();
        let mut shown = self.sfu_shown.borrow_mut();
        shown.retain(|peer, _| tiles.iter().any(|t| t.peer == *peer));
        for tile in tiles {
            if !link.shows(tile.peer) {
                continue;
            }
            tile.connection.maybe_update(|was| std::mem::replace(was, state) != state);
            let sharing = call.member(tile.peer).is_some_and(|m| m.state.sharing);
            let track = |source| link.mid_of(tile.peer, source).and_then(|mid| pc.received(mid));
            let video = sharing.then(|| track(TrackSource::Screen)).flatten().or_else(|| track(TrackSource::Camera));
            let tracks: Vec<MediaStreamTrack> = track(TrackSource::Microphone).into_iter().chain(video).collect();
            let ids: Vec<String> = tracks.iter().map(MediaStreamTrack::id).collect();
            if shown.get(&tile.peer) == Some(&ids) {
                continue;
            }
            let stream = MediaStream::new_with_tracks(&tracks.iter().collect::<js_sys::Array>()).ok();
            shown.insert(tile.peer, ids);
            tile.stream.set(stream);
        }
    }

    /// Sends `track` to the SFU in place of the one of its kind: the
    /// microphone, or the video: the screen while a share is on (the camera's
    /// m-line then sends nothing: the others see the screen in its place, as
    /// in the mesh, and the upload stays one video), else the camera.
    pub(super) async fn sfu_send(&self, track: &MediaStreamTrack) {
        let Some(pc) = self.sfu_peer() else { return };
        let sharing = self.local.screen().is_some_and(|screen| screen.id() == track.id());
        let sent = if track.kind() == "audio" {
            pc.send(TrackSource::Microphone, Some(track)).await
        } else if sharing {
            let screen = pc.send(TrackSource::Screen, Some(track)).await;
            pc.send(TrackSource::Camera, None).await.and(screen)
        } else if self.local.sharing() {
            // A new camera during a share: it is sent once the share ends.
            Ok(())
        } else {
            let camera = pc.send(TrackSource::Camera, Some(track)).await;
            pc.send(TrackSource::Screen, None).await.and(camera)
        };
        if let Err(err) = sent {
            leptos::logging::warn!("{err}");
        }
    }
}
