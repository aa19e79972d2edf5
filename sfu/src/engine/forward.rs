//! What the engine does with a publisher's media: offers it to the room,
//! forwards each packet to the connected subscribers, asks publishers for
//! keyframes, and tells the rooms who speaks.

use super::{Engine, SPEAKING_TICK};
use crate::layers::{self, Feed, Layers};
use crate::metrics::Metrics;
use crate::session::{OutState, Published};
use crate::Event;
use shared::PeerId;
use std::collections::BTreeSet;
use std::time::Instant;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Mid};

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
        let Some(track) = session.tracks_in.iter_mut().find(|t| t.mid == data.mid) else { return };
        let (kind, room) = (track.kind, session.room.clone());
        let keyframe = data.is_keyframe();
        let mut layer = 0;
        if kind == MediaKind::Audio {
            if let Some(level) = data.ext_vals.audio_level {
                self.speaking.entry(room.clone()).or_default().heard(peer, level, now);
            }
        } else {
            let size = keyframe.then(|| layers::vp8_size(&data.data)).flatten();
            layer = track.layers.heard(data.rid, size, data.data.len(), now);
            let size_unknown = track.layers.get(layer).is_some_and(|l| l.size.is_none());
            if !data.contiguous || size_unknown {
                // A layer whose size is unknown cannot be picked: its next keyframe tells.
                self.keyframe(peer, data.mid, Some(layer), KeyframeRequestKind::Fir, now);
            }
            let Some(session) = self.sessions.get_mut(&peer) else { return };
            Metrics::add(&self.metrics.keyframe_requests, session.settle_keyframe(data.mid, layer, keyframe, now));
            if !session.within_cap(data.data.len(), cap, now) {
                session.capped = true;
                Metrics::add(&self.metrics.over_cap_frames, 1);
                return;
            }
            if std::mem::take(&mut session.capped) {
                self.keyframe(peer, data.mid, None, KeyframeRequestKind::Pli, now);
            }
        }
        // Out of the publisher while its subscribers' feeds read them (another entry of `sessions`).
        let layers = self.take_layers(peer, data.mid);
        let mut asks = BTreeSet::new();
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
            let Some(track) = subscriber.tracks_out.iter_mut().find(|t| t.origin == peer && t.origin_mid == data.mid)
            else {
                continue;
            };
            let OutState::Open(mid) = track.state else { continue };
            let time = match kind {
                MediaKind::Audio => data.time,
                MediaKind::Video => {
                    let verdict = track.feed.on_frame(&layers, layer, keyframe, data.time, now);
                    asks.extend(verdict.ask);
                    let Some(time) = verdict.send else { continue };
                    time
                }
            };
            let Some(writer) = subscriber.rtc.writer(mid) else { continue };
            let Some(pt) = writer.match_params(data.params) else { continue };
            match writer.write(pt, data.network_time, time, data.data.clone()) {
                Ok(()) => {
                    Metrics::add(&self.metrics.frames_forwarded, 1);
                    Metrics::add(&self.metrics.bytes_forwarded, data.data.len() as u64);
                }
                Err(e) => tracing::debug!(%other, "forwarding failed: {e}"),
            }
            self.dirty.push(other);
        }
        self.put_layers(peer, data.mid, layers);
        for layer in asks {
            self.keyframe(peer, data.mid, Some(layer), KeyframeRequestKind::Pli, now);
        }
    }

    /// Asks `origin` for a keyframe of `mid`'s `layer` (None: every layer).
    pub(super) fn keyframe(
        &mut self,
        origin: PeerId,
        mid: Mid,
        layer: Option<usize>,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        // A publisher not connected yet starts with a keyframe anyway; a
        // request now would only hold off the next one for a second.
        if let Some(publisher) = self.sessions.get_mut(&origin).filter(|p| p.connected) {
            let sent = publisher.request_keyframe(mid, layer, kind, now);
            if sent > 0 {
                Metrics::add(&self.metrics.keyframe_requests, sent);
                self.dirty.push(origin);
            }
        }
    }

    /// A subscriber starts on `origin`'s `mid`: the layer it will be sent starts from a keyframe.
    pub(super) fn refresh(&mut self, origin: PeerId, mid: Mid, feed: Feed, now: Instant) {
        let layer = self.layers(origin, mid).and_then(|layers| feed.layer_to_refresh(layers, now));
        self.keyframe(origin, mid, layer, KeyframeRequestKind::Pli, now);
    }

    /// The layers of `origin`'s `mid`.
    pub(super) fn layers(&self, origin: PeerId, mid: Mid) -> Option<&Layers> {
        let publisher = self.sessions.get(&origin)?;
        publisher.tracks_in.iter().find(|t| t.mid == mid).map(|t| &t.layers)
    }

    fn take_layers(&mut self, origin: PeerId, mid: Mid) -> Layers {
        let track = self.sessions.get_mut(&origin).and_then(|p| p.tracks_in.iter_mut().find(|t| t.mid == mid));
        track.map(|t| std::mem::take(&mut t.layers)).unwrap_or_default()
    }

    fn put_layers(&mut self, origin: PeerId, mid: Mid, layers: Layers) {
        let track = self.sessions.get_mut(&origin).and_then(|p| p.tracks_in.iter_mut().find(|t| t.mid == mid));
        if let Some(track) = track {
            track.layers = layers;
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
            // Every tick, not only on a change: tracks opened since are told too.
            for member in self.rooms.get(room).into_iter().flatten() {
                if let Some(session) = self.sessions.get_mut(member) {
                    session.speakers_are(speaking.speakers());
                }
            }
        }
    }
}
