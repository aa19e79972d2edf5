//! Who is speaking: their voice level, read every [`SPEAKING_POLL_MS`] for
//! the tile's highlight (in a mesh; on the media server, the server says).

use super::Inner;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::call::ConnectionState;

/// How often remote voice levels are read for the speaking highlight.
pub(super) const SPEAKING_POLL_MS: u32 = 250;

impl Inner {
    pub(super) fn poll_speaking(&self) {
        // On the media server, the server says who speaks (`Speaking`).
        if self.call.borrow().sfu().on() {
            return;
        }
        for (peer, pc) in self.peers.borrow().iter() {
            let Some(tile) = self.view.tile(*peer) else { continue };
            // Nobody is heard before the call connects, and reading the
            // stats of one that is setting up would slow it down.
            if tile.connection.get_untracked() != ConnectionState::Connected {
                continue;
            }
            let pc = pc.clone();
            spawn_local(async move {
                let speaking = pc.audio_level().await > crate::media::SPEAKING;
                // The tile may have gone (its signals with it) while the stats were read.
                // (Writes to a disposed signal do nothing; reads would panic.)
                tile.speaking.maybe_update(|was| std::mem::replace(was, speaking) != speaking);
            });
        }
    }
}
