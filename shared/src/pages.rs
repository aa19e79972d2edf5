//! Which remote tiles the grid draws when the room holds more people than
//! a page ([`PER_PAGE`] tiles, yours included): pages in the order people
//! came, turned by the person (round: after the last comes the first); and
//! someone who starts speaking off the page shown takes the place of
//! whoever on it spoke longest ago, so the person talking is seen. A tile
//! off the page stays (its sound plays); its video is not sent. A pure
//! decision, so `cargo test` plays a room.

use crate::PeerId;

/// Tiles a page holds, yours included: past this many people the grid pages.
pub const PER_PAGE: usize = 12;
/// The others' tiles on a page.
const OTHERS_PER_PAGE: usize = PER_PAGE - 1;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pages {
    /// Everyone else, in page order, with the speaking turn at which each
    /// last spoke (0: never; later is larger). (No map: the page's wasm has
    /// no hasher, and a room is a few dozen.)
    order: Vec<(PeerId, u64)>,
    /// The page shown, from 0.
    page: usize,
    turns: u64,
    /// Who spoke at the last turn.
    speakers: Vec<PeerId>,
}

impl Pages {
    /// The others now here, in the order they came: a newcomer goes last,
    /// and a leaver's place closes up.
    pub fn present(&mut self, peers: &[PeerId]) {
        self.order.retain(|(peer, _)| peers.contains(peer));
        for peer in peers {
            if self.position(*peer).is_none() {
                self.order.push((*peer, 0));
            }
        }
        self.page = self.page.min(self.count() - 1);
    }

    /// How many pages there are (one when everyone fits).
    pub fn count(&self) -> usize {
        self.order.len().div_ceil(OTHERS_PER_PAGE).max(1)
    }

    /// The page shown, from 0.
    pub fn page(&self) -> usize {
        self.page
    }

    /// Whether `peer`'s tile is on the page shown.
    pub fn shows(&self, peer: PeerId) -> bool {
        self.position(peer).is_some_and(|at| at / OTHERS_PER_PAGE == self.page)
    }

    /// The next page, the first after the last.
    pub fn next(&mut self) {
        self.page = (self.page + 1) % self.count();
    }

    /// The page before, the last before the first.
    pub fn previous(&mut self) {
        self.page = (self.page + self.count() - 1) % self.count();
    }

    /// These members speak now: each who starts to, off the page shown,
    /// takes the place of the one on it who spoke longest ago (or never; the
    /// last such first), who goes to the speaker's old place. (Only a start:
    /// a page turned to while someone talks on stays as it is.)
    pub fn speaking(&mut self, speakers: &[PeerId]) {
        self.turns += 1;
        for (peer, spoke) in &mut self.order {
            if speakers.contains(peer) {
                *spoke = self.turns;
            }
        }
        let before = std::mem::replace(&mut self.speakers, speakers.to_vec());
        for speaker in speakers.iter().filter(|speaker| !before.contains(speaker)) {
            let Some(at) = self.position(*speaker) else { continue };
            if at / OTHERS_PER_PAGE == self.page {
                continue;
            }
            let shown = self.page * OTHERS_PER_PAGE..((self.page + 1) * OTHERS_PER_PAGE).min(self.order.len());
            // From the end: of those who spoke equally long ago, the last on the page.
            let quietest =
                shown.rev().filter(|&i| !speakers.contains(&self.order[i].0)).min_by_key(|&i| self.order[i].1);
            if let Some(out) = quietest {
                self.order.swap(at, out);
            }
        }
    }

    fn position(&self, peer: PeerId) -> Option<usize> {
        self.order.iter().position(|(p, _)| *p == peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people(range: std::ops::Range<u64>) -> Vec<PeerId> {
        range.map(PeerId).collect()
    }

    fn shown(pages: &Pages) -> Vec<u64> {
        pages.order.iter().filter(|(p, _)| pages.shows(*p)).map(|(p, _)| p.0).collect()
    }

    #[test]
    fn up_to_twelve_people_is_one_page_and_more_turn_in_the_order_they_came() {
        let mut pages = Pages::default();
        pages.present(&people(1..12));
        assert_eq!((pages.count(), shown(&pages).len()), (1, 11), "you and eleven others");
        pages.next();
        assert_eq!(pages.page(), 0, "one page: nowhere to turn to");
        pages.present(&people(1..15));
        assert_eq!(pages.count(), 2);
        assert_eq!(shown(&pages), (1..12).collect::<Vec<_>>());
        pages.next();
        assert_eq!(shown(&pages), [12, 13, 14]);
        pages.next();
        assert_eq!(pages.page(), 0, "round to the first");
        pages.previous();
        assert_eq!(pages.page(), 1, "and back to the last");
        // The last page empties: the one before is shown.
        pages.present(&people(1..12));
        assert_eq!((pages.count(), pages.page()), (1, 0));
        pages.previous();
        assert_eq!(pages.page(), 0);
    }

    #[test]
    fn a_speaker_off_the_page_takes_the_place_of_the_one_there_who_spoke_longest_ago() {
        let mut pages = Pages::default();
        pages.present(&people(1..20));
        pages.speaking(&[PeerId(3)]);
        pages.speaking(&[]);
        // 19 speaks from page two: the last of those on page one who never spoke makes way.
        pages.speaking(&[PeerId(19)]);
        assert!(pages.shows(PeerId(19)));
        assert!(!pages.shows(PeerId(11)), "the last who never spoke");
        assert!(pages.shows(PeerId(3)), "who spoke stays");
        // Everyone on page one has spoken now, 3 longest ago: 3 makes way next.
        for peer in (1..=10).filter(|&p| p != 3) {
            pages.speaking(&[PeerId(peer)]);
        }
        pages.speaking(&[PeerId(18)]);
        assert!(pages.shows(PeerId(18)));
        assert!(!pages.shows(PeerId(3)));
        // On the page shown already: nothing moves.
        let before = shown(&pages);
        pages.speaking(&[PeerId(18)]);
        assert_eq!(shown(&pages), before);
    }

    #[test]
    fn two_speakers_off_the_page_do_not_push_each_other_off() {
        let mut pages = Pages::default();
        pages.present(&people(1..25));
        pages.speaking(&[PeerId(20), PeerId(24)]);
        assert!(pages.shows(PeerId(20)) && pages.shows(PeerId(24)));
        pages.next();
        pages.speaking(&[PeerId(1)]);
        assert!(pages.shows(PeerId(1)), "on page two as well, when that is the one shown");
    }

    #[test]
    fn a_page_turned_to_while_someone_talks_on_stays_until_someone_starts() {
        let mut pages = Pages::default();
        pages.present(&people(1..15));
        pages.speaking(&[PeerId(14)]);
        assert!(pages.shows(PeerId(14)));
        pages.next();
        pages.speaking(&[PeerId(14)]);
        assert!(!pages.shows(PeerId(14)), "still talking: not brought along");
        pages.speaking(&[]);
        pages.speaking(&[PeerId(14)]);
        assert!(pages.shows(PeerId(14)), "a new start is");
    }
}
