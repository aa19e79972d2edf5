//! Whole sequences with the media server (SFU), played in memory: a member
//! welcomed into an SFU room, offer and answer, the server's offers and whose
//! each track is, glare, ICE restarts, resuming, and a meeting moving from the
//! mesh to the SFU (make before break). A tiny stand-in for the browser
//! carries out what the call asks, unless a test holds it back to play a race.

use shared::call::{Call, ConnectionState, Effect, Input, SfuAction, SfuEvent, SfuTimer};
use shared::sfu_link::{MESH_LINGER_MS, MESH_SAFETY_NET_MS};
use shared::*;

struct Client {
    call: Call,
    /// Everything the call sent to the server, in order.
    sent: Vec<ClientMsg>,
    /// Every SFU action asked for, in order.
    actions: Vec<SfuAction>,
    open_peers: Vec<PeerId>,
    closed_peers: Vec<PeerId>,
    mesh_restarts: Vec<PeerId>,
    mesh_checks: Vec<PeerId>,
    /// Carry out SFU actions at once (`MakeOffer` reports `OfferSent`...).
    auto: bool,
    /// The SFU connection exists.
    sfu_open: bool,
    sfu_made: usize,
}

fn peer_info(id: u64) -> PeerInfo {
    PeerInfo { id: PeerId(id), name: DisplayName::parse(&format!("p{id}")).unwrap(), state: MediaState::default() }
}

fn room() -> RoomName {
    RoomName::parse("r").unwrap()
}

fn welcome(you: u64, peers: &[u64], sfu: bool) -> ServerMsg {
    ServerMsg::Welcome {
        version: PROTOCOL_VERSION,
        you: PeerId(you),
        room: room(),
        capacity: 6,
        ice_servers: vec![],
        peers: peers.iter().map(|&id| peer_info(id)).collect(),
        resume: Some(format!("token-{you}")),
        sfu,
        relay_only: false,
    }
}

fn track(mid: &str, peer: u64, source: TrackSource) -> SfuTrack {
    SfuTrack { mid: mid.into(), peer: PeerId(peer), source }
}

/// What the server forwards of each of `peers`: microphone and camera.
fn tracks_of(peers: &[u64]) -> Vec<SfuTrack> {
    let mut tracks = vec![];
    for (i, &peer) in peers.iter().enumerate() {
        tracks.push(track(&format!("{}", 3 + 2 * i), peer, TrackSource::Microphone));
        tracks.push(track(&format!("{}", 4 + 2 * i), peer, TrackSource::Camera));
    }
    tracks
}

fn server_offer(tracks: Vec<SfuTrack>) -> Input {
    Input::Server(ServerMsg::SfuOffer { sdp: "server offer".into(), tracks })
}

fn answer() -> Input {
    Input::Server(ServerMsg::SfuAnswer { sdp: "server answer".into() })
}

impl Client {
    fn new(id: u64) -> Self {
        Self {
            call: Call::joining(ClientMsg::join("r", format!("p{id}"))),
            sent: vec![],
            actions: vec![],
            open_peers: vec![],
            closed_peers: vec![],
            mesh_restarts: vec![],
            mesh_checks: vec![],
            auto: true,
            sfu_open: false,
            sfu_made: 0,
        }
    }

