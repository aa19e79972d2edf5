//! Which member's video fills the meeting's main area while the others line
//! up below it: the one a person picked, else whoever shares a screen (a
//! shared screen is unreadable as one tile of six), else nobody (the even
//! grid). A pure decision, so the page only draws what it says; each tile
//! asks it about itself, so the page keeps no list for it.

use crate::PeerId;

/// What the person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spotlight {
    /// Follow screen shares: a member sharing is large.
    #[default]
    Auto,
    /// This member is large, sharing or not, and nobody else.
    Pinned(PeerId),
    /// The even grid, even while someone shares, until another pick.
    Grid,
}

impl Spotlight {
    /// Whether `peer`'s tile is large.
    pub fn is_large(self, peer: PeerId, sharing: bool) -> bool {
        match self {
            Self::Auto => sharing,
            Self::Pinned(pinned) => pinned == peer,
            Self::Grid => false,
        }
    }

    /// `peer` left the room: if they were pinned, shares decide again.
    pub fn left(self, peer: PeerId) -> Self {
        if self == Self::Pinned(peer) {
            Self::Auto
        } else {
            self
        }
    }

    /// A click on `peer`'s tile: a large tile goes back to the grid, any
    /// other becomes the one large tile.
    pub fn clicked(peer: PeerId, was_large: bool) -> Self {
        if was_large {
            Self::Grid
        } else {
            Self::Pinned(peer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which of the tiles (peer, sharing) are large.
    fn large(spotlight: Spotlight, tiles: &[(u64, bool)]) -> Vec<u64> {
        tiles
            .iter()
            .filter(|&&(peer, sharing)| spotlight.is_large(PeerId(peer), sharing))
            .map(|&(peer, _)| peer)
            .collect()
    }

    #[test]
    fn the_grid_is_even_until_someone_shares_and_then_their_screen_is_large() {
        assert_eq!(large(Spotlight::Auto, &[(1, false), (2, false)]), Vec::<u64>::new());
        assert_eq!(large(Spotlight::Auto, &[(1, false), (2, true)]), [2]);
    }

    #[test]
    fn a_click_pins_a_tile_and_a_click_on_a_large_one_brings_back_the_grid() {
        let tiles = [(1, false), (2, true)];
        let pinned = Spotlight::clicked(PeerId(1), false);
        assert_eq!(large(pinned, &tiles), [1], "a pick outranks a share");
        let grid = Spotlight::clicked(PeerId(1), true);
        assert_eq!(large(grid, &tiles), Vec::<u64>::new(), "and the share stays in the grid");
        // Clicking the screen that was large on its own also means "the grid".
        assert_eq!(Spotlight::clicked(PeerId(2), Spotlight::Auto.is_large(PeerId(2), true)), Spotlight::Grid);
        assert_eq!(large(Spotlight::clicked(PeerId(2), false), &tiles), [2]);
    }

    #[test]
    fn a_pinned_member_who_leaves_hands_back_to_the_shares() {
        let pinned = Spotlight::Pinned(PeerId(7));
        assert_eq!(pinned.left(PeerId(1)), pinned, "someone else leaving changes nothing");
        assert_eq!(large(pinned.left(PeerId(7)), &[(1, false), (2, true)]), [2]);
        assert_eq!(Spotlight::Grid.left(PeerId(7)), Spotlight::Grid, "a chosen even grid stays");
    }
}
