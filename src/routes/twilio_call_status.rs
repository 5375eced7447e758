//! `POST /twilio/call-status`: call status callbacks, for callers (set on the number by
//! `denwa twilio configure`), speaker legs and responder legs (their URL names the call and leg).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::WebhookError;
use super::signed::Signed;
use crate::domain::{CallId, LineId};
use crate::line::{CallStatusParams, LegKind, Line};

#[derive(Debug, Deserialize)]
pub struct LegQuery {
    call: Option<String>,
    leg: Option<String>,
    responder: Option<usize>,
    /// A speaker leg's line (absent from legs dialled before legs named it: the default line).
    line: Option<String>,
}

pub async fn call_status(
    State(line): State<Line>,
    request: Signed<CallStatusParams, LegQuery>,
) -> Result<StatusCode, WebhookError> {
    let query = request.query;
    let leg = match (
        query.call.as_deref().and_then(CallId::parse),
        query.leg,
        query.responder,
    ) {
        (Some(id), Some(leg), _) => {
            LegKind::Speaker(id, leg, query.line.as_deref().and_then(LineId::parse))
        }
        (Some(id), None, Some(index)) => LegKind::Responder(id, index),
        _ => LegKind::Caller,
    };
    line.call_status(request.form, leg).await?;
    Ok(StatusCode::NO_CONTENT)
}
