//! denwa's own identifiers: opaque, random, and free of personal data.

use std::fmt;

use rand::RngExt as _;

/// denwa's id for one call on the line. Opaque and random so that it can appear in URLs, Redis keys
/// and conference names without revealing who called. Twilio's `CallSid` is kept beside it, not
/// used in its place, because one denwa call spans several Twilio call legs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
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

    /// Parses an id from a URL or a store key; only the characters `generate` uses are allowed, so
    /// an id can never smuggle a Redis hash tag brace or a path separator.
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

    pub fn conference_name(&self) -> ConferenceName {
        ConferenceName(format!("denwa-{}", self.0))
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Twilio conference a call's caller sits in: `denwa-<call id>`, never a phone number or name
/// (Twilio's guidance: no personal data in conference names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConferenceName(String);

impl ConferenceName {
    pub fn parse(input: &str) -> Option<Self> {
        input
            .strip_prefix("denwa-")
            .and_then(CallId::parse)
            .map(|id| id.conference_name())
    }

    pub fn call_id(&self) -> CallId {
        CallId(self.0["denwa-".len()..].to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConferenceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_through_conference_names() {
        let id = CallId::generate();
        let conf = id.conference_name();
        assert!(conf.as_str().starts_with("denwa-"));
        assert_eq!(ConferenceName::parse(conf.as_str()).unwrap().call_id(), id);
    }

    #[test]
    fn ids_reject_hash_tags_and_paths() {
        for bad in ["", "a{b}", "../x", "ABC", "a b"] {
            assert!(CallId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(ConferenceName::parse("support-123").is_none());
    }
}
