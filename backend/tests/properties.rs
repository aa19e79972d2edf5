//! Properties over generated input: `ClientMsg::decode` never panics,
//! always types its refusals and reads what serde's derive reads; the hand-written `ServerMsg::decode` gives what
//! serde's derive gives, and the browser's JSON reader and writer
//! (`shared::json`, `ClientMsg::encode`) what serde_json gives; the room
//! registry keeps its invariants after every step of any sequence of
//! messages and disconnects.

use backend::rooms::Rooms;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::Value;
use shared::json::{self, Json};
use shared::protocol::CLIENT_MSG_TYPES;
use shared::{
    ClientMsg, DisplayName, ErrorCode, IceCandidate, IceConfig, IceServer, MediaState, PeerId, PeerInfo, RoomName,
    RoomStatus, ServerMsg, SfuTrack, TrackSource, VideoView, PROTOCOL_VERSION,
};
use std::collections::{HashMap, HashSet};

// ---- Generators ------------------------------------------------------------

/// Peers that may join: few, so they meet in rooms and collide.
fn peer() -> impl Strategy<Value = PeerId> {
    (1u64..=6).prop_map(PeerId)
}

/// Addressees: the peers, plus ids nobody has.
fn addressee() -> impl Strategy<Value = PeerId> {
    prop_oneof![4 => peer(), 1 => Just(PeerId(0)), 1 => any::<u64>().prop_map(PeerId)]
}

/// Mostly a few valid names (so rooms fill up), some odd but valid, some invalid.
fn room() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop_oneof![Just("a"), Just("b"), Just("c")].prop_map(String::from),
        1 => Just(" a ".to_owned()),
        1 => Just("모임".to_owned()),
        1 => Just(String::new()),
        1 => Just("a/b".to_owned()),
        1 => Just("a".repeat(65)),
        1 => "\\PC{0,70}",
    ]
}

fn display_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just("Ana".to_owned()),
        1 => Just(" ".to_owned()),
        1 => Just("a\nb".to_owned()),
        1 => "\\PC{0,45}",
        1 => ".{0,45}",
    ]
}

fn version() -> impl Strategy<Value = u32> {
    prop_oneof![9 => Just(PROTOCOL_VERSION), 1 => any::<u32>()]
}

fn candidate() -> impl Strategy<Value = IceCandidate> {
    (".{0,20}", proptest::option::of(".{0,4}"), proptest::option::of(any::<u16>()))
        .prop_map(|(candidate, sdp_mid, sdp_m_line_index)| IceCandidate { candidate, sdp_mid, sdp_m_line_index })
}

fn media_state() -> impl Strategy<Value = MediaState> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(muted, camera_off, sharing)| MediaState {
        muted,
        camera_off,
        sharing,
    })
}

fn video_view() -> impl Strategy<Value = VideoView> {
    (addressee(), prop::sample::select(vec![TrackSource::Camera, TrackSource::Screen]), any::<u16>(), any::<u16>())
        .prop_map(|(peer, source, width, height)| VideoView { peer, source, width, height })
}

/// Mostly none, else one of a few, so locked rooms meet right and wrong guesses.
fn password() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        1 => prop::sample::select(vec!["", "open sesame", "hunter2"]).prop_map(|p| Some(p.to_owned())),
    ]
}

fn client_msg() -> impl Strategy<Value = ClientMsg> {
    prop_oneof![
        3 => (version(), room(), display_name(), password())
            .prop_map(|(version, room, name, password)| ClientMsg::Join { version, room, name, password }),
        1 => (version(), "[0-9a-f]{0,32}").prop_map(|(version, token)| ClientMsg::Resume { version, token }),
        1 => Just(ClientMsg::Ping),
        2 => (addressee(), ".{0,10}").prop_map(|(to, sdp)| ClientMsg::Offer { to, sdp }),
        2 => (addressee(), ".{0,10}").prop_map(|(to, sdp)| ClientMsg::Answer { to, sdp }),
        2 => (addressee(), candidate()).prop_map(|(to, candidate)| ClientMsg::Ice { to, candidate }),
        1 => media_state().prop_map(ClientMsg::MediaState),
        1 => Just(ClientMsg::Leave),
        1 => ".{0,10}".prop_map(|sdp| ClientMsg::SfuOffer { sdp }),
        1 => ".{0,10}".prop_map(|sdp| ClientMsg::SfuAnswer { sdp }),
        1 => vec(video_view(), 0..4).prop_map(|views| ClientMsg::SfuView { views }),
        1 => ".{0,10}".prop_map(|text| ClientMsg::Chat { text }),
    ]
}

