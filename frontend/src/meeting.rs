//! Drives `shared::call::Call` in the browser: feeds it the server's messages
//! and the peer connections' progress, carries out its effects with
//! [`Socket`] and [`Peer`], and mirrors the room into signals for the view.

use crate::i18n::Lang;
use crate::media::{LocalMedia, MediaError};
use crate::rtc::{Peer, PeerEvent};
use crate::signaling::{Socket, SocketEvent};
use crate::warm_peer::WarmPeer;
use gloo_timers::callback::{Interval, Timeout};
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::call::{Call, ConnectionState, Effect, Input};
use shared::protocol::close_code;
use shared::reconnect::{self, AfterClose, Backoff};
use shared::{ClientMsg, ErrorCode, PeerId, ServerMsg, PROTOCOL_VERSION};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use web_sys::{MediaStream, MediaStreamTrack};

/// Longest chat line sent; longer input is cut.
pub const MAX_CHAT_CHARS: usize = 2000;

/// When the spare connection for the next arrival is made after `welcome`
/// or a device switch: once the room screen is drawn.
const SPARE_AFTER_MS: u32 = 500;

/// When the next spare is made after an arrival took the last one: once
/// the call with them has set up (0.3–0.8 s in the call-setup benchmark),
/// as making one holds the main thread for 20–60 ms, which would delay
/// that call's first frames.
const SPARE_AFTER_ARRIVAL_MS: u32 = 2_000;

/// The longest a new arrival's tile waits for our answer to them.
const TILE_AT_MOST_AFTER_MS: u32 = 250;

/// The longest the room screen waits, after `welcome`, for the answers to
/// our offers.
const ROOM_AT_MOST_AFTER_MS: u32 = 250;

/// How often remote voice levels are read for the speaking highlight.
const SPEAKING_POLL_MS: u32 = 250;

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Idle,
    Connecting,
    InRoom,
    /// Could not join (server unreachable, room full…).
    Failed(Problem),
}

/// Why joining failed, or a problem during the meeting; put in words for the
/// person by [`Problem::text`], in their language.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The server could not be reached: its address, or what went wrong.
    Unreachable(String),
    /// The server speaks a newer protocol.
    ServerUpdated,
    /// The server closed the connection, saying why.
    ServerClosed(String),
    /// The connection to the server dropped; this is the nth try to get it back.
    Reconnecting(u32),
    /// Refusals, with the server's (English) detail.
    RoomFull(String),
    BadRoomName(String),
    BadDisplayName(String),
    PasswordRequired,
    WrongPassword,
    BadPassword(String),
    /// Too many wrong passwords: joining is refused for a while (the
    /// server's detail says how long; empty when it closed the socket).
    TooManyAttempts(String),
    ServerSaid(String),
    /// A peer connection could not be made.
    NoConnection(String),
    ShareFailed(MediaError),
}

impl Problem {
    pub fn text(&self, lang: Lang) -> String {
        let t = lang.texts();
        match self {
            Self::Unreachable(url) => (t.unreachable)(url),
            Self::ServerUpdated => t.server_updated.to_owned(),
            Self::ServerClosed(reason) => (t.server_closed)(reason),
            Self::Reconnecting(attempt) => (t.reconnecting)(*attempt),
            Self::RoomFull(detail) => (t.room_full)(detail),
            Self::BadRoomName(detail) => (t.bad_room_name)(detail),
            Self::BadDisplayName(detail) => (t.bad_display_name)(detail),
            Self::PasswordRequired => t.password_required.to_owned(),
            Self::WrongPassword => t.wrong_password.to_owned(),
            Self::BadPassword(detail) => (t.bad_password)(detail),
            Self::TooManyAttempts(detail) => (t.too_many_attempts)(detail),
            Self::ServerSaid(detail) => (t.server_said)(detail),
            Self::NoConnection(detail) => (t.no_connection)(detail),
            Self::ShareFailed(err) => format!("{} {}", t.share_failed, err.text(lang)),
        }
    }

