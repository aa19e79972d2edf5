//! Whole negotiations between `Call`s, played in memory. A tiny stand-in for
//! the browser answers effects at once; the test decides when each message
//! crosses the "network", so glare and reordering are deterministic.

use shared::call::{Call, Effect, Input};
use shared::*;
use std::collections::VecDeque;

struct Client {
    id: PeerId,
    call: Call,
    outbox: VecDeque<ClientMsg>,
    /// (peer, what was applied), in order: "offer", "answer", or an ICE candidate string.
    applied: Vec<(PeerId, String)>,
    open_peers: Vec<PeerId>,
}

impl Client {
    fn new(id: u64) -> Self {
        Self { id: PeerId(id), call: Call::new(), outbox: VecDeque::new(), applied: vec![], open_peers: vec![] }
    }

    fn info(&self) -> PeerInfo {
        PeerInfo { id: self.id, name: DisplayName::parse(&format!("p{}", self.id)).unwrap(), state: MediaState::default() }
    }

    fn welcome(&mut self, others: &[&Client]) {
        self.input(Input::Server(ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            you: self.id,
            room: RoomName::parse("r").unwrap(),
            capacity: 6,
            ice_servers: vec![],
            peers: others.iter().map(|c| c.info()).collect(),
        }));
    }

    fn input(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            for effect in self.call.handle(input) {
                match effect {
                    Effect::Send(msg) => self.outbox.push_back(msg),
                    Effect::CreatePeer { peer, .. } => self.open_peers.push(peer),
                    Effect::ClosePeer { peer } => self.open_peers.retain(|p| *p != peer),
                    Effect::MakeOffer { peer } => {
                        self.outbox.push_back(ClientMsg::Offer { to: peer, sdp: format!("offer {}", self.id) });
                        self.outbox.push_back(ClientMsg::Ice { to: peer, candidate: cand("offer", self.id) });
                        queue.push_back(Input::OfferSent { peer });
                    }
                    Effect::AcceptOffer { peer, .. } => {
                        self.applied.push((peer, "offer".into()));
                        queue.push_back(Input::RemoteDescriptionApplied { peer });
                        self.outbox.push_back(ClientMsg::Answer { to: peer, sdp: format!("answer {}", self.id) });
                        self.outbox.push_back(ClientMsg::Ice { to: peer, candidate: cand("answer", self.id) });
                    }
                    Effect::ApplyAnswer { peer, .. } => {
                        self.applied.push((peer, "answer".into()));
                        queue.push_back(Input::RemoteDescriptionApplied { peer });
                    }
                    Effect::AddIce { peer, candidate } => self.applied.push((peer, candidate.candidate)),
                    Effect::MembersChanged | Effect::Failed { .. } => {}
                }
            }
        }
    }

    /// What the server would deliver for this client's next queued message.
    fn pop(&mut self) -> Option<(PeerId, ServerMsg)> {
        let from = self.id;
        Some(match self.outbox.pop_front()? {
            ClientMsg::Offer { to, sdp } => (to, ServerMsg::Offer { from, sdp }),
            ClientMsg::Answer { to, sdp } => (to, ServerMsg::Answer { from, sdp }),
            ClientMsg::Ice { to, candidate } => (to, ServerMsg::Ice { from, candidate }),
            other => return self.pop().or_else(|| panic!("unexpected {other:?}")),
        })
    }
}

fn cand(phase: &str, id: PeerId) -> IceCandidate {
    IceCandidate { candidate: format!("{phase}-cand {id}"), sdp_mid: Some("0".into()), sdp_m_line_index: Some(0) }
}

