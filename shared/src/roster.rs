//! Which remote members have a tile, and how one comes and goes: from the
//! call's member list to the tiles on screen. A pure decision, like
//! [`crate::spotlight`], so the page only carries out what it says.

use crate::PeerId;

/// The longest a new arrival's tile waits for our answer to them (ms). They
/// offer to us at once; their tile (a `<video>` and a new layout: 40–60 ms
/// of the main thread) is drawn once our answer is out, so their offer is
/// not read behind it (docs/BENCHMARKS.md, "call setup").
pub const TILE_AT_MOST_AFTER_MS: u32 = 250;

/// How the tiles change to match the members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Tiles whose member is no longer here, in the tiles' order.
    pub gone: Vec<PeerId>,
    /// Members with no tile yet, in the members' order: each gets one, at the end.
    pub arrived: Vec<PeerId>,
    /// Members with a tile already, whose badges follow their state.
    pub stayed: Vec<PeerId>,
    /// The comings and goings are news: said in the chat, and an
    /// arrival's tile waits for [`Changes::drawn_at_once`].
    pub news: bool,
}

impl Changes {
    /// Whether an arrival's tile is in the grid at once: the room's first
    /// list, or everyone coming back after a reconnection. Else (someone
    /// arriving now, who offers to us) it is drawn once our answer to them
    /// is out, or after [`TILE_AT_MOST_AFTER_MS`].
    pub fn drawn_at_once(&self) -> bool {
        !self.news
    }
}

/// Compares the tiles `shown` with the `members` here. `in_room`: we had
/// our seat before this change (the welcome's list is not news);
/// `rejoining`: between losing our seat and getting it back, when members
/// vanish and come back without having left.
pub fn changes(shown: &[PeerId], members: impl IntoIterator<Item = PeerId>, in_room: bool, rejoining: bool) -> Changes {
    let members: Vec<PeerId> = members.into_iter().collect();
    let gone = shown.iter().copied().filter(|peer| !members.contains(peer)).collect();
    let (stayed, arrived) = members.into_iter().partition(|peer| shown.contains(peer));
    Changes { gone, arrived, stayed, news: in_room && !rejoining }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(ids: &[u64]) -> Vec<PeerId> {
        ids.iter().copied().map(PeerId).collect()
    }

    #[test]
    fn the_welcomes_list_gets_tiles_drawn_at_once_and_is_not_news() {
        let welcome = changes(&[], peers(&[3, 1, 2]), false, false);
        assert_eq!(welcome.arrived, peers(&[3, 1, 2]), "in the members' order");
        assert!(welcome.gone.is_empty() && welcome.stayed.is_empty());
        assert!(!welcome.news);
        assert!(welcome.drawn_at_once());
    }

    #[test]
    fn an_arrival_in_the_room_is_news_and_its_tile_waits_for_our_answer() {
        let arrival = changes(&peers(&[1]), peers(&[1, 2]), true, false);
        assert_eq!(arrival.arrived, peers(&[2]));
        assert_eq!(arrival.stayed, peers(&[1]));
        assert!(arrival.news);
        assert!(!arrival.drawn_at_once());
    }

    #[test]
    fn a_departure_takes_its_tile_and_is_news_in_the_room() {
        let left = changes(&peers(&[1, 2, 3]), peers(&[3, 1]), true, false);
        assert_eq!(left.gone, peers(&[2]));
        assert_eq!(left.stayed, peers(&[3, 1]));
        assert!(left.arrived.is_empty());
        assert!(left.news);
        let everyone = changes(&peers(&[1, 2]), [], true, false);
        assert_eq!(everyone.gone, peers(&[1, 2]), "in the tiles' order");
    }

    #[test]
    fn members_coming_back_after_a_reconnection_are_not_news() {
        let vanished = changes(&peers(&[1, 2]), [], true, true);
        assert_eq!(vanished.gone, peers(&[1, 2]));
        assert!(!vanished.news, "they did not leave");
        let back = changes(&[], peers(&[1, 2]), true, true);
        assert_eq!(back.arrived, peers(&[1, 2]));
        assert!(back.drawn_at_once(), "nobody is offering to us anew");
    }

    #[test]
    fn nothing_changes_when_the_members_are_the_tiles() {
        let same = changes(&peers(&[1, 2]), peers(&[1, 2]), true, false);
        assert!(same.gone.is_empty() && same.arrived.is_empty());
        assert_eq!(same.stayed, peers(&[1, 2]));
    }
}
