//! The Twilio conference of a call. (The call's id itself, [`CallId`], is part of the chat
//! contract: it lives in `bridges/chat`, which the bridges share with the line.)

use std::fmt;

use denwa_chat::CallId;

/// The Twilio conference a call's caller sits in: `denwa-<call id>`, never a phone number or name
/// (Twilio's guidance: no personal data in conference names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConferenceName {
    name: String,
    call: CallId,
}

impl ConferenceName {
    /// The conference of call `call`.
    pub fn of(call: &CallId) -> Self {
        Self {
            name: format!("denwa-{call}"),
            call: call.clone(),
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        input
            .strip_prefix("denwa-")
            .and_then(CallId::parse)
            .map(|id| Self::of(&id))
    }

    pub fn call_id(&self) -> CallId {
        self.call.clone()
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ConferenceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_through_conference_names() {
        let id = CallId::generate();
        let conf = ConferenceName::of(&id);
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
