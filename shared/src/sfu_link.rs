//! The one connection to the server's media server (SFU) in a room whose
//! media goes through it, as a pure state machine: who offers, glare, ICE
//! restart, and, when a meeting moves from the mesh to the SFU, which direct
//! connections close when. [`crate::call::Call`] owns it and hands it the
//! server's SFU messages and the browser's reports; its decisions come back
//! as [`Effect::Sfu`] (and [`Effect::ClosePeer`] for a mesh connection no
//! longer needed).
//!
//! Negotiation: the member offers first (its microphone, camera and screen,
//! sendonly, in that order); the server answers, and later offers the tracks
//! it forwards (recvonly here), saying whose each is. The member is the
//! *impolite* side: a server offer that crosses one of ours is ignored (the
//! server rolls its own back when ours arrives, answers, then offers again).
//! The server is ICE-lite and puts its candidates in its SDP, so no
//! candidates cross the signaling socket.
//!
//! Moving (make before break): on [`ServerMsg::UseSfu`](crate::ServerMsg::UseSfu) the member connects to
//! the SFU and keeps showing each member through their direct connection
//! until that member's media flows through the SFU (their camera decodes
//! frames, or their microphone is heard if they send no camera); then it
//! shows the SFU's media, and closes the direct connection
//! [`MESH_LINGER_MS`] later: closing it at once would cut what the other
//! side still shows of us, if our media reaches them through the SFU a
//! moment after theirs reached us. Whatever direct connection is still open
//! [`MESH_SAFETY_NET_MS`] after the SFU connection is up closes then. Direct
//! connections are never ICE-restarted once the move began: their failing is
//! expected.

use crate::connection::{ConnectionState, DISCONNECTED_GRACE_MS};
use crate::effect::{Effect, SfuAction, SfuTimer};
use crate::ids::PeerId;
use crate::protocol::{SfuTrack, TrackSource};
use std::collections::BTreeSet;

/// How long after the SFU connection is up the direct connections still
/// open close anyway (their member's media never showed through the SFU).
pub const MESH_SAFETY_NET_MS: u32 = 5000;

/// How long a direct connection stays open after its member is shown
/// through the SFU: we still send them our media on it until ours reaches
/// them through the SFU too.
pub const MESH_LINGER_MS: u32 = 3000;

/// What the driver tells the SFU link (inside [`crate::call::Input::Sfu`]).
#[derive(Debug, Clone, PartialEq)]
pub enum SfuEvent {
    /// Our offer was made and sent ([`SfuAction::MakeOffer`]); its answer may come from now on.
    OfferSent,
    /// Making or setting our offer failed; the connection is back to stable.
    OfferFailed,
    /// The server's answer ([`SfuAction::ApplyAnswer`]) is applied.
    AnswerApplied,
    /// The server's offer ([`SfuAction::AcceptOffer`]) is applied and our answer sent.
    OfferAccepted,
    /// Applying or answering the server's offer failed (the driver rolled it back).
    AcceptFailed,
    /// The SFU connection's `connectionState` changed.
    Connection(ConnectionState),
    /// A [`SfuAction::Later`]'s time is up.
    Timer(SfuTimer),
    /// Media flows on this m-line: a video track decodes frames, an audio track receives packets.
    MediaFlowing { mid: String },
}