    /// A refusal from the server, with its (English) detail.
    fn refused(code: ErrorCode, message: String) -> Self {
        match code {
            ErrorCode::RoomFull => Self::RoomFull(message),
            ErrorCode::VersionMismatch => Self::ServerUpdated,
            ErrorCode::InvalidRoomName => Self::BadRoomName(message),
            ErrorCode::InvalidDisplayName => Self::BadDisplayName(message),
            ErrorCode::PasswordRequired => Self::PasswordRequired,
            ErrorCode::WrongPassword => Self::WrongPassword,
            ErrorCode::InvalidPassword => Self::BadPassword(message),
            ErrorCode::TooManyAttempts => Self::TooManyAttempts(message),
            _ => Self::ServerSaid(message),
        }
    }

    /// Why a socket closed with `code` ends this join attempt outright,
    /// meeting or not: any new socket would be refused too, so reconnecting
    /// would only loop. `None` for closes that [`reconnect::after_close`] judges.
    fn closed_for_good(code: u16, reason: &str) -> Option<Self> {
        (code == close_code::TOO_MANY_ATTEMPTS).then(|| Self::TooManyAttempts(reason.to_owned()))
    }
}

/// One remote member on screen; each field is its own signal so a change
/// redraws only what it touches (a new stream does not recreate the tile).
#[derive(Clone, Copy)]
pub struct RemoteTile {
    pub peer: PeerId,
    pub name: RwSignal<String>,
    pub muted: RwSignal<bool>,
    pub camera_off: RwSignal<bool>,
    pub sharing: RwSignal<bool>,
    pub stream: RwSignal<Option<MediaStream>, LocalStorage>,
    pub connection: RwSignal<String>,
    /// Their voice is above the speaking threshold right now.
    pub speaking: RwSignal<bool>,
    /// In the grid. Someone who has just arrived offers to us at once; their
    /// tile (a `<video>` and a new layout: 40–60 ms of main thread) is drawn
    /// once our answer is out, or after [`TILE_AT_MOST_AFTER_MS`], so their
    /// offer is not read behind it (docs/BENCHMARKS.md, "call setup").
    pub drawn: RwSignal<bool>,
}

impl RemoteTile {
    /// Puts it in the grid, if it is not there yet (nor gone).
    fn draw(&self) {
        if self.drawn.try_get_untracked() == Some(false) {
            self.drawn.set(true);
        }
    }
}

/// A line in the chat log; notices are put in words when drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatLine {
    Said {
        from: String,
        text: String,
    },
    /// What you said.
    Mine {
        text: String,
    },
    Joined(String),
    Left(String),
    /// You said something with nobody connected to read it.
    NobodyToRead,
}

impl ChatLine {
    /// A notice's words; `None` for what someone said.
    pub fn notice(&self, lang: Lang) -> Option<String> {
        let t = lang.texts();
        match self {
            Self::Said { .. } | Self::Mine { .. } => None,
            Self::Joined(name) => Some((t.joined)(name)),
            Self::Left(name) => Some((t.left)(name)),
            Self::NobodyToRead => Some(t.nobody_to_read.to_owned()),
        }
    }
}

/// Everything the meeting screen draws.
#[derive(Clone, Copy)]
pub struct MeetingView {
    pub phase: RwSignal<Phase>,
    /// The room screen is drawn: at once when nobody is there to answer
    /// us, else once our offers are answered (at most
    /// [`ROOM_AT_MOST_AFTER_MS`] after `welcome`). Drawing it holds the
    /// page for 50–100 ms, and their answers were read behind it.
    pub room_drawn: RwSignal<bool>,
    pub room: RwSignal<String>,
    pub tiles: RwSignal<Vec<RemoteTile>, LocalStorage>,
    pub chat: RwSignal<Vec<ChatLine>>,
    /// A problem during the meeting that does not end it.
    pub notice: RwSignal<Option<Problem>>,
    owner: StoredValue<Owner, LocalStorage>,
}

impl MeetingView {
    /// Call inside a component: tiles made later belong to its owner.
    pub fn new() -> Self {
        Self {
            phase: RwSignal::new(Phase::Idle),
            room_drawn: RwSignal::new(false),
            room: RwSignal::new(String::new()),
            tiles: RwSignal::new_local(vec![]),
            chat: RwSignal::new(vec![]),
            notice: RwSignal::new(None),
            owner: StoredValue::new_local(Owner::current().unwrap_or_default()),
        }
    }

    fn tile(&self, peer: PeerId) -> Option<RemoteTile> {
        self.tiles.with_untracked(|t| t.iter().find(|t| t.peer == peer).copied())
    }
}

