//! The peer connections: making them (or taking one made ahead), carrying
//! out the call's negotiation effects on them, and what they report.

use super::{ChatLine, Inner, Problem, MAX_CHAT_CHARS};
use crate::rtc::{Peer, PeerEvent};
use crate::warm_peer::WarmPeer;
use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::call::{ConnectionState, Input};
use shared::{ClientMsg, IceCandidate, PeerId};
use std::cell::Cell;
use std::rc::{Rc, Weak};

/// When the spare connection for the next arrival is made after `welcome`
/// or a device switch: once the room screen is drawn.
pub(super) const SPARE_AFTER_MS: u32 = 500;

/// When the next spare is made after an arrival took the last one: once
/// the call with them has set up (0.3–0.8 s in the call-setup benchmark),
/// as making one holds the main thread for 20–60 ms, which would delay
/// that call's first frames.
const SPARE_AFTER_ARRIVAL_MS: u32 = 2_000;

impl Inner {
    pub(super) fn peer(&self, peer: PeerId) -> Option<Rc<Peer>> {
        self.peers.borrow().get(&peer).cloned()
    }

    /// The warm connection's offer, made before Join: sent from its `localDescription`.
    pub(super) fn send_ready_offer(self: &Rc<Self>, peer: PeerId) {
        self.offer_ready.set(None);
        match self.peer(peer).and_then(|pc| pc.pending_offer()) {
            Some(sdp) => {
                self.send(&ClientMsg::Offer { to: peer, sdp });
                self.input(Input::OfferSent { peer });
            }
            None => self.input(Input::OfferFailed { peer }),
        }
    }

    /// Their offer: set it, and answer.
    pub(super) async fn accept_offer(self: Rc<Self>, peer: PeerId, pc: Rc<Peer>, sdp: String) {
        if let Err(err) = pc.set_remote_offer(&sdp).await {
            return leptos::logging::warn!("{err}");
        }
        // The call hears of the offer once the answer is out, so the
        // candidates it held for the offer are added after: adding
        // them first kept the main thread from `createAnswer`'s result
        // (35–43 ms against 11–22 ms; docs/BENCHMARKS.md, "call setup").
        let told = Cell::new(false);
        let send = |sdp| {
            self.send(&ClientMsg::Answer { to: peer, sdp });
            told.set(true);
            self.input(Input::RemoteDescriptionApplied { peer });
            // Drawn after this task, which sets the answer locally.
            if let Some(tile) = self.view.tile(peer) {
                tile.draw();
            }
        };
        let answered = pc.answer(send).await;
        if !told.get() {
            self.input(Input::RemoteDescriptionApplied { peer });
        }
        if let Err(err) = answered {
            leptos::logging::warn!("{err}");
        }
    }

    /// Their answer to our offer.
    pub(super) async fn apply_answer(self: Rc<Self>, peer: PeerId, pc: Rc<Peer>, sdp: String) {
        match pc.set_remote_answer(&sdp).await {
            Ok(()) => {
                self.input(Input::RemoteDescriptionApplied { peer });
                self.draw_room_if_answered();
            }
            Err(err) => leptos::logging::warn!("{err}"),
        }
    }

    /// Makes an offer (with new ICE credentials if `restart_ice`), sends it
    /// and tells the call how it went: sent as soon as it is made (an answer
    /// may then come back before it is set locally, and must find the call
    /// expecting it), failed if making or setting it failed.
    pub(super) async fn offer(self: Rc<Self>, peer: PeerId, pc: Rc<Peer>, restart_ice: bool) {
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
    pub(super) fn spawn_on<F, Fut>(self: &Rc<Self>, peer: PeerId, step: F)
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
    pub(super) fn create_peer(self: &Rc<Self>, peer: PeerId, offering: bool) {
        let ice = self.ice().unwrap_or_default();
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
        // Moving to the media server: a tile already showing what it
        // forwards keeps it while this connection lingers.
        let tile = self.view.tile(peer).filter(|_| !self.call.borrow().sfu().shows(peer));
        match event {
            PeerEvent::IceCandidate(candidate) => self.send(&ClientMsg::Ice { to: peer, candidate }),
            PeerEvent::Stream(stream) => {
                if let Some(tile) = tile {
                    tile.stream.set(Some(stream));
                }
            }
            PeerEvent::State(state) => {
                if state == ConnectionState::Connected {
                    self.apply_video_budget();
                }
                if let Some(tile) = tile {
                    tile.connection.set(state);
                }
                self.input(Input::Connection { peer, state });
            }
            PeerEvent::ChatOpen => {}
            PeerEvent::Chat(text) => self.said(peer, &text),
        }
    }

    /// First in the room: nobody to offer to, so the prepared connection
    /// goes; later, not while the room is drawn, and not left for the next
    /// member's arrival either.
    pub(super) fn close_unused_warm_peer(&self) {
        if let Some(unused) = self.warm.borrow_mut().take() {
            unused.close_later();
        }
    }

    /// A spare connection for the next arrival, after a pause of `after_ms`:
    /// not while the room or a new tile is being drawn.
    pub(super) fn make_spare_soon(self: &Rc<Self>, after_ms: u32) {
        let weak = Rc::downgrade(self);
        *self.spare_soon.borrow_mut() = Some(Timeout::new(after_ms, move || {
            let Some(inner) = weak.upgrade() else { return };
            let Some(ice) = inner.ice() else { return };
            // On the media server, nobody gets a connection of their own.
            if inner.left.get() || inner.call.borrow().sfu().on() {
                return;
            }
            match WarmPeer::spare(ice, inner.local.stream()) {
                // The one it replaces (its tracks may be out of date) goes now: nobody is joining.
                Ok(spare) => drop(inner.spare.borrow_mut().replace(spare)),
                Err(err) => leptos::logging::warn!("{err}"),
            }
        }));
    }

    /// The ICE servers and policy `welcome` gave us, once we are in.
    fn ice(&self) -> Option<shared::IceConfig> {
        self.call.borrow().joined().map(|j| j.ice.clone())
    }

    /// Gives each outgoing video its share of the upload for this room size;
    /// to the media server, one stream, which it forwards to everyone.
    pub(super) fn apply_video_budget(&self) {
        if let Some(sfu) = self.sfu_peer() {
            spawn_local(async move {
                if let Err(err) = sfu.set_video_budget(shared::budget::video_budget(1)).await {
                    leptos::logging::debug_warn!("{err}");
                }
            });
        }
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
}

/// One of their candidates, for `pc`.
pub(super) async fn add_ice(pc: Rc<Peer>, candidate: IceCandidate) {
    // A candidate for a rolled-back offer may fail; the call goes on.
    if let Err(err) = pc.add_ice(&candidate).await {
        leptos::logging::debug_warn!("{err}");
    }
}

impl Inner {
    /// A member's chat line, over our connection to them or through the server.
    pub(super) fn said(&self, peer: PeerId, text: &str) {
        let from = self.call.borrow().member(peer).map(|m| m.name.to_string()).unwrap_or_default();
        let text: String = text.chars().take(MAX_CHAT_CHARS).collect();
        self.view.chat.update(|c| c.push(ChatLine::Said { from, text }));
    }
}
