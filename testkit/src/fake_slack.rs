//! A fake Slack Web API: an axum server on 127.0.0.1:0 answering the methods denwa uses with
//! Slack's real JSON shapes, checking the bot token and the parameters as Slack does, and
//! recording every call. It can answer a method with one 429 + `Retry-After`, like Slack's rate
//! limiter. Also answers as a slash command's `response_url` (recorded as method `response_url`),
//! and as one that has expired. Blocks are checked against the Block Kit limits denwa could
//! break, answered `invalid_blocks` as Slack does.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Map, Value, json};

pub const BOT_USER: &str = "UDENWABOT";
pub const BOT_ID: &str = "BDENWABOT";

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub method: String,
    pub params: Value,
    /// HTTP status (429 for an injected rate limit).
    pub status: u16,
    /// The `error` of an `ok:false` answer.
    pub error: Option<String>,
    /// The JSON answered.
    pub response: Value,
}

#[derive(Default)]
struct State_ {
    token: String,
    channels: HashSet<String>,
    users: HashMap<String, (String, String)>,
    groups: HashMap<String, Vec<String>>,
    rate_limit_next: HashMap<String, u64>,
    reactions: HashSet<(String, String, String)>,
    messages: HashSet<String>,
    next_ts: u64,
    calls: Vec<ApiCall>,
}

#[derive(Clone)]
pub struct FakeSlack {
    pub base: String,
    state: Arc<Mutex<State_>>,
}

impl FakeSlack {
    /// Starts a workspace with `channel` and the bot token `token`.
    pub async fn start(token: &str, channel: &str) -> FakeSlack {
        let state = Arc::new(Mutex::new(State_ {
            token: token.into(),
            channels: HashSet::from([channel.to_owned()]),
            next_ts: 1_700_000_000_000_100,
            ..State_::default()
        }));
        let app = Router::new()
            .route("/api/{method}", any(api))
            .route("/response", post(response_url))
            .route("/response/expired", post(expired_response_url))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeSlack { base, state }
    }

    /// What `slack.api_base` should be.
    pub fn api_base(&self) -> String {
        format!("{}/api", self.base)
    }

    pub fn response_url(&self) -> String {
        format!("{}/response", self.base)
    }

    /// A `response_url` past its 30 minutes (or its 5 uses): Slack answers 404.
    pub fn expired_response_url(&self) -> String {
        format!("{}/response/expired", self.base)
    }

    pub fn add_user(&self, id: &str, display_name: &str, real_name: &str) {
        self.lock()
            .users
            .insert(id.into(), (display_name.into(), real_name.into()));
    }

    /// Another channel the bot is in (a second line's).
    pub fn add_channel(&self, id: &str) {
        self.lock().channels.insert(id.into());
    }

    pub fn add_group(&self, id: &str, members: &[&str]) {
        self.lock()
            .groups
            .insert(id.into(), members.iter().map(|m| m.to_string()).collect());
    }

    /// The next call of `method` gets a 429 with `Retry-After: retry_after`.
    pub fn rate_limit_next(&self, method: &str, retry_after: u64) {
        self.lock()
            .rate_limit_next
            .insert(method.into(), retry_after);
    }

    /// Every call, in order.
    pub fn all_calls(&self) -> Vec<ApiCall> {
        self.lock().calls.clone()
    }

    /// The parameters of every successful call of `method`.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.answered(method)
            .into_iter()
            .map(|c| c.params)
            .collect()
    }

    /// Every successful call of `method`, with its answer.
    pub fn answered(&self, method: &str) -> Vec<ApiCall> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == method && c.status == 200 && c.error.is_none())
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State_> {
        self.state.lock().unwrap()
    }
}

type Shared = Arc<Mutex<State_>>;

/// Slack's `response_url` answers a plain "ok" to a JSON message; the message is recorded.
async fn response_url(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = state.lock().unwrap();
    let (status, error) = match params(None, &headers, &body) {
        Ok(p) if p.get("text").and_then(Value::as_str).is_some() => {
            let params = Value::Object(p);
            s.calls.push(ApiCall {
                method: "response_url".into(),
                params,
                status: 200,
                error: None,
                response: Value::Null,
            });
            return (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "ok").into_response();
        }
        Ok(_) => (StatusCode::BAD_REQUEST, "no_text"),
        Err(_) => (StatusCode::BAD_REQUEST, "invalid_payload"),
    };
    s.calls.push(ApiCall {
        method: "response_url".into(),
        params: Value::Null,
        status: status.as_u16(),
        error: Some(error.into()),
        response: Value::Null,
    });
    (status, [(header::CONTENT_TYPE, "text/plain")], error).into_response()
}