    fn input(&mut self, input: Input) {
        let mut queue = std::collections::VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            for effect in self.call.handle(input) {
                match effect {
                    Effect::Send(msg) => self.sent.push(msg),
                    Effect::CreatePeer { peer, .. } => self.open_peers.push(peer),
                    Effect::ClosePeer { peer } => {
                        self.open_peers.retain(|p| *p != peer);
                        self.closed_peers.push(peer);
                    }
                    Effect::MakeOffer { peer } => {
                        self.sent.push(ClientMsg::Offer { to: peer, sdp: "mesh offer".into() });
                        queue.push_back(Input::OfferSent { peer });
                    }
                    Effect::AcceptOffer { peer, .. } => {
                        self.sent.push(ClientMsg::Answer { to: peer, sdp: "mesh answer".into() });
                        queue.push_back(Input::RemoteDescriptionApplied { peer });
                    }
                    Effect::ApplyAnswer { peer, .. } => queue.push_back(Input::RemoteDescriptionApplied { peer }),
                    Effect::RestartIce { peer } => self.mesh_restarts.push(peer),
                    Effect::CheckConnectionLater { peer, .. } => self.mesh_checks.push(peer),
                    Effect::Sfu(action) => {
                        if self.auto {
                            self.carry_out(&action, &mut queue);
                        }
                        self.actions.push(action);
                    }
                    Effect::AddIce { .. }
                    | Effect::ResendOffer { .. }
                    | Effect::MembersChanged
                    | Effect::Failed { .. }
                    | Effect::Said { .. }
                    | Effect::Rejoining => {}
                }
            }
        }
    }

    /// The browser's part: what it reports back for each action.
    fn carry_out(&mut self, action: &SfuAction, queue: &mut std::collections::VecDeque<Input>) {
        match action {
            SfuAction::Create => {
                assert!(!self.sfu_open, "one SFU connection at a time");
                self.sfu_open = true;
                self.sfu_made += 1;
            }
            SfuAction::MakeOffer { ice_restart } => {
                let sdp = if *ice_restart { "restart offer" } else { "offer" };
                self.sent.push(ClientMsg::SfuOffer { sdp: sdp.into() });
                queue.push_back(Input::Sfu(SfuEvent::OfferSent));
            }
            SfuAction::ApplyAnswer { .. } => queue.push_back(Input::Sfu(SfuEvent::AnswerApplied)),
            SfuAction::AcceptOffer { .. } => {
                self.sent.push(ClientMsg::SfuAnswer { sdp: "answer".into() });
                queue.push_back(Input::Sfu(SfuEvent::OfferAccepted));
            }
            SfuAction::ResendOffer => self.sent.push(ClientMsg::SfuOffer { sdp: "again".into() }),
            SfuAction::Close => self.sfu_open = false,
            SfuAction::Later { .. }
            | SfuAction::ShowMedia { .. }
            | SfuAction::Speaking { .. }
            | SfuAction::Paused { .. } => {}
        }
    }

    fn sfu(&mut self, event: SfuEvent) {
        self.input(Input::Sfu(event));
    }

    fn sfu_offers(&self) -> Vec<&str> {
        self.sent
            .iter()
            .filter_map(|m| match m {
                ClientMsg::SfuOffer { sdp } => Some(sdp.as_str()),
                _ => None,
            })
            .collect()
    }

    fn sfu_answers(&self) -> usize {
        self.sent.iter().filter(|m| matches!(m, ClientMsg::SfuAnswer { .. })).count()
    }

    fn mesh_messages(&self) -> usize {
        self.sent.iter().filter(|m| m.addressee().is_some()).count()
    }

    fn shown(&self) -> Vec<PeerId> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                SfuAction::ShowMedia { peer } => Some(*peer),
                _ => None,
            })
            .collect()
    }

    fn timers(&self) -> Vec<(SfuTimer, u32)> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                SfuAction::Later { timer, after_ms } => Some((*timer, *after_ms)),
                _ => None,
            })
            .collect()
    }

    fn take_actions(&mut self) -> Vec<SfuAction> {
        std::mem::take(&mut self.actions)
    }
}

/// Member 1 in an SFU room with 2 and 3, its first offer answered.
/// Member 1 just welcomed into an SFU room with member 2, the driver's
/// reports (offer sent, answer applied…) fed by the test itself.
fn welcomed_by_hand() -> Client {
    let mut a = Client::new(1);
    a.auto = false;
    a.input(Input::SocketOpened);
    a.input(Input::Server(welcome(1, &[2], true)));
    a
}

