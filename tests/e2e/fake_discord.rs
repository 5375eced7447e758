//! A stand-in for Discord's REST API (v10) on 127.0.0.1:0: it answers with Discord's own JSON
//! shapes (message objects, thread channels, command arrays, 204s, error bodies), records every
//! request for assertions, and can answer a request with a 429 (Discord's headers and body) once,
//! fail a route for good, or expire interaction tokens.
//!
//! It is as strict as Discord where Discord is strict, so a test that passes here proves the
//! bridge's requests would pass there: a `DiscordBot (...)` User-Agent and `Authorization: Bot
//! <token>` (webhook routes excepted, as in Discord), JSON bodies, Discord's documented limits
//! (400 with code 50035 "Invalid Form Body" and an `errors` tree), and channels, threads and
//! messages that exist (404 Unknown Channel / Unknown Message otherwise).

use std::collections::{HashMap, HashSet};
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
    /// The `Authorization` header Discord would accept: `Bot <token>`.
    authorization: String,
    /// Channel id -> name: the announcement channel, and every thread opened since.
    channels: HashMap<String, String>,
    /// Message id -> the channel it was posted in.
    messages: HashMap<String, String>,
    /// Messages a thread was opened on (one thread per message, as in Discord).
    threaded: HashSet<String>,
    /// From [`FakeDiscord::expire_tokens`]: every interaction token is past its 15 minutes.
    tokens_expired: bool,
}

