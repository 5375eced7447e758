//! The Discord bridge end to end: real interactions signed with a test Ed25519 key, a fake
//! Discord REST server, the Twilio emulator, a real redis-server.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use denwa_twilio_emulator::PhoneBehaviour;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

use crate::fake_discord::FakeDiscord;
use crate::helpers::*;
use crate::operations::value;

const APP: &str = "1100000000000000001";
const GUILD: &str = "1100000000000000002";
const CHANNEL: &str = "1100000000000000003";
const BOT_TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gx1y2z.test-bot-token";
const USER: &str = "1150000000000000001";
const MENTIONED: &str = "1150000000000000002";
const ROLE_OK: &str = "1170000000000000001";
const ROLE_OTHER: &str = "1170000000000000002";
/// Alice, the responder whose Discord user is `USER`.
const ALICE_PHONE: &str = "+14155550101";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub(crate) struct Discord {
    pub(crate) app: TestApp,
    fake: FakeDiscord,
}

async fn spawn_discord(extra: &[(&str, &str)]) -> Discord {
    spawn_discord_with_file("", extra).await
}

/// Like [`spawn_discord`], with `extra_file` appended to the configuration file.
async fn spawn_discord_with_file(extra_file: &str, extra: &[(&str, &str)]) -> Discord {
    spawn_discord_on(far_side(TIME_SCALE).await, extra_file, extra).await
}

