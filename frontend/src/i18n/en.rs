//! English. End-to-end tests match some of these exactly: change with care.

use super::Texts;
use shared::check::{Stun, Turn};
use shared::NameError;

pub static EN: Texts = Texts {
    mute: "Mute",
    unmute: "Unmute",
    mute_title: "Mute or unmute (M)",
    camera_off: "Camera Off",
    camera_on: "Camera On",
    camera_title: "Camera off or on (V)",
    front_camera: "Front camera",
    back_camera: "Back camera",
    share_screen: "Share screen",
    stop_sharing: "Stop sharing",
    share_title: "Share your screen (S)",

    camera: "Camera",
    microphone: "Microphone",
    speaker: "Speaker",
    system_speaker_only: "This browser plays sound on the system's speaker.",

    try_again: "Try again",
    use_only_microphone: "Use only my microphone",
    join_without_media: "Join without camera or microphone",
    sending_nothing: "Without camera or microphone: the others see your name, not your picture, and cannot hear you; you see and hear them.",

    you: "You",
    muted: "Muted",
    camera_off_badge: "Camera off",
    presenting: "Presenting",
    enlarge_title: "Show large; on the large one, back to the grid",
    people: |n| format!("People ({n})"),
    conn_new: "new",
    conn_connecting: "connecting",
    conn_disconnected: "reconnecting…",
    conn_failed: "reconnecting…",
    conn_closed: "closed",
    link_title: "Connection details",
    link_measuring: "Measuring…",
    link_to_server: "Your link to the media server:",
    route_direct: "Direct, on the local network",
    route_stun: "Direct, through a NAT (STUN)",
    route_relayed: "Relayed through a TURN server",
    over: |transport| format!("over {transport}"),
    round_trip: |ms| format!("Round trip {} ms", super::millis(ms)),
    loss: |percent| format!("Loss {}%", super::tenths(percent)),
    rates: |incoming, outgoing| format!("In {incoming} · out {outgoing}"),
    video_size: |w, h, fps| format!("Video {w}×{h}, {} fps", super::whole(fps)),
    weak_link: "Weak connection",
    weak_link_title: "Many packets are lost or slow on this connection: video may freeze or go blurry",
    paused_video: "Video paused",
    paused_video_title: "Paused to save bandwidth: your connection can't carry every video now. It comes back when it can",
    previous_page: "Previous page",
    next_page: "Next page",
    check_title: "Test my setup",
    check_intro: "Each line checks one thing a call needs. A red line says what to do about it.",
    back_to_moim: "Back to Moim",
    check_waiting: "Checking…",
    check_secure_ok: "This page is secure (https, or this computer): the browser may use the camera.",
    check_secure_bad: "This page is not secure: browsers allow the camera only on https:// pages or on localhost. Open Moim over https:// (the server's --tls).",
    check_devices_ok: |cameras, microphones| format!("Camera and microphone allowed: {cameras} camera(s), {microphones} microphone(s)."),
    check_preview_ok: |w, h| format!("Your camera sends {w}×{h}."),
    check_preview_none: "No picture from the camera (see the line above).",
    check_mic_waiting: "Say something: the bar should move.",
    check_mic_heard: "Your microphone is heard.",
    check_speaker_button: "Play a test sound",
    check_speaker_hint: "Press the button: you should hear a short tone.",
    check_speaker_played: "A tone played. Heard nothing? Turn the volume up or pick another speaker in the meeting.",
    check_speaker_failed: |why| format!("The browser would not play sound: {why}"),
    check_socket_ok: "Connected to the Moim server.",
    check_socket_bad: "Could not reach the Moim server's WebSocket. A proxy or firewall may block WebSockets: try another network, or ask whoever runs the server.",
    check_stun: |stun| match stun {
        Stun::NotConfigured => "This server gives no STUN server: people on other networks may not connect. (For whoever runs it: --ice-server.)".into(),
        Stun::Reflexive(address) => format!("STUN answered: your network's public address is {address}."),
        Stun::NoTranslation => "STUN answered: no address translation between you and it (no NAT).".into(),
        Stun::Unreachable(code) => format!("The STUN server did not answer (error {code}): a firewall may block UDP. Calls may still work through the relay below."),
    },
    check_turn: |turn| match turn {
        Turn::NotConfigured => "This server gives no TURN relay: people behind strict firewalls cannot connect. (For whoever runs it: --turn-secret and --turn-url.)".into(),
        Turn::Relay { address, protocol } => format!("The TURN relay works: {address} over {protocol}."),
        Turn::Refused(code) => format!("The TURN server refused this server's credentials (error {code}): whoever runs it should check that --turn-secret matches coturn's static-auth-secret."),
        Turn::Unreachable(_) => "The TURN relay did not answer: from networks that block direct connections calls will fail. Whoever runs the server should check that the TURN server is running and reachable (--turn-url).".into(),
    },
    check_loopback_ok: |rtt, loss| format!("A short call through the relay connected: round trip {} ms, {}% lost.", super::millis(rtt), super::tenths(loss)),
    check_loopback_bad: "A short call through the relay did not connect within 15 seconds: calls from networks that block direct connections will fail.",
    check_loopback_skipped: "No call through the relay: there is no relay to call through (see above).",

    here: |n| format!("{n} here"),
    copy_link: "Copy link",
    leave: "Leave",
    language: "Language",
    devices: "Devices",

    shortcuts: "Shortcuts",
    keyboard_shortcuts: "Keyboard shortcuts",
    shortcut_list: [
        ("M", "Mute or unmute your microphone"),
        ("V", "Turn your camera off or on"),
        ("S", "Share your screen, or stop"),
        ("?", "Show or hide this list"),
        ("Esc", "Close this list"),
    ],

    message_everyone: "Message everyone",
    chat_log: "Messages",
    send: "Send",
    nobody_to_read: "Nobody else is here yet to read that.",
    joined: |name| format!("{name} joined"),
    left: |name| format!("{name} left"),

    waiting_for_media: "Waiting for camera and microphone…",
    mic_level: "Microphone",
    room: "Room",
    room_placeholder: "e.g. team-standup",
    your_name: "Your name",
    name_placeholder: "How others see you",
    password: "Password",
    password_placeholder: "Optional: locks a new room",
    room_locked: "This room is locked: enter its password.",
    join: "Join",
    joining: "Joining…",
    nobody_here_yet: "Nobody is here yet.",
    room_full_now: |n, capacity| format!("This room is full: {n} of {capacity}."),
    here_now: |n, capacity| format!("{n} of {capacity} here now."),
    room_problem: |err| format!("Room: {}", name_error(err)),
    name_problem: |err| format!("Name: {}", name_error(err)),

    room_full: |detail| format!("Sorry, {detail}. Try another room name, or wait until someone leaves."),
    server_updated: "Moim was updated on the server. Reload the page to join.",
    bad_room_name: |detail| format!("That room name won't work: {detail}"),
    bad_display_name: |detail| format!("That name won't work: {detail}"),
    password_required: "This room is locked. Enter its password (ask whoever sent you the link), then join.",
    wrong_password: "That password is not right for this room. Check it with whoever sent you the link.",
    bad_password: |detail| format!("That password won't work: {detail}"),
    too_many_attempts: |detail| match detail {
        "" => "Too many wrong passwords. Wait a while, then try again.".to_owned(),
        detail => format!("Too many wrong passwords. {detail}"),
    },
    server_said: |detail| format!("The server said: {detail}"),
    unreachable: |url| {
        format!("Can't reach the Moim server ({url}). Check that it is running and that you are online, then try again.")
    },
    server_closed: |reason| format!("The server closed the connection: {reason}."),
    reconnecting: |attempt| {
        format!("Lost the connection to the Moim server; reconnecting (try {attempt})… Calls already connected go on.")
    },
    no_connection: |detail| format!("Could not start a connection: {detail}"),
    media_server_refused: |detail| {
        format!("The media server could not use this browser's connection offer, so video and sound may not get through. Reload the page to try again. ({detail})")
    },
    no_media_server: |detail| {
        format!("This room needs the server's media relay, which is not running, so video and sound can't get through. Ask whoever runs Moim. ({detail})")
    },
    room_unavailable: "The server holding this room can't be reached right now. Try again in a moment.",
    share_failed: "Could not share your screen.",

    media_blocked: "Camera and microphone access was blocked. Allow it in the browser's address bar (the camera icon), then reload the page.",
    media_not_found: "No camera or microphone was found. You can join with only your microphone, or without sending anything.",
    media_busy: "Your camera or microphone is in use by another app or tab. Close it there, then try again.",
    media_insecure: "Camera and microphone only work on a secure page. Open Moim over https://, or on http://localhost on this computer.",
    media_unsupported: "The selected device does not support what was asked for. Pick another device.",
    media_other: |detail| format!("The browser could not start the camera or microphone: {detail}"),
};

/// The same words as `NameError`'s `Display` (the server's).
fn name_error(err: &NameError) -> String {
    match err {
        NameError::Empty => "the name is empty".to_owned(),
        NameError::TooLong { max } => format!("the name is longer than {max} characters"),
        NameError::BadChar(c) => format!("the name contains {c:?}, which is not allowed"),
        NameError::Invisible => "the name has no visible character".to_owned(),
        NameError::BidiControl => "the name contains a text direction control character".to_owned(),
        NameError::TooManyMarks { max } => format!("the name has more than {max} accents or marks on one character"),
        NameError::Dots => "the name cannot be just \".\" or \"..\"".to_owned(),
    }
}