fn in_sfu_room() -> Client {
    let mut a = Client::new(1);
    a.input(Input::SocketOpened);
    a.input(Input::Server(welcome(1, &[2, 3], true)));
    a.input(answer());
    a.input(server_offer(tracks_of(&[2, 3])));
    a.sfu(SfuEvent::Connection(ConnectionState::Connected));
    a
}

#[test]
fn welcomed_into_an_sfu_room_the_member_offers_to_the_server_only() {
    let mut a = Client::new(1);
    a.input(Input::SocketOpened);
    a.input(Input::Server(welcome(1, &[2, 3], true)));
    assert!(a.open_peers.is_empty(), "no connection to any member");
    assert_eq!(a.take_actions(), [SfuAction::Create, SfuAction::MakeOffer { ice_restart: false }]);
    assert_eq!(a.sfu_offers(), ["offer"], "the member offers first");
    assert_eq!(a.mesh_messages(), 0);
    assert_eq!(a.call.members().count(), 2, "both have a tile");
    assert!(!a.call.is_stable(PeerId(2)), "the room waits for the server's answer");
    assert!(a.call.sfu().on() && a.call.sfu().shows(PeerId(2)));

    a.input(answer());
    assert_eq!(a.take_actions(), [SfuAction::ApplyAnswer { sdp: "server answer".into() }]);
    assert!(a.call.is_stable(PeerId(2)) && a.call.sfu().stable());

    // The server forwards 2's and 3's media: its offer is answered, and says whose each track is.
    a.input(server_offer(tracks_of(&[2, 3])));
    assert_eq!(a.take_actions(), [SfuAction::AcceptOffer { sdp: "server offer".into() }]);
    assert_eq!(a.sfu_answers(), 1);
    assert_eq!(a.call.sfu().track("4"), Some(&track("4", 2, TrackSource::Camera)));
    assert_eq!(a.call.sfu().mid_of(PeerId(3), TrackSource::Microphone), Some("5"));
    assert!(a.call.sfu().awaited_mids().is_empty(), "nobody is moving: nothing to wait for");

    // Someone joins: no connection to them either; the server offers their tracks.
    a.input(Input::Server(ServerMsg::PeerJoined { peer: peer_info(4) }));
    assert!(a.open_peers.is_empty());
    a.input(server_offer(tracks_of(&[2, 3, 4])));
    assert_eq!(a.call.sfu().track("7").map(|t| t.peer), Some(PeerId(4)));
    // A stopped m-line disappears from the list.
    a.input(Input::Server(ServerMsg::PeerLeft { peer: PeerId(3) }));
    a.input(server_offer(tracks_of(&[2, 4]).into_iter().filter(|t| t.peer != PeerId(3)).collect()));
    assert!(a.call.sfu().tracks().iter().all(|t| t.peer != PeerId(3)));
    assert_eq!(a.sfu_answers(), 3);
    assert_eq!(a.mesh_messages(), 0, "never a message for a member's connection");
    assert_eq!(a.sfu_made, 1);
}

#[test]
fn a_server_offer_that_crosses_ours_is_ignored_and_made_again() {
    let mut a = in_sfu_room();
    a.take_actions();
    // Our connection fails: an ICE restart offer goes out (and is not answered yet).
    a.sfu(SfuEvent::Connection(ConnectionState::Failed));
    assert_eq!(a.take_actions(), [SfuAction::MakeOffer { ice_restart: true }]);
    assert_eq!(a.sfu_offers().last(), Some(&"restart offer"));
    // The server's offer crosses it: we are impolite.
    let answers = a.sfu_answers();
    a.input(server_offer(tracks_of(&[2, 3, 4])));
    assert!(a.take_actions().is_empty(), "ignored");
    assert_eq!(a.sfu_answers(), answers);
    assert_eq!(a.call.sfu().track("7"), None, "its tracks too");
    // The server rolled its offer back, answers ours, then offers again.
    a.input(answer());
    a.input(server_offer(tracks_of(&[2, 3, 4])));
    assert_eq!(
        a.take_actions(),
        [SfuAction::ApplyAnswer { sdp: "server answer".into() }, SfuAction::AcceptOffer { sdp: "server offer".into() }]
    );
    assert_eq!(a.sfu_answers(), answers + 1);
    assert_eq!(a.call.sfu().track("7").map(|t| t.peer), Some(PeerId(4)));
    assert!(a.call.sfu().stable());
}

