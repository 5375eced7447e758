//! A stand-in for Discord's REST API (v10) on 127.0.0.1:0: it answers with Discord's own JSON
//! shapes (message objects, thread channels, command arrays, 204s, error bodies), records every
//! request for assertions, and can answer a request with a 429 (Discord's headers and body) once,
//! or fail a route for good.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const BOT_USER_ID: &str = "1180000000000000001";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// What the fake answered.
    pub status: u16,
    pub response: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    next_id: u64,
    guild_id: String,
    /// (method, path suffix, retry_after seconds): answered 429 once each.
    rate_limits: Vec<(String, String, f64)>,
    /// (method, path suffix): always answered 500.
    broken: Vec<(String, String)>,
    /// user id -> (username, global_name, nick)
    members: HashMap<String, (String, Option<String>, Option<String>)>,
}

#[derive(Clone)]
pub struct FakeDiscord {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeDiscord {
    pub async fn start(guild_id: &str) -> FakeDiscord {
        let inner = Arc::new(Mutex::new(Inner {
            next_id: 1_200_000_000_000_000_000,
            guild_id: guild_id.to_owned(),
            ..Inner::default()
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeDiscord { base, inner }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Requests with this method whose path ends with `suffix` (paths start `/api/v10`).
    pub fn matching(&self, method: &str, suffix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .collect()
    }

    /// The next `method` request whose path ends with `suffix` is answered 429.
    pub fn rate_limit_once(&self, method: &str, suffix: &str, retry_after: f64) {
        self.inner
            .lock()
            .unwrap()
            .rate_limits
            .push((method.into(), suffix.into(), retry_after));
    }

    /// Every `method` request whose path ends with `suffix` is answered 500.
    pub fn break_route(&self, method: &str, suffix: &str) {
        self.inner
            .lock()
            .unwrap()
            .broken
            .push((method.into(), suffix.into()));
    }

    pub fn add_member(
        &self,
        user_id: &str,
        username: &str,
        global_name: Option<&str>,
        nick: Option<&str>,
    ) {
        self.inner.lock().unwrap().members.insert(
            user_id.into(),
            (
                username.into(),
                global_name.map(Into::into),
                nick.map(Into::into),
            ),
        );
    }

    /// Waits for a recorded request that `pred` accepts.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Recorded) -> bool) -> Recorded {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(r) = self.requests().into_iter().find(|r| pred(r)) {
                return r;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; Discord saw:\n{:#?}",
                    self.requests()
                        .iter()
                        .map(|r| format!("{} {} -> {} {}", r.method, r.path, r.status, r.body))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn timestamp() -> String {
    "2026-11-20T10:00:00.000000+00:00".into()
}

fn bot_user() -> Value {
    json!({
        "id": BOT_USER_ID, "username": "denwa", "global_name": null, "avatar": null,
        "discriminator": "0000", "public_flags": 524288, "flags": 524288, "bot": true,
        "banner": null, "accent_color": null, "avatar_decoration_data": null
    })
}

fn message(id: &str, channel_id: &str, body: &Value, flags: u64) -> Value {
    json!({
        "id": id, "type": 0, "channel_id": channel_id,
        "content": body.get("content").cloned().unwrap_or(json!("")),
        "author": bot_user(), "attachments": [],
        "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "components": body.get("components").cloned().unwrap_or(json!([])),
        "mentions": [], "mention_roles": [], "pinned": false, "mention_everyone": false,
        "tts": false, "timestamp": timestamp(), "edited_timestamp": null, "flags": flags
    })
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let method_name = method.as_str().to_owned();

    let mut state = inner.lock().unwrap();
    let (status, response, extra_headers) = answer(&mut state, &method_name, &path, &body);
    state.requests.push(Recorded {
        method: method_name,
        path,
        headers,
        body,
        status: status.as_u16(),
        response: response.clone(),
        at: Instant::now(),
    });
    drop(state);
    let mut answer = if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        (status, axum::Json(response)).into_response()
    };
    for (name, value) in extra_headers {
        answer.headers_mut().insert(name, value.parse().unwrap());
    }
    answer
}

type Answer = (StatusCode, Value, Vec<(&'static str, String)>);

fn answer(state: &mut Inner, method: &str, path: &str, body: &Value) -> Answer {
    if let Some(i) = state
        .rate_limits
        .iter()
        .position(|(m, suffix, _)| m == method && path.ends_with(suffix.as_str()))
    {
        let (_, _, retry_after) = state.rate_limits.remove(i);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            json!({
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": false
            }),
            vec![
                ("x-ratelimit-limit", "5".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset-after", format!("{retry_after:.3}")),
                ("x-ratelimit-bucket", "f2a3c4d5e6b7a8c9".to_owned()),
                ("x-ratelimit-scope", "user".to_owned()),
                ("retry-after", format!("{}", retry_after.ceil() as u64)),
            ],
        );
    }
    if state
        .broken
        .iter()
        .any(|(m, suffix)| m == method && path.ends_with(suffix.as_str()))
    {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "500: Internal Server Error", "code": 0}),
            vec![],
        );
    }

    state.next_id += 1;
    let new_id = state.next_id.to_string();
    let guild_id = state.guild_id.clone();
    let segments: Vec<&str> = path
        .strip_prefix("/api/v10/")
        .unwrap_or("")
        .split('/')
        .collect();
    let ok = |v: Value| (StatusCode::OK, v, vec![]);
    match (method, segments.as_slice()) {
        ("POST", ["channels", channel, "messages"]) => ok(message(&new_id, channel, body, 0)),
        ("PATCH", ["channels", channel, "messages", id]) => ok(message(id, channel, body, 0)),
        ("POST", ["channels", channel, "messages", id, "threads"]) => {
            let thread = json!({
                "id": id, "type": 11, "guild_id": guild_id, "parent_id": channel,
                "name": body["name"], "owner_id": BOT_USER_ID, "last_message_id": null,
                "rate_limit_per_user": 0, "flags": 0, "message_count": 0, "member_count": 1,
                "total_message_sent": 0,
                "thread_metadata": {
                    "archived": false, "locked": false,
                    "auto_archive_duration": body.get("auto_archive_duration").cloned().unwrap_or(json!(4320)),
                    "archive_timestamp": timestamp(), "create_timestamp": timestamp()
                },
                "member": {"id": id, "user_id": BOT_USER_ID, "join_timestamp": timestamp(), "flags": 1}
            });
            (StatusCode::CREATED, thread, vec![])
        }
        ("PUT", ["applications", app, "guilds", guild, "commands"]) => {
            let commands: Vec<Value> = body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    json!({
                        "id": (1_300_000_000_000_000_000u64 + i as u64).to_string(),
                        "application_id": app, "guild_id": guild, "version": "1300000000000000099",
                        "type": c.get("type").cloned().unwrap_or(json!(1)),
                        "name": c["name"], "description": c["description"],
                        "options": c.get("options").cloned().unwrap_or(json!([])),
                        "default_member_permissions": null, "nsfw": false
                    })
                })
                .collect();
            ok(Value::Array(commands))
        }
        ("POST", ["webhooks", app, _token]) => {
            let mut m = message(&new_id, "0", body, body["flags"].as_u64().unwrap_or(0));
            m["webhook_id"] = json!(app);
            m["application_id"] = json!(app);
            ok(m)
        }
        ("PATCH", ["webhooks", app, _token, "messages", "@original"]) => {
            let mut m = message(&new_id, "0", body, 64);
            m["webhook_id"] = json!(app);
            ok(m)
        }
        ("GET", ["guilds", _guild, "members", user]) => match state.members.get(*user) {
            Some((username, global_name, nick)) => ok(json!({
                "user": {"id": user, "username": username, "global_name": global_name,
                         "avatar": null, "discriminator": "0", "public_flags": 0},
                "nick": nick, "avatar": null, "roles": [], "joined_at": timestamp(),
                "premium_since": null, "deaf": false, "mute": false, "flags": 0,
                "pending": false
            })),
            None => (
                StatusCode::NOT_FOUND,
                json!({"message": "Unknown Member", "code": 10007}),
                vec![],
            ),
        },
        ("GET", ["guilds", guild, "roles"]) => ok(json!([
            {"id": guild, "name": "@everyone", "color": 0, "hoist": false, "position": 0,
             "permissions": "0", "managed": false, "mentionable": false, "flags": 0},
            {"id": "1170000000000000001", "name": "Support", "color": 0, "hoist": false,
             "position": 1, "permissions": "0", "managed": false, "mentionable": true, "flags": 0}
        ])),
        ("GET", ["channels", channel]) => ok(json!({
            "id": channel, "type": 0, "guild_id": guild_id, "name": "general", "position": 0,
            "permission_overwrites": [], "rate_limit_per_user": 0, "nsfw": false, "topic": null,
            "last_message_id": null, "parent_id": null, "flags": 0
        })),
        ("DELETE", _) => (StatusCode::NO_CONTENT, Value::Null, vec![]),
        _ => (
            StatusCode::NOT_FOUND,
            json!({"message": "404: Not Found", "code": 0}),
            vec![],
        ),
    }
}
