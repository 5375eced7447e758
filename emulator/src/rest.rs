//! Twilio's REST API (the parts a voice application uses), with Twilio's resource shapes and
//! error codes.
//!
//! Routing is done by hand rather than with axum's router because Twilio's paths put the
//! extension on a path parameter (`Calls/{CallSid}.json`), and because every request must be
//! authenticated before the emulator says whether a resource exists.

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};
use std::time::SystemTime;
use url::Url;

use crate::Emulator;
use crate::call_status::{CallStatus, Direction, StatusCallback};
use crate::clock::rfc2822;
use crate::conference::ParticipantUpdate;
use crate::control::{CallControl, OnAnswer, Outbound, TwimlSource};
use crate::error::ApiError;
use crate::faults::RestFault;
use crate::outbound::method_param;
use crate::participant_label;
use crate::phone::{is_dialable, is_e164};
use crate::rest_transcriptions;
use crate::state::{ConferenceStatus, ParticipantRecord, State};
use crate::twiml::{Beep, ConferenceNoun, HttpMethod};
use crate::webhook::HookPurpose;

pub(crate) fn router(emulator: Emulator) -> Router {
    Router::new().fallback(handle).with_state(emulator)
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// Form or query parameters, in order, repeated names kept.
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    fn parse(bytes: &[u8]) -> Params {
        Params(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::bad_request(
                    20001,
                    format!("Invalid {name}: {v:?}"),
                )),
            },
        }
    }

    pub(crate) fn url(&self, name: &str, code: u32) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match Url::parse(v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    Ok(Some(v.to_string()))
                }
                _ => Err(ApiError::bad_request(
                    code,
                    format!("{name} is not a valid URL: {v}"),
                )),
            },
        }
    }

    fn method(&self, name: &str) -> Result<HttpMethod, ApiError> {
        method_param(self.get(name)).ok_or_else(|| {
            ApiError::bad_request(
                21200,
                format!(
                    "{name} must be GET or POST, not {:?}",
                    self.get(name).unwrap_or("")
                ),
            )
        })
    }

    /// A list parameter given repeated or space-separated.
    fn words(&self, name: &str) -> Vec<String> {
        self.all(name)
            .iter()
            .flat_map(|v| v.split([' ', ',']))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }
}

async fn handle(
    AxState(emulator): AxState<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verdict = emulator
        .inner
        .faults
        .lock()
        .unwrap()
        .judge(method.as_str(), uri.path());
    if !verdict.delay.is_zero() {
        tokio::time::sleep(verdict.delay).await;
    }
    let response = match verdict.fault {
        None => answer(&emulator, &method, &uri, &headers, &body).await,
        Some(RestFault::NoAnswer) => {
            log_request(&emulator, &method, &uri, &body, 0);
            // Held until the client gives up; dropping the connection drops this future.
            return std::future::pending().await;
        }
        Some(RestFault::InternalErrorAfterActing) => {
            let _ = answer(&emulator, &method, &uri, &headers, &body).await;
            ApiError::internal().into_response()
        }
        Some(RestFault::InternalError) => ApiError::internal().into_response(),
        Some(RestFault::Unavailable) => ApiError::unavailable().into_response(),
        Some(RestFault::TooManyRequests { retry_after }) => {
            ApiError::too_many_requests(retry_after).into_response()
        }
        Some(RestFault::Delay(_)) => unreachable!("delays are not faults of their own"),
    };
    log_request(&emulator, &method, &uri, &body, response.status().as_u16());
    response
}

/// The normal answer to a request.
async fn answer(
    emulator: &Emulator,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    match route(emulator, method, uri, headers, body).await {
        Ok(r) => r,
        Err(e) => {
            if e.status != StatusCode::NOT_FOUND && e.status != StatusCode::UNAUTHORIZED {
                tracing::info!(code = e.code, "REST {method} {uri}: {}", e.message);
            }
            e.into_response()
        }
    }
}

fn log_request(emulator: &Emulator, method: &Method, uri: &Uri, body: &[u8], status: u16) {
    let mut log = emulator.inner.rest_log.lock().unwrap();
    if log.len() == crate::REST_LOG_LEN {
        log.pop_front();
    }
    log.push_back(crate::RestRequest {
        at: SystemTime::now(),
        method: method.to_string(),
        path: uri.path().to_owned(),
        params: Params::parse(body).0,
        status,
    });
}

