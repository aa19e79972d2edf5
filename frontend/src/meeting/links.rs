//! Each tile's connection details and weak-connection icon: every
//! `shared::link::POLL_MS` a reading of each connection's stats (in a mesh,
//! the member's own connection; on the media server, the one to the server,
//! split by the tracks each tile plays), followed by a `shared::link::Tracker`.

use super::Inner;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::call::ConnectionState;
use shared::link::Report;
use shared::PeerId;
use std::rc::Rc;

impl Inner {
    pub(super) fn poll_links(self: &Rc<Self>) {
        self.links.borrow_mut().retain(|peer, _| self.view.tile(*peer).is_some());
        let weak = Rc::downgrade(self);
        let on_sfu = self.call.borrow().sfu().on();
        if let Some(sfu) = self.sfu.borrow().clone().filter(|_| on_sfu) {
            spawn_local(async move {
                let Some(report) = sfu.report().await else { return };
                let Some(inner) = weak.upgrade() else { return };
                let shown = inner.sfu_shown.borrow().clone();
                for (peer, tracks) in shown {
                    inner.take_reading(peer, report.for_tracks(|track| tracks.iter().any(|t| t == track)));
                }
            });
            return;
        }
        for (&peer, pc) in self.peers.borrow().iter() {
            // As the speaking poll: not while the call sets up.
            let connected =
                self.view.tile(peer).is_some_and(|t| t.connection.get_untracked() == ConnectionState::Connected);
            if !connected {
                continue;
            }
            let (pc, weak) = (pc.clone(), weak.clone());
            spawn_local(async move {
                let Some(report) = pc.report().await else { return };
                if let Some(inner) = weak.upgrade() {
                    inner.take_reading(peer, report);
                }
            });
        }
    }

    fn take_reading(&self, peer: PeerId, report: Report) {
        // The tile may have gone while the stats were read (writes then do nothing).
        let Some(tile) = self.view.tile(peer) else { return };
        let mut links = self.links.borrow_mut();
        let tracker = links.entry(peer).or_default();
        let details = tracker.read(report);
        let weak = tracker.weak();
        tile.weak.maybe_update(|was| std::mem::replace(was, weak) != weak);
        if details.is_some() {
            tile.link.set(details);
        }
    }
}
