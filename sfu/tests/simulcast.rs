//! Simulcast over real UDP on 127.0.0.1: a headless str0m member sends its
//! camera in three layers and each viewer is sent the one its tile needs.

mod common;

use common::{Meeting, LAYERS};
use shared::{PeerId, TrackSource, VideoView};
use std::time::Duration;

const A: PeerId = PeerId(1);
/// Generous: only reached when something is broken (the machine may be busy).
const WAIT: Duration = Duration::from_secs(15);

/// Member 1 with layers and the others without, everyone connected.
fn meeting(viewers: &[u64]) -> Meeting {
    meeting_with(sfu::Config::loopback(), viewers)
}

/// [`meeting`], the SFU estimating each member's downlink.
fn estimating(viewers: &[u64]) -> Meeting {
    meeting_with(with_estimation(), viewers)
}

fn with_estimation() -> sfu::Config {
    sfu::Config { bandwidth_estimation: true, ..sfu::Config::loopback() }
}

fn meeting_with(config: sfu::Config, viewers: &[u64]) -> Meeting {
    let mut meeting = Meeting::start_with(config);
    meeting.join_with_layers(1);
    for &peer in viewers {
        meeting.join(peer);
    }
    assert!(meeting.run_until(WAIT, |m| m.all_connected()), "everyone connects through the SFU");
    meeting
}

/// `peer`'s page draws member 1's camera at `size` (0 × 0: not at all).
fn view(meeting: &Meeting, peer: u64, (width, height): (u16, u16)) {
    let views = vec![VideoView { peer: A, source: TrackSource::Camera, width, height }];
    meeting.sfu.send(sfu::Command::View { peer: PeerId(peer), views });
}

/// Member 1's camera sends frames `seqs` on every layer, as an encoder
/// does: keyframes on all of them first, then only on a layer asked for.
fn camera(meeting: &mut Meeting, seqs: std::ops::Range<u32>) {
    camera_and_voice(meeting, seqs, None);
}

/// [`camera`], with a microphone frame at `voice` dBov beside each frame.
fn camera_and_voice(meeting: &mut Meeting, seqs: std::ops::Range<u32>, voice: Option<i8>) {
    let mut answered = meeting.member(1).asked.len();
    for seq in seqs.clone() {
        let publisher = meeting.member(1);
        let mut keyframes: Vec<usize> = publisher.asked[answered..]
            .iter()
            .filter_map(|rid| LAYERS.iter().position(|(name, _)| Some(str0m::media::Rid::from(*name)) == *rid))
            .collect();
        answered = publisher.asked.len();
        if seq == 0 {
            keyframes = vec![0, 1, 2];
        }
        publisher.send_layers(seq, &keyframes);
        if let Some(dbov) = voice {
            publisher.send_audio(seq, dbov);
        }
        meeting.run_until(Duration::from_millis(5), |_| false);
    }
}

/// The layers of member 1's frames that `peer` got, with repeats run together.
fn layers_seen(meeting: &mut Meeting, peer: u64) -> Vec<usize> {
    let mut runs: Vec<usize> = meeting.member(peer).camera_from(A).map(|f| f.layer()).collect();
    runs.dedup();
    runs
}

#[test]
fn each_viewer_gets_the_layer_its_tile_needs_and_a_hidden_tile_nothing() {
    let mut meeting = meeting(&[2, 3, 4, 5]);
    view(&meeting, 2, (320, 180));
    view(&meeting, 3, (600, 340));
    // 4 has not said: it gets the largest.
    view(&meeting, 5, (0, 0));
    camera(&mut meeting, 0..120);
    meeting.run_until(Duration::from_millis(200), |_| false);
    for (peer, layer) in [(2, 0), (3, 1), (4, 2)] {
        let got = meeting.member(peer).video_from(A).len();
        assert!(got >= 60, "member {peer} got {got} of 120 frames");
        // Frame 0 may come on a smaller layer, heard before the one that fills the tile.
        let after_first: Vec<usize> =
            meeting.member(peer).camera_from(A).filter(|f| f.seq() > 0).map(|f| f.layer()).collect();
        assert!(after_first.iter().all(|&l| l == layer), "member {peer}: {after_first:?}");
    }
    assert_eq!(meeting.member(5).video_from(A), [] as [u32; 0], "a tile not drawn is sent nothing");
}

