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
    /// Peers whose connection was to be made with an offer to follow at once.
    offering_to: Vec<PeerId>,
    /// Peers whose ICE was restarted, and connection checks asked for, in order.
    restarts: Vec<PeerId>,
    checks: Vec<PeerId>,
    rejoins: usize,
}

impl Client {
    fn new(id: u64) -> Self {
        Self {
            id: PeerId(id),
            call: Call::new(),
            outbox: VecDeque::new(),
            applied: vec![],
            open_peers: vec![],
            offering_to: vec![],
            restarts: vec![],
            checks: vec![],
            rejoins: 0,
        }
    }

    fn info(&self) -> PeerInfo {
        PeerInfo {
            id: self.id,
            name: DisplayName::parse(&format!("p{}", self.id)).unwrap(),
            state: MediaState::default(),
        }
    }

    fn welcome(&mut self, others: &[&Client]) {
        self.input(Input::Server(ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            you: self.id,
            room: RoomName::parse("r").unwrap(),
            capacity: 6,
            ice_servers: vec![],
            peers: others.iter().map(|c| c.info()).collect(),
            resume: Some(format!("token-{}", self.id)),
            sfu: false,
            relay_only: false,
        }));
    }

    fn input(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let effects = self.call.handle(input);
            // A connection made for offering is followed by that offer in the same batch.
            for (i, effect) in effects.iter().enumerate() {
                if let Effect::CreatePeer { peer, offering: true, .. } = effect {
                    assert_eq!(effects.get(i + 1), Some(&Effect::MakeOffer { peer: *peer }), "{effects:?}");
                }
            }
            for effect in effects {
                match effect {
                    Effect::Send(msg) => self.outbox.push_back(msg),
                    Effect::CreatePeer { peer, offering, .. } => {
                        self.open_peers.push(peer);
                        if offering {
                            self.offering_to.push(peer);
                        }
                    }
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
                    Effect::RestartIce { peer } => {
                        self.restarts.push(peer);
                        self.outbox.push_back(ClientMsg::Offer { to: peer, sdp: format!("restart {}", self.id) });
                        queue.push_back(Input::OfferSent { peer });
                    }
                    Effect::ResendOffer { peer } => {
                        self.outbox.push_back(ClientMsg::Offer { to: peer, sdp: format!("again {}", self.id) });
                    }
                    Effect::CheckConnectionLater { peer, .. } => self.checks.push(peer),
                    Effect::Rejoining => self.rejoins += 1,
                    Effect::MembersChanged | Effect::Failed { .. } | Effect::Sfu(_) | Effect::Said { .. } => {}
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
    // Both see the connection fail at the same moment and restart ICE; both offers cross.
    connection(&mut a, b.id, call::ConnectionState::Failed);
    connection(&mut b, a.id, call::ConnectionState::Failed);
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
    connection(&mut a, b.id, call::ConnectionState::Failed);
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
    // Only the newcomer offers, to everyone already there.
    assert_eq!((a.offering_to.len(), b.offering_to.clone(), c.offering_to.clone()), (0, vec![a.id], vec![a.id, b.id]));
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

fn connection(client: &mut Client, peer: PeerId, state: call::ConnectionState) {
    client.input(Input::Connection { peer, state });
}

#[test]
fn a_failed_connection_restarts_ice_and_renegotiates() {
    let (mut a, mut b) = joined_pair();
    settle(&mut a, &mut b);
    connection(&mut a, b.id, call::ConnectionState::Connected);
    connection(&mut a, b.id, call::ConnectionState::Failed);
    assert_eq!(a.restarts, [b.id]);
    a.applied.clear();
    settle(&mut a, &mut b);
    assert_eq!(b.applied.last(), Some(&(a.id, "offer".into())), "the restart offer reached b");
    assert_eq!(a.applied.first(), Some(&(b.id, "answer".into())));
    assert!(a.call.is_stable(b.id) && b.call.is_stable(a.id));
    connection(&mut a, b.id, call::ConnectionState::Connected);
    a.input(Input::CheckConnection { peer: b.id });
    assert_eq!(a.restarts.len(), 1, "a recovered connection is left alone");
}

#[test]
fn a_disconnected_connection_gets_a_grace_period_first() {
    let (mut a, mut b) = joined_pair();
    settle(&mut a, &mut b);
    connection(&mut b, a.id, call::ConnectionState::Disconnected);
    assert_eq!(b.checks, [a.id]);
    assert!(b.restarts.is_empty(), "it may come back by itself");
    connection(&mut b, a.id, call::ConnectionState::Connected);
    b.input(Input::CheckConnection { peer: a.id });
    assert!(b.restarts.is_empty(), "it did");
    connection(&mut b, a.id, call::ConnectionState::Disconnected);
    b.input(Input::CheckConnection { peer: a.id });
    assert_eq!(b.restarts, [a.id], "it didn't");
}

#[test]
fn an_offer_sent_then_not_set_is_forgotten_and_made_again() {
    let (mut a, mut b) = joined_pair();
    // The page sends an offer as soon as it is made, then sets it locally: that failed.
    let first = b.outbox.len();
    b.input(Input::OfferFailed { peer: a.id });
    assert!(
        matches!(b.outbox.get(first), Some(ClientMsg::Offer { .. })),
        "nothing is left waiting: a new offer goes at once"
    );
    settle(&mut a, &mut b);
    // The first answer's candidate waited for a remote description, and is applied after this one.
    assert_eq!(b.applied.first(), Some(&(a.id, "answer".into())), "{:?}", b.applied);
    assert_eq!(b.applied.iter().filter(|(_, what)| what == "answer").count(), 1);
    assert!(a.call.is_stable(b.id) && b.call.is_stable(a.id));
}

#[test]
fn a_restart_waits_for_the_offer_in_flight() {
    let (mut a, mut b) = joined_pair();
    // b's first offer is out, unanswered, when b's connection fails.
    connection(&mut b, a.id, call::ConnectionState::Failed);
    assert!(b.restarts.is_empty(), "not while an offer awaits its answer");
    settle(&mut a, &mut b);
    assert_eq!(b.restarts, [a.id], "once the answer is applied");
    assert!(a.call.is_stable(b.id) && b.call.is_stable(a.id));
}

#[test]
fn after_a_dropped_socket_the_seat_is_resumed_with_the_token() {
    let (mut a, mut b) = joined_pair();
    settle(&mut a, &mut b);
    a.outbox.clear();
    a.input(Input::SocketOpened);
    assert_eq!(a.outbox.pop_front(), Some(ClientMsg::Resume { version: PROTOCOL_VERSION, token: "token-1".into() }));
    // While a was away c joined and b left; b's departure was buffered but
    // the room list is the truth either way.
    let c = Client::new(3);
    a.input(Input::Server(resumed(a.id, vec![c.info()], None)));
    assert_eq!(a.open_peers, [c.id], "b's connection is closed, c's made");
    assert!(a.call.member(b.id).is_none());
    assert!(a.outbox.is_empty(), "c is the newcomer: c offers");
}

fn resumed(you: PeerId, peers: Vec<PeerInfo>, resume: Option<&str>) -> ServerMsg {
    ServerMsg::Resumed {
        you,
        room: RoomName::parse("r").unwrap(),
        peers,
        resume: resume.map(str::to_owned),
        sfu: false,
    }
}

#[test]
fn the_next_resume_uses_the_token_the_last_resume_gave() {
    let (mut a, mut b) = joined_pair();
    settle(&mut a, &mut b);
    let resume = |token: &str| ClientMsg::Resume { version: PROTOCOL_VERSION, token: token.into() };
    a.outbox.clear();
    a.input(Input::SocketOpened);
    assert_eq!(a.outbox.pop_front(), Some(resume("token-1")));
    a.input(Input::Server(resumed(a.id, vec![b.info()], Some("token-1b"))));
    assert_eq!(a.call.joined().and_then(|j| j.resume.as_deref()), Some("token-1b"));
    a.outbox.clear();
    a.input(Input::SocketOpened);
    assert_eq!(a.outbox.pop_front(), Some(resume("token-1b")), "the spent token is not sent again");
    // A server that gives no new token leaves the one we have.
    a.input(Input::Server(resumed(a.id, vec![b.info()], None)));
    assert_eq!(a.call.joined().and_then(|j| j.resume.as_deref()), Some("token-1b"));
}

#[test]
fn resuming_resends_an_offer_that_may_have_died_with_the_socket() {
    let (mut a, mut b) = joined_pair();
    b.outbox.clear(); // b's offer went into the dead socket
    b.input(Input::SocketOpened);
    b.outbox.clear();
    b.input(Input::Server(resumed(b.id, vec![a.info()], None)));
    assert_eq!(b.outbox.front(), Some(&ClientMsg::Offer { to: a.id, sdp: "again 2".into() }));
    b.outbox.push_back(ClientMsg::Ice { to: a.id, candidate: cand("offer", b.id) });
    settle(&mut a, &mut b);
    assert!(a.call.is_stable(b.id) && b.call.is_stable(a.id), "{:?} {:?}", a.applied, b.applied);
}

#[test]
fn a_lost_seat_closes_everything_and_joins_afresh() {
    let join = ClientMsg::join("r", "p1");
    let mut a = Client::new(1);
    a.call = Call::joining(join.clone());
    a.input(Input::SocketOpened);
    assert_eq!(a.outbox.pop_front(), Some(join.clone()), "first open: join");
    let b = Client::new(2);
    a.welcome(&[]);
    a.input(Input::Server(ServerMsg::PeerJoined { peer: b.info() }));
    assert_eq!(a.open_peers, [b.id]);

    // The server restarted: the token means nothing there now.
    a.input(Input::SocketOpened);
    assert!(matches!(a.outbox.pop_front(), Some(ClientMsg::Resume { .. })));
    a.input(Input::Server(ServerMsg::error(ErrorCode::ResumeFailed, "gone")));
    assert!(a.open_peers.is_empty() && a.call.members().count() == 0);
    assert!(a.call.joined().is_none());
    assert_eq!(a.rejoins, 1);
    assert_eq!(a.outbox.pop_front(), Some(join), "and joins again");

    // Ids start over on a restarted server: the old b's id may be someone new.
    let mut stranger = Client::new(2);
    stranger.welcome(&[]);
    a.id = PeerId(1);
    a.input(Input::Server(ServerMsg::Welcome {
        version: PROTOCOL_VERSION,
        you: PeerId(3),
        room: RoomName::parse("r").unwrap(),
        capacity: 6,
        ice_servers: vec![],
        peers: vec![stranger.info()],
        resume: None,
        sfu: false,
        relay_only: false,
    }));
    assert_eq!(a.open_peers, [PeerId(2)]);
    assert!(matches!(a.outbox.pop_front(), Some(ClientMsg::Offer { .. })), "a is now the newcomer: a offers");
}

#[test]
fn after_leaving_nothing_is_rejoined() {
    let mut a = Client::new(1);
    a.call = Call::joining(ClientMsg::join("r", "p1"));
    a.welcome(&[]);
    a.input(Input::Leave);
    a.outbox.clear();
    a.input(Input::SocketOpened);
    assert!(a.outbox.is_empty());
}

#[test]
fn an_offer_that_fails_twice_ina_row_is_not_madea_third_time() {
    let (a, mut b) = joined_pair();
    let before = b.outbox.len();
    b.input(Input::OfferFailed { peer: a.id });
    b.input(Input::OfferFailed { peer: a.id });
    assert_eq!(b.outbox.len(), before + 2, "one more offer (and its candidate), then no loop");
    assert!(b.call.is_stable(a.id), "and nothing is left in flight: a restart can still go");
}
