//! The SFU over real UDP on 127.0.0.1, with headless str0m members.

mod common;

use common::{Meeting, ROOM};
use shared::{PeerId, TrackSource};
use std::time::Duration;

const A: PeerId = PeerId(1);
/// Generous: only reached when something is broken (the machine may be busy).
const WAIT: Duration = Duration::from_secs(15);

/// `meeting` with these members joined, each receiving every other's camera.
fn connected(mut meeting: Meeting, members: &[u64]) -> Meeting {
    for peer in members {
        meeting.join(*peer);
    }
    assert!(meeting.run_until(WAIT, |m| m.all_connected()), "everyone connects through the SFU");
    meeting
}

/// Waits until member `peer` has `n` frames from member 1.
fn until_frames(meeting: &mut Meeting, peer: u64, n: usize) {
    meeting.run_until(WAIT, |m| m.member(peer).video_from(A).len() >= n);
}

/// Sends `count` camera frames from member 1 (a keyframe first), pumping as a camera would.
fn camera(meeting: &mut Meeting, seqs: std::ops::Range<u32>) {
    for seq in seqs {
        meeting.member(1).send_video(seq, seq % 30 == 0);
        meeting.run_until(Duration::from_millis(5), |_| false);
    }
}

#[test]
fn a_publisher_reaches_two_subscribers_in_order_and_a_leaver_stops_at_once() {
    let mut meeting = connected(Meeting::start(), &[1, 2, 3]);
    camera(&mut meeting, 0..60);
    for peer in [2, 3] {
        until_frames(&mut meeting, peer, 60);
        assert_eq!(
            meeting.member(peer).video_from(A),
            (0..60).collect::<Vec<_>>(),
            "member {peer} got every frame, in order"
        );
    }
    let forwarded = meeting.sfu.metrics().packets_forwarded;
    assert!(forwarded >= 120, "{forwarded}");

    // Member 3 leaves: member 2 is offered the removal, and 3 gets nothing more.
    meeting.sfu.send(sfu::Command::Leave { peer: PeerId(3) });
    assert!(meeting.run_until(Duration::from_secs(5), |m| !m.member(2).tracks.values().any(|t| t.peer == PeerId(3))));
    let before = meeting.member(3).video_from(A).len();
    camera(&mut meeting, 60..90);
    until_frames(&mut meeting, 2, 90);
    meeting.run_until(Duration::from_millis(200), |_| false);
    assert_eq!(meeting.member(3).video_from(A).len(), before, "a member that left is not forwarded to");
    assert_eq!(meeting.member(2).video_from(A), (0..90).collect::<Vec<_>>());
    assert_eq!(meeting.sfu.metrics().sessions, 2);
}

#[test]
fn a_room_of_twelve_gets_every_frame_in_order() {
    // Each of member 1's packets dirties eleven sessions: more than the
    // engine polls alone, so they are polled on the helper threads too.
    let members: Vec<u64> = (1..=12).collect();
    let mut meeting = connected(Meeting::start(), &members);
    camera(&mut meeting, 0..60);
    for &peer in &members[1..] {
        until_frames(&mut meeting, peer, 60);
        assert_eq!(
            meeting.member(peer).video_from(A),
            (0..60).collect::<Vec<_>>(),
            "member {peer}: every frame, in order"
        );
    }
    assert_eq!(meeting.sfu.metrics().sessions, 12);
}

