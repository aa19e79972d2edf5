//! Identifiers and names. A `RoomName` or `DisplayName` that exists is valid:
//! the only way to make one is [`RoomName::parse`] / [`DisplayName::parse`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// A member's id, assigned by the server and unique for the server's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

pub const ROOM_NAME_MAX: usize = 64;
pub const DISPLAY_NAME_MAX: usize = 40;

/// Most combining marks in a row on one character: enough for any script
/// we know of (Vietnamese, Thai, Arabic vowels), not for a stack that
/// draws over the names around it.
pub const MARKS_MAX: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the name contains {0:?}, which is not allowed")]
    BadChar(char),
    #[error("the name has no visible character")]
    Invisible,
    #[error("the name contains a text direction control character")]
    BidiControl,
    #[error("the name has more than {max} accents or marks on one character")]
    TooManyMarks { max: usize },
    #[error("the name cannot be just \".\" or \"..\"")]
    Dots,
}

/// A room name: 1–64 letters (any script, accents included), digits, `-`,
/// `_` or `.`, so it is safe in a URL path and easy to read aloud. With the
/// `nfc` feature (the server's) it is put in Unicode's composed form, so
/// `e` + U+0301 and `é` name one room; the browser's client leaves that to
/// the server (the tables would weigh on its download).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct RoomName(String);

impl TryFrom<String> for RoomName {
    type Error = NameError;
    fn try_from(raw: String) -> Result<Self, NameError> {
        Self::parse(&raw)
    }
}

impl From<RoomName> for String {
    fn from(name: RoomName) -> String {
        name.0
    }
}

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = nfc(raw.trim());
        check_len(&name, ROOM_NAME_MAX)?;
        if let Some(c) = name.chars().find(|&c| !(c.is_alphanumeric() || is_mark(c) || matches!(c, '-' | '_' | '.'))) {
            return Err(NameError::BadChar(c));
        }
        // `/r/.` and `/r/..` are not links to a room: the browser resolves them away.
        if name == "." || name == ".." {
            return Err(NameError::Dots);
        }
        check_visible(&name)?;
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What others see under your video: 1–40 printable characters, some of
/// them visible, without text direction controls (which could make a name
/// read as another, or reorder what follows it) or towers of combining marks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct DisplayName(String);

impl TryFrom<String> for DisplayName {
    type Error = NameError;
    fn try_from(raw: String) -> Result<Self, NameError> {
        Self::parse(&raw)
    }
}

impl From<DisplayName> for String {
    fn from(name: DisplayName) -> String {
        name.0
    }
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        check_len(name, DISPLAY_NAME_MAX)?;
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return Err(NameError::BadChar(c));
        }
        if name.chars().any(is_bidi_control) {
            return Err(NameError::BidiControl);
        }
        check_visible(name)?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_len(name: &str, max: usize) -> Result<(), NameError> {
    match name.chars().count() {
        0 => Err(NameError::Empty),
        n if n > max => Err(NameError::TooLong { max }),
        _ => Ok(()),
    }
}

/// Some character shows, and no run of marks is taller than [`MARKS_MAX`]
/// (invisible characters between marks do not end a run: the marks still
/// stack on the same spot).
fn check_visible(name: &str) -> Result<(), NameError> {
    let (mut visible, mut run) = (false, 0);
    for c in name.chars() {
        if is_mark(c) {
            run += 1;
            if run > MARKS_MAX {
                return Err(NameError::TooManyMarks { max: MARKS_MAX });
            }
        } else if !is_invisible(c) {
            visible = true;
            run = 0;
        }
    }
    if visible {
        Ok(())
    } else {
        Err(NameError::Invisible)
    }
}

/// Combining marks (general category Mn/Me) of the main blocks, by hand:
/// Unicode's full tables would cost the browser's download more than the
/// rest of this crate.
fn is_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{0483}'..='\u{0489}'
            | '\u{0591}'..='\u{05BD}'
            | '\u{0610}'..='\u{061A}'
            | '\u{064B}'..='\u{065F}'
            // Thai, less U+0E32–0E33 (letters: กำ is one mark-free syllable).
            | '\u{0E31}'
            | '\u{0E34}'..='\u{0E3A}'
            | '\u{0E47}'..='\u{0E4E}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
            | '\u{3099}'..='\u{309A}'
    )
}

