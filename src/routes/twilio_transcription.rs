//! `POST /twilio/transcription`: Twilio's real-time transcription callbacks (the
//! `statusCallbackUrl` of `<Start><Transcription>`), signed like every webhook.

use axum::extract::State;
use axum::http::StatusCode;

use super::WebhookError;
use super::signed::Signed;
use crate::line::{Line, TranscriptionParams};

pub async fn transcription(
    State(line): State<Line>,
    request: Signed<TranscriptionParams>,
) -> Result<StatusCode, WebhookError> {
    let event = request.form.event().map_err(WebhookError::BadRequest)?;
    // A store failure answers 503: Twilio sends the callback again.
    line.transcription_event(&request.form.call_sid, event)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