fn authenticate(emulator: &Emulator, headers: &HeaderMap) -> Result<(), ApiError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let encoded = header
        .strip_prefix("Basic ")
        .ok_or_else(ApiError::unauthorized)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ApiError::unauthorized())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::unauthorized())?;
    let (user, pass) = decoded.split_once(':').ok_or_else(ApiError::unauthorized)?;
    if user != emulator.inner.cfg.account_sid || pass != emulator.inner.cfg.auth_token {
        return Err(ApiError::unauthorized());
    }
    Ok(())
}

async fn route(
    emulator: &Emulator,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult {
    authenticate(emulator, headers)?;
    let path = uri.path();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let not_found = || ApiError::not_found(path);
    if segs.len() < 4 || segs[0] != "2010-04-01" || segs[1] != "Accounts" {
        return Err(not_found());
    }
    if segs[2] != emulator.inner.cfg.account_sid {
        // Credentials of one account cannot reach another.
        return Err(ApiError::unauthorized());
    }
    let query = Params::parse(uri.query().unwrap_or("").as_bytes());
    let form = Params::parse(body);
    let rest = &segs[3..];
    let is = |m: &Method| method == m;
    match rest {
        ["Calls.json"] if is(&Method::POST) => create_call(emulator, &form),
        ["Calls.json"] if is(&Method::GET) => list_calls(emulator, &query),
        ["Calls", id] if id.ends_with(".json") => {
            let sid = id.trim_end_matches(".json");
            match *method {
                Method::GET => fetch_call(emulator, sid).ok_or_else(not_found),
                Method::POST => update_call(emulator, sid, &form, path),
                _ => Err(not_found()),
            }
        }
        ["Calls", call, "Transcriptions.json"] if is(&Method::POST) => {
            rest_transcriptions::create(emulator, call, &form, path)
        }
        ["Calls", call, "Transcriptions", id] if is(&Method::POST) && id.ends_with(".json") => {
            // A name may hold spaces ("Contact center transcription"): it arrives encoded.
            let sid_or_name = percent_encoding::percent_decode_str(id.trim_end_matches(".json"))
                .decode_utf8_lossy();
            rest_transcriptions::update(emulator, call, &sid_or_name, &form, path)
        }
        ["Conferences.json"] if is(&Method::GET) => list_conferences(emulator, &query),
        ["Conferences", id] if id.ends_with(".json") => {
            let sid = id.trim_end_matches(".json");
            match *method {
                Method::GET => {
                    let st = emulator.state();
                    st.confs
                        .get(sid)
                        .map(|_| ok(conference_json(&st, sid)))
                        .ok_or_else(not_found)
                }
                Method::POST => update_conference(emulator, sid, &form, path),
                _ => Err(not_found()),
            }
        }
        ["Conferences", conf, "Participants.json"] => match *method {
            Method::GET => list_participants(emulator, conf, path),
            Method::POST => create_participant(emulator, conf, &form),
            _ => Err(not_found()),
        },
        ["Conferences", conf, "Participants", id] if id.ends_with(".json") => {
            let who = id.trim_end_matches(".json");
            participant(emulator, method, conf, who, &form, path)
        }
        ["IncomingPhoneNumbers.json"] if is(&Method::GET) => list_numbers(emulator, &query),
        ["IncomingPhoneNumbers", id] if id.ends_with(".json") => {
            let sid = id.trim_end_matches(".json");
            match *method {
                Method::GET => {
                    let st = emulator.state();
                    st.numbers
                        .iter()
                        .find(|n| n.sid == sid)
                        .map(|n| ok(number_json(&st, n)))
                        .ok_or_else(not_found)
                }
                Method::POST => update_number(emulator, sid, &form, path),
                _ => Err(not_found()),
            }
        }
        ["Recordings", id] if is(&Method::GET) => {
            let sid = id.split('.').next().unwrap_or("");
            let st = emulator.state();
            let Some(r) = st.recordings.get(sid) else {
                return Err(not_found());
            };
            if id.ends_with(".json") {
                Ok(ok(json!({
                    "account_sid": st.account_sid,
                    "api_version": "2010-04-01",
                    "call_sid": r.call_sid,
                    "conference_sid": r.conference_sid,
                    "channels": 1,
                    "date_created": rfc2822(r.date_created),
                    "duration": r.duration.to_string(),
                    "sid": r.sid,
                    "source": r.source,
                    "status": "completed",
                    "uri": format!("/2010-04-01/Accounts/{}/Recordings/{}.json", st.account_sid, r.sid),
                })))
            } else {
                // No audio is kept: an empty WAV stands in for the media.
                Ok((
                    [(axum::http::header::CONTENT_TYPE, "audio/x-wav")],
                    empty_wav(),
                )
                    .into_response())
            }
        }
        _ => Err(not_found()),
    }
}

pub(crate) fn ok(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

pub(crate) fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

fn opt_date(t: Option<SystemTime>) -> Value {
    t.map(|t| Value::String(rfc2822(t))).unwrap_or(Value::Null)
}

fn call_json(st: &State, sid: &str) -> Value {
    let c = &st.calls[sid];
    let acct = &st.account_sid;
    let base = format!("/2010-04-01/Accounts/{acct}/Calls/{sid}");
    json!({
        "account_sid": acct,
        "annotation": null,
        "answered_by": c.answered_by,
        "api_version": "2010-04-01",
        "caller_name": c.caller_name,
        "date_created": rfc2822(c.date_created),
        "date_updated": rfc2822(c.date_updated),
        "direction": c.direction.as_str(),
        "duration": c.duration.map(|d| d.to_string()),
        "end_time": opt_date(c.end_time),
        "forwarded_from": null,
        "from": c.from,
        "from_formatted": c.from,
        "group_sid": null,
        "parent_call_sid": c.parent,
        "phone_number_sid": c.phone_number_sid,
        "price": null,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": opt_date(c.start_time),
        "status": c.status.as_str(),
        "subresource_uris": {
            "notifications": format!("{base}/Notifications.json"),
            "recordings": format!("{base}/Recordings.json"),
            "payments": format!("{base}/Payments.json"),
            "events": format!("{base}/Events.json"),
            "siprec": format!("{base}/Siprec.json"),
            "streams": format!("{base}/Streams.json"),
            "user_defined_message_subscriptions": format!("{base}/UserDefinedMessageSubscriptions.json"),
            "user_defined_messages": format!("{base}/UserDefinedMessages.json"),
        },
        "to": c.to,
        "to_formatted": c.to,
        "trunk_sid": null,
        "uri": format!("{base}.json"),
    })
}

fn page(key: &str, items: Vec<Value>, path: &str) -> Value {
    let n = items.len();
    json!({
        key: items,
        "end": n.saturating_sub(1),
        "first_page_uri": format!("{path}?PageSize=50&Page=0"),
        "next_page_uri": null,
        "page": 0,
        "page_size": 50,
        "previous_page_uri": null,
        "start": 0,
        "uri": format!("{path}?PageSize=50&Page=0"),
    })
}

/// `To` and `From` of a request that places a call, checked as Twilio checks them (both present,
/// dialable, and `From` a number of the account).
fn to_and_from<'form>(
    emulator: &Emulator,
    form: &'form Params,
) -> Result<(&'form str, &'form str), ApiError> {
    let to = form
        .get("To")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request(21201, "No 'To' number is specified"))?;
    let from = form
        .get("From")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request(21213, "No 'From' number is specified"))?;
    if !is_dialable(to) {
        return Err(ApiError::bad_request(
            21211,
            format!("Invalid 'To' Phone Number: {to}"),
        ));
    }
    if !is_dialable(from) {
        return Err(ApiError::bad_request(
            21212,
            format!("Invalid 'From' Phone Number: {from}"),
        ));
    }
    if is_e164(from) && emulator.state().number(from).is_none() {
        return Err(ApiError::bad_request(
            21210,
            format!(
                "The source phone number provided, {from}, is not yet verified for your account"
            ),
        ));
    }
    Ok((to, from))
}

