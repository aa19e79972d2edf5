//! Golden JSON for every message: a change to the wire shows up here as a diff.

use serde_json::json;
use shared::protocol::{self, close_code, CLIENT_MSG_TYPES, MAX_FRAME_BYTES};
use shared::*;

fn candidate() -> IceCandidate {
    IceCandidate {
        candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    }
}

fn client_cases() -> Vec<(ClientMsg, serde_json::Value)> {
    vec![
        (
            ClientMsg::Join { version: 1, room: "standup".into(), name: "Ana".into(), password: None },
            json!({"type": "join", "version": 1, "room": "standup", "name": "Ana"}),
        ),
        (
            ClientMsg::Join { version: 1, room: "standup".into(), name: "Ana".into(), password: Some("s3cret".into()) },
            json!({"type": "join", "version": 1, "room": "standup", "name": "Ana", "password": "s3cret"}),
        ),
        (
            ClientMsg::Resume { version: 1, token: "c0ffee".into() },
            json!({"type": "resume", "version": 1, "token": "c0ffee"}),
        ),
        (ClientMsg::Offer { to: PeerId(2), sdp: "v=0".into() }, json!({"type": "offer", "to": 2, "sdp": "v=0"})),
        (ClientMsg::Answer { to: PeerId(1), sdp: "v=0".into() }, json!({"type": "answer", "to": 1, "sdp": "v=0"})),
        (
            ClientMsg::Ice { to: PeerId(3), candidate: candidate() },
            json!({"type": "ice", "to": 3, "candidate": {
                "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
                "sdpMid": "0", "sdpMLineIndex": 0}}),
        ),
        (
            ClientMsg::MediaState(MediaState { muted: true, camera_off: false, sharing: true }),
            json!({"type": "media_state", "muted": true, "camera_off": false, "sharing": true}),
        ),
        (ClientMsg::Leave, json!({"type": "leave"})),
        (ClientMsg::Ping, json!({"type": "ping"})),
        (ClientMsg::SfuOffer { sdp: "v=0".into() }, json!({"type": "sfu_offer", "sdp": "v=0"})),
        (ClientMsg::SfuAnswer { sdp: "v=0".into() }, json!({"type": "sfu_answer", "sdp": "v=0"})),
        (
            ClientMsg::SfuView {
                views: vec![
                    VideoView { peer: PeerId(2), source: TrackSource::Camera, width: 640, height: 360 },
                    VideoView { peer: PeerId(3), source: TrackSource::Screen, width: 0, height: 0 },
                ],
            },
            json!({"type": "sfu_view", "views": [
                {"peer": 2, "source": "camera", "width": 640, "height": 360},
                {"peer": 3, "source": "screen", "width": 0, "height": 0},
            ]}),
        ),
        (ClientMsg::SfuView { views: vec![] }, json!({"type": "sfu_view", "views": []})),
        (ClientMsg::Chat { text: "안녕".into() }, json!({"type": "chat", "text": "안녕"})),
    ]
}

