//! The WebSocket to the Moim server, speaking `shared::protocol`: the only
//! code that touches `WebSocket`. Closes itself when dropped.

use crate::mailbox::Mailbox;
use gloo_events::EventListener;
use shared::{ClientMsg, ServerMsg};
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
    Closed {
        code: u16,
        reason: String,
    },
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
    events: Mailbox<SocketEvent>,
    _listeners: [EventListener; 4],
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
        Self::with(url, Mailbox::to(on_event))
    }

    /// Opens a socket whose events are kept until [`Socket::listen`]: the
    /// page opens one while the person types, so Join needs no handshake.
    pub fn open(url: &str) -> Result<Self, SignalingError> {
        Self::with(url, Mailbox::keeping())
    }

    fn with(url: &str, events: Mailbox<SocketEvent>) -> Result<Self, SignalingError> {
        let ws = WebSocket::new(url).map_err(|_| SignalingError::Connect { url: url.to_owned() })?;

        let to = events.clone();
        let open = EventListener::new(&ws, "open", move |_| to.deliver(SocketEvent::Open));
        let to = events.clone();
        let message = EventListener::new(&ws, "message", move |e| {
            let Some(text) = e.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string()) else { return };
            to.deliver(match ServerMsg::decode(&text) {
                Ok(msg) => SocketEvent::Message(msg),
                Err(err) => SocketEvent::Garbled(err.to_string()),
            });
        });
        let to = events.clone();
        let close = EventListener::new(&ws, "close", move |e| {
            let (code, reason) =
                e.dyn_ref::<CloseEvent>().map(|c| (c.code(), c.reason())).unwrap_or((1006, String::new()));
            to.deliver(SocketEvent::Closed { code, reason });
        });
        // Closing the tab: say goodbye properly, so the room drops our tile
        // now instead of keeping the seat for a resume that won't come.
        let window = web_sys::window().expect("a browser window");
        let leaving = ws.clone();
        let pagehide = EventListener::new(&window, "pagehide", move |_| {
            let _ = leaving.close_with_code(1000);
        });
        Ok(Self { ws, events, _listeners: [open, message, close, pagehide] })
    }

    /// Sends this socket's events, those kept so far first, to `on_event`.
    pub fn listen(&self, on_event: impl Fn(SocketEvent) + 'static) {
        self.events.listen(on_event);
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

/// The ICE configuration before Join (`GET /api/ice-servers`): the servers
/// every member is given, with TURN credentials of the page's own where each
/// member gets its own. `None` when the server could not say (unreachable,
/// garbled).
pub async fn lobby_ice() -> Option<shared::IceConfig> {
    let (200, text) = get("/api/ice-servers").await? else { return None };
    shared::IceConfig::decode(&text).ok()
}

/// How many are in `room` now (`GET /api/rooms/<room>`), for the welcome
/// screen. `None` when the server cannot say (unreachable, bad name).
pub async fn room_status(room: &shared::RoomName) -> Option<shared::RoomStatus> {
    let url = format!("/api/rooms/{}", js_sys::encode_uri_component(room.as_str()));
    let (200, text) = get(&url).await? else { return None };
    shared::RoomStatus::decode(&text).ok()
}

/// The status and body of the answer to `GET url`.
async fn get(url: &str) -> Option<(u16, String)> {
    let window = web_sys::window()?;
    let response: web_sys::Response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(url)).await.ok()?.dyn_into().ok()?;
    let text = wasm_bindgen_futures::JsFuture::from(response.text().ok()?).await.ok()?.as_string()?;
    Some((response.status(), text))
}
