//! Taking a message to speak, from the API or a chat bridge.

use denwa_chat::{CallSummary, LineRefused, MessageOrigin};

use super::Line;
use crate::domain::{CallId, CallState, MessageId, now_ms};
use crate::store::{EnqueueOutcome, LogFailure as _, NewMessage, SpeechLimits};
use crate::twilio::UpdateCall;
use crate::twilio::params::CallEnd;

impl Line {
    /// Stores `text` for call `id` and starts speaking it. Returns once the message is in the
    /// store, never before: an id handed back is a message that will be spoken or reported failed.
    pub async fn queue_message(
        &self,
        id: &CallId,
        text: &str,
        origin: MessageOrigin,
    ) -> Result<MessageId, LineRefused> {
        self.queue_message_with_audio(id, None, text, origin).await
    }

    /// Like [`queue_message`](Self::queue_message), with a recording played before the text.
    pub(crate) async fn queue_message_with_audio(
        &self,
        id: &CallId,
        audio_url: Option<&str>,
        text: &str,
        origin: MessageOrigin,
    ) -> Result<MessageId, LineRefused> {
        // Line breaks and runs of spaces mean nothing spoken; one space keeps the words apart.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return Err(LineRefused::NothingToSay);
        }
        let chars = text.chars().count();
        let limit = self.settings().speech.max_message_chars;
        if chars > limit {
            return Err(LineRefused::TooLong { chars, limit });
        }
        let speech = &self.settings().speech;
        // The line's own announcements ("Alice joined the call") are neither refused nor
        // counted: the caller must hear who joined however busy the chat is, and there is one
        // per person joining, which bounds them. They still wait in the queue like any message,
        // so chat's messages find less room while they do.
        let chat_reply = !origin.is_line();
        let limits = chat_reply.then_some(SpeechLimits {
            max_waiting: speech.max_queued,
            per_minute: speech.max_per_minute,
        });
        let message = MessageId::generate();
        let pieces = crate::speech::pieces::plan(self.speech(), &text, audio_url);
        let name = origin.key();
        // Sent together with the message, in the same round trip: the speaker's lease and code
        // (taken after the message is stored: same connection, same hash slot, in order; should
        // they overtake it, the lease is not taken and the kick below takes it), and the sweep's
        // look at the call once a speaker should have the lease: the safety net for a process
        // that stops before it dials.
        let mut claim = crate::speech::claim_with_message(self.speech());
        let store = self.store();
        let look_by = now_ms() + crate::speech::DIAL_LEASE.as_millis() as u64;
        let (outcome, claimed, _) = tokio::join!(
            store.enqueue(
                id,
                NewMessage {
                    id: &message,
                    text: &text,
                    audio_url,
                    pieces: &pieces,
                    origin: &origin,
                    // A reference names the message (an API client's id for it, a chat
                    // message): a retry after a lost answer must not say it twice.
                    name: name.as_deref(),
                    chat_reply,
                },
                limits,
            ),
            async {
                match &mut claim {
                    Some(claim) => claim.take(self.speech(), id).await,
                    None => false,
                }
            },
            async {
                store
                    .look_by(id, look_by)
                    .await
                    .or_log("schedule the sweep's look")
            }
        );
        // Messages were waiting with no speaker and this leg took the lease: it dials, whatever
        // became of this message.
        if let Some(claim) = claim.filter(|_| claimed) {
            crate::speech::dial_claimed(self.speech(), id, claim);
        }
        let outcome = outcome.map_err(|e| {
            tracing::warn!(call = %id, error = %e, "cannot store a message");
            LineRefused::Unavailable
        })?;
        match outcome {
            EnqueueOutcome::Queued { waiting, line } => {
                self.metrics().messages_queued.inc();
                self.metrics().queue_depth(waiting);
                tracing::info!(call = %id, message = %message, source = %origin.bridge, "message queued");
                if !claimed {
                    crate::speech::kick(&self.speech().on_line(line.as_ref()), id);
                }
                Ok(message)
            }
            EnqueueOutcome::Duplicate(first) => {
                tracing::info!(call = %id, message = %first, "a message sent again: stored once");
                Ok(first)
            }
            EnqueueOutcome::NoSuchCall => Err(LineRefused::NoSuchCall),
            EnqueueOutcome::CallEnded => Err(LineRefused::CallEnded),
            EnqueueOutcome::InVoicemail => Err(LineRefused::InVoicemail),
            EnqueueOutcome::QueueFull => Err(LineRefused::QueueFull {
                limit: speech.max_queued,
            }),
            EnqueueOutcome::RateLimited { retry_after } => Err(LineRefused::RateLimited {
                limit: speech.max_per_minute,
                // Whole seconds, rounded up: retrying at the second given must find the slot.
                retry_after_secs: retry_after.as_millis().div_ceil(1000).max(1) as u64,
            }),
        }
    }

    /// Hangs the caller up, which ends the conference for everyone.
    pub async fn hang_up_call(&self, id: &CallId) -> Result<(), LineRefused> {
        let call = self
            .store()
            .call(id)
            .await?
            .ok_or(LineRefused::NoSuchCall)?;
        if call.state == CallState::Ended {
            return Err(LineRefused::CallEnded);
        }
        match &call.call_sid {
            // An outbound call Twilio has not named yet: there is nothing to ask Twilio to end.
            None => tracing::warn!(call = %id, "hung up before Twilio placed the call"),
            Some(call_sid) => {
                if let Err(e) = self
                    .twilio()
                    .update_call(call_sid, &UpdateCall::end(CallEnd::Completed))
                    .await
                {
                    // Twilio answers 404/400-style errors for calls that already finished: the
                    // call is over either way, and its status callback (or this) ends it here.
                    tracing::warn!(call = %id, error = %e, "Twilio did not complete the call");
                }
            }
        }
        self.end_call(id, "the call was hung up", None).await;
        Ok(())
    }

    pub async fn active_call_summaries(&self) -> Result<Vec<CallSummary>, LineRefused> {
        let calls = self.store().active_calls().await?;
        Ok(calls.iter().map(|c| self.summary(c)).collect())
    }
}
