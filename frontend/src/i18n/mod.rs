//! The words on screen, in English and Korean. Every user-visible string is a
//! field of [`Texts`]; [`en`] and [`ko`] each fill in one, so a string missing
//! from either language does not compile. Strings with values in them are
//! plain functions.
//!
//! The language comes from the browser (`navigator.languages`) until the
//! person picks one, which is then remembered in local storage. Components read
//! it from context: `{tr(|t| t.leave)}` for a plain label, or
//! `let t = use_texts();` then `{move || (t().here)(count())}`.

mod en;
mod ko;

use leptos::prelude::*;
use shared::call::ConnectionState;
use shared::NameError;

/// A duration in ms as people read it: "0.4", "12", "230".
fn millis(ms: f64) -> String {
    if ms < 10.0 {
        tenths(ms)
    } else {
        whole(ms)
    }
}

/// `x` with one decimal ("12.5"), by integer arithmetic: formatting an
/// `f64` would bring Rust's float printing (~40 KB) into the page's wasm.
pub fn tenths(x: f64) -> String {
    let t = (x * 10.0).round() as i64;
    let sign = if t < 0 { "-" } else { "" };
    format!("{sign}{}.{}", t.abs() / 10, t.abs() % 10)
}

/// `x` rounded to a whole number; see [`tenths`].
pub fn whole(x: f64) -> String {
    (x.round() as i64).to_string()
}

/// Where the chosen language is remembered (next to `moim.name`).
pub const LANG_KEY: &str = "moim.lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Ko,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

    /// The BCP 47 code, for `<html lang>` and storage.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    /// The language's name in itself, for the picker.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ko => "한국어",
        }
    }

    /// The language of a tag such as `ko-KR`, `en_US` or `ko`, if we speak it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Lang::ALL.into_iter().find(|l| primary.eq_ignore_ascii_case(l.code()))
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &en::EN,
            Lang::Ko => &ko::KO,
        }
    }
}

/// The first language we speak in the browser's list, best first
/// (`navigator.languages`); English if none.
pub fn detect<I, S>(languages: I) -> Lang
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    languages.into_iter().find_map(|tag| Lang::from_tag(tag.as_ref())).unwrap_or_default()
}

/// `navigator.languages`, or `navigator.language` where there is no list.
pub fn browser_languages() -> Vec<String> {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else { return vec![] };
    let mut tags: Vec<String> = navigator.languages().iter().filter_map(|tag| tag.as_string()).collect();
    if tags.is_empty() {
        tags.extend(navigator.language());
    }
    tags
}

pub fn remembered_lang() -> Option<Lang> {
    Lang::from_tag(&crate::route::storage()?.get_item(LANG_KEY).ok()??)
}

pub fn remember_lang(lang: Lang) {
    if let Some(s) = crate::route::storage() {
        let _ = s.set_item(LANG_KEY, lang.code());
    }
}

/// The language picked before, else the browser's.
pub fn initial_lang() -> Lang {
    remembered_lang().unwrap_or_else(|| detect(browser_languages()))
}

/// Puts the language in context (call once, at the top) and on `<html lang>`.
pub fn provide_lang() -> RwSignal<Lang> {
    let lang = initial_lang();
    set_page_lang(lang);
    let lang = RwSignal::new(lang);
    provide_context(lang);
    lang
}

/// The person picks a language: every label follows (`current` is the
/// signal from [`use_lang`]), and it is remembered.
pub fn choose_lang(current: RwSignal<Lang>, lang: Lang) {
    current.set(lang);
    remember_lang(lang);
    set_page_lang(lang);
}

/// `<html lang>`, for screen readers, fonts and hyphenation.
fn set_page_lang(lang: Lang) {
    if let Some(html) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = html.set_attribute("lang", lang.code());
    }
}

/// The current language (from [`provide_lang`]).
pub fn use_lang() -> RwSignal<Lang> {
    expect_context::<RwSignal<Lang>>()
}