/// The member's side of its connection to the SFU.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SfuLink {
    /// This member's media goes through the SFU.
    on: bool,
    /// Between `MakeOffer` and `OfferSent`.
    making_offer: bool,
    /// Our offer awaits its answer.
    have_local_offer: bool,
    /// The server's answer is being applied.
    applying_answer: bool,
    /// The server's offer is being applied and answered.
    accepting: bool,
    /// A server offer that came while another description was being
    /// applied: accepted next (the latest one only).
    queued_offer: Option<(String, Vec<SfuTrack>)>,
    connection: ConnectionState,
    /// ICE must restart once nothing is in flight.
    restart_pending: bool,
    /// The last offer failed and was made again; cleared by an answer.
    offer_retried: bool,
    /// The offer in flight restarts ICE (so does its retry).
    offer_restarts: bool,
    /// Whose each m-line the server sends is, per its last offer accepted.
    tracks: Vec<SfuTrack>,
    /// M-lines whose media was seen flowing.
    flowing: BTreeSet<String>,
    /// Members still shown through their direct connection, which stays open
    /// until their media flows through the SFU.
    moving: BTreeSet<PeerId>,
    /// Members shown through the SFU whose direct connection is still open
    /// (for [`MESH_LINGER_MS`]).
    lingering: BTreeSet<PeerId>,
    /// The safety net under the move is set.
    net_set: bool,
    /// New sessions started since the connection was last up (the server
    /// ended ours): a few, not forever.
    renewals: u8,
}

/// How many times in a row a session the server ended is started anew.
pub const MAX_RENEWALS: u8 = 3;

impl SfuLink {
    /// This member's media goes through the SFU (it may still be moving there).
    pub fn on(&self) -> bool {
        self.on
    }

    /// Whose each m-line the server sends is.
    pub fn tracks(&self) -> &[SfuTrack] {
        &self.tracks
    }

    /// The forwarded track on m-line `mid`.
    pub fn track(&self, mid: &str) -> Option<&SfuTrack> {
        self.tracks.iter().find(|t| t.mid == mid)
    }

    /// `peer`'s `source`, as forwarded: its m-line.
    pub fn mid_of(&self, peer: PeerId, source: TrackSource) -> Option<&str> {
        self.tracks.iter().find(|t| t.peer == peer && t.source == source).map(|t| t.mid.as_str())
    }

    /// `peer`'s tile shows what the SFU forwards (not a direct connection).
    pub fn shows(&self, peer: PeerId) -> bool {
        self.on && !self.moving.contains(&peer)
    }

    /// Members whose direct connection stays open until their media flows through the SFU.
    pub fn moving(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.moving.iter().copied()
    }

    /// The m-lines to watch for [`SfuEvent::MediaFlowing`]: those of the
    /// members still moving, whose media has not flowed yet.
    pub fn awaited_mids(&self) -> Vec<String> {
        self.tracks
            .iter()
            .filter(|t| self.moving.contains(&t.peer) && t.source != TrackSource::Screen)
            .filter(|t| !self.flowing.contains(&t.mid))
            .map(|t| t.mid.clone())
            .collect()
    }

    /// Nothing in flight: no offer of ours being made or awaiting its
    /// answer, no description of the server's being applied.
    pub fn stable(&self) -> bool {
        !self.making_offer && !self.have_local_offer && !self.applying_answer && !self.accepting
    }

    pub fn connection(&self) -> ConnectionState {
        self.connection
    }

    /// Connect to the SFU. `mesh`: members shown through direct connections
    /// now (the room moves): each stays until their media flows through the
    /// SFU. Nothing if already on.
    pub(crate) fn start(&mut self, mesh: impl IntoIterator<Item = PeerId>) -> Vec<Effect> {
        if self.on {
            return vec![];
        }
        *self = Self { on: true, making_offer: true, ..Self::default() };
        // Inserted one by one: `collect` into a set sorts first, and the sort's code cost the page 3 KB.
        self.moving.extend(mesh);
        vec![Effect::Sfu(SfuAction::Create), Effect::Sfu(SfuAction::MakeOffer { ice_restart: false })]
    }

    /// The server ended our session with its media server
    /// ([`crate::ErrorCode::NoSfu`] while on it): a new connection and offer,
    /// the moving members still waited for. `None` once that was tried
    /// [`MAX_RENEWALS`] times without the connection coming up.
    pub(crate) fn renew(&mut self) -> Option<Vec<Effect>> {
        if !self.on || self.renewals >= MAX_RENEWALS {
            return None;
        }
        let (moving, renewals) = (std::mem::take(&mut self.moving), self.renewals + 1);
        let mut effects = self.stop();
        effects.extend(self.start(moving));
        self.renewals = renewals;
        Some(effects)
    }

