//! `POST /twilio/conference`: conference status callbacks.

use axum::extract::State;
use axum::http::StatusCode;

use super::WebhookError;
use super::signed::Signed;
use crate::line::{ConferenceEventParams, Line};

pub async fn conference(
    State(line): State<Line>,
    request: Signed<ConferenceEventParams>,
) -> Result<StatusCode, WebhookError> {
    line.conference_event(request.form).await?;
    Ok(StatusCode::NO_CONTENT)
}
