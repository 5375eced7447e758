//! The one place Redis key names are built.

use crate::domain::{CallId, CallSid};

#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// Hash: the call record and its speaker-leg bookkeeping.
    pub(super) fn call(&self, id: &CallId) -> String {
        format!("{}:call:{{{}}}", self.prefix, id)
    }

    /// List: every message id of the call, in arrival order (for listing).
    pub(super) fn order(&self, id: &CallId) -> String {
        format!("{}:order", self.call(id))
    }

    /// List: ids waiting to be spoken, oldest first.
    pub(super) fn queue(&self, id: &CallId) -> String {
        format!("{}:queue", self.call(id))
    }

    /// List: ids handed to the current speaker leg and not yet confirmed spoken.
    pub(super) fn inflight(&self, id: &CallId) -> String {
        format!("{}:inflight", self.call(id))
    }

    /// Sorted set with a TTL: the ids of the messages accepted in the last minute, scored by the
    /// time they were accepted (the rate limit's window; trimmed on every enqueue).
    pub(super) fn accepted(&self, id: &CallId) -> String {
        format!("{}:accepted", self.call(id))
    }

    /// Hash: a sender's name for a message (its origin with a reference) -> the message's id, so
    /// a retried request is stored once.
    pub(super) fn named_messages(&self, id: &CallId) -> String {
        format!("{}:named", self.call(id))
    }

    /// String with a TTL: the token of the one speaker leg (or announcement) allowed to speak.
    pub(super) fn speaker_lock(&self, id: &CallId) -> String {
        format!("{}:speaker", self.call(id))
    }

    /// Hash: the call's messages, each message's fields as `<message id>:<field>` (see
    /// `messages::MESSAGE_FIELDS`). One key, so a script walking the queue names it in KEYS.
    pub(super) fn messages(&self, id: &CallId) -> String {
        format!("{}:messages", self.call(id))
    }

    /// Hash: one message as the previous version kept it, a hash per message. Written once by
    /// ENQUEUE beside [`Keys::messages`] (for replicas of that version during a rolling upgrade),
    /// read only to move such messages into [`Keys::messages`] (`MIGRATE_MESSAGES`) and, for a
    /// call's listing, the ones never moved. The version after this one stops writing it.
    pub(super) fn legacy_message(&self, id: &CallId, message: &str) -> String {
        format!("{}:msg:{}", self.call(id), message)
    }

    /// List: names of everyone who joined the call, in order.
    pub(super) fn joined(&self, id: &CallId) -> String {
        format!("{}:joined", self.call(id))
    }

    /// Hash: the caller's final utterances (live transcription), SequenceId -> `<at ms>:<text>`.
    pub(super) fn transcript(&self, id: &CallId) -> String {
        format!("{}:transcript", self.call(id))
    }

    /// Sorted set: the SequenceIds of utterances stored but not yet posted to chat, scored by
    /// SequenceId (so they are posted in the order the caller spoke).
    pub(super) fn transcript_unposted(&self, id: &CallId) -> String {
        format!("{}:transcript:unposted", self.call(id))
    }

    /// String with a TTL: the call a responder is busy with (by phone number).
    pub(super) fn responder_busy(&self, phone: &str) -> String {
        format!("{}:responder-busy:{}", self.prefix, phone)
    }

    /// Sorted set of active call ids, scored by start time.
    pub(super) fn active_calls(&self) -> String {
        format!("{}:calls:active", self.prefix)
    }

    /// Sorted set of active call ids, scored by when the sweep must next look at the call (unix
    /// ms): see `store::sweep`. In its own hash slot, like the active-call index.
    pub(super) fn due_calls(&self) -> String {
        format!("{}:calls:due", self.prefix)
    }

    /// String: Twilio CallSid of a caller's leg -> call id.
    pub(super) fn call_sid(&self, sid: &CallSid) -> String {
        format!("{}:callsid:{}", self.prefix, sid)
    }

    /// String: the thread a bridge posted for a call (under the call's hash tag).
    pub(super) fn thread_of_call(&self, id: &CallId, bridge: &str) -> String {
        format!("{}:thread:{}", self.call(id), bridge)
    }

    /// String: bridge thread -> call id. Thread references are bridge-made and may contain
    /// anything, so they are kept out of hash tags by escaping braces.
    pub(super) fn call_of_thread(&self, bridge: &str, thread: &str) -> String {
        format!(
            "{}:bridge:{}:thread:{}",
            self.prefix,
            bridge,
            thread.replace(['{', '}'], "_")
        )
    }

    /// String with a TTL: a chat delivery id already handled.
    pub(super) fn delivery(&self, bridge: &str, delivery_id: &str) -> String {
        format!(
            "{}:bridge:{}:delivery:{}",
            self.prefix,
            bridge,
            delivery_id.replace(['{', '}'], "_")
        )
    }

    /// Hash: a line's on-call schedule (`rota` JSON, `loaded_at`, `attempted_at`, `error`),
    /// shared by every replica. `line` is the line's id.
    pub(super) fn schedule(&self, line: &str) -> String {
        format!("{}:schedule:{{{}}}", self.prefix, line)
    }

    /// String with a TTL: the replica refreshing a line's schedule this period.
    pub(super) fn schedule_lease(&self, line: &str) -> String {
        format!("{}:lease", self.schedule(line))
    }

    /// String with a TTL: a speaker leg's one-time code -> "call id:leg token".
    pub(super) fn speaker_code(&self, code: &str) -> String {
        format!("{}:speaker-code:{}", self.prefix, code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_call_share_its_hash_tag() {
        let keys = Keys::new("denwa");
        let id = CallId::parse("abc123").unwrap();
        for key in [
            keys.call(&id),
            keys.order(&id),
            keys.queue(&id),
            keys.inflight(&id),
            keys.accepted(&id),
            keys.speaker_lock(&id),
            keys.transcript(&id),
            keys.transcript_unposted(&id),
            keys.messages(&id),
            keys.legacy_message(&id, "m0"),
        ] {
            assert!(key.starts_with("denwa:call:{abc123}"), "{key}");
            assert_eq!(key.matches('{').count(), 1, "{key}");
        }
    }
}
