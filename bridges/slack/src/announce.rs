//! What the line tells the bridge ([`LineEvent`]) and how it shows in Slack: the announcement and
//! its updates, notes in the call's thread, and the receipts on replies.

use std::time::Duration;

use denwa_chat::{BridgeError, CallId, CallSummary, LineEvent, Receipt};

use crate::api::ApiError;
use crate::blocks::{self, escape};
use crate::reference::{MessageRef, Origin};
use crate::{BRIDGE, Bridge};

/// Receipts: the caller heard it / it will never be spoken.
pub const SPOKEN: &str = "white_check_mark";
pub const NOT_SPOKEN: &str = "x";

fn failed(message: impl Into<String>) -> BridgeError {
    BridgeError {
        bridge: BRIDGE.into(),
        message: message.into(),
    }
}

impl From<ApiError> for BridgeError {
    fn from(e: ApiError) -> Self {
        failed(e.to_string())
    }
}

impl Bridge {
    pub(crate) async fn on_event(&self, event: &LineEvent) -> Result<(), BridgeError> {
        if let Some(receipt) = event.receipt_for(BRIDGE) {
            return self.receipt(receipt).await;
        }
        if let Some((call, note)) = event.note() {
            return self.note(call, &blocks::note(note)).await;
        }
        match event {
            LineEvent::CallStarted { call } => self.announce(call).await,
            LineEvent::CallConnected { call } => match self.thread_of(&call.id).await {
                Some(thread) => self.refresh(&call.id, &thread).await,
                None => Ok(()),
            },
            LineEvent::CallEnded { call } => {
                let Some(thread) = self.thread_of(&call.id).await else {
                    return Ok(());
                };
                self.refresh(&call.id, &thread).await?;
                self.api
                    .reply(&thread.channel, &thread.ts, &blocks::ended_note(call))
                    .await?;
                Ok(())
            }
            // Notes and receipts are handled above; other bridges' receipts are theirs.
            _ => Ok(()),
        }
    }

