//! A small JSON reader and writer for what the browser reads and writes.
//!
//! The page used serde_json for three things: parse a server message into a
//! `Value`, read `/api/...` answers, print a [`crate::ClientMsg`]. Its parser,
//! its error messages and the float formatting those pull in were about
//! 50 KB of the client's wasm (docs/SIZE.md). The protocol has no floats, so
//! this reader keeps numbers only as whole, non-negative ones; any other
//! number is read (the text is still JSON) but has no value.
//!
//! The backend keeps serde_json; property tests (backend/tests/properties.rs)
//! hold this reader and writer to serde_json's answers.

use std::fmt::Write;

/// Deeper nesting is refused: no message comes near it, and a recursive
/// reader must not run out of stack on `[[[[...`.
pub const MAX_DEPTH: usize = 64;

/// One JSON value. Objects keep their fields in order, a repeated key as
/// often as it is written: [`Json::take_field`] reads its last value, as
/// serde_json's `Value` does. (Dropping repeats while parsing would make a
/// hostile object of many keys cost quadratic time.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number: `Some` for a whole number in `0..=u64::MAX` written without
    /// a fraction or exponent, `None` for any other.
    Number(Option<u64>),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Why a text is not the JSON wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("not JSON: {what} at byte {at}")]
    Syntax { what: &'static str, at: usize },
    /// Well-formed JSON of the wrong shape (a missing field, a string where
    /// a number belongs, an unknown message type).
    #[error("{0}")]
    Shape(String),
}

impl Json {
    /// Reads one JSON value that is all of `text` (whitespace aside).
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut reader = Reader { text, at: 0 };
        let value = reader.value(0)?;
        reader.skip_whitespace();
        if reader.at != text.len() {
            return Err(reader.error("trailing characters"));
        }
        Ok(value)
    }

    /// Takes the value of `key` (its last, if repeated) out of an object's
    /// fields.
    pub fn take_field(fields: &mut Vec<(String, Json)>, key: &str) -> Option<Json> {
        let at = fields.iter().rposition(|(k, _)| k == key)?;
        let value = fields.swap_remove(at).1;
        fields.retain(|(k, _)| k != key);
        Some(value)
    }

    /// What a value is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn error(&self, what: &'static str) -> JsonError {
        JsonError::Syntax { what, at: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), JsonError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'n') => self.word("null", Json::Null),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[' | b'{') if depth >= MAX_DEPTH => Err(self.error("nested too deep")),
            Some(b'[') => self.array(depth + 1),
            Some(b'{') => self.object(depth + 1),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Result<Json, JsonError> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.eat(b']') {
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            if self.eat(b']') {
                return Ok(Json::Array(items));
            }
            self.expect(b',', "expected `,` or `]`")?;
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.at += 1;
        let mut fields: Vec<(String, Json)> = Vec::new();
        self.skip_whitespace();
        if self.eat(b'}') {
            return Ok(Json::Object(fields));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(b':', "expected `:`")?;
            let value = self.value(depth)?;
            fields.push((key, value));
            self.skip_whitespace();
            if self.eat(b'}') {
                return Ok(Json::Object(fields));
            }
            self.expect(b',', "expected `,` or `}`")?;
        }
    }

    fn digits(&mut self) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("expected a digit"));
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        Ok(())
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let negative = self.eat(b'-');
        let start = self.at;
        // No leading zeros: "0" alone, or a nonzero digit first.
        if !self.eat(b'0') {
            self.digits()?;
        }
        let integer = &self.text[start..self.at];
        let mut whole = !negative;
        if self.eat(b'.') {
            self.digits()?;
            whole = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digits()?;
            whole = false;
        }
        // Too big for u64 is a number without a value, as in serde_json.
        Ok(Json::Number(if whole { integer.parse().ok() } else { None }))
    }

    /// A string, the opening quote next.
    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // Split only at ASCII bytes, so always at a char boundary.
            out.push_str(&self.text[start..self.at]);
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// After a backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let Some(byte) = self.peek() else { return Err(self.error("unterminated string")) };
        self.at += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                let code = match first {
                    0xD800..=0xDBFF => {
                        if !(self.eat(b'\\') && self.eat(b'u')) {
                            return Err(self.error("lone surrogate in a \\u escape"));
                        }
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.error("lone surrogate in a \\u escape"));
                        }
                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.error("lone surrogate in a \\u escape")),
                    _ => first,
                };
                char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))?
            }
            _ => return Err(self.error("invalid escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let hex = self.text.get(self.at..self.at + 4).ok_or_else(|| self.error("invalid \\u escape"))?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error("invalid \\u escape"));
        }
        self.at += 4;
        u32::from_str_radix(hex, 16).map_err(|_| self.error("invalid \\u escape"))
    }
}