impl Default for MeetingView {
    fn default() -> Self {
        Self::new()
    }
}

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
    local: Rc<LocalMedia>,
    view: MeetingView,
    /// Polls who is speaking; dropped (stopped) with the meeting.
    speaking_poll: RefCell<Option<Interval>>,
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
            local,
            view,
            speaking_poll: RefCell::new(None),
            held: RefCell::new(vec![]),
            backoff: RefCell::new(Backoff::default()),
            retry: RefCell::new(None),
            keepalive: RefCell::new(None),
            last_heard: Cell::new(js_sys::Date::now()),
            quiet: Cell::new(false),
            left: Cell::new(false),
        });
        *inner.speaking_poll.borrow_mut() = Some(inner.every(SPEAKING_POLL_MS, |inner| inner.poll_speaking()));
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
        self.0.spare.borrow_mut().take();
        self.0.spare_soon.borrow_mut().take();
        self.0.view.tiles.set(vec![]);
        self.0.view.phase.set(Phase::Idle);
    }

    /// Tells the room our microphone / camera state (the toggles themselves
    /// act on [`LocalMedia`]).
    pub fn media_state_changed(&self) {
        self.0.input(Input::LocalMediaState(self.0.local.state()));
    }

    /// Sends the new track on every connection in place of the old one
    /// (and makes a new spare connection, which sends it too).
    pub async fn replace_track(&self, track: &MediaStreamTrack) {
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
        let mut delivered = 0;
        for peer in self.0.peers.borrow().values() {
            delivered += usize::from(peer.send_chat(&text).is_ok());
        }
        self.0.view.chat.update(|c| c.push(ChatLine::Mine { text }));
        if delivered == 0 {
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

    /// Opens a signaling socket; whether it joins or resumes is the call's
    /// decision once it is open.
    fn connect(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let on_event = move |event| {
            if let Some(inner) = weak.upgrade() {
                inner.on_socket(event);
            }
        };
        let preopened = self.preopened.borrow_mut().take().filter(Socket::is_usable);
        let socket = match preopened {
            Some(socket) => {
                socket.listen(on_event);
                Ok(socket)
            }
            None => Socket::connect(&self.url, on_event),
        };
        match socket {
            Ok(socket) => *self.socket.borrow_mut() = Some(socket),
            Err(err) => self.view.phase.set(Phase::Failed(Problem::Unreachable(err.to_string()))),
        }
    }

    fn on_socket(self: &Rc<Self>, event: SocketEvent) {
        self.last_heard.set(js_sys::Date::now());
        match event {
            SocketEvent::Open => {
                *self.keepalive.borrow_mut() = Some(self.every(reconnect::PING_EVERY_MS, Inner::keep_alive));
                self.input(Input::SocketOpened);
            }
            SocketEvent::Message(msg) => {
                let (welcome, resumed) =
                    (matches!(msg, ServerMsg::Welcome { .. }), matches!(msg, ServerMsg::Resumed { .. }));
                self.input(Input::Server(msg));
                if welcome || resumed {
                    self.back_in_seat();
                    self.make_spare_soon(SPARE_AFTER_MS);
                }
                if welcome {
                    self.close_unused_warm_peer();
                    let state = self.local.state();
                    if state != shared::MediaState::default() {
                        self.input(Input::LocalMediaState(state));
                    }
                }
            }
            SocketEvent::Garbled(err) => leptos::logging::warn!("unreadable server message: {err}"),
            SocketEvent::Closed { code, reason } => self.on_closed(code, reason),
        }
    }

    /// First in the room: nobody to offer to, so the prepared connection
    /// goes; later, not while the room is drawn, and not left for the next
    /// member's arrival either.
    fn close_unused_warm_peer(&self) {
        if let Some(unused) = self.warm.borrow_mut().take() {
            unused.close_later();
        }
    }

    /// A spare connection for the next arrival, after a pause of `after_ms`:
    /// not while the room or a new tile is being drawn.
    fn make_spare_soon(self: &Rc<Self>, after_ms: u32) {
        let weak = Rc::downgrade(self);
        *self.spare_soon.borrow_mut() = Some(Timeout::new(after_ms, move || {
            let Some(inner) = weak.upgrade() else { return };
            let Some(ice) = inner.ice_servers() else { return };
            if inner.left.get() {
                return;
            }
            match WarmPeer::spare(ice, inner.local.stream()) {
                // The one it replaces (its tracks may be out of date) goes now: nobody is joining.
                Ok(spare) => drop(inner.spare.borrow_mut().replace(spare)),
                Err(err) => leptos::logging::warn!("{err}"),
            }
        }));
    }

    /// The ICE servers `welcome` gave us, once we are in.
    fn ice_servers(&self) -> Option<Vec<shared::IceServer>> {
        self.call.borrow().joined().map(|j| j.ice_servers.clone())
    }

    fn back_in_seat(&self) {
        self.backoff.borrow_mut().reset();
        self.quiet.set(false);
        self.view.phase.set(Phase::InRoom);
        if !self.view.room_drawn.get_untracked() {
            let room_drawn = self.view.room_drawn;
            *self.room_soon.borrow_mut() = Some(Timeout::new(ROOM_AT_MOST_AFTER_MS, move || room_drawn.set(true)));
            self.draw_room_if_answered();
        }
        if matches!(self.view.notice.get_untracked(), Some(Problem::Reconnecting(_))) {
            self.view.notice.set(None);
        }
        for msg in std::mem::take(&mut *self.held.borrow_mut()) {
            self.send(&msg);
        }
    }

    /// Draws the room screen once no offer of ours awaits its answer.
    fn draw_room_if_answered(&self) {
        let call = self.call.borrow();
        let answered = call.members().all(|(peer, _)| call.is_stable(peer));
        drop(call);
        if answered && !self.view.room_drawn.get_untracked() {
            self.room_soon.borrow_mut().take();
            self.view.room_drawn.set(true);
        }
    }

    /// Pings, and gives up on a socket that has gone quiet: browsers can
    /// take minutes to notice a connection that died with the network.
    fn keep_alive(self: &Rc<Self>) {
        let quiet_for = js_sys::Date::now() - self.last_heard.get();
        if quiet_for > f64::from(reconnect::SILENT_AFTER_MS) {
            // Whole ms: printing an f64 would bring float formatting (12 KB of wasm).
            leptos::logging::warn!("no word from the server for {} ms: reconnecting", quiet_for as u64);
            if let Some(socket) = self.socket.borrow_mut().take() {
                // Tells the server (if it hears it) to keep our seat.
                socket.close_with(close_code::RECONNECTING);
            }
            self.on_closed(1006, String::new());
        } else {
            self.send(&ClientMsg::Ping);
        }
    }

    fn on_closed(self: &Rc<Self>, code: u16, reason: String) {
        self.keepalive.borrow_mut().take();
        // We are inside the socket's own listener: drop it after it returns.
        let socket = self.socket.borrow_mut().take();
        spawn_local(async move { drop(socket) });
        if self.left.get() {
            return;
        }
        if let Some(problem) = Problem::closed_for_good(code, &reason) {
            return self.fail_at_the_door(problem);
        }
        let problem = if code == close_code::VERSION_MISMATCH {
            Problem::ServerUpdated
        } else if !reason.is_empty() {
            Problem::ServerClosed(reason)
        } else {
            Problem::Unreachable(self.url.clone())
        };
        let in_meeting = self.call.borrow().joined().is_some() || self.view.phase.get_untracked() == Phase::InRoom;
        match (in_meeting, reconnect::after_close(code)) {
            // Calls already connected go on meanwhile: media doesn't pass the server.
            (true, AfterClose::Reconnect) => self.reconnect_later(),
            (true, AfterClose::Stop) => self.view.notice.set(Some(problem)),
            // Never got in: say why, and let the person try again.
            (false, _) => self.view.phase.set(Phase::Failed(problem)),
        }
    }

    fn reconnect_later(self: &Rc<Self>) {
        let delay = self.backoff.borrow_mut().next_delay_ms(js_sys::Math::random());
        let attempt = self.backoff.borrow().attempts();
        self.view.notice.set(Some(Problem::Reconnecting(attempt)));
        let weak = Rc::downgrade(self);
        *self.retry.borrow_mut() = Some(Timeout::new(delay, move || {
            if let Some(inner) = weak.upgrade() {
                inner.connect();
            }
        }));
    }

    /// Sends now, or holds a message for the room until the socket is back.
    fn send(&self, msg: &ClientMsg) {
        let socket = self.socket.borrow();
        match socket.as_ref() {
            Some(socket) if socket.is_open() => {
                if let Err(err) = socket.send(msg) {
                    leptos::logging::warn!("{err}");
                }
            }
            _ => match msg {
                ClientMsg::Offer { .. }
                | ClientMsg::Answer { .. }
                | ClientMsg::Ice { .. }
                | ClientMsg::MediaState(_) => {
                    self.held.borrow_mut().push(msg.clone());
                }
                _ => {}
            },
        }
    }

    fn peer(&self, peer: PeerId) -> Option<Rc<Peer>> {
        self.peers.borrow().get(&peer).cloned()
    }

    fn input(self: &Rc<Self>, input: Input) {
        let effects = self.call.borrow_mut().handle(input);
        for effect in effects {
            self.run(effect);
        }
    }

    fn run(self: &Rc<Self>, effect: Effect) {
        match effect {
            Effect::Send(msg) => self.send(&msg),
            Effect::CreatePeer { peer, offering, .. } => self.create_peer(peer, offering),
            Effect::MakeOffer { peer } if self.offer_ready.get() == Some(peer) => {
                self.offer_ready.set(None);
                match self.peer(peer).and_then(|pc| pc.pending_offer()) {
                    Some(sdp) => {
                        self.send(&ClientMsg::Offer { to: peer, sdp });
                        self.input(Input::OfferSent { peer });
                    }
                    None => self.input(Input::OfferFailed { peer }),
                }
            }
            Effect::MakeOffer { peer } => self.spawn_on(peer, move |this, pc| this.offer(peer, pc, false)),
            Effect::AcceptOffer { peer, sdp } => self.spawn_on(peer, move |this, pc| async move {
                if let Err(err) = pc.set_remote_offer(&sdp).await {
                    return leptos::logging::warn!("{err}");
                }
                // The call hears of the offer once the answer is out, so the
                // candidates it held for the offer are added after: adding
                // them first kept the main thread from `createAnswer`'s result
                // (35–43 ms against 11–22 ms; docs/BENCHMARKS.md, "call setup").
                let told = Cell::new(false);
                let send = |sdp| {
                    this.send(&ClientMsg::Answer { to: peer, sdp });
                    told.set(true);
                    this.input(Input::RemoteDescriptionApplied { peer });
                    // Drawn after this task, which sets the answer locally.
                    if let Some(tile) = this.view.tile(peer) {
                        tile.draw();
                    }
                };
                let answered = pc.answer(send).await;
                if !told.get() {
                    this.input(Input::RemoteDescriptionApplied { peer });
                }
                if let Err(err) = answered {
                    leptos::logging::warn!("{err}");
                }
            }),
            Effect::ApplyAnswer { peer, sdp } => self.spawn_on(peer, move |this, pc| async move {
                match pc.set_remote_answer(&sdp).await {
                    Ok(()) => {
                        this.input(Input::RemoteDescriptionApplied { peer });
                        this.draw_room_if_answered();
                    }
                    Err(err) => leptos::logging::warn!("{err}"),
                }
            }),
            Effect::AddIce { peer, candidate } => self.spawn_on(peer, move |_, pc| async move {
                // A candidate for a rolled-back offer may fail; the call goes on.
                if let Err(err) = pc.add_ice(&candidate).await {
                    leptos::logging::debug_warn!("{err}");
                }
            }),
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
                self.apply_video_budget();
            }
            Effect::Failed { code, message } => self.on_refused(code, message),
        }
    }

    /// Makes an offer (with new ICE credentials if `restart_ice`), sends it
    /// and tells the call how it went: sent as soon as it is made (an answer
    /// may then come back before it is set locally, and must find the call
    /// expecting it), failed if making or setting it failed.
    async fn offer(self: Rc<Self>, peer: PeerId, pc: Rc<Peer>, restart_ice: bool) {
        let send = |sdp| {
            self.send(&ClientMsg::Offer { to: peer, sdp });
            self.input(Input::OfferSent { peer });
        };
        let restarted = if restart_ice { pc.restart_ice() } else { Ok(()) };
        let offered = match restarted {
            Ok(()) => pc.offer(send).await,
            Err(err) => Err(err),
        };
        if let Err(err) = offered {
            leptos::logging::warn!("{err}");
            self.input(Input::OfferFailed { peer });
        }
    }

    /// Runs an async step against one peer connection, if it still exists.
    fn spawn_on<F, Fut>(self: &Rc<Self>, peer: PeerId, step: F)
    where
        F: FnOnce(Rc<Self>, Rc<Peer>) -> Fut,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        if let Some(pc) = self.peer(peer) {
            spawn_local(step(self.clone(), pc));
        }
    }

    /// Makes the connection to `peer`, or takes one made ahead (warm, to
    /// offer at once; spare, to answer) if it suits.
    fn create_peer(self: &Rc<Self>, peer: PeerId, offering: bool) {
        let ice = self.ice_servers().unwrap_or_default();
        let weak: Weak<Self> = Rc::downgrade(self);
        let on_event = move |event| {
            if let Some(inner) = weak.upgrade() {
                inner.on_peer(peer, event);
            }
        };
        // We offer: the warm connection, offer made, taken at the first
        // connection (later ones are not first). They offer: the spare.
        let ready = if offering {
            self.warm.borrow_mut().take()
        } else {
            let spare = self.spare.borrow_mut().take();
            self.make_spare_soon(SPARE_AFTER_ARRIVAL_MS);
            spare
        };
        // One made for other tracks or servers is closed later, off this path.
        let ready =
            ready.and_then(|ready| ready.into_peer_for(&ice, self.local.stream()).map_err(WarmPeer::close_later).ok());
        let made = match ready {
            Some(pc) => {
                if offering {
                    // Its offer goes out from `localDescription`, candidates and all.
                    pc.forget_kept_candidates();
                    self.offer_ready.set(Some(peer));
                }
                pc.listen(on_event);
                Ok(pc)
            }
            None => Peer::new(&ice, on_event).inspect(|pc| pc.send_stream(self.local.stream())),
        };
        match made {
            Ok(pc) => {
                let pc = Rc::new(pc);
                // A newcomer sees the screen being shared, not the camera.
                if let Some(screen) = self.local.screen() {
                    let pc = pc.clone();
                    spawn_local(async move {
                        if let Err(err) = pc.replace_track(&screen).await {
                            leptos::logging::warn!("{err}");
                        }
                    });
                }
                self.peers.borrow_mut().insert(peer, pc);
            }
            Err(err) => self.view.notice.set(Some(Problem::NoConnection(err.to_string()))),
        }
    }

    fn on_peer(self: &Rc<Self>, peer: PeerId, event: PeerEvent) {
        match event {
            PeerEvent::IceCandidate(candidate) => self.send(&ClientMsg::Ice { to: peer, candidate }),
            PeerEvent::Stream(stream) => {
                if let Some(tile) = self.view.tile(peer) {
                    tile.stream.set(Some(stream));
                }
            }
            PeerEvent::State(state) => {
                if state == "connected" {
                    self.apply_video_budget();
                }
                if let Some(tile) = self.view.tile(peer) {
                    tile.connection.set(state.clone());
                }
                self.input(Input::Connection { peer, state: ConnectionState::parse(&state) });
            }
            PeerEvent::ChatOpen => {}
            PeerEvent::Chat(text) => {
                let from = self.call.borrow().member(peer).map(|m| m.name.to_string()).unwrap_or_default();
                let text: String = text.chars().take(MAX_CHAT_CHARS).collect();
                self.view.chat.update(|c| c.push(ChatLine::Said { from, text }));
            }
        }
    }

    /// Makes the tiles match the call's member list, noting arrivals and departures.
    fn sync_tiles(&self) {
        let call = self.call.borrow();
        let view = self.view;
        // Once we are in, a new member is news (the welcome's list is not),
        // and is arriving: they will offer to us.
        let news = view.phase.get_untracked() == Phase::InRoom && !self.quiet.get();
        let mut notices = vec![];
        let mut tiles = view.tiles.get_untracked();
        tiles.retain(|tile| {
            let stays = call.member(tile.peer).is_some();
            if !stays {
                notices.push(ChatLine::Left(tile.name.get_untracked()));
            }
            stays
        });
        for (peer, member) in call.members() {
            match tiles.iter().find(|t| t.peer == peer) {
                Some(tile) => {
                    tile.muted.set(member.state.muted);
                    tile.camera_off.set(member.state.camera_off);
                    tile.sharing.set(member.state.sharing);
                }
                None => {
                    notices.push(ChatLine::Joined(member.name.to_string()));
                    let tile = view.owner.get_value().with(|| RemoteTile {
                        peer,
                        name: RwSignal::new(member.name.to_string()),
                        muted: RwSignal::new(member.state.muted),
                        camera_off: RwSignal::new(member.state.camera_off),
                        sharing: RwSignal::new(member.state.sharing),
                        stream: RwSignal::new_local(None),
                        connection: RwSignal::new("connecting".into()),
                        speaking: RwSignal::new(false),
                        drawn: RwSignal::new(!news),
                    });
                    if news {
                        Timeout::new(TILE_AT_MOST_AFTER_MS, move || tile.draw()).forget();
                    }
                    tiles.push(tile);
                }
            }
        }
        if news {
            view.chat.update(|c| c.extend(notices));
        }
        view.tiles.set(tiles);
    }

    /// Gives each outgoing video its share of the upload for this room size.
    fn apply_video_budget(&self) {
        let peers: Vec<Rc<Peer>> = self.peers.borrow().values().cloned().collect();
        let budget = shared::budget::video_budget(peers.len());
        for pc in peers {
            spawn_local(async move {
                if let Err(err) = pc.set_video_budget(budget).await {
                    leptos::logging::debug_warn!("{err}");
                }
            });
        }
    }

    fn poll_speaking(&self) {
        for (peer, pc) in self.peers.borrow().iter() {
            let Some(tile) = self.view.tile(*peer) else { continue };
            // Nobody is heard before the call connects, and reading the
            // stats of one that is setting up would slow it down.
            if tile.connection.with_untracked(|state| state != "connected") {
                continue;
            }
            let pc = pc.clone();
            spawn_local(async move {
                let speaking = pc.audio_level().await > crate::media::SPEAKING;
                // The tile may have gone while the stats were read.
                if tile.speaking.try_get_untracked().is_some_and(|was| was != speaking) {
                    tile.speaking.set(speaking);
                }
            });
        }
    }

    fn on_refused(&self, code: ErrorCode, message: String) {
        let joined = self.call.borrow().joined().is_some();
        let problem = Problem::refused(code, message);
        if joined {
            self.view.notice.set(Some(problem));
        } else {
            self.fail_at_the_door(problem);
        }
    }

    /// Refused at the door: this meeting is over before it began.
    fn fail_at_the_door(&self, problem: Problem) {
        self.left.set(true);
        self.keepalive.borrow_mut().take();
        self.retry.borrow_mut().take();
        // We are inside the socket's own listener: drop it after it returns.
        let socket = self.socket.borrow_mut().take();
        spawn_local(async move { drop(socket) });
        self.view.phase.set(Phase::Failed(problem));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn too_many_wrong_passwords_is_said_with_the_servers_detail() {
        let problem = Problem::refused(ErrorCode::TooManyAttempts, "try again in 5 minutes".into());
        assert_eq!(problem, Problem::TooManyAttempts("try again in 5 minutes".into()));
        assert_eq!(problem.text(Lang::En), "Too many wrong passwords. try again in 5 minutes");
        let korean = problem.text(Lang::Ko);
        assert!(korean.starts_with("잘못된 비밀번호를 너무 많이") && korean.contains("5 minutes"), "{korean}");
        let bare = Problem::TooManyAttempts(String::new());
        assert_eq!(bare.text(Lang::En), "Too many wrong passwords. Wait a while, then try again.");
        assert!(!bare.text(Lang::Ko).contains("()"));
        assert_eq!(Problem::refused(ErrorCode::WrongPassword, "x".into()), Problem::WrongPassword, "unchanged");
    }

    #[wasm_bindgen_test]
    fn a_close_for_too_many_attempts_ends_the_attempt_instead_of_reconnecting() {
        assert_eq!(
            Problem::closed_for_good(close_code::TOO_MANY_ATTEMPTS, "wait"),
            Some(Problem::TooManyAttempts("wait".into()))
        );
        for code in [1000, 1001, 1006, close_code::TOO_SLOW, close_code::REPLACED, close_code::VERSION_MISMATCH] {
            assert_eq!(Problem::closed_for_good(code, ""), None, "{code}: judged by reconnect::after_close");
        }
    }
}