#[test]
fn glare_while_our_offer_is_still_being_made() {
    let mut a = welcomed_by_hand();
    // The server could not offer before our first offer; after an ICE restart
    // it can, while our offer is still being made.
    a.input(server_offer(tracks_of(&[2])));
    assert_eq!(a.take_actions(), [SfuAction::Create, SfuAction::MakeOffer { ice_restart: false }]);
    a.sfu(SfuEvent::OfferSent);
    a.input(answer());
    assert_eq!(a.take_actions(), [SfuAction::ApplyAnswer { sdp: "server answer".into() }]);
}

#[test]
fn a_server_offer_during_our_answer_being_applied_waits_its_turn() {
    let mut a = welcomed_by_hand();
    a.sfu(SfuEvent::OfferSent);
    a.input(answer());
    a.take_actions();
    // The server's answer is being applied when its offer arrives: not glare.
    a.input(server_offer(tracks_of(&[2])));
    assert!(a.take_actions().is_empty(), "not two descriptions at once");
    a.input(server_offer(tracks_of(&[2, 3])));
    a.sfu(SfuEvent::AnswerApplied);
    assert_eq!(a.take_actions(), [SfuAction::AcceptOffer { sdp: "server offer".into() }], "the latest one");
    assert_eq!(a.call.sfu().tracks().len(), 4);
    // And one that comes while that one is being answered waits too.
    a.input(server_offer(tracks_of(&[3])));
    assert!(a.take_actions().is_empty());
    a.sfu(SfuEvent::OfferAccepted);
    assert_eq!(a.take_actions(), [SfuAction::AcceptOffer { sdp: "server offer".into() }]);
    assert_eq!(a.call.sfu().tracks(), tracks_of(&[3]));
}

#[test]
fn a_failed_or_lingering_disconnected_sfu_connection_restarts_ice() {
    let mut a = in_sfu_room();
    a.take_actions();
    a.sfu(SfuEvent::Connection(ConnectionState::Disconnected));
    assert_eq!(
        a.take_actions(),
        [SfuAction::Later { timer: SfuTimer::CheckConnection, after_ms: call::DISCONNECTED_GRACE_MS }]
    );
    a.sfu(SfuEvent::Connection(ConnectionState::Connected));
    a.sfu(SfuEvent::Timer(SfuTimer::CheckConnection));
    assert!(a.take_actions().is_empty(), "it came back by itself");
    a.sfu(SfuEvent::Connection(ConnectionState::Disconnected));
    a.sfu(SfuEvent::Timer(SfuTimer::CheckConnection));
    assert_eq!(a.take_actions()[1..], [SfuAction::MakeOffer { ice_restart: true }], "it didn't");
    a.input(answer());
    assert!(a.call.sfu().stable());
    a.sfu(SfuEvent::Connection(ConnectionState::Failed));
    assert_eq!(a.sfu_offers(), ["offer", "restart offer", "restart offer"]);
}

#[test]
fn a_restart_waits_for_what_is_in_flight() {
    let mut a = welcomed_by_hand();
    a.sfu(SfuEvent::OfferSent);
    a.take_actions();
    a.sfu(SfuEvent::Connection(ConnectionState::Failed));
    assert!(a.take_actions().is_empty(), "not while our offer awaits its answer");
    a.input(answer());
    a.take_actions();
    a.sfu(SfuEvent::AnswerApplied);
    assert_eq!(a.take_actions(), [SfuAction::MakeOffer { ice_restart: true }]);
    a.sfu(SfuEvent::OfferSent);
    a.input(answer());
    a.sfu(SfuEvent::AnswerApplied);
    // While the server's offer is being answered, too.
    a.input(server_offer(tracks_of(&[2])));
    a.take_actions();
    a.sfu(SfuEvent::Connection(ConnectionState::Failed));
    assert!(a.take_actions().is_empty());
    a.sfu(SfuEvent::OfferAccepted);
    assert_eq!(a.take_actions(), [SfuAction::MakeOffer { ice_restart: true }]);
}