/// Writes one JSON object, fields in the order given, as serde_json prints
/// a derived `Serialize` (no spaces; strings escaped the same way).
pub struct ObjectWriter {
    out: String,
}

impl ObjectWriter {
    /// `{"type":"<tag>"`: every message starts with its type.
    pub fn tagged(tag: &str) -> Self {
        Self::new().str("type", tag)
    }

    pub fn new() -> Self {
        Self { out: String::from("{") }
    }

    fn key(mut self, key: &str) -> Self {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        write_string(&mut self.out, key);
        self.out.push(':');
        self
    }

    pub fn str(self, key: &str, value: &str) -> Self {
        let mut this = self.key(key);
        write_string(&mut this.out, value);
        this
    }

    /// `null` for `None`.
    pub fn opt_str(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.str(key, value),
            None => self.raw(key, "null"),
        }
    }

    pub fn uint(self, key: &str, value: u64) -> Self {
        let mut this = self.key(key);
        let _ = write!(this.out, "{value}");
        this
    }

    /// `null` for `None`.
    pub fn opt_uint(self, key: &str, value: Option<u64>) -> Self {
        match value {
            Some(value) => self.uint(key, value),
            None => self.raw(key, "null"),
        }
    }

    pub fn bool(self, key: &str, value: bool) -> Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// `value` is JSON already (a nested object).
    pub fn raw(self, key: &str, value: &str) -> Self {
        let mut this = self.key(key);
        this.out.push_str(value);
        this
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

impl Default for ObjectWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it: quote, backslash
/// and control characters; everything else as is.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_value() {
        let text = r#" {"a": [1, -2, 3.5, 1e3, 18446744073709551615, 18446744073709551616], "b": {"c": null, "d": true, "e": false}, "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00y"} "#;
        let value = Json::parse(text).unwrap();
        let Json::Object(fields) = value else { panic!("an object") };
        assert_eq!(
            fields[0].1,
            Json::Array(vec![
                Json::Number(Some(1)),
                Json::Number(None),
                Json::Number(None),
                Json::Number(None),
                Json::Number(Some(u64::MAX)),
                Json::Number(None),
            ])
        );
        assert_eq!(
            fields[1].1,
            Json::Object(vec![
                ("c".into(), Json::Null),
                ("d".into(), Json::Bool(true)),
                ("e".into(), Json::Bool(false))
            ])
        );
        assert_eq!(fields[2].1, Json::String("x\"\\/\u{8}\u{c}\n\r\té😀y".into()));
    }

    #[test]
    fn a_repeated_key_is_read_as_its_last_value() {
        let Json::Object(mut fields) = Json::parse(r#"{"a":1,"b":2,"a":3}"#).unwrap() else { panic!("an object") };
        assert_eq!(Json::take_field(&mut fields, "a"), Some(Json::Number(Some(3))));
        assert_eq!(Json::take_field(&mut fields, "a"), None);
        assert_eq!(fields, vec![("b".into(), Json::Number(Some(2)))]);
    }

    #[test]
    fn refuses_what_is_not_json_with_where() {
        for (text, at) in [
            ("", 0),
            ("{", 1),
            ("[1,]", 3),
            ("[1 2]", 3),
            ("01", 1),
            ("-", 1),
            ("1.", 2),
            ("1e", 2),
            ("nul", 0),
            ("\"a", 2),
            ("\"\\x\"", 3),
            ("\"\\ud800\"", 7),
            ("\"\\udc00\"", 7),
            ("\"\\u12\"", 3),
            ("\"a\nb\"", 2),
            ("{\"a\" 1}", 5),
            ("{1:2}", 1),
            ("{} x", 3),
        ] {
            match Json::parse(text) {
                Err(JsonError::Syntax { at: got, .. }) => assert_eq!(got, at, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(matches!(Json::parse(&deep), Err(JsonError::Syntax { what: "nested too deep", .. })));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Json::parse(&ok).is_ok());
    }

    #[test]
    fn writes_objects_as_serde_json_does() {
        let text = ObjectWriter::tagged("ice")
            .uint("to", 7)
            .opt_str("sdpMid", None)
            .bool("muted", true)
            .raw("x", "{}")
            .str("s", "a\"\\\n\u{1}\u{7f}é")
            .finish();
        assert_eq!(
            text,
            "{\"type\":\"ice\",\"to\":7,\"sdpMid\":null,\"muted\":true,\"x\":{},\"s\":\"a\\\"\\\\\\n\\u0001\u{7f}é\"}"
        );
        assert_eq!(ObjectWriter::new().finish(), "{}");
    }
}
