//! One WebRTC peer connection of the bot: a str0m `Rtc`, its own UDP socket
//! on the server's media address, and a Tokio task that drives it (sans-IO: we own the socket
//! and the clock). It sends synthetic media if it publishes, counts what
//! arrives, and takes SDP to apply through [`Cmd`]s from the signaling side.

use crate::media::{self, Kind, Stamp};
use crate::recv;
use crate::stats::{PeerReport, Receiving, Shared};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::sleep_until;

/// What the signaling side asks of a peer.
pub enum Cmd {
    /// The remote answer to the offer [`start`] returned.
    Answer(String, oneshot::Sender<Result<(), String>>),
    /// A remote offer; the reply is our answer.
    Offer(String, oneshot::Sender<Result<String, String>>),
}

pub struct Peer {
    pub cmds: mpsc::UnboundedSender<Cmd>,
    pub task: JoinHandle<PeerReport>,
    connected: watch::Receiver<bool>,
}

impl Peer {
    /// Waits until ICE and DTLS are up.
    pub async fn connected(&self, within: Duration) -> Result<(), String> {
        let mut rx = self.connected.clone();
        let outcome = tokio::time::timeout(within, rx.wait_for(|&up| up)).await.map(|r| r.is_ok());
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => Err("the peer stopped before it connected".into()),
            Err(_) => Err(format!("ICE/DTLS not up within {within:?}")),
        }
    }

    /// Applies the remote answer to our offer.
    pub async fn answer(&self, sdp: String) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(Cmd::Answer(sdp, tx)).map_err(|_| "the peer has stopped".to_owned())?;
        rx.await.map_err(|_| "the peer has stopped".to_owned())?
    }

    /// Applies a remote offer and returns our answer.
    pub async fn offer(&self, sdp: String) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(Cmd::Offer(sdp, tx)).map_err(|_| "the peer has stopped".to_owned())?;
        rx.await.map_err(|_| "the peer has stopped".to_owned())?
    }

    /// Stops the task (closing its command channel) and returns its counts.
    pub async fn stop(self) -> PeerReport {
        drop(self.cmds);
        self.task.await.unwrap_or_else(|e| PeerReport { error: Some(format!("peer task: {e}")), ..Default::default() })
    }
}

/// Makes a peer. With `offer`, it offers audio then video (the order Moim's
/// SFU expects) and returns that offer; `publisher` makes them sendonly and
/// sends media on them once connected. A listener offers them inactive: it
/// publishes nothing, as a Janus subscriber doesn't, so the SFU gives the
/// others no m-lines of its.
pub async fn start(
    ip: IpAddr,
    publisher: Option<u16>,
    offer: bool,
    shared: Arc<Shared>,
) -> Result<(Peer, Option<String>), String> {
    let socket = UdpSocket::bind((ip, 0)).await.map_err(|e| format!("udp bind: {e}"))?;
    grow_receive_buffer(&socket);
    recv::enable_timestamps(&socket);
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let mut rtc = Rtc::builder().clear_codecs().enable_opus(true, false).enable_vp8(true).build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| format!("candidate: {e}"))?);
    let (mut mids, mut pending, mut sdp) = (None, None, None);
    if offer {
        let mut change = rtc.sdp_api();
        let direction = if publisher.is_some() { Direction::SendOnly } else { Direction::Inactive };
        let audio = change.add_media(MediaKind::Audio, direction, Some("bot".into()), None, None);
        let video = change.add_media(MediaKind::Video, direction, Some("bot".into()), None, None);
        let (offer, p) = change.apply().ok_or("no offer to make")?;
        mids = Some((audio, video));
        pending = Some(p);
        sdp = Some(offer.to_sdp_string());
    }
    let (cmds, rx) = mpsc::unbounded_channel();
    let (up, connected) = watch::channel(false);
    let driver = Driver {
        up,
        last_input: Instant::now(),
        arrival: Instant::now(),
        rtc,
        socket,
        local,
        publisher: publisher.map(|p| Sending::new(p, mids)),
        pending,
        shared,
        receiving: Receiving::default(),
        report: PeerReport::default(),
        connected: false,
    };
    let task = tokio::spawn(driver.run(rx));
    Ok((Peer { cmds, task, connected }, sdp))
}

/// Bytes of receive buffer each bot socket asks for: 2 MiB holds more than a
/// second of what one receiver gets at the largest point, so a bot task that
/// is scheduled late loses nothing and the loss counted is the server's.
const RECEIVE_BUFFER: libc::c_int = 2 << 20;

/// SO_RCVBUFFORCE (as root, past net.core.rmem_max), else SO_RCVBUF (capped
/// by it).
fn grow_receive_buffer(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let size = RECEIVE_BUFFER;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: setsockopt on a socket we own, reading a c_int that lives
    // across the call; a failure leaves the buffer as it was.
    unsafe {
        let value = (&size as *const libc::c_int).cast();
        if libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, value, len) != 0 {
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, value, len);
        }
    }
}

