//! Who is speaking, from the audio level each microphone's packets carry
//! (RFC 6464: 0 is the loudest, -127 silence, in dBov). Pure: time is an
//! argument, so `cargo test` plays conversations.

use shared::PeerId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Louder than this (dBov) is voice, not room noise.
pub const VOICE_DBOV: i8 = -50;
/// A speaker stays speaking through pauses this short.
pub const HOLD: Duration = Duration::from_millis(600);

#[derive(Debug, Default)]
pub struct Speaking {
    /// Per member: when voice was last heard, and how loud (smoothed).
    voices: HashMap<PeerId, (Instant, f32)>,
    /// The last list told, so only changes are.
    told: Vec<PeerId>,
}

impl Speaking {
    /// One audio packet's level from `peer`.
    pub fn heard(&mut self, peer: PeerId, dbov: i8, now: Instant) {
        if dbov < VOICE_DBOV {
            return;
        }
        let level = f32::from(dbov);
        let entry = self.voices.entry(peer).or_insert((now, level));
        entry.0 = now;
        entry.1 = 0.8 * entry.1 + 0.2 * level;
    }

    /// The speakers last told, loudest first.
    pub fn speakers(&self) -> &[PeerId] {
        &self.told
    }

    pub fn forget(&mut self, peer: PeerId) {
        self.voices.remove(&peer);
    }

    /// The speakers now, loudest first, when that differs from the last
    /// answer given.
    pub fn changed(&mut self, now: Instant) -> Option<Vec<PeerId>> {
        self.voices.retain(|_, (at, _)| now.saturating_duration_since(*at) < HOLD);
        let mut speakers: Vec<(PeerId, f32)> = self.voices.iter().map(|(p, (_, level))| (*p, *level)).collect();
        speakers.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let speakers: Vec<PeerId> = speakers.into_iter().map(|(p, _)| p).collect();
        // The order among speakers changes with every syllable: only who speaks counts as news.
        let mut sorted = speakers.clone();
        sorted.sort();
        let mut told = self.told.clone();
        told.sort();
        if sorted == told {
            return None;
        }
        self.told = speakers.clone();
        Some(speakers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PeerId = PeerId(1);
    const B: PeerId = PeerId(2);

    #[test]
    fn voice_starts_and_ends_speaking_and_noise_never_does() {
        let start = Instant::now();
        let mut s = Speaking::default();
        s.heard(A, -90, start);
        assert_eq!(s.changed(start), None, "noise is not speech");
        s.heard(A, -20, start);
        assert_eq!(s.changed(start), Some(vec![A]));
        assert_eq!(s.changed(start + Duration::from_millis(100)), None, "told once");
        assert_eq!(s.changed(start + HOLD), Some(vec![]), "silence ends it");
    }

    #[test]
    fn loudest_first_and_a_pause_shorter_than_the_hold_is_not_an_end() {
        let start = Instant::now();
        let mut s = Speaking::default();
        s.heard(A, -40, start);
        s.heard(B, -10, start);
        assert_eq!(s.changed(start), Some(vec![B, A]));
        s.heard(B, -10, start + HOLD / 2);
        s.heard(A, -40, start + HOLD / 2);
        assert_eq!(s.changed(start + HOLD), None);
        s.forget(B);
        assert_eq!(s.changed(start + HOLD), Some(vec![A]));
    }
}
