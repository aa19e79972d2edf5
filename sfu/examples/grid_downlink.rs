//! What a grid of many costs one viewer's downlink through the SFU, with
//! simulcast layers and without: `P` headless str0m members send their
//! camera as the three layers a page sends (`shared::budget::LAYERS`, each
//! at its cap), and one more member watches them all. With layers its page
//! says each tile's size, as a 5 × 5 grid on a 1280 × 800 screen draws
//! them; without, it says nothing and gets each camera's largest layer.
//! The publishers look at nobody (their views say so), so the viewer's is
//! the only downlink; what the SFU wrote to it is the figure, with how
//! often the viewer's videos froze; once more with the SFU estimating the
//! viewer's downlink (`--bandwidth-estimation`: from 1.5 Mbit/s, up by
//! probing) and fitting the videos to it.
//!
//! `cargo run --release -p sfu --example grid_downlink [-- PUBLISHERS SECONDS]`
//! (defaults 25 and 10); docs/BENCHMARKS.md, "Big rooms".

#[path = "../tests/common/mod.rs"]
mod common;

use common::Meeting;
use shared::budget::LAYERS;
use shared::{PeerId, TrackSource, VideoView};
use std::time::{Duration, Instant};

/// Frames a second each camera aims at (the harness pumps everyone in turn,
/// so with many it manages fewer: frames are sized to keep each layer at its cap).
const FPS: u64 = 15;
/// A tile of a 5 × 5 grid on a 1280 × 800 screen, in device pixels.
const TILE: (u16, u16) = (256, 144);
const VIEWER: u64 = 1000;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().expect("a number"));
    let publishers = args.next().unwrap_or(25);
    let seconds = args.next().unwrap_or(10);
    println!(
        "| the viewer's page says | bandwidth estimation | publishers | camera frames a second \
         | into the SFU, Mbit/s | the viewer's downlink, Mbit/s | freezes | videos with no frame |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (with_layers, estimating) in [(true, false), (false, false), (true, true)] {
        let run = run(publishers, Duration::from_secs(seconds), with_layers, estimating);
        let says = if with_layers { "each tile's size (layers)" } else { "nothing (largest layers)" };
        let estimation = if estimating { "on" } else { "off" };
        println!(
            "| {says} | {estimation} | {publishers} | {:.1} | {:.2} | {:.2} | {} | {} |",
            run.fps, run.inbound, run.down, run.freezes, run.silent
        );
    }
}

/// What one run measured.
struct Run {
    /// Frames a second each camera managed.
    fps: f64,
    /// Mbit/s into the SFU, and to the viewer.
    inbound: f64,
    down: f64,
    /// Freezes in the viewer's videos, and videos it got no frame of.
    freezes: usize,
    silent: usize,
}

fn run(publishers: u64, measure: Duration, with_layers: bool, bandwidth_estimation: bool) -> Run {
    let config = sfu::Config { max_member_kbps: 10_000, bandwidth_estimation, ..sfu::Config::loopback() };
    let mut meeting = Meeting::start_with(config);
    for peer in 1..=publishers {
        meeting.join_with_layers(peer);
    }
    meeting.join(VIEWER);
    assert!(meeting.run_until(Duration::from_secs(120), |m| m.all_connected()), "everyone connected");
    let camera = |peer, (width, height)| VideoView { peer: PeerId(peer), source: TrackSource::Camera, width, height };
    for peer in 1..=publishers {
        // A publisher watches nobody.
        let hidden = (1..=publishers).chain([VIEWER]).map(|other| camera(other, (0, 0))).collect();
        meeting.sfu.send(sfu::Command::View { peer: PeerId(peer), views: hidden });
    }
    if with_layers {
        let grid = (1..=publishers).map(|peer| camera(peer, TILE)).collect();
        meeting.sfu.send(sfu::Command::View { peer: PeerId(VIEWER), views: grid });
    }
    let mut cameras = Cameras { publishers, seq: 0, answered: vec![0; publishers as usize + 1] };
    // Two seconds to settle (layers picked, keyframes asked and sent) and
    // to see how many frames a second the harness manages: each layer's
    // frames are then sized for its cap at that rate.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(2) {
        cameras.step(&mut meeting);
    }
    let fps = f64::from(cameras.seq) / warm.elapsed().as_secs_f64();
    for peer in 1..=publishers {
        let bytes = LAYERS.map(|layer| (f64::from(layer.max_bitrate_bps) / 8.0 / fps) as usize);
        meeting.member(peer).layer_bytes = bytes;
    }
    let (seq_before, down_before) = (cameras.seq, meeting.sfu.metrics().bytes_forwarded);
    let started = Instant::now();
    while started.elapsed() < measure {
        cameras.step(&mut meeting);
    }
    let seq = cameras.seq;
    let elapsed = started.elapsed().as_secs_f64();
    let measured_fps = f64::from(seq - seq_before) / elapsed;
    let layer_bits: f64 = LAYERS.iter().map(|layer| f64::from(layer.max_bitrate_bps) / fps).sum();
    let inbound = measured_fps * layer_bits * publishers as f64 / 1e6;
    let down = (meeting.sfu.metrics().bytes_forwarded - down_before) as f64 * 8.0 / elapsed / 1e6;
    let (freezes, silent) = freezes(&mut meeting, publishers, started);
    Run { fps: measured_fps, inbound, down, freezes, silent }
}

/// The viewer's freezes since `from`, as WebRTC's stats count them: a gap
/// between two frames of a video longer than three mean gaps and than one
/// plus 150 ms; and the videos it got fewer than two frames of.
fn freezes(meeting: &mut Meeting, publishers: u64, from: Instant) -> (usize, usize) {
    let viewer = meeting.member(VIEWER);
    let (mut freezes, mut silent) = (0, 0);
    for peer in 1..=publishers {
        let times: Vec<Instant> =
            viewer.camera_from(PeerId(peer)).map(|frame| frame.arrived).filter(|&at| at >= from).collect();
        if times.len() < 2 {
            silent += 1;
            continue;
        }
        let gaps: Vec<Duration> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
        let mean = gaps.iter().sum::<Duration>() / gaps.len() as u32;
        let limit = (mean * 3).max(mean + Duration::from_millis(150));
        freezes += gaps.iter().filter(|&&gap| gap > limit).count();
    }
    (freezes, silent)
}

/// The publishers' cameras, a frame each per step.
struct Cameras {
    publishers: u64,
    seq: u32,
    /// How many keyframe requests each has answered.
    answered: Vec<usize>,
}

impl Cameras {
    fn step(&mut self, meeting: &mut Meeting) {
        let next = Instant::now() + Duration::from_millis(1000 / FPS);
        for peer in 1..=self.publishers {
            let member = meeting.member(peer);
            // Keyframes at the start, every 3 s, and on a layer asked for.
            let asked = member.asked.len() > self.answered[peer as usize];
            self.answered[peer as usize] = member.asked.len();
            let keyframes: &[usize] = if self.seq.is_multiple_of(3 * FPS as u32) || asked { &[0, 1, 2] } else { &[] };
            member.send_layers(self.seq, keyframes);
        }
        self.seq += 1;
        meeting.run_until(next.saturating_duration_since(Instant::now()), |_| false);
    }
}