fn server_cases() -> Vec<(ServerMsg, serde_json::Value)> {
    let ana = PeerInfo {
        id: PeerId(1),
        name: DisplayName::parse("Ana").unwrap(),
        state: MediaState { muted: false, camera_off: true, sharing: false },
    };
    vec![
        (
            ServerMsg::Welcome {
                version: PROTOCOL_VERSION,
                you: PeerId(2),
                room: RoomName::parse("standup").unwrap(),
                capacity: 2,
                ice_servers: vec![
                    IceServer { urls: vec!["stun:stun.l.google.com:19302".into()], username: None, credential: None },
                    IceServer {
                        urls: vec!["turn:turn.example.org:3478".into()],
                        username: Some("u".into()),
                        credential: Some("p".into()),
                    },
                ],
                peers: vec![ana.clone()],
                resume: Some("c0ffee".into()),
                sfu: false,
                relay_only: true,
            },
            json!({"type": "welcome", "version": 1, "you": 2, "room": "standup", "capacity": 2,
                "ice_servers": [
                    {"urls": ["stun:stun.l.google.com:19302"]},
                    {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}],
                "peers": [{"id": 1, "name": "Ana", "muted": false, "camera_off": true, "sharing": false}],
                "resume": "c0ffee", "sfu": false, "relay_only": true}),
        ),
        (
            ServerMsg::Resumed {
                you: PeerId(2),
                room: RoomName::parse("standup").unwrap(),
                peers: vec![ana.clone()],
                resume: Some("decaf".into()),
                sfu: false,
            },
            json!({"type": "resumed", "you": 2, "room": "standup",
                "peers": [{"id": 1, "name": "Ana", "muted": false, "camera_off": true, "sharing": false}],
                "resume": "decaf", "sfu": false}),
        ),
        (
            ServerMsg::Resumed {
                you: PeerId(2),
                room: RoomName::parse("standup").unwrap(),
                peers: vec![],
                resume: None,
                sfu: true,
            },
            json!({"type": "resumed", "you": 2, "room": "standup", "peers": [], "sfu": true}),
        ),
        (
            ServerMsg::PeerJoined { peer: ana },
            json!({"type": "peer_joined", "peer": {"id": 1, "name": "Ana", "muted": false, "camera_off": true, "sharing": false}}),
        ),
        (ServerMsg::PeerLeft { peer: PeerId(1) }, json!({"type": "peer_left", "peer": 1})),
        (ServerMsg::Offer { from: PeerId(1), sdp: "v=0".into() }, json!({"type": "offer", "from": 1, "sdp": "v=0"})),
        (ServerMsg::Answer { from: PeerId(2), sdp: "v=0".into() }, json!({"type": "answer", "from": 2, "sdp": "v=0"})),
        (
            ServerMsg::Ice { from: PeerId(2), candidate: candidate() },
            json!({"type": "ice", "from": 2, "candidate": {
                "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
                "sdpMid": "0", "sdpMLineIndex": 0}}),
        ),
        (
            ServerMsg::MediaState {
                from: PeerId(2),
                state: MediaState { muted: false, camera_off: true, sharing: false },
            },
            json!({"type": "media_state", "from": 2, "muted": false, "camera_off": true, "sharing": false}),
        ),
        (
            ServerMsg::error(ErrorCode::RoomFull, "this room is full: 2 of 2"),
            json!({"type": "error", "code": "room_full", "message": "this room is full: 2 of 2"}),
        ),
        (
            ServerMsg::error(ErrorCode::TooManyMessages, "too many messages: this one was dropped"),
            json!({"type": "error", "code": "too_many_messages",
                "message": "too many messages: this one was dropped"}),
        ),
        (ServerMsg::Pong, json!({"type": "pong"})),
        (ServerMsg::UseSfu, json!({"type": "use_sfu"})),
        (ServerMsg::SfuAnswer { sdp: "v=0".into() }, json!({"type": "sfu_answer", "sdp": "v=0"})),
        (
            ServerMsg::SfuOffer {
                sdp: "v=0".into(),
                tracks: vec![
                    SfuTrack { mid: "3".into(), peer: PeerId(1), source: TrackSource::Microphone },
                    SfuTrack { mid: "4".into(), peer: PeerId(1), source: TrackSource::Camera },
                    SfuTrack { mid: "5".into(), peer: PeerId(1), source: TrackSource::Screen },
                ],
            },
            json!({"type": "sfu_offer", "sdp": "v=0", "tracks": [
                {"mid": "3", "peer": 1, "source": "microphone"},
                {"mid": "4", "peer": 1, "source": "camera"},
                {"mid": "5", "peer": 1, "source": "screen"}]}),
        ),
        (ServerMsg::Speaking { peers: vec![PeerId(2), PeerId(1)] }, json!({"type": "speaking", "peers": [2, 1]})),
        (ServerMsg::Speaking { peers: vec![] }, json!({"type": "speaking", "peers": []})),
        (ServerMsg::SfuPaused { peers: vec![PeerId(4)] }, json!({"type": "sfu_paused", "peers": [4]})),
        (ServerMsg::Chat { from: PeerId(3), text: "hi".into() }, json!({"type": "chat", "from": 3, "text": "hi"})),
        (
            ServerMsg::error(ErrorCode::InvalidSdp, "no m-line"),
            json!({"type": "error", "code": "invalid_sdp", "message": "no m-line"}),
        ),
    ]
}

