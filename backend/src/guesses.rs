//! Wrong room passwords, counted per address and per room, with waits that
//! grow: one address (or many against one room) cannot try passwords faster
//! than a person would type them. Pure (the clock is an argument), so the
//! schedule is tested without waiting.
//!
//! Only joins that carry a password are judged here, so the members of a
//! locked room, and anyone joining an open one, never wait on an attacker.

use crate::per_ip::client_key;
use shared::RoomName;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Wrong passwords from one address before it has to wait: a person's typos.
const FREE_PER_ADDRESS: u32 = 3;
/// Wrong passwords for one room, from anywhere, before every guess at it
/// waits: enough for a few people's typos at once.
const FREE_PER_ROOM: u32 = 10;
/// The first wait; each further failure doubles it...
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// ...up to this for an address,
const MAX_WAIT_ADDRESS: Duration = Duration::from_secs(60);
/// and this for a room (its rightful joiners wait too, so it stays short).
const MAX_WAIT_ROOM: Duration = Duration::from_secs(10);
/// Failures are forgotten after this long without a new one.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Addresses (and rooms) remembered at most, so a spray of addresses cannot
/// grow the map without bound; the quietest are forgotten first.
const REMEMBERED: usize = 65_536;

/// Failures of one address or one room.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    /// No guess is judged before this.
    until: Instant,
}

#[derive(Debug)]
struct Tally<K> {
    free: u32,
    max_wait: Duration,
    records: HashMap<K, Record>,
}

impl<K: Hash + Eq + Clone> Tally<K> {
    fn new(free: u32, max_wait: Duration) -> Self {
        Self { free, max_wait, records: HashMap::new() }
    }

    /// How long `key` must still wait, if at all.
    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        let record = self.records.get(key)?;
        (record.until > now && now.duration_since(record.last) < FORGET_AFTER).then(|| record.until - now)
    }

    fn failed(&mut self, key: &K, now: Instant) {
        if self.records.len() >= REMEMBERED && !self.records.contains_key(key) {
            self.forget_old(now);
        }
        let fresh = Record { failures: 0, last: now, until: now };
        let record = self.records.entry(key.clone()).or_insert(fresh);
        if now.duration_since(record.last) >= FORGET_AFTER {
            *record = fresh;
        }
        record.failures += 1;
        record.last = now;
        if let Some(over) = record.failures.checked_sub(self.free + 1) {
            // 1 s, 2 s, 4 s, ... capped; `over` is capped before the shift.
            let wait = FIRST_WAIT.saturating_mul(1 << over.min(16)).min(self.max_wait);
            record.until = now + wait;
        }
    }

    /// Drops what has been forgotten anyway, or else the quietest half.
    fn forget_old(&mut self, now: Instant) {
        self.records.retain(|_, r| now.duration_since(r.last) < FORGET_AFTER);
        if self.records.len() >= REMEMBERED {
            let mut lasts: Vec<Instant> = self.records.values().map(|r| r.last).collect();
            let (_, median, _) = lasts.select_nth_unstable(REMEMBERED / 2);
            let median = *median;
            self.records.retain(|_, r| r.last > median);
        }
    }
}

/// What [`Guesses::check`] says about a join with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Judge the password.
    Try,
    /// Too many wrong ones lately: refuse without judging it.
    Wait(Duration),
}

#[derive(Debug)]
pub struct Guesses {
    addresses: Tally<IpAddr>,
    rooms: Tally<RoomName>,
}

impl Default for Guesses {
    fn default() -> Self {
        Self {
            addresses: Tally::new(FREE_PER_ADDRESS, MAX_WAIT_ADDRESS),
            rooms: Tally::new(FREE_PER_ROOM, MAX_WAIT_ROOM),
        }
    }
}

impl Guesses {
    /// May `ip` (if known) try a password for `room` now?
    pub fn check(&self, ip: Option<IpAddr>, room: &RoomName, now: Instant) -> Verdict {
        let by_address = ip.and_then(|ip| self.addresses.wait(&client_key(ip), now));
        match by_address.max(self.rooms.wait(room, now)) {
            Some(wait) => Verdict::Wait(wait),
            None => Verdict::Try,
        }
    }

