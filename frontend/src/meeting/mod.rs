//! Drives `shared::call::Call` in the browser: feeds it the server's messages
//! and the peer connections' progress, carries out its effects with
//! [`Socket`] and [`Peer`], and mirrors the room into signals for the view.
//! One file per concern: [`view`] (what the screen draws), `members` (room
//! membership → tiles), `socket` (the socket's life and reconnection),
//! `peers` (the peer connections' effects), `sfu` (the one connection to the
//! media server, in a room whose media goes through it), `speaking` (the speaking poll),
//! `links` (each tile's connection details), [`problem`] (what went wrong, in words). The decisions that need no
//! browser are in `shared`: `call`, `reconnect`, `roster`.

mod links;
mod members;
mod peers;
pub mod problem;
mod sfu;
mod socket;
mod speaking;
pub mod view;
mod views;

pub use problem::Problem;
pub use view::{ChatLine, MeetingView, Phase, RemoteTile};

use crate::media::LocalMedia;
use crate::rtc::{Peer, SfuPeer};
use crate::signaling::Socket;
use crate::warm_peer::WarmPeer;
use gloo_timers::callback::{Interval, Timeout};
use leptos::prelude::*;
use peers::SPARE_AFTER_MS;
use shared::call::{Call, Effect, Input};
use shared::reconnect::Backoff;
use shared::{ClientMsg, PeerId, PROTOCOL_VERSION};
use speaking::SPEAKING_POLL_MS;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use web_sys::MediaStreamTrack;

/// Longest chat line sent; longer input is cut.
pub const MAX_CHAT_CHARS: usize = 2000;

/// What the page made ready for Join while the person was on the welcome screen.
#[derive(Default)]
pub struct Prepared {
    /// A socket to the server, open or opening.
    pub socket: Option<Socket>,
    /// A peer connection with its offer made, for the first member we offer to.
    pub peer: Option<WarmPeer>,
}

/// A live meeting. Cloning shares it; dropping the last clone (after
/// [`Meeting::leave`]) closes the socket and every peer connection.
#[derive(Clone)]
pub struct Meeting(Rc<Inner>);

struct Inner {
    call: RefCell<Call>,
    url: String,
    socket: RefCell<Option<Socket>>,
    /// A socket the page opened before Join, used for the first connection.
    preopened: RefCell<Option<Socket>>,
    /// A peer connection the page prepared before Join, offer made: for the
    /// first member we offer to, if it suits.
    warm: RefCell<Option<WarmPeer>>,
    /// The member that got the warm connection: its offer is already made.
    offer_ready: Cell<Option<PeerId>>,
    /// A connection made ahead for the next member to arrive (they offer).
    spare: RefCell<Option<WarmPeer>>,
    /// Making the next spare, a moment after the last was taken.
    spare_soon: RefCell<Option<Timeout>>,
    /// Draws the room screen if the answers are slow.
    room_soon: RefCell<Option<Timeout>>,
    peers: RefCell<BTreeMap<PeerId, Rc<Peer>>>,
    /// The connection to the media server, in a room whose media goes through it.
    sfu: RefCell<Option<Rc<SfuPeer>>>,
    /// The ids of the tracks each tile shown through the SFU plays.
    sfu_shown: RefCell<BTreeMap<PeerId, Vec<String>>>,
    /// Watches for members' media to flow through the SFU while the room moves there.
    sfu_watch: RefCell<Option<Interval>>,
    /// How the page draws each video, as last told to the SFU (`views.rs`).
    sfu_views: RefCell<Vec<shared::VideoView>>,
    /// Reads that from the layout.
    sfu_view_poll: RefCell<Option<Interval>>,
    local: Rc<LocalMedia>,
    view: MeetingView,
    /// Polls who is speaking; dropped (stopped) with the meeting.
    speaking_poll: RefCell<Option<Interval>>,
    /// Reads each connection's stats for the tiles' details.
    link_poll: RefCell<Option<Interval>>,
    links: RefCell<BTreeMap<PeerId, shared::link::Tracker>>,
    /// Messages for the room made while the socket was down, sent once we
    /// have our seat back.
    held: RefCell<Vec<ClientMsg>>,
    backoff: RefCell<Backoff>,
    /// The next reconnection attempt, while one is waiting.
    retry: RefCell<Option<Timeout>>,
    /// Pings the server and notices when it has gone quiet.
    keepalive: RefCell<Option<Interval>>,
    /// When the server was last heard from (`Date.now()`, ms).
    last_heard: Cell<f64>,
    /// Between losing our seat and the new welcome: the members vanishing
    /// and coming back are not news for the chat.
    quiet: Cell<bool>,
    /// Left, or refused at the door: no more reconnecting.
    left: Cell<bool>,
}

