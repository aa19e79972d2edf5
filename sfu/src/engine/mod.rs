//! The SFU's thread: reads the sockets and the rooms' commands, gives each
//! session its packets and its time, and forwards what publishers send.
//!
//! Packets are matched to sessions by their source address (a map); only a
//! source never seen is offered to the sessions (its first STUN check names
//! the session's ICE credentials). Only sessions whose timer is due are woken.

use crate::metrics::Metrics;
use crate::nominate;
use crate::session::{Session, Way};
use crate::sockets::{Sockets, WAKER};
use crate::speaking::Speaking;
use crate::{Command, Config, Event, SdpError};
use shared::PeerId;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::bwe::BweKind;
use str0m::config::CryptoProvider;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event as RtcEvent, Input, Output};

mod bandwidth;
mod forward;

/// Who is speaking is told at most this often.
const SPEAKING_TICK: Duration = Duration::from_millis(200);
/// The longest the thread sleeps with nothing due.
const IDLE: Duration = Duration::from_millis(500);
/// Packets read from a socket in one turn. Under load a socket never runs
/// dry: read to the end, it would hold off the rooms' commands (a newcomer's
/// offer) and every session's timers (str0m sends what is queued and resends on
/// them) for as long as the load lasts.
const READ_TURN: usize = 16;

pub(crate) struct Engine {
    config: Config,
    sockets: Sockets,
    candidates: Vec<Candidate>,
    crypto: Arc<CryptoProvider>,
    commands: Receiver<Command>,
    emit: Box<dyn FnMut(Event) + Send>,
    metrics: Arc<Metrics>,
    sessions: HashMap<PeerId, Session>,
    rooms: HashMap<String, Vec<PeerId>>,
    by_addr: HashMap<SocketAddr, PeerId>,
    deadlines: BTreeSet<(Instant, PeerId)>,
    speaking: HashMap<String, Speaking>,
    next_speaking: Instant,
    next_share: Instant,
    /// Sessions with output to drain.
    dirty: Vec<PeerId>,
    /// The session being worked on: the one to drop if str0m panics.
    touching: Option<PeerId>,
}

impl Engine {
    pub(crate) fn new(
        config: Config,
        sockets: Sockets,
        commands: Receiver<Command>,
        emit: Box<dyn FnMut(Event) + Send>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let candidates = candidates(&config, sockets.locals());
        Self {
            config,
            sockets,
            candidates,
            crypto: Arc::new(str0m::crypto::from_feature_flags()),
            commands,
            emit,
            metrics,
            sessions: HashMap::new(),
            rooms: HashMap::new(),
            by_addr: HashMap::new(),
            deadlines: BTreeSet::new(),
            speaking: HashMap::new(),
            next_speaking: Instant::now(),
            next_share: Instant::now(),
            dirty: vec![],
            touching: None,
        }
    }

