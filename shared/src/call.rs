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

use crate::ids::{DisplayName, PeerId, RoomName};
use crate::protocol::{ClientMsg, ErrorCode, IceCandidate, IceServer, MediaState, PeerInfo, ServerMsg};
use std::collections::BTreeMap;

/// What the driver tells the machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Server(ServerMsg),
    /// `createOffer` + `setLocalDescription` finished and the offer was sent.
    OfferSent { peer: PeerId },
    /// Making the offer failed; the connection is back to stable.
    OfferFailed { peer: PeerId },
    /// A remote description (offer or answer) was applied.
    RemoteDescriptionApplied { peer: PeerId },
    /// The browser wants to renegotiate (`negotiationneeded`).
    NegotiationNeeded { peer: PeerId },
    /// This client set its own microphone / camera state.
    LocalMediaState(MediaState),
    /// The user leaves the room.
    Leave,
}

/// What the machine asks the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(ClientMsg),
    /// Build an `RTCPeerConnection` for this member, with local tracks added.
    CreatePeer { peer: PeerId, polite: bool },
    /// `createOffer`, `setLocalDescription`, send it; then [`Input::OfferSent`].
    MakeOffer { peer: PeerId },
    /// `setRemoteDescription(offer)` (rolling back our own offer if any),
    /// report [`Input::RemoteDescriptionApplied`], then answer and send it.
    AcceptOffer { peer: PeerId, sdp: String },
    /// `setRemoteDescription(answer)`, then [`Input::RemoteDescriptionApplied`].
    ApplyAnswer { peer: PeerId, sdp: String },
    AddIce { peer: PeerId, candidate: IceCandidate },
    ClosePeer { peer: PeerId },
    /// The member list or someone's state changed: redraw.
    MembersChanged,
    /// The server refused something; show it.
    Failed { code: ErrorCode, message: String },
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    pub you: PeerId,
    pub room: RoomName,
    pub capacity: usize,
    pub ice_servers: Vec<IceServer>,
}

#[derive(Debug, Default)]
pub struct Call {
    joined: Option<Joined>,
    members: BTreeMap<PeerId, Member>,
    negotiations: BTreeMap<PeerId, Negotiation>,
}

impl Call {
    pub fn new() -> Self {
        Self::default()
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
    /// awaiting its answer (the `stable` signaling state).
    pub fn is_stable(&self, peer: PeerId) -> bool {
        self.negotiations
            .get(&peer)
            .is_some_and(|n| !n.making_offer && !n.have_local_offer)
    }

    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Server(msg) => self.on_server(msg),
            Input::OfferSent { peer } => {
                if let Some(n) = self.negotiations.get_mut(&peer) {
                    n.making_offer = false;
                    n.have_local_offer = true;
                }
                vec![]
            }
            Input::OfferFailed { peer } => {
                if let Some(n) = self.negotiations.get_mut(&peer) {
                    n.making_offer = false;
                    n.have_local_offer = false;
                }
                vec![]
            }
            Input::RemoteDescriptionApplied { peer } => {
                let Some(n) = self.negotiations.get_mut(&peer) else { return vec![] };
                n.remote_set = true;
                n.ignoring_offer = false;
                std::mem::take(&mut n.pending_ice)
                    .into_iter()
                    .map(|candidate| Effect::AddIce { peer, candidate })
                    .collect()
            }
            Input::NegotiationNeeded { peer } => match self.negotiations.get_mut(&peer) {
                Some(n) if !n.making_offer && !n.have_local_offer => {
                    n.making_offer = true;
                    vec![Effect::MakeOffer { peer }]
                }
                _ => vec![],
            },
            Input::LocalMediaState(state) => match self.joined {
                Some(_) => vec![Effect::Send(ClientMsg::MediaState(state))],
                None => vec![],
            },
            Input::Leave => {
                let mut effects: Vec<Effect> = self
                    .negotiations
                    .keys()
                    .map(|&peer| Effect::ClosePeer { peer })
                    .collect();
                if self.joined.take().is_some() {
                    effects.push(Effect::Send(ClientMsg::Leave));
                }
                self.negotiations.clear();
                self.members.clear();
                effects.push(Effect::MembersChanged);
                effects
            }
        }
    }

    fn on_server(&mut self, msg: ServerMsg) -> Vec<Effect> {
        match msg {
            ServerMsg::Welcome { you, room, capacity, ice_servers, peers, .. } => {
                self.joined = Some(Joined { you, room, capacity, ice_servers });
                let mut effects = vec![];
                for info in peers {
                    let peer = info.id;
                    effects.extend(self.add_member(info));
                    if let Some(n) = self.negotiations.get_mut(&peer) {
                        n.making_offer = true;
                        effects.push(Effect::MakeOffer { peer });
                    }
                }
                effects.push(Effect::MembersChanged);
                effects
            }
            ServerMsg::PeerJoined { peer } => {
                let mut effects = self.add_member(peer);
                effects.push(Effect::MembersChanged);
                effects
            }
            ServerMsg::PeerLeft { peer } => {
                self.members.remove(&peer);
                let mut effects = vec![];
                if self.negotiations.remove(&peer).is_some() {
                    effects.push(Effect::ClosePeer { peer });
                }
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
            ServerMsg::Error { code, message } => vec![Effect::Failed { code, message }],
        }
    }

    fn add_member(&mut self, info: PeerInfo) -> Vec<Effect> {
        let Some(me) = self.joined.as_ref().map(|j| j.you) else { return vec![] };
        if info.id == me || self.members.contains_key(&info.id) {
            return vec![];
        }
        let peer = info.id;
        self.members.insert(
            peer,
            Member { name: info.name, state: info.state },
        );
        let polite = me < peer;
        self.negotiations.insert(peer, Negotiation { polite, ..Default::default() });
        vec![Effect::CreatePeer { peer, polite }]
    }
}
