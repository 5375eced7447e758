//! `spawn_app()`: the real application on a free port, with its own redis-server and a Twilio
//! emulator whose line number points at it. Everything crosses real HTTP with real signatures.

use std::time::{Duration, Instant};

use denwa::config::Settings;
use denwa::startup::Application;
use denwa_twilio_emulator::{CallbackChaos, Emulator, EmulatorConfig, Heard};
use serde_json::Value;

use crate::redis_server::RedisServer;

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "test-auth-token-0123456789";
pub const API_TOKEN: &str = "test-api-token";
pub const LINE: &str = "+15005550006";
pub const CALLER: &str = "+14155550123";
pub const GREETING: &str = "Thank you for calling the test line.";
pub const UNAVAILABLE: &str = "Sorry, the test line is down.";

pub struct TestApp {
    pub base: String,
    pub emulator: Emulator,
    pub redis: RedisServer,
    pub http: reqwest::Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts everything; `extra` are additional `DENWA_*` environment pairs for the settings.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_with_file("", extra).await
}

/// Real seconds per call-second in the emulator: 100x faster than life.
pub const TIME_SCALE: f64 = 0.01;

/// What every test app talks to: a private redis-server and the Twilio emulator running at
/// `time_scale` (see [`TIME_SCALE`]).
pub async fn far_side(time_scale: f64) -> (RedisServer, Emulator) {
    far_side_with(RedisServer::start().await, time_scale).await
}

/// Like [`far_side`], with a Redis the test started its own way (e.g. persistent).
pub async fn far_side_with(redis: RedisServer, time_scale: f64) -> (RedisServer, Emulator) {
    denwa::startup::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig {
        account_sid: ACCOUNT_SID.into(),
        auth_token: AUTH_TOKEN.into(),
        time_scale,
    })
    .await
    .expect("the emulator starts");
    (redis, emulator)
}

/// Makes `number` one of the account's, its calls and their status sent to the denwa at `base`.
pub fn add_number(emulator: &Emulator, number: &str, base: &str) {
    emulator.add_number(
        number,
        &format!("{base}/twilio/voice"),
        Some(&format!("{base}/twilio/call-status")),
    );
}

/// The test configuration file for an app reached at `public_base`.
pub fn config_file(
    public_base: &str,
    redis: &RedisServer,
    emulator: &Emulator,
    extra_file: &str,
) -> String {
    format!(
        r#"
[server]
public_url = "{public_base}"
[redis]
url = "{redis_url}"
[twilio]
account_sid = "{ACCOUNT_SID}"
number = "{LINE}"
api_base = "{api_base}"
[speech]
voice = "Polly.Joanna"
language = "en-US"
[line]
name = "Test line"
greeting = "{GREETING}"
hold_music_url = ""
unavailable_message = "{UNAVAILABLE}"
{extra_file}
"#,
        redis_url = redis.url(),
        api_base = emulator.base_url(),
    )
}