#[derive(Clone)]
pub struct FakeDiscord {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeDiscord {
    /// A fake for guild `guild_id` with one text channel, `channel_id`, that accepts the bot
    /// token `bot_token`.
    pub async fn start(guild_id: &str, channel_id: &str, bot_token: &str) -> FakeDiscord {
        let inner = Arc::new(Mutex::new(Inner {
            next_id: 1_200_000_000_000_000_000,
            guild_id: guild_id.to_owned(),
            authorization: format!("Bot {bot_token}"),
            channels: HashMap::from([(channel_id.to_owned(), "calls".to_owned())]),
            ..Inner::default()
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeDiscord { base, inner }
    }

    /// Another text channel of the guild (a second line's).
    pub fn add_channel(&self, id: &str, name: &str) {
        self.inner
            .lock()
            .unwrap()
            .channels
            .insert(id.to_owned(), name.to_owned());
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

    /// From now on every interaction token is expired, as Discord has it 15 minutes after the
    /// interaction: follow-ups and edits on `/webhooks/{app}/{token}` get 401 "Invalid Webhook
    /// Token".
    pub fn expire_tokens(&self) {
        self.inner.lock().unwrap().tokens_expired = true;
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
    let parsed: Result<Value, _> = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&body)
    };
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let method_name = method.as_str().to_owned();

    let mut state = inner.lock().unwrap();
    let (status, response, extra_headers) = match (refuse(&state, &path, &headers), parsed) {
        (Some(refused), _) => refused,
        (None, Err(_)) => (
            StatusCode::BAD_REQUEST,
            json!({"code": 50109, "message": "The request body contains invalid JSON."}),
            vec![],
        ),
        (None, Ok(ref body)) => answer(&mut state, &method_name, &path, body),
    };
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
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

/// What Discord refuses before looking at the request itself: a client that does not name
/// itself as Discord asks, and a missing or wrong bot token. Interaction webhooks are
/// authorised by the token in their path and need no `Authorization`.
fn refuse(state: &Inner, path: &str, headers: &HashMap<String, String>) -> Option<Answer> {
    let agent = headers.get("user-agent").map(String::as_str).unwrap_or("");
    if !agent.starts_with("DiscordBot (") {
        return Some((
            StatusCode::BAD_REQUEST,
            json!({"message": "User-Agent must be of the form \"DiscordBot ($url, $version)\"", "code": 0}),
            vec![],
        ));
    }
    let webhook = path.starts_with("/api/v10/webhooks/");
    if !webhook && headers.get("authorization") != Some(&state.authorization) {
        return Some((
            StatusCode::UNAUTHORIZED,
            json!({"message": "401: Unauthorized", "code": 0}),
            vec![],
        ));
    }
    None
}

/// Discord's 404s for ids it does not know.
fn unknown(what: &str, code: u32) -> Answer {
    (
        StatusCode::NOT_FOUND,
        json!({"message": format!("Unknown {what}"), "code": code}),
        vec![],
    )
}

/// A form error: the dotted path into the body (`embeds.0.title`), Discord's error code and
/// message.
type FormError = (String, &'static str, String);

/// The 400 Discord answers for a body outside its limits: code 50035 with an `errors` tree
/// mirroring the body, each leaf `{"_errors": [{"code", "message"}]}`.
fn invalid_form(errors: Vec<FormError>) -> Answer {
    let mut tree = json!({});
    for (path, code, message) in errors {
        let mut node = &mut tree;
        for key in path.split('.').filter(|k| !k.is_empty()) {
            node = node
                .as_object_mut()
                .unwrap()
                .entry(key)
                .or_insert_with(|| json!({}));
        }
        let leaf = node.as_object_mut().unwrap();
        let list = leaf.entry("_errors").or_insert_with(|| json!([]));
        list.as_array_mut()
            .unwrap()
            .push(json!({"code": code, "message": message}));
    }
    (
        StatusCode::BAD_REQUEST,
        json!({"code": 50035, "message": "Invalid Form Body", "errors": tree}),
        vec![],
    )
}

/// A string's length as Discord counts it, or `None` when it is not a string.
fn chars(v: &Value) -> Option<usize> {
    v.as_str().map(|s| s.chars().count())
}

/// `v` (if present) must be a string of `min..=max` characters.
fn check_len(errors: &mut Vec<FormError>, path: &str, v: Option<&Value>, min: usize, max: usize) {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        if min > 0 {
            errors.push((
                path.into(),
                "BASE_TYPE_REQUIRED",
                "This field is required".into(),
            ));
        }
        return;
    };
    match chars(v) {
        None => errors.push((path.into(), "BASE_TYPE_STRING", "Must be a string.".into())),
        Some(n) if n > max => errors.push((
            path.into(),
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {max} or fewer in length."),
        )),
        Some(n) if n < min => errors.push((
            path.into(),
            "BASE_TYPE_BAD_LENGTH",
            format!("Must be between {min} and {max} in length."),
        )),
        Some(_) => {}
    }
}

/// A message body (create, edit, interaction follow-up) against Discord's limits: content,
/// embeds, components and allowed mentions.
fn message_errors(body: &Value) -> Vec<FormError> {
    let mut errors = Vec::new();
    check_len(&mut errors, "content", body.get("content"), 0, 2000);
    let embeds = body.get("embeds").and_then(Value::as_array);
    if embeds.is_some_and(|e| e.len() > 10) {
        errors.push((
            "embeds".into(),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.".into(),
        ));
    }
    let mut total = 0;
    for (i, embed) in embeds.into_iter().flatten().enumerate() {
        let at = format!("embeds.{i}");
        check_len(
            &mut errors,
            &format!("{at}.title"),
            embed.get("title"),
            0,
            256,
        );
        check_len(
            &mut errors,
            &format!("{at}.description"),
            embed.get("description"),
            0,
            4096,
        );
        check_len(
            &mut errors,
            &format!("{at}.footer.text"),
            embed.pointer("/footer/text"),
            0,
            2048,
        );
        check_len(
            &mut errors,
            &format!("{at}.author.name"),
            embed.pointer("/author/name"),
            0,
            256,
        );
        total += ["title", "description"]
            .iter()
            .filter_map(|k| embed.get(*k).and_then(chars))
            .sum::<usize>();
        total += embed.pointer("/footer/text").and_then(chars).unwrap_or(0);
        total += embed.pointer("/author/name").and_then(chars).unwrap_or(0);
        let fields = embed.get("fields").and_then(Value::as_array);
        if fields.is_some_and(|f| f.len() > 25) {
            errors.push((
                format!("{at}.fields"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.".into(),
            ));
        }
        for (j, field) in fields.into_iter().flatten().enumerate() {
            check_len(
                &mut errors,
                &format!("{at}.fields.{j}.name"),
                field.get("name"),
                1,
                256,
            );
            check_len(
                &mut errors,
                &format!("{at}.fields.{j}.value"),
                field.get("value"),
                1,
                1024,
            );
            total += field.get("name").and_then(chars).unwrap_or(0);
            total += field.get("value").and_then(chars).unwrap_or(0);
        }
    }
    if total > 6000 {
        errors.push((
            "embeds".into(),
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000".into(),
        ));
    }
    let rows = body.get("components").and_then(Value::as_array);
    if rows.is_some_and(|r| r.len() > 5) {
        errors.push((
            "components".into(),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.".into(),
        ));
    }
    for (i, row) in rows.into_iter().flatten().enumerate() {
        let inner = row.get("components").and_then(Value::as_array);
        if row["type"] != 1 || inner.is_none_or(|c| c.is_empty() || c.len() > 5) {
            errors.push((
                format!("components.{i}"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "An action row holds 1 to 5 components.".into(),
            ));
        }
        for (j, c) in inner.into_iter().flatten().enumerate() {
            let at = format!("components.{i}.components.{j}");
            if c["type"] == 2 {
                check_len(&mut errors, &format!("{at}.label"), c.get("label"), 0, 80);
                // Link buttons (style 5) have a url instead of a custom_id.
                if c["style"] != 5 {
                    check_len(
                        &mut errors,
                        &format!("{at}.custom_id"),
                        c.get("custom_id"),
                        1,
                        100,
                    );
                }
            }
        }
    }
    if let Some(mentions) = body.get("allowed_mentions") {
        let parse: Vec<&str> = mentions
            .get("parse")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if parse
            .iter()
            .any(|p| !["users", "roles", "everyone"].contains(p))
        {
            errors.push((
                "allowed_mentions.parse".into(),
                "BASE_TYPE_CHOICES",
                "Value must be one of {'users', 'roles', 'everyone'}.".into(),
            ));
        }
        let users = mentions.get("users").and_then(Value::as_array);
        if users.is_some_and(|u| !u.is_empty()) && parse.contains(&"users") {
            errors.push((
                "allowed_mentions".into(),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                "parse:[\"users\"] and users: [ids] are mutually exclusive.".into(),
            ));
        }
        if users.is_some_and(|u| u.len() > 100) {
            errors.push((
                "allowed_mentions.users".into(),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 100 or fewer in length.".into(),
            ));
        }
    }
    errors
}

/// A command or option name: 1-32 of `-`, `_`, letters and digits, lower case where the
/// letter has a lower case (`^[-_\p{L}\p{N}]{1,32}$`).
fn valid_name(v: &Value) -> bool {
    v.as_str().is_some_and(|n| {
        (1..=32).contains(&n.chars().count())
            && n.chars()
                .all(|c| c == '-' || c == '_' || c.is_alphanumeric())
            && n.to_lowercase() == n
    })
}

/// `PUT .../commands`: each definition against Discord's rules for chat-input commands.
fn command_errors(body: &Value) -> Vec<FormError> {
    let mut errors = Vec::new();
    let Some(commands) = body.as_array() else {
        errors.push((String::new(), "BASE_TYPE_ARRAY", "Must be an array.".into()));
        return errors;
    };
    if commands.len() > 100 {
        errors.push((
            String::new(),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.".into(),
        ));
    }
    for (i, c) in commands.iter().enumerate() {
        if !valid_name(&c["name"]) {
            errors.push((
                format!("{i}.name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid".into(),
            ));
        }
        // Chat-input commands (type 1, the default) need a description.
        let chat_input = c.get("type").is_none_or(|t| t == 1);
        if chat_input {
            check_len(
                &mut errors,
                &format!("{i}.description"),
                c.get("description"),
                1,
                100,
            );
        }
        let options = c.get("options").and_then(Value::as_array);
        if options.is_some_and(|o| o.len() > 25) {
            errors.push((
                format!("{i}.options"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.".into(),
            ));
        }
        let mut optional_seen = false;
        for (j, o) in options.into_iter().flatten().enumerate() {
            let at = format!("{i}.options.{j}");
            if !valid_name(&o["name"]) {
                errors.push((
                    format!("{at}.name"),
                    "APPLICATION_COMMAND_INVALID_NAME",
                    "Command name is invalid".into(),
                ));
            }
            check_len(
                &mut errors,
                &format!("{at}.description"),
                o.get("description"),
                1,
                100,
            );
            let required = o["required"] == true;
            if required && optional_seen {
                errors.push((
                    format!("{i}.options"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options".into(),
                ));
            }
            optional_seen |= !required;
        }
    }
    errors
}

/// `POST .../threads`: the thread's name and archive duration.
fn thread_errors(body: &Value) -> Vec<FormError> {
    let mut errors = Vec::new();
    check_len(&mut errors, "name", body.get("name"), 1, 100);
    if let Some(d) = body.get("auto_archive_duration")
        && !d
            .as_u64()
            .is_some_and(|d| [60, 1440, 4320, 10080].contains(&d))
    {
        errors.push((
            "auto_archive_duration".into(),
            "BASE_TYPE_CHOICES",
            "Value must be one of {60, 1440, 4320, 10080}.".into(),
        ));
    }
    errors
}

/// Whether a new message has anything to show; Discord refuses one that does not.
fn empty_message(body: &Value) -> bool {
    let has = |k: &str| match body.get(k) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => false,
    };
    ![
        "content",
        "embeds",
        "components",
        "sticker_ids",
        "attachments",
        "poll",
    ]
    .iter()
    .any(|k| has(k))
}

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

    // Validation first: Discord answers a bad form before looking up what it names.
    let form = match (method, segments_of(path).as_slice()) {
        ("POST" | "PATCH", ["channels", _, "messages", ..] | ["webhooks", ..])
            if !path.ends_with("/threads") =>
        {
            message_errors(body)
        }
        ("POST", ["channels", _, "messages", _, "threads"]) => thread_errors(body),
        ("PUT", ["applications", _, "guilds", _, "commands"]) => command_errors(body),
        _ => Vec::new(),
    };
    if !form.is_empty() {
        return invalid_form(form);
    }
    let creates_message = method == "POST"
        && matches!(
            segments_of(path).as_slice(),
            ["channels", _, "messages"] | ["webhooks", _, _]
        );
    if creates_message && empty_message(body) {
        return (
            StatusCode::BAD_REQUEST,
            json!({"message": "Cannot send an empty message", "code": 50006}),
            vec![],
        );
    }
    if let ["webhooks", _, _, ..] = segments_of(path).as_slice()
        && state.tokens_expired
    {
        return (
            StatusCode::UNAUTHORIZED,
            json!({"message": "Invalid Webhook Token", "code": 50027}),
            vec![],
        );
    }

    state.next_id += 1;
    let new_id = state.next_id.to_string();
    let guild_id = state.guild_id.clone();
    let segments = segments_of(path);
    let ok = |v: Value| (StatusCode::OK, v, vec![]);
    match (method, segments.as_slice()) {
        ("POST", ["channels", channel, "messages"]) => {
            if !state.channels.contains_key(*channel) {
                return unknown("Channel", 10003);
            }
            state.messages.insert(new_id.clone(), channel.to_string());
            ok(message(&new_id, channel, body, 0))
        }
        ("PATCH", ["channels", channel, "messages", id]) => {
            if !state.channels.contains_key(*channel) {
                return unknown("Channel", 10003);
            }
            if state.messages.get(*id).map(String::as_str) != Some(*channel) {
                return unknown("Message", 10008);
            }
            ok(message(id, channel, body, 0))
        }
        ("POST", ["channels", channel, "messages", id, "threads"]) => {
            if !state.channels.contains_key(*channel) {
                return unknown("Channel", 10003);
            }
            if state.messages.get(*id).map(String::as_str) != Some(*channel) {
                return unknown("Message", 10008);
            }
            if !state.threaded.insert(id.to_string()) {
                return (
                    StatusCode::BAD_REQUEST,
                    json!({"message": "A thread has already been created for this message", "code": 160004}),
                    vec![],
                );
            }
            // A thread's id is its starter message's.
            let name = body["name"].as_str().unwrap_or_default().to_owned();
            state.channels.insert(id.to_string(), name);
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
        ("GET", ["channels", channel]) => match state.channels.get(*channel) {
            Some(name) => ok(json!({
                "id": channel, "type": 0, "guild_id": guild_id, "name": name, "position": 0,
                "permission_overwrites": [], "rate_limit_per_user": 0, "nsfw": false,
                "topic": null, "last_message_id": null, "parent_id": null, "flags": 0
            })),
            None => unknown("Channel", 10003),
        },
        ("DELETE", _) => (StatusCode::NO_CONTENT, Value::Null, vec![]),
        _ => (
            StatusCode::NOT_FOUND,
            json!({"message": "404: Not Found", "code": 0}),
            vec![],
        ),
    }
}

/// `/api/v10/channels/1/messages` -> `["channels", "1", "messages"]`.
fn segments_of(path: &str) -> Vec<&str> {
    path.strip_prefix("/api/v10/")
        .unwrap_or("")
        .split('/')
        .collect()
}