/// Any JSON, with object keys drawn mostly from the protocol's own, so
/// decoding goes past the first check into every variant's fields.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(CLIENT_MSG_TYPES).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        prop::sample::select(vec![
            "type",
            "to",
            "from",
            "sdp",
            "candidate",
            "sdpMid",
            "sdpMLineIndex",
            "version",
            "room",
            "name",
            "muted",
            "camera_off",
            "sharing",
        ])
        .prop_map(String::from),
        ".{0,6}",
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key.clone(), inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object that names a known type, the rest random.
fn typed_object() -> impl Strategy<Value = Value> {
    (prop::sample::select(CLIENT_MSG_TYPES), json()).prop_map(|(kind, value)| {
        let mut object = match value {
            Value::Object(object) => object,
            other => [("to".to_owned(), other)].into_iter().collect(),
        };
        object.insert("type".into(), kind.into());
        Value::Object(object)
    })
}

// ---- Decoding ---------------------------------------------------------------

/// A decode either succeeds with a message that survives a round trip, or
/// fails with one of the three decode codes and something to tell the user.
fn decodes_sanely(text: &str) -> Result<(), TestCaseError> {
    match ClientMsg::decode(text) {
        Ok(msg) => prop_assert_eq!(ClientMsg::decode(&msg.encode()), Ok(msg)),
        Err(err) => {
            prop_assert!(
                matches!(err.code(), ErrorCode::NotJson | ErrorCode::UnknownType | ErrorCode::InvalidMessage),
                "{err:?}"
            );
            prop_assert!(!err.to_string().is_empty());
        }
    }
    Ok(())
}

/// `decode` reads each variant's fields by itself; the derived
/// `Deserialize` is the oracle: the same message, or both refuse.
fn decodes_as_derived(text: &str) -> Result<(), TestCaseError> {
    let derived = serde_json::from_str::<ClientMsg>(text).ok();
    match ClientMsg::decode(text) {
        Ok(msg) => prop_assert_eq!(Some(msg), derived),
        Err(err) if err.code() == ErrorCode::InvalidMessage => prop_assert_eq!(derived, None, "{:?}", err),
        // Not an object, or no known type: refused before any fields are read.
        Err(_) => {}
    }
    Ok(())
}