#[test]
fn client_messages_match_golden_json_and_round_trip() {
    for (msg, golden) in client_cases() {
        let text = msg.encode();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), golden);
        assert_eq!(ClientMsg::decode(&text).unwrap(), msg);
        let kind = golden["type"].as_str().unwrap();
        assert!(CLIENT_MSG_TYPES.contains(&kind), "{kind} missing from CLIENT_MSG_TYPES");
    }
    let mut kinds: Vec<String> =
        client_cases().iter().map(|(_, golden)| golden["type"].as_str().unwrap().to_owned()).collect();
    kinds.dedup();
    assert_eq!(kinds.len(), CLIENT_MSG_TYPES.len(), "a variant has no golden case");
}

#[test]
fn server_messages_match_golden_json_and_round_trip() {
    for (msg, golden) in server_cases() {
        let text = msg.encode();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), golden);
        assert_eq!(ServerMsg::decode(&text).unwrap(), msg);
    }
}

#[test]
fn http_bodies_match_golden_json_and_round_trip() {
    let status = RoomStatus { room: RoomName::parse("standup").unwrap(), members: 2, capacity: 6, locked: true };
    let text = serde_json::to_string(&status).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        json!({"room": "standup", "members": 2, "capacity": 6, "locked": true})
    );
    assert_eq!(serde_json::from_str::<RoomStatus>(&text).unwrap(), status);
    assert!(
        serde_json::from_str::<RoomStatus>(r#"{"room":"a/b","members":0,"capacity":6}"#).is_err(),
        "a status names a valid room"
    );

    let error = ApiError { code: ErrorCode::InvalidRoomName, message: "invalid room name: the name is empty".into() };
    let text = serde_json::to_string(&error).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        json!({"code": "invalid_room_name", "message": "invalid room name: the name is empty"})
    );
    assert_eq!(serde_json::from_str::<ApiError>(&text).unwrap(), error);
}

#[test]
fn every_error_code_round_trips() {
    for code in <ErrorCode as strum::IntoEnumIterator>::iter() {
        let text = serde_json::to_string(&code).unwrap();
        assert_eq!(text, format!("\"{}\"", code.as_str()));
        assert_eq!(serde_json::from_str::<ErrorCode>(&text).unwrap(), code);
    }
}

