//! English. End-to-end tests match some of these exactly: change with care.

use super::Texts;
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
    loss: |percent| format!("Loss {percent:.1}%"),
    rates: |incoming, outgoing| format!("In {incoming} · out {outgoing}"),
    video_size: |w, h, fps| format!("Video {w}×{h}, {fps:.0} fps"),
    weak_link: "Weak connection",
    weak_link_title: "Many packets are lost or slow on this connection: video may freeze or go blurry",

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
