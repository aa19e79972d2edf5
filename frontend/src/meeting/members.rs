//! Room membership on screen: a tile per member (which, and when one is
//! drawn, is `shared::roster`'s decision), the chat's notices of comings and
//! goings, and when the room screen itself is drawn.

use super::{ChatLine, Inner, Phase};
use gloo_timers::callback::Timeout;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::roster;
use shared::PeerId;

/// The longest the room screen waits, after `welcome`, for the answers to
/// our offers.
pub(super) const ROOM_AT_MOST_AFTER_MS: u32 = 250;

impl Inner {
    /// Makes the tiles match the call's member list, noting arrivals and departures.
    pub(super) fn sync_tiles(&self) {
        let call = self.call.borrow();
        let view = self.view;
        let shown: Vec<PeerId> = view.tiles.with_untracked(|tiles| tiles.iter().map(|tile| tile.peer).collect());
        // Once we are in, a new member is news (the welcome's list is not),
        // and is arriving: they will offer to us.
        let in_room = view.phase.get_untracked() == Phase::InRoom;
        let changes = roster::changes(&shown, call.members().map(|(peer, _)| peer), in_room, self.quiet.get());
        let mut notices = vec![];
        for &peer in &changes.gone {
            if let Some(name) = view.remove_tile(peer) {
                notices.push(ChatLine::Left(name));
            }
        }
        for &peer in &changes.stayed {
            if let (Some(tile), Some(member)) = (view.tile(peer), call.member(peer)) {
                tile.muted.set(member.state.muted);
                tile.camera_off.set(member.state.camera_off);
                tile.sharing.set(member.state.sharing);
            }
        }
        for &peer in &changes.arrived {
            let Some(member) = call.member(peer) else { continue };
            notices.push(ChatLine::Joined(member.name.to_string()));
            let tile = view.add_tile(peer, member.name.as_str(), member.state, changes.drawn_at_once());
            if !changes.drawn_at_once() {
                spawn_local(async move {
                    TimeoutFuture::new(roster::TILE_AT_MOST_AFTER_MS).await;
                    // Drawn already, or gone (then this does nothing).
                    tile.draw();
                });
            }
        }
        if changes.news {
            view.chat.update(|c| c.extend(notices));
        }
    }

    /// Draws the room screen once our offers are answered, or after
    /// [`ROOM_AT_MOST_AFTER_MS`]: drawing it holds the page for 50–100 ms,
    /// and their answers were read behind it.
    pub(super) fn draw_room_soon(&self) {
        if !self.view.room_drawn.get_untracked() {
            let room_drawn = self.view.room_drawn;
            *self.room_soon.borrow_mut() = Some(Timeout::new(ROOM_AT_MOST_AFTER_MS, move || room_drawn.set(true)));
            self.draw_room_if_answered();
        }
    }

    /// Draws the room screen once no offer of ours awaits its answer.
    pub(super) fn draw_room_if_answered(&self) {
        let call = self.call.borrow();
        let answered = call.members().all(|(peer, _)| call.is_stable(peer));
        drop(call);
        if answered && !self.view.room_drawn.get_untracked() {
            self.room_soon.borrow_mut().take();
            self.view.room_drawn.set(true);
        }
    }
}
