//! The first peer connection, made on the welcome screen while the person
//! types: tracks added, offer made and set locally, candidates gathered. A
//! newcomer offers at once to whoever is in the room, so with this Join
//! sends an offer the moment `welcome` arrives instead of making one while
//! the room screen is drawn (docs/BENCHMARKS.md, "call setup").

use crate::rtc::{Peer, RtcError};
use shared::IceServer;
use web_sys::MediaStream;

/// How long a prepared connection's candidates are trusted to still describe
/// the network (a laptop may have moved); the page prepares a new one sooner.
pub const FRESH_FOR_MS: f64 = 120_000.0;

pub struct WarmPeer {
    peer: Peer,
    ice_servers: Vec<IceServer>,
    tracks: Vec<String>,
    made_at: f64,
}

/// The ids of a stream's tracks: what the offer was made to send. Chromium
/// sends no video from a sender whose track ended before the call connected,
/// even once another is swapped in, so after a device switch the page
/// prepares a new connection instead.
fn track_ids(stream: &MediaStream) -> Vec<String> {
    let mut ids: Vec<String> = stream.get_tracks().iter().map(|t| web_sys::MediaStreamTrack::from(t).id()).collect();
    ids.sort();
    ids
}

impl WarmPeer {
    pub async fn prepare(ice_servers: Vec<IceServer>, stream: &MediaStream) -> Result<Self, RtcError> {
        let peer = Peer::open(&ice_servers)?;
        peer.send_stream(stream);
        peer.create_offer().await?;
        Ok(Self { peer, ice_servers, tracks: track_ids(stream), made_at: js_sys::Date::now() })
    }

    pub fn age_ms(&self) -> f64 {
        js_sys::Date::now() - self.made_at
    }

    /// The connection, with its offer set locally and its events kept, if
    /// it suits a meeting that was given `ice_servers` and sends `stream`'s
    /// tracks as they are now;
    /// `None` (and the connection closed) otherwise.
    pub fn into_peer_for(self, ice_servers: &[IceServer], stream: &MediaStream) -> Option<Peer> {
        let fits = self.ice_servers == ice_servers && self.tracks == track_ids(stream) && self.age_ms() < FRESH_FOR_MS;
        fits.then_some(self.peer)
    }
}
