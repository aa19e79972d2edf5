//! A headless member for the SFU's tests: a str0m `Rtc` as the browser's
//! side, on its own UDP socket on 127.0.0.1, publishing what the browser
//! would (microphone, camera, screen: all sendonly) and recording what the
//! SFU forwards.
#![allow(dead_code)] // Each test binary uses a part.

mod inbox;

use inbox::{Arrival, Inbox};
use shared::{PeerId, SfuTrack, TrackSource};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

/// The simulcast layers a member with layers sends its camera in,
/// smallest first, with the size each one's keyframes say.
pub const LAYERS: [(&str, (u16, u16)); 3] = [("q", (320, 180)), ("h", (640, 360)), ("f", (1280, 720))];

/// A frame received.
pub struct Frame {
    pub peer: PeerId,
    pub source: TrackSource,
    pub data: Vec<u8>,
    pub time: MediaTime,
    /// No packet of the stream was missing before it.
    pub contiguous: bool,
    /// When its first packet reached the member's socket.
    pub arrived: Instant,
}

impl Frame {
    pub fn is_keyframe(&self) -> bool {
        self.data[0] & 1 == 0
    }

    /// The number it carries (see `send_video`).
    pub fn seq(&self) -> u32 {
        let at = if self.is_keyframe() { 10 } else { 3 };
        u32::from_be_bytes(self.data[at..at + 4].try_into().unwrap())
    }

    /// Which of [`LAYERS`] it was sent on.
    pub fn layer(&self) -> usize {
        let at = if self.is_keyframe() { 14 } else { 7 };
        usize::from(self.data[at])
    }
}

pub struct Member {
    pub peer: PeerId,
    rtc: Rtc,
    socket: UdpSocket,
    /// What the socket brought, stamped, through the link (see `inbox.rs`).
    pub inbox: Inbox,
    /// Through the link, not yet due.
    arrived: std::collections::VecDeque<Arrival>,
    local: SocketAddr,
    pending: Option<SdpPendingOffer>,
    /// Our sendonly m-lines: microphone, camera, screen.
    pub mic: Mid,
    pub camera: Mid,
    pub screen: Mid,
    /// Forwarded tracks by the m-line they arrive on.
    pub tracks: HashMap<Mid, SfuTrack>,
    /// Every frame received, in arrival order.
    pub frames: Vec<Frame>,
    pub keyframe_requests: usize,
    /// The layer each keyframe request named, in order (None: the track).
    pub asked: Vec<Option<Rid>>,
    pub connected: bool,
    /// Loses the camera's packets whose sequence number is a multiple of
    /// this (0: none), as a bad network would; their retransmissions (on
    /// another SSRC) get through.
    pub lose_every: u16,
    /// The first media stream seen: the camera's, whose packets are lost.
    lossy_ssrc: Option<[u8; 4]>,
    /// Loses every other camera packet it sends, and every resend: an
    /// uplink whose losses NACKs cannot mend.
    pub loses_sent_video: bool,
    /// The first video stream it sent: the camera's.
    sent_ssrc: Option<[u8; 4]>,
    pub lost: usize,
    /// Bytes of filler in each camera frame.
    pub frame_bytes: usize,
    /// Bytes of filler in each of the [`LAYERS`]' frames (`send_layers`).
    pub layer_bytes: [usize; 3],
    restarting: bool,
}

impl Member {
    /// A member with its offer made: send it as `Command::Offer`.
    pub fn new(peer: u64) -> (Self, String) {
        Self::build(peer, None, Rtc::builder())
    }

    /// The same, numbering its codecs as Firefox does (Opus 109, VP8 120),
    /// not as Chromium and str0m do (111, 96).
    pub fn numbering_like_firefox(peer: u64) -> (Self, String) {
        let mut config = Rtc::builder().clear_codecs();
        let codecs = config.codec_config();
        let opus = FormatParams { min_p_time: Some(10), use_inband_fec: Some(true), ..Default::default() };
        codecs.add_config(109.into(), None, Codec::Opus, Frequency::FORTY_EIGHT_KHZ, Some(2), opus);
        codecs.add_config(120.into(), Some(124.into()), Codec::Vp8, Frequency::NINETY_KHZ, None, Default::default());
        Self::build(peer, None, config)
    }

    /// The same, its camera sent as the three [`LAYERS`].
    pub fn with_layers(peer: u64) -> (Self, String) {
        let mut layers = Simulcast::new();
        for (rid, _) in LAYERS {
            layers.add_send_layer(SimulcastLayer::new(rid));
        }
        Self::build(peer, Some(layers), Rtc::builder())
    }

