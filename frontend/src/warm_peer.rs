//! The first peer connection, made on the welcome screen while the person
//! types: tracks added, offer made and set locally, candidates gathered. A
//! newcomer offers at once to whoever is in the room, so with this Join
//! sends an offer the moment `welcome` arrives instead of making one while
//! the room screen is drawn (docs/BENCHMARKS.md, "call setup"). In the
//! room, a spare one (tracks added, no offer) waits for the next member to
//! arrive, who will offer: answering skips making a connection.

use crate::rtc::{Peer, RtcError};
use shared::IceConfig;
use web_sys::MediaStream;

/// How long a prepared connection's candidates are trusted to still describe
/// the network (a laptop may have moved); the page prepares a new one sooner.
pub const FRESH_FOR_MS: f64 = 120_000.0;

/// How long [`WarmPeer::close_later`] waits.
const CLOSE_LATER_MS: u32 = 1_000;

pub struct WarmPeer {
    peer: Peer,
    ice: IceConfig,
    tracks: Vec<String>,
    /// When its offer was made (and its candidates gathered); `None` for a
    /// spare, which has gathered nothing yet, so does not go stale.
    offered_at: Option<f64>,
}

/// The ids of a stream's tracks: what the offer was made to send. Chromium
/// sends no video from a sender whose track ended before the call connected,
/// even once another is swapped in, so after a device switch the page
/// prepares a new connection instead.
fn track_ids(stream: &MediaStream) -> Vec<String> {
    stream.get_tracks().iter().map(|t| web_sys::MediaStreamTrack::from(t).id()).collect()
}

/// The same ids in any order (a stream has two tracks at most: a search
/// each, where sorting brought 3 KB of sort code into the page).
fn same_ids(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|id| b.contains(id))
}

/// The same servers and policy, credentials aside: with `--turn-secret` the
/// page's TURN credentials were made for it before Join and the member's in
/// `welcome`, from one secret, and both hold for the server's TTL.
fn same_servers(prepared: &IceConfig, given: &IceConfig) -> bool {
    let (p, g) = (&prepared.servers, &given.servers);
    prepared.relay_only == given.relay_only && p.len() == g.len() && p.iter().zip(g).all(|(p, g)| p.urls == g.urls)
}

impl WarmPeer {
    /// A connection with its offer made, for the first member we offer to.
    pub async fn prepare(ice: IceConfig, stream: &MediaStream) -> Result<Self, RtcError> {
        let mut warm = Self::spare(ice, stream)?;
        warm.peer.offer(drop).await?;
        warm.offered_at = Some(js_sys::Date::now());
        Ok(warm)
    }

    /// A connection sending `stream`, for the next member to offer to us.
    pub fn spare(ice: IceConfig, stream: &MediaStream) -> Result<Self, RtcError> {
        let peer = Peer::open(&ice)?;
        peer.send_stream(stream);
        Ok(Self { peer, ice, tracks: track_ids(stream), offered_at: None })
    }

    /// Since its offer was made (0 for a spare).
    pub fn age_ms(&self) -> f64 {
        self.offered_at.map_or(0.0, |at| js_sys::Date::now() - at)
    }

    /// The connection, with its events kept (and its offer set locally, if
    /// made), if it suits a meeting that was given `ice` and sends
    /// `stream`'s tracks as they are now; itself back otherwise, for the
    /// caller to close when the main thread can spare it.
    pub fn into_peer_for(self, ice: &IceConfig, stream: &MediaStream) -> Result<Peer, Self> {
        let fits =
            same_servers(&self.ice, ice) && same_ids(&self.tracks, &track_ids(stream)) && self.age_ms() < FRESH_FOR_MS;
        if fits {
            Ok(self.peer)
        } else {
            Err(self)
        }
    }

    /// Closes it in a while: closing a connection holds the main thread for
    /// tens of milliseconds (docs/BENCHMARKS.md), too long for the moment
    /// someone is joining.
    pub fn close_later(self) {
        gloo_timers::callback::Timeout::new(CLOSE_LATER_MS, move || drop(self)).forget();
    }
}
