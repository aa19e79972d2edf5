//! The WebSocket to the Moim server, speaking `shared::protocol`: the only
//! code that touches `WebSocket`. Closes itself when dropped.

use gloo_events::EventListener;
use shared::{ClientMsg, ServerMsg};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

#[derive(Debug, Clone, PartialEq)]
pub enum SocketEvent {
    Open,
    Message(ServerMsg),
    /// The server sent something this client does not understand.
    Garbled(String),
    /// The socket ended: its close code and reason (1006 and "" when it
    /// never opened, or just dropped).
    Closed { code: u16, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalingError {
    #[error("could not open a connection to {url}")]
    Connect { url: String },
    #[error("the connection to the server is not open")]
    NotOpen,
}

pub struct Socket {
    ws: WebSocket,
    route: Rc<RefCell<Route>>,
    _listeners: [EventListener; 4],
}

/// Where a socket's events go: kept until someone listens (a socket opened
/// ahead of need), then to them.
enum Route {
    Keep(Vec<SocketEvent>),
    To(Rc<dyn Fn(SocketEvent)>),
}

impl Route {
    fn deliver(route: &RefCell<Route>, event: SocketEvent) {
        let to = match &mut *route.borrow_mut() {
            Route::Keep(kept) => return kept.push(event),
            Route::To(to) => to.clone(),
        };
        to(event);
    }
}

/// `ws://host/ws` or `wss://host/ws`, matching how the page was loaded.
pub fn default_url() -> String {
    let location = web_sys::window().expect("a browser window").location();
    let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
    let host = location.host().unwrap_or_else(|_| "localhost:8080".into());
    format!("{scheme}://{host}/ws")
}

impl Socket {
    pub fn connect(url: &str, on_event: impl Fn(SocketEvent) + 'static) -> Result<Self, SignalingError> {
        let socket = Self::open(url)?;
        *socket.route.borrow_mut() = Route::To(Rc::new(on_event));
        Ok(socket)
    }

    /// Opens a socket whose events are kept until [`Socket::listen`]: the
    /// page opens one while the person types, so Join needs no handshake.
    pub fn open(url: &str) -> Result<Self, SignalingError> {
        let ws = WebSocket::new(url).map_err(|_| SignalingError::Connect { url: url.to_owned() })?;
        let route = Rc::new(RefCell::new(Route::Keep(Vec::new())));

        let to = route.clone();
        let open = EventListener::new(&ws, "open", move |_| Route::deliver(&to, SocketEvent::Open));
        let to = route.clone();
        let message = EventListener::new(&ws, "message", move |e| {
            let Some(text) = e.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string()) else { return };
            Route::deliver(&to, match ServerMsg::decode(&text) {
                Ok(msg) => SocketEvent::Message(msg),
                Err(err) => SocketEvent::Garbled(err.to_string()),
            });
        });
        let to = route.clone();
        let close = EventListener::new(&ws, "close", move |e| {
            let (code, reason) = e
                .dyn_ref::<CloseEvent>()
                .map(|c| (c.code(), c.reason()))
                .unwrap_or((1006, String::new()));
            Route::deliver(&to, SocketEvent::Closed { code, reason });
        });
        // Closing the tab: say goodbye properly, so the room drops our tile
        // now instead of keeping the seat for a resume that won't come.
        let window = web_sys::window().expect("a browser window");
        let leaving = ws.clone();
        let pagehide = EventListener::new(&window, "pagehide", move |_| {
            let _ = leaving.close_with_code(1000);
        });
        Ok(Self { ws, route, _listeners: [open, message, close, pagehide] })
    }

    /// Sends this socket's events, those kept so far first, to `on_event`.
    /// The kept ones follow in a task of their own, after the caller has
    /// stored the socket.
    pub fn listen(&self, on_event: impl Fn(SocketEvent) + 'static) {
        let on_event: Rc<dyn Fn(SocketEvent)> = Rc::new(on_event);
        let kept = match std::mem::replace(&mut *self.route.borrow_mut(), Route::To(on_event.clone())) {
            Route::Keep(kept) => kept,
            Route::To(_) => Vec::new(),
        };
        if !kept.is_empty() {
            wasm_bindgen_futures::spawn_local(async move { kept.into_iter().for_each(|event| on_event(event)) });
        }
    }

    /// Still opening, or open: worth handing to a meeting.
    pub fn is_usable(&self) -> bool {
        matches!(self.ws.ready_state(), WebSocket::CONNECTING | WebSocket::OPEN)
    }

    pub fn is_open(&self) -> bool {
        self.ws.ready_state() == WebSocket::OPEN
    }

    /// Closes with `code` (1000, or 3000–4999) instead of the default.
    pub fn close_with(&self, code: u16) {
        let _ = self.ws.close_with_code(code);
    }

    pub fn send(&self, msg: &ClientMsg) -> Result<(), SignalingError> {
        if self.ws.ready_state() != WebSocket::OPEN {
            return Err(SignalingError::NotOpen);
        }
        self.ws.send_with_str(&msg.encode()).map_err(|_| SignalingError::NotOpen)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.ws.close();
    }
}

/// How many are in `room` now (`GET /api/rooms/<room>`), for the welcome
/// screen. `None` when the server cannot say (unreachable, bad name).
pub async fn room_status(room: &shared::RoomName) -> Option<shared::RoomStatus> {
    let window = web_sys::window()?;
    let url = format!("/api/rooms/{}", js_sys::encode_uri_component(room.as_str()));
    let response: web_sys::Response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(&url)).await.ok()?.dyn_into().ok()?;
    if !response.ok() {
        return None;
    }
    let text = wasm_bindgen_futures::JsFuture::from(response.text().ok()?).await.ok()?.as_string()?;
    serde_json::from_str(&text).ok()
}