fn create_call(emulator: &Emulator, form: &Params) -> ApiResult {
    let (to, from) = to_and_from(emulator, form)?;
    let method = form.method("Method")?;
    let src = match (
        form.get("Url"),
        form.get("Twiml"),
        form.get("ApplicationSid"),
    ) {
        // Twilio: when both are given, Url wins and Twiml is ignored.
        (Some(u), _, _) => {
            let url = form.url("Url", 21205)?.ok_or_else(|| {
                ApiError::bad_request(21205, format!("Url is not a valid URL: {u}"))
            })?;
            TwimlSource::Fetch {
                url: Url::parse(&url).expect("validated"),
                method,
                extra: Vec::new(),
                purpose: HookPurpose::Voice,
            }
        }
        (None, Some(t), _) => inline_twiml(t)?,
        (None, None, Some(_)) => {
            return Err(ApiError::bad_request(
                21205,
                "ApplicationSid is not supported by the emulator: give a Url",
            ));
        }
        (None, None, None) => {
            return Err(ApiError::bad_request(
                21205,
                "Url parameter is required. Please provide a Url, Twiml or ApplicationSid",
            ));
        }
    };
    let callback = call_callback(
        form,
        "StatusCallback",
        "StatusCallbackMethod",
        "StatusCallbackEvent",
    )?;
    let timeout = timeout_param(form, 60)?;
    let send_digits = form.get("SendDigits").map(str::to_string);
    if let Some(d) = &send_digits
        && !d.chars().all(|c| crate::dtmf::SEND_DIGITS.contains(c))
    {
        return Err(ApiError::bad_request(
            21206,
            format!("Invalid SendDigits: {d:?} (only 0-9, A-D, *, #, w and W)"),
        ));
    }
    let machine_detection = match form.get("MachineDetection") {
        None => false,
        Some("Enable") | Some("DetectMessageEnd") => true,
        Some(v) => {
            return Err(ApiError::bad_request(
                21200,
                format!("Invalid MachineDetection: {v}"),
            ));
        }
    };
    let sid = emulator.start_outbound(Outbound {
        from: form.get("CallerId").unwrap_or(from).to_string(),
        to: to.to_string(),
        direction: Direction::OutboundApi,
        parent: None,
        timeout,
        send_digits,
        machine_detection,
        callback,
        on_answer: OnAnswer::Twiml(src),
        paced: true,
    });
    let st = emulator.state();
    Ok(created(call_json(&st, &sid)))
}

