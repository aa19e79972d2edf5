//! A peer connection's state as the client's machines see it.

/// `RTCPeerConnection.connectionState` (the page maps the browser's enum, `rtc.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConnectionState {
    #[default]
    New,
    Connecting,
    Connected,
    /// Lost for now (e.g. the network changed); may come back by itself.
    Disconnected,
    /// Gone until ICE restarts.
    Failed,
    Closed,
}

/// How long a `disconnected` connection gets to come back by itself before
/// its ICE is restarted; Chrome reports `failed` only after ~30 s.
pub const DISCONNECTED_GRACE_MS: u32 = 3000;