/// A real message with one field added, replaced or taken away.
fn near_miss() -> impl Strategy<Value = String> {
    let keys = vec!["type", "to", "sdp", "candidate", "version", "room", "name", "password", "token", "muted", "x"];
    (client_msg(), prop::sample::select(keys), json(), any::<bool>()).prop_map(|(msg, key, value, remove)| {
        let mut object: serde_json::Map<String, Value> = serde_json::from_str(&msg.encode()).unwrap();
        if remove {
            object.remove(key);
        } else {
            object.insert(key.into(), value);
        }
        Value::Object(object).to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_reads_what_the_derive_reads(text in prop_oneof![near_miss(), typed_object().prop_map(|v| v.to_string())]) {
        decodes_as_derived(&text)?;
    }

    #[test]
    fn decode_takes_any_bytes(bytes in vec(any::<u8>(), 0..300)) {
        decodes_sanely(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn decode_takes_any_text(text in "\\PC{0,300}") {
        decodes_sanely(&text)?;
    }

    #[test]
    fn decode_takes_any_json(value in json()) {
        decodes_sanely(&value.to_string())?;
    }

    #[test]
    fn decode_takes_any_object_of_a_known_type(value in typed_object()) {
        decodes_sanely(&value.to_string())?;
    }

    #[test]
    fn decode_types_deep_nesting_as_an_error(depth in 100usize..2000) {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        decodes_sanely(&text)?;
        let text = format!("{{\"type\":\"join\",\"room\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        decodes_sanely(&text)?;
    }

    #[test]
    fn every_client_message_round_trips(msg in client_msg()) {
        prop_assert_eq!(ClientMsg::decode(&msg.encode()), Ok(msg));
    }
}

// ---- Server messages ----------------------------------------------------------

fn valid_room() -> impl Strategy<Value = RoomName> {
    prop::sample::select(vec!["a", "standup", "모임", "x.y-z_1"]).prop_map(|r| RoomName::parse(r).unwrap())
}

fn peer_info() -> impl Strategy<Value = PeerInfo> {
    (any::<u64>(), prop::sample::select(vec!["Ana", "Bo", "모임 사람", "a\"quote\""]), media_state())
        .prop_map(|(id, name, state)| PeerInfo { id: PeerId(id), name: DisplayName::parse(name).unwrap(), state })
}

fn ice_server() -> impl Strategy<Value = IceServer> {
    (vec(".{0,8}", 0..3), proptest::option::of(".{0,4}"), proptest::option::of(".{0,4}"))
        .prop_map(|(urls, username, credential)| IceServer { urls, username, credential })
}

fn server_msg() -> impl Strategy<Value = ServerMsg> {
    let from = || any::<u64>().prop_map(PeerId);
    prop_oneof![
        (
            any::<u32>(),
            from(),
            valid_room(),
            any::<usize>(),
            vec(ice_server(), 0..3),
            vec(peer_info(), 0..4),
            proptest::option::of("[0-9a-f]{0,8}"),
            (any::<bool>(), any::<bool>()),
        )
            .prop_map(|(version, you, room, capacity, ice_servers, peers, resume, (sfu, relay_only))| {
                ServerMsg::Welcome { version, you, room, capacity, ice_servers, peers, resume, sfu, relay_only }
            }),
        (from(), valid_room(), vec(peer_info(), 0..4), proptest::option::of("[0-9a-f]{0,8}"), any::<bool>())
            .prop_map(|(you, room, peers, resume, sfu)| ServerMsg::Resumed { you, room, peers, resume, sfu }),
        peer_info().prop_map(|peer| ServerMsg::PeerJoined { peer }),
        from().prop_map(|peer| ServerMsg::PeerLeft { peer }),
        (from(), ".{0,10}").prop_map(|(from, sdp)| ServerMsg::Offer { from, sdp }),
        (from(), ".{0,10}").prop_map(|(from, sdp)| ServerMsg::Answer { from, sdp }),
        (from(), candidate()).prop_map(|(from, candidate)| ServerMsg::Ice { from, candidate }),
        (from(), media_state()).prop_map(|(from, state)| ServerMsg::MediaState { from, state }),
        (prop::sample::select(<ErrorCode as strum::IntoEnumIterator>::iter().collect::<Vec<_>>()), ".{0,10}")
            .prop_map(|(code, message)| ServerMsg::Error { code, message }),
        Just(ServerMsg::Pong),
        Just(ServerMsg::UseSfu),
        ".{0,10}".prop_map(|sdp| ServerMsg::SfuAnswer { sdp }),
        (".{0,10}", vec(sfu_track(), 0..4)).prop_map(|(sdp, tracks)| ServerMsg::SfuOffer { sdp, tracks }),
        vec(from(), 0..4).prop_map(|peers| ServerMsg::Speaking { peers }),
        vec(from(), 0..4).prop_map(|peers| ServerMsg::SfuPaused { peers }),
        (from(), ".{0,10}").prop_map(|(from, text)| ServerMsg::Chat { from, text }),
    ]
}

fn sfu_track() -> impl Strategy<Value = SfuTrack> {
    let source = prop::sample::select(<TrackSource as strum::IntoEnumIterator>::iter().collect::<Vec<_>>());
    ("[0-9]{1,3}", any::<u64>(), source).prop_map(|(mid, peer, source)| SfuTrack { mid, peer: PeerId(peer), source })
}

/// JSON scalars, the values a broken field may hold.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..70_000).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec!["", "pong", "room_full", "standup", "a/b", "Ana"]).prop_map(Value::from),
    ]
}

/// A valid message with one field, at the top or one object down, removed
/// or replaced by a scalar: the near misses a decoder must judge alike.
fn broken_server_json() -> impl Strategy<Value = Value> {
    (server_msg(), any::<prop::sample::Index>(), any::<prop::sample::Index>(), proptest::option::of(scalar())).prop_map(
        |(msg, pick, inner, replacement)| {
            let mut value = serde_json::to_value(&msg).unwrap();
            let top = value.as_object_mut().unwrap();
            let keys: Vec<String> = top.keys().cloned().collect();
            let key = pick.get(&keys).clone();
            // Into a nested object (a peer, a candidate) half the time.
            let target = match top.get_mut(&key) {
                Some(Value::Object(object)) if inner.index(2) == 0 && !object.is_empty() => object,
                Some(Value::Array(items)) if inner.index(2) == 0 && !items.is_empty() => match inner.get_mut(items) {
                    Value::Object(object) => object,
                    _ => top,
                },
                _ => top,
            };
            let keys: Vec<String> = target.keys().cloned().collect();
            let key = if keys.is_empty() { "type".to_owned() } else { inner.get(&keys).clone() };
            match replacement {
                None => target.remove(&key),
                Some(v) => target.insert(key, v),
            };
            value
        },
    )
}

/// The hand-written decoder and serde's derive agree: both refuse, or both
/// give the same message.
fn decoders_agree(text: &str) -> Result<(), TestCaseError> {
    let hand = ServerMsg::decode(text);
    let derived = serde_json::from_str::<ServerMsg>(text);
    prop_assert_eq!(hand.as_ref().ok(), derived.as_ref().ok(), "{}: hand {:?}, derived {:?}", text, hand, derived);
    if let Err(err) = hand {
        prop_assert!(!err.to_string().is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_server_message_round_trips(msg in server_msg()) {
        prop_assert_eq!(ServerMsg::decode(&msg.encode()).unwrap(), msg);
    }

    /// `/api/ice-servers`' answer, as the browser reads it.
    #[test]
    fn every_ice_config_round_trips(servers in vec(ice_server(), 0..4), relay_only in any::<bool>()) {
        let config = IceConfig { servers, relay_only };
        prop_assert_eq!(IceConfig::decode(&serde_json::to_string(&config).unwrap()).unwrap(), config);
    }

    #[test]
    fn ice_config_decoders_agree(value in json()) {
        let text = value.to_string();
        if let Ok(config) = IceConfig::decode(&text) {
            prop_assert_eq!(serde_json::from_str::<IceConfig>(&text).ok(), Some(config));
        }
    }

    #[test]
    fn server_decoders_agree_on_near_misses(value in broken_server_json()) {
        decoders_agree(&value.to_string())?;
    }

    /// On anything at all the hand decoder does not panic, and what it
    /// accepts the derive accepts alike (the derive also reads arrays as
    /// structs, which the hand decoder refuses).
    #[test]
    fn server_decode_takes_any_json(value in json()) {
        let text = value.to_string();
        if let Ok(msg) = ServerMsg::decode(&text) {
            prop_assert_eq!(serde_json::from_str::<ServerMsg>(&text).ok(), Some(msg));
        }
    }
}

// ---- The browser's JSON (shared::json) -------------------------------------

/// What `shared::json` should read for a value serde_json prints.
fn as_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.as_u64()),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(items) => Json::Array(items.iter().map(as_json).collect()),
        Value::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), as_json(v))).collect()),
    }
}

