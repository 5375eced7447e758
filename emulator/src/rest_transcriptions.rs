//! The Calls Transcriptions subresource: starting a real-time transcription on a live call
//! (`POST .../Calls/{CallSid}/Transcriptions.json`) and stopping it (`POST
//! .../Calls/{CallSid}/Transcriptions/{Sid}.json` with `Status=stopped`, `{Sid}` being the `GT`
//! SID or the transcription's name).
//! Source: https://www.twilio.com/docs/voice/api/realtime-transcription-resource, and
//! twilio-python `rest/api/v2010/account/call/transcription.py` for the parameter names.

use serde_json::{Value, json};

use crate::Emulator;
use crate::call_status::CallStatus;
use crate::clock::rfc2822;
use crate::error::ApiError;
use crate::live_transcription::LiveTranscription;
use crate::realtime_transcription::{TWIML_ATTRIBUTES, TranscriptionSettings};
use crate::rest::{ApiResult, Params, created, ok};
use crate::state::State;

/// The REST (PascalCase) name of a TwiML (camelCase) setting: `statusCallbackUrl` is
/// `StatusCallbackUrl`.
fn rest_name(twiml_name: &str) -> String {
    let mut chars = twiml_name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The REST parameters Twilio documents beyond the TwiML attributes (Conversational
/// Intelligence wiring, raw provider data): accepted and not modelled.
const REST_ONLY: &[&str] = &[
    "ConversationConfiguration",
    "ConversationId",
    "TranscriptionConfigurationId",
    "EnableProviderData",
];

fn json_of(t: &LiveTranscription) -> Value {
    json!({
        "sid": t.sid,
        "account_sid": t.account_sid,
        "call_sid": t.call_sid,
        "name": t.settings.name,
        "status": t.status.as_str(),
        "date_updated": rfc2822(t.date_updated),
        "uri": format!(
            "/2010-04-01/Accounts/{}/Calls/{}/Transcriptions/{}.json",
            t.account_sid, t.call_sid, t.sid
        ),
    })
}

pub(crate) fn create(emulator: &Emulator, call_sid: &str, form: &Params, path: &str) -> ApiResult {
    if let Some((unknown, _)) = form.0.iter().find(|(k, _)| {
        !REST_ONLY.contains(&k.as_str()) && !TWIML_ATTRIBUTES.iter().any(|a| rest_name(a) == *k)
    }) {
        return Err(ApiError::bad_request(
            20001,
            format!("Unknown parameter {unknown}"),
        ));
    }
    let settings = TranscriptionSettings::read(|k| form.get(&rest_name(k))).map_err(|bad| {
        ApiError::bad_request(
            20001,
            format!(
                "Invalid {}: {:?} (expected {})",
                rest_name(bad.key),
                bad.value,
                bad.expected
            ),
        )
    })?;
    // Over REST there is no document to resolve against: the URL must be absolute.
    let callback = match form.url("StatusCallbackUrl", 21205)? {
        Some(url) => Some((url, settings.status_callback_method)),
        None => None,
    };
    let mut st = emulator.state();
    // Only a call in progress can be transcribed (its audio is what is heard); checked under the
    // same lock as the start, so a call that ends meanwhile is never left transcribed.
    match st.calls.get(call_sid).map(|c| c.status) {
        None => return Err(ApiError::not_found(path)),
        Some(CallStatus::InProgress) => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                21220,
                "Call is not in-progress. Cannot start a transcription.",
            ));
        }
    }
    let account = st.account_sid.clone();
    let (sid, jobs) = st
        .transcriptions
        .start(&account, call_sid, settings, callback);
    st.send_hooks(jobs);
    Ok(created(resource(&st, &sid)))
}

pub(crate) fn update(
    emulator: &Emulator,
    call_sid: &str,
    sid_or_name: &str,
    form: &Params,
    path: &str,
) -> ApiResult {
    let mut st = emulator.state();
    let Some(sid) = st.transcriptions.find(call_sid, sid_or_name) else {
        return Err(ApiError::not_found(path));
    };
    match form.get("Status") {
        Some("stopped") => {}
        other => {
            return Err(ApiError::bad_request(
                20001,
                format!(
                    "Invalid Status: {:?} (the only update is stopped)",
                    other.unwrap_or("")
                ),
            ));
        }
    }
    let jobs = st.transcriptions.stop(&sid);
    st.send_hooks(jobs);
    Ok(ok(resource(&st, &sid)))
}

/// The transcription's REST resource as Twilio answers it.
fn resource(st: &State, sid: &str) -> Value {
    st.transcriptions
        .get(sid)
        .map(json_of)
        .unwrap_or(Value::Null)
}