    /// Off the SFU: its connection closes (leaving, or a lost seat).
    pub(crate) fn stop(&mut self) -> Vec<Effect> {
        let was_on = std::mem::take(self).on;
        if was_on {
            vec![Effect::Sfu(SfuAction::Close)]
        } else {
            vec![]
        }
    }

    /// `peer` left the room: nothing of theirs to wait for.
    pub(crate) fn peer_left(&mut self, peer: PeerId) {
        self.moving.remove(&peer);
        self.lingering.remove(&peer);
    }

    /// Our seat is back (the server kept our SFU session): an offer may have
    /// died with the old socket, and a broken connection needs its ICE restarted.
    pub(crate) fn resumed(&mut self) -> Vec<Effect> {
        if self.have_local_offer {
            vec![Effect::Sfu(SfuAction::ResendOffer)]
        } else if matches!(self.connection, ConnectionState::Disconnected | ConnectionState::Failed) {
            self.restart_ice()
        } else {
            vec![]
        }
    }

    /// [`crate::ServerMsg::SfuAnswer`].
    pub(crate) fn on_answer(&mut self, sdp: String) -> Vec<Effect> {
        if !self.on || !self.have_local_offer {
            // An answer to an offer we no longer wait for.
            return vec![];
        }
        self.have_local_offer = false;
        self.applying_answer = true;
        vec![Effect::Sfu(SfuAction::ApplyAnswer { sdp })]
    }

    /// [`crate::ServerMsg::SfuOffer`].
    pub(crate) fn on_offer(&mut self, sdp: String, tracks: Vec<SfuTrack>) -> Vec<Effect> {
        if !self.on || self.making_offer || self.have_local_offer {
            // Glare: we are impolite. The server rolls its offer back on ours.
            return vec![];
        }
        if self.applying_answer || self.accepting {
            self.queued_offer = Some((sdp, tracks));
            return vec![];
        }
        self.accept(sdp, tracks)
    }

    fn accept(&mut self, sdp: String, tracks: Vec<SfuTrack>) -> Vec<Effect> {
        self.accepting = true;
        self.flowing.retain(|mid| tracks.iter().any(|t| &t.mid == mid));
        self.tracks = tracks;
        // A moving member now listed without a camera may be heard already.
        let mut effects = vec![Effect::Sfu(SfuAction::AcceptOffer { sdp })];
        effects.extend(self.arrivals());
        effects
    }

