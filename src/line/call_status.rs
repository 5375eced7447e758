//! `/twilio/call-status`: Twilio's call status callbacks, for every kind of leg denwa follows.

use serde::Deserialize;

use super::Line;
use crate::domain::{CallId, CallSid, LineId};
use crate::speech;
use crate::twilio::CallStatus;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallStatusParams {
    pub call_sid: CallSid,
    pub call_status: CallStatus,
}

/// Which leg a status callback is about; denwa puts it in the callback URL when it dials.
#[derive(Debug, Clone)]
pub enum LegKind {
    /// A caller's leg (the number's status callback, or an outbound call's).
    Caller,
    /// A self-dialled speaker leg: (call, leg token, the call's line).
    Speaker(CallId, String, Option<LineId>),
    /// A responder's leg: (call, responder index).
    Responder(CallId, usize),
}

/// Why a caller's call ended, by its final status: the reason its unspoken messages fail with.
pub(crate) fn caller_end_reason(status: CallStatus) -> String {
    match status {
        CallStatus::Completed => "the caller hung up".to_owned(),
        other => format!("the call could not be connected ({})", other.as_str()),
    }
}

impl Line {
    pub async fn call_status(
        &self,
        status: CallStatusParams,
        leg: LegKind,
    ) -> Result<(), crate::store::StoreError> {
        if !status.call_status.is_final() {
            return Ok(());
        }
        match leg {
            LegKind::Speaker(id, leg, line) => {
                let reason = match status.call_status {
                    CallStatus::Completed => {
                        "the speaker call ended before the message was spoken".to_owned()
                    }
                    other => format!(
                        "the speaker call could not be connected ({})",
                        other.as_str()
                    ),
                };
                speech::leg_ended(&self.speech().on_line(line.as_ref()), &id, &leg, &reason).await;
            }
            LegKind::Responder(id, index) => {
                self.responder_leg_ended(&id, index, &status.call_sid, status.call_status)
                    .await
            }
            LegKind::Caller => {
                if let Some(id) = self.store().call_for_sid(&status.call_sid).await? {
                    self.end_call(&id, &caller_end_reason(status.call_status), None)
                        .await;
                }
            }
        }
        Ok(())
    }
}