impl Meeting {
    /// Joins `room`; `password` locks it if we are the first one there.
    /// What the page `prepared` saves the WebSocket handshake and making
    /// the first offer.
    pub fn join(
        url: &str,
        prepared: Prepared,
        room: String,
        name: String,
        password: Option<String>,
        local: Rc<LocalMedia>,
        view: MeetingView,
    ) -> Self {
        view.phase.set(Phase::Connecting);
        view.room_drawn.set(false);
        view.notice.set(None);
        view.chat.set(vec![]);
        view.room.set(room.clone());
        let join = ClientMsg::Join { version: PROTOCOL_VERSION, room, name, password };
        let inner = Rc::new(Inner {
            call: RefCell::new(Call::joining(join)),
            url: url.to_owned(),
            socket: RefCell::new(None),
            preopened: RefCell::new(prepared.socket),
            warm: RefCell::new(prepared.peer),
            offer_ready: Cell::new(None),
            spare: RefCell::new(None),
            spare_soon: RefCell::new(None),
            room_soon: RefCell::new(None),
            peers: RefCell::new(BTreeMap::new()),
            sfu: RefCell::new(None),
            sfu_shown: RefCell::new(BTreeMap::new()),
            sfu_watch: RefCell::new(None),
            sfu_views: RefCell::new(vec![]),
            sfu_view_poll: RefCell::new(None),
            local,
            view,
            speaking_poll: RefCell::new(None),
            link_poll: RefCell::new(None),
            links: RefCell::new(BTreeMap::new()),
            held: RefCell::new(vec![]),
            backoff: RefCell::new(Backoff::default()),
            retry: RefCell::new(None),
            keepalive: RefCell::new(None),
            last_heard: Cell::new(js_sys::Date::now()),
            quiet: Cell::new(false),
            left: Cell::new(false),
        });
        *inner.speaking_poll.borrow_mut() = Some(inner.every(SPEAKING_POLL_MS, |inner| inner.poll_speaking()));
        *inner.link_poll.borrow_mut() = Some(inner.every(shared::link::POLL_MS, Inner::poll_links));
        inner.connect();
        Self(inner)
    }

    pub fn leave(&self) {
        self.0.left.set(true);
        self.0.input(Input::Leave);
        self.0.retry.borrow_mut().take();
        self.0.keepalive.borrow_mut().take();
        self.0.socket.borrow_mut().take();
        self.0.peers.borrow_mut().clear();
        self.0.sfu.borrow_mut().take();
        self.0.sfu_watch.borrow_mut().take();
        self.0.sfu_view_poll.borrow_mut().take();
        self.0.spare.borrow_mut().take();
        self.0.spare_soon.borrow_mut().take();
        self.0.view.clear_tiles();
        self.0.view.phase.set(Phase::Idle);
    }

    /// Tells the room our microphone / camera state (the toggles themselves
    /// act on [`LocalMedia`]).
    pub fn media_state_changed(&self) {
        self.0.input(Input::LocalMediaState(self.0.local.state()));
    }

