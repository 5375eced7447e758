//! `POST /twilio/speaker-gate`: the `<Gather>` action where a self-dialled leg presents its code.

use axum::extract::State;
use serde::Deserialize;

use super::WebhookError;
use super::signed::Signed;
use super::twiml_response::Twiml;
use crate::domain::CallSid;
use crate::line::Line;
use crate::speech::self_dial;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GateParams {
    call_sid: CallSid,
    #[serde(default)]
    digits: String,
}

/// The action URL's query: which chance at the code this is (none: the first).
#[derive(Debug, Deserialize)]
pub struct GateQuery {
    attempt: Option<String>,
}

pub async fn speaker_gate(
    State(line): State<Line>,
    request: Signed<GateParams, GateQuery>,
) -> Result<Twiml, WebhookError> {
    let attempt = self_dial::CodeAttempt::from_query(request.query.attempt.as_deref());
    Ok(Twiml(
        self_dial::admit(
            line.speech(),
            &request.form.digits,
            &request.form.call_sid,
            attempt,
        )
        .await,
    ))
}