    /// Posts the announcement and links its thread to the call. A failure after the API
    /// client's retries is logged and counted in the bridge's status ([`denwa_chat::Threads`]):
    /// never silent.
    async fn announce(&self, call: &CallSummary) -> Result<(), BridgeError> {
        let turn = self.turns.take(&format!("call:{}", call.id));
        turn.ready().await;
        let rendered = blocks::announcement(call);
        // Each line's calls in that line's channel.
        let channel = self.channels.for_line(&call.line_id);
        let ts = match self
            .api
            .post_message(channel, &rendered.text, Some(rendered.blocks), None)
            .await
        {
            Ok(ts) => ts,
            Err(e) => {
                let detail = format!("could not announce a call in {channel}: {e}");
                tracing::error!(call = %call.id, channel = %channel, error = %e, "could not announce a call");
                self.threads.unannounced(&call.id, detail.clone());
                return Err(failed(detail));
            }
        };
        let thread = MessageRef::new(channel, ts);
        let mut tries = 0;
        loop {
            tries += 1;
            match self.threads.link(&call.id, &thread.encode()).await {
                Ok(()) => break,
                Err(e) if tries < 3 => {
                    tracing::warn!(call = %call.id, error = %e, "cannot link the call's thread yet; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => {
                    let detail = format!("announced a call but could not link its thread: {e}");
                    tracing::error!(call = %call.id, error = %e, "could not link the call's thread");
                    self.threads.unannounced(&call.id, detail.clone());
                    return Err(failed(detail));
                }
            }
        }
        self.threads.announced();
        tracing::info!(call = %call.id, channel = %channel, "call announced in Slack");
        // Later events may have overtaken the post: show the call as it is now.
        match self.line.call(&call.id).await {
            Ok(Some(now)) if now.state != call.state => self.update(&now, &thread).await,
            _ => Ok(()),
        }
    }

    /// Re-renders the announcement from the call's current state.
    pub(crate) async fn refresh(
        &self,
        call_id: &CallId,
        thread: &MessageRef,
    ) -> Result<(), BridgeError> {
        let turn = self.turns.take(&format!("call:{call_id}"));
        turn.ready().await;
        match self.line.call(call_id).await {
            Ok(Some(call)) => self.update(&call, thread).await,
            Ok(None) => Ok(()),
            Err(e) => Err(failed(format!("cannot read the call: {e}"))),
        }
    }

    async fn update(&self, call: &CallSummary, thread: &MessageRef) -> Result<(), BridgeError> {
        let rendered = blocks::announcement(call);
        self.api
            .update_message(&thread.channel, &thread.ts, &rendered.text, rendered.blocks)
            .await?;
        Ok(())
    }

    /// The call's thread, waiting (bounded) for an announcement still being posted.
    pub(crate) async fn thread_of(&self, call_id: &CallId) -> Option<MessageRef> {
        let thread = self.threads.wait_for(call_id).await?;
        MessageRef::decode(&thread)
    }

    /// A note in the call's thread: one message, or several in order for a long one (many of
    /// the caller's utterances at once).
    async fn note(&self, call_id: &CallId, text: &str) -> Result<(), BridgeError> {
        if let Some(thread) = self.thread_of(call_id).await {
            for part in blocks::message_parts(text) {
                self.api.reply(&thread.channel, &thread.ts, part).await?;
            }
        }
        Ok(())
    }

    /// Marks a message the bridge queued: spoken, or failed with `reason`.
    async fn receipt(&self, receipt: Receipt<'_>) -> Result<(), BridgeError> {
        let Some((origin, user)) = Origin::read(receipt.origin) else {
            return Ok(());
        };
        match (origin, receipt.failure) {
            (Origin::Reply(message), None) => {
                self.api
                    .add_reaction(&message.channel, &message.ts, SPOKEN)
                    .await?
            }
            (Origin::Reply(message), Some(reason)) => {
                let thread = self.thread_of(receipt.call).await;
                let thread_ts = thread.as_ref().map_or(message.ts.as_str(), |t| &t.ts);
                self.refuse(&message, thread_ts, reason).await?
            }
            (Origin::Command { response_url, .. }, failure) => {
                let text = match failure {
                    None => {
                        ":white_check_mark: Your `/denwa say` message was spoken to the caller."
                            .to_owned()
                    }
                    Some(reason) => format!(
                        ":x: Your `/denwa say` message was not spoken: {}.",
                        escape(reason)
                    ),
                };
                self.command_receipt(user.as_deref(), response_url.as_deref(), &text)
                    .await?
            }
        }
        Ok(())
    }

    /// Tells the sender of a `/denwa say` what became of it: through the command's
    /// `response_url`, which reaches them wherever they ran it (a DM, a channel without the bot,
    /// where chat.postEphemeral fails), else (none stored, expired after 30 minutes, used up)
    /// ephemerally in the configured channel.
    async fn command_receipt(
        &self,
        user: Option<&str>,
        response_url: Option<&str>,
        text: &str,
    ) -> Result<(), ApiError> {
        if let Some(url) = response_url {
            match url::Url::parse(url) {
                Ok(url) => match self.api.respond(&url, text).await {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        tracing::info!(error = %e, "a /denwa say receipt could not use its response_url; posting it in the channel")
                    }
                },
                Err(e) => tracing::warn!(error = %e, "a stored response_url does not parse"),
            }
        }
        match user {
            Some(user) => {
                self.api
                    .post_ephemeral(self.channels.home(), user, text, None)
                    .await
            }
            None => {
                tracing::warn!("a /denwa say receipt with neither a response_url nor a user");
                Ok(())
            }
        }
    }

    /// Tells the thread that `message` was not (and will not be) spoken, and why.
    pub(crate) async fn refuse(
        &self,
        message: &MessageRef,
        thread_ts: &str,
        reason: &str,
    ) -> Result<(), ApiError> {
        let reaction = self
            .api
            .add_reaction(&message.channel, &message.ts, NOT_SPOKEN)
            .await;
        self.api
            .reply(
                &message.channel,
                thread_ts,
                &format!(":x: Not spoken: {}.", escape(reason)),
            )
            .await?;
        reaction
    }
}
