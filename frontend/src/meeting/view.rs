//! What the meeting screen draws, as signals: the phase, the room, the chat,
//! and a tile per remote member, whose signals live as long as the member.

use super::Problem;
use crate::i18n::Lang;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::call::ConnectionState;
use shared::link::Details;
use shared::pages::Pages;
use shared::{MediaState, PeerId};
use std::collections::BTreeMap;
use web_sys::MediaStream;

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Idle,
    Connecting,
    InRoom,
    /// Could not join (server unreachable, room full…).
    Failed(Problem),
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
    pub connection: RwSignal<ConnectionState>,
    /// Their voice is above the speaking threshold right now.
    pub speaking: RwSignal<bool>,
    /// The connection's path, round trip, loss, rates and video, from the
    /// last two stats readings (`shared::link`).
    pub link: RwSignal<Option<Details>>,
    /// Loss or round trip past `shared::link`'s limits, sustained.
    pub weak: RwSignal<bool>,
    /// The media server holds their video back: our connection cannot carry it.
    pub paused: RwSignal<bool>,
    /// In the grid. Someone who has just arrived offers to us at once; their
    /// tile (a `<video>` and a new layout: 40–60 ms of main thread) is drawn
    /// once our answer is out, or after `shared::roster::TILE_AT_MOST_AFTER_MS`,
    /// so their offer is not read behind it (docs/BENCHMARKS.md, "call setup").
    pub drawn: RwSignal<bool>,
}

impl RemoteTile {
    /// Puts it in the grid, if it is not there yet (nor gone).
    pub(super) fn draw(&self) {
        self.drawn.maybe_update(|drawn| !std::mem::replace(drawn, true));
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
    /// us, else once our offers are answered (at most `members::ROOM_AT_MOST_AFTER_MS`
    /// after `welcome`). Drawing it holds the page for 50–100 ms, and their
    /// answers were read behind it.
    pub room_drawn: RwSignal<bool>,
    pub room: RwSignal<String>,
    /// The members here, in order of arrival; changed by [`MeetingView::add_tile`]
    /// and [`MeetingView::remove_tile`].
    pub tiles: RwSignal<Vec<RemoteTile>, LocalStorage>,
    /// Which tiles the grid's page shown holds, past `shared::pages::PER_PAGE`
    /// people: kept with the tiles, and told who starts to speak.
    pub pages: RwSignal<Pages>,
    pub chat: RwSignal<Vec<ChatLine>>,
    /// A problem during the meeting that does not end it.
    pub notice: RwSignal<Option<Problem>>,
    /// Each tile's signals live under an owner of their own, dropped (and
    /// they with it) when the member goes: under the view's, they would
    /// outlive them, and a long meeting would grow with every arrival.
    tile_owners: StoredValue<BTreeMap<PeerId, Owner>, LocalStorage>,
    owner: StoredValue<Owner, LocalStorage>,
}

impl MeetingView {
    /// Call inside a component: the view's signals belong to its owner;
    /// each tile's to an owner of its own, which the view keeps (so they go
    /// with it too).
    pub fn new() -> Self {
        Self {
            phase: RwSignal::new(Phase::Idle),
            room_drawn: RwSignal::new(false),
            room: RwSignal::new(String::new()),
            tiles: RwSignal::new_local(vec![]),
            pages: RwSignal::new(Pages::default()),
            chat: RwSignal::new(vec![]),
            notice: RwSignal::new(None),
            tile_owners: StoredValue::new_local(BTreeMap::new()),
            owner: StoredValue::new_local(Owner::current().unwrap_or_default()),
        }
    }

    /// `peer`'s tile, while they are here.
    pub fn tile(&self, peer: PeerId) -> Option<RemoteTile> {
        self.tiles.with_untracked(|t| t.iter().find(|t| t.peer == peer).copied())
    }

    /// A tile for `peer`, who has arrived, at the end of the list (in
    /// place of theirs if they had one); in the grid at once if `drawn`.
    pub fn add_tile(&self, peer: PeerId, name: &str, state: MediaState, drawn: bool) -> RemoteTile {
        self.remove_tile(peer);
        // A root: a child of the view's owner would leave an entry in its
        // list of children for every arrival, long after the tile went.
        // (`with` puts the current owner back after `new_root` took its place.)
        let owner = self.owner.with_value(|view| view.with(|| Owner::new_root(None)));
        let tile = owner.with(|| RemoteTile {
            peer,
            name: RwSignal::new(name.to_owned()),
            muted: RwSignal::new(state.muted),
            camera_off: RwSignal::new(state.camera_off),
            sharing: RwSignal::new(state.sharing),
            stream: RwSignal::new_local(None),
            connection: RwSignal::new(ConnectionState::Connecting),
            speaking: RwSignal::new(false),
            link: RwSignal::new(None),
            weak: RwSignal::new(false),
            paused: RwSignal::new(false),
            drawn: RwSignal::new(drawn),
        });
        self.tile_owners.update_value(|owners| drop(owners.insert(peer, owner)));
        self.tiles.update(|tiles| tiles.push(tile));
        self.pages_follow_tiles();
        tile
    }

    /// Takes `peer`'s tile away, and disposes its signals once the page has
    /// drawn it away ([`dispose_after_redraw`]). Whatever still holds it (a
    /// timer, a stats read under way) finds them gone: writes do nothing,
    /// reads must be `try_`. Returns their name.
    pub fn remove_tile(&self, peer: PeerId) -> Option<String> {
        let tile = self.tile(peer)?;
        let name = tile.name.get_untracked();
        self.tiles.update(|tiles| tiles.retain(|t| t.peer != peer));
        self.pages_follow_tiles();
        if let Some(owner) = self.tile_owners.try_update_value(|owners| owners.remove(&peer)).flatten() {
            dispose_after_redraw(owner);
        }
        Some(name)
    }

    /// Takes every tile away, disposing their signals as [`MeetingView::remove_tile`] does.
    pub fn clear_tiles(&self) {
        self.tiles.set(vec![]);
        self.pages.set(Pages::default());
        let owners = self.tile_owners.try_update_value(std::mem::take).unwrap_or_default();
        for owner in owners.into_values() {
            dispose_after_redraw(owner);
        }
    }

    fn pages_follow_tiles(&self) {
        let peers: Vec<PeerId> = self.tiles.get_untracked().iter().map(|t| t.peer).collect();
        self.pages.update(|pages| pages.present(&peers));
    }

    /// The server says who speaks: whoever starts to, off the grid's page
    /// shown, is brought onto it.
    pub fn speakers_changed(&self, speakers: &[PeerId]) {
        self.pages.update(|pages| pages.speaking(speakers));
    }

    /// Tiles of members here, whose signals are alive (or, for one gone,
    /// about to be disposed).
    pub fn live_tiles(&self) -> usize {
        self.tile_owners.with_value(BTreeMap::len)
    }
}

/// Disposes a gone tile's signals once the page has drawn it away. Not at
/// once: a change to the tile not drawn yet (a badge, its connection's
/// state) would be drawn from disposed signals, which panics. The page
/// redraws in microtasks, so a timer, a task of its own, comes after them all.
fn dispose_after_redraw(owner: Owner) {
    spawn_local(async move {
        TimeoutFuture::new(0).await;
        owner.cleanup();
    });
}

impl Default for MeetingView {
    fn default() -> Self {
        Self::new()
    }
}