/// The test environment: secrets, then `extra` `DENWA_*` pairs.
pub fn config_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("DENWA_TWILIO_AUTH_TOKEN".into(), AUTH_TOKEN.into()),
        ("DENWA_API_TOKEN".into(), API_TOKEN.into()),
        // The emulator runs 100x faster than life but HTTP does not: a burst posted one request
        // at a time takes more emulated seconds than it would take a person's fingers.
        ("DENWA_SPEECH_LINGER".into(), "20".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// The test settings for an app reached at `public_base`.
fn settings_for(
    public_base: &str,
    redis: &RedisServer,
    emulator: &Emulator,
    extra_file: &str,
    extra: &[(&str, &str)],
) -> Settings {
    let file = config_file(public_base, redis, emulator, extra_file);
    Settings::from_sources(Some(&file), "test config", &config_env(extra))
        .expect("test settings are valid")
}

/// `replicas` instances of the app on one Redis, behind a round-robin proxy at the public URL:
/// every request (webhook or API) goes to the next replica, so no flow can lean on one
/// process's memory.
pub async fn spawn_replicas(replicas: usize, extra_file: &str, extra: &[(&str, &str)]) -> TestApp {
    spawn_replicas_on(far_side(TIME_SCALE).await, replicas, extra_file, extra).await
}

/// Like [`spawn_replicas`], on a far side the test set up (see [`far_side_with`]).
pub async fn spawn_replicas_on(
    far: (RedisServer, Emulator),
    replicas: usize,
    extra_file: &str,
    extra: &[(&str, &str)],
) -> TestApp {
    spawn_behind_proxy(far, replicas, None, extra_file, extra).await
}

/// Rewrites the form parameters of a webhook to `/twilio/...` (its path and query is the first
/// argument), standing for a Twilio that sends other parameters than the emulator; `None`: the
/// request fails (HTTP 500) without reaching the app.
pub type Rewrite = fn(&str, Vec<(String, String)>) -> Option<Vec<(String, String)>>;

/// The app behind a proxy that passes Twilio's webhooks on with their parameters rewritten by
/// `rewrite` (and signed again, as Twilio would have signed them), or fails them.
pub async fn spawn_app_rewriting(
    rewrite: Rewrite,
    extra_file: &str,
    extra: &[(&str, &str)],
) -> TestApp {
    spawn_behind_proxy(
        far_side(TIME_SCALE).await,
        1,
        Some(rewrite),
        extra_file,
        extra,
    )
    .await
}

async fn spawn_behind_proxy(
    (redis, emulator): (RedisServer, Emulator),
    replicas: usize,
    rewrite: Option<Rewrite>,
    extra_file: &str,
    extra: &[(&str, &str)],
) -> TestApp {
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", proxy.local_addr().unwrap());
    let mut backends = Vec::new();
    for _ in 0..replicas {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        backends.push(format!("http://{}", listener.local_addr().unwrap()));
        let settings = settings_for(&base, &redis, &emulator, extra_file, extra);
        let app = Application::with_listener(settings, listener).expect("the app builds");
        tokio::spawn(app.run_until(std::future::pending()));
    }
    tokio::spawn(round_robin(proxy, base.clone(), backends, rewrite));
    add_number(&emulator, LINE, &base);
    TestApp {
        base,
        emulator,
        redis,
        http: reqwest::Client::new(),
    }
}

/// `rewrite`'s parameters for a webhook to `url` (the public URL + `path_and_query`) with
/// `body`, and their signature; `None` if the request is to fail.
fn rewritten(
    rewrite: Rewrite,
    path_and_query: &str,
    url: &str,
    body: &[u8],
) -> Option<(Vec<u8>, String)> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let params = rewrite(path_and_query, params)?;
    let signature = denwa_twilio_emulator::sign(AUTH_TOKEN, url, &params);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    Some((body.into_bytes(), signature))
}

/// A reverse proxy that sends each request to the next backend in turn, as a load balancer
/// without session affinity does; with `rewrite`, Twilio's webhooks are rewritten on the way.
async fn round_robin(
    listener: tokio::net::TcpListener,
    public_base: String,
    backends: Vec<String>,
    rewrite: Option<Rewrite>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let proxy = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let backend = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()].clone();
        let client = client.clone();
        let public_base = public_base.clone();
        async move {
            let (parts, body) = request.into_parts();
            let mut body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let path_and_query = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let url = format!("{backend}{path_and_query}");
            let mut signature = None;
            if let Some(rewrite) = rewrite
                && parts.uri.path().starts_with("/twilio/")
            {
                let public = format!("{public_base}{path_and_query}");
                let Some((new_body, new_signature)) =
                    rewritten(rewrite, path_and_query, &public, &body)
                else {
                    return axum::response::IntoResponse::into_response(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    );
                };
                body = new_body.into();
                signature = Some(new_signature);
            }
            let mut headers = parts.headers.clone();
            headers.remove(axum::http::header::HOST);
            headers.remove(axum::http::header::CONTENT_LENGTH);
            if let Some(signature) = signature {
                headers.insert("x-twilio-signature", signature.parse().unwrap());
            }
            let forwarded = client
                .request(parts.method, url)
                .headers(headers)
                .body(body);
            let answer = forwarded.send().await.unwrap();
            let status = answer.status();
            let headers = answer.headers().clone();
            let bytes = answer.bytes().await.unwrap();
            let mut response = axum::response::Response::new(axum::body::Body::from(bytes));
            *response.status_mut() = status;
            for (name, value) in &headers {
                if name != axum::http::header::CONTENT_LENGTH
                    && name != axum::http::header::TRANSFER_ENCODING
                {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
    });
    axum::serve(listener, proxy).await.unwrap();
}

