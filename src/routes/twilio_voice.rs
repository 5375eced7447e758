//! `POST /twilio/voice`: a call reaches the line.

use axum::extract::State;

use super::WebhookError;
use super::signed::Signed;
use super::twiml_response::Twiml;
use crate::line::{Line, VoiceParams};

pub async fn voice(
    State(line): State<Line>,
    request: Signed<VoiceParams>,
) -> Result<Twiml, WebhookError> {
    if request.form.account_sid != line.settings().twilio.account_sid {
        return Err(WebhookError::BadRequest(
            "the call is for another Twilio account".into(),
        ));
    }
    Ok(Twiml(line.answer_call(request.form).await))
}
