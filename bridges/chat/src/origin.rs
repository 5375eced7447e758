//! Who asked for a message to be spoken: the receipt's way back.

use serde::{Deserialize, Serialize};

/// Who asked for a message to be spoken, so that its receipt finds its way back. The line keeps
/// it beside the message (as JSON) and hands it back in [`crate::LineEvent::MessageSpoken`] and
/// [`crate::LineEvent::MessageFailed`]; only the bridge named in it reads its `reference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageOrigin {
    /// The bridge that took the message ([`crate::ChatBridge::name`]), `"api"` for the HTTP API,
    /// or [`MessageOrigin::LINE`] for the line's own announcements.
    pub bridge: String,
    /// What the bridge needs to answer the sender, in its own terms: the chat message or request
    /// the message came from (a bridge with several parts to keep writes them as JSON); for the
    /// API, the client's own reference. Empty when there is none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// The chat user who sent it, when the bridge knows (a Slack or Discord user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
}

impl MessageOrigin {
    /// The bridge name of the line's own announcements ("Alice joined the call").
    pub const LINE: &str = "line";

    pub fn new(bridge: impl Into<String>, reference: impl Into<String>) -> Self {
        Self {
            bridge: bridge.into(),
            reference: reference.into(),
            who: None,
        }
    }

    /// This origin, sent by chat user `who`.
    pub fn by(self, who: impl Into<String>) -> Self {
        Self {
            who: Some(who.into()),
            ..self
        }
    }

    /// The origin of the line's own announcements.
    pub fn line() -> Self {
        Self::new(Self::LINE, "")
    }

    /// Whether the line itself said it, rather than someone writing to the caller.
    pub fn is_line(&self) -> bool {
        self.bridge == Self::LINE
    }

    /// The message's name, when the sender gave it a reference: a request sent again under the
    /// same name (a retry after a lost answer) is the same message. It is a key, never read
    /// back; `bridge:reference`, as names have been since before origins had fields, so a retry
    /// across an upgrade still finds its message.
    pub fn key(&self) -> Option<String> {
        (!self.reference.is_empty()).then(|| format!("{}:{}", self.bridge, self.reference))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_round_trip_through_json() {
        for origin in [
            MessageOrigin::new("api", ""),
            MessageOrigin::line(),
            MessageOrigin::new("slack", r#"{"on":"reply","channel":"C1","ts":"1.2"}"#).by("U1"),
        ] {
            let stored = serde_json::to_string(&origin).unwrap();
            assert_eq!(
                serde_json::from_str::<MessageOrigin>(&stored).unwrap(),
                origin
            );
        }
        assert_eq!(
            serde_json::to_string(&MessageOrigin::line()).unwrap(),
            r#"{"bridge":"line"}"#
        );
    }

    #[test]
    fn only_a_reference_names_a_message() {
        assert_eq!(
            MessageOrigin::new("api", "ui:42").key().as_deref(),
            Some("api:ui:42")
        );
        assert_eq!(MessageOrigin::new("api", "").by("U1").key(), None);
        assert!(MessageOrigin::line().is_line());
        assert!(!MessageOrigin::new("api", "line").is_line());
    }
}