/// Like [`spawn_app_with`], with `extra_file` appended to the configuration file (for what the
/// environment cannot set, such as `[[line.responders]]`).
pub async fn spawn_app_with_file(extra_file: &str, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_at(TIME_SCALE, extra_file, extra).await
}

/// Like [`spawn_app_with_file`], with the emulator delivering Twilio's callbacks as Twilio may:
/// late, out of order, twice (see [`TestApp::disorder_callbacks`]), as `seed` decides.
pub async fn spawn_app_chaotic(seed: u64, extra_file: &str, extra: &[(&str, &str)]) -> TestApp {
    let app = spawn_app_with_file(extra_file, extra).await;
    app.disorder_callbacks(seed);
    app
}

/// Like [`spawn_app_with`], on a redis-server that keeps its data across `app.redis.restart()`.
pub async fn spawn_app_persistent(extra: &[(&str, &str)]) -> TestApp {
    let far = far_side_with(RedisServer::start_persistent().await, TIME_SCALE).await;
    spawn_app_on(far, "", extra).await
}

/// Like [`spawn_app_with_file`], with the emulator at `time_scale` (a test that speaks tens of
/// thousands of words runs it faster still).
pub async fn spawn_app_at(time_scale: f64, extra_file: &str, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_on(far_side(time_scale).await, extra_file, extra).await
}

/// Like [`spawn_app_with_file`], on a far side the test set up (see [`far_side_with`]).
pub async fn spawn_app_on(
    (redis, emulator): (RedisServer, Emulator),
    extra_file: &str,
    extra: &[(&str, &str)],
) -> TestApp {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let settings = settings_for(&base, &redis, &emulator, extra_file, extra);
    let app = Application::with_listener(settings, listener).expect("the app builds");
    tokio::spawn(app.run_until(std::future::pending()));

    add_number(&emulator, LINE, &base);
    TestApp {
        base,
        emulator,
        redis,
        http: reqwest::Client::new(),
    }
}

impl TestApp {
    /// Makes `number` one of the account's too, pointed at this app (a second line's number).
    pub fn add_number(&self, number: &str) {
        add_number(&self.emulator, number, &self.base);
    }