    /// Sends the new track on every connection in place of the old one
    /// (and makes a new spare connection, which sends it too). A new camera
    /// while a screen is shared waits for the share to end, except to the
    /// media server, which gets both.
    pub async fn replace_track(&self, track: &MediaStreamTrack) {
        self.0.sfu_send(track).await;
        let screen = self.0.local.screen();
        if track.kind() == "video" && screen.is_some_and(|screen| screen.id() != track.id()) {
            return;
        }
        self.0.make_spare_soon(SPARE_AFTER_MS);
        let peers: Vec<Rc<Peer>> = self.0.peers.borrow().values().cloned().collect();
        for peer in peers {
            if let Err(err) = peer.replace_track(track).await {
                leptos::logging::warn!("{err}");
            }
        }
    }

    pub fn send_chat(&self, text: &str) {
        let text: String = text.trim().chars().take(MAX_CHAT_CHARS).collect();
        if text.is_empty() {
            return;
        }
        let anyone = self.0.call.borrow().members().next().is_some();
        // On the media server chat goes through the server; in a mesh, over the members' own connections.
        let delivered = if self.0.call.borrow().sfu().on() {
            self.0.send(&ClientMsg::Chat { text: text.clone() });
            anyone
        } else {
            let peers = self.0.peers.borrow();
            peers.values().filter(|peer| peer.send_chat(&text).is_ok()).count() > 0
        };
        self.0.view.chat.update(|c| c.push(ChatLine::Mine { text }));
        if !delivered {
            self.0.view.chat.update(|c| c.push(ChatLine::NobodyToRead));
        }
    }
}

impl Inner {
    /// Runs `tick` every `ms` for as long as the meeting exists.
    fn every(self: &Rc<Self>, ms: u32, tick: fn(&Rc<Self>)) -> Interval {
        let weak = Rc::downgrade(self);
        Interval::new(ms, move || {
            if let Some(inner) = weak.upgrade() {
                tick(&inner);
            }
        })
    }

    fn input(self: &Rc<Self>, input: Input) {
        let effects = self.call.borrow_mut().handle(input);
        for effect in effects {
            self.run(effect);
        }
    }

    /// Carries out one of the call's effects.
    fn run(self: &Rc<Self>, effect: Effect) {
        match effect {
            Effect::Send(msg) => self.send(&msg),
            Effect::CreatePeer { peer, offering, .. } => self.create_peer(peer, offering),
            Effect::MakeOffer { peer } if self.offer_ready.get() == Some(peer) => self.send_ready_offer(peer),
            Effect::MakeOffer { peer } => self.spawn_on(peer, move |this, pc| this.offer(peer, pc, false)),
            Effect::AcceptOffer { peer, sdp } => self.spawn_on(peer, move |this, pc| this.accept_offer(peer, pc, sdp)),
            Effect::ApplyAnswer { peer, sdp } => self.spawn_on(peer, move |this, pc| this.apply_answer(peer, pc, sdp)),
            Effect::AddIce { peer, candidate } => self.spawn_on(peer, move |_, pc| peers::add_ice(pc, candidate)),
            Effect::ClosePeer { peer } => {
                self.peers.borrow_mut().remove(&peer);
            }
            Effect::RestartIce { peer } => self.spawn_on(peer, move |this, pc| this.offer(peer, pc, true)),
            Effect::ResendOffer { peer } => {
                if let Some(sdp) = self.peer(peer).and_then(|pc| pc.pending_offer()) {
                    self.send(&ClientMsg::Offer { to: peer, sdp });
                }
            }
            Effect::CheckConnectionLater { peer, after_ms } => {
                let weak = Rc::downgrade(self);
                Timeout::new(after_ms, move || {
                    if let Some(inner) = weak.upgrade() {
                        inner.input(Input::CheckConnection { peer });
                    }
                })
                .forget();
            }
            Effect::Rejoining => {
                self.quiet.set(true);
                self.held.borrow_mut().clear();
            }
            Effect::MembersChanged => {
                self.sync_tiles();
                self.sync_sfu_tiles();
                self.apply_video_budget();
            }
            Effect::Failed { code, message } => self.on_refused(code, message),
            Effect::Sfu(action) => self.run_sfu(action),
            Effect::Said { from, text } => self.said(from, &text),
        }
    }
}
