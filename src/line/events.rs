//! Telling the chat bridges what happened.

use denwa_chat::{CallSummary, LineEvent};

use super::{Line, Metrics};
use crate::domain::{Call, CallId, MessageId};

impl Line {
    /// Hands `event` to every bridge, off the caller's path: a slow or failing chat service must
    /// never delay an answer to Twilio. Failures are logged and counted.
    pub(crate) fn publish(&self, event: LineEvent) {
        for bridge in self.bridges() {
            let bridge = bridge.clone();
            let line = self.clone();
            let event = event.clone();
            self.spawn(async move {
                if let Err(e) = bridge.on_event(&event).await {
                    Metrics::add(&line.metrics().bridge_errors, 1);
                    tracing::warn!(bridge = bridge.name(), error = %e, "bridge failed to handle a line event");
                }
            });
        }
    }

    pub(crate) fn summary(&self, call: &Call) -> CallSummary {
        CallSummary {
            id: call.id.clone(),
            line: self.settings().line.name.clone(),
            from: call.other_party.clone(),
            caller_name: call.caller_name.clone(),
            state: call.state,
            started_at: call.started_at,
            ended_at: call.ended_at,
            messages_spoken: call.messages_spoken,
            caller_utterances: self
                .settings()
                .transcription
                .enabled
                .then_some(call.caller_utterances),
            speaker_legs: call.speaker_legs,
            responder_legs: call.responder_legs,
            joined: call.joined.clone(),
            direction: call.direction,
        }
    }

    /// Publishes receipts for messages that were just spoken or failed.
    pub(crate) async fn publish_receipts(
        &self,
        id: &CallId,
        spoken: &[MessageId],
        failed: &[MessageId],
    ) {
        Metrics::add(&self.metrics().messages_spoken, spoken.len() as u64);
        Metrics::add(&self.metrics().messages_failed, failed.len() as u64);
        if self.bridges().is_empty() || (spoken.is_empty() && failed.is_empty()) {
            return;
        }
        let ids: Vec<&str> = spoken.iter().chain(failed).map(MessageId::as_str).collect();
        let messages = match self.store().messages_by_id(id, &ids).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "could not read messages for receipts");
                return;
            }
        };
        for m in messages {
            let origin = m.origin;
            let event = if spoken.contains(&m.id) {
                LineEvent::MessageSpoken {
                    call_id: id.clone(),
                    message_id: m.id,
                    origin,
                }
            } else {
                LineEvent::MessageFailed {
                    call_id: id.clone(),
                    message_id: m.id,
                    origin,
                    reason: m.reason.unwrap_or_else(|| "it could not be spoken".into()),
                }
            };
            self.publish(event);
        }
    }
}