/// One text, redrawn when the language changes: `{tr(|t| t.leave)}`.
///
/// Every call returns the same closure type, so the view code for "a text
/// that follows the language" is compiled once, not once per label.
pub fn tr(pick: fn(&'static Texts) -> &'static str) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let lang = use_lang();
    move || pick(lang.get().texts())
}

/// The current language's texts, for choices and values:
/// `{move || if muted.get() { t().unmute } else { t().mute }}`.
pub fn use_texts() -> impl Fn() -> &'static Texts + Copy + Send + Sync + 'static {
    let lang = use_lang();
    move || lang.get().texts()
}

/// Every string on screen, in one language.
pub struct Texts {
    // Media toggles: each label says what a click will do.
    pub mute: &'static str,
    pub unmute: &'static str,
    pub mute_title: &'static str,
    pub camera_off: &'static str,
    pub camera_on: &'static str,
    pub camera_title: &'static str,
    pub front_camera: &'static str,
    pub back_camera: &'static str,
    pub share_screen: &'static str,
    pub stop_sharing: &'static str,
    pub share_title: &'static str,

    // Device pickers.
    pub camera: &'static str,
    pub microphone: &'static str,
    pub speaker: &'static str,
    pub system_speaker_only: &'static str,

    // When camera or microphone cannot be had.
    pub try_again: &'static str,
    pub use_only_microphone: &'static str,
    pub join_without_media: &'static str,
    /// Said while neither camera nor microphone is sent.
    pub sending_nothing: &'static str,

    // Tiles and the people list.
    pub you: &'static str,
    pub muted: &'static str,
    pub camera_off_badge: &'static str,
    pub presenting: &'static str,
    /// A remote tile's name: a click makes the tile large, or the grid even again.
    pub enlarge_title: &'static str,
    /// "People (3)".
    pub people: fn(usize) -> String,
    /// `RTCPeerConnectionState`s other than "connected", shown on a tile.
    pub conn_new: &'static str,
    pub conn_connecting: &'static str,
    pub conn_disconnected: &'static str,
    pub conn_failed: &'static str,
    pub conn_closed: &'static str,
    /// The tile's signal button, and its details.
    pub link_title: &'static str,
    pub link_measuring: &'static str,
    /// On the media server the path and round trip are of our own link to it.
    pub link_to_server: &'static str,
    pub route_direct: &'static str,
    pub route_stun: &'static str,
    pub route_relayed: &'static str,
    /// "over UDP".
    pub over: fn(&str) -> String,
    /// Round trip, in ms.
    pub round_trip: fn(f64) -> String,
    /// Lost share of packets, in %.
    pub loss: fn(f64) -> String,
    /// Rates in and out, already in words ("1.2 Mbit/s").
    pub rates: fn(&str, &str) -> String,
    /// Width, height, frames a second.
    pub video_size: fn(u32, u32, f64) -> String,
    /// Shown on a tile whose connection is weak, sustained.
    pub weak_link: &'static str,
    pub weak_link_title: &'static str,
    /// Shown on a tile whose video the server holds back for our bandwidth.
    pub paused_video: &'static str,
    pub paused_video_title: &'static str,
    /// Turning the grid's pages, when more people are here than a page holds.
    pub previous_page: &'static str,
    pub next_page: &'static str,

    // "Test my setup" (`/check`): each line says what is right or what to do.
    pub check_title: &'static str,
    pub check_intro: &'static str,
    pub back_to_moim: &'static str,
    pub check_waiting: &'static str,
    pub check_secure_ok: &'static str,
    pub check_secure_bad: &'static str,
    /// Cameras, microphones.
    pub check_devices_ok: fn(usize, usize) -> String,
    pub check_preview_ok: fn(u32, u32) -> String,
    pub check_preview_none: &'static str,
    pub check_mic_waiting: &'static str,
    pub check_mic_heard: &'static str,
    pub check_speaker_button: &'static str,
    pub check_speaker_hint: &'static str,
    pub check_speaker_played: &'static str,
    pub check_speaker_failed: fn(&str) -> String,
    pub check_socket_ok: &'static str,
    pub check_socket_bad: &'static str,
    pub check_stun: fn(&shared::check::Stun) -> String,
    pub check_turn: fn(&shared::check::Turn) -> String,
    /// Round trip (ms), loss (%).
    pub check_loopback_ok: fn(f64, f64) -> String,
    pub check_loopback_bad: &'static str,
    pub check_loopback_skipped: &'static str,