async fn expired_response_url(State(state): State<Shared>) -> Response {
    state.lock().unwrap().calls.push(ApiCall {
        method: "response_url".into(),
        params: Value::Null,
        status: 404,
        error: Some("expired_url".into()),
        response: Value::Null,
    });
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "expired_url",
    )
        .into_response()
}

/// Whether `blocks` keeps the Block Kit limits denwa could run into (docs.slack.dev, Block Kit
/// reference): a section's text at most 3000 characters; a button's text plain_text of at most
/// 75, its `action_id` at most 255 and `value` at most 2000; a confirmation dialog's `text`
/// plain_text of at most 300. Slack refuses the whole message with `invalid_blocks` otherwise.
fn valid_blocks(blocks: &Value) -> bool {
    fn chars(v: &Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }
    fn plain(text: &Value, max: usize) -> bool {
        text["type"] == "plain_text" && text["text"].is_string() && chars(&text["text"]) <= max
    }
    fn walk(v: &Value) -> bool {
        match v {
            Value::Array(items) => items.iter().all(walk),
            Value::Object(o) => {
                let kind = o.get("type").and_then(Value::as_str);
                let ok = match kind {
                    Some("section") => o.get("text").is_none_or(|t| chars(&t["text"]) <= 3000),
                    Some("button") => {
                        plain(&v["text"], 75)
                            && chars(&v["action_id"]) <= 255
                            && chars(&v["value"]) <= 2000
                    }
                    _ => true,
                };
                // An element's `confirm` is a dialog; the dialog's own `confirm` is its button
                // label (plain text), which has no dialog of its own.
                let dialog_ok = match (kind, o.get("confirm")) {
                    (Some(_), Some(dialog))
                        if dialog.is_object() && dialog.get("type").is_none() =>
                    {
                        plain(&dialog["text"], 300)
                            && dialog.as_object().unwrap().values().all(walk)
                    }
                    _ => true,
                };
                ok && dialog_ok
                    && o.iter()
                        .filter(|(k, _)| *k != "confirm")
                        .all(|(_, v)| walk(v))
            }
            _ => true,
        }
    }
    blocks.is_array() && walk(blocks)
}

/// Parameters as Slack reads them: the query string, then a JSON or form body; form fields
/// that hold JSON (`blocks`) are decoded.
fn params(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let form = |bytes: &[u8], out: &mut Map<String, Value>| -> Result<(), String> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(bytes).map_err(|_| "invalid_form_data".to_owned())?;
        for (k, v) in pairs {
            let value = match k.as_str() {
                "blocks" | "attachments" => serde_json::from_str(&v).unwrap_or(Value::String(v)),
                _ => Value::String(v),
            };
            out.insert(k, value);
        }
        Ok(())
    };
    if let Some(q) = query {
        form(q.as_bytes(), &mut out)?;
    }
    if body.is_empty() {
        return Ok(out);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => out.extend(map),
            _ => return Err("invalid_json".into()),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        form(body, &mut out)?;
    } else {
        return Err("invalid_post_type".into());
    }
    Ok(out)
}

fn refuse(error: &str) -> Value {
    json!({ "ok": false, "error": error })
}

