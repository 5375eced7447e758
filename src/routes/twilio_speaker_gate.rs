//! `POST /twilio/speaker-gate`: the `<Gather>` action where a self-dialled leg presents its code.

use axum::extract::State;
use serde::Deserialize;

use super::WebhookError;
use super::signed::Signed;
use super::twiml_response::Twiml;
use crate::line::Line;
use crate::speech::self_dial;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GateParams {
    call_sid: String,
    #[serde(default)]
    digits: String,
}

pub async fn speaker_gate(
    State(line): State<Line>,
    request: Signed<GateParams>,
) -> Result<Twiml, WebhookError> {
    Ok(Twiml(
        self_dial::admit(&line, &request.form.digits, &request.form.call_sid).await,
    ))
}