/// A `Twiml` parameter, creating a call or redirecting one: at most 4,000 characters
/// (https://www.twilio.com/docs/api/errors/32018).
fn inline_twiml(twiml: &str) -> Result<TwimlSource, ApiError> {
    if twiml.chars().count() > 4000 {
        return Err(ApiError::bad_request(
            32018,
            "Twiml size exceeded maximum allowed value of 4000 characters",
        ));
    }
    Ok(TwimlSource::Inline(twiml.to_string()))
}

fn timeout_param(form: &Params, default: u32) -> Result<u32, ApiError> {
    match form.get("Timeout") {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            // Twilio caps the ring time at 600 seconds.
            Ok(n) if n >= 1 => Ok(n.min(600)),
            _ => Err(ApiError::bad_request(
                21200,
                format!("Invalid Timeout: {v}"),
            )),
        },
    }
}

fn call_callback(
    form: &Params,
    url_name: &str,
    method_name: &str,
    event_name: &str,
) -> Result<Option<StatusCallback>, ApiError> {
    let Some(url) = form.url(url_name, 21502)? else {
        return Ok(None);
    };
    let mut events = form.words(event_name);
    for e in &events {
        if !["initiated", "ringing", "answered", "completed"].contains(&e.as_str()) {
            return Err(ApiError::bad_request(
                21200,
                format!("Invalid {event_name}: {e}"),
            ));
        }
    }
    if events.is_empty() {
        events.push("completed".into());
    }
    Ok(Some(StatusCallback {
        url,
        method: form.method(method_name)?,
        events,
    }))
}

fn list_calls(emulator: &Emulator, query: &Params) -> ApiResult {
    let st = emulator.state();
    let items = st
        .call_order
        .iter()
        .rev()
        .filter(|sid| {
            let c = &st.calls[*sid];
            query.get("To").is_none_or(|v| v == c.to)
                && query.get("From").is_none_or(|v| v == c.from)
                && query.get("Status").is_none_or(|v| v == c.status.as_str())
                && query
                    .get("ParentCallSid")
                    .is_none_or(|v| Some(v) == c.parent.as_deref())
        })
        .map(|sid| call_json(&st, sid))
        .collect();
    Ok(ok(page(
        "calls",
        items,
        &format!("/2010-04-01/Accounts/{}/Calls.json", st.account_sid),
    )))
}

fn fetch_call(emulator: &Emulator, sid: &str) -> Option<Response> {
    let st = emulator.state();
    st.calls.get(sid).map(|_| ok(call_json(&st, sid)))
}