    /// `ip` gave a wrong password for `room`.
    pub fn failed(&mut self, ip: Option<IpAddr>, room: &RoomName, now: Instant) {
        if let Some(ip) = ip {
            self.addresses.failed(&client_key(ip), now);
        }
        self.rooms.failed(room, now);
    }
}

/// What a guesser who must wait is told, in the refusal and in the close
/// frame alike: whole seconds, at least one.
pub fn try_again_in(wait: Duration) -> String {
    format!("too many wrong passwords: try again in {} s", wait.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    /// Guesses as fast as the schedule allows; returns the time it took.
    fn guess_fast(guesses: &mut Guesses, ip: IpAddr, room: &RoomName, n: u32, start: Instant) -> Duration {
        let mut now = start;
        for _ in 0..n {
            if let Verdict::Wait(wait) = guesses.check(Some(ip), room, now) {
                now += wait;
            }
            assert_eq!(guesses.check(Some(ip), room, now), Verdict::Try);
            guesses.failed(Some(ip), room, now);
        }
        now - start
    }

    #[test]
    fn a_persons_typos_never_wait() {
        let mut guesses = Guesses::default();
        let (now, r) = (Instant::now(), room("r"));
        assert_eq!(guess_fast(&mut guesses, A, &r, FREE_PER_ADDRESS, now), Duration::ZERO);
        guesses.failed(Some(A), &r, now);
        assert_eq!(guesses.check(Some(A), &r, now), Verdict::Wait(FIRST_WAIT));
    }

    #[test]
    fn a_thousand_guesses_from_one_address_take_far_more_than_a_minute() {
        let mut guesses = Guesses::default();
        let took = guess_fast(&mut guesses, A, &room("r"), 1000, Instant::now());
        assert!(took >= Duration::from_secs(60 * 60), "{took:?}");
    }

    #[test]
    fn waits_double_up_to_the_cap() {
        let mut guesses = Guesses::default();
        let (start, r) = (Instant::now(), room("r"));
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..FREE_PER_ADDRESS + 9 {
            if let Verdict::Wait(wait) = guesses.check(Some(A), &r, now) {
                waits.push(wait.as_secs());
                now += wait;
            }
            // Spread over rooms, so only the address's record binds.
            guesses.failed(Some(A), &room(&format!("r{}", waits.len())), now);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn many_addresses_against_one_room_are_slowed_too() {
        let mut guesses = Guesses::default();
        let (now, r) = (Instant::now(), room("locked"));
        for i in 0..=FREE_PER_ROOM {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(guesses.check(Some(ip), &r, now), Verdict::Try);
            guesses.failed(Some(ip), &r, now);
        }
        assert_eq!(guesses.check(Some(B), &r, now), Verdict::Wait(FIRST_WAIT));
        assert_eq!(guesses.check(Some(B), &room("other"), now), Verdict::Try, "other rooms are not");
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_while() {
        let mut guesses = Guesses::default();
        let (start, r) = (Instant::now(), room("r"));
        guess_fast(&mut guesses, A, &r, FREE_PER_ADDRESS + 3, start);
        let later = start + FORGET_AFTER + Duration::from_secs(120);
        assert_eq!(guesses.check(Some(A), &r, later), Verdict::Try);
        guesses.failed(Some(A), &r, later);
        assert_eq!(guesses.check(Some(A), &r, later), Verdict::Try, "counting starts again");
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let mut guesses = Guesses::default();
        let (now, r) = (Instant::now(), room("r"));
        for i in 0..=FREE_PER_ADDRESS {
            let ip: IpAddr = format!("2001:db8::{i}").parse().unwrap();
            guesses.failed(Some(ip), &r, now);
        }
        let next: IpAddr = "2001:db8::ffff".parse().unwrap();
        assert!(matches!(guesses.check(Some(next), &r, now), Verdict::Wait(_)));
        let elsewhere: IpAddr = "2001:db8:1::1".parse().unwrap();
        assert_eq!(guesses.check(Some(elsewhere), &room("s"), now), Verdict::Try);
    }

    #[test]
    fn memory_is_bounded_whatever_the_spray() {
        let mut guesses = Guesses::default();
        let now = Instant::now();
        for i in 0..(REMEMBERED as u32 * 2) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            guesses.failed(Some(ip), &room("r"), now + Duration::from_millis(i.into()));
        }
        assert!(guesses.addresses.records.len() <= REMEMBERED);
    }
}
