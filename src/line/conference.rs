//! `/twilio/conference`: Twilio's conference status callbacks.

use denwa_chat::LineEvent;
use serde::Deserialize;

use super::Line;
use crate::domain::{CallId, ConferenceName};
use crate::speech;
use crate::store::ParticipantRole;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConferenceEventParams {
    pub conference_sid: String,
    pub friendly_name: String,
    pub status_callback_event: String,
    #[serde(default)]
    pub call_sid: Option<String>,
    #[serde(default)]
    pub announce_url: Option<String>,
    #[serde(default)]
    pub reason_announcement_failed: Option<String>,
}

impl Line {
    pub async fn conference_event(
        &self,
        event: ConferenceEventParams,
    ) -> Result<(), crate::store::StoreError> {
        // Conferences that are not denwa's (another app on the same account) are none of ours.
        let Some(id) = ConferenceName::parse(&event.friendly_name).map(|c| c.call_id()) else {
            return Ok(());
        };
        tracing::debug!(call = %id, event = %event.status_callback_event, "conference event");
        match event.status_callback_event.as_str() {
            "participant-join" | "participant-leave" => {
                let joined = event.status_callback_event == "participant-join";
                let Some(sid) = event.call_sid.as_deref() else {
                    return Ok(());
                };
                let role = self
                    .store()
                    .participant(&id, sid, joined, &event.conference_sid)
                    .await?;
                match (role, joined) {
                    (ParticipantRole::Caller, true) => {
                        if let Some(call) = self.store().call(&id).await? {
                            self.publish(LineEvent::CallConnected {
                                call: self.summary(&call),
                            });
                        }
                        // Messages may have arrived while the caller heard the greeting.
                        speech::kick(self, &id);
                    }
                    (ParticipantRole::Caller, false) => {
                        self.end_call(&id, "the caller hung up").await
                    }
                    _ => {}
                }
            }
            "conference-end" => self.end_call(&id, "the call ended").await,
            "announcement-end" | "announcement-fail" => {
                speech::announce::finished(self, &id, &event).await;
            }
            _ => {}
        }
        Ok(())
    }

    /// Ends call `id` once: its unspoken messages fail with `reason`, bridges hear of it.
    pub(crate) async fn end_call(&self, id: &CallId, reason: &str) {
        match self.store().end_call(id, reason).await {
            Ok((true, failed)) => {
                tracing::info!(call = %id, reason, "call ended");
                self.publish_receipts(id, &[], &failed).await;
                if let Ok(Some(call)) = self.store().call(id).await {
                    self.publish(LineEvent::CallEnded {
                        call: self.summary(&call),
                    });
                }
            }
            Ok((false, _)) => {}
            Err(e) => tracing::error!(call = %id, error = %e, "cannot record the end of a call"),
        }
    }
}
