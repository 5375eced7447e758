//! `POST /twilio/responder` (a responder picked up) and `POST /twilio/responder-accept` (they
//! pressed a key).

use axum::extract::State;
use serde::Deserialize;

use super::WebhookError;
use super::signed::Signed;
use super::twiml_response::Twiml;
use crate::domain::CallId;
use crate::line::Line;
use crate::twiml::VoiceResponse;

#[derive(Debug, Deserialize)]
pub struct ResponderQuery {
    call: String,
    responder: usize,
}

/// The form Twilio posts; only the digits matter.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyPress {
    #[serde(default)]
    digits: String,
}

/// The call, when some line has responder `responder` (a URL from before a configuration change
/// may name one no longer there); the call's own line is checked where the call is read.
fn call_of(query: &ResponderQuery, line: &Line) -> Option<CallId> {
    let most = line
        .lines()
        .all()
        .iter()
        .map(|l| l.settings.responders.len())
        .max()
        .unwrap_or(0);
    CallId::parse(&query.call).filter(|_| query.responder < most)
}

pub async fn answered(
    State(line): State<Line>,
    request: Signed<KeyPress, ResponderQuery>,
) -> Result<Twiml, WebhookError> {
    let Some(id) = call_of(&request.query, &line) else {
        return Ok(Twiml(VoiceResponse::new().hangup()));
    };
    Ok(Twiml(
        line.responder_answered(&id, request.query.responder).await,
    ))
}

pub async fn accept(
    State(line): State<Line>,
    request: Signed<KeyPress, ResponderQuery>,
) -> Result<Twiml, WebhookError> {
    let Some(id) = call_of(&request.query, &line) else {
        return Ok(Twiml(VoiceResponse::new().hangup()));
    };
    Ok(Twiml(
        line.responder_pressed(&id, request.query.responder, &request.form.digits)
            .await,
    ))
}
