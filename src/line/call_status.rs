//! `/twilio/call-status`: Twilio's call status callbacks, for callers' and speaker legs.

use serde::Deserialize;

use super::Line;
use crate::domain::CallId;
use crate::speech;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallStatusParams {
    pub call_sid: String,
    pub call_status: String,
}

/// Statuses after which the call leg is gone.
fn is_final(status: &str) -> bool {
    matches!(
        status,
        "completed" | "busy" | "failed" | "no-answer" | "canceled"
    )
}

impl Line {
    /// `speaker` is `(call id, leg token)` when the callback is for a speaker leg (denwa put them
    /// in the callback URL); otherwise the callback is for a caller's leg.
    pub async fn call_status(
        &self,
        status: CallStatusParams,
        speaker: Option<(CallId, String)>,
    ) -> Result<(), crate::store::StoreError> {
        if !is_final(&status.call_status) {
            return Ok(());
        }
        match speaker {
            Some((id, leg)) => {
                let reason = match status.call_status.as_str() {
                    "completed" => {
                        "the speaker call ended before the message was spoken".to_owned()
                    }
                    other => format!("the speaker call could not be connected ({other})"),
                };
                speech::leg_ended(self, &id, &leg, &reason).await;
            }
            None => {
                if let Some(id) = self.store().call_for_sid(&status.call_sid).await? {
                    self.end_call(&id, "the caller hung up", None).await;
                }
            }
        }
        Ok(())
    }
}