struct Sending {
    publisher: u16,
    mids: Option<(Mid, Mid)>,
    pts: Option<(Pt, Pt)>,
    seq: [u32; 2],
    started: Option<Instant>,
    next_audio: Instant,
    next_video: Instant,
    last_keyframe: Option<Instant>,
    keyframe_asked: bool,
}

impl Sending {
    fn new(publisher: u16, mids: Option<(Mid, Mid)>) -> Sending {
        let now = Instant::now();
        Sending {
            publisher,
            mids,
            pts: None,
            seq: [0; 2],
            started: None,
            next_audio: now,
            next_video: now,
            last_keyframe: None,
            keyframe_asked: false,
        }
    }

    fn next_due(&self) -> Instant {
        self.next_audio.min(self.next_video)
    }
}

struct Driver {
    up: watch::Sender<bool>,
    /// When the last datagram was fed to str0m, and when the kernel had it.
    last_input: Instant,
    arrival: Instant,
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    publisher: Option<Sending>,
    pending: Option<SdpPendingOffer>,
    shared: Arc<Shared>,
    receiving: Receiving,
    report: PeerReport,
    connected: bool,
}

/// Nothing to do for this long: wake anyway (str0m's own timeouts are sooner).
const IDLE: Duration = Duration::from_millis(100);

