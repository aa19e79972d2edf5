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
    let mut meeting = Meeting::start();
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