async fn api(
    State(state): State<Shared>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().unwrap();
    let params = match params(query.as_deref(), &headers, &body) {
        Ok(p) => Value::Object(p),
        Err(e) => return record(&mut s, &method, Value::Null, refuse(&e), Some(e)),
    };
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth {
        None => {
            return record(
                &mut s,
                &method,
                params,
                refuse("not_authed"),
                Some("not_authed".into()),
            );
        }
        Some(a) if a != format!("Bearer {}", s.token) => {
            return record(
                &mut s,
                &method,
                params,
                refuse("invalid_auth"),
                Some("invalid_auth".into()),
            );
        }
        _ => {}
    }
    if let Some(retry_after) = s.rate_limit_next.remove(&method) {
        let response = (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            axum::Json(json!({ "ok": false, "error": "ratelimited" })),
        )
            .into_response();
        s.calls.push(ApiCall {
            method,
            params,
            status: 429,
            error: Some("ratelimited".into()),
            response: refuse("ratelimited"),
        });
        return response;
    }
    let p = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_owned);
    let result: Result<Value, &str> = match method.as_str() {
        "chat.postMessage" => (|| {
            let channel = p("channel").ok_or("channel_not_found")?;
            if !s.channels.contains(&channel) {
                return Err("channel_not_found");
            }
            let text = p("text");
            let blocks = params.get("blocks").cloned();
            if text.is_none() && blocks.is_none() {
                return Err("no_text");
            }
            if blocks.as_ref().is_some_and(|b| !valid_blocks(b)) {
                return Err("invalid_blocks");
            }
            if let Some(thread) = p("thread_ts")
                && !s.messages.contains(&format!("{channel}:{thread}"))
            {
                return Err("thread_not_found");
            }
            s.next_ts += 1;
            let ts = format!("{}.{:06}", s.next_ts / 1_000_000, s.next_ts % 1_000_000);
            s.messages.insert(format!("{channel}:{ts}"));
            let mut message = json!({ "type": "message", "user": BOT_USER, "bot_id": BOT_ID,
                "text": text.unwrap_or_default(), "ts": ts });
            if let Some(blocks) = blocks {
                message["blocks"] = blocks;
            }
            if let Some(thread) = p("thread_ts") {
                message["thread_ts"] = thread.into();
            }
            Ok(json!({ "channel": channel, "ts": ts, "message": message }))
        })(),
        "chat.update" => (|| {
            let channel = p("channel").ok_or("channel_not_found")?;
            let ts = p("ts").ok_or("message_not_found")?;
            if !s.messages.contains(&format!("{channel}:{ts}")) {
                return Err("message_not_found");
            }
            if params.get("blocks").is_some_and(|b| !valid_blocks(b)) {
                return Err("invalid_blocks");
            }
            let text = p("text").unwrap_or_default();
            Ok(json!({ "channel": channel, "ts": ts, "text": text,
                "message": { "type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": text } }))
        })(),
        "chat.postEphemeral" => (|| {
            let channel = p("channel").ok_or("channel_not_found")?;
            if !s.channels.contains(&channel) {
                return Err("channel_not_found");
            }
            p("user").ok_or("user_not_in_channel")?;
            p("text").ok_or("no_text")?;
            Ok(json!({ "message_ts": "1700000000.999999" }))
        })(),
        "reactions.add" => (|| {
            let channel = p("channel").ok_or("channel_not_found")?;
            let ts = p("timestamp").ok_or("no_item_specified")?;
            let name = p("name").ok_or("invalid_name")?;
            if name.contains(':') {
                return Err("invalid_name");
            }
            if !s.reactions.insert((channel, ts, name)) {
                return Err("already_reacted");
            }
            Ok(json!({}))
        })(),
        "users.info" => (|| {
            let id = p("user").ok_or("user_not_found")?;
            let (display, real) = s.users.get(&id).ok_or("user_not_found")?;
            Ok(
                json!({ "user": { "id": id, "team_id": "T0TEST", "name": display.to_lowercase(),
                "real_name": real, "profile": { "display_name": display, "real_name": real } } }),
            )
        })(),
        "usergroups.users.list" => (|| {
            let id = p("usergroup").ok_or("no_such_subteam")?;
            let members = s.groups.get(&id).ok_or("no_such_subteam")?;
            Ok(json!({ "users": members }))
        })(),
        _ => Err("unknown_method"),
    };
    match result {
        Ok(mut body) => {
            body["ok"] = Value::Bool(true);
            record(&mut s, &method, params, body, None)
        }
        Err(e) => record(&mut s, &method, params, refuse(e), Some(e.into())),
    }
}

fn record(
    s: &mut State_,
    method: &str,
    params: Value,
    response: Value,
    error: Option<String>,
) -> Response {
    s.calls.push(ApiCall {
        method: method.into(),
        params,
        status: 200,
        error,
        response: response.clone(),
    });
    axum::Json(response).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_slack_refuses_blocks_slack_would_refuse() {
        let button = |confirm_type: &str, text: &str| {
            json!([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}},
                {"type": "actions", "elements": [{"type": "button", "action_id": "a", "value": "v",
                "text": {"type": "plain_text", "text": text},
                "confirm": {"title": {"type": "plain_text", "text": "Sure?"},
                    "text": {"type": confirm_type, "text": "Really."},
                    "confirm": {"type": "plain_text", "text": "Yes"},
                    "deny": {"type": "plain_text", "text": "No"}}}]}])
        };
        assert!(valid_blocks(&button("plain_text", "Hang up")));
        assert!(!valid_blocks(&button("mrkdwn", "Hang up")));
        assert!(!valid_blocks(&button("plain_text", &"x".repeat(76))));
        let long_section =
            json!([{"type": "section", "text": {"type": "mrkdwn", "text": "x".repeat(3001)}}]);
        assert!(!valid_blocks(&long_section));
        let mut long_value = button("plain_text", "ok");
        long_value[1]["elements"][0]["value"] = "v".repeat(2001).into();
        assert!(!valid_blocks(&long_value));
        let mut long_action = button("plain_text", "ok");
        long_action[1]["elements"][0]["action_id"] = "a".repeat(256).into();
        assert!(!valid_blocks(&long_action));
        assert!(!valid_blocks(&json!("not blocks")));
    }
}
