//! `POST /twilio/caller-name`: the caller recorded their name (Record's action).

use axum::extract::State;
use serde::Deserialize;

use super::WebhookError;
use super::signed::Signed;
use super::twiml_response::Twiml;
use crate::domain::CallId;
use crate::line::Line;
use crate::twiml::VoiceResponse;

#[derive(Debug, Deserialize)]
pub struct CallQuery {
    call: String,
}

/// The form Twilio posts; only the recording matters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameRecording {
    #[serde(default)]
    recording_url: Option<String>,
}

pub async fn caller_named(
    State(line): State<Line>,
    request: Signed<NameRecording, CallQuery>,
) -> Result<Twiml, WebhookError> {
    Ok(Twiml(match CallId::parse(&request.query.call) {
        Some(id) => {
            line.caller_named(&id, request.form.recording_url.as_deref())
                .await
        }
        None => VoiceResponse::new().hangup(),
    }))
}
