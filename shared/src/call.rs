//! The client's side of a meeting as a pure state machine (sans-IO): feed it
//! what the server said and what the browser finished, and it answers with
//! [`Effect`]s for the driver to carry out. No clocks, no sockets, no browser,
//! so `cargo test` can play whole negotiations.
//!
//! Negotiation follows the "perfect negotiation" pattern: for each pair the
//! member with the lower id is *polite* (yields on an offer collision, the
//! browser rolls its own offer back) and the other is *impolite* (ignores the
//! colliding offer). The newcomer offers to everyone already in the room, so a
//! first connection needs no extra round trip.

pub use crate::connection::{ConnectionState, DISCONNECTED_GRACE_MS};
pub use crate::effect::{Effect, SfuAction, SfuTimer};
use crate::ids::{DisplayName, PeerId, RoomName};
use crate::protocol::{
    ClientMsg, ErrorCode, IceCandidate, IceConfig, MediaState, PeerInfo, ServerMsg, PROTOCOL_VERSION,
};
pub use crate::sfu_link::{SfuEvent, SfuLink};
use std::collections::BTreeMap;

/// What the driver tells the machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Server(ServerMsg),
    /// The offer was made and sent; an answer may come from now on (setting
    /// the offer locally may still be under way: if that fails, [`Input::OfferFailed`] follows).
    OfferSent {
        peer: PeerId,
    },
    /// Making the offer failed; the connection is back to stable, and the
    /// machine makes it once more (a second failure in a row leaves it to
    /// the connection-state checks, so a closed connection cannot loop).
    OfferFailed {
        peer: PeerId,
    },
    /// A remote description (offer or answer) was applied.
    RemoteDescriptionApplied {
        peer: PeerId,
    },
    /// This client set its own microphone / camera state.
    LocalMediaState(MediaState),
    /// The user leaves the room.
    Leave,
    /// The signaling socket opened (first time or again): join, or resume
    /// the seat we had.
    SocketOpened,
    /// A peer connection's `connectionState` changed.
    Connection {
        peer: PeerId,
        state: ConnectionState,
    },
    /// [`Effect::CheckConnectionLater`]'s time is up.
    CheckConnection {
        peer: PeerId,
    },
    /// About the connection to the media server (`crate::sfu_link`).
    Sfu(SfuEvent),
}

/// A remote member as the page shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: DisplayName,
    pub state: MediaState,
}

/// One remote member's negotiation state.
#[derive(Debug, Clone, Default, PartialEq)]
struct Negotiation {
    polite: bool,
    /// Between `MakeOffer` and `OfferSent`.
    making_offer: bool,
    /// Our offer is set locally and awaits an answer.
    have_local_offer: bool,
    /// Some remote description is applied, so ICE candidates can be added.
    remote_set: bool,
    /// Candidates that arrived before any remote description.
    pending_ice: Vec<IceCandidate>,
    /// We (impolite) ignored a colliding offer; drop its candidates too.
    ignoring_offer: bool,
    connection: ConnectionState,
    /// ICE must restart once the offer in flight is settled.
    restart_pending: bool,
    /// The last offer failed and was made again; cleared by an answer.
    offer_retried: bool,
}

impl Negotiation {
    fn stable(&self) -> bool {
        !self.making_offer && !self.have_local_offer
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    pub you: PeerId,
    pub room: RoomName,
    pub capacity: usize,
    pub ice: IceConfig,
    /// Takes the seat back after the socket drops.
    pub resume: Option<String>,
}

#[derive(Debug, Default)]
pub struct Call {
    /// What to send when the socket opens and we hold no seat.
    request: Option<ClientMsg>,
    joined: Option<Joined>,
    members: BTreeMap<PeerId, Member>,
    negotiations: BTreeMap<PeerId, Negotiation>,
    /// The connection to the media server, in a room whose media goes through it.
    sfu: SfuLink,
}

impl Call {
    pub fn new() -> Self {
        Self::default()
    }

    /// A call that sends `join` (a [`ClientMsg::Join`]) when the socket
    /// opens, and again whenever its seat is lost.
    pub fn joining(join: ClientMsg) -> Self {
        Self { request: Some(join), ..Self::default() }
    }

    pub fn joined(&self) -> Option<&Joined> {
        self.joined.as_ref()
    }

    pub fn members(&self) -> impl Iterator<Item = (PeerId, &Member)> {
        self.members.iter().map(|(id, m)| (*id, m))
    }