/// Deliver everything queued in both directions until both are quiet.
fn settle(a: &mut Client, b: &mut Client) {
    loop {
        let mut moved = false;
        while let Some((to, msg)) = a.pop() {
            assert_eq!(to, b.id);
            b.input(Input::Server(msg));
            moved = true;
        }
        while let Some((to, msg)) = b.pop() {
            assert_eq!(to, a.id);
            a.input(Input::Server(msg));
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn joined_pair() -> (Client, Client) {
    let mut a = Client::new(1);
    let mut b = Client::new(2);
    a.welcome(&[]);
    b.welcome(&[&a]);
    a.input(Input::Server(ServerMsg::PeerJoined { peer: b.info() }));
    (a, b)
}

#[test]
fn newcomer_offers_and_both_sides_apply_everything() {
    let (mut a, mut b) = joined_pair();
    assert_eq!(a.open_peers, vec![b.id]);
    assert_eq!(b.open_peers, vec![a.id]);
    assert!(a.outbox.is_empty(), "the member already there waits for the offer");
    assert!(matches!(b.outbox.front(), Some(ClientMsg::Offer { .. })), "the newcomer offers at once");
    settle(&mut a, &mut b);
    assert_eq!(a.applied, vec![(b.id, "offer".into()), (b.id, "offer-cand 2".into())]);
    assert_eq!(b.applied, vec![(a.id, "answer".into()), (a.id, "answer-cand 1".into())]);
    assert!(a.call.is_stable(b.id) && b.call.is_stable(a.id));
}

#[test]
fn glare_resolves_with_the_polite_side_yielding() {
    let (mut a, mut b) = joined_pair();
    settle(&mut a, &mut b);
    a.applied.clear();
    b.applied.clear();
    // Both want to renegotiate at the same moment; both offers cross.
    a.input(Input::NegotiationNeeded { peer: b.id });
    b.input(Input::NegotiationNeeded { peer: a.id });
    let (_, offer_a) = a.pop().unwrap();
    let (_, offer_b) = b.pop().unwrap();
    a.input(Input::Server(offer_b)); // a (id 1) is polite: rolls back, accepts
    b.input(Input::Server(offer_a)); // b (id 2) is impolite: ignores
    settle(&mut a, &mut b);
    assert_eq!(a.applied.first(), Some(&(b.id, "offer".into())));
    assert_eq!(b.applied.first(), Some(&(a.id, "answer".into())));
    assert!(!b.applied.iter().any(|(_, what)| what == "offer"), "impolite side never applied the colliding offer");
    assert!(!b.applied.iter().any(|(_, what)| what == "offer-cand 1"), "nor the ICE of the ignored offer");
    assert!(a.call.is_stable(b.id) && b.call.is_stable(a.id), "nobody is left waiting");
    // And a later renegotiation still works.
    a.applied.clear();
    a.input(Input::NegotiationNeeded { peer: b.id });
    settle(&mut a, &mut b);
    assert_eq!(a.applied.first(), Some(&(b.id, "answer".into())));
}

#[test]
fn ice_that_overtakes_its_offer_is_held_then_applied_in_order() {
    let (mut a, mut b) = joined_pair();
    let (_, offer) = b.pop().unwrap();
    let (_, ice) = b.pop().unwrap();
    a.input(Input::Server(ice));
    assert!(a.applied.is_empty(), "no remote description yet: the candidate waits");
    a.input(Input::Server(offer));
    assert_eq!(a.applied, vec![(b.id, "offer".into()), (b.id, "offer-cand 2".into())]);
}

#[test]
fn a_member_leaving_mid_negotiation_is_forgotten() {
    let (mut a, mut b) = joined_pair();
    let (_, offer) = b.pop().unwrap();
    a.input(Input::Server(offer));
    // a answered; before b hears it, a leaves the room.
    a.input(Input::Server(ServerMsg::PeerLeft { peer: b.id }));
    assert!(a.open_peers.is_empty());
    assert!(a.call.member(b.id).is_none());
    b.input(Input::Server(ServerMsg::PeerLeft { peer: a.id }));
    assert!(b.open_peers.is_empty());
    // Late messages about the departed are ignored without effects.
    let applied = b.applied.len();
    while let Some((_, msg)) = a.pop() {
        b.input(Input::Server(msg));
    }
    b.input(Input::RemoteDescriptionApplied { peer: a.id });
    a.input(Input::Server(ServerMsg::Ice { from: b.id, candidate: cand("late", b.id) }));
    assert_eq!(b.applied.len(), applied);
    assert_eq!(a.applied.len(), 1);
}

#[test]
fn three_members_form_a_mesh() {
    let mut a = Client::new(1);
    let mut b = Client::new(2);
    let mut c = Client::new(3);
    a.welcome(&[]);
    b.welcome(&[&a]);
    a.input(Input::Server(ServerMsg::PeerJoined { peer: b.info() }));
    c.welcome(&[&a, &b]);
    a.input(Input::Server(ServerMsg::PeerJoined { peer: c.info() }));
    b.input(Input::Server(ServerMsg::PeerJoined { peer: c.info() }));
    assert_eq!(c.open_peers, vec![a.id, b.id]);
    assert_eq!(c.outbox.iter().filter(|m| matches!(m, ClientMsg::Offer { .. })).count(), 2);
    assert_eq!(a.call.members().count(), 2);
}

#[test]
fn media_state_updates_the_member_and_leave_closes_everything() {
    let (mut a, mut b) = joined_pair();
    let muted = MediaState { muted: true, ..MediaState::default() };
    a.input(Input::Server(ServerMsg::MediaState { from: b.id, state: muted }));
    assert!(a.call.member(b.id).unwrap().state.muted);
    let sharing = MediaState { muted: true, camera_off: true, sharing: true };
    a.input(Input::LocalMediaState(sharing));
    assert_eq!(a.outbox.back(), Some(&ClientMsg::MediaState(sharing)));
    b.input(Input::Leave);
    assert!(b.open_peers.is_empty());
    assert_eq!(b.outbox.back(), Some(&ClientMsg::Leave));
    assert!(b.call.joined().is_none());
}