#[test]
fn an_offer_that_fails_is_made_once_more_and_an_unanswerable_server_offer_is_replaced_by_ours() {
    let mut a = welcomed_by_hand();
    a.take_actions();
    a.sfu(SfuEvent::OfferFailed);
    assert_eq!(a.take_actions(), [SfuAction::MakeOffer { ice_restart: false }]);
    a.sfu(SfuEvent::OfferFailed);
    assert!(a.take_actions().is_empty(), "no loop");
    assert!(a.call.sfu().stable());
    // A restart offer that fails is made again as a restart.
    a.sfu(SfuEvent::Connection(ConnectionState::Failed));
    assert_eq!(a.take_actions(), [SfuAction::MakeOffer { ice_restart: true }]);
    a.sfu(SfuEvent::OfferFailed);
    assert_eq!(a.take_actions(), [SfuAction::MakeOffer { ice_restart: true }]);
    a.sfu(SfuEvent::OfferSent);
    a.input(answer());
    a.sfu(SfuEvent::AnswerApplied);
    a.take_actions();
    // The server's offer cannot be applied: our own offer puts both sides back in step.
    a.input(server_offer(tracks_of(&[2])));
    a.sfu(SfuEvent::AcceptFailed);
    assert_eq!(
        a.take_actions(),
        [SfuAction::AcceptOffer { sdp: "server offer".into() }, SfuAction::MakeOffer { ice_restart: false }]
    );
}

#[test]
fn resuming_resends_a_pending_offer_or_restarts_a_failed_connection() {
    let mut a = Client::new(1);
    a.input(Input::SocketOpened);
    a.input(Input::Server(welcome(1, &[2], true)));
    // The offer went into a socket that died.
    a.input(Input::SocketOpened);
    assert_eq!(a.sent.last(), Some(&ClientMsg::Resume { version: PROTOCOL_VERSION, token: "token-1".into() }));
    let resumed =
        |sfu| ServerMsg::Resumed { you: PeerId(1), room: room(), peers: vec![peer_info(2)], resume: None, sfu };
    a.input(Input::Server(resumed(true)));
    assert_eq!(a.sfu_offers(), ["offer", "again"]);
    assert_eq!(a.sfu_made, 1, "the server kept the session: so do we");
    a.input(answer());
    a.sfu(SfuEvent::Connection(ConnectionState::Failed));
    // That restart offer died too, then the connection is failed on resume.
    a.input(Input::Server(resumed(true)));
    assert_eq!(a.sfu_offers(), ["offer", "again", "restart offer", "again"]);
    a.input(answer());
    a.input(Input::Server(resumed(true)));
    assert_eq!(a.sfu_offers().last(), Some(&"restart offer"), "still failed: restart");
    a.input(answer());
    a.sfu(SfuEvent::Connection(ConnectionState::Connected));
    a.input(Input::Server(resumed(true)));
    assert_eq!(a.sfu_offers().len(), 5, "all well: nothing to do");
    assert!(a.open_peers.is_empty());
}

#[test]
fn a_new_welcome_after_a_server_restart_builds_a_new_sfu_connection() {
    let mut a = in_sfu_room();
    a.input(Input::SocketOpened);
    a.input(Input::Server(ServerMsg::error(ErrorCode::ResumeFailed, "gone")));
    assert!(a.take_actions().contains(&SfuAction::Close));
    assert!(!a.sfu_open && !a.call.sfu().on());
    a.input(Input::Server(welcome(1, &[2], true)));
    assert_eq!(a.sfu_made, 2);
    assert_eq!(a.sfu_offers(), ["offer", "offer"]);
    assert!(a.call.sfu().tracks().is_empty(), "the old tracks went with the old session");
    // A server restarted into a mesh room: no SFU at all.
    a.input(Input::SocketOpened);
    a.input(Input::Server(ServerMsg::error(ErrorCode::ResumeFailed, "gone")));
    a.input(Input::Server(welcome(1, &[2], false)));
    assert!(!a.sfu_open && !a.call.sfu().on());
    assert_eq!(a.open_peers, [PeerId(2)]);
}

