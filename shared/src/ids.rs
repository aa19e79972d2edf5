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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the name contains {0:?}, which is not allowed")]
    BadChar(char),
}

/// A room name: 1–64 letters (any script), digits, `-`, `_` or `.`, so it is
/// safe in a URL path and easy to read aloud.
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
        let name = raw.trim();
        check_len(name, ROOM_NAME_MAX)?;
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(NameError::BadChar(c));
        }
        Ok(Self(name.to_owned()))
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

/// What others see under your video: 1–40 printable characters.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert_eq!(RoomName::parse("  standup ").unwrap().as_str(), "standup");
        assert!(RoomName::parse("모임-1").is_ok());
        assert_eq!(RoomName::parse(""), Err(NameError::Empty));
        assert_eq!(RoomName::parse("   "), Err(NameError::Empty));
        assert_eq!(
            RoomName::parse(&"a".repeat(100)),
            Err(NameError::TooLong { max: ROOM_NAME_MAX })
        );
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
}
