//! What the engine does with a publisher's media: offers it to the room,
//! forwards each packet to the connected subscribers, asks publishers for
//! keyframes, and tells the rooms who speaks.

use super::{Engine, SPEAKING_TICK};
use crate::layers::{self, Feed, Layers, Packet, Picture};
use crate::metrics::Metrics;
use crate::session::{OutState, Published};
use crate::Event;
use shared::PeerId;
use std::collections::BTreeSet;
use std::time::Instant;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid};
use str0m::rtp::{RtpPacket, RtpWrite, SeqNo, Vp8Descriptor, Vp8Patch};

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

    /// Forwards one RTP packet as it came (its payload shared, not
    /// copied): only its sequence number, time and VP8 picture numbers are
    /// rewritten for each subscriber.
    pub(super) fn forward(&mut self, peer: PeerId, packet: RtpPacket, now: Instant) {
        let cap = self.config.max_member_kbps;
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        let Some((mid, rid)) = session.rtc.direct_api().stream_rx(&packet.header.ssrc).map(|s| (s.mid(), s.rid()))
        else {
            return;
        };
        if let Some(screen) = session.sending(mid) {
            // A share began: the others are offered it, and their answers ask for a keyframe.
            self.announce_tracks(peer, vec![screen]);
        }
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        let Some(track) = session.tracks_in.iter_mut().find(|t| t.mid == mid) else { return };
        let (kind, room) = (track.kind, session.room.clone());
        let payload = &packet.payload;
        let mut descriptor = None;
        let mut layered = None;
        if kind == MediaKind::Audio {
            if let Some(level) = packet.header.ext_vals.audio_level {
                self.speaking.entry(room.clone()).or_default().heard(peer, level, now);
            }
        } else {
            descriptor = Vp8Descriptor::parse(payload).ok();
            let keyframe = descriptor.is_some_and(|d| d.starts_keyframe(payload));
            let frame = layers::vp8_descriptor_len(payload).map(|len| &payload[len..]);
            let size = frame.filter(|_| keyframe).and_then(layers::vp8_size);
            let layer = track.layers.heard(rid, size, payload.len(), now);
            if track.layers.get(layer).is_some_and(|l| l.size.is_none()) {
                // A layer whose size is unknown cannot be picked: its next keyframe tells.
                self.keyframe(peer, mid, Some(layer), KeyframeRequestKind::Fir, now);
            }
            let Some(session) = self.sessions.get_mut(&peer) else { return };
            Metrics::add(&self.metrics.keyframe_requests, session.settle_keyframe(mid, layer, keyframe, now));
            if !session.within_cap(payload.len(), cap, now) {
                session.capped = true;
                Metrics::add(&self.metrics.over_cap_packets, 1);
                return;
            }
            if std::mem::take(&mut session.capped) {
                self.keyframe(peer, mid, None, KeyframeRequestKind::Pli, now);
            }
            let picture = descriptor.and_then(|d| {
                let id = d.picture_id()?;
                // Its first byte, after the descriptor's two, says 15 bits (M).
                let long = payload.get(2).is_some_and(|b| b & 0x80 != 0);
                Some(Picture { id, long, tl0: d.tl0_pic_idx() })
            });
            let seq = *packet.seq_no;
            layered = Some(Packet { layer, keyframe, seq, time: packet.time, picture });
        }
        // Out of the publisher while its subscribers' feeds read them (another entry of `sessions`).
        let layers = self.take_layers(peer, mid);
        let mut asks = BTreeSet::new();
        let members: Vec<PeerId> = self.rooms.get(&room).into_iter().flatten().copied().collect();
        for other in members {
            if other == peer {
                continue;
            }
            // Not before it is connected: str0m would queue the packets to
            // burst them out stale later; once connected it asks for a
            // keyframe and starts from that.
            let Some(subscriber) = self.sessions.get_mut(&other).filter(|s| s.connected) else { continue };
            self.touching = Some(other);
            let Some(track) = subscriber.tracks_out.iter_mut().find(|t| t.origin == peer && t.origin_mid == mid) else {
                continue;
            };
            let OutState::Open(out_mid) = track.state else { continue };
            let (seq, time, patch) = match layered {
                None => (track.feed.pass(*packet.seq_no), packet.header.timestamp, None),
                Some(layered) => {
                    let verdict = track.feed.on_packet(&layers, layered, now);
                    asks.extend(verdict.ask);
                    let Some(out) = verdict.send else { continue };
                    (out.seq, out.time.numer() as u32, descriptor.zip(out.picture).and_then(patch_for))
                }
            };
            let Some(pt) = track.pt else { continue };
            let mut api = subscriber.rtc.direct_api();
            let Some(stream) = api.stream_tx_by_mid(out_mid, None) else { continue };
            let mut write = RtpWrite::new(pt, SeqNo::from(seq), time, packet.timestamp, packet.payload.clone())
                .marker(packet.header.marker)
                .nackable(kind == MediaKind::Video);
            if let Some(patch) = patch {
                write = write.vp8_patch(patch);
            }
            stream.write_rtp(write);
            Metrics::add(&self.metrics.packets_forwarded, 1);
            Metrics::add(&self.metrics.bytes_forwarded, packet.payload.len() as u64);
            self.dirty.push(other);
        }
        self.put_layers(peer, mid, layers);
        for layer in asks {
            self.keyframe(peer, mid, Some(layer), KeyframeRequestKind::Pli, now);
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

/// The VP8 descriptor bytes that give a viewer `picture`'s numbers.
fn patch_for((descriptor, picture): (Vp8Descriptor, Picture)) -> Option<Vp8Patch> {
    let mut patch = descriptor.patch().picture_id(picture.id);
    if let Some(tl0) = picture.tl0 {
        patch = patch.tl0_pic_idx(tl0);
    }
    patch.build().ok()
}