fn room_status() -> impl Strategy<Value = RoomStatus> {
    (valid_room(), any::<usize>(), any::<usize>(), any::<bool>())
        .prop_map(|(room, members, capacity, locked)| RoomStatus { room, members, capacity, locked })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The browser prints what the derive prints, byte for byte.
    #[test]
    fn client_messages_print_as_serde_json_does(msg in client_msg()) {
        prop_assert_eq!(msg.encode(), serde_json::to_string(&msg).unwrap());
    }

    #[test]
    fn strings_print_and_read_as_serde_json_does(s in any::<String>()) {
        let mut printed = String::new();
        json::write_string(&mut printed, &s);
        prop_assert_eq!(&printed, &serde_json::to_string(&s).unwrap());
        prop_assert_eq!(Json::parse(&printed).unwrap(), Json::String(s));
    }

    #[test]
    fn json_reads_what_serde_json_prints(value in json()) {
        prop_assert_eq!(Json::parse(&value.to_string()).unwrap(), as_json(&value));
        prop_assert_eq!(Json::parse(&serde_json::to_string_pretty(&value).unwrap()).unwrap(), as_json(&value));
    }

    /// On any text it answers without panicking, and it reads all that
    /// serde_json reads.
    #[test]
    fn json_takes_any_text(text in "[\\[\\]{}\",:0-9.eE+\\-a-z \\\\\\n]{0,24}|\\PC{0,24}") {
        let ours = Json::parse(&text);
        if let Ok(value) = serde_json::from_str::<Value>(&text) {
            prop_assert_eq!(ours, Ok(as_json(&value)), "{:?}", text);
        }
    }

    #[test]
    fn every_room_status_round_trips(status in room_status()) {
        prop_assert_eq!(RoomStatus::decode(&serde_json::to_string(&status).unwrap()).unwrap(), status);
    }
}