fn update_call(emulator: &Emulator, sid: &str, form: &Params, path: &str) -> ApiResult {
    let st = emulator.state();
    let Some(c) = st.calls.get(sid) else {
        return Err(ApiError::not_found(path));
    };
    let status = c.status;
    drop(st);
    let not_live = || ApiError::bad_request(21220, "Call is not in-progress. Cannot redirect.");
    if let Some(s) = form.get("Status") {
        match s {
            "completed" | "canceled" => {
                if status.is_final() {
                    return Err(not_live());
                }
                let ringing = matches!(
                    status,
                    CallStatus::Queued | CallStatus::Initiated | CallStatus::Ringing
                );
                // `canceled` only affects calls that are not answered yet.
                if s == "completed" || ringing {
                    emulator.state().send_control(sid, CallControl::Complete);
                }
            }
            other => {
                return Err(ApiError::bad_request(
                    21218,
                    format!("Invalid Status: {other}"),
                ));
            }
        }
    } else if form.get("Url").is_some() || form.get("Twiml").is_some() {
        if status != CallStatus::InProgress {
            return Err(not_live());
        }
        let method = form.method("Method")?;
        let src = match (form.url("Url", 21205)?, form.get("Twiml")) {
            (Some(u), _) => TwimlSource::Fetch {
                url: Url::parse(&u).expect("validated"),
                method,
                extra: Vec::new(),
                purpose: HookPurpose::Redirect,
            },
            (None, Some(t)) => inline_twiml(t)?,
            (None, None) => unreachable!(),
        };
        emulator
            .state()
            .send_control(sid, CallControl::Redirect(src));
    }
    if let Some(cb) = call_callback(
        form,
        "StatusCallback",
        "StatusCallbackMethod",
        "StatusCallbackEvent",
    )? && let Some(c) = emulator.state().calls.get_mut(sid)
    {
        c.callback = Some(cb);
    }
    let st = emulator.state();
    Ok(ok(call_json(&st, sid)))
}

fn conference_json(st: &State, sid: &str) -> Value {
    let c = &st.confs[sid];
    let base = format!("/2010-04-01/Accounts/{}/Conferences/{sid}", st.account_sid);
    json!({
        "account_sid": st.account_sid,
        "api_version": "2010-04-01",
        "call_sid_ending_conference": c.call_sid_ending,
        "date_created": rfc2822(c.date_created),
        "date_updated": rfc2822(c.date_updated),
        "friendly_name": c.friendly_name,
        "label": null,
        "reason_conference_ended": c.reason_ended,
        "region": "us1",
        "sid": sid,
        "status": c.status.as_str(),
        "subresource_uris": {
            "participants": format!("{base}/Participants.json"),
            "recordings": format!("{base}/Recordings.json"),
        },
        "uri": format!("{base}.json"),
    })
}

fn list_conferences(emulator: &Emulator, query: &Params) -> ApiResult {
    let st = emulator.state();
    if let Some(s) = query.get("Status")
        && !["init", "in-progress", "completed"].contains(&s)
    {
        return Err(ApiError::bad_request(20001, format!("Invalid Status: {s}")));
    }
    let items = st
        .conf_order
        .iter()
        .rev()
        .filter(|sid| {
            let c = &st.confs[*sid];
            // A conference reserved by the Participants API has not been created yet for Twilio.
            let exists = !(c.participants.is_empty()
                && !c.configured
                && c.status != ConferenceStatus::Completed);
            exists
                && query
                    .get("FriendlyName")
                    .is_none_or(|v| v == c.friendly_name)
                && query.get("Status").is_none_or(|v| v == c.status.as_str())
        })
        .map(|sid| conference_json(&st, sid))
        .collect();
    Ok(ok(page(
        "conferences",
        items,
        &format!("/2010-04-01/Accounts/{}/Conferences.json", st.account_sid),
    )))
}

fn update_conference(emulator: &Emulator, sid: &str, form: &Params, path: &str) -> ApiResult {
    let status = match emulator.state().confs.get(sid) {
        None => return Err(ApiError::not_found(path)),
        Some(c) => c.status,
    };
    if let Some(s) = form.get("Status") {
        if s != "completed" {
            return Err(ApiError::bad_request(20001, format!("Invalid Status: {s}")));
        }
        if status != ConferenceStatus::Completed {
            emulator
                .state()
                .end_conference(sid, "conference-ended-via-api", None);
        }
    }
    if form.get("AnnounceUrl").is_some() {
        emulator.state().check_announceable(sid)?;
        let url = form.url("AnnounceUrl", 21205)?.expect("present");
        let method = form.method("AnnounceMethod")?;
        emulator.spawn_announcement(
            sid.to_string(),
            None,
            Url::parse(&url).expect("validated"),
            method,
        );
    }
    let st = emulator.state();
    Ok(ok(conference_json(&st, sid)))
}