#[test]
fn decode_errors_are_typed() {
    assert_eq!(ClientMsg::decode("hello").unwrap_err().code(), ErrorCode::NotJson);
    assert_eq!(ClientMsg::decode("[1,2]").unwrap_err().code(), ErrorCode::NotJson);
    assert_eq!(ClientMsg::decode(r#"["ping"]"#).unwrap_err().code(), ErrorCode::NotJson, "an array is no message");
    assert_eq!(ClientMsg::decode("{}").unwrap_err().code(), ErrorCode::UnknownType);
    assert_eq!(ClientMsg::decode(r#"{"type":5}"#).unwrap_err().code(), ErrorCode::UnknownType);
    assert_eq!(ClientMsg::decode(r#"{"type":"ping""#).unwrap_err().code(), ErrorCode::NotJson);
    assert_eq!(ClientMsg::decode(r#" {"type":"ping"}"#).unwrap(), ClientMsg::Ping);
    assert_eq!(ClientMsg::decode(r#"{"type":"dance"}"#).unwrap_err(), DecodeError::UnknownType("dance".into()));
    assert_eq!(ClientMsg::decode(r#"{"type":"offer","to":"bob"}"#).unwrap_err().code(), ErrorCode::InvalidMessage);
    // A client cannot smuggle a sender: `from` is not part of a ClientMsg.
    let msg = ClientMsg::decode(r#"{"type":"offer","to":2,"sdp":"x","from":9}"#).unwrap();
    assert_eq!(msg, ClientMsg::Offer { to: PeerId(2), sdp: "x".into() });
}

#[test]
fn server_refuses_bad_names_on_the_wire() {
    let bad = r#"{"type":"peer_joined","peer":{"id":1,"name":""}}"#;
    assert!(ServerMsg::decode(bad).is_err());
    const { assert!(MAX_FRAME_BYTES >= 16 * 1024, "SDP with many candidates must fit") };
}

#[test]
fn media_state_from_before_sharing_existed_still_decodes() {
    let old = r#"{"type":"media_state","muted":true,"camera_off":false}"#;
    let want = ClientMsg::MediaState(MediaState { muted: true, camera_off: false, sharing: false });
    assert_eq!(ClientMsg::decode(old).unwrap(), want);
}

#[test]
fn close_codes_are_distinct_and_in_their_ranges() {
    use close_code::*;
    let app = [VERSION_MISMATCH, TOO_SLOW, TOO_MANY_MESSAGES, REPLACED, RECONNECTING];
    assert_eq!(app, [4000, 4001, 4002, 4003, 4100], "application codes never change meaning");
    assert_eq!([GOING_AWAY, TOO_BIG], [1001, 1009], "RFC 6455's own");
}

#[test]
fn a_welcome_without_a_resume_token_still_decodes() {
    let old = r#"{"type":"welcome","version":1,"you":2,"room":"r","capacity":2,"ice_servers":[],"peers":[]}"#;
    assert!(matches!(ServerMsg::decode(old).unwrap(), ServerMsg::Welcome { resume: None, .. }));
}

#[test]
fn a_resumed_without_a_token_still_decodes() {
    let old = r#"{"type":"resumed","you":2,"room":"r","peers":[]}"#;
    assert!(matches!(ServerMsg::decode(old).unwrap(), ServerMsg::Resumed { resume: None, .. }));
    let old: ServerMsg = serde_json::from_str(old).unwrap();
    assert!(matches!(old, ServerMsg::Resumed { resume: None, .. }), "the derive agrees");
}

#[test]
fn decode_errors_do_not_echo_a_big_frame() {
    let marks = "\u{301}".repeat(32_000);
    let frame = format!(r#"{{"type":"offer","sdp":"","to":"{marks}"}}"#);
    assert!(frame.len() <= MAX_FRAME_BYTES);
    let err = ClientMsg::decode(&frame).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidMessage);
    let text = err.to_string();
    assert!(text.len() < 200, "{} bytes: {text}", text.len());
    assert!(text.ends_with('…'), "{text}");
    assert!(text.starts_with("malformed `offer` message: invalid type: string"), "{text}");
}

#[test]
fn decode_errors_keep_printable_ascii_only_and_still_say_what_is_wrong() {
    let err = ClientMsg::decode(r#"{"type":"foo"}"#).unwrap_err();
    assert_eq!(err.to_string(), "unknown message type `foo`");
    let err = ClientMsg::decode(r#"{"type":"offer","sdp":"","to":"bob"}"#).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("offer") && text.contains("\"bob\"") && text.contains("expected u64"), "{text}");

    let err = ClientMsg::decode(r#"{"type":"t\u00e9l\u202e\n\u0000x"}"#).unwrap_err();
    assert_eq!(err, DecodeError::UnknownType("t?l???x".into()));
    let long = "y".repeat(5_000);
    let err = ClientMsg::decode(&format!(r#"{{"type":"{long}"}}"#)).unwrap_err();
    assert_eq!(err, DecodeError::UnknownType(format!("{}…", "y".repeat(protocol::EXCERPT_MAX))));
    let err = ClientMsg::decode(&format!("{{\"type\":\"ping\",{}", "\u{1F600}".repeat(10_000))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotJson);
    assert!(err.to_string().len() < 200, "{err}");
}

#[test]
fn excerpts_are_short_printable_and_marked_when_cut() {
    use protocol::excerpt;
    assert_eq!(excerpt("expected u64 at line 1 column 9"), "expected u64 at line 1 column 9");
    assert_eq!(excerpt("é\u{301}\t\"~"), "???\"~");
    assert_eq!(excerpt(&"z".repeat(100)), "z".repeat(100), "not cut at the limit");
    assert_eq!(excerpt(&"z".repeat(101)), format!("{}…", "z".repeat(100)));
    assert_eq!(excerpt(""), "");
}
