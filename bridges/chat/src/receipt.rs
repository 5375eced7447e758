//! Receipts: what became of a message, told to the bridge that sent it.

use crate::{CallId, LineEvent, MessageId, MessageOrigin};

/// What became of a message a bridge handed to the line: a [`LineEvent::MessageSpoken`] or
/// [`LineEvent::MessageFailed`], as the bridge that sent it reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt<'a> {
    pub call: &'a CallId,
    pub message: &'a MessageId,
    pub origin: &'a MessageOrigin,
    /// Why it will never be spoken; `None`: the caller heard it.
    pub failure: Option<&'a str>,
}

impl LineEvent {
    /// The receipt this event is for a message `bridge` sent; `None` for any other event, and
    /// for the receipts of other bridges' messages (theirs to tell).
    pub fn receipt_for(&self, bridge: &str) -> Option<Receipt<'_>> {
        let (call, message, origin, failure) = match self {
            LineEvent::MessageSpoken {
                call_id,
                message_id,
                origin,
            } => (call_id, message_id, origin, None),
            LineEvent::MessageFailed {
                call_id,
                message_id,
                origin,
                reason,
            } => (call_id, message_id, origin, Some(reason.as_str())),
            _ => return None,
        };
        (origin.bridge == bridge).then_some(Receipt {
            call,
            message,
            origin,
            failure,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_reads_the_receipts_of_its_own_messages_only() {
        let call = CallId::parse("c1").unwrap();
        let message = MessageId::parse("m0000000000000001").unwrap();
        let failed = LineEvent::MessageFailed {
            call_id: call.clone(),
            message_id: message.clone(),
            origin: MessageOrigin::new("slack", "r"),
            reason: "the call has ended".into(),
        };
        let receipt = failed.receipt_for("slack").unwrap();
        assert_eq!(receipt.call, &call);
        assert_eq!(receipt.message, &message);
        assert_eq!(receipt.failure, Some("the call has ended"));
        assert_eq!(failed.receipt_for("discord"), None);
        let spoken = LineEvent::MessageSpoken {
            call_id: call.clone(),
            message_id: message,
            origin: MessageOrigin::new("discord", "r"),
        };
        assert_eq!(spoken.receipt_for("discord").unwrap().failure, None);
        let notice = LineEvent::Notice {
            call_id: call,
            text: "x".into(),
        };
        assert_eq!(notice.receipt_for("discord"), None);
    }
}