#[test]
fn leaving_closes_the_sfu_connection_and_speaking_and_pauses_reach_the_page() {
    let mut a = in_sfu_room();
    a.take_actions();
    a.input(Input::Server(ServerMsg::Speaking { peers: vec![PeerId(3), PeerId(2)] }));
    assert_eq!(a.take_actions(), [SfuAction::Speaking { peers: vec![PeerId(3), PeerId(2)] }]);
    // Whose video the server holds back for our bandwidth: their tiles say so.
    a.input(Input::Server(ServerMsg::SfuPaused { peers: vec![PeerId(2)] }));
    assert_eq!(a.take_actions(), [SfuAction::Paused { peers: vec![PeerId(2)] }]);
    a.input(Input::Leave);
    assert_eq!(a.take_actions(), [SfuAction::Close]);
    assert_eq!(a.sent.last(), Some(&ClientMsg::Leave));
    a.input(answer());
    a.input(server_offer(tracks_of(&[2])));
    assert!(a.take_actions().is_empty(), "nothing after leaving");
}

/// Member 1 in a mesh with 2 and 3 (both connected and showing), then 4
/// arrives, who has not offered yet when the room moves.
fn meshed() -> Client {
    let mut a = Client::new(1);
    a.input(Input::SocketOpened);
    a.input(Input::Server(welcome(1, &[], false)));
    for peer in [2, 3] {
        a.input(Input::Server(ServerMsg::PeerJoined { peer: peer_info(peer) }));
        a.input(Input::Server(ServerMsg::Offer { from: PeerId(peer), sdp: "mesh offer".into() }));
        a.input(Input::Connection { peer: PeerId(peer), state: ConnectionState::Connected });
    }
    a.input(Input::Server(ServerMsg::PeerJoined { peer: peer_info(4) }));
    assert_eq!(a.open_peers, [PeerId(2), PeerId(3), PeerId(4)]);
    a
}