/// A participant as the API shows it, `status` as Twilio names it.
fn participant_json(
    st: &State,
    conf_sid: &str,
    participant: &ParticipantRecord,
    status: &str,
) -> Value {
    json!({
        "account_sid": st.account_sid,
        "call_sid": participant.call_sid,
        "call_sid_to_coach": null,
        "coaching": false,
        "conference_sid": conf_sid,
        "date_created": rfc2822(participant.date_created),
        "date_updated": rfc2822(participant.date_updated),
        "end_conference_on_exit": participant.end_on_exit,
        "hold": participant.hold,
        "label": participant.label,
        "muted": participant.muted,
        "queue_time": "0",
        "start_conference_on_enter": participant.start_on_enter,
        "status": status,
        "uri": format!("/2010-04-01/Accounts/{}/Conferences/{conf_sid}/Participants/{}.json", st.account_sid, participant.call_sid),
    })
}

/// The status of a participant still being dialled, from its call's: Twilio lists participants
/// "either connecting to, or actively connected to" a conference
/// (https://www.twilio.com/docs/voice/api/conference-participant-resource).
fn dialling_status(st: &State, call_sid: &str) -> &'static str {
    match st.calls.get(call_sid).map(|c| c.status) {
        Some(CallStatus::Queued) => "queued",
        Some(CallStatus::Ringing) => "ringing",
        _ => "connecting",
    }
}

/// Every participant of a conference, connected first, then those still being dialled.
fn participants_json(st: &State, conf_sid: &str) -> Vec<Value> {
    let c = &st.confs[conf_sid];
    let connected = c
        .participants
        .iter()
        .map(|p| participant_json(st, conf_sid, p, "connected"));
    let dialling = c
        .pending
        .iter()
        .map(|p| participant_json(st, conf_sid, p, dialling_status(st, &p.call_sid)));
    connected.chain(dialling).collect()
}

fn list_participants(emulator: &Emulator, conf: &str, path: &str) -> ApiResult {
    let st = emulator.state();
    if !st.confs.contains_key(conf) {
        return Err(ApiError::not_found(path));
    }
    let items = participants_json(&st, conf);
    Ok(ok(page(
        "participants",
        items,
        &format!(
            "/2010-04-01/Accounts/{}/Conferences/{conf}/Participants.json",
            st.account_sid
        ),
    )))
}