    pub fn member(&self, peer: PeerId) -> Option<&Member> {
        self.members.get(&peer)
    }

    /// True when nothing is in flight with `peer`: no offer being made or
    /// awaiting its answer (the `stable` signaling state). In a room on the
    /// media server there is no direct connection: whether our offer to the
    /// server is answered.
    pub fn is_stable(&self, peer: PeerId) -> bool {
        match self.negotiations.get(&peer) {
            Some(n) => n.stable(),
            None => self.sfu.on() && self.members.contains_key(&peer) && self.sfu.stable(),
        }
    }

    /// The connection to the media server (whether there is one: [`SfuLink::on`]).
    pub fn sfu(&self) -> &SfuLink {
        &self.sfu
    }

    /// We have a direct connection to `peer`.
    pub fn has_peer(&self, peer: PeerId) -> bool {
        self.negotiations.contains_key(&peer)
    }

    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Server(msg) => self.on_server(msg),
            Input::Sfu(event) => {
                let effects = self.sfu.handle(event);
                self.closing(effects)
            }
            Input::OfferSent { peer } => {
                if let Some(n) = self.negotiations.get_mut(&peer) {
                    n.making_offer = false;
                    n.have_local_offer = true;
                }
                vec![]
            }
            Input::OfferFailed { peer } => {
                let Some(n) = self.negotiations.get_mut(&peer) else { return vec![] };
                n.have_local_offer = false;
                n.making_offer = !n.offer_retried;
                n.offer_retried = !n.offer_retried;
                if n.making_offer {
                    vec![Effect::MakeOffer { peer }]
                } else {
                    vec![]
                }
            }
            Input::RemoteDescriptionApplied { peer } => {
                let Some(n) = self.negotiations.get_mut(&peer) else { return vec![] };
                n.remote_set = true;
                n.ignoring_offer = false;
                n.offer_retried = false;
                let mut effects: Vec<Effect> = std::mem::take(&mut n.pending_ice)
                    .into_iter()
                    .map(|candidate| Effect::AddIce { peer, candidate })
                    .collect();
                effects.extend(self.restart_if_pending(peer));
                effects
            }
            Input::LocalMediaState(state) => match self.joined {
                Some(_) => vec![Effect::Send(ClientMsg::MediaState(state))],
                None => vec![],
            },
            Input::Leave => {
                let mut effects: Vec<Effect> =
                    self.negotiations.keys().map(|&peer| Effect::ClosePeer { peer }).collect();
                effects.extend(self.sfu.stop());
                if self.joined.take().is_some() {
                    effects.push(Effect::Send(ClientMsg::Leave));
                }
                self.negotiations.clear();
                self.members.clear();
                self.request = None;
                effects.push(Effect::MembersChanged);
                effects
            }
            Input::SocketOpened => match (&self.joined, &self.request) {
                (Some(Joined { resume: Some(token), .. }), _) => {
                    vec![Effect::Send(ClientMsg::Resume { version: PROTOCOL_VERSION, token: token.clone() })]
                }
                (Some(_), _) => self.rejoin(),
                (None, Some(join)) => vec![Effect::Send(join.clone())],
                (None, None) => vec![],
            },
            Input::Connection { peer, state } => {
                let Some(n) = self.negotiations.get_mut(&peer) else { return vec![] };
                n.connection = state;
                if self.sfu.on() {
                    // Moving to the media server: a direct connection failing is expected.
                    return vec![];
                }
                match state {
                    ConnectionState::Failed => self.restart_ice(peer),
                    ConnectionState::Disconnected => {
                        vec![Effect::CheckConnectionLater { peer, after_ms: DISCONNECTED_GRACE_MS }]
                    }
                    _ => vec![],
                }
            }
            Input::CheckConnection { peer } => match self.negotiations.get(&peer) {
                Some(n)
                    if !self.sfu.on()
                        && matches!(n.connection, ConnectionState::Disconnected | ConnectionState::Failed) =>
                {
                    self.restart_ice(peer)
                }
                _ => vec![],
            },
        }
    }

    /// Restarts ICE with `peer` now, or once the offer in flight is settled.
    fn restart_ice(&mut self, peer: PeerId) -> Vec<Effect> {
        let Some(n) = self.negotiations.get_mut(&peer) else { return vec![] };
        if n.stable() {
            n.restart_pending = false;
            n.making_offer = true;
            vec![Effect::RestartIce { peer }]
        } else {
            n.restart_pending = true;
            vec![]
        }
    }

    fn restart_if_pending(&mut self, peer: PeerId) -> Vec<Effect> {
        match self.negotiations.get(&peer) {
            Some(n) if n.restart_pending && n.stable() && !self.sfu.on() => self.restart_ice(peer),
            _ => vec![],
        }
    }

    /// Our seat is gone (the server restarted, or kept it too long for us):
    /// drop every connection and join as a newcomer, who offers to all.
    fn rejoin(&mut self) -> Vec<Effect> {
        let mut effects: Vec<Effect> =
            std::mem::take(&mut self.negotiations).into_keys().map(|peer| Effect::ClosePeer { peer }).collect();
        effects.extend(self.sfu.stop());
        self.members.clear();
        self.joined = None;
        effects.push(Effect::MembersChanged);
        effects.push(Effect::Rejoining);
        if let Some(join) = &self.request {
            effects.push(Effect::Send(join.clone()));
        }
        effects
    }

    fn on_server(&mut self, msg: ServerMsg) -> Vec<Effect> {
        match msg {
            ServerMsg::Welcome { you, room, capacity, ice_servers, peers, resume, sfu, relay_only, .. } => {
                let ice = IceConfig { servers: ice_servers, relay_only };
                self.joined = Some(Joined { you, room, capacity, ice, resume });
                // A welcome is a new seat: any SFU session of an old one is gone.
                let mut effects = self.sfu.stop();
                if sfu {
                    effects.extend(self.sfu.start([]));
                }
                for info in peers {
                    let peer = info.id;
                    effects.extend(self.add_member(info, true));
                    if let Some(n) = self.negotiations.get_mut(&peer) {
                        n.making_offer = true;
                        effects.push(Effect::MakeOffer { peer });
                    }
                }
                effects.push(Effect::MembersChanged);
                effects
            }
            ServerMsg::PeerJoined { peer } => {
                let mut effects = self.add_member(peer, false);
                effects.push(Effect::MembersChanged);
                effects
            }
            ServerMsg::Resumed { peers, resume, sfu, .. } => {
                // The server rotates the token on each resume: the old one is spent.
                if let (Some(joined), Some(token)) = (&mut self.joined, resume) {
                    joined.resume = Some(token);
                }
                self.resumed(peers, sfu)
            }
            ServerMsg::PeerLeft { peer } => {
                let mut effects = self.remove_member(peer);
                effects.push(Effect::MembersChanged);
                effects
            }
            ServerMsg::Offer { from, sdp } => {
                let Some(n) = self.negotiations.get_mut(&from) else { return vec![] };
                let collision = n.making_offer || n.have_local_offer;
                if collision && !n.polite {
                    n.ignoring_offer = true;
                    return vec![];
                }
                // Polite: the browser rolls our offer back inside setRemoteDescription.
                n.making_offer = false;
                n.have_local_offer = false;
                n.ignoring_offer = false;
                vec![Effect::AcceptOffer { peer: from, sdp }]
            }
            ServerMsg::Answer { from, sdp } => match self.negotiations.get_mut(&from) {
                Some(n) if n.have_local_offer => {
                    n.have_local_offer = false;
                    // A pending ICE restart waits for `RemoteDescriptionApplied`:
                    // the browser is not stable until the answer is set.
                    vec![Effect::ApplyAnswer { peer: from, sdp }]
                }
                // An answer to an offer we rolled back, or from a stranger.
                _ => vec![],
            },
            ServerMsg::Ice { from, candidate } => {
                let Some(n) = self.negotiations.get_mut(&from) else { return vec![] };
                if n.ignoring_offer {
                    vec![]
                } else if n.remote_set {
                    vec![Effect::AddIce { peer: from, candidate }]
                } else {
                    n.pending_ice.push(candidate);
                    vec![]
                }
            }
            ServerMsg::MediaState { from, state } => match self.members.get_mut(&from) {
                Some(m) => {
                    m.state = state;
                    vec![Effect::MembersChanged]
                }
                None => vec![],
            },
            ServerMsg::Error { code: ErrorCode::ResumeFailed, .. } if self.joined.is_some() => self.rejoin(),
            // The server ended our media session: start a new one (a few times).
            ServerMsg::Error { code: ErrorCode::NoSfu, message } => match self.sfu.renew() {
                Some(effects) => effects,
                None => vec![Effect::Failed { code: ErrorCode::NoSfu, message }],
            },
            ServerMsg::Error { code, message } => vec![Effect::Failed { code, message }],
            ServerMsg::Pong => vec![],
            ServerMsg::UseSfu => self.use_sfu(),
            ServerMsg::SfuAnswer { sdp } => self.sfu.on_answer(sdp),
            ServerMsg::SfuOffer { sdp, tracks } => {
                let effects = self.sfu.on_offer(sdp, tracks);
                self.closing(effects)
            }
            ServerMsg::Speaking { peers } => vec![Effect::Sfu(SfuAction::Speaking { peers })],
            ServerMsg::SfuPaused { peers } => vec![Effect::Sfu(SfuAction::Paused { peers })],
            ServerMsg::Chat { from, text } if self.members.contains_key(&from) => vec![Effect::Said { from, text }],
            ServerMsg::Chat { .. } => vec![],
        }
    }

    /// Back in our seat: `peers` is who is there now. Messages missed while
    /// away follow from the server, but an offer we sent into the dying
    /// socket may be lost, and a broken connection needs its ICE restarted.
    fn resumed(&mut self, peers: Vec<PeerInfo>, sfu: bool) -> Vec<Effect> {
        let mut effects = vec![];
        let gone: Vec<PeerId> = self.members.keys().filter(|id| !peers.iter().any(|p| p.id == **id)).copied().collect();
        for peer in gone {
            effects.extend(self.remove_member(peer));
        }
        for info in peers {
            if let Some(member) = self.members.get_mut(&info.id) {
                member.state = info.state;
            } else {
                // They joined while we were away; their offer is on its way.
                effects.extend(self.add_member(info, false));
            }
        }
        if sfu && self.sfu.on() {
            // The server kept our session with its media server.
            effects.extend(self.sfu.resumed());
        } else if sfu {
            // The room moved while we were away.
            effects.extend(self.use_sfu());
        }
        let peers: Vec<PeerId> = if self.sfu.on() { vec![] } else { self.negotiations.keys().copied().collect() };
        for peer in peers {
            let n = &self.negotiations[&peer];
            if n.have_local_offer {
                effects.push(Effect::ResendOffer { peer });
            } else if matches!(n.connection, ConnectionState::Disconnected | ConnectionState::Failed) {
                effects.extend(self.restart_ice(peer));
            }
        }
        effects.push(Effect::MembersChanged);
        effects
    }

    fn remove_member(&mut self, peer: PeerId) -> Vec<Effect> {
        self.members.remove(&peer);
        self.sfu.peer_left(peer);
        match self.negotiations.remove(&peer) {
            Some(_) => vec![Effect::ClosePeer { peer }],
            None => vec![],
        }
    }

    fn add_member(&mut self, info: PeerInfo, offering: bool) -> Vec<Effect> {
        let Some(me) = self.joined.as_ref().map(|j| j.you) else { return vec![] };
        if info.id == me || self.members.contains_key(&info.id) {
            return vec![];
        }
        let peer = info.id;
        self.members.insert(peer, Member { name: info.name, state: info.state });
        if self.sfu.on() {
            // Their media comes through the media server.
            return vec![];
        }
        let polite = me < peer;
        self.negotiations.insert(peer, Negotiation { polite, ..Default::default() });
        vec![Effect::CreatePeer { peer, polite, offering }]
    }

    /// The room moved to the media server: connect to it. A direct
    /// connection that has shown nothing yet closes now; the others stay
    /// until their member's media flows through the server (`crate::sfu_link`).
    fn use_sfu(&mut self) -> Vec<Effect> {
        if self.joined.is_none() || self.sfu.on() {
            return vec![];
        }
        let (showing, blank): (Vec<PeerId>, Vec<PeerId>) =
            self.negotiations.keys().partition(|peer| self.negotiations[*peer].remote_set);
        let mut effects = self.sfu.start(showing);
        for peer in blank {
            self.negotiations.remove(&peer);
            effects.push(Effect::ClosePeer { peer });
        }
        effects
    }

    /// The media server's decisions: a direct connection it closes is forgotten here too.
    fn closing(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        for effect in &effects {
            if let Effect::ClosePeer { peer } = effect {
                self.negotiations.remove(peer);
            }
        }
        effects
    }
}