#[test]
fn moving_to_the_sfu_closes_each_direct_connection_once_its_media_flows_through_the_server() {
    let mut a = meshed();
    a.input(Input::Server(ServerMsg::UseSfu));
    assert_eq!(a.take_actions(), [SfuAction::Create, SfuAction::MakeOffer { ice_restart: false }]);
    assert_eq!(a.open_peers, [PeerId(2), PeerId(3)], "4's connection showed nothing yet: it goes at once");
    assert!(!a.call.sfu().shows(PeerId(2)) && a.call.sfu().shows(PeerId(4)));
    a.input(answer());
    a.input(server_offer(tracks_of(&[2, 3, 4])));
    assert_eq!(a.call.sfu().awaited_mids(), ["3", "4", "5", "6"], "2's and 3's microphone and camera");
    // 3's voice arrives first: 3 has a camera, so the tile waits for it.
    a.sfu(SfuEvent::MediaFlowing { mid: "5".into() });
    assert_eq!(a.open_peers, [PeerId(2), PeerId(3)]);
    // 2's camera decodes frames: 2's tile shows the SFU's media; the direct
    // connection stays a moment (2 may not see us through the SFU yet), then closes.
    a.take_actions();
    a.sfu(SfuEvent::MediaFlowing { mid: "4".into() });
    let linger = SfuAction::Later { timer: SfuTimer::ClosePeer(PeerId(2)), after_ms: MESH_LINGER_MS };
    assert_eq!(a.take_actions(), [SfuAction::ShowMedia { peer: PeerId(2) }, linger]);
    assert!(a.call.sfu().shows(PeerId(2)) && a.call.has_peer(PeerId(2)));
    assert_eq!(a.open_peers, [PeerId(2), PeerId(3)]);
    a.sfu(SfuEvent::Timer(SfuTimer::ClosePeer(PeerId(2))));
    assert_eq!(a.open_peers, [PeerId(3)]);
    assert!(a.call.sfu().shows(PeerId(2)) && !a.call.has_peer(PeerId(2)));
    a.sfu(SfuEvent::Timer(SfuTimer::ClosePeer(PeerId(2))));
    assert_eq!(a.closed_peers, [PeerId(4), PeerId(2)], "closed once");
    assert_eq!(a.call.sfu().awaited_mids(), ["6"]);
    // Media on a track nobody listed changes nothing.
    a.sfu(SfuEvent::MediaFlowing { mid: "99".into() });
    assert_eq!(a.open_peers, [PeerId(3)]);

    // The SFU connection is up: 5 s later whatever is still direct closes.
    a.sfu(SfuEvent::Connection(ConnectionState::Connected));
    assert_eq!(a.timers(), [(SfuTimer::CloseMesh, MESH_SAFETY_NET_MS)]);
    a.sfu(SfuEvent::Connection(ConnectionState::Disconnected));
    a.sfu(SfuEvent::Connection(ConnectionState::Connected));
    assert_eq!(a.timers().iter().filter(|(t, _)| *t == SfuTimer::CloseMesh).count(), 1, "one safety net");
    a.take_actions();
    a.sfu(SfuEvent::Timer(SfuTimer::CloseMesh));
    assert_eq!(a.take_actions(), [SfuAction::ShowMedia { peer: PeerId(3) }]);
    assert!(a.open_peers.is_empty());
    assert_eq!(a.closed_peers, [PeerId(4), PeerId(2), PeerId(3)]);
    assert_eq!(a.sfu_made, 1);
    // A newcomer after the move gets no direct connection.
    a.input(Input::Server(ServerMsg::PeerJoined { peer: peer_info(5) }));
    assert!(a.open_peers.is_empty());
}

#[test]
fn a_member_without_a_camera_has_arrived_once_heard() {
    let mut a = meshed();
    a.input(Input::Server(ServerMsg::UseSfu));
    a.input(answer());
    // 2 sends a microphone only; 3 both.
    let mut tracks = vec![track("3", 2, TrackSource::Microphone)];
    tracks.extend(tracks_of(&[3]).into_iter().map(|t| SfuTrack { mid: format!("1{}", t.mid), ..t }));
    a.input(server_offer(tracks));
    a.sfu(SfuEvent::MediaFlowing { mid: "3".into() });
    assert_eq!(a.shown(), [PeerId(2)]);
    // The safety net closes the lingering connection with the rest, and shows 3 as well.
    a.sfu(SfuEvent::Connection(ConnectionState::Connected));
    a.sfu(SfuEvent::Timer(SfuTimer::CloseMesh));
    assert!(a.open_peers.is_empty());
    assert_eq!(a.shown(), [PeerId(2), PeerId(3)]);
    // Heard before the server said whose the track was: counted once it does.
    let mut b = meshed();
    b.input(Input::Server(ServerMsg::UseSfu));
    b.input(answer());
    b.input(server_offer(vec![track("3", 3, TrackSource::Camera)]));
    b.sfu(SfuEvent::MediaFlowing { mid: "3".into() });
    assert_eq!(b.shown(), [PeerId(3)]);
    assert_eq!(b.call.sfu().awaited_mids(), Vec::<String>::new(), "2's tracks are not listed yet");
}