    pub(crate) fn run(&mut self, mut poll: mio::Poll) {
        if let Err(e) = self.sockets.register(poll.registry()) {
            tracing::error!("media server cannot watch its sockets: {e}");
            return;
        }
        let mut events = mio::Events::with_capacity(256);
        let mut buf = vec![0u8; 2000];
        // Sockets with packets still to read (mio tells of new ones only once).
        let mut unread = vec![false; self.sockets.locals().len()];
        loop {
            let now = Instant::now();
            let next = self.deadlines.first().map(|(at, _)| *at).unwrap_or(now + IDLE).min(self.next_speaking);
            let wait = if unread.contains(&true) { Duration::ZERO } else { next.saturating_duration_since(now) };
            if let Err(e) = poll.poll(&mut events, Some(wait)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    tracing::error!("media server poll failed: {e}");
                    return;
                }
            }
            for event in events.iter() {
                // Each is redone after a panic (which drops the session that
                // panicked): the sockets and the waker only signal once.
                match event.token() {
                    WAKER => loop {
                        match self.guarded(Self::take_commands) {
                            Some(true) => break,
                            Some(false) => return tracing::debug!("media server stopped"),
                            None => continue,
                        }
                    },
                    mio::Token(index) => unread[index] = true,
                }
            }
            // A turn of each socket, then the timers due, then the commands again.
            for (index, more) in unread.iter_mut().enumerate().filter(|(_, more)| **more) {
                *more = loop {
                    if let Some(more) = self.guarded(|engine| engine.read_socket(index, &mut buf)) {
                        break more;
                    }
                };
            }
            while self.guarded(|engine| engine.wake_due(Instant::now())).is_none() {}
            self.tell_speakers(Instant::now());
            self.share_bandwidth(Instant::now());
        }
    }

    /// Runs `work`; if str0m panics in it (its README advises catching
    /// that), only the session it was working on is dropped, not the SFU.
    fn guarded<R>(&mut self, work: impl FnOnce(&mut Self) -> R) -> Option<R> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(self))) {
            Ok(done) => Some(done),
            Err(_) => {
                let culprit = self.touching.take();
                tracing::error!(?culprit, "a media session panicked: dropping it");
                if let Some(peer) = culprit {
                    self.forget(peer);
                    (self.emit)(Event::Closed { peer });
                }
                None
            }
        }
    }

    /// False when the rooms are gone.
    fn take_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(command) => self.command(command),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
            self.drain();
        }
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        self.touching = Some(match &command {
            Command::Offer { peer, .. }
            | Command::Answer { peer, .. }
            | Command::Leave { peer }
            | Command::View { peer, .. } => *peer,
        });
        match command {
            Command::Offer { room, peer, sdp } => match self.sessions.get_mut(&peer) {
                Some(session) if session.room != room => self.refuse(peer, SdpError::OtherRoom),
                Some(session) => match session.accept_offer(&sdp) {
                    Ok(sdp) => {
                        (self.emit)(Event::Answer { peer, sdp });
                        self.announce(peer);
                        self.dirty.push(peer);
                    }
                    Err(error) => self.refuse(peer, error),
                },
                None => match Session::open(
                    peer,
                    room.clone(),
                    &sdp,
                    &self.candidates,
                    &self.crypto,
                    self.config.bandwidth_estimation,
                    now,
                ) {
                    Ok((mut session, sdp)) => {
                        // Everything already published in the room is forwarded to the newcomer.
                        for other in self.rooms.get(&room).into_iter().flatten() {
                            if let Some(publisher) = self.sessions.get(other) {
                                for track in publisher.tracks_in.iter().filter(|t| t.announced) {
                                    session.forward_from(*other, track.published());
                                }
                            }
                        }
                        self.sessions.insert(peer, session);
                        self.rooms.entry(room).or_default().push(peer);
                        self.metrics.sessions.fetch_add(1, Relaxed);
                        (self.emit)(Event::Answer { peer, sdp });
                        self.announce(peer);
                        self.dirty.push(peer);
                    }
                    Err(error) => self.refuse(peer, error),
                },
            },
            Command::View { peer, views } => {
                if let Some(session) = self.sessions.get_mut(&peer) {
                    session.view(&views);
                }
            }
            Command::Answer { peer, sdp } => {
                let Some(session) = self.sessions.get_mut(&peer) else {
                    return self.refuse(peer, SdpError::NoSession);
                };
                match session.accept_answer(&sdp) {
                    Ok(opened) => {
                        // A new subscriber needs a keyframe to start from;
                        // before its DTLS is up, str0m would drop the
                        // keyframe, so the request waits for `Connected`.
                        if session.connected {
                            for (origin, mid, feed) in opened {
                                self.refresh(origin, mid, feed, now);
                            }
                        }
                        self.dirty.push(peer);
                    }
                    Err(error) => self.refuse(peer, error),
                }
            }
            Command::Leave { peer } => self.close(peer),
        }
    }

    fn refuse(&mut self, peer: PeerId, error: SdpError) {
        tracing::debug!(%peer, "media server refused an SDP: {error}");
        Metrics::add(&self.metrics.refused_sdp, 1);
        (self.emit)(Event::Refused { peer, error });
    }

    /// Ends a session at once: its packets are dropped from now on, and the
    /// others stop receiving its tracks.
    fn close(&mut self, peer: PeerId) {
        if let Some(session) = self.sessions.get_mut(&peer) {
            session.rtc.disconnect();
        }
        self.forget(peer);
        self.drain();
    }

    /// Drops a session and every trace of it, without asking it anything.
    fn forget(&mut self, peer: PeerId) {
        let Some(session) = self.sessions.remove(&peer) else { return };
        self.metrics.sessions.fetch_sub(1, Relaxed);
        for addr in &session.addrs {
            self.by_addr.remove(addr);
        }
        if let Some(at) = session.deadline {
            self.deadlines.remove(&(at, peer));
        }
        if let Some(members) = self.rooms.get_mut(&session.room) {
            members.retain(|p| *p != peer);
            for other in members.iter() {
                if let Some(s) = self.sessions.get_mut(other) {
                    s.stop_forwarding(peer);
                }
            }
            if members.is_empty() {
                self.rooms.remove(&session.room);
                self.speaking.remove(&session.room);
            } else {
                self.dirty.extend(members.iter().copied());
            }
        }
        if let Some(speaking) = self.speaking.get_mut(&session.room) {
            speaking.forget(peer);
        }
    }

    /// Reads up to [`READ_TURN`] packets; true if more may be waiting.
    fn read_socket(&mut self, index: usize, buf: &mut [u8]) -> bool {
        let destination = self.sockets.local(index);
        for _ in 0..READ_TURN {
            let (len, source) = match self.sockets.recv(index, buf) {
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) => {
                    // ICMP errors from a departed peer surface here; the socket lives on.
                    tracing::debug!("media socket read: {e}");
                    continue;
                }
            };
            let now = Instant::now();
            let Ok(receive) = Receive::new(Protocol::Udp, source, destination, &buf[..len]) else {
                Metrics::add(&self.metrics.unknown_packets, 1);
                continue;
            };
            let input = Input::Receive(now, receive);
            let mut nomination = None;
            let peer = match self.by_addr.get(&source) {
                Some(peer) => *peer,
                None => {
                    // A new path: its STUN check carries the session's credentials.
                    let Some(peer) = self.sessions.values().find(|s| s.rtc.accepts(&input)).map(|s| s.peer) else {
                        Metrics::add(&self.metrics.unknown_packets, 1);
                        continue;
                    };
                    self.by_addr.insert(source, peer);
                    if let Some(session) = self.sessions.get_mut(&peer) {
                        session.addrs.push(source);
                        if !session.connected {
                            let password = session.rtc.direct_api().local_ice_credentials().pass;
                            nomination = nominate::nominating_copy(&buf[..len], &password, &self.crypto);
                        }
                    }
                    peer
                }
            };
            if let Some(session) = self.sessions.get_mut(&peer) {
                self.touching = Some(peer);
                if let Err(e) = session.rtc.handle_input(input) {
                    tracing::debug!(%peer, "media session input: {e}");
                }
                if let Some(copy) =
                    nomination.as_deref().and_then(|copy| Receive::new(Protocol::Udp, source, destination, copy).ok())
                {
                    if let Err(e) = session.rtc.handle_input(Input::Receive(now, copy)) {
                        tracing::debug!(%peer, "media session nomination: {e}");
                    }
                }
                self.dirty.push(peer);
            }
            self.drain();
        }
        true
    }

    fn wake_due(&mut self, now: Instant) {
        while let Some(&(at, peer)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(session) = self.sessions.get_mut(&peer) {
                self.touching = Some(peer);
                session.deadline = None;
                if let Err(e) = session.rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(%peer, "media session timeout: {e}");
                }
                self.dirty.push(peer);
            }
        }
        self.drain();
    }

    /// Drains every dirty session's output; forwarding dirties others.
    fn drain(&mut self) {
        while let Some(peer) = self.dirty.pop() {
            self.poll_session(peer);
        }
        // What one incoming packet (or timeout) made goes out now, as a batch.
        self.sockets.flush();
    }

    fn poll_session(&mut self, peer: PeerId) {
        self.touching = Some(peer);
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        if let Some((sdp, tracks)) = session.offer_if_needed() {
            (self.emit)(Event::Offer { peer, sdp, tracks });
        }
        loop {
            let Some(session) = self.sessions.get_mut(&peer) else { return };
            if !session.rtc.is_alive() {
                tracing::debug!(%peer, "media session ended");
                (self.emit)(Event::Closed { peer });
                self.close(peer);
                return;
            }
            let output = match session.rtc.poll_output() {
                Ok(output) => output,
                Err(e) => {
                    tracing::debug!(%peer, "media session failed: {e}");
                    session.rtc.disconnect();
                    continue;
                }
            };
            match output {
                Output::Transmit(t) => self.sockets.send(t.source, t.destination, t.contents.into()),
                Output::Timeout(at) => {
                    if let Some(old) = session.deadline.replace(at) {
                        self.deadlines.remove(&(old, peer));
                    }
                    self.deadlines.insert((at, peer));
                    return;
                }
                Output::Event(event) => {
                    self.rtc_event(peer, event);
                    // Forwarding touched others.
                    self.touching = Some(peer);
                }
            }
        }
    }

    fn rtc_event(&mut self, peer: PeerId, event: RtcEvent) {
        let now = Instant::now();
        match event {
            RtcEvent::MediaAdded(added) => {
                let Some(session) = self.sessions.get_mut(&peer) else { return };
                session.published(added.mid, added.kind, added.direction);
                self.announce(peer);
            }
            RtcEvent::RtpPacket(packet) => self.forward(peer, packet, now),
            RtcEvent::KeyframeRequest(request) => {
                // A subscriber asks: the track's publisher is asked in turn.
                let Some(session) = self.sessions.get(&peer) else { return };
                let track = session.tracks_out.iter().find(|t| t.mid() == Some(request.mid));
                if let Some((origin, mid, feed)) = track.map(|t| (t.origin, t.origin_mid, t.feed)) {
                    let layer = self.layers(origin, mid).and_then(|layers| feed.layer_to_refresh(layers, now));
                    self.keyframe(origin, mid, layer, request.kind, now);
                }
            }
            RtcEvent::MediaEgressStats(stats) => {
                let Some(session) = self.sessions.get_mut(&peer) else { return };
                let sent = session.growth(stats.mid, Way::PacketsOut, stats.packets);
                let bytes = session.growth(stats.mid, Way::BytesOut, stats.bytes);
                let nacks = session.growth(stats.mid, Way::NacksIn, stats.nacks);
                Metrics::add(&self.metrics.packets_sent, sent);
                Metrics::add(&self.metrics.nacks, nacks);
                self.downlink_report(peer, &stats, bytes, sent);
            }
            RtcEvent::MediaIngressStats(stats) => {
                let Some(session) = self.sessions.get_mut(&peer) else { return };
                let received = session.growth(stats.mid, Way::PacketsIn, stats.packets);
                let lost = stats.loss.map_or(0.0, |fraction| f64::from(fraction.clamp(0.0, 1.0)) * received as f64);
                Metrics::add(&self.metrics.packets_lost, lost.round() as u64);
                session.lost_upstream(&stats);
            }
            RtcEvent::IceConnectionStateChange(state) => tracing::debug!(%peer, ?state, "media ICE"),
            RtcEvent::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                if let Some(session) = self.sessions.get_mut(&peer) {
                    session.estimate_bps = Some(estimate.as_u64());
                }
            }
            RtcEvent::Connected => {
                let Some(session) = self.sessions.get_mut(&peer) else { return };
                session.connected = true;
                // What was opened before media could flow starts from a keyframe.
                let open: Vec<_> = session.open_video().collect();
                for (origin, mid, feed) in open {
                    self.refresh(origin, mid, feed, now);
                }
            }
            _ => {}
        }
    }
}

/// Host candidates on every socket, and the public address if given.
///
/// ICE-lite offers host candidates only. Behind a 1:1 NAT the public address
/// is offered as one more (as mediasoup's `announcedIp`): members check it,
/// the NAT delivers to a socket's own address, and the check is answered
/// there.
fn candidates(config: &Config, locals: &[SocketAddr]) -> Vec<Candidate> {
    let port = locals.first().map_or(config.port, SocketAddr::port);
    let public = config.public_ip.map(|ip| SocketAddr::new(ip, port));
    locals
        .iter()
        .chain(public.iter())
        .filter_map(|addr| {
            Candidate::host(*addr, "udp").map_err(|e| tracing::warn!(%addr, "not a media candidate: {e}")).ok()
        })
        .collect()
}
