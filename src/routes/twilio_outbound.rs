//! `POST /twilio/outbound`: the person the line called answered.

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

/// The form Twilio posts: nothing in it is needed once its signature is checked.
#[derive(Debug, Deserialize)]
pub struct Answered {}

pub async fn outbound_answered(
    State(line): State<Line>,
    request: Signed<Answered, CallQuery>,
) -> Result<Twiml, WebhookError> {
    Ok(Twiml(match CallId::parse(&request.query.call) {
        Some(id) => line.outbound_answered(&id).await,
        None => VoiceResponse::new().hangup(),
    }))
}
