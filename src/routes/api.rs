//! `/api`: the HTTP API for scripts, other tools and the demo console. Bearer token required.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use denwa_chat::MessageOrigin;
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use super::ApiError;
use crate::domain::{CallId, CallState, LineId, MessageId};
use crate::line::{DialError, Line};

pub async fn require_token(State(line): State<Line>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or_default();
    let expected = line.settings().api.token.expose_secret();
    if presented.is_empty() || !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}

/// The token of `Bearer <token>`. The scheme's case does not matter (RFC 9110 11.1: `bearer`,
/// `BEARER` are the same scheme), nor do extra spaces before the token.
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

/// tower-http refuses a body declared too large with a plain-text 413 before any handler runs;
/// `/api` answers every error as JSON.
pub async fn too_large_as_json(response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::TooLarge.into_response();
    }
    response
}

/// A JSON body a handler could not take: 413 if it was over the limit, else 422 saying what
/// was `expected`.
fn unreadable(rejection: JsonRejection, expected: &str) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::TooLarge;
    }
    ApiError::Invalid(format!(
        "expected a JSON body {expected}: {}",
        rejection.body_text()
    ))
}

fn call_id(raw: &str) -> Result<CallId, ApiError> {
    CallId::parse(raw).ok_or_else(|| ApiError::NotFound("there is no such call".into()))
}

pub async fn list_calls(State(line): State<Line>) -> Result<Response, ApiError> {
    let calls = line.store().active_calls().await?;
    Ok(Json(json!({ "calls": calls })).into_response())
}

pub async fn get_call(
    State(line): State<Line>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = call_id(&id)?;
    let call = line
        .store()
        .call(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("there is no such call".into()))?;
    Ok(Json(call).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SayRequest {
    text: String,
    /// The client's own name for the message (e.g. its id in a chat UI). Kept as the message's
    /// origin `api:<reference>`, shown in `GET .../messages` as `source`, and carried by the
    /// receipt, so a client sending many messages can tell which one was spoken.
    #[serde(default)]
    reference: Option<String>,
}

/// The longest `reference` accepted: it is an id, not a message.
const MAX_REFERENCE_CHARS: usize = 128;

pub async fn say(
    State(line): State<Line>,
    Path(id): Path<String>,
    body: Result<Json<SayRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| unreadable(e, r#"{"text": "..."}"#))?;
    let reference = body.reference.unwrap_or_default();
    if reference.chars().count() > MAX_REFERENCE_CHARS || reference.chars().any(char::is_control) {
        return Err(ApiError::Invalid(format!(
            "reference must be at most {MAX_REFERENCE_CHARS} characters, without control characters"
        )));
    }
    let id = call_id(&id)?;
    let message = line
        .queue_message(&id, &body.text, MessageOrigin::new("api", reference))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": message, "state": "queued" })),
    )
        .into_response())
}

/// `GET .../messages` answers pages of this many messages unless asked for fewer or more...
const DEFAULT_PAGE: usize = 100;
/// ...and never more than this: a page is built in memory and sent whole, and a long call has
/// more messages than one response should carry.
const MAX_PAGE: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<usize>,
    /// The id of the last message of the previous page (its `next`).
    after: Option<String>,
}

/// `GET /api/calls/{id}/messages?limit=N&after=<message id>`: a page of the call's messages, in
/// the order received, and `next`, the `after` of the next page (null on the last).
/// `GET /api/calls/{id}/transcript`: the conversation both ways, in time order.
pub async fn transcript(
    State(line): State<Line>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = call_id(&id)?;
    let entries = line
        .transcript(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("there is no such call".into()))?;
    Ok(Json(json!({ "entries": entries })).into_response())
}

pub async fn messages(
    State(line): State<Line>,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = call_id(&id)?;
    let Query(query) = query.map_err(|e| {
        ApiError::Invalid(format!(
            "expected ?limit=N&after=<message id>: {}",
            e.body_text()
        ))
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::Invalid(format!(
            "limit must be from 1 to {MAX_PAGE} (it was {limit})"
        )));
    }
    let after = match query.after.as_deref() {
        None => None,
        Some(raw) => Some(MessageId::parse(raw).ok_or_else(|| {
            ApiError::Invalid(format!(
                "after must be a message id such as m0123456789abcdef (it was {raw:?})"
            ))
        })?),
    };
    if line.store().call(&id).await?.is_none() {
        return Err(ApiError::NotFound("there is no such call".into()));
    }
    let page = line
        .store()
        .messages_page(&id, after.as_ref(), limit)
        .await?
        .ok_or_else(|| {
            ApiError::Invalid(format!(
                "after names no message of this call ({})",
                after.as_ref().map(MessageId::as_str).unwrap_or_default()
            ))
        })?;
    Ok(Json(json!({ "messages": page.messages, "next": page.next })).into_response())
}

pub async fn hangup(
    State(line): State<Line>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    line.hang_up_call(&call_id(&id)?).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "state": CallState::Ended })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialRequest {
    to: String,
    /// The id of the line to call from (`GET /api/lines`); the default line when absent.
    #[serde(default)]
    line: Option<String>,
}

/// `POST /api/calls {"to": "+E.164", "line": "<id>"}`: a line calls someone, from its number.
pub async fn dial(
    State(line): State<Line>,
    body: Result<Json<DialRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| unreadable(e, r#"{"to": "+14155550100"}"#))?;
    let from = match body.line.as_deref() {
        None => line.lines().default_line(),
        Some(raw) => LineId::parse(raw)
            .and_then(|id| line.lines().get(&id))
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "there is no line {raw:?} (GET /api/lines lists them)"
                ))
            })?,
    };
    let call = line
        .dial_out_from(from, &body.to)
        .await
        .map_err(|e| match e {
            DialError::BadNumber(m) => ApiError::Invalid(m),
            DialError::NotAllowed(r) => ApiError::NumberNotAllowed(r.to_string()),
            DialError::Refused(r) => ApiError::from(r),
            DialError::Twilio(m) => ApiError::BadGateway(m),
        })?;
    Ok((StatusCode::CREATED, Json(call)).into_response())
}

/// `GET /api/lines`: every line (the default first) with its number, where its calls are
/// announced, and who is on call on it now (as a new call would ring them).
pub async fn lines(State(line): State<Line>) -> Response {
    // One entry per configured line: a fixed, small set.
    let mut lines = Vec::with_capacity(line.lines().all().len());
    for l in line.lines().all() {
        let on_call = line.on_call_now(&l.settings).await;
        lines.push(json!({
            "id": l.id(),
            "name": l.settings.name,
            "number": l.number.as_str(),
            "slack_channel": l.slack_channel,
            "discord_channel": l.discord_channel,
            "menu": l.settings.menu.as_ref().map(|m| json!({
                "default": m.default,
                "choices": m.choices.iter().map(|(key, id)| json!({"key": key.to_string(), "line": id})).collect::<Vec<_>>(),
            })),
            "on_call": {
                "source": on_call.source,
                "responders": on_call.names(&l.settings),
            },
        }));
    }
    Json(json!({ "lines": lines })).into_response()
}