#[test]
fn a_malformed_offer_is_refused_and_the_sfu_keeps_serving() {
    let mut meeting = connected(Meeting::start(), &[1, 2]);
    for sdp in ["", "v=0\r\nnonsense", "\u{0}\u{ffff}"] {
        meeting.sfu.send(sfu::Command::Offer { room: ROOM.into(), peer: PeerId(9), sdp: sdp.into() });
    }
    // An answer from someone with no session, and one nobody asked for.
    meeting.sfu.send(sfu::Command::Answer { peer: PeerId(9), sdp: "v=0".into() });
    meeting.sfu.send(sfu::Command::Answer { peer: PeerId(2), sdp: "v=0".into() });
    assert!(meeting.run_until(WAIT, |m| m.told.len() >= 5));
    let refusals: Vec<_> = meeting
        .told
        .iter()
        .map(|e| match e {
            sfu::Event::Refused { peer, error } => (*peer, error.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(
        refusals[..3]
            .iter()
            .all(|(p, e)| *p == PeerId(9) && matches!(e, sfu::SdpError::Unreadable(_) | sfu::SdpError::Unusable(_))),
        "{refusals:?}"
    );
    assert_eq!(refusals[3], (PeerId(9), sfu::SdpError::NoSession));
    assert!(
        matches!(refusals[4], (PeerId(2), sfu::SdpError::Unreadable(_) | sfu::SdpError::NoOfferWaiting)),
        "{refusals:?}"
    );
    assert_eq!(meeting.sfu.metrics().refused_sdp, 5);

    camera(&mut meeting, 0..30);
    until_frames(&mut meeting, 2, 30);
    assert_eq!(meeting.member(2).video_from(A), (0..30).collect::<Vec<_>>(), "still forwarding");
}

#[test]
fn members_whose_browsers_number_codecs_differently_see_and_hear_each_other() {
    let mut meeting = Meeting::start();
    meeting.join(1);
    meeting.join_numbering_like_firefox(2);
    assert!(meeting.run_until(WAIT, |m| m.all_connected()), "everyone connects through the SFU");
    for seq in 0..30 {
        meeting.member(1).send_video(seq, seq == 0);
        meeting.member(2).send_video(seq, seq == 0);
        meeting.member(1).send_audio(seq, -20);
        meeting.member(2).send_audio(seq, -20);
        meeting.run_until(Duration::from_millis(5), |_| false);
    }
    let everything =
        |m: &mut Meeting| m.member(2).video_from(A).len() == 30 && m.member(1).video_from(PeerId(2)).len() == 30;
    assert!(meeting.run_until(WAIT, everything), "each gets the other's 30 frames");
    assert_eq!(meeting.member(2).video_from(A), (0..30).collect::<Vec<_>>());
    assert_eq!(meeting.member(1).video_from(PeerId(2)), (0..30).collect::<Vec<_>>());
    for (peer, from) in [(1, PeerId(2)), (2, A)] {
        assert!(meeting.member(peer).audio_from(from) > 0, "member {peer} hears {from}");
    }
}

#[test]
fn the_sfu_tells_who_is_speaking() {
    let mut meeting = connected(Meeting::start(), &[1, 2]);
    for seq in 0..50 {
        meeting.member(1).send_audio(seq, -20);
        meeting.run_until(Duration::from_millis(10), |_| false);
    }
    let speaking = |m: &Meeting| {
        m.told.iter().any(|e| matches!(e, sfu::Event::Speaking { room, peers } if room == ROOM && peers == &[A]))
    };
    assert!(meeting.run_until(WAIT, |m| speaking(m)), "{:?}", meeting.told);
    // Silence: the list empties.
    assert!(meeting.run_until(WAIT, |m| m
        .told
        .iter()
        .any(|e| matches!(e, sfu::Event::Speaking { peers, .. } if peers.is_empty()))));
}

#[test]
fn lost_packets_are_asked_for_again_and_resent() {
    let mut meeting = connected(Meeting::start(), &[1, 2]);
    meeting.member(1).frame_bytes = 2400;
    // Losses start once the stream has: a lost first packet would be one nobody knew was sent.
    camera(&mut meeting, 0..1);
    until_frames(&mut meeting, 2, 1);
    meeting.member(2).lose_every = 7;
    // A loss shows as a gap when a later packet arrives: the last few frames only reveal the ones before.
    camera(&mut meeting, 1..70);
    until_frames(&mut meeting, 2, 60);
    assert!(meeting.member(2).lost >= 10, "the network lost some: {}", meeting.member(2).lost);
    assert_eq!(meeting.member(2).video_from(A)[..60], (0..60).collect::<Vec<_>>(), "NACKed, resent, every frame whole");
    // (str0m reports NACKs in its statistics, once a second.)
    assert!(meeting.run_until(WAIT, |m| m.sfu.metrics().nacks > 0), "{:?}", meeting.sfu.metrics());
}

#[test]
fn video_over_a_members_cap_is_not_forwarded() {
    let config = sfu::Config { max_member_kbps: 200, ..sfu::Config::loopback() };
    let mut meeting = connected(Meeting::start_with(config), &[1, 2]);
    // 3 KB frames every 5 ms: about 5 Mbit/s against 200 kbit/s.
    meeting.member(1).frame_bytes = 3000;
    let started = std::time::Instant::now();
    camera(&mut meeting, 0..100);
    let fits = (started.elapsed().as_secs_f64() + 1.0) * 200_000.0 / 8.0 / 3000.0;
    meeting.run_until(Duration::from_millis(300), |_| false);
    let got = meeting.member(2).video_from(A).len();
    assert!((got as f64) <= fits.ceil() + 1.0, "only what fits under the cap ({fits:.0}): {got}");
    assert!(meeting.sfu.metrics().over_cap_packets > 0, "{:?}", meeting.sfu.metrics());
    assert!(got < 100);
}

#[test]
fn a_member_whose_network_changed_restarts_ice_and_is_forwarded_to_again() {
    let mut meeting = connected(Meeting::start(), &[1, 2]);
    camera(&mut meeting, 0..10);
    until_frames(&mut meeting, 2, 10);

    let sdp = meeting.member(2).move_and_restart_ice();
    meeting.sfu.send(sfu::Command::Offer { room: ROOM.into(), peer: PeerId(2), sdp });
    assert!(meeting.run_until(WAIT, |m| !m.member(2).offering()), "the restart is answered");
    camera(&mut meeting, 10..40);
    // (The last frames may still be in the SFU's pacer.)
    meeting.run_until(WAIT, |m| m.member(2).video_from(A).last() == Some(&39));
    let got = meeting.member(2).video_from(A);
    assert_eq!(got[..10], (0..10).collect::<Vec<_>>());
    assert!(got.ends_with(&[39]), "frames reach the new address: {got:?}");
}

#[test]
fn the_sfu_yields_when_its_offer_crosses_a_members() {
    let mut meeting = connected(Meeting::start(), &[1, 2]);
    // Member 3 arrives: the SFU offers 3's tracks to 1 and 2, and at the same
    // moment 2 restarts ICE, so 2's offer and the SFU's cross.
    meeting.hold(2);
    meeting.join(3);
    let offered = |m: &mut Meeting| m.held.iter().any(|e| matches!(e, sfu::Event::Offer { .. }));
    assert!(meeting.run_until(WAIT, offered), "the SFU offers 3's tracks to 2");
    let sdp = meeting.member(2).move_and_restart_ice();
    meeting.sfu.send(sfu::Command::Offer { room: ROOM.into(), peer: PeerId(2), sdp });
    // 2 reads the SFU's offer while its own is out: it ignores it, as a page does.
    meeting.release();
    assert!(meeting.run_until(WAIT, |m| m.all_connected()), "the SFU answered, then offered 3's tracks again");
    camera(&mut meeting, 0..20);
    until_frames(&mut meeting, 3, 20);
    // 2's path moved with its restart: frames sent before the new one was up are gone.
    assert!(meeting.run_until(WAIT, |m| m.member(2).video_from(A).last() == Some(&19)));
    let got = meeting.member(2).video_from(A);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
    assert_eq!(meeting.member(3).video_from(A), (0..20).collect::<Vec<_>>());
}

#[test]
fn subscribers_who_start_close_together_each_get_a_keyframe() {
    let mut meeting = connected(Meeting::start(), &[1, 2]);
    camera(&mut meeting, 0..50);
    // Two start within the same second as each other (and maybe as 2's
    // request): a request too soon after the last is owed, not dropped, so
    // one comes after both have started.
    meeting.join(3);
    meeting.join(4);
    assert!(encoder_until_keyframes(&mut meeting, 50, &[3, 4]), "a newcomer never got a keyframe to start from");
}

#[test]
fn a_server_behind_nat_offers_its_public_address_too() {
    let public: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    let (tx, events) = std::sync::mpsc::channel();
    let config = sfu::Config { public_ip: Some(public), ..sfu::Config::loopback() };
    let sfu = sfu::Sfu::start(config, move |event| drop(tx.send(event))).unwrap();
    let (_member, sdp) = common::Member::new(1);
    sfu.send(sfu::Command::Offer { room: ROOM.into(), peer: A, sdp });
    let Ok(sfu::Event::Answer { sdp, .. }) = events.recv_timeout(WAIT) else { panic!("an answer") };
    let port = sfu.port();
    assert!(sdp.contains(&format!("127.0.0.1 {port} typ host")), "{sdp}");
    assert!(sdp.contains(&format!("203.0.113.7 {port} typ host")), "{sdp}");
}

#[test]
fn a_newcomer_gets_its_keyframe_once_its_connection_can_carry_it() {
    let mut meeting = connected(Meeting::start(), &[1, 2]);
    camera(&mut meeting, 0..10);
    // Past the publisher's one request a second.
    meeting.run_until(Duration::from_millis(1100), |_| false);
    // A newcomer answers the SFU's offer before its DTLS is up: a keyframe
    // sent then would be lost, so the request must come once it is up.
    meeting.join(3);
    assert!(encoder_until_keyframes(&mut meeting, 10, &[3]), "the newcomer never got a keyframe to start from");
}

/// Member 1 sends camera frames as an encoder does (deltas, and a keyframe
/// when asked) from `seq` on, until each of `newcomers` has received a
/// keyframe from it. What a viewer needs, without betting on when the
/// request crosses the newcomer's own `Connected`.
fn encoder_until_keyframes(meeting: &mut Meeting, mut seq: u32, newcomers: &[u64]) -> bool {
    let mut answered = meeting.member(1).keyframe_requests;
    meeting.run_until(WAIT, |m| {
        let asked = m.member(1).keyframe_requests;
        seq += 1;
        m.member(1).send_video(seq, asked > answered);
        answered = asked;
        newcomers.iter().all(|&peer| m.member(peer).keyframes_from(A) > 0)
    })
}

#[test]
fn the_others_are_offered_a_newcomers_tracks_before_its_connection_is_up() {
    let mut meeting = connected(Meeting::start(), &[1]);
    meeting.join(2);
    // str0m tells of a member's tracks once its connection is up; the SFU
    // reads them from its offer, so the others' renegotiation runs alongside.
    let mut early = false;
    meeting.run_until(WAIT, |m| {
        early |= !m.member(2).connected && !m.member(1).tracks.is_empty();
        m.all_connected()
    });
    assert!(early, "member 1 was offered member 2's tracks only once 2 was connected");
    assert!(meeting.all_connected());
}

#[test]
fn the_answer_asks_a_members_video_to_start_at_the_meshs_rate() {
    let (tx, events) = std::sync::mpsc::channel();
    let sfu = sfu::Sfu::start(sfu::Config::loopback(), move |event| drop(tx.send(event))).unwrap();
    let (_member, sdp) = common::Member::new(1);
    sfu.send(sfu::Command::Offer { room: ROOM.into(), peer: A, sdp });
    let Ok(sfu::Event::Answer { sdp, .. }) = events.recv_timeout(WAIT) else { panic!("an answer") };
    let param = format!("x-google-start-bitrate={}", shared::budget::START_KBPS);
    // Both video m-lines (camera, screen) say it; Chromium reads it from the description it receives.
    assert_eq!(sdp.matches(&param).count(), 2, "{sdp}");
}

#[test]
fn a_screen_is_offered_to_the_others_once_it_is_shared() {
    let mut meeting = connected(Meeting::start(), &[1, 2]);
    let screens = |m: &mut Meeting| m.member(2).tracks.values().filter(|t| t.source == TrackSource::Screen).count();
    assert_eq!(screens(&mut meeting), 0, "no m-line for a screen nobody shares");
    // Member 1 shares: the SFU offers the screen to 2 at its first frame,
    // and 2's answer asks 1 for the keyframe it starts from.
    let mut seq = 0;
    let shown = meeting.run_until(WAIT, |m| {
        seq += 1;
        m.member(1).send_screen(seq, seq % 10 == 1);
        m.member(2).frames.iter().any(|f| f.peer == A && f.source == TrackSource::Screen)
    });
    assert!(shown, "member 2 never received member 1's screen");
    assert_eq!(screens(&mut meeting), 1);
}
