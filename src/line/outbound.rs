//! Outbound calls: the line calls someone, who then gets the same conference, thread, speech
//! and announcements as a caller.

use denwa_chat::{LineEvent, LineRefused};

use super::Line;
use crate::config::LineConfig;
use crate::domain::{Call, CallId, DialRefusal, Direction, PhoneNumber};
use crate::store::LogFailure as _;
use crate::store::NewCall;
use crate::twilio::{CallEvent, CallTarget, CreateCall};
use crate::twiml::{Dial, HttpMethod, VoiceResponse};

/// Why an outbound call could not be placed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("{0}")]
    BadNumber(String),
    /// Premium rate, shared cost, or a country `line.dial_countries` leaves out.
    #[error(transparent)]
    NotAllowed(#[from] DialRefusal),
    #[error(transparent)]
    Refused(#[from] LineRefused),
    #[error("Twilio did not place the call: {0}")]
    Twilio(String),
}

impl From<crate::store::StoreError> for DialError {
    fn from(e: crate::store::StoreError) -> Self {
        DialError::Refused(e.into())
    }
}

/// Ring time for the person called.
const OUTBOUND_TIMEOUT_SECS: u32 = 45;

impl Line {
    /// Calls `to` from the default line. Returns the call once Twilio has accepted it.
    pub async fn dial_out(&self, to: &str) -> Result<Call, DialError> {
        self.dial_out_from(self.lines().default_line(), to).await
    }

    /// Calls `to` from `line`'s number; the call is that line's (its channel, its speaker).
    pub async fn dial_out_from(&self, line: &LineConfig, to: &str) -> Result<Call, DialError> {
        let to = PhoneNumber::parse(to.trim()).map_err(|e| DialError::BadNumber(e.to_string()))?;
        if self.lines().answering(to.as_str()).is_some() {
            return Err(DialError::BadNumber("the line cannot call itself".into()));
        }
        // Before anything is recorded or Twilio is asked: a refused number costs nothing.
        line.settings.dial_policy.check(&to)?;
        let id = CallId::generate();
        let line_number = line.number.clone();
        // Recorded before Twilio is asked (without a CallSid until Twilio names the call), so the
        // answer webhook, which names the call by its id, always finds it.
        self.store()
            .create_call(NewCall {
                id: &id,
                call_sid: None,
                other_party: to.as_str(),
                line_number: line_number.as_str(),
                caller_name: None,
                announced_as: None,
                direction: Direction::Outbound,
                line: line.id(),
                menu_choice: None,
                first_look: super::sweep::first_look(line, Direction::Outbound),
            })
            .await?;
        let answer = self.public_url("/twilio/outbound", &[("call", id.as_str())]);
        let status = self.public_url("/twilio/call-status", &[]);
        let request = CreateCall::new(
            to.clone(),
            line_number,
            CallTarget::url(answer, HttpMethod::Post),
        )
        .status_callback(status.as_str(), HttpMethod::Post)
        .status_callback_events([CallEvent::Completed])
        .timeout(OUTBOUND_TIMEOUT_SECS);
        let created = match self.twilio().create_call(&request).await {
            Ok(created) => created,
            Err(e) => {
                self.end_call(&id, "Twilio did not place the call", None)
                    .await;
                return Err(DialError::Twilio(e.to_string()));
            }
        };
        self.store().set_call_sid(&id, &created.sid).await?;
        self.store()
            .set_participant_name(&id, &created.sid, "The person called")
            .await
            .or_log("keep the called person's name for announcements");
        let call = self
            .store()
            .call(&id)
            .await?
            .ok_or(LineRefused::Unavailable)?;
        tracing::info!(call = %id, call_sid = %created.sid, "outbound call placed");
        self.publish(LineEvent::CallStarted {
            call: self.summary(&call),
        });
        Ok(call)
    }

    /// The person called answered: into the conference, as a caller (told of the transcription
    /// first, when it is on).
    pub async fn outbound_answered(&self, id: &CallId) -> VoiceResponse {
        match self.store().call(id).await {
            Ok(Some(call)) if call.state != crate::domain::CallState::Ended => {
                let line = self.line_of(&call);
                self.start_transcription(line, VoiceResponse::new())
                    .dial(Dial::conference(self.caller_conference(line, id)))
            }
            _ => VoiceResponse::new().hangup(),
        }
    }
}
