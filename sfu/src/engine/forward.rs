//! What the engine does with a publisher's media: offers it to the room,
//! forwards each packet to the connected subscribers, asks publishers for
//! keyframes, and tells the rooms who speaks.

use super::{Engine, SPEAKING_TICK};
use crate::metrics::Metrics;
use crate::session::{OutState, Published};
use crate::Event;
use shared::PeerId;
use std::time::Instant;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind};

impl Engine {
    /// Offers the others in the room what `peer` newly publishes.
    pub(super) fn announce(&mut self, peer: PeerId) {
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        let tracks = session.take_unannounced();
        self.announce_tracks(peer, tracks);
    }

    pub(super) fn announce_tracks(&mut self, peer: PeerId, tracks: Vec<Published>) {
        let Some(room) = self.sessions.get(&peer).filter(|_| !tracks.is_empty()).map(|s| s.room.clone()) else {
            return;
        };
        for other in self.rooms.get(&room).into_iter().flatten().copied().collect::<Vec<_>>() {
            if let Some(subscriber) = self.sessions.get_mut(&other).filter(|_| other != peer) {
                for &track in &tracks {
                    subscriber.forward_from(peer, track);
                }
                self.dirty.push(other);
            }
        }
    }

    pub(super) fn forward(&mut self, peer: PeerId, data: MediaData, now: Instant) {
        let cap = self.config.max_member_kbps;
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        if let Some(screen) = session.sending(data.mid) {
            // A share began: the others are offered it, and their answers ask for a keyframe.
            self.announce_tracks(peer, vec![screen]);
        }
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        let Some(track) = session.source_of(data.mid) else { return };
        let (kind, room) = (track.kind, session.room.clone());
        if kind == MediaKind::Audio {
            if let Some(level) = data.ext_vals.audio_level {
                self.speaking.entry(room.clone()).or_default().heard(peer, level, now);
            }
        } else {
            if !data.contiguous {
                self.keyframe(peer, data.mid, KeyframeRequestKind::Fir, now);
            }
            let Some(session) = self.sessions.get_mut(&peer) else { return };
            if session.settle_keyframe(data.mid, data.is_keyframe(), now) {
                Metrics::add(&self.metrics.keyframe_requests, 1);
            }
            if !session.within_cap(data.data.len(), cap, now) {
                session.capped = true;
                Metrics::add(&self.metrics.over_cap_frames, 1);
                return;
            }
            if std::mem::take(&mut session.capped) {
                self.keyframe(peer, data.mid, KeyframeRequestKind::Pli, now);
            }
        }
        let members: Vec<PeerId> = self.rooms.get(&room).into_iter().flatten().copied().collect();
        for other in members {
            if other == peer {
                continue;
            }
            // Not before it is connected: str0m would queue the frames (and
            // search that queue on each write) to burst them out stale later;
            // once connected it asks for a keyframe and starts from that.
            let Some(subscriber) = self.sessions.get_mut(&other).filter(|s| s.connected) else { continue };
            self.touching = Some(other);
            let mid = subscriber.tracks_out.iter().find_map(|t| match t.state {
                OutState::Open(mid) if t.origin == peer && t.origin_mid == data.mid => Some(mid),
                _ => None,
            });
            let Some(writer) = mid.and_then(|mid| subscriber.rtc.writer(mid)) else { continue };
            let Some(pt) = writer.match_params(data.params) else { continue };
            match writer.write(pt, data.network_time, data.time, data.data.clone()) {
                Ok(()) => {
                    Metrics::add(&self.metrics.frames_forwarded, 1);
                    Metrics::add(&self.metrics.bytes_forwarded, data.data.len() as u64);
                }
                Err(e) => tracing::debug!(%other, "forwarding failed: {e}"),
            }
            self.dirty.push(other);
        }
    }

    pub(super) fn keyframe(&mut self, origin: PeerId, mid: str0m::media::Mid, kind: KeyframeRequestKind, now: Instant) {
        // A publisher not connected yet starts with a keyframe anyway; a
        // request now would only hold off the next one for a second.
        if let Some(publisher) = self.sessions.get_mut(&origin).filter(|p| p.connected) {
            if publisher.request_keyframe(mid, kind, now) {
                Metrics::add(&self.metrics.keyframe_requests, 1);
                self.dirty.push(origin);
            }
        }
    }

    pub(super) fn tell_speakers(&mut self, now: Instant) {
        if now < self.next_speaking {
            return;
        }
        self.next_speaking = now + SPEAKING_TICK;
        for (room, speaking) in &mut self.speaking {
            if let Some(peers) = speaking.changed(now) {
                (self.emit)(Event::Speaking { room: room.clone(), peers });
            }
        }
    }
}
