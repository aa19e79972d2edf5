//! What nodes say to each other over Redis pub/sub, and the order check
//! that keeps a message from being delivered twice or out of order.
//!
//! Each node listens on a channel of its own. Everything one node sends
//! another is numbered in one series per (sender's run, receiver), so the
//! receiver can drop what it has seen, and can tell when something was lost
//! (Redis was down in between): pub/sub does not store what it could not
//! deliver.

use shared::{ClientMsg, PeerId, RoomName, RoomStatus, ServerMsg};
use std::collections::HashMap;
use std::net::IpAddr;

/// One message between nodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Envelope {
    /// The sending node's id.
    pub from: String,
    /// The sender's run: a node restarted with the same id numbers afresh.
    pub run: u64,
    /// 1, 2, 3... for each receiver, within `run`.
    pub seq: u64,
    pub body: Body,
}

/// A member's connection lives on one node (its "home"); its room lives on
/// another (the "owner"). `conn` is the connection's id on its home node.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// Home → owner: what the member said.
    Said { conn: PeerId, ip: Option<IpAddr>, msg: ClientMsg },
    /// Home → owner: the connection ended; `keep_seat` as for a local one,
    /// with what its queue still held, for the seat to have on resume.
    Ended { conn: PeerId, keep_seat: bool, unsent: Vec<ServerMsg> },
    /// Owner → home: for the member.
    Told { conn: PeerId, msg: ServerMsg },
    /// Owner → home: the owner ended the connection.
    Kicked { conn: PeerId, kick: RemoteKick },
    /// Any node → owner: how full is `room`?
    Ask { id: u64, room: RoomName },
    /// Owner → the asker.
    Status { id: u64, status: RoomStatus },
}

/// [`crate::hub::Kick`], as it crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteKick {
    TooSlow,
    Replaced,
    TooManyAttempts {
        wait_ms: u64,
    },
    /// Reconnect (and resume): the node serving it is gone, or messages
    /// between the two were lost.
    Moved,
}

/// The channel node `node` listens on.
pub fn channel(node: &str) -> String {
    format!("moim:node:{node}")
}

/// What the receiver makes of an envelope's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The next one: deliver it.
    Next,
    /// Deliver it, but `missed` before it never came (Redis dropped them).
    AfterGap { missed: u64 },
    /// Already delivered, or older than what was: drop it.
    Again,
}

/// The last number seen from each sender's run (an entry per node start:
/// small, and kept so a stale run's late messages are still dropped).
#[derive(Debug, Default)]
pub struct Order {
    last: HashMap<(String, u64), u64>,
}

impl Order {
    pub fn see(&mut self, from: &str, run: u64, seq: u64) -> Seen {
        let last = self.last.entry((from.to_owned(), run)).or_insert(0);
        if seq <= *last {
            return Seen::Again;
        }
        let missed = seq - *last - 1;
        *last = seq;
        if missed == 0 {
            Seen::Next
        } else {
            Seen::AfterGap { missed }
        }
    }
}

/// The numbers one node gives what it sends each receiver.
#[derive(Debug, Default)]
pub struct Numbering {
    next: HashMap<String, u64>,
}

impl Numbering {
    pub fn next(&mut self, to: &str) -> u64 {
        let n = self.next.entry(to.to_owned()).or_insert(0);
        *n += 1;
        *n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_run_per_receiver_and_the_receiver_drops_repeats() {
        let mut numbering = Numbering::default();
        assert_eq!((numbering.next("a"), numbering.next("a"), numbering.next("b")), (1, 2, 1));
        let mut order = Order::default();
        assert_eq!(order.see("x", 7, 1), Seen::Next);
        assert_eq!(order.see("x", 7, 2), Seen::Next);
        assert_eq!(order.see("x", 7, 2), Seen::Again, "delivered twice");
        assert_eq!(order.see("x", 7, 1), Seen::Again, "out of order");
        assert_eq!(order.see("x", 7, 5), Seen::AfterGap { missed: 2 });
        assert_eq!(order.see("x", 8, 1), Seen::Next, "a restarted sender numbers afresh");
        assert_eq!(order.see("y", 7, 1), Seen::Next, "each sender has its own series");
    }

    #[test]
    fn an_envelope_crosses_as_json_and_back() {
        let envelope = Envelope {
            from: "n1".into(),
            run: 3,
            seq: 9,
            body: Body::Said { conn: PeerId(4), ip: None, msg: ClientMsg::join("r", "Ana") },
        };
        let text = serde_json::to_string(&envelope).unwrap();
        assert_eq!(serde_json::from_str::<Envelope>(&text).unwrap(), envelope);
        let told = Envelope { body: Body::Told { conn: PeerId(4), msg: ServerMsg::UseSfu }, ..envelope };
        let text = serde_json::to_string(&told).unwrap();
        assert_eq!(serde_json::from_str::<Envelope>(&text).unwrap(), told);
    }
}
