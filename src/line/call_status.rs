//! `/twilio/call-status`: Twilio's call status callbacks, for every kind of leg denwa follows.

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

/// Which leg a status callback is about; denwa puts it in the callback URL when it dials.
#[derive(Debug, Clone)]
pub enum LegKind {
    /// A caller's leg (the number's status callback, or an outbound call's).
    Caller,
    /// A self-dialled speaker leg: (call, leg token).
    Speaker(CallId, String),
    /// A responder's leg: (call, responder index).
    Responder(CallId, usize),
}

/// Statuses after which the call leg is gone.
fn is_final(status: &str) -> bool {
    matches!(
        status,
        "completed" | "busy" | "failed" | "no-answer" | "canceled"
    )
}

impl Line {
    pub async fn call_status(
        &self,
        status: CallStatusParams,
        leg: LegKind,
    ) -> Result<(), crate::store::StoreError> {
        if !is_final(&status.call_status) {
            return Ok(());
        }
        match leg {
            LegKind::Speaker(id, leg) => {
                let reason = match status.call_status.as_str() {
                    "completed" => {
                        "the speaker call ended before the message was spoken".to_owned()
                    }
                    other => format!("the speaker call could not be connected ({other})"),
                };
                speech::leg_ended(self, &id, &leg, &reason).await;
            }
            LegKind::Responder(id, index) => {
                self.responder_leg_ended(&id, index, &status.call_sid, &status.call_status)
                    .await
            }
            LegKind::Caller => {
                if let Some(id) = self.store().call_for_sid(&status.call_sid).await? {
                    let reason = match status.call_status.as_str() {
                        "completed" => "the caller hung up".to_owned(),
                        other => format!("the call could not be connected ({other})"),
                    };
                    self.end_call(&id, &reason, None).await;
                }
            }
        }
        Ok(())
    }
}
