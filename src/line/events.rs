//! What the line tells the chat bridges about a call (through [`crate::chat_events`]).

use denwa_chat::{CallSummary, LineEvent};

use super::Line;
use crate::domain::{Call, CallId, MessageId};

impl Line {
    /// Hands `event` to every bridge, off the caller's path (see [`ChatEvents::publish`]).
    ///
    /// [`ChatEvents::publish`]: crate::chat_events::ChatEvents::publish
    pub(crate) fn publish(&self, event: LineEvent) {
        self.inner.events.publish(event);
    }

    pub(crate) fn summary(&self, call: &Call) -> CallSummary {
        let line = self.line_of(call);
        CallSummary {
            id: call.id.clone(),
            line: line.settings.name.clone(),
            line_id: line.id().clone(),
            menu_choice: call.menu_choice.clone(),
            from: call.other_party.clone(),
            caller_name: call.caller_name.clone(),
            state: call.state,
            started_at: call.started_at,
            ended_at: call.ended_at,
            messages_spoken: call.messages_spoken,
            caller_utterances: line.transcription.enabled.then_some(call.caller_utterances),
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
        self.inner.events.publish_receipts(id, spoken, failed).await;
    }
}
