//! A connection's direct lines to the others in its room. An offer, answer
//! or ICE candidate goes from the sender's task straight into the
//! addressee's queue instead of through the hub task: one task hop and one
//! wake-up fewer per relayed message. The hub lays the lines (who is in the
//! room now, and whose queue serves them) and handles everything else,
//! including any relay a line cannot take.

use crate::queue::Queue;
use shared::{ClientMsg, PeerId};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One connection's lines, shared by its task (which relays on them) and
/// the hub (which lays and cuts them).
#[derive(Debug, Default)]
pub struct Lines(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    /// Who this connection speaks as while it sits in a room: its own id,
    /// or the seat it resumed.
    member: Option<PeerId>,
    /// The room's other connected members, and their queues.
    peers: Vec<(PeerId, Queue)>,
    /// This connection's messages the hub has not handled yet. While there
    /// are any, relays go to the hub behind them, so the room hears each
    /// member in the order it spoke (a relay never overtakes a message that
    /// went through the hub before it).
    at_hub: usize,
}

/// What [`Lines::route`] did with a message.
#[derive(Debug)]
pub enum Routed {
    /// In the addressee's queue.
    Sent,
    /// For the hub to handle, counted until [`Lines::handled`].
    ToHub(ClientMsg),
}

impl Lines {
    /// Sends a relay on its line if there is one and the addressee's queue
    /// has room; anything else goes to the hub, which also knows what to do
    /// about a full queue, a member away or a peer not in the room.
    pub fn route(&self, mut msg: ClientMsg) -> Routed {
        let mut state = self.lock();
        let from = state.member.filter(|_| state.at_hub == 0);
        if let (Some(from), Some(to)) = (from, msg.addressee()) {
            let line = state.peers.iter().find(|(id, _)| *id == to);
            if let Some(permit) = line.and_then(|(_, queue)| queue.try_reserve().ok()) {
                match msg.relayed(from) {
                    Ok((_, stamped)) => {
                        permit.send(Box::new(stamped));
                        return Routed::Sent;
                    }
                    Err(not_a_relay) => msg = not_a_relay,
                }
            }
        }
        state.at_hub += 1;
        Routed::ToHub(msg)
    }

    /// The hub has handled (and delivered) one message that [`Lines::route`] gave it.
    pub fn handled(&self) {
        let mut state = self.lock();
        state.at_hub = state.at_hub.saturating_sub(1);
    }

    /// Lays the lines of `member` to `peers`, replacing any it had.
    pub fn lay(&self, member: PeerId, peers: Vec<(PeerId, Queue)>) {
        let mut state = self.lock();
        state.member = Some(member);
        state.peers = peers;
    }

    /// Cuts every line to a peer `keep` rejects (given the peer and the
    /// queue its line ends in).
    pub fn cut(&self, keep: impl Fn(PeerId, &Queue) -> bool) {
        self.lock().peers.retain(|(id, queue)| keep(*id, queue));
    }

    /// Cuts them all: the connection is out of its room, or the hub dropped
    /// it.
    pub fn cut_all(&self) {
        let mut state = self.lock();
        state.member = None;
        state.peers = Vec::new();
    }

    /// A panic while holding the lock cannot leave the state half-written
    /// (every change is one assignment), so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Outbox;
    use shared::ServerMsg;

    const A: PeerId = PeerId(1);
    const B: PeerId = PeerId(2);

    fn offer(to: PeerId) -> ClientMsg {
        ClientMsg::Offer { to, sdp: "v=0".into() }
    }

    fn to_hub(routed: Routed) -> ClientMsg {
        match routed {
            Routed::ToHub(msg) => msg,
            Routed::Sent => panic!("sent on a line, expected the hub"),
        }
    }

    /// `a`'s lines to `b`, whose queue holds `room` messages.
    fn laid() -> (Lines, Outbox) {
        let (queue, outbox) = crate::queue::queue();
        let lines = Lines::default();
        lines.lay(A, vec![(B, queue)]);
        (lines, outbox)
    }

    #[test]
    fn a_relay_goes_on_its_line_stamped_with_the_member() {
        let (lines, mut b) = laid();
        assert!(matches!(lines.route(offer(B)), Routed::Sent));
        assert_eq!(b.try_recv().map(|m| *m), Ok(ServerMsg::Offer { from: A, sdp: "v=0".into() }));
    }

    #[test]
    fn what_has_no_line_goes_to_the_hub_unchanged() {
        let (lines, mut b) = laid();
        for msg in [offer(PeerId(3)), offer(A), ClientMsg::Leave, ClientMsg::join("r", "n")] {
            assert_eq!(to_hub(lines.route(msg.clone())), msg);
        }
        let unlaid = Lines::default();
        assert_eq!(to_hub(unlaid.route(offer(B))), offer(B), "not in a room: no lines");
        assert!(b.try_recv().is_err());
    }

    #[test]
    fn relays_wait_behind_what_the_hub_has_not_handled() {
        let (lines, mut b) = laid();
        to_hub(lines.route(ClientMsg::Leave));
        to_hub(lines.route(offer(B)));
        lines.handled();
        to_hub(lines.route(offer(B)));
        assert!(b.try_recv().is_err(), "nothing overtook the hub");
        lines.handled();
        lines.handled();
        assert!(matches!(lines.route(offer(B)), Routed::Sent));
    }

    #[test]
    fn a_full_or_closed_queue_is_for_the_hub_to_judge() {
        let (lines, b) = laid();
        let queue = lines.lock().peers[0].1.clone();
        for _ in 1..crate::queue::PEER_QUEUE {
            queue.try_send(Box::new(ServerMsg::Pong)).unwrap();
        }
        assert!(matches!(lines.route(offer(B)), Routed::Sent));
        assert_eq!(to_hub(lines.route(offer(B))), offer(B), "full");
        lines.handled();
        drop(b);
        assert_eq!(to_hub(lines.route(offer(B))), offer(B), "closed");
    }

    #[test]
    fn cut_lines_no_longer_reach() {
        let (lines, mut b) = laid();
        lines.cut(|id, _| id != B);
        to_hub(lines.route(offer(B)));
        lines.handled();
        let (again, _) = laid();
        again.cut_all();
        to_hub(again.route(offer(B)));
        assert!(b.try_recv().is_err());
    }
}