impl Driver {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>) -> PeerReport {
        let mut buf = vec![0u8; 2000];
        loop {
            let timeout = match self.drain().await {
                Ok(t) => t,
                Err(e) => return self.fail(e),
            };
            if !self.rtc.is_alive() {
                return self.fail("the connection closed".into());
            }
            let mut deadline = timeout.min(Instant::now() + IDLE);
            if let (true, Some(s)) = (self.connected, &self.publisher) {
                if s.pts.is_some() {
                    deadline = deadline.min(s.next_due());
                }
            }
            // Due already: first, so a stream of arriving datagrams (which
            // the select below prefers) never holds up what we send.
            let now = Instant::now();
            if deadline <= now {
                if let Err(e) = self.tick(now) {
                    return self.fail(e);
                }
                continue;
            }
            tokio::select! {
                biased;
                cmd = cmds.recv() => match cmd {
                    None => break,
                    Some(cmd) => self.command(cmd),
                },
                got = recv::recv(&self.socket, &mut buf) => match got {
                    Ok((n, source, at)) => {
                        if let Err(e) = self.receive(&buf[..n], source, at) {
                            return self.fail(e);
                        }
                        // Whatever else is already there, before polling again.
                        for _ in 0..64 {
                            match recv::try_recv(&self.socket, &mut buf) {
                                Ok((n, source, at)) => {
                                    if let Err(e) = self.receive(&buf[..n], source, at) {
                                        return self.fail(e);
                                    }
                                    if let Err(e) = self.drain().await {
                                        return self.fail(e);
                                    }
                                }
                                Err(_) => break,
                            }
                        }
                    }
                    Err(e) => return self.fail(format!("udp recv: {e}")),
                },
                _ = sleep_until(deadline.into()) => {
                    if let Err(e) = self.tick(Instant::now()) {
                        return self.fail(e);
                    }
                }
            }
        }
        self.rtc.disconnect();
        self.report
    }

    /// Moves str0m's clock on and writes the media that is due.
    fn tick(&mut self, now: Instant) -> Result<(), String> {
        self.rtc.handle_input(Input::Timeout(now)).map_err(|e| format!("str0m: {e}"))?;
        self.send_media(now)
    }

    fn fail(mut self, error: String) -> PeerReport {
        self.shared.failed.fetch_add(1, Ordering::Relaxed);
        self.report.error = Some(error);
        self.report
    }

    /// Feeds one datagram that arrived `at` (the kernel's time of receipt).
    fn receive(&mut self, datagram: &[u8], source: SocketAddr, at: Instant) -> Result<(), String> {
        // str0m is fed the time of the read (its clock must not go back);
        // `at` is kept for the delay of what this datagram completes.
        let now = Instant::now();
        self.last_input = now;
        if self.shared.in_window(media::ns_since_epoch(at)) {
            self.report.bytes += datagram.len() as u64;
        }
        let Ok(contents) = datagram.try_into() else {
            return Ok(());
        };
        let input = Input::Receive(now, Receive { proto: Protocol::Udp, source, destination: self.local, contents });
        self.arrival = at;
        self.rtc.handle_input(input).map_err(|e| format!("str0m: {e}"))
    }

    /// Polls str0m until it names its next timeout: sends what it transmits,
    /// handles its events.
    async fn drain(&mut self) -> Result<Instant, String> {
        loop {
            match self.rtc.poll_output().map_err(|e| format!("str0m: {e}"))? {
                Output::Timeout(t) => return Ok(t),
                Output::Transmit(t) => {
                    if self.socket.try_send_to(&t.contents, t.destination).is_err() {
                        // The socket's buffer is full: wait for room once.
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                }
                Output::Event(event) => self.event(event),
            }
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Connected => {
                self.connected = true;
                let _ = self.up.send(true);
                self.shared.connected.fetch_add(1, Ordering::Relaxed);
            }
            // Left to str0m: it may recover (consent checks go on), or close.
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => self.report.ice_drops += 1,
            Event::MediaData(data) => {
                // When the kernel received the datagram that completed the
                // frame (the one just fed; else when it was read).
                let at = if data.network_time == self.last_input { self.arrival } else { data.network_time };
                let now_ns = media::ns_since_epoch(at);
                if let Some(stamp) = Stamp::find(&data.data) {
                    let packets = (**data.seq_range.end()).saturating_sub(**data.seq_range.start()) + 1;
                    self.receiving.frame(stamp, packets, now_ns, &self.shared, &mut self.report);
                }
            }
            Event::KeyframeRequest(_) => {
                if let Some(s) = &mut self.publisher {
                    s.keyframe_asked = true;
                }
            }
            _ => {}
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Answer(sdp, reply) => {
                let result = match (self.pending.take(), SdpAnswer::from_sdp_string(&sdp)) {
                    (None, _) => Err("an answer, but no offer of ours is pending".into()),
                    (_, Err(e)) => Err(format!("their answer: {e}")),
                    (Some(pending), Ok(answer)) => {
                        self.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| format!("accept_answer: {e}"))
                    }
                };
                self.find_pts();
                let _ = reply.send(result);
            }
            Cmd::Offer(sdp, reply) => {
                let result = SdpOffer::from_sdp_string(&sdp)
                    .map_err(|e| format!("their offer: {e}"))
                    .and_then(|offer| self.rtc.sdp_api().accept_offer(offer).map_err(|e| format!("accept_offer: {e}")))
                    .map(|answer| answer.to_sdp_string());
                let _ = reply.send(result);
            }
        }
    }

    /// The negotiated payload types for Opus and VP8 on our two m-lines.
    fn find_pts(&mut self) {
        let Some(s) = &mut self.publisher else { return };
        let Some((audio, video)) = s.mids else { return };
        let pt = |rtc: &mut Rtc, mid: Mid, codec: Codec| {
            rtc.writer(mid).and_then(|w| w.payload_params().find(|p| p.spec().codec == codec).map(|p| p.pt()))
        };
        if let (Some(a), Some(v)) = (pt(&mut self.rtc, audio, Codec::Opus), pt(&mut self.rtc, video, Codec::Vp8)) {
            s.pts = Some((a, v));
        }
    }

    /// Writes the audio and video frames that are due.
    fn send_media(&mut self, now: Instant) -> Result<(), String> {
        if !self.connected {
            return Ok(());
        }
        let Some(s) = &mut self.publisher else { return Ok(()) };
        let (Some((audio_mid, video_mid)), Some((audio_pt, video_pt))) = (s.mids, s.pts) else { return Ok(()) };
        let started = *s.started.get_or_insert(now);
        let in_window = self.shared.in_window(media::ns_since_epoch(now));
        // Late by more than a period (a busy machine): skip, don't burst.
        if s.next_audio + media::AUDIO_PERIOD < now {
            s.next_audio = now;
        }
        if s.next_video + media::VIDEO_PERIOD < now {
            s.next_video = now;
        }
        while s.next_audio <= now {
            let stamp =
                Stamp { publisher: s.publisher, kind: Kind::Audio, seq: s.seq[0], sent_ns: media::ns_since_epoch(now) };
            let rtp_time = MediaTime::new(u64::from(s.seq[0]) * 960, media_freq(48_000));
            if let Some(w) = self.rtc.writer(audio_mid) {
                w.write(audio_pt, now, rtp_time, media::opus_packet(stamp)).map_err(|e| format!("audio write: {e}"))?;
                s.seq[0] += 1;
                self.report.sent[0] += u64::from(in_window);
            }
            s.next_audio += media::AUDIO_PERIOD;
        }
        while s.next_video <= now {
            let keyframe =
                s.keyframe_asked || s.last_keyframe.is_none_or(|t| now.duration_since(t) >= media::KEYFRAME_EVERY);
            let stamp =
                Stamp { publisher: s.publisher, kind: Kind::Video, seq: s.seq[1], sent_ns: media::ns_since_epoch(now) };
            let ticks = now.duration_since(started).as_micros() as u64 * 9 / 100;
            if let Some(w) = self.rtc.writer(video_mid) {
                w.write(video_pt, now, MediaTime::new(ticks, media_freq(90_000)), media::vp8_frame(stamp, keyframe))
                    .map_err(|e| format!("video write: {e}"))?;
                s.seq[1] += 1;
                self.report.sent[1] += u64::from(in_window);
                if keyframe {
                    s.last_keyframe = Some(now);
                    s.keyframe_asked = false;
                }
            }
            s.next_video += media::VIDEO_PERIOD;
        }
        Ok(())
    }
}

fn media_freq(hz: u32) -> str0m::media::Frequency {
    str0m::media::Frequency::new(hz).expect("a clock rate is not zero")
}