#[test]
fn a_switch_waits_for_a_keyframe_and_the_viewer_sees_one_stream() {
    let mut meeting = meeting(&[2]);
    view(&meeting, 2, (320, 180));
    camera(&mut meeting, 0..100);
    // The tile becomes the spotlight, then a small tile again. Each phase
    // is longer than the second a publisher waits between keyframe requests.
    view(&meeting, 2, (1280, 720));
    camera(&mut meeting, 100..250);
    view(&meeting, 2, (320, 180));
    camera(&mut meeting, 250..400);
    meeting.run_until(Duration::from_millis(200), |_| false);

    assert_eq!(layers_seen(&mut meeting, 2), [0, 2, 0], "quarter, full, quarter");
    let viewer = meeting.member(2);
    let frames: Vec<_> = viewer.camera_from(A).collect();
    for pair in frames.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.layer() != b.layer() {
            assert!(b.is_keyframe(), "switched to layer {} on a delta frame", b.layer());
            // The new layer's keyframe may be the picture just sent on the old one.
            assert!(b.seq() >= a.seq(), "frame {} after {}", b.seq(), a.seq());
        } else {
            assert!(b.seq() > a.seq(), "frame {} after {}", b.seq(), a.seq());
        }
        assert!(b.contiguous, "a gap in the viewer's sequence numbers before frame {}", b.seq());
        // Each layer's times count from their own start (78 s apart): the
        // viewer's run on by about a frame's worth of wall time.
        let step = b.time.numer().wrapping_sub(a.time.numer()) as i64;
        assert!((1..45_000).contains(&step), "times jump by {step} ticks at frame {}", b.seq());
    }
}

#[test]
fn the_speakers_small_tile_is_sent_a_layer_up_while_they_speak() {
    let mut meeting = meeting(&[2]);
    view(&meeting, 2, (320, 180));
    camera(&mut meeting, 0..100);
    // Speaking, then quiet: each phase outlasts the hold (600 ms) and the
    // second a publisher waits between keyframe requests.
    camera_and_voice(&mut meeting, 100..300, Some(-20));
    camera_and_voice(&mut meeting, 300..550, Some(-127));
    meeting.run_until(Duration::from_millis(200), |_| false);
    assert_eq!(layers_seen(&mut meeting, 2), [0, 1, 0], "quarter, half while speaking, quarter");
    let frames: Vec<_> = meeting.member(2).camera_from(A).collect();
    for pair in frames.windows(2) {
        assert!(pair[1].contiguous, "a gap in the viewer's sequence numbers before frame {}", pair[1].seq());
    }
}

#[test]
fn a_viewer_on_a_short_link_is_moved_down_a_layer_by_its_losses_and_back_up_after() {
    moved_down_a_layer_and_back_up(meeting(&[2]));
}

#[test]
fn a_viewer_on_a_short_link_is_moved_down_a_layer_by_the_estimate_and_back_up_after() {
    moved_down_a_layer_and_back_up(estimating(&[2]));
}

/// Member 2 watches 1's spotlight while its link narrows to 1 Mbit/s, then frees.
fn moved_down_a_layer_and_back_up(mut meeting: Meeting) {
    let mut cameras = Cameras::of(&[1]);
    let newest_layer = |m: &mut Meeting| m.member(2).camera_from(A).last().map(|f| f.layer());
    // The last second's frames (30) all on `layer`.
    let steady_on = |m: &mut Meeting, layer: usize| {
        let layers: Vec<usize> = m.member(2).camera_from(A).map(|f| f.layer()).collect();
        layers.len() >= 30 && layers[layers.len() - 30..].iter().all(|&l| l == layer)
    };
    // An estimate starts at shared::budget::START_KBPS, under what the full layer
    // needs with headroom: full once probing has found more.
    let start = std::time::Instant::now();
    assert!(cameras.run(&mut meeting, 20, &|m| steady_on(m, 2)), "the full layer on a free link");
    eprintln!("the full layer steady {:?} after joining", start.elapsed());
    // A 1 Mbit/s link, under the full layer's 1.5.
    meeting.member(2).inbox.throttle(1000);
    let throttled = std::time::Instant::now();
    assert!(cameras.run(&mut meeting, 20, &|m| newest_layer(m) < Some(2)), "moved down on a 1 Mbit/s link");
    eprintln!("a lower layer {:?} after the link narrowed", throttled.elapsed());
    assert!(!cameras.run(&mut meeting, 3, &|m| newest_layer(m) == Some(2)), "not back up while the link is narrow");
    meeting.member(2).inbox.throttle(0);
    let freed = std::time::Instant::now();
    assert!(cameras.run(&mut meeting, 30, &|m| steady_on(m, 2)), "back up to full once the link is free");
    eprintln!("the full layer again {:?} after the link was freed", freed.elapsed());
}

/// Cameras sending each of their layers at its cap, 30 frames a second (a
/// keyframe where asked, or every 3 s), pumping the meeting between frames.
struct Cameras<'a> {
    publishers: &'a [u64],
    seq: u32,
}

impl<'a> Cameras<'a> {
    fn of(publishers: &'a [u64]) -> Self {
        Self { publishers, seq: 0 }
    }

    /// Sends for up to `for_secs`, until `until` says so: whether it did.
    fn run(&mut self, meeting: &mut Meeting, for_secs: u64, until: &dyn Fn(&mut Meeting) -> bool) -> bool {
        let end = std::time::Instant::now() + Duration::from_secs(for_secs);
        while std::time::Instant::now() < end {
            self.frame(meeting);
            if until(meeting) {
                return true;
            }
        }
        false
    }

