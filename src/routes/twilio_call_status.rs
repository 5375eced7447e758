//! `POST /twilio/call-status`: call status callbacks, for callers (set on the number by
//! `denwa twilio configure`) and for speaker legs (their URL names the call and leg).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::WebhookError;
use super::signed::Signed;
use crate::domain::CallId;
use crate::line::{CallStatusParams, Line};

#[derive(Debug, Deserialize)]
pub struct LegQuery {
    call: Option<String>,
    leg: Option<String>,
}

pub async fn call_status(
    State(line): State<Line>,
    request: Signed<CallStatusParams, LegQuery>,
) -> Result<StatusCode, WebhookError> {
    let speaker = match (
        request.query.call.as_deref().and_then(CallId::parse),
        request.query.leg,
    ) {
        (Some(id), Some(leg)) => Some((id, leg)),
        _ => None,
    };
    line.call_status(request.form, speaker).await?;
    Ok(StatusCode::NO_CONTENT)
}
