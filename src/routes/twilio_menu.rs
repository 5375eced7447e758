//! `POST /twilio/menu?line=<id>&attempt=<n>`: the key a caller pressed in a line's menu (the
//! action of the menu's `<Gather>`; see `line/menu.rs`).

use axum::extract::State;
use serde::Deserialize;

use super::WebhookError;
use super::signed::Signed;
use super::twiml_response::Twiml;
use crate::domain::{CallSid, LineId};
use crate::line::{Line, VoiceParams};
use crate::twiml::VoiceResponse;

/// Signed with the URL by Twilio: which menu, and which try.
#[derive(Debug, Deserialize)]
pub struct MenuQuery {
    line: String,
    attempt: u32,
}

/// The voice webhook's parameters, and the key pressed (empty: none within the timeout).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MenuForm {
    call_sid: CallSid,
    account_sid: String,
    from: String,
    to: String,
    #[serde(default)]
    caller_name: Option<String>,
    #[serde(default)]
    digits: String,
}

pub async fn chosen(
    State(line): State<Line>,
    request: Signed<MenuForm, MenuQuery>,
) -> Result<Twiml, WebhookError> {
    let form = request.form;
    if form.account_sid != line.settings().twilio.account_sid {
        return Err(WebhookError::BadRequest(
            "the call is for another Twilio account".into(),
        ));
    }
    let Some(menu_line) = LineId::parse(&request.query.line) else {
        return Ok(Twiml(VoiceResponse::new().hangup()));
    };
    let call = VoiceParams {
        call_sid: form.call_sid,
        account_sid: form.account_sid,
        from: form.from,
        to: form.to,
        caller_name: form.caller_name,
    };
    Ok(Twiml(
        line.menu_chosen(&call, &menu_line, request.query.attempt, &form.digits)
            .await,
    ))
}