fn create_participant(emulator: &Emulator, conf: &str, form: &Params) -> ApiResult {
    let (to, from) = to_and_from(emulator, form)?;
    let beep = match form.get("Beep") {
        None => Beep::Both,
        Some(v) => Beep::parse(v)
            .ok_or_else(|| ApiError::bad_request(20001, format!("Invalid Beep: {v}")))?,
    };
    let mut conf_events = form.words("ConferenceStatusCallbackEvent");
    for e in &conf_events {
        if !crate::twiml::CONFERENCE_EVENT_GROUPS.contains(&e.as_str()) {
            return Err(ApiError::bad_request(
                20001,
                format!("Invalid ConferenceStatusCallbackEvent: {e}"),
            ));
        }
    }
    if conf_events.is_empty() {
        // "Defaults to `start end`."
        conf_events = vec!["start".into(), "end".into()];
    }
    let wait_url = match form.get("WaitUrl") {
        None => None,
        Some("") => Some(String::new()),
        Some(_) => form.url("WaitUrl", 21205)?,
    };
    let label = form.get("Label").map(str::to_string);
    if let Some(why) = label.as_deref().and_then(participant_label::violation) {
        return Err(ApiError::bad_request(16024, why));
    }
    let max = match form.get("MaxParticipants") {
        None => 250,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (2..=250).contains(n))
            .ok_or_else(|| ApiError::bad_request(20001, format!("Invalid MaxParticipants: {v}")))?,
    };
    let callback = call_callback(
        form,
        "StatusCallback",
        "StatusCallbackMethod",
        "StatusCallbackEvent",
    )?;
    let timeout = timeout_param(form, 60)?;
    let conf_sid = {
        let mut st = emulator.state();
        match st.confs.get(conf) {
            Some(c) if c.status == ConferenceStatus::Completed => {
                return Err(ApiError::bad_request(20001, "Conference is not active"));
            }
            Some(_) => conf.to_string(),
            // Not a SID: a friendly name, as Twilio allows, creating the conference if needed.
            None if !conf.starts_with("CF") => st.conference_for(conf),
            None => {
                return Err(ApiError::not_found(&format!(
                    "/2010-04-01/Accounts/{}/Conferences/{conf}",
                    st.account_sid
                )));
            }
        }
    };
    if let Some(l) = &label
        && emulator.state().confs[&conf_sid].label_in_use(l, "")
    {
        return Err(ApiError::bad_request(
            16026,
            format!("Label {l:?} is in use by another participant"),
        ));
    }
    let name = emulator.state().confs[&conf_sid].friendly_name.clone();
    let noun = ConferenceNoun {
        name,
        muted: form.bool("Muted", false)?,
        beep,
        start_conference_on_enter: form.bool("StartConferenceOnEnter", true)?,
        end_conference_on_exit: form.bool("EndConferenceOnExit", false)?,
        wait_url,
        wait_method: form.method("WaitMethod")?,
        max_participants: max,
        record: form.bool("ConferenceRecord", false).unwrap_or(false)
            || form.get("ConferenceRecord") == Some("record-from-start"),
        status_callback: form.url("ConferenceStatusCallback", 21502)?,
        status_callback_method: form.method("ConferenceStatusCallbackMethod")?,
        status_callback_event: conf_events,
        participant_label: label,
        coach: None,
    };
    let dialled = noun.clone();
    let call_sid = emulator.start_outbound(Outbound {
        from: form.get("CallerId").unwrap_or(from).to_string(),
        to: to.to_string(),
        direction: Direction::OutboundApi,
        parent: None,
        timeout,
        send_digits: None,
        machine_detection: form.get("MachineDetection").is_some(),
        callback,
        on_answer: OnAnswer::Conference {
            conf_sid: conf_sid.clone(),
            noun: Box::new(noun),
        },
        paced: true,
    });
    let mut st = emulator.state();
    let part = ParticipantRecord::joining(&call_sid, &dialled);
    let status = dialling_status(&st, &call_sid);
    let v = participant_json(&st, &conf_sid, &part, status);
    // The call is queued behind the account's pacing, so it cannot have joined yet; a call that
    // already ended is not waited for.
    let live = st
        .calls
        .get(&call_sid)
        .is_some_and(|c| !c.status.is_final());
    if live && let Some(c) = st.confs.get_mut(&conf_sid) {
        c.pending.push(part);
    }
    Ok(created(v))
}

/// A participant of conference `conf` named by CallSid or label, and whether it is connected
/// (rather than still being dialled).
fn find_participant(st: &State, conf: &str, who: &str) -> Option<(ParticipantRecord, bool)> {
    let c = st.confs.get(conf)?;
    let named = |p: &&ParticipantRecord| p.call_sid == who || p.label.as_deref() == Some(who);
    c.participants
        .iter()
        .find(named)
        .map(|p| (p.clone(), true))
        .or_else(|| c.pending.iter().find(named).map(|p| (p.clone(), false)))
}

