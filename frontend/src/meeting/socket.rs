//! The signaling socket's life: opening it, hearing the server, keeping it
//! alive, and getting our seat back when it drops (when, and how soon, is
//! `shared::reconnect`'s decision), or ending the attempt when it can't.

use super::peers::SPARE_AFTER_MS;
use super::{Inner, Phase, Problem};
use crate::signaling::{Socket, SocketEvent};
use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::call::Input;
use shared::protocol::close_code;
use shared::reconnect::{self, Closed};
use shared::{ClientMsg, ErrorCode, ServerMsg};
use std::rc::Rc;

impl Inner {
    /// Opens a signaling socket; whether it joins or resumes is the call's
    /// decision once it is open.
    pub(super) fn connect(self: &Rc<Self>) {
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

    /// Our seat, got or got back: the backoff starts again, and what was
    /// held for the room goes out.
    fn back_in_seat(&self) {
        self.backoff.borrow_mut().reset();
        self.quiet.set(false);
        self.view.phase.set(Phase::InRoom);
        self.draw_room_soon();
        if matches!(self.view.notice.get_untracked(), Some(Problem::Reconnecting(_))) {
            self.view.notice.set(None);
        }
        for msg in std::mem::take(&mut *self.held.borrow_mut()) {
            self.send(&msg);
        }
    }

    /// Pings, and gives up on a socket that has gone quiet: browsers can
    /// take minutes to notice a connection that died with the network.
    fn keep_alive(self: &Rc<Self>) {
        let quiet_for = js_sys::Date::now() - self.last_heard.get();
        if reconnect::gone_quiet(quiet_for) {
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

    /// The socket closed (or went quiet): what happens next is
    /// `shared::reconnect::closed`'s decision.
    fn on_closed(self: &Rc<Self>, code: u16, reason: String) {
        self.keepalive.borrow_mut().take();
        self.drop_socket_later();
        if self.left.get() {
            return;
        }
        let in_meeting = self.call.borrow().joined().is_some() || self.view.phase.get_untracked() == Phase::InRoom;
        match reconnect::closed(code, !reason.is_empty(), in_meeting) {
            Closed::TooManyAttempts => self.fail_at_the_door(Problem::TooManyAttempts(reason)),
            Closed::Reconnect => self.reconnect_later(),
            Closed::Notice(cause) => self.view.notice.set(Some(Problem::closed(cause, reason, &self.url))),
            Closed::Failed(cause) => self.view.phase.set(Phase::Failed(Problem::closed(cause, reason, &self.url))),
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
    pub(super) fn send(&self, msg: &ClientMsg) {
        let socket = self.socket.borrow();
        match socket.as_ref() {
            Some(socket) if socket.is_open() => {
                if let Err(err) = socket.send(msg) {
                    leptos::logging::warn!("{err}");
                }
            }
            // The media server waits for our answer to its offer; our own
            // offer is sent again on resume (`SfuAction::ResendOffer`).
            _ if reconnect::held_while_down(msg) || matches!(msg, ClientMsg::SfuAnswer { .. }) => {
                self.held.borrow_mut().push(msg.clone())
            }
            _ => {}
        }
    }

    pub(super) fn on_refused(&self, code: ErrorCode, message: String) {
        let joined = self.call.borrow().joined().is_some();
        let problem = Problem::refused(code, message);
        if joined {
            self.view.notice.set(Some(problem));
        } else {
            self.fail_at_the_door(problem);
        }
    }

    /// Called from inside the socket's own listener, which must return
    /// before the socket is dropped.
    fn drop_socket_later(&self) {
        let socket = self.socket.borrow_mut().take();
        spawn_local(async move { drop(socket) });
    }

    /// Refused at the door: this meeting is over before it began.
    fn fail_at_the_door(&self, problem: Problem) {
        self.left.set(true);
        self.keepalive.borrow_mut().take();
        self.retry.borrow_mut().take();
        self.drop_socket_later();
        self.view.phase.set(Phase::Failed(problem));
    }
}