/// Characters that take no room of their own or draw nothing: spaces,
/// zero-width and joiner characters, fillers (Hangul, braille blank),
/// variation selectors and tags.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Characters that change the direction text runs in: a name could show
/// as another, or turn around what is drawn after it.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Unicode's composed form (NFC), so one name has one spelling.
#[cfg(feature = "nfc")]
fn nfc(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfc().collect()
}

/// The server canonicalises (see [`RoomName`]); here the name is kept as is.
#[cfg(not(feature = "nfc"))]
fn nfc(name: &str) -> String {
    name.to_owned()
}

/// Longest room password, in characters.
pub const PASSWORD_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is empty")]
    Empty,
    #[error("the password is longer than {PASSWORD_MAX} characters")]
    TooLong,
    #[error("the password contains control characters")]
    ControlCharacter,
}

/// A room password that could be typed back: 1–64 characters, no control
/// characters. One rule for the server's flag and a member's join alike.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        match raw.chars().count() {
            0 => Err(PasswordError::Empty),
            n if n > PASSWORD_MAX => Err(PasswordError::TooLong),
            _ if raw.chars().any(char::is_control) => Err(PasswordError::ControlCharacter),
            _ => Ok(Self(raw.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never printed: a log line must not carry it.
impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert_eq!(RoomName::parse("  standup ").unwrap().as_str(), "standup");
        assert!(RoomName::parse("모임-1").is_ok());
        assert_eq!(RoomName::parse(""), Err(NameError::Empty));
        assert_eq!(RoomName::parse("   "), Err(NameError::Empty));
        assert_eq!(RoomName::parse(&"a".repeat(100)), Err(NameError::TooLong { max: ROOM_NAME_MAX }));
        assert!(RoomName::parse(&"a".repeat(ROOM_NAME_MAX)).is_ok());
        assert_eq!(RoomName::parse("a/b"), Err(NameError::BadChar('/')));
        assert_eq!(RoomName::parse("<b>"), Err(NameError::BadChar('<')));
    }

    #[test]
    fn display_names() {
        assert_eq!(DisplayName::parse(" Ana ").unwrap().as_str(), "Ana");
        assert!(DisplayName::parse("<script>alert(1)</script>").is_ok(), "rendered as text");
        assert_eq!(DisplayName::parse("a\nb"), Err(NameError::BadChar('\n')));
        assert_eq!(DisplayName::parse(""), Err(NameError::Empty));
        assert!(DisplayName::parse(&"가".repeat(DISPLAY_NAME_MAX)).is_ok());
        assert_eq!(
            DisplayName::parse(&"가".repeat(DISPLAY_NAME_MAX + 1)),
            Err(NameError::TooLong { max: DISPLAY_NAME_MAX })
        );
    }

    #[test]
    fn display_names_need_a_visible_character() {
        let blanks = ["\u{200B}", "\u{3164}", "\u{2800}", "\u{FEFF}", "\u{301}", "\u{301}\u{302}", "\u{FE0F}"];
        for blank in blanks.into_iter().chain(["\u{200B}\u{3164} \u{2800}", "\u{115F}\u{1160}"]) {
            assert_eq!(DisplayName::parse(blank), Err(NameError::Invisible), "{blank:?}");
        }
        let fine = ["김민지", "가", "\u{1100}\u{1161}", "Zoë", "e\u{301}", "Ana\u{200B}", "\u{3164}Ana", "กี้", "😀"];
        for fine in fine.into_iter().chain(["Nguye\u{323}\u{302}n"]) {
            assert!(DisplayName::parse(fine).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn display_names_refuse_direction_controls() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}').chain(['\u{200E}', '\u{200F}', '\u{061C}']) {
            assert_eq!(DisplayName::parse(&format!("Ana{c}gpj.exe")), Err(NameError::BidiControl), "{c:?}");
        }
        assert!(DisplayName::parse("שלום").is_ok(), "right-to-left scripts are fine");
    }

    #[test]
    fn combining_marks_are_capped_per_character() {
        assert!(DisplayName::parse("a\u{301}\u{302}").is_ok());
        assert!(DisplayName::parse("a\u{301}\u{302}b\u{303}\u{304}").is_ok(), "each character has its own");
        let too_many = Err(NameError::TooManyMarks { max: MARKS_MAX });
        assert_eq!(DisplayName::parse("a\u{301}\u{302}\u{303}"), too_many);
        assert_eq!(DisplayName::parse(&format!("Z{}", "\u{36B}".repeat(30))), too_many, "zalgo");
        let hidden_base = DisplayName::parse("a\u{301}\u{200B}\u{302}\u{303}");
        assert_eq!(hidden_base, too_many, "an invisible character is no new base");
        let firsts = ['\u{483}', '\u{591}', '\u{610}', '\u{64B}', '\u{E31}', '\u{E47}', '\u{1AB0}', '\u{1DC0}'];
        for mark in firsts.into_iter().chain(['\u{20D0}', '\u{FE20}', '\u{3099}']) {
            assert_eq!(DisplayName::parse(&format!("x{mark}{mark}{mark}")), too_many, "{mark:?}");
        }
        assert!(DisplayName::parse("กำ").is_ok(), "U+0E33 is a letter, not a mark");
    }

    #[test]
    fn room_names_are_linkable() {
        assert_eq!(RoomName::parse("."), Err(NameError::Dots));
        assert_eq!(RoomName::parse(" .. "), Err(NameError::Dots));
        assert!(RoomName::parse("...").is_ok());
        assert!(RoomName::parse(".hidden").is_ok());
        assert_eq!(RoomName::parse("\u{3164}"), Err(NameError::Invisible));
        assert_eq!(RoomName::parse("a\u{202E}b"), Err(NameError::BadChar('\u{202E}')));
        assert_eq!(RoomName::parse("x\u{301}\u{302}\u{303}"), Err(NameError::TooManyMarks { max: MARKS_MAX }));
        assert!(RoomName::parse("모임").is_ok());
    }

    /// The browser's client can't compose: it passes a decomposed name to
    /// the server, which does.
    #[test]
    fn room_names_may_carry_accents() {
        assert!(RoomName::parse("caf\u{e9}").is_ok());
        let decomposed = RoomName::parse("cafe\u{301}").unwrap();
        let want = if cfg!(feature = "nfc") { "caf\u{e9}" } else { "cafe\u{301}" };
        assert_eq!(decomposed.as_str(), want);
    }

    #[cfg(feature = "nfc")]
    #[test]
    fn room_names_have_one_spelling_with_nfc() {
        assert_eq!(RoomName::parse("e\u{301}"), RoomName::parse("\u{e9}"));
        assert_eq!(RoomName::parse("e\u{301}").unwrap().as_str(), "\u{e9}");
        // Hangul typed as letters (jamo) is the syllable.
        assert_eq!(RoomName::parse("\u{1100}\u{1161}").unwrap().as_str(), "가");
        // 64 decomposed characters are 64 characters once composed.
        assert!(RoomName::parse(&"e\u{301}".repeat(ROOM_NAME_MAX)).is_ok());
    }

    #[test]
    fn passwords() {
        assert_eq!(Password::parse("비밀 번호").unwrap().as_str(), "비밀 번호");
        assert_eq!(Password::parse(""), Err(PasswordError::Empty));
        assert_eq!(Password::parse(&"x".repeat(PASSWORD_MAX + 1)), Err(PasswordError::TooLong));
        assert!(Password::parse(&"가".repeat(PASSWORD_MAX)).is_ok());
        assert_eq!(Password::parse("a\nb"), Err(PasswordError::ControlCharacter));
        assert_eq!(format!("{:?}", Password::parse("secret").unwrap()), "Password(…)");
    }
}