    pub(crate) fn handle(&mut self, event: SfuEvent) -> Vec<Effect> {
        if !self.on {
            return vec![];
        }
        match event {
            SfuEvent::OfferSent => {
                self.making_offer = false;
                self.have_local_offer = true;
                vec![]
            }
            SfuEvent::OfferFailed => {
                self.have_local_offer = false;
                self.making_offer = !self.offer_retried;
                self.offer_retried = !self.offer_retried;
                if self.making_offer {
                    let ice_restart = self.offer_restarts || std::mem::take(&mut self.restart_pending);
                    self.offer_restarts = ice_restart;
                    vec![Effect::Sfu(SfuAction::MakeOffer { ice_restart })]
                } else {
                    self.next()
                }
            }
            SfuEvent::AnswerApplied => {
                self.applying_answer = false;
                self.offer_retried = false;
                self.next()
            }
            SfuEvent::OfferAccepted => {
                self.accepting = false;
                self.next()
            }
            SfuEvent::AcceptFailed => {
                self.accepting = false;
                // Our own offer brings both sides back in step: the server
                // drops the offer it made when it gets one of ours.
                if self.queued_offer.is_some() {
                    return self.next();
                }
                self.making_offer = true;
                let ice_restart = std::mem::take(&mut self.restart_pending);
                self.offer_restarts = ice_restart;
                vec![Effect::Sfu(SfuAction::MakeOffer { ice_restart })]
            }
            SfuEvent::Connection(state) => {
                self.connection = state;
                if state == ConnectionState::Connected {
                    self.renewals = 0;
                }
                match state {
                    ConnectionState::Connected
                        if !(self.net_set || self.moving.is_empty() && self.lingering.is_empty()) =>
                    {
                        self.net_set = true;
                        vec![Effect::Sfu(SfuAction::Later { timer: SfuTimer::CloseMesh, after_ms: MESH_SAFETY_NET_MS })]
                    }
                    ConnectionState::Failed => self.restart_ice(),
                    ConnectionState::Disconnected => vec![Effect::Sfu(SfuAction::Later {
                        timer: SfuTimer::CheckConnection,
                        after_ms: DISCONNECTED_GRACE_MS,
                    })],
                    _ => vec![],
                }
            }
            SfuEvent::Timer(SfuTimer::CheckConnection) => match self.connection {
                ConnectionState::Disconnected | ConnectionState::Failed => self.restart_ice(),
                _ => vec![],
            },
            SfuEvent::Timer(SfuTimer::CloseMesh) => {
                let (moving, lingering) = (std::mem::take(&mut self.moving), std::mem::take(&mut self.lingering));
                let shown = moving.iter().map(|&peer| Effect::Sfu(SfuAction::ShowMedia { peer }));
                let closed = moving.iter().chain(&lingering).map(|&peer| Effect::ClosePeer { peer });
                shown.chain(closed).collect()
            }
            SfuEvent::Timer(SfuTimer::ClosePeer(peer)) if self.lingering.remove(&peer) => {
                vec![Effect::ClosePeer { peer }]
            }
            SfuEvent::Timer(SfuTimer::ClosePeer(_)) => vec![],
            SfuEvent::MediaFlowing { mid } => {
                if self.track(&mid).is_none() {
                    return vec![];
                }
                self.flowing.insert(mid);
                self.arrivals()
            }
        }
    }

    /// Moving members whose media now flows through the SFU: shown from it,
    /// their direct connection closed. Their camera counts; their
    /// microphone only when the server forwards no camera of theirs.
    fn arrivals(&mut self) -> Vec<Effect> {
        let arrived: Vec<PeerId> = self.moving.iter().copied().filter(|&peer| self.arrived(peer)).collect();
        let mut effects = vec![];
        for peer in arrived {
            self.moving.remove(&peer);
            self.lingering.insert(peer);
            effects.push(Effect::Sfu(SfuAction::ShowMedia { peer }));
            effects.push(Effect::Sfu(SfuAction::Later { timer: SfuTimer::ClosePeer(peer), after_ms: MESH_LINGER_MS }));
        }
        effects
    }

    fn arrived(&self, peer: PeerId) -> bool {
        let flowing = |source| self.mid_of(peer, source).map(|mid| self.flowing.contains(mid));
        flowing(TrackSource::Camera).unwrap_or_else(|| flowing(TrackSource::Microphone) == Some(true))
    }

    /// Restarts ICE now, or once nothing is in flight.
    fn restart_ice(&mut self) -> Vec<Effect> {
        if self.stable() {
            self.restart_pending = false;
            self.making_offer = true;
            self.offer_restarts = true;
            vec![Effect::Sfu(SfuAction::MakeOffer { ice_restart: true })]
        } else {
            self.restart_pending = true;
            vec![]
        }
    }

    /// Settled: a server offer that waited goes first, then a pending restart.
    fn next(&mut self) -> Vec<Effect> {
        if !self.stable() {
            return vec![];
        }
        if let Some((sdp, tracks)) = self.queued_offer.take() {
            return self.accept(sdp, tracks);
        }
        if self.restart_pending {
            return self.restart_ice();
        }
        vec![]
    }
}
