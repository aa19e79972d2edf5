//! Moim's media server: a selective forwarding unit (SFU) on str0m.
//!
//! Each member of a room on the SFU has one WebRTC session with it: the
//! member sends its microphone, camera and screen once, and the SFU forwards
//! each track to every other member of the same room. str0m is sans-IO; this
//! crate is the I/O around it: one UDP port, one OS thread ([`Sfu::start`])
//! and one more that makes the `sendto` calls (`sender.rs`), and channels to
//! the rooms, so tokio never waits on media and the SFU could
//! run as a process of its own. SDP rides the member's signaling socket:
//! [`Command`]s come in, [`Event`]s go out.

mod allocate;
mod downlink;
mod engine;
mod layers;
mod metrics;
mod nominate;
mod sender;
mod session;
mod sockets;
pub mod speaking;

pub use metrics::{Metrics, MetricsSnapshot};
use shared::{PeerId, SfuTrack, VideoView};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Where and how the SFU listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The one UDP port for all media, on every address; 0 picks a free one.
    pub port: u16,
    /// Addresses offered to members as host candidates (IPv4; others are
    /// skipped with a warning).
    pub addresses: Vec<IpAddr>,
    /// The address members reach the server at when it sits behind a 1:1
    /// NAT (the media port forwarded to it), offered as well.
    pub public_ip: Option<IpAddr>,
    /// What one member may send, in kbit/s: video beyond it is not forwarded.
    pub max_member_kbps: u32,
    /// Also estimate each member's downlink from its transport-wide
    /// feedback (str0m's delay-based estimate), and keep its videos within
    /// that as well as within what its losses show (`downlink.rs`, always
    /// on). Off by default: str0m then paces each member at 1.1 times its
    /// estimate, which stays near what the member was sent while that is
    /// little, and on a busy machine falls far below the link for seconds
    /// (docs/BENCHMARKS.md, "Bandwidth").
    pub bandwidth_estimation: bool,
}

impl Config {
    /// Any free port on 127.0.0.1: for tests.
    pub fn loopback() -> Self {
        Self {
            port: 0,
            addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            public_ip: None,
            max_member_kbps: 4000,
            bandwidth_estimation: false,
        }
    }
}

/// What the rooms tell the SFU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A member's offer: its first (which opens its session in `room`), an
    /// ICE restart, or a change in what it sends.
    Offer { room: String, peer: PeerId, sdp: String },
    /// A member's answer to the SFU's [`Event::Offer`].
    Answer { peer: PeerId, sdp: String },
    /// The member left the room: its session ends now.
    Leave { peer: PeerId },
    /// How big the member's page draws the videos it is sent (all of them:
    /// one left out gets the largest layer).
    View { peer: PeerId, views: Vec<VideoView> },
}

/// What the SFU tells the rooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Answer {
        peer: PeerId,
        sdp: String,
    },
    /// The SFU adds or removes tracks it forwards to `peer`; `tracks` names
    /// every one it sends.
    Offer {
        peer: PeerId,
        sdp: String,
        tracks: Vec<SfuTrack>,
    },
    /// The member's offer or answer was refused; nothing else changed.
    Refused {
        peer: PeerId,
        error: SdpError,
    },
    /// The member's session ended on the SFU's side (its DTLS failed or it
    /// timed out); a new offer opens another.
    Closed {
        peer: PeerId,
    },
    /// The members whose video `peer` is not sent now, to save its
    /// bandwidth (its link cannot carry them); every change is told.
    Paused {
        peer: PeerId,
        peers: Vec<PeerId>,
    },
    /// Who is speaking in `room` now, loudest first.
    Speaking {
        room: String,
        peers: Vec<PeerId>,
    },
}

/// Why an SDP was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("not a readable SDP: {0}")]
    Unreadable(String),
    #[error("the media server cannot use this SDP: {0}")]
    Unusable(String),
    #[error("an answer with no offer of the media server's waiting for it")]
    NoOfferWaiting,
    #[error("an answer before any offer: send an offer first")]
    NoSession,
    #[error("the session is in another room")]
    OtherRoom,
}

/// A running SFU: dropping it stops its thread.
pub struct Sfu {
    commands: mpsc::Sender<Command>,
    waker: Arc<mio::Waker>,
    port: u16,
    metrics: Arc<Metrics>,
    thread: Option<JoinHandle<()>>,
}

impl Sfu {
    /// Binds the UDP port and starts the SFU's thread. `events` is called on
    /// that thread for each [`Event`]: it must not block.
    pub fn start(config: Config, events: impl FnMut(Event) + Send + 'static) -> io::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let sockets = sockets::Sockets::bind(&config, metrics.clone())?;
        let port = sockets.port();
        let (commands, inbox) = mpsc::channel();
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), sockets::WAKER)?);
        let mut engine = engine::Engine::new(config, sockets, inbox, Box::new(events), metrics.clone());
        let thread = std::thread::Builder::new().name("sfu".into()).spawn(move || engine.run(poll))?;
        tracing::info!(port, "media server listening (UDP)");
        Ok(Self { commands, waker, port, metrics, thread: Some(thread) })
    }

    pub fn send(&self, command: Command) {
        if self.commands.send(command).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// The UDP port media arrives on.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// The address a member on this machine reaches the SFU at.
    pub fn loopback_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port)
    }
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Drop for Sfu {
    fn drop(&mut self) {
        // A closed channel tells the thread to end.
        let (closed, _) = mpsc::channel();
        self.commands = closed;
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