fn participant(
    emulator: &Emulator,
    method: &Method,
    conf: &str,
    who: &str,
    form: &Params,
    path: &str,
) -> ApiResult {
    let Some((part, connected)) = find_participant(&emulator.state(), conf, who) else {
        return Err(ApiError::not_found(path));
    };
    let call_sid = part.call_sid.clone();
    if *method == Method::GET {
        let st = emulator.state();
        let status = if connected {
            "connected"
        } else {
            dialling_status(&st, &call_sid)
        };
        return Ok(ok(participant_json(&st, conf, &part, status)));
    }
    // Stricter than documented: Twilio updates "a Participant in an active Conference" and does
    // not say what becomes of one still being dialled, so the emulator refuses to (cancel the call
    // through the Calls API instead).
    if !connected {
        return Err(ApiError::not_found(path));
    }
    match *method {
        Method::DELETE => {
            let mut st = emulator.state();
            st.leave_conference(&call_sid, "participant_kicked");
            st.send_control(&call_sid, CallControl::Kicked);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Method::POST => {
            if form.get("AnnounceUrl").is_some() {
                emulator.state().check_announceable(conf)?;
            }
            let given = |name: &str| form.get(name).map(|_| form.bool(name, false)).transpose();
            let update = ParticipantUpdate {
                muted: given("Muted")?,
                hold: given("Hold")?,
                end_conference_on_exit: given("EndConferenceOnExit")?,
                beep_on_exit: given("BeepOnExit")?,
            };
            emulator
                .state()
                .update_participant(conf, &call_sid, &update);
            if form.get("AnnounceUrl").is_some() {
                let url = form.url("AnnounceUrl", 21205)?.expect("present");
                let m = form.method("AnnounceMethod")?;
                emulator.spawn_announcement(
                    conf.to_string(),
                    Some(call_sid.clone()),
                    Url::parse(&url).expect("validated"),
                    m,
                );
            }
            let st = emulator.state();
            match find_participant(&st, conf, &call_sid) {
                Some((part, _)) => Ok(ok(participant_json(&st, conf, &part, "connected"))),
                None => Err(ApiError::not_found(path)),
            }
        }
        _ => Err(ApiError::not_found(path)),
    }
}

fn number_json(st: &State, number: &crate::state::OwnedNumber) -> Value {
    json!({
        "account_sid": st.account_sid,
        "address_requirements": "none",
        "address_sid": null,
        "api_version": "2010-04-01",
        "beta": false,
        "capabilities": { "voice": true, "sms": true, "mms": true, "fax": false },
        "date_created": rfc2822(number.date_created),
        "date_updated": rfc2822(number.date_updated),
        "emergency_status": "Inactive",
        "friendly_name": number.friendly_name,
        "origin": "twilio",
        "phone_number": number.phone_number,
        "sid": number.sid,
        "sms_method": "POST",
        "sms_url": "",
        "status": "in-use",
        "status_callback": number.status_callback.clone().unwrap_or_default(),
        "status_callback_method": number.status_callback_method.as_str(),
        "trunk_sid": null,
        "uri": format!("/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{}.json", st.account_sid, number.sid),
        "voice_application_sid": null,
        "voice_caller_id_lookup": false,
        "voice_fallback_method": "POST",
        "voice_fallback_url": null,
        "voice_method": number.voice_method.as_str(),
        "voice_url": number.voice_url,
    })
}

fn list_numbers(emulator: &Emulator, query: &Params) -> ApiResult {
    let st = emulator.state();
    let items = st
        .numbers
        .iter()
        .filter(|n| {
            query
                .get("PhoneNumber")
                .is_none_or(|p| n.phone_number.contains(p.trim()))
        })
        .filter(|n| {
            query
                .get("FriendlyName")
                .is_none_or(|p| n.friendly_name == p)
        })
        .map(|n| number_json(&st, n))
        .collect();
    Ok(ok(page(
        "incoming_phone_numbers",
        items,
        &format!(
            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json",
            st.account_sid
        ),
    )))
}

fn update_number(emulator: &Emulator, sid: &str, form: &Params, path: &str) -> ApiResult {
    let voice_url = form.url("VoiceUrl", 21502)?;
    let voice_method = form
        .get("VoiceMethod")
        .map(|_| form.method("VoiceMethod"))
        .transpose()?;
    let status_callback = match form.get("StatusCallback") {
        Some("") => Some(None),
        Some(_) => Some(form.url("StatusCallback", 21502)?),
        None => None,
    };
    let sc_method = form
        .get("StatusCallbackMethod")
        .map(|_| form.method("StatusCallbackMethod"))
        .transpose()?;
    let mut st = emulator.state();
    let Some(n) = st.numbers.iter_mut().find(|n| n.sid == sid) else {
        return Err(ApiError::not_found(path));
    };
    if let Some(u) = voice_url {
        n.voice_url = u;
    }
    if let Some(m) = voice_method {
        n.voice_method = m;
    }
    if let Some(sc) = status_callback {
        n.status_callback = sc;
    }
    if let Some(m) = sc_method {
        n.status_callback_method = m;
    }
    if let Some(name) = form.get("FriendlyName") {
        n.friendly_name = name.to_string();
    }
    n.date_updated = SystemTime::now();
    let n = n.clone();
    Ok(ok(number_json(&st, &n)))
}

fn empty_wav() -> Vec<u8> {
    let mut v = Vec::with_capacity(44);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&36u32.to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&1u16.to_le_bytes()); // mono
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&16000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&0u32.to_le_bytes());
    v
}