#[test]
fn once_moving_no_direct_connection_is_ice_restarted() {
    let mut a = meshed();
    a.input(Input::Server(ServerMsg::UseSfu));
    a.input(Input::Connection { peer: PeerId(2), state: ConnectionState::Failed });
    a.input(Input::Connection { peer: PeerId(3), state: ConnectionState::Disconnected });
    a.input(Input::CheckConnection { peer: PeerId(3) });
    assert!(a.mesh_restarts.is_empty() && a.mesh_checks.is_empty(), "their failing is expected");
    // Nor after a resume.
    a.input(Input::SocketOpened);
    a.input(Input::Server(ServerMsg::Resumed {
        you: PeerId(1),
        room: room(),
        peers: vec![peer_info(2), peer_info(3), peer_info(4)],
        resume: None,
        sfu: true,
    }));
    assert!(a.mesh_restarts.is_empty());
    assert_eq!(a.mesh_messages(), 2, "only the two answers from before the move");
    assert_eq!(a.sfu_made, 1, "UseSfu again (in the resume) changes nothing");
    // A mesh room before the move does restart.
    let mut b = meshed();
    b.input(Input::Connection { peer: PeerId(2), state: ConnectionState::Failed });
    assert_eq!(b.mesh_restarts, [PeerId(2)]);
}

#[test]
fn a_move_missed_while_away_starts_on_resume_and_a_leaver_is_not_waited_for() {
    let mut a = meshed();
    a.input(Input::SocketOpened);
    a.input(Input::Server(ServerMsg::Resumed {
        you: PeerId(1),
        room: room(),
        peers: vec![peer_info(2), peer_info(3), peer_info(4)],
        resume: None,
        sfu: true,
    }));
    assert!(a.call.sfu().on());
    assert_eq!(a.sfu_offers(), ["offer"]);
    assert_eq!(a.open_peers, [PeerId(2), PeerId(3)]);
    a.input(Input::Server(ServerMsg::PeerLeft { peer: PeerId(3) }));
    assert_eq!(a.open_peers, [PeerId(2)]);
    assert_eq!(a.call.sfu().moving().collect::<Vec<_>>(), [PeerId(2)]);
    a.input(answer());
    a.sfu(SfuEvent::Connection(ConnectionState::Connected));
    a.sfu(SfuEvent::Timer(SfuTimer::CloseMesh));
    assert!(a.open_peers.is_empty());
    assert_eq!(a.shown(), [PeerId(2)], "the one who left is not shown");
}

#[test]
fn a_session_the_server_ended_starts_anew_a_few_times_then_says_so() {
    let mut a = meshed();
    a.input(Input::Server(ServerMsg::UseSfu));
    a.input(answer());
    let ended = || Input::Server(ServerMsg::error(ErrorCode::NoSfu, "the connection to the media server ended"));
    a.take_actions();
    a.input(ended());
    assert_eq!(
        a.take_actions(),
        [SfuAction::Close, SfuAction::Create, SfuAction::MakeOffer { ice_restart: false }],
        "a new connection and offer"
    );
    assert_eq!(a.open_peers, [PeerId(2), PeerId(3)], "the direct connections still wait for it");
    assert_eq!(a.call.sfu().moving().count(), 2);
    a.input(answer());
    a.sfu(SfuEvent::Connection(ConnectionState::Connected));
    for _ in 0..sfu_link::MAX_RENEWALS {
        a.input(ended());
        a.input(answer());
    }
    assert_eq!(a.sfu_made, 1 + 1 + sfu_link::MAX_RENEWALS as usize);
    let mut failed = vec![];
    for effect in a.call.handle(ended()) {
        failed.push(effect);
    }
    assert!(matches!(failed.as_slice(), [Effect::Failed { code: ErrorCode::NoSfu, .. }]), "{failed:?}");
    // Outside an SFU room the refusal is said at once.
    let mut b = meshed();
    let effects = b.call.handle(ended());
    assert!(matches!(effects.as_slice(), [Effect::Failed { code: ErrorCode::NoSfu, .. }]), "{effects:?}");
    let refused = b.call.handle(Input::Server(ServerMsg::error(ErrorCode::InvalidSdp, "bad m-line")));
    assert!(matches!(refused.as_slice(), [Effect::Failed { code: ErrorCode::InvalidSdp, .. }]));
}
