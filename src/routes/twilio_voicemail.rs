//! `POST /twilio/voicemail` (the prompt), `/twilio/voicemail-recorded` (Record's action) and
//! `/twilio/voicemail-transcribed` (Record's transcribeCallback).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::WebhookError;
use super::signed::Signed;
use super::twiml_response::Twiml;
use crate::domain::CallId;
use crate::line::{Line, Transcription};
use crate::twiml::VoiceResponse;

#[derive(Debug, Deserialize)]
pub struct CallQuery {
    call: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recording {
    #[serde(default)]
    recording_url: Option<String>,
    #[serde(default)]
    transcription_text: Option<String>,
    #[serde(default)]
    transcription_status: Option<String>,
}

pub async fn prompt(
    State(line): State<Line>,
    request: Signed<Recording, CallQuery>,
) -> Result<Twiml, WebhookError> {
    Ok(Twiml(match CallId::parse(&request.query.call) {
        Some(id) => line.voicemail_prompt(&id).await,
        None => VoiceResponse::new().hangup(),
    }))
}

pub async fn recorded(
    State(line): State<Line>,
    request: Signed<Recording, CallQuery>,
) -> Result<Twiml, WebhookError> {
    Ok(Twiml(match CallId::parse(&request.query.call) {
        Some(id) => {
            line.voicemail_recorded(&id, request.form.recording_url.as_deref())
                .await
        }
        None => VoiceResponse::new().hangup(),
    }))
}

pub async fn transcribed(
    State(line): State<Line>,
    request: Signed<Recording, CallQuery>,
) -> Result<StatusCode, WebhookError> {
    if let Some(id) = CallId::parse(&request.query.call) {
        let form = &request.form;
        let transcription = Transcription::from_callback(
            form.transcription_status.as_deref(),
            form.transcription_text.as_deref(),
        );
        line.voicemail_transcribed(&id, transcription).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
