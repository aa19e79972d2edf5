//! 한국어. Sentences are polite 해요체; buttons are short verb nouns.

use super::Texts;
use shared::check::{Stun, Turn};
use shared::NameError;

pub static KO: Texts = Texts {
    mute: "음소거",
    unmute: "음소거 해제",
    mute_title: "음소거 또는 해제 (M)",
    camera_off: "카메라 끄기",
    camera_on: "카메라 켜기",
    camera_title: "카메라 끄기 또는 켜기 (V)",
    front_camera: "전면 카메라",
    back_camera: "후면 카메라",
    share_screen: "화면 공유",
    stop_sharing: "공유 중지",
    share_title: "화면 공유 (S)",

    camera: "카메라",
    microphone: "마이크",
    speaker: "스피커",
    system_speaker_only: "이 브라우저에서는 시스템 스피커로 소리가 나와요.",

    try_again: "다시 시도",
    use_only_microphone: "마이크만 사용하기",
    join_without_media: "카메라와 마이크 없이 참여하기",
    sending_nothing: "카메라와 마이크 없이 참여 중이에요. 다른 사람들은 내 이름만 보고 내 목소리는 듣지 못해요. 나는 다른 사람들을 보고 들을 수 있어요.",

    you: "나",
    muted: "음소거됨",
    camera_off_badge: "카메라 꺼짐",
    presenting: "발표 중",
    enlarge_title: "크게 보기. 큰 화면에서는 격자로 돌아가기",
    people: |n| format!("참여자 ({n})"),
    conn_new: "연결 준비 중",
    conn_connecting: "연결 중",
    conn_disconnected: "다시 연결 중…",
    conn_failed: "다시 연결 중…",
    conn_closed: "연결 종료",
    link_title: "연결 정보",
    link_measuring: "측정 중…",
    link_to_server: "미디어 서버까지의 내 연결:",
    route_direct: "직접 연결 (같은 네트워크)",
    route_stun: "직접 연결 (NAT 통과, STUN)",
    route_relayed: "TURN 서버로 중계",
    over: |transport| format!("{transport} 사용"),
    round_trip: |ms| format!("왕복 {} ms", super::millis(ms)),
    loss: |percent| format!("손실 {}%", super::tenths(percent)),
    rates: |incoming, outgoing| format!("받기 {incoming} · 보내기 {outgoing}"),
    video_size: |w, h, fps| format!("영상 {w}×{h}, 초당 {}프레임", super::whole(fps)),
    weak_link: "연결 약함",
    weak_link_title: "이 연결에서 패킷 손실이나 지연이 많아요. 영상이 멈추거나 흐려질 수 있어요",
    paused_video: "영상 멈춤",
    paused_video_title: "대역폭을 아끼려고 멈췄어요. 지금 연결로는 모든 영상을 받을 수 없어요. 여유가 생기면 다시 나와요",
    previous_page: "이전 페이지",
    next_page: "다음 페이지",
    check_title: "내 환경 점검",
    check_intro: "각 줄은 통화에 필요한 것을 하나씩 점검해요. 빨간 줄은 무엇을 해야 하는지 알려 줘요.",
    back_to_moim: "Moim으로 돌아가기",
    check_waiting: "점검 중…",
    check_secure_ok: "안전한 페이지예요 (https 또는 이 컴퓨터). 브라우저가 카메라를 쓸 수 있어요.",
    check_secure_bad: "안전하지 않은 페이지예요. 브라우저는 https:// 페이지나 localhost에서만 카메라를 허용해요. Moim을 https://로 여세요 (서버의 --tls).",
    check_devices_ok: |cameras, microphones| format!("카메라와 마이크가 허용됐어요: 카메라 {cameras}개, 마이크 {microphones}개."),
    check_preview_ok: |w, h| format!("카메라가 {w}×{h}로 보내요."),
    check_preview_none: "카메라 화면이 없어요 (위 줄을 보세요).",
    check_mic_waiting: "말해 보세요. 막대가 움직여야 해요.",
    check_mic_heard: "마이크 소리가 들려요.",
    check_speaker_button: "테스트 소리 재생",
    check_speaker_hint: "버튼을 누르면 짧은 소리가 나야 해요.",
    check_speaker_played: "소리를 재생했어요. 들리지 않았다면 볼륨을 올리거나 회의에서 다른 스피커를 고르세요.",
    check_speaker_failed: |why| format!("브라우저가 소리를 재생하지 않았어요: {why}"),
    check_socket_ok: "Moim 서버에 연결됐어요.",
    check_socket_bad: "Moim 서버의 WebSocket에 연결할 수 없어요. 프록시나 방화벽이 WebSocket을 막고 있을 수 있어요. 다른 네트워크를 쓰거나 서버 운영자에게 문의하세요.",
    check_stun: |stun| match stun {
        Stun::NotConfigured => "이 서버는 STUN 서버를 주지 않아요. 다른 네트워크의 사람과 연결되지 않을 수 있어요. (운영자: --ice-server)".into(),
        Stun::Reflexive(address) => format!("STUN 응답: 내 네트워크의 공인 주소는 {address}예요."),
        Stun::NoTranslation => "STUN 응답: 나와 서버 사이에 주소 변환(NAT)이 없어요.".into(),
        Stun::Unreachable(code) => format!("STUN 서버가 응답하지 않았어요 (오류 {code}). 방화벽이 UDP를 막고 있을 수 있어요. 아래 중계로는 통화가 될 수 있어요."),
    },
    check_turn: |turn| match turn {
        Turn::NotConfigured => "이 서버는 TURN 중계를 주지 않아요. 엄격한 방화벽 뒤의 사람은 연결할 수 없어요. (운영자: --turn-secret, --turn-url)".into(),
        Turn::Relay { address, protocol } => format!("TURN 중계가 작동해요: {address}, {protocol} 사용."),
        Turn::Refused(code) => format!("TURN 서버가 이 서버의 자격 증명을 거부했어요 (오류 {code}). 운영자는 --turn-secret이 coturn의 static-auth-secret과 같은지 확인하세요."),
        Turn::Unreachable(_) => "TURN 중계가 응답하지 않았어요. 직접 연결을 막는 네트워크에서는 통화가 안 돼요. 운영자는 TURN 서버가 실행 중이고 닿는지 확인하세요 (--turn-url).".into(),
    },
    check_loopback_ok: |rtt, loss| format!("중계를 통한 짧은 통화가 연결됐어요: 왕복 {} ms, 손실 {}%.", super::millis(rtt), super::tenths(loss)),
    check_loopback_bad: "중계를 통한 짧은 통화가 15초 안에 연결되지 않았어요. 직접 연결을 막는 네트워크에서는 통화가 안 돼요.",
    check_loopback_skipped: "중계가 없어 중계 통화를 하지 않았어요 (위를 보세요).",

    here: |n| format!("{n}명 참여 중"),
    copy_link: "링크 복사",
    leave: "나가기",
    language: "언어",
    devices: "장치",

    shortcuts: "단축키",
    keyboard_shortcuts: "키보드 단축키",
    shortcut_list: [
        ("M", "마이크 음소거 또는 해제"),
        ("V", "카메라 끄기 또는 켜기"),
        ("S", "화면 공유 시작 또는 중지"),
        ("?", "이 목록 보이기 또는 숨기기"),
        ("Esc", "이 목록 닫기"),
    ],

    message_everyone: "모두에게 메시지 보내기",
    chat_log: "메시지",
    send: "보내기",
    nobody_to_read: "아직 메시지를 읽을 사람이 없어요.",
    joined: |name| format!("{name} 님이 들어왔어요"),
    left: |name| format!("{name} 님이 나갔어요"),

    waiting_for_media: "카메라와 마이크를 기다리는 중…",
    mic_level: "마이크",
    room: "방",
    room_placeholder: "예: 주간회의",
    your_name: "이름",
    name_placeholder: "다른 사람에게 보일 이름",
    password: "비밀번호",
    password_placeholder: "선택: 새 방을 잠가요",
    room_locked: "잠긴 방이에요: 비밀번호를 입력해 주세요.",
    join: "참여하기",
    joining: "참여하는 중…",
    nobody_here_yet: "아직 아무도 없어요.",
    room_full_now: |n, capacity| format!("방이 가득 찼어요 ({n}/{capacity}명)."),
    here_now: |n, capacity| format!("지금 {n}명이 있어요 (최대 {capacity}명)."),
    room_problem: |err| name_error("방 이름", err),
    name_problem: |err| name_error("이름", err),

    // The server's detail is English; the welcome screen's occupancy line
    // already shows how full the room is.
    room_full: |_detail| "죄송해요, 방이 가득 찼어요. 다른 방 이름을 쓰거나 누군가 나갈 때까지 기다려 주세요.".to_owned(),
    server_updated: "서버의 Moim이 업데이트되었어요. 페이지를 새로 고친 뒤 참여해 주세요.",
    bad_room_name: |detail| format!("이 방 이름은 쓸 수 없어요: {detail}"),
    bad_display_name: |detail| format!("이 이름은 쓸 수 없어요: {detail}"),
    password_required: "잠긴 방이에요. 링크를 보낸 사람에게 비밀번호를 물어 입력한 뒤 참여해 주세요.",
    wrong_password: "이 방의 비밀번호가 아니에요. 링크를 보낸 사람에게 확인해 주세요.",
    bad_password: |detail| format!("이 비밀번호는 쓸 수 없어요: {detail}"),
    too_many_attempts: |detail| match detail {
        "" => "잘못된 비밀번호를 너무 많이 입력했어요. 잠시 뒤에 다시 시도해 주세요.".to_owned(),
        detail => format!("잘못된 비밀번호를 너무 많이 입력했어요. 잠시 뒤에 다시 시도해 주세요. ({detail})"),
    },
    server_said: |detail| format!("서버 응답: {detail}"),
    unreachable: |url| {
        format!("Moim 서버에 연결할 수 없어요 ({url}). 서버가 실행 중인지, 인터넷에 연결되어 있는지 확인한 뒤 다시 시도해 주세요.")
    },
    server_closed: |reason| format!("서버가 연결을 끊었어요: {reason}."),
    reconnecting: |attempt| {
        format!("Moim 서버와 연결이 끊겨 다시 연결하고 있어요 ({attempt}번째 시도)… 이미 연결된 통화는 계속돼요.")
    },
    no_connection: |detail| format!("연결을 시작하지 못했어요: {detail}"),
    media_server_refused: |detail| {
        format!("미디어 서버가 이 브라우저의 연결 요청을 쓸 수 없어서 영상과 소리가 전달되지 않을 수 있어요. 페이지를 새로 고쳐 다시 시도해 주세요. ({detail})")
    },
    no_media_server: |detail| {
        format!("이 방에는 서버의 미디어 중계가 필요한데 실행 중이 아니라서 영상과 소리를 전달할 수 없어요. Moim 운영자에게 문의해 주세요. ({detail})")
    },
    room_unavailable: "이 방을 맡은 서버에 지금 연결할 수 없어요. 잠시 후 다시 시도해 주세요.",
    share_failed: "화면을 공유하지 못했어요.",

    media_blocked: "카메라와 마이크 사용이 차단되었어요. 브라우저 주소창의 카메라 아이콘에서 허용한 뒤 페이지를 새로 고쳐 주세요.",
    media_not_found: "카메라나 마이크를 찾을 수 없어요. 마이크만 사용하거나, 아무것도 보내지 않고 참여할 수 있어요.",
    media_busy: "다른 앱이나 탭에서 카메라나 마이크를 쓰고 있어요. 그쪽을 닫은 뒤 다시 시도해 주세요.",
    media_insecure: "카메라와 마이크는 보안 페이지에서만 쓸 수 있어요. Moim을 https://로 열거나, 이 컴퓨터에서 http://localhost로 열어 주세요.",
    media_unsupported: "선택한 장치가 요청한 설정을 지원하지 않아요. 다른 장치를 골라 주세요.",
    media_other: |detail| format!("브라우저가 카메라나 마이크를 시작하지 못했어요: {detail}"),
};

/// `what` is "방 이름" (room name) or "이름" (display name).
fn name_error(what: &str, err: &NameError) -> String {
    match err {
        NameError::Empty => format!("{what}을 입력해 주세요."),
        NameError::TooLong { max } => format!("{what}은 {max}자까지 쓸 수 있어요."),
        NameError::BadChar(c) => format!("{what}에는 {c:?} 문자를 쓸 수 없어요."),
        NameError::Invisible => format!("{what}에 보이는 글자가 없어요."),
        NameError::BidiControl => format!("{what}에는 글자 방향을 바꾸는 제어 문자를 쓸 수 없어요."),
        NameError::TooManyMarks { max } => format!("{what}의 한 글자에는 부호를 {max}개까지 붙일 수 있어요."),
        NameError::Dots => format!("{what}은 \".\"이나 \"..\"만으로 정할 수 없어요."),
    }
}