/// Like [`spawn_discord_with_file`], on a far side the test set up (see [`far_side_with`]).
pub(crate) async fn spawn_discord_on(
    far: (
        crate::redis_server::RedisServer,
        denwa_twilio_emulator::Emulator,
    ),
    extra_file: &str,
    extra: &[(&str, &str)],
) -> Discord {
    let fake = FakeDiscord::start(GUILD, CHANNEL, BOT_TOKEN).await;
    let public_key = hex(&key().verifying_key().to_bytes());
    let mut env = vec![
        ("DENWA_DISCORD_APPLICATION_ID", APP),
        ("DENWA_DISCORD_GUILD_ID", GUILD),
        ("DENWA_DISCORD_CHANNEL_ID", CHANNEL),
        ("DENWA_DISCORD_BOT_TOKEN", BOT_TOKEN),
        ("DENWA_DISCORD_PUBLIC_KEY", public_key.as_str()),
        ("DENWA_DISCORD_API_BASE", fake.base.as_str()),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app_on(far, extra_file, &env).await;
    Discord { app, fake }
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// An interaction as Discord sends it, from member `USER` with `roles`, in `channel_id`.
fn interaction(kind: u8, data: Value, channel_id: &str, roles: &[&str]) -> Value {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    json!({
        "id": (1_400_000_000_000_000_000u64 + n).to_string(),
        "application_id": APP,
        "type": kind,
        // Real tokens are long base64-ish strings; a colon here checks the receipt's reference
        // survives the origin's `bridge:reference` form.
        "token": format!("aW50ZXJhY3Rpb246{n}:dGVzdA-token"),
        "version": 1,
        "guild_id": GUILD,
        "channel_id": channel_id,
        "channel": {"id": channel_id, "type": 11, "guild_id": GUILD, "parent_id": CHANNEL},
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": "2248473465835073",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD},
        "context": 0,
        "member": {
            "user": {"id": USER, "username": "kenji", "global_name": "Kenji",
                     "discriminator": "0", "avatar": null, "public_flags": 0},
            "roles": roles, "nick": null, "avatar": null, "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": false, "mute": false, "flags": 0, "pending": false,
            "permissions": "2248473465835073"
        },
        "data": data
    })
}

fn command(name: &str, options: Value) -> Value {
    json!({"id": "1300000000000000000", "name": name, "type": 1, "guild_id": GUILD, "options": options})
}

pub(crate) fn say(text: &str, call: Option<&str>, channel_id: &str) -> Value {
    let mut options = vec![json!({"name": "text", "type": 3, "value": text})];
    if let Some(call) = call {
        options.push(json!({"name": "call", "type": 3, "value": call}));
    }
    interaction(2, command("say", Value::Array(options)), channel_id, &[])
}

fn dial(number: &str, roles: &[&str]) -> Value {
    interaction(
        2,
        command(
            "dial",
            json!([{"name": "number", "type": 3, "value": number}]),
        ),
        CHANNEL,
        roles,
    )
}

/// A press of the Join by phone button on call `call_id`'s announcement.
fn join_button(call_id: &str) -> Value {
    interaction(
        3,
        json!({"custom_id": format!("join:{call_id}"), "component_type": 2}),
        CHANNEL,
        &[],
    )
}

impl Discord {
    /// Every request the bridge made was one Discord takes: the fake is as strict as Discord
    /// (limits, ids, headers), so a 4xx here is a request Discord would refuse too.
    fn assert_discord_took_everything(&self) {
        let refused: Vec<String> = self
            .fake
            .requests()
            .into_iter()
            .filter(|r| (400..500).contains(&r.status) && r.status != 429)
            .map(|r| format!("{} {} -> {} {}", r.method, r.path, r.status, r.response))
            .collect();
        assert!(refused.is_empty(), "Discord refused: {refused:#?}");
    }

    /// The legs the line placed to `phone`.
    fn legs_to(&self, phone: &str) -> Vec<denwa_twilio_emulator::CallSnapshot> {
        self.app
            .emulator
            .calls()
            .into_iter()
            .filter(|c| c.to == phone && c.from == LINE)
            .collect()
    }

    /// Posts `body` signed with the test key, as Discord would.
    pub(crate) async fn interact(&self, body: &Value) -> (u16, Value) {
        let raw = serde_json::to_vec(body).unwrap();
        let timestamp = now().to_string();
        let signature = hex(&key()
            .sign(&[timestamp.as_bytes(), &raw].concat())
            .to_bytes());
        self.post_raw(&raw, Some(&signature), Some(&timestamp))
            .await
    }

    async fn post_raw(
        &self,
        raw: &[u8],
        signature: Option<&str>,
        timestamp: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .app
            .http
            .post(format!("{}/discord/interactions", self.app.base))
            .header("content-type", "application/json")
            .body(raw.to_vec());
        if let Some(s) = signature {
            request = request.header("X-Signature-Ed25519", s);
        }
        if let Some(t) = timestamp {
            request = request.header("X-Signature-Timestamp", t);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The announcement of the call whose Hang up button names `call_id`; returns its id.
    pub(crate) async fn announcement(&self, call_id: &str) -> (String, Value) {
        let posted = self
            .fake
            .wait_for("the call's announcement", |r| {
                r.method == "POST"
                    && r.path == format!("/api/v10/channels/{CHANNEL}/messages")
                    && r.status == 200
                    && r.body.to_string().contains(&format!("hangup:{call_id}"))
            })
            .await;
        let id = posted.response["id"].as_str().unwrap().to_owned();
        self.fake
            .wait_for("the call's thread", |r| {
                r.method == "POST"
                    && r.path == format!("/api/v10/channels/{CHANNEL}/messages/{id}/threads")
            })
            .await;
        (id, posted.body)
    }

    /// Waits until the embed of message `id` shows `state` (so the thread link is stored).
    pub(crate) async fn embed_state(&self, id: &str, state: &str) -> Value {
        self.fake
            .wait_for(&format!("the embed to show {state}"), |r| {
                r.method == "PATCH"
                    && r.path == format!("/api/v10/channels/{CHANNEL}/messages/{id}")
                    && r.body["embeds"][0]["fields"].as_array().is_some_and(|f| {
                        f.iter()
                            .any(|f| f["name"] == "State" && f["value"] == state)
                    })
            })
            .await
            .body
    }
}

fn content(reply: &Value) -> String {
    reply["data"]["content"].as_str().unwrap_or("").to_owned()
}

fn assert_ephemeral(reply: &Value) {
    assert_eq!(reply["type"], 4, "{reply}");
    assert_eq!(reply["data"]["flags"], 64, "{reply}");
}

#[tokio::test]
async fn a_call_gets_an_embed_and_a_thread_and_say_there_is_heard_and_receipted() {
    let d = spawn_discord(&[]).await;
    d.fake
        .add_member(MENTIONED, "nelly99", Some("Nelly G"), Some("Nelly"));
    let (sid_a, call_a) = d.app.call_in("+14155550001").await;
    let (sid_b, call_b) = d.app.call_in("+14155550002").await;

    let (thread_a, embed) = d.announcement(&call_a).await;
    let text = embed.to_string();
    assert!(
        !text.contains("4155550001") && !text.contains("555-0001"),
        "no number in the embed: {text}"
    );
    assert!(text.contains("a caller"), "{text}");
    assert_eq!(
        embed["embeds"][0]["fields"][1]["value"], "Test line",
        "{text}"
    );
    let threads = d.fake.matching("POST", "/threads");
    assert_eq!(threads.len(), 2);
    for t in &threads {
        let name = t.body["name"].as_str().unwrap();
        assert!((1..=100).contains(&name.chars().count()), "{name}");
        assert!(
            !name.contains("415555") && !name.contains("555-000"),
            "no number in the thread name: {name}"
        );
        assert!(name.starts_with("Call from a caller"), "{name}");
        assert_eq!(t.headers["authorization"], format!("Bot {BOT_TOKEN}"));
    }
    d.embed_state(&thread_a, "connected").await;
    d.announcement(&call_b).await;

    // In call A's thread: A hears it, cleaned of its markup; B hears nothing.
    let (status, reply) = d
        .interact(&say(
            &format!(
                "**Hello** <@{MENTIONED}>, we are __here__ 🎉 see [the docs](https://example.com/x)"
            ),
            None,
            &thread_a,
        ))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_ephemeral(&reply);
    let spoken = "Hello Nelly, we are here see the docs";
    assert_eq!(content(&reply), format!("Queued: {spoken}"));
    d.app.wait_heard(&sid_a, &[spoken]).await;
    let messages = d.app.messages(&call_a).await;
    assert_eq!(messages.len(), 1);
    assert!(d.app.messages(&call_b).await.is_empty());
    assert!(d.app.heard(&sid_b).iter().all(|h| h != spoken));

    // The receipt: an ephemeral follow-up on the interaction's webhook.
    let receipt = d
        .fake
        .wait_for("the receipt", |r| {
            r.method == "POST" && r.path.starts_with(&format!("/api/v10/webhooks/{APP}/"))
        })
        .await;
    assert_eq!(receipt.body["content"], "Spoken ✓");
    assert_eq!(receipt.body["flags"], 64);
    assert!(receipt.path.ends_with(":dGVzdA-token"), "{}", receipt.path);

    // A message with nothing to hear is refused and nothing is queued.
    let (_, reply) = d
        .interact(&say("🎉 <:blob:123> ||  ||", None, &thread_a))
        .await;
    assert_ephemeral(&reply);
    assert!(
        content(&reply).contains("nothing the caller could hear"),
        "{reply}"
    );
    assert_eq!(d.app.messages(&call_a).await.len(), 1);

    // Outside a thread, with two calls: the `call` option is needed.
    let (_, reply) = d.interact(&say("Hi", None, CHANNEL)).await;
    assert!(content(&reply).contains("Several calls"), "{reply}");
    let (_, reply) = d.interact(&say("For B.", Some(&call_b), CHANNEL)).await;
    assert_eq!(content(&reply), "Queued: For B.");
    d.app.wait_heard(&sid_b, &["For B."]).await;
    d.assert_discord_took_everything();
}

#[tokio::test]
async fn a_say_beyond_the_speech_limits_is_refused_to_the_user() {
    let d = spawn_discord(&[("DENWA_SPEECH_MAX_PER_MINUTE", "1")]).await;
    let (sid, call_id) = d.app.call_in(CALLER).await;
    let (thread, _) = d.announcement(&call_id).await;
    d.embed_state(&thread, "connected").await;
    let (_, reply) = d.interact(&say("First.", None, &thread)).await;
    assert_eq!(content(&reply), "Queued: First.");
    d.app.wait_heard(&sid, &["First."]).await;

    let (status, reply) = d.interact(&say("Second.", None, &thread)).await;
    assert_eq!(status, 200, "{reply}");
    assert_ephemeral(&reply);
    let text = content(&reply);
    assert!(
        text.starts_with("This call takes at most 1 message a minute; try again in "),
        "{reply}"
    );
    assert_eq!(d.app.messages(&call_id).await.len(), 1);
    d.assert_discord_took_everything();
}

#[tokio::test]
async fn a_receipt_after_the_interaction_token_expired_is_posted_in_the_thread_for_the_user() {
    let d = spawn_discord(&[]).await;
    let (sid, call_id) = d.app.call_in(CALLER).await;
    let (thread, _) = d.announcement(&call_id).await;
    d.embed_state(&thread, "connected").await;
    // As if the message waited in the queue past the token's 15 minutes.
    d.fake.expire_tokens();

    let (_, reply) = d.interact(&say("Still there?", None, &thread)).await;
    assert_eq!(content(&reply), "Queued: Still there?");
    d.app.wait_heard(&sid, &["Still there?"]).await;

    // The follow-up is refused as Discord refuses an expired token...
    let followup = d
        .fake
        .wait_for("the follow-up to be tried", |r| {
            r.method == "POST" && r.path.starts_with(&format!("/api/v10/webhooks/{APP}/"))
        })
        .await;
    assert_eq!(followup.status, 401);
    assert_eq!(followup.response["code"], 50027);
    // ...so the receipt goes to the call's thread, pinging only the user who said it.
    let receipt = d
        .fake
        .wait_for("the receipt in the thread", |r| {
            r.method == "POST"
                && r.path == format!("/api/v10/channels/{thread}/messages")
                && r.body["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("Spoken ✓"))
        })
        .await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.response);
    assert_eq!(receipt.body["content"], format!("<@{USER}> Spoken ✓"));
    assert_eq!(receipt.body["allowed_mentions"]["users"], json!([USER]));
    assert_eq!(receipt.body["allowed_mentions"]["parse"], json!([]));
    // The stored reference stays private: the API shows where a message came from, no more.
    let messages = d.app.messages(&call_id).await;
    assert!(
        !json!(messages).to_string().contains("token"),
        "{messages:?}"
    );
}

#[tokio::test]
async fn the_fake_discord_refuses_what_discord_refuses() {
    // The other tests trust the fake to refuse what Discord would: check that it does.
    denwa::startup::install_crypto_provider();
    let fake = FakeDiscord::start(GUILD, CHANNEL, BOT_TOKEN).await;
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method,
                path: String,
                body: Option<String>,
                auth: Option<&str>,
                agent: Option<&str>| {
        let mut request = http.request(method, format!("{}/api/v10{path}", fake.base));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(agent) = agent {
            request = request.header("user-agent", agent);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let bot = format!("Bot {BOT_TOKEN}");
    let ua = "DiscordBot (https://example.org, 1.0)";
    let messages = format!("/channels/{CHANNEL}/messages");
    let post = |path: &str, body: Value| {
        send(
            reqwest::Method::POST,
            path.to_owned(),
            Some(body.to_string()),
            Some(&bot),
            Some(ua),
        )
    };

    let (status, ok) = post(&messages, json!({"content": "hi"})).await;
    assert_eq!(status, 200, "{ok}");
    let message_id = ok["id"].as_str().unwrap().to_owned();

    let hi = Some(json!({"content": "hi"}).to_string());
    let (status, e) = send(
        reqwest::Method::POST,
        messages.clone(),
        hi.clone(),
        None,
        Some(ua),
    )
    .await;
    assert_eq!(
        (status, e),
        (401, json!({"message": "401: Unauthorized", "code": 0}))
    );
    let (status, _) = send(
        reqwest::Method::POST,
        messages.clone(),
        hi.clone(),
        Some("Bot nope"),
        Some(ua),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = send(
        reqwest::Method::POST,
        messages.clone(),
        hi.clone(),
        Some(&bot),
        Some("reqwest"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, e) = send(
        reqwest::Method::POST,
        messages.clone(),
        Some("{nope".into()),
        Some(&bot),
        Some(ua),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        e,
        json!({"code": 50109, "message": "The request body contains invalid JSON."})
    );

    let form = |e: &Value| {
        assert_eq!(e["code"], 50035, "{e}");
        assert_eq!(e["message"], "Invalid Form Body", "{e}");
        e["errors"].clone()
    };
    let (status, e) = post(&messages, json!({"content": "x".repeat(2001)})).await;
    assert_eq!(status, 400);
    assert_eq!(
        form(&e)["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    let field = |name: &str, value: &str| json!({"name": name, "value": value});
    for (embed, at) in [
        (json!({"title": "t".repeat(257)}), "/0/title"),
        (json!({"description": "d".repeat(4097)}), "/0/description"),
        (json!({"fields": vec![field("n", "v"); 26]}), "/0/fields"),
        (json!({"fields": [field("", "v")]}), "/0/fields/0/name"),
        (json!({"fields": [field("n", "")]}), "/0/fields/0/value"),
        (
            json!({"fields": [field("n", &"v".repeat(1025))]}),
            "/0/fields/0/value",
        ),
    ] {
        let (status, e) = post(&messages, json!({"embeds": [embed]})).await;
        assert_eq!(status, 400, "{e}");
        assert!(form(&e)["embeds"].pointer(at).is_some(), "{at}: {e}");
    }
    let button = |custom_id: &str, label: &str| {
        json!({"components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "custom_id": custom_id, "label": label}]}]})
    };
    for body in [
        button("", "ok"),
        button(&"c".repeat(101), "ok"),
        button("ok", &"l".repeat(81)),
    ] {
        let (status, e) = post(&messages, body).await;
        assert_eq!(status, 400, "{e}");
        form(&e);
    }
    let (status, e) = post(
        &messages,
        json!({"content": "<@1>", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = post(&messages, json!({})).await;
    assert_eq!((status, e["code"].clone()), (400, json!(50006)));

    // Threads: a valid name and archive duration, on a message that exists.
    let threads = format!("{messages}/{message_id}/threads");
    for body in [
        json!({"name": ""}),
        json!({"name": "n".repeat(101)}),
        json!({"name": "ok", "auto_archive_duration": 120}),
    ] {
        let (status, e) = post(&threads, body).await;
        assert_eq!(status, 400, "{e}");
        form(&e);
    }
    let (status, e) = post(&format!("{messages}/1/threads"), json!({"name": "ok"})).await;
    assert_eq!((status, e["code"].clone()), (404, json!(10008)));
    let (status, _) = post(
        &threads,
        json!({"name": "ok", "auto_archive_duration": 1440}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = post(
        &format!("/channels/{message_id}/messages"),
        json!({"content": "in the thread"}),
    )
    .await;
    assert_eq!(status, 200);

    // Channels that were never created.
    let (status, e) = post(
        "/channels/1199999999999999999/messages",
        json!({"content": "hi"}),
    )
    .await;
    assert_eq!(
        (status, e),
        (404, json!({"message": "Unknown Channel", "code": 10003}))
    );

    // Command definitions.
    let commands = format!("/applications/{APP}/guilds/{GUILD}/commands");
    let put = |body: Value| {
        send(
            reqwest::Method::PUT,
            commands.clone(),
            Some(body.to_string()),
            Some(&bot),
            Some(ua),
        )
    };
    let option = |name: &str, required: bool| json!({"type": 3, "name": name, "description": "d", "required": required});
    for body in [
        json!([{"name": "Say", "description": "d"}]),
        json!([{"name": "has space", "description": "d"}]),
        json!([{"name": "x".repeat(33), "description": "d"}]),
        json!([{"name": "say", "description": ""}]),
        json!([{"name": "say", "description": "d".repeat(101)}]),
        json!([{"name": "say", "description": "d", "options": [option("Text", true)]}]),
        json!([{"name": "say", "description": "d", "options": [option("a", false), option("b", true)]}]),
    ] {
        let (status, e) = put(body.clone()).await;
        assert_eq!(status, 400, "{body}: {e}");
        form(&e);
    }
    let (status, e) = put(json!([{"name": "say", "description": "d", "options": [option("a", true), option("b", false)]}])).await;
    assert_eq!(status, 200, "{e}");

    // Interaction tokens: no bot token needed; refused once expired.
    let hook = format!("/webhooks/{APP}/tok");
    let (status, _) = send(
        reqwest::Method::POST,
        hook.clone(),
        hi.clone(),
        None,
        Some(ua),
    )
    .await;
    assert_eq!(status, 200);
    fake.expire_tokens();
    let (status, e) = send(reqwest::Method::POST, hook, hi, None, Some(ua)).await;
    assert_eq!(
        (status, e),
        (
            401,
            json!({"message": "Invalid Webhook Token", "code": 50027})
        )
    );
}

#[tokio::test]
async fn autocomplete_lists_the_active_calls_and_calls_lists_them_too() {
    let d = spawn_discord(&[]).await;
    let (_, call_a) = d.app.call_in("+14155550001").await;
    let (_, call_b) = d.app.call_in("+14155550002").await;
    let data = json!({
        "id": "1300000000000000000", "name": "say", "type": 1,
        "options": [
            {"name": "text", "type": 3, "value": "hello"},
            {"name": "call", "type": 3, "value": "", "focused": true}
        ]
    });
    let (status, reply) = d.interact(&interaction(4, data, CHANNEL, &[])).await;
    assert_eq!(status, 200);
    assert_eq!(reply["type"], 8, "{reply}");
    let choices = reply["data"]["choices"].as_array().unwrap();
    let mut values: Vec<&str> = choices
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    values.sort();
    let mut expected = vec![call_a.as_str(), call_b.as_str()];
    expected.sort();
    assert_eq!(values, expected);
    for c in choices {
        let name = c["name"].as_str().unwrap();
        assert!(!name.contains("415555"), "{name}");
        assert!(name.chars().count() <= 100);
    }

    let (_, reply) = d
        .interact(&interaction(2, command("calls", json!([])), CHANNEL, &[]))
        .await;
    assert_ephemeral(&reply);
    let listed = content(&reply);
    assert!(
        listed.contains(&call_a) && listed.contains(&call_b),
        "{listed}"
    );
    assert!(!listed.contains("415555"), "{listed}");
}

#[tokio::test]
async fn forged_unsigned_stale_and_tampered_interactions_get_401_and_change_nothing() {
    let d = spawn_discord(&[]).await;
    let (_, call_id) = d.app.call_in(CALLER).await;
    let body = say("Forged words.", Some(&call_id), CHANNEL);
    let raw = serde_json::to_vec(&body).unwrap();
    let ts = now().to_string();

    let forger = SigningKey::from_bytes(&[9; 32]);
    let forged = hex(&forger.sign(&[ts.as_bytes(), &raw].concat()).to_bytes());
    assert_eq!(d.post_raw(&raw, Some(&forged), Some(&ts)).await.0, 401);

    assert_eq!(d.post_raw(&raw, None, None).await.0, 401);
    assert_eq!(d.post_raw(&raw, None, Some(&ts)).await.0, 401);

    let stale = (now() - 600).to_string();
    let signed_stale = hex(&key().sign(&[stale.as_bytes(), &raw].concat()).to_bytes());
    assert_eq!(
        d.post_raw(&raw, Some(&signed_stale), Some(&stale)).await.0,
        401
    );

    let future = (now() + 3600).to_string();
    let signed_future = hex(&key().sign(&[future.as_bytes(), &raw].concat()).to_bytes());
    assert_eq!(
        d.post_raw(&raw, Some(&signed_future), Some(&future))
            .await
            .0,
        401
    );

    let good = hex(&key().sign(&[ts.as_bytes(), &raw].concat()).to_bytes());
    let mut tampered = raw.clone();
    let at = tampered.windows(6).position(|w| w == b"Forged").unwrap();
    tampered[at] = b'f';
    assert_eq!(d.post_raw(&tampered, Some(&good), Some(&ts)).await.0, 401);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        d.app.messages(&call_id).await.is_empty(),
        "nothing was queued"
    );
    assert!(d.fake.matching("POST", "/webhooks").is_empty());

    // Discord's endpoint check: a signed PING is answered PONG.
    let (status, pong) = d
        .interact(&json!({"id": "1", "application_id": APP, "type": 1, "token": "t", "version": 1}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(pong, json!({"type": 1}));

    // The same signed request, replayed, runs once.
    let (_, first) = d.post_raw(&raw, Some(&good), Some(&ts)).await;
    assert_eq!(content(&first), "Queued: Forged words.");
    let (_, again) = d.post_raw(&raw, Some(&good), Some(&ts)).await;
    assert!(!content(&again).starts_with("Queued"), "{again}");
    assert_eq!(d.app.messages(&call_id).await.len(), 1);
}

#[tokio::test]
async fn members_without_an_allowed_role_are_refused_and_nothing_happens() {
    let d = spawn_discord(&[("DENWA_DISCORD_ALLOWED_ROLES", ROLE_OK)]).await;
    let (sid, call_id) = d.app.call_in(CALLER).await;

    let mut body = say("Let me in.", Some(&call_id), CHANNEL);
    body["member"]["roles"] = json!([ROLE_OTHER]);
    let (status, reply) = d.interact(&body).await;
    assert_eq!(status, 200);
    assert_ephemeral(&reply);
    assert!(content(&reply).contains("not allowed"), "{reply}");

    let hangup = interaction(
        2,
        command(
            "hangup",
            json!([{"name": "call", "type": 3, "value": call_id}]),
        ),
        CHANNEL,
        &[ROLE_OTHER],
    );
    let (_, reply) = d.interact(&hangup).await;
    assert!(content(&reply).contains("not allowed"), "{reply}");

    let (_, reply) = d.interact(&dial("+14155550188", &[ROLE_OTHER])).await;
    assert_ephemeral(&reply);
    assert!(content(&reply).contains("not allowed"), "{reply}");
    let mut press = join_button(&call_id);
    press["member"]["roles"] = json!([ROLE_OTHER]);
    let (_, reply) = d.interact(&press).await;
    assert!(content(&reply).contains("not allowed"), "{reply}");

    let complete = json!({
        "id": "1300000000000000000", "name": "say", "type": 1,
        "options": [{"name": "call", "type": 3, "value": "", "focused": true}]
    });
    let (_, reply) = d
        .interact(&interaction(4, complete, CHANNEL, &[ROLE_OTHER]))
        .await;
    assert_eq!(reply["data"]["choices"], json!([]), "{reply}");

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(d.app.messages(&call_id).await.is_empty());
    assert!(d.legs_to("+14155550188").is_empty(), "nothing was dialled");
    let (_, call) = d.app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "connected");

    let mut body = say("Hello from support.", Some(&call_id), CHANNEL);
    body["member"]["roles"] = json!([ROLE_OTHER, ROLE_OK]);
    let (_, reply) = d.interact(&body).await;
    assert_eq!(content(&reply), "Queued: Hello from support.");
    d.app.wait_heard(&sid, &["Hello from support."]).await;
}

#[tokio::test]
async fn hangup_in_the_thread_and_the_button_end_calls() {
    let d = spawn_discord(&[]).await;
    let (sid_a, call_a) = d.app.call_in("+14155550001").await;
    let (thread_a, _) = d.announcement(&call_a).await;
    d.embed_state(&thread_a, "connected").await;

    let (_, reply) = d
        .interact(&interaction(
            2,
            command("hangup", json!([])),
            &thread_a,
            &[],
        ))
        .await;
    assert_ephemeral(&reply);
    assert!(content(&reply).starts_with("Hung up"), "{reply}");
    d.app
        .wait_for(
            "the caller's leg to complete",
            Duration::from_secs(10),
            || async {
                d.app
                    .emulator
                    .calls()
                    .iter()
                    .any(|c| c.sid == sid_a && c.status == "completed")
                    .then_some(())
            },
        )
        .await;
    let ended = d.embed_state(&thread_a, "ended").await;
    assert_eq!(ended["components"], json!([]), "the button goes: {ended}");
    d.fake
        .wait_for("the end posted in the thread", |r| {
            r.method == "POST"
                && r.path == format!("/api/v10/channels/{thread_a}/messages")
                && r.body["content"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("The call ended"))
        })
        .await;

    // The Hang up button on another call's announcement.
    let (sid_b, call_b) = d.app.call_in("+14155550002").await;
    d.announcement(&call_b).await;
    let press = interaction(
        3,
        json!({"custom_id": format!("hangup:{call_b}"), "component_type": 2}),
        CHANNEL,
        &[],
    );
    let (_, reply) = d.interact(&press).await;
    assert!(content(&reply).starts_with("Hung up"), "{reply}");
    d.app
        .wait_for(
            "the second caller's leg to complete",
            Duration::from_secs(10),
            || async {
                d.app
                    .emulator
                    .calls()
                    .iter()
                    .any(|c| c.sid == sid_b && c.status == "completed")
                    .then_some(())
            },
        )
        .await;
    // A call that has ended refuses politely.
    let (_, reply) = d.interact(&say("Too late.", Some(&call_b), CHANNEL)).await;
    assert_eq!(content(&reply), "The call has already ended.");
    d.assert_discord_took_everything();
}

#[tokio::test]
async fn a_rate_limited_announcement_is_retried_and_lands() {
    let d = spawn_discord(&[]).await;
    let path = format!("/channels/{CHANNEL}/messages");
    d.fake.rate_limit_once("POST", &path, 0.4);
    let (_, call_id) = d.app.call_in(CALLER).await;
    d.announcement(&call_id).await;
    let posts = d.fake.matching("POST", &path);
    assert_eq!(posts.len(), 2, "{posts:#?}");
    assert_eq!(posts[0].status, 429);
    assert_eq!(posts[1].status, 200);
    let waited = posts[1].at - posts[0].at;
    assert!(
        waited >= Duration::from_millis(380),
        "waited only {waited:?}"
    );

    let r = d
        .app
        .http
        .get(format!("{}/readyz", d.app.base))
        .send()
        .await
        .unwrap();
    let ready: Value = r.json().await.unwrap();
    assert_eq!(
        ready["checks"]["bridges"]["discord"]["healthy"], true,
        "{ready}"
    );
    assert_eq!(
        ready["checks"]["bridges"]["discord"]["unannounced_calls"], 0,
        "{ready}"
    );
}

#[tokio::test]
async fn an_announcement_that_cannot_be_posted_shows_in_readyz_and_metrics() {
    let d = spawn_discord(&[]).await;
    d.fake
        .break_route("POST", &format!("/channels/{CHANNEL}/messages"));
    d.app.call_in(CALLER).await;
    let status = d
        .app
        .wait_for(
            "the bridge to report the failure",
            Duration::from_secs(20),
            || async {
                let r = d
                    .app
                    .http
                    .get(format!("{}/readyz", d.app.base))
                    .send()
                    .await
                    .ok()?;
                let ready: Value = r.json().await.ok()?;
                let discord = ready["checks"]["bridges"]["discord"].clone();
                (discord["unannounced_calls"] == 1).then_some(discord)
            },
        )
        .await;
    assert_eq!(status["healthy"], false, "{status}");
    assert!(
        status["detail"].as_str().unwrap().contains("500"),
        "{status}"
    );
    assert_eq!(
        d.fake
            .matching("POST", &format!("/channels/{CHANNEL}/messages"))
            .len(),
        5,
        "bounded retries"
    );
    let (metrics, samples) = d.app.metrics().await;
    assert!(
        value(
            &samples,
            "denwa_api_request_duration_seconds_count",
            &[("service", "discord"), ("outcome", "error")]
        )
        .is_some_and(|n| n >= 1.0),
        "the refused post is an API error: {metrics}"
    );
}

#[tokio::test]
async fn register_sends_the_commands_and_prints_the_endpoint() {
    let fake = FakeDiscord::start(GUILD, CHANNEL, BOT_TOKEN).await;
    let dir = std::env::temp_dir().join(format!("denwa-discord-register-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\npublic_url = \"https://denwa.example.org/line\"\n\
             [twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nnumber = \"{LINE}\"\n\
             [discord]\napplication_id = \"{APP}\"\nguild_id = \"{GUILD}\"\nchannel_id = \"{CHANNEL}\"\napi_base = \"{}\"\n",
            fake.base
        ),
    )
    .unwrap();
    let public_key = hex(&key().verifying_key().to_bytes());
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_denwa"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("DENWA_")) {
            cmd.env_remove(k);
        }
        cmd.args(["discord", "register", "--config"])
            .arg(&file)
            .env("DENWA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("DENWA_API_TOKEN", "y")
            .env("DENWA_DISCORD_BOT_TOKEN", BOT_TOKEN)
            .env("DENWA_DISCORD_PUBLIC_KEY", public_key)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("https://denwa.example.org/line/discord/interactions"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/say")
            && stdout.contains("/hangup")
            && stdout.contains("/calls")
            && stdout.contains("/dial"),
        "{stdout}"
    );
    let puts = fake.matching(
        "PUT",
        &format!("/applications/{APP}/guilds/{GUILD}/commands"),
    );
    assert_eq!(puts.len(), 1);
    let put = &puts[0];
    assert_eq!(
        put.path,
        format!("/api/v10/applications/{APP}/guilds/{GUILD}/commands")
    );
    assert_eq!(put.headers["authorization"], format!("Bot {BOT_TOKEN}"));
    let names: Vec<&str> = put
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["say", "hangup", "calls", "dial"]);
    assert_eq!(put.body[0]["options"][1]["autocomplete"], true);
    assert_eq!(put.status, 200, "{}", put.response);
}

#[tokio::test]
async fn dial_calls_out_and_the_call_gets_its_thread_and_a_bad_number_is_refused() {
    let d = spawn_discord(&[]).await;
    let callee = "+14155550188";
    d.app.emulator.add_phone(callee, PhoneBehaviour::Answer);

    let (status, reply) = d.interact(&dial(callee, &[])).await;
    assert_eq!(status, 200, "{reply}");
    assert_ephemeral(&reply);
    let text = content(&reply);
    assert!(text.starts_with("Calling +1 415-555-0188…"), "{reply}");
    let call_id = text.split('`').nth(1).expect("the call id").to_owned();
    let legs = d.legs_to(callee);
    assert_eq!(legs.len(), 1, "{legs:#?}");
    assert_eq!(legs[0].direction, "outbound-api");

    // Announced like any call, with a thread; the person called hears /say there.
    let (thread, embed) = d.announcement(&call_id).await;
    assert!(
        !embed.to_string().contains("4155550188") && !embed.to_string().contains("555-0188"),
        "no number in the embed: {embed}"
    );
    d.embed_state(&thread, "connected").await;
    let words = "Hello, this is support calling you back.";
    let (_, reply) = d.interact(&say(words, None, &thread)).await;
    assert_eq!(content(&reply), format!("Queued: {words}"));
    d.app.wait_heard(&legs[0].sid, &[words]).await;

    // Not a number: refused with the line's reason, and nothing is dialled.
    let before = d.app.emulator.calls().len();
    let (_, reply) = d.interact(&dial("12345", &[])).await;
    assert_ephemeral(&reply);
    assert!(
        content(&reply).contains("is not an E.164 phone number"),
        "{reply}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(d.legs_to("12345").is_empty());
    assert_eq!(
        d.app
            .emulator
            .calls()
            .iter()
            .skip(before)
            .filter(|c| !(c.from == LINE && c.to == LINE))
            .count(),
        0,
        "no call but speaker legs"
    );
}

#[tokio::test]
async fn join_by_phone_rings_the_responder_who_presses_1_to_join_the_caller() {
    let responders = format!(
        "[[line.responders]]\nname = \"Alice\"\nphone = \"{ALICE_PHONE}\"\ndiscord_user = \"{USER}\"\n"
    );
    let d = spawn_discord_with_file(&responders, &[]).await;
    // Busy when the call comes in, so the line's own ringing does not reach her.
    d.app.emulator.add_phone(ALICE_PHONE, PhoneBehaviour::Busy);
    let (sid, call_id) = d.app.call_in(CALLER).await;
    let (thread, embed) = d.announcement(&call_id).await;
    let buttons = &embed["components"][0]["components"];
    assert_eq!(
        buttons[0]["custom_id"],
        format!("hangup:{call_id}"),
        "{embed}"
    );
    assert_eq!(
        buttons[1]["custom_id"],
        format!("join:{call_id}"),
        "{embed}"
    );
    assert_eq!(buttons[1]["label"], "Join by phone", "{embed}");
    d.embed_state(&thread, "connected").await;
    d.app
        .wait_for(
            "the line's ring to Alice to end busy",
            Duration::from_secs(20),
            || async {
                d.legs_to(ALICE_PHONE)
                    .last()
                    .is_some_and(|l| l.status == "busy")
                    .then_some(())
            },
        )
        .await;
    let rung = d.legs_to(ALICE_PHONE).len();

    // A member who is not in the directory is told so, and nobody is dialled.
    let mut stranger = join_button(&call_id);
    stranger["member"]["user"]["id"] = json!(MENTIONED);
    let (status, reply) = d.interact(&stranger).await;
    assert_eq!(status, 200);
    assert_ephemeral(&reply);
    assert!(
        content(&reply).starts_with("You are not in the line's responder directory"),
        "{reply}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(d.legs_to(ALICE_PHONE).len(), rung);

    // Alice presses the button: her phone rings, she presses 1 and is in the caller's
    // conference; the caller hears who joined.
    d.app.emulator.add_phone(
        ALICE_PHONE,
        PhoneBehaviour::AnswerAndPress {
            digits: "1".into(),
            after_secs: 8.0,
        },
    );
    let (_, reply) = d.interact(&join_button(&call_id)).await;
    assert_ephemeral(&reply);
    assert_eq!(
        content(&reply),
        "Calling your phone, Alice: press 1 to join."
    );
    let legs = d.legs_to(ALICE_PHONE);
    assert_eq!(legs.len(), rung + 1, "{legs:#?}");
    let leg = legs.last().unwrap().sid.clone();
    d.app.wait_heard(&sid, &["Alice joined the call."]).await;
    d.app
        .wait_for(
            "Alice in the caller's conference",
            Duration::from_secs(10),
            || async {
                d.app
                    .emulator
                    .conferences()
                    .into_iter()
                    .find(|c| c.status != "completed" && c.friendly_name.contains(&call_id))
                    .filter(|c| {
                        let in_it = |s: &str| c.participants.iter().any(|p| p.call_sid == s);
                        in_it(&sid) && in_it(&leg)
                    })
                    .map(|_| ())
            },
        )
        .await;
    d.fake
        .wait_for("the join posted in the thread", |r| {
            r.method == "POST"
                && r.path == format!("/api/v10/channels/{thread}/messages")
                && r.body["content"] == "Alice joined the call."
        })
        .await;
    d.assert_discord_took_everything();
}

impl Discord {
    /// What the bot posted in thread `thread`, in order.
    fn thread_posts(&self, thread: &str) -> Vec<String> {
        self.fake
            .matching("POST", &format!("/channels/{thread}/messages"))
            .into_iter()
            .filter(|r| r.status == 200)
            .map(|r| r.body["content"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until the thread has a post `pred` accepts; returns its position.
    async fn wait_post(&self, thread: &str, what: &str, pred: impl Fn(&str) -> bool) -> usize {
        self.app
            .wait_for(what, Duration::from_secs(20), || {
                let at = self.thread_posts(thread).iter().position(|p| pred(p));
                async move { at }
            })
            .await
    }
}

#[tokio::test]
async fn joins_leaves_and_the_end_are_posted_in_the_thread_and_the_embed_sums_the_call_up() {
    let responders = format!("[[line.responders]]\nname = \"Alice\"\nphone = \"{ALICE_PHONE}\"\n");
    let d = spawn_discord_with_file(
        &responders,
        &[
            ("DENWA_LINE_ANNOUNCE_LEAVES", "true"),
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
        ],
    )
    .await;
    d.app.emulator.add_phone(
        ALICE_PHONE,
        PhoneBehaviour::AnswerAndPress {
            digits: "1".into(),
            after_secs: 8.0,
        },
    );
    let (sid, call_id) = d.app.call_in(CALLER).await;
    let (thread, _) = d.announcement(&call_id).await;

    d.app.wait_heard(&sid, &["Alice joined the call."]).await;
    let joined = d
        .wait_post(&thread, "the join posted in the thread", |p| {
            p == "Alice joined the call."
        })
        .await;
    let alice = d.legs_to(ALICE_PHONE).remove(0);
    d.app.emulator.hangup(&alice.sid).await;
    let left = d
        .wait_post(&thread, "the leave posted in the thread", |p| {
            p == "Alice left the call."
        })
        .await;
    assert!(joined < left, "{:?}", d.thread_posts(&thread));
    d.app.wait_heard(&sid, &["Alice left the call."]).await;
    // Heard is not yet settled: the speaker's next turn marks the batch spoken.
    d.app
        .wait_for(
            "both announcements to be settled spoken",
            Duration::from_secs(20),
            || async {
                let messages = d.app.messages(&call_id).await;
                (messages.len() == 2 && messages.iter().all(|m| m["state"] == "spoken"))
                    .then_some(())
            },
        )
        .await;

    d.app.emulator.hangup(&sid).await;
    let ended = d
        .wait_post(&thread, "the end posted in the thread", |p| {
            p.starts_with("The call ended after")
        })
        .await;
    assert!(left < ended, "{:?}", d.thread_posts(&thread));
    let (_, call) = d.app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "ended");
    assert_eq!(call["joined"], json!(["Alice"]));
    let spoken = call["messages_spoken"].as_u64().unwrap();
    assert_eq!(spoken, 2, "both announcements were spoken: {call}");
    let legs = call["speaker_legs"].as_u64().unwrap() + call["responder_legs"].as_u64().unwrap();
    assert!(legs >= 2, "Alice's leg and a speaker's: {call}");

    // The embed shows the call ended, with its summary.
    let embed = d.embed_state(&thread, "ended").await;
    let fields = embed["embeds"][0]["fields"].as_array().unwrap().clone();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["value"].as_str())
            .unwrap_or_else(|| panic!("no {name} field: {embed}"))
            .to_owned()
    };
    assert!(field("Duration").ends_with(" s"), "{embed}");
    assert_eq!(field("Messages spoken"), spoken.to_string(), "{embed}");
    assert_eq!(field("Joined"), "Alice", "{embed}");
    assert_eq!(field("Extra call legs"), legs.to_string(), "{embed}");
    assert_eq!(embed["components"], json!([]), "{embed}");
    d.assert_discord_took_everything();
}

#[tokio::test]
async fn a_voicemail_is_posted_in_the_thread_with_its_recording_and_then_its_transcript() {
    let d = spawn_discord(&[("DENWA_LINE_VOICEMAIL_AFTER", "2")]).await;
    let (sid, call_id) = d.app.call_in(CALLER).await;
    let (thread, _) = d.announcement(&call_id).await;
    let words = "Please call me back about my order";
    d.app.leave_voicemail(&sid, words).await;

    let call = d
        .app
        .wait_for(
            "the voicemail and its transcript",
            Duration::from_secs(20),
            || async {
                let (_, call) = d.app.get_json(&format!("/calls/{call_id}")).await;
                call["voicemail_transcript"].is_string().then_some(call)
            },
        )
        .await;
    let url = call["voicemail_url"].as_str().unwrap();
    assert!(url.starts_with("http"), "{call}");
    let recording = format!("The caller left a voicemail: {url}");
    let transcript = format!("Voicemail transcript: {words}");
    let transcript_at = d
        .wait_post(&thread, "the voicemail transcript in the thread", |p| {
            p == transcript
        })
        .await;
    let posts = d.thread_posts(&thread);
    let recording_at = posts
        .iter()
        .position(|p| *p == recording)
        .unwrap_or_else(|| panic!("no recording link: {posts:#?}"));
    assert!(recording_at < transcript_at, "{posts:#?}");
    assert_eq!(posts.iter().filter(|p| **p == recording).count(), 1);
    d.assert_discord_took_everything();
}

#[tokio::test]
async fn each_line_is_announced_in_its_own_channel_with_its_name() {
    const BILLING: &str = "+15005550007";
    const BILLING_CHANNEL: &str = "1100000000000000009";
    let file = format!(
        "[[lines]]\nid = \"billing\"\nname = \"Billing\"\nnumber = \"{BILLING}\"\ndiscord_channel = \"{BILLING_CHANNEL}\"\n"
    );
    let d = spawn_discord_with_file(&file, &[]).await;
    d.fake.add_channel(BILLING_CHANNEL, "billing");
    d.app.add_number(BILLING);
    d.app
        .emulator
        .place_call(CALLER, BILLING, None)
        .await
        .unwrap();
    d.app.wait_for_call(CALLER, Some("connected")).await;
    let posted = d
        .app
        .wait_for(
            "the announcement in Billing's channel",
            Duration::from_secs(20),
            || async {
                d.fake
                    .matching("POST", &format!("/channels/{BILLING_CHANNEL}/messages"))
                    .into_iter()
                    .next()
            },
        )
        .await;
    assert_eq!(posted.body["embeds"][0]["fields"][1]["value"], "Billing");
    assert!(
        d.fake
            .matching("POST", &format!("/channels/{CHANNEL}/messages"))
            .is_empty(),
        "nothing in the default line's channel"
    );
}
