//! denwa's own identifiers for calls and messages: opaque, random, and free of personal data.
//!
//! They are parsed where they enter (a URL, a button's value, a store key, a command's text) and
//! passed as these types from there on, so no code past the edge checks an id again.

use std::fmt;

use rand::RngExt as _;
use serde::Serialize;

/// denwa's id for one call on the line. Opaque and random so that it can appear in URLs, Redis
/// keys, conference names and chat buttons without revealing who called. Twilio's `CallSid` is
/// kept beside it, not used in its place, because one denwa call spans several Twilio call legs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CallId(String);

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

impl CallId {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        Self(
            (0..20)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    /// Parses an id from outside; only the characters `generate` uses are allowed, so an id can
    /// never smuggle a Redis hash tag brace, a path separator or a chat markup character.
    pub fn parse(input: &str) -> Option<Self> {
        (!input.is_empty()
            && input.len() <= 64
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        .then(|| Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of one message to be spoken: `m` and 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    pub fn generate() -> Self {
        let n: u64 = rand::rng().random();
        Self(format!("m{n:016x}"))
    }

    pub fn parse(input: &str) -> Option<Self> {
        (input.len() == 17
            && input.starts_with('m')
            && input[1..].bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MessageId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A line's short id (`lines[].id`, `line.id` for the default line): what the API, chat and the
/// store call a line by. Lower-case letters, digits and `-`, at most 32: it appears in URLs,
/// store fields and chat button values, so it carries no markup, brace or separator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LineId(String);

impl LineId {
    /// The default line's id when `line.id` is not set.
    pub const DEFAULT: &'static str = "default";

    pub fn parse(input: &str) -> Option<Self> {
        (!input.is_empty()
            && input.len() <= 32
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        .then(|| Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse() {
        let call = CallId::generate();
        assert_eq!(CallId::parse(call.as_str()), Some(call));
        let message = MessageId::generate();
        assert_eq!(MessageId::parse(message.as_str()), Some(message));
    }

    #[test]
    fn ids_reject_hash_tags_and_paths() {
        for bad in ["", "a{b}", "../x", "ABC", "a b"] {
            assert!(CallId::parse(bad).is_none(), "{bad:?}");
        }
        for bad in ["", "m123", "x0123456789abcdef", "m0123456789abcdeg"] {
            assert!(MessageId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn line_ids_are_short_slugs() {
        assert_eq!(LineId::parse("billing-2").unwrap().as_str(), "billing-2");
        for bad in ["", "Billing", "a b", "a{b}", "a/b", &"x".repeat(33)] {
            assert!(LineId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn ids_serialize_as_their_text() {
        let call = CallId::parse("c123").unwrap();
        assert_eq!(serde_json::to_string(&call).unwrap(), r#""c123""#);
    }
}