    fn build(peer: u64, layers: Option<Simulcast>, config: RtcConfig) -> (Self, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = socket.local_addr().unwrap();
        let mut rtc = config.set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags())).build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mic = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let camera = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, layers);
        let screen = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        let member = Self {
            peer: PeerId(peer),
            rtc,
            inbox: Inbox::watch(&socket),
            arrived: Default::default(),
            socket,
            local,
            pending: Some(pending),
            mic,
            camera,
            screen,
            tracks: HashMap::new(),
            frames: vec![],
            keyframe_requests: 0,
            asked: vec![],
            connected: false,
            lose_every: 0,
            loses_sent_video: false,
            sent_ssrc: None,
            lossy_ssrc: None,
            lost: 0,
            frame_bytes: 300,
            layer_bytes: [300; 3],
            restarting: false,
        };
        (member, offer.to_sdp_string())
    }

    pub fn accept_answer(&mut self, sdp: &str) {
        let answer = SdpAnswer::from_sdp_string(sdp).unwrap();
        self.rtc.sdp_api().accept_answer(self.pending.take().unwrap(), answer).unwrap();
        if std::mem::take(&mut self.restarting) {
            self.rtc.add_local_candidate(Candidate::host(self.local, "udp").unwrap());
        }
    }

    /// The network changed: a new socket (a new port), and an offer that
    /// restarts ICE from it. Send it as `Command::Offer`.
    pub fn move_and_restart_ice(&mut self) -> String {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        self.local = socket.local_addr().unwrap();
        // What was on its way to the old address is lost with it.
        self.inbox = Inbox::watch(&socket);
        self.arrived.clear();
        self.socket = socket;
        let mut change = self.rtc.sdp_api();
        change.ice_restart(false);
        let (offer, pending) = change.apply().unwrap();
        // The restart drops the old candidates when the answer is applied: the new one goes in then.
        self.restarting = true;
        self.pending = Some(pending);
        offer.to_sdp_string()
    }

    /// Our offer awaits its answer (the browser's `have-local-offer`).
    pub fn offering(&self) -> bool {
        self.pending.is_some()
    }

    /// The SFU's offer: remember whose each m-line is, and answer.
    pub fn accept_offer(&mut self, sdp: &str, tracks: &[SfuTrack]) -> String {
        let offer = SdpOffer::from_sdp_string(sdp).unwrap();
        let answer = self.rtc.sdp_api().accept_offer(offer).unwrap();
        self.tracks = tracks.iter().map(|t| (Mid::from(t.mid.as_str()), t.clone())).collect();
        answer.to_sdp_string()
    }

    /// Gives the member `for_at_most` of network and time.
    pub fn pump(&mut self, for_at_most: Duration) {
        let until = Instant::now() + for_at_most;
        // What was written since the last pump is packetized on time.
        self.rtc.handle_input(Input::Timeout(Instant::now())).unwrap();
        loop {
            let timeout = loop {
                match self.rtc.poll_output().unwrap() {
                    Output::Transmit(t) => {
                        if !self.loses_sent(&t.contents) {
                            self.socket.send_to(&t.contents, t.destination).unwrap();
                        }
                    }
                    Output::Timeout(at) => break at,
                    Output::Event(event) => self.event(event),
                }
            };
            let now = Instant::now();
            if self.arrived.front().is_some_and(|a| a.at <= now) {
                let Some(Arrival { at, source, data }) = self.arrived.pop_front() else { continue };
                if self.loses(&data) {
                    self.lost += 1;
                    continue;
                }
                let receive = Receive::new(Protocol::Udp, source, self.local, &data).unwrap();
                self.rtc.handle_input(Input::Receive(at, receive)).unwrap();
                continue;
            }
            if now >= until {
                return;
            }
            if now >= timeout {
                self.rtc.handle_input(Input::Timeout(now)).unwrap();
                continue;
            }
            let next = self.arrived.front().map_or(timeout, |a| a.at.min(timeout)).min(until);
            let came = self.inbox.take(next.saturating_duration_since(now));
            self.arrived.extend(came);
        }
    }

    /// Whether the network loses this datagram: a big RTP packet (SRTP
    /// leaves the header readable) of the lossy stream with an unlucky number.
    fn loses(&mut self, datagram: &[u8]) -> bool {
        let Some((ssrc, seq)) = video_header(datagram).filter(|_| self.lose_every != 0 && self.connected) else {
            return false;
        };
        *self.lossy_ssrc.get_or_insert(ssrc) == ssrc && seq.is_multiple_of(self.lose_every)
    }

    fn loses_sent(&mut self, datagram: &[u8]) -> bool {
        let Some((ssrc, seq)) = video_header(datagram).filter(|_| self.loses_sent_video) else { return false };
        *self.sent_ssrc.get_or_insert(ssrc) != ssrc || seq.is_multiple_of(2)
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Connected => self.connected = true,
            Event::MediaData(data) => {
                if let Some(track) = self.tracks.get(&data.mid) {
                    let (peer, source, contiguous) = (track.peer, track.source, data.contiguous);
                    let (time, arrived) = (data.time, data.network_time);
                    self.frames.push(Frame { peer, source, data: data.data.to_vec(), time, contiguous, arrived });
                }
            }
            Event::KeyframeRequest(request) => {
                self.keyframe_requests += 1;
                self.asked.push(request.rid);
            }
            _ => {}
        }
    }

    /// One camera frame carrying `seq`: a VP8 keyframe (320 × 240) or
    /// delta frame header, then the number.
    pub fn send_video(&mut self, seq: u32, keyframe: bool) {
        self.send_video_on(self.camera, seq, keyframe);
    }

    /// The same, on the screen's m-line (a share).
    pub fn send_screen(&mut self, seq: u32, keyframe: bool) {
        self.send_video_on(self.screen, seq, keyframe);
    }

    fn send_video_on(&mut self, mid: Mid, seq: u32, keyframe: bool) {
        let frame = vp8_frame(seq, keyframe, (320, 240), 0, self.frame_bytes);
        self.write(mid, None, Codec::Vp8, MediaTime::from_90khz(u64::from(seq) * 3000), frame, None);
    }

    /// Camera frame `seq` on each of the [`LAYERS`] (a keyframe on each,
    /// or only on `keyframes`), each layer's times from its own start, as
    /// a browser's are.
    pub fn send_layers(&mut self, seq: u32, keyframes: &[usize]) {
        for (index, (rid, size)) in LAYERS.into_iter().enumerate() {
            let frame = vp8_frame(seq, keyframes.contains(&index), size, index as u8, self.layer_bytes[index]);
            let time = MediaTime::from_90khz(u64::from(seq) * 3000 + index as u64 * 7_000_000);
            self.write(self.camera, Some(Rid::from(rid)), Codec::Vp8, time, frame, None);
            // str0m holds only so many frames unsent: each goes out now.
            self.pump(Duration::ZERO);
        }
    }

    /// One microphone frame at `dbov`.
    pub fn send_audio(&mut self, seq: u32, dbov: i8) {
        let time = MediaTime::new(u64::from(seq) * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ);
        self.write(self.mic, None, Codec::Opus, time, vec![0xf8; 60], Some(dbov));
    }

    fn write(&mut self, mid: Mid, rid: Option<Rid>, codec: Codec, time: MediaTime, data: Vec<u8>, dbov: Option<i8>) {
        let mut writer = self.rtc.writer(mid).expect("our m-line");
        if let Some(rid) = rid {
            writer = writer.rid(rid);
        }
        let pt = writer.payload_params().find(|p| p.spec().codec == codec).expect("a negotiated codec").pt();
        let writer = match dbov {
            Some(level) => writer.audio_level(level, true),
            None => writer,
        };
        writer.write(pt, Instant::now(), time, data).unwrap();
    }

    /// The camera frames received from `from`, in arrival order.
    pub fn camera_from(&self, from: PeerId) -> impl Iterator<Item = &Frame> {
        self.frames.iter().filter(move |f| f.peer == from && f.source == TrackSource::Camera)
    }

    /// How many microphone frames came from `from`.
    pub fn audio_from(&self, from: PeerId) -> usize {
        self.frames.iter().filter(|f| f.peer == from && f.source == TrackSource::Microphone).count()
    }

    /// How many camera keyframes came from `from`.
    pub fn keyframes_from(&self, from: PeerId) -> usize {
        self.camera_from(from).filter(|f| f.is_keyframe()).count()
    }

    /// The `seq`s of camera frames received from `from`, in arrival order.
    pub fn video_from(&self, from: PeerId) -> Vec<u32> {
        self.camera_from(from).map(Frame::seq).collect()
    }
}