// ---- The room registry ------------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    Send(PeerId, ClientMsg),
    /// The socket closed: what the hub does on `Disconnect`.
    Drop(PeerId),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (peer(), client_msg()).prop_map(|(peer, msg)| Step::Send(peer, msg)),
        1 => peer().prop_map(Step::Drop),
    ]
}

/// Who is in which room, as the registry says through every accessor; fails
/// if the accessors disagree or a room breaks the rules.
fn check_rooms(rooms: &Rooms, capacity: usize) -> Result<HashMap<PeerId, RoomName>, TestCaseError> {
    let mut seen: HashMap<PeerId, RoomName> = HashMap::new();
    let snapshot = rooms.snapshot();
    for (room, members) in &snapshot {
        prop_assert!(!members.is_empty(), "{room}: an empty room lingers");
        prop_assert!(members.len() <= capacity, "{room}: {} over {capacity}", members.len());
        prop_assert_eq!(rooms.status(room.clone()).members, members.len());
        prop_assert_eq!(rooms.status(room.clone()).capacity, capacity);
        for member in members {
            if let Some(other) = seen.insert(*member, room.clone()) {
                return Err(TestCaseError::fail(format!("{member} is in {other} and {room}")));
            }
            prop_assert_eq!(rooms.room_of(*member), Some(room), "{} disagrees", member);
        }
    }
    prop_assert_eq!(rooms.room_count(), snapshot.len());
    prop_assert_eq!(rooms.member_count(), seen.len());
    for id in 0..=7 {
        let peer = PeerId(id);
        prop_assert_eq!(rooms.room_of(peer), seen.get(&peer), "{} disagrees", peer);
    }
    Ok(seen)
}

/// Every message goes to the sender itself or to a member of the sender's
/// room (before or after the step: `Leave` tells the room it left), and
/// says truthfully who it is from.
fn check_outbox(
    sender: PeerId,
    before: &HashMap<PeerId, RoomName>,
    after: &HashMap<PeerId, RoomName>,
    out: &[(PeerId, ServerMsg)],
) -> Result<(), TestCaseError> {
    let rooms: Vec<&RoomName> = before.get(&sender).into_iter().chain(after.get(&sender)).collect();
    let roommates: HashSet<PeerId> = before
        .iter()
        .chain(after)
        .filter(|(peer, room)| **peer != sender && rooms.contains(room))
        .map(|(peer, _)| *peer)
        .collect();
    for (to, msg) in out {
        if *to == sender {
            match msg {
                ServerMsg::Error { .. } | ServerMsg::Pong => {}
                ServerMsg::Welcome { you, room, peers, .. } => {
                    prop_assert_eq!(*you, sender);
                    prop_assert_eq!(after.get(&sender), Some(room));
                    for peer in peers {
                        prop_assert_eq!(after.get(&peer.id), Some(room), "a stranger in the welcome");
                    }
                }
                other => return Err(TestCaseError::fail(format!("{sender} sent itself {other:?}"))),
            }
            continue;
        }
        prop_assert!(roommates.contains(to), "{} got {:?} from {}, not a roommate", to, msg, sender);
        let from = match msg {
            ServerMsg::Offer { from, .. }
            | ServerMsg::Answer { from, .. }
            | ServerMsg::Ice { from, .. }
            | ServerMsg::MediaState { from, .. }
            | ServerMsg::PeerLeft { peer: from } => *from,
            ServerMsg::PeerJoined { peer } => peer.id,
            other => return Err(TestCaseError::fail(format!("{to} got {other:?}"))),
        };
        prop_assert_eq!(from, sender, "a message to {} claims another sender", to);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rooms_keep_their_invariants_after_every_step(
        capacity in 1usize..=4,
        steps in vec(step(), 1..80),
    ) {
        let mut rooms = Rooms::new(capacity, vec![]);
        let mut before = check_rooms(&rooms, capacity)?;
        for step in steps {
            let (sender, out) = match step {
                Step::Send(peer, msg) => (peer, rooms.handle(peer, msg)),
                Step::Drop(peer) => (peer, rooms.leave(peer)),
            };
            let after = check_rooms(&rooms, capacity)?;
            check_outbox(sender, &before, &after, &out)?;
            before = after;
        }
    }
}
