//! `POST /twilio/speak`: what a speaker leg (or an announcement) says next.

use axum::extract::State;
use serde::Deserialize;

use super::WebhookError;
use super::signed::Signed;
use super::twiml_response::Twiml;
use crate::domain::{CallId, LineId};
use crate::line::Line;
use crate::speech::{announce, self_dial};
use crate::twiml::VoiceResponse;

#[derive(Debug, Deserialize)]
pub struct SpeakQuery {
    call: String,
    leg: String,
    #[serde(default = "first_turn")]
    turn: u64,
    #[serde(default)]
    waited: u32,
    #[serde(default)]
    stalled: Option<u64>,
    #[serde(default)]
    mode: Option<String>,
    /// The call's line, whose voice the leg speaks in (absent from legs dialled before legs
    /// named it: the default line).
    #[serde(default)]
    line: Option<String>,
}

fn first_turn() -> u64 {
    1
}

/// The form Twilio posts; nothing in it is needed (the URL names the call and leg).
#[derive(Debug, Deserialize)]
pub struct AnyForm {}

pub async fn speak(
    State(line): State<Line>,
    request: Signed<AnyForm, SpeakQuery>,
) -> Result<Twiml, WebhookError> {
    let query = request.query;
    let Some(id) = CallId::parse(&query.call) else {
        return Ok(Twiml(VoiceResponse::new().hangup()));
    };
    let speech = line
        .speech()
        .on_line(query.line.as_deref().and_then(LineId::parse).as_ref());
    let response = match query.mode.as_deref() {
        Some("announce") => announce::script(&speech, &id, &query.leg, query.turn).await,
        _ => {
            let step = self_dial::Step {
                turn: query.turn,
                waited: query.waited,
                stalled_since: query.stalled,
            };
            self_dial::turn(&speech, &id, &query.leg, step).await
        }
    };
    Ok(Twiml(response))
}