    /// One frame of each publisher on each layer, then the rest of a thirtieth of a second.
    fn frame(&mut self, meeting: &mut Meeting) {
        let next = std::time::Instant::now() + Duration::from_millis(33);
        for &peer in self.publishers {
            let publisher = meeting.member(peer);
            publisher.layer_bytes = shared::budget::LAYERS.map(|layer| (layer.max_bitrate_bps / 8 / 30) as usize);
            let asked: Vec<usize> = std::mem::take(&mut publisher.asked)
                .iter()
                .filter_map(|rid| LAYERS.iter().position(|(name, _)| Some(str0m::media::Rid::from(*name)) == *rid))
                .collect();
            let keyframes = if self.seq.is_multiple_of(90) { vec![0, 1, 2] } else { asked };
            publisher.send_layers(self.seq, &keyframes);
        }
        self.seq += 1;
        meeting.run_until(next.saturating_duration_since(std::time::Instant::now()), |_| false);
    }
}

#[test]
fn on_a_link_too_short_for_both_the_small_tile_is_paused_by_its_losses_and_the_viewer_told() {
    small_tile_paused_and_the_viewer_told(sfu::Config::loopback());
}

#[test]
fn on_a_link_too_short_for_both_the_small_tile_is_paused_by_the_estimate_and_the_viewer_told() {
    small_tile_paused_and_the_viewer_told(with_estimation());
}

/// Member 2 watches 1's spotlight and 3's small tile on a 150 kbit/s link, then a free one.
fn small_tile_paused_and_the_viewer_told(config: sfu::Config) {
    const C: PeerId = PeerId(3);
    let mut meeting = Meeting::start_with(config);
    meeting.join_with_layers(1);
    meeting.join_with_layers(3);
    meeting.join(2);
    assert!(meeting.run_until(WAIT, |m| m.all_connected()), "everyone connects through the SFU");
    // Member 1 is 2's spotlight, member 3 a small tile.
    let views = vec![
        VideoView { peer: A, source: TrackSource::Camera, width: 1280, height: 720 },
        VideoView { peer: C, source: TrackSource::Camera, width: 320, height: 180 },
    ];
    meeting.sfu.send(sfu::Command::View { peer: PeerId(2), views });
    let paused = |m: &Meeting, who: &[PeerId]| {
        m.told.iter().any(|e| matches!(e, sfu::Event::Paused { peer: PeerId(2), peers } if peers == who))
    };
    let mut cameras = Cameras::of(&[1, 3]);
    cameras.run(&mut meeting, 3, &|_| false);
    // 150 kbit/s: the spotlight's smallest layer (0.1) and not another.
    meeting.member(2).inbox.throttle(150);
    assert!(
        cameras.run(&mut meeting, 30, &|m| paused(m, &[C])),
        "3's video paused for 2, and 2 told: {:?}",
        meeting.told
    );
    // What was already on its way (the SFU's pacer, the link's queue) drains; then nothing of 3's.
    cameras.run(&mut meeting, 3, &|_| false);
    let before = meeting.member(2).camera_from(C).count();
    cameras.run(&mut meeting, 2, &|_| false);
    let after = meeting.member(2).camera_from(C).count() - before;
    assert_eq!(after, 0, "3's video held back, but {after} frames came");
    assert!(!cameras.run(&mut meeting, 1, &|m| paused(m, &[A, C])), "never the spotlight");
    meeting.member(2).inbox.throttle(0);
    assert!(cameras.run(&mut meeting, 30, &|m| paused(m, &[])), "sent again once the link is free, and 2 told");
}

#[test]
fn a_publishers_lossy_uplink_is_not_taken_for_its_viewers_downlink() {
    let mut meeting = Meeting::start();
    meeting.join(1);
    meeting.join(2);
    assert!(meeting.run_until(WAIT, |m| m.all_connected()), "everyone connects through the SFU");
    // One packet a frame, so every other frame is lost.
    meeting.member(1).frame_bytes = 1000;
    meeting.member(1).loses_sent_video = true;
    let end = std::time::Instant::now() + Duration::from_secs(6);
    let mut seq = 0;
    while std::time::Instant::now() < end {
        // Keyframes in pairs: one of each pair gets through.
        meeting.member(1).send_video(seq, seq % 30 < 2);
        seq += 1;
        meeting.run_until(Duration::from_millis(33), |_| false);
    }
    assert!(meeting.sfu.metrics().packets_lost > 0, "1's uplink loses: {:?}", meeting.sfu.metrics());
    // 2's reports say it lost half of 1's video, all of it lost before the SFU:
    // not even its first, sent before the SFU had reported on 1's.
    assert_eq!(meeting.sfu.metrics().downlink_cuts, 0, "2's downlink cut for 1's uplink");
    let forwarded = meeting.sfu.metrics().packets_forwarded;
    assert!(forwarded > 60, "2 is still sent what reached the SFU: {forwarded} packets");
}