/// A VP8 frame's header (a keyframe's says `size`), then `seq`, then
/// `marker` and `filler` bytes.
fn vp8_frame(seq: u32, keyframe: bool, size: (u16, u16), marker: u8, filler: usize) -> Vec<u8> {
    let mut frame = if keyframe {
        let [w0, w1] = size.0.to_le_bytes();
        let [h0, h1] = size.1.to_le_bytes();
        vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, w0, w1, h0, h1]
    } else {
        vec![0x11, 0x02, 0x00]
    };
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.push(marker);
    frame.resize(frame.len() + filler, 0xab);
    frame
}

/// The SFU and its members, with the rooms' part (carrying SDP) played here.
pub struct Meeting {
    pub sfu: sfu::Sfu,
    events: std::sync::mpsc::Receiver<sfu::Event>,
    pub members: Vec<Member>,
    /// What the SFU said that the test did not route: refusals, speakers, closes.
    pub told: Vec<sfu::Event>,
    holding: Option<PeerId>,
    pub held: Vec<sfu::Event>,
}

pub const ROOM: &str = "room";

impl Meeting {
    pub fn start() -> Self {
        Self::start_with(sfu::Config::loopback())
    }

    pub fn start_with(config: sfu::Config) -> Self {
        let (tx, events) = std::sync::mpsc::channel();
        let sfu = sfu::Sfu::start(config, move |event| {
            let _ = tx.send(event);
        })
        .unwrap();
        Self { sfu, events, members: vec![], told: vec![], holding: None, held: vec![] }
    }