    /// From now on the emulator delivers every callback (call status, conference events,
    /// announcement ends, recordings, transcriptions) up to 3 call-seconds late, so callbacks
    /// sent close together arrive in any order, and one in three twice; `seed` decides.
    pub fn disorder_callbacks(&self, seed: u64) {
        self.emulator.chaos_callbacks(Some(
            CallbackChaos::seeded(seed)
                .max_delay_secs(3.0)
                .duplicate_chance(0.3),
        ));
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api{}", self.base, path)
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.api(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `GET /readyz`: its status and its JSON.
    pub async fn readyz(&self) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// What `/metrics` shows now.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn say(&self, call_id: &str, text: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.api(&format!("/calls/{call_id}/say")))
            .bearer_auth(API_TOKEN)
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Places a call from `from` to the line and waits until the caller is in the conference.
    /// Returns (the caller leg's CallSid, denwa's call id).
    pub async fn call_in(&self, from: &str) -> (String, String) {
        let sid = self
            .emulator
            .place_call(from, LINE, None)
            .await
            .expect("the emulator places the call");
        let call_id = self.wait_for_call(from, Some("connected")).await;
        (sid, call_id)
    }

    /// Waits until the API lists a call from `from` in `state` (any state: `None`); its id.
    pub async fn wait_for_call(&self, from: &str, state: Option<&str>) -> String {
        self.wait_for(
            &format!("a call from {from} ({})", state.unwrap_or("any state")),
            Duration::from_secs(10),
            || async {
                let (_, calls) = self.get_json("/calls").await;
                calls["calls"]
                    .as_array()?
                    .iter()
                    .find(|c| c["from"] == from && state.is_none_or(|s| c["state"] == s))?["id"]
                    .as_str()
                    .map(str::to_owned)
            },
        )
        .await
    }

    /// The texts of every `<Say>` the call's far end heard in full.
    pub fn heard(&self, call_sid: &str) -> Vec<String> {
        self.emulator
            .transcript(call_sid)
            .into_iter()
            .filter_map(|h| match h {
                Heard::Say {
                    text,
                    complete: true,
                    ..
                } => Some(text),
                _ => None,
            })
            .collect()
    }

    /// `<Say>`s the caller heard only part of: words lost because they were said before the
    /// listener was in the conference. denwa must never produce one.
    pub fn partly_heard(&self, call_sid: &str) -> Vec<String> {
        self.emulator
            .transcript(call_sid)
            .into_iter()
            .filter_map(|h| match h {
                Heard::Say {
                    text,
                    complete: false,
                    ..
                } => Some(text),
                _ => None,
            })
            .collect()
    }

    /// Waits for the voicemail prompt and its beep on the caller's leg `sid`, as a person would
    /// before speaking.
    pub async fn wait_for_the_beep(&self, sid: &str) {
        self.wait_for("the voicemail prompt and its beep", Duration::from_secs(20), || async {
            let heard = self.emulator.transcript(sid);
            let prompt = heard.iter().position(|h| {
                matches!(h, Heard::Say { text, .. } if text.starts_with("Nobody can take your call right now"))
            })?;
            heard[prompt..].iter().any(|h| matches!(h, Heard::Beep)).then_some(())
        })
        .await;
        // A breath after the beep, as a person takes (the emulator runs 100x faster than life).
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    /// Leaves a voicemail saying `words` on the caller's leg `sid`: waits for the beep, speaks,
    /// presses #.
    pub async fn leave_voicemail(&self, sid: &str, words: &str) {
        self.wait_for_the_beep(sid).await;
        self.emulator.speak(sid, words).await;
        self.emulator.press(sid, "#").await;
    }

    /// Polls `probe` until it yields a value, or panics naming `what`.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the caller has heard every text in `expected` (in full), then returns all
    /// it heard after the greeting.
    pub async fn wait_heard(&self, call_sid: &str, expected: &[&str]) -> Vec<String> {
        self.wait_for(
            &format!("the caller to hear {expected:?}"),
            Duration::from_secs(30),
            || async {
                let heard = self.heard(call_sid);
                expected
                    .iter()
                    .all(|e| heard.iter().any(|h| h == e))
                    .then_some(heard)
            },
        )
        .await
    }

    /// Every message of a call as the API reports them, page after page.
    pub async fn messages(&self, call_id: &str) -> Vec<Value> {
        let mut messages = Vec::new();
        let mut query = "?limit=1000".to_owned();
        // 100 pages of 1000: more than any test sends to one call.
        for _ in 0..100 {
            let (status, page) = self
                .get_json(&format!("/calls/{call_id}/messages{query}"))
                .await;
            assert_eq!(status, 200, "{page}");
            messages.extend(page["messages"].as_array().cloned().unwrap_or_default());
            match page["next"].as_str() {
                Some(next) => query = format!("?limit=1000&after={next}"),
                None => return messages,
            }
        }
        panic!("call {call_id} has more than 100 pages of messages");
    }

    /// Queues a message in call `call_id` as the previous version stored it: see
    /// [`store_as_the_previous_version`].
    pub async fn queue_as_the_previous_version(
        &self,
        call_id: &str,
        message_id: &str,
        fields: &[(&str, &str)],
    ) {
        store_as_the_previous_version(&self.redis.url(), call_id, message_id, fields, true).await
    }

    /// The caller hangs up (leg `sid`); waits until call `call_id` has ended.
    pub async fn hang_up(&self, sid: &str, call_id: &str) {
        self.emulator.hangup(sid).await;
        self.wait_for("the call to end", Duration::from_secs(10), || async {
            let (_, call) = self.get_json(&format!("/calls/{call_id}")).await;
            (call["state"] == "ended").then_some(())
        })
        .await;
    }

    /// Waits until every message of the call is `spoken` (a batch is settled by the speaker's
    /// next turn, a moment after the caller heard it); the messages.
    pub async fn wait_all_spoken(&self, call_id: &str) -> Vec<Value> {
        self.wait_for("every message spoken", Duration::from_secs(20), || async {
            let messages = self.messages(call_id).await;
            messages
                .iter()
                .all(|m| m["state"] == "spoken")
                .then_some(messages)
        })
        .await
    }

    /// Whether every speaker leg the emulator saw (the line calling itself) has ended.
    pub fn speaker_legs_ended(&self) -> bool {
        self.emulator
            .calls()
            .iter()
            .filter(|c| c.from == LINE && c.to == LINE)
            .all(|c| c.status == "completed")
    }

    /// Speaker legs the emulator saw: outbound calls from the line to itself.
    pub fn speaker_legs(&self) -> usize {
        self.emulator
            .calls()
            .iter()
            .filter(|c| c.from == LINE && c.to == LINE && c.direction == "outbound-api")
            .count()
    }

    /// A form POST signed like Twilio signs, with `token`.
    pub async fn post_signed(
        &self,
        path: &str,
        params: &[(&str, &str)],
        token: &str,
    ) -> reqwest::Response {
        let url = format!("{}{}", self.base, path);
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let signature = denwa_twilio_emulator::sign(token, &url, &owned);
        self.http
            .post(&url)
            .header("X-Twilio-Signature", signature)
            .form(params)
            .send()
            .await
            .unwrap()
    }
}

/// Stores a message in call `call_id` as the previous version did (a hash of its own,
/// `<prefix>:call:{<id>}:msg:<message id>`, with ENQUEUE's fields), as if a replica of that
/// version had accepted it before or during an upgrade, through the Redis at `url` (a cluster's:
/// the node owning the call's slot). `fields` are set besides `id`, `state` (queued),
/// `attempts`, `created_at` and `seq`: the text, and `origin` as JSON (that version) or `source`
/// (the one before). `queued`: in the call's queue too, else only in its order (a message that
/// version spoke or failed: `fields` say its state).
pub async fn store_as_the_previous_version(
    url: &str,
    call_id: &str,
    message_id: &str,
    fields: &[(&str, &str)],
    queued: bool,
) {
    let call = format!("denwa:call:{{{call_id}}}");
    let mut redis = redis_at(url).await;
    let seq: i64 = redis::cmd("LLEN")
        .arg(format!("{call}:order"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let seq = (seq + 1).to_string();
    let mut stored = vec![
        ("id", message_id),
        ("state", "queued"),
        ("attempts", "0"),
        ("created_at", "1"),
        ("seq", seq.as_str()),
    ];
    stored.extend_from_slice(fields);
    let mut pipe = redis::pipe();
    pipe.atomic()
        .hset_multiple(format!("{call}:msg:{message_id}"), &stored)
        .ignore()
        .rpush(format!("{call}:order"), message_id)
        .ignore();
    if queued {
        pipe.rpush(format!("{call}:queue"), message_id).ignore();
    }
    let () = pipe.query_async(&mut redis).await.unwrap();
}

/// A connection to the Redis at `url`, for a test to look at or write what the app stores.
pub async fn redis_at(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}