    // The meeting's header and bar.
    /// "3 here".
    pub here: fn(usize) -> String,
    pub copy_link: &'static str,
    pub leave: &'static str,
    pub language: &'static str,
    /// Opens the device pickers on a narrow screen, where the bar has no room for them.
    pub devices: &'static str,

    // Shortcuts.
    pub shortcuts: &'static str,
    pub keyboard_shortcuts: &'static str,
    /// (key, what it does), in the order they are listed.
    pub shortcut_list: [(&'static str, &'static str); 5],

    // Chat.
    pub message_everyone: &'static str,
    /// The chat's list of messages, for a screen reader.
    pub chat_log: &'static str,
    pub send: &'static str,
    pub nobody_to_read: &'static str,
    pub joined: fn(&str) -> String,
    pub left: fn(&str) -> String,

    // The welcome screen.
    pub waiting_for_media: &'static str,
    pub mic_level: &'static str,
    pub room: &'static str,
    pub room_placeholder: &'static str,
    pub your_name: &'static str,
    pub name_placeholder: &'static str,
    pub password: &'static str,
    pub password_placeholder: &'static str,
    /// The occupancy line's addition when the room needs a password.
    pub room_locked: &'static str,
    pub join: &'static str,
    pub joining: &'static str,
    pub nobody_here_yet: &'static str,
    /// (members, capacity) when the room is full.
    pub room_full_now: fn(usize, usize) -> String,
    /// (members, capacity).
    pub here_now: fn(usize, usize) -> String,
    /// Why the typed room name is not valid.
    pub room_problem: fn(&NameError) -> String,
    /// Why the typed display name is not valid.
    pub name_problem: fn(&NameError) -> String,

    // Why joining failed, or what went wrong in the meeting.
    /// The server's own (English) words follow, e.g. "this room is full: 2 of 2".
    pub room_full: fn(&str) -> String,
    pub server_updated: &'static str,
    pub bad_room_name: fn(&str) -> String,
    pub bad_display_name: fn(&str) -> String,
    pub password_required: &'static str,
    pub wrong_password: &'static str,
    /// The server's (English) reason follows.
    pub bad_password: fn(&str) -> String,
    /// Joining is refused for a while; the server's (English) detail, maybe
    /// empty, says how long.
    pub too_many_attempts: fn(&str) -> String,
    pub server_said: fn(&str) -> String,
    /// The server's address (or what went wrong opening it).
    pub unreachable: fn(&str) -> String,
    pub server_closed: fn(&str) -> String,
    /// The signaling socket dropped; this is attempt n to get it back.
    pub reconnecting: fn(u32) -> String,
    pub no_connection: fn(&str) -> String,
    /// The media server could not use what the page sent it (the server's
    /// English detail follows): the call's video may not get through.
    pub media_server_refused: fn(&str) -> String,
    /// The room needs the media server, which this server does not run.
    pub no_media_server: fn(&str) -> String,
    pub room_unavailable: &'static str,
    /// Followed by why, a media error.
    pub share_failed: &'static str,

    // Camera and microphone errors (see `MediaError`).
    pub media_blocked: &'static str,
    pub media_not_found: &'static str,
    pub media_busy: &'static str,
    pub media_insecure: &'static str,
    pub media_unsupported: &'static str,
    pub media_other: fn(&str) -> String,
}

impl Texts {
    /// A connection state in words; `None` for "connected" (nothing to say).
    pub fn connection(&self, state: ConnectionState) -> Option<&'static str> {
        Some(match state {
            ConnectionState::Connected => return None,
            ConnectionState::New => self.conn_new,
            ConnectionState::Connecting => self.conn_connecting,
            ConnectionState::Disconnected => self.conn_disconnected,
            ConnectionState::Failed => self.conn_failed,
            ConnectionState::Closed => self.conn_closed,
        })
    }
}