    /// A member offers; it is in the room once the answer is routed.
    pub fn join(&mut self, peer: u64) {
        self.join_as(Member::new(peer));
    }

    /// The same, its camera in [`LAYERS`].
    pub fn join_with_layers(&mut self, peer: u64) {
        self.join_as(Member::with_layers(peer));
    }

    /// The same, its codecs numbered as Firefox does.
    pub fn join_numbering_like_firefox(&mut self, peer: u64) {
        self.join_as(Member::numbering_like_firefox(peer));
    }

    fn join_as(&mut self, (member, sdp): (Member, String)) {
        self.sfu.send(sfu::Command::Offer { room: ROOM.into(), peer: member.peer, sdp });
        self.members.push(member);
    }

    pub fn member(&mut self, peer: u64) -> &mut Member {
        self.members.iter_mut().find(|m| m.peer == PeerId(peer)).unwrap()
    }

    /// From now on the SFU's offers and answers for `peer` wait in `held`
    /// (its socket is slow) until [`Meeting::release`].
    pub fn hold(&mut self, peer: u64) {
        self.holding = Some(PeerId(peer));
    }

    pub fn release(&mut self) {
        self.holding = None;
        std::mem::take(&mut self.held).into_iter().for_each(|event| self.route(event));
    }

    /// Routes the SFU's SDP and pumps every member until `done` or `limit`.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            while let Ok(event) = self.events.try_recv() {
                self.route(event);
            }
            if done(self) {
                return true;
            }
            for member in &mut self.members {
                member.pump(Duration::from_millis(2));
            }
        }
        false
    }

    fn route(&mut self, event: sfu::Event) {
        if let sfu::Event::Offer { peer, .. } | sfu::Event::Answer { peer, .. } = &event {
            if self.holding == Some(*peer) {
                return self.held.push(event);
            }
        }
        match event {
            sfu::Event::Answer { peer, sdp } => {
                if let Some(m) = self.members.iter_mut().find(|m| m.peer == peer) {
                    m.accept_answer(&sdp);
                }
            }
            sfu::Event::Offer { peer, sdp, tracks } => {
                // As the page does: a member with its own offer out ignores the SFU's (the SFU yields and offers again).
                if let Some(m) = self.members.iter_mut().find(|m| m.peer == peer && !m.offering()) {
                    let sdp = m.accept_offer(&sdp, &tracks);
                    self.sfu.send(sfu::Command::Answer { peer, sdp });
                }
            }
            other => self.told.push(other),
        }
    }

    /// Everyone connected and receiving every other member's camera.
    pub fn all_connected(&self) -> bool {
        let n = self.members.len();
        self.members
            .iter()
            .all(|m| m.connected && m.tracks.values().filter(|t| t.source == TrackSource::Camera).count() == n - 1)
    }
}

/// The SSRC and sequence number of an RTP packet of video (or its
/// resend; audio and RTCP are smaller): SRTP leaves the header readable.
fn video_header(datagram: &[u8]) -> Option<([u8; 4], u16)> {
    if datagram.len() <= 200 || !(128..192).contains(&datagram[0]) || (192..224).contains(&datagram[1]) {
        return None;
    }
    Some((datagram[8..12].try_into().ok()?, u16::from_be_bytes([datagram[2], datagram[3]])))
}
