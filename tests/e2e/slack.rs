//! The Slack bridge end to end: the real app, a fake Slack Web API, the Twilio emulator, a real
//! redis-server, and requests signed exactly as Slack signs them.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use denwa_twilio_emulator::{FaultPlan, PhoneBehaviour, RestFault};
use serde_json::{Value, json};

use crate::fake_slack::FakeSlack;
use crate::helpers::*;
use crate::operations::value;
use crate::redis_cluster::{Backend, RedisCluster};
use crate::script_keys::KeyAudit;
use denwa_testkit::slack_signature::sign;

const CHANNEL: &str = "C0CALLS01";
const BOT_TOKEN: &str = "xoxb-test-bot-token";
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const ALICE: &str = "UALICE001";
const BOB: &str = "UBOB00001";
const MALLORY: &str = "UMALLORY1";
/// Alice's phone, when she is in the responder directory (`slack_user = ALICE`).
const ALICE_PHONE: &str = "+14155550101";
/// How Slack posts commands and clicks.
const FORM: &str = "application/x-www-form-urlencoded";

pub(crate) struct SlackTest {
    pub(crate) app: TestApp,
    slack: FakeSlack,
    http: reqwest::Client,
    /// The Redis Cluster the app runs on, if it does (kept running as long as the test).
    cluster: Option<RedisCluster>,
}

pub(crate) async fn spawn(extra: &[(&str, &str)]) -> SlackTest {
    spawn_with_file("", extra).await
}

/// Like [`spawn`], with `extra_file` appended to the configuration file.
async fn spawn_with_file(extra_file: &str, extra: &[(&str, &str)]) -> SlackTest {
    spawn_at(TIME_SCALE, extra_file, extra).await
}

/// Like [`spawn_with_file`], with the emulator at `time_scale` (see [`TIME_SCALE`]).
async fn spawn_at(time_scale: f64, extra_file: &str, extra: &[(&str, &str)]) -> SlackTest {
    spawn_on_far_side(far_side(time_scale).await, extra_file, extra).await
}

/// Like [`spawn_with_file`], on a far side the test set up (see [`far_side_with`]).
pub(crate) async fn spawn_on_far_side(
    far: (
        crate::redis_server::RedisServer,
        denwa_twilio_emulator::Emulator,
    ),
    extra_file: &str,
    extra: &[(&str, &str)],
) -> SlackTest {
    let slack = FakeSlack::start(BOT_TOKEN, CHANNEL).await;
    slack.add_user(ALICE, "alice", "Alice Liddell");
    slack.add_user(BOB, "", "Bob Builder");
    let api_base = slack.api_base();
    let mut env = vec![
        ("DENWA_SLACK_CHANNEL", CHANNEL),
        ("DENWA_SLACK_BOT_TOKEN", BOT_TOKEN),
        ("DENWA_SLACK_SIGNING_SECRET", SIGNING_SECRET),
        ("DENWA_SLACK_API_BASE", api_base.as_str()),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app_on(far, extra_file, &env).await;
    SlackTest {
        app,
        slack,
        http: reqwest::Client::new(),
        cluster: None,
    }
}

/// Like [`spawn`], on `backend`: on a cluster, thread links and delivery ids (keys outside a
/// call's slot) are on other masters than the call.
async fn spawn_on(backend: Backend) -> SlackTest {
    match backend {
        Backend::Redis => spawn(&[]).await,
        Backend::Cluster => {
            let cluster = RedisCluster::start().await;
            let seeds = cluster.seeds();
            let mut t = spawn(&[("DENWA_REDIS_CLUSTER", seeds.as_str())]).await;
            t.cluster = Some(cluster);
            t
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn unique() -> u64 {
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A `trigger_id` as Slack makes one for every command and click: never the same twice.
fn trigger_id() -> String {
    format!("{}.47445629121.{:032x}", now(), unique())
}

/// The form Slack posts when `user` runs `/denwa <text>` in `channel`.
fn command_body(user: &str, channel: &str, response_url: &str, text: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "legacy"),
        ("team_id", "T0TEST"),
        ("channel_id", channel),
        ("user_id", user),
        ("command", "/denwa"),
        ("text", text),
        ("response_url", response_url),
        ("trigger_id", &trigger_id()),
    ])
    .unwrap()
}

/// The form Slack posts when `user` clicks the button `action_id` (its value `call_id`) on the
/// message `(channel, ts)`.
fn click_body(
    user: &str,
    action_id: &str,
    call_id: &str,
    (channel, ts): (&str, &str),
    response_url: &str,
) -> String {
    let payload = json!({
        "type": "block_actions", "user": {"id": user, "username": "x", "team_id": "T0TEST"},
        "api_app_id": "A0DENWA", "token": "legacy", "trigger_id": trigger_id(),
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
        "channel": {"id": channel, "name": "calls"},
        "message": {"type": "message", "ts": ts, "text": "Call"},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "actions", "value": call_id,
            "type": "button", "action_ts": "1.2", "text": {"type": "plain_text", "text": "x"}}],
    });
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

impl SlackTest {
    /// POSTs `body` to `path` on `base`, signed with `secret` at `ts` (unsigned with `None`).
    async fn post_to(
        &self,
        base: &str,
        path: &str,
        body: &str,
        content_type: &str,
        signed: Option<(&str, u64)>,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{base}{path}"))
            .header("Content-Type", content_type)
            .body(body.to_owned());
        if let Some((secret, ts)) = signed {
            request = request
                .header("X-Slack-Request-Timestamp", ts.to_string())
                .header("X-Slack-Signature", sign(secret, ts, body));
        }
        for (k, v) in extra {
            request = request.header(*k, *v);
        }
        request.send().await.unwrap()
    }

    /// POSTs the form `body` to `path` as Slack signed it at `ts`; sent twice with the same
    /// `ts`, the second is a replay: the same bytes, the same signature. Returns the answer.
    async fn post_form_signed_at(&self, path: &str, body: &str, ts: u64) -> String {
        let signed = Some((SIGNING_SECRET, ts));
        let r = self
            .post_to(&self.app.base, path, body, FORM, signed, &[])
            .await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    async fn post(&self, path: &str, body: &str, content_type: &str) -> reqwest::Response {
        self.post_to(
            &self.app.base,
            path,
            body,
            content_type,
            Some((SIGNING_SECRET, now())),
            &[],
        )
        .await
    }

    fn event_body(event_id: &str, event: Value) -> String {
        json!({
            "token": "legacy", "team_id": "T0TEST", "api_app_id": "A0DENWA", "type": "event_callback",
            "event_id": event_id, "event_time": now(), "event": event,
        })
        .to_string()
    }

    async fn send_event(&self, event_id: &str, event: Value) -> u16 {
        self.post(
            "/slack/events",
            &Self::event_body(event_id, event),
            "application/json",
        )
        .await
        .status()
        .as_u16()
    }

    fn message(user: &str, text: &str, thread_ts: &str) -> (String, Value) {
        let ts = format!("1800000000.{:06}", unique());
        let event = json!({ "type": "message", "channel": CHANNEL, "channel_type": "channel",
            "user": user, "text": text, "ts": ts, "thread_ts": thread_ts, "event_ts": ts });
        (ts, event)
    }

    /// Alice's reply in a thread; returns its `ts`.
    pub(crate) async fn reply_as_alice(&self, thread_ts: &str, text: &str) -> String {
        self.reply(ALICE, thread_ts, text).await
    }

    /// A reply in a thread; returns its `ts`.
    async fn reply(&self, user: &str, thread_ts: &str, text: &str) -> String {
        let (ts, event) = Self::message(user, text, thread_ts);
        let status = self.send_event(&format!("Ev{}", unique()), event).await;
        assert_eq!(status, 200);
        ts
    }

    pub(crate) async fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        self.app
            .wait_for(what, Duration::from_secs(20), || {
                let found = probe();
                async move { found }
            })
            .await
    }

    /// The announcement of `call_id`: (its ts, the chat.postMessage parameters).
    async fn announcement(&self, call_id: &str) -> (String, Value) {
        let call = self
            .wait_for("the announcement", || {
                self.slack
                    .answered("chat.postMessage")
                    .into_iter()
                    .find(|c| c.params["blocks"].to_string().contains(call_id))
            })
            .await;
        (
            call.response["ts"].as_str().unwrap().to_owned(),
            call.params,
        )
    }

    /// A call that is connected and announced: (caller leg sid, call id, thread ts).
    pub(crate) async fn call_in(&self, from: &str) -> (String, String, String) {
        let (sid, call_id) = self.app.call_in(from).await;
        let (ts, _) = self.announcement(&call_id).await;
        (sid, call_id, ts)
    }

    /// Thread replies the bot posted in `thread_ts`.
    pub(crate) fn thread_posts(&self, thread_ts: &str) -> Vec<String> {
        self.slack
            .calls("chat.postMessage")
            .into_iter()
            .filter(|p| p["thread_ts"] == thread_ts)
            .map(|p| p["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn reactions(&self, ts: &str) -> Vec<String> {
        self.slack
            .calls("reactions.add")
            .into_iter()
            .filter(|p| p["timestamp"] == ts && p["channel"] == CHANNEL)
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
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

    /// `user` clicks the button `action_id` on call `call_id`'s announcement (`thread`).
    async fn click(&self, user: &str, action_id: &str, call_id: &str, thread: &str) {
        let body = click_body(
            user,
            action_id,
            call_id,
            (CHANNEL, thread),
            &self.slack.response_url(),
        );
        let r = self.post("/slack/interactions", &body, FORM).await;
        assert_eq!(r.status(), 200);
    }

    /// The next ephemeral message to `user` after the first `seen` of them.
    async fn ephemeral_to(&self, user: &str, seen: usize) -> String {
        self.wait_for("an ephemeral message", || {
            self.slack
                .calls("chat.postEphemeral")
                .into_iter()
                .filter(|p| p["user"] == user)
                .nth(seen)
                .map(|p| p["text"].as_str().unwrap_or_default().to_owned())
        })
        .await
    }

    fn ephemerals_to(&self, user: &str) -> usize {
        self.slack
            .calls("chat.postEphemeral")
            .into_iter()
            .filter(|p| p["user"] == user)
            .count()
    }

    async fn command(&self, user: &str, text: &str) -> Value {
        self.command_from(user, CHANNEL, &self.slack.response_url(), text)
            .await
    }

    /// `/denwa <text>` run by `user` in `channel` (any channel or DM), with `response_url`.
    async fn command_from(
        &self,
        user: &str,
        channel: &str,
        response_url: &str,
        text: &str,
    ) -> Value {
        let body = command_body(user, channel, response_url, text);
        let r = self
            .post(
                "/slack/commands",
                &body,
                "application/x-www-form-urlencoded",
            )
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

#[tokio::test]
async fn a_call_is_announced_and_a_thread_reply_is_spoken_and_receipted() {
    a_call_is_announced_and_a_thread_reply_is_spoken_and_receipted_on(Backend::Redis).await
}

#[tokio::test]
async fn a_call_is_announced_and_a_thread_reply_is_spoken_and_receipted_on_a_cluster() {
    a_call_is_announced_and_a_thread_reply_is_spoken_and_receipted_on(Backend::Cluster).await
}

async fn a_call_is_announced_and_a_thread_reply_is_spoken_and_receipted_on(backend: Backend) {
    let t = spawn_on(backend).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;

    let (_, post) = t.announcement(&call_id).await;
    assert_eq!(post["channel"], CHANNEL);
    let text = post["text"].as_str().unwrap();
    assert!(text.contains("+1 415-555-0123"), "{text}");
    assert!(text.contains("Test line"), "{text}");
    let blocks = post["blocks"].as_array().unwrap();
    let headline = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(headline.contains("+1 415-555-0123"), "{headline}");
    assert!(headline.contains("<!date^"), "{headline}");
    let button = blocks
        .iter()
        .find(|b| b["type"] == "actions")
        .and_then(|b| b["elements"].as_array())
        .and_then(|e| e.iter().find(|e| e["action_id"] == "hangup"))
        .expect("a Hang up button");
    assert_eq!(button["value"], call_id.as_str());
    assert_eq!(button["text"]["text"], "Hang up");
    // The number is in the message's text, and nowhere else: not in buttons, ids or values.
    assert!(!post.to_string().contains(CALLER), "no raw E.164 anywhere");
    // (Its subscriber digits: a random call id may well contain "415".)
    for block in blocks.iter().filter(|b| b["type"] != "section") {
        let block = block.to_string();
        assert!(
            !block.contains("5550123") && !block.contains("555-0123"),
            "{block}"
        );
    }

    // The message follows the call.
    t.wait_for("the announcement to show the call connected", || {
        t.slack
            .calls("chat.update")
            .into_iter()
            .find(|p| p["ts"] == thread.as_str() && p["blocks"].to_string().contains("Connected"))
    })
    .await;

    let reply = t
        .reply(
            ALICE,
            &thread,
            "Hi <@UALICE001> here, *thanks* for calling :wave: &amp; welcome",
        )
        .await;
    t.app
        .wait_heard(&sid, &["Hi alice here, thanks for calling & welcome"])
        .await;
    t.wait_for("the ✅ receipt", || {
        t.reactions(&reply)
            .contains(&"white_check_mark".to_owned())
            .then_some(())
    })
    .await;
    let messages = t.app.messages(&call_id).await;
    assert_eq!(messages.len(), 1);

    // A mention of someone Slack does not know falls back politely; display name > real name.
    let reply = t
        .reply(BOB, &thread, "<@UBOB00001> and <@UNOBODY1> agree")
        .await;
    t.app
        .wait_heard(&sid, &["Bob Builder and someone agree"])
        .await;
    t.wait_for("the second receipt", || {
        (!t.reactions(&reply).is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_retried_event_is_spoken_once() {
    a_retried_event_is_spoken_once_on(Backend::Redis).await
}

#[tokio::test]
async fn a_retried_event_is_spoken_once_on_a_cluster() {
    a_retried_event_is_spoken_once_on(Backend::Cluster).await
}

async fn a_retried_event_is_spoken_once_on(backend: Backend) {
    let t = spawn_on(backend).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let (_, event) = SlackTest::message(ALICE, "Only once, please.", &thread);
    let body = SlackTest::event_body("Ev0RETRIED", event);
    for retry in ["", "1", "2"] {
        let extra: Vec<(&str, &str)> = if retry.is_empty() {
            vec![]
        } else {
            vec![
                ("X-Slack-Retry-Num", retry),
                ("X-Slack-Retry-Reason", "http_timeout"),
            ]
        };
        let r = t
            .post_to(
                &t.app.base,
                "/slack/events",
                &body,
                "application/json",
                Some((SIGNING_SECRET, now())),
                &extra,
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    t.app.wait_heard(&sid, &["Only once, please."]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(t.app.messages(&call_id).await.len(), 1);
    let heard = t.app.heard(&sid);
    assert_eq!(
        heard.iter().filter(|h| *h == "Only once, please.").count(),
        1,
        "{heard:?}"
    );
}

#[tokio::test]
async fn unsigned_forged_and_stale_requests_are_refused_and_change_nothing() {
    let t = spawn(&[]).await;
    let (_, call_id, thread) = t.call_in(CALLER).await;
    let (_, event) = SlackTest::message(ALICE, "Let me in.", &thread);
    let body = SlackTest::event_body("Ev0FORGED", event);
    let base = t.app.base.clone();
    for signed in [
        None,
        Some(("not-the-signing-secret", now())),
        Some((SIGNING_SECRET, now() - 600)),
    ] {
        let r = t
            .post_to(
                &base,
                "/slack/events",
                &body,
                "application/json",
                signed,
                &[],
            )
            .await;
        assert_eq!(r.status(), 401, "{signed:?}");
    }
    // A tampered body under a valid signature.
    let ts = now();
    let r = t
        .http
        .post(format!("{base}/slack/events"))
        .header("Content-Type", "application/json")
        .header("X-Slack-Request-Timestamp", ts.to_string())
        .header("X-Slack-Signature", sign(SIGNING_SECRET, ts, &body))
        .body(body.replace("Let me in.", "Let me in!"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for path in ["/slack/commands", "/slack/interactions"] {
        let r = t
            .post_to(
                &base,
                path,
                "payload=%7B%7D&text=calls",
                "application/x-www-form-urlencoded",
                Some(("forged", now())),
                &[],
            )
            .await;
        assert_eq!(r.status(), 401, "{path}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(t.app.messages(&call_id).await.is_empty());

    // The same event, properly signed, is taken: the forgeries did not burn its event_id.
    let r = t.post("/slack/events", &body, "application/json").await;
    assert_eq!(r.status(), 200);
    t.app
        .wait_for("the genuine event", Duration::from_secs(10), || async {
            (t.app.messages(&call_id).await.len() == 1).then_some(())
        })
        .await;

    // url_verification is answered with the challenge, signed like everything else.
    let challenge = json!({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
    let r = t
        .post_to(
            &base,
            "/slack/events",
            &challenge,
            "application/json",
            None,
            &[],
        )
        .await;
    assert_eq!(r.status(), 401);
    let r = t
        .post("/slack/events", &challenge, "application/json")
        .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

#[tokio::test]
async fn only_allowed_users_and_groups_may_speak() {
    let t = spawn(&[
        ("DENWA_SLACK_ALLOWED_USERS", ALICE),
        ("DENWA_SLACK_ALLOWED_USER_GROUPS", "S0ONCALL1"),
    ])
    .await;
    t.slack.add_group("S0ONCALL1", &[BOB]);
    let (sid, call_id, thread) = t.call_in(CALLER).await;

    t.reply(MALLORY, &thread, "I should not be heard.").await;
    let refusal = t
        .wait_for("the ephemeral refusal", || {
            t.slack
                .calls("chat.postEphemeral")
                .into_iter()
                .find(|p| p["user"] == MALLORY)
        })
        .await;
    assert!(refusal["text"].as_str().unwrap().contains("not allowed"));
    assert_eq!(refusal["thread_ts"], thread.as_str());

    t.reply(BOB, &thread, "Bob is on call.").await;
    t.reply(ALICE, &thread, "Alice too.").await;
    let heard = t
        .app
        .wait_heard(&sid, &["Bob is on call.", "Alice too."])
        .await;
    assert!(
        !heard.iter().any(|h| h.contains("not be heard")),
        "{heard:?}"
    );
    assert_eq!(t.app.messages(&call_id).await.len(), 2);
}

#[tokio::test]
async fn a_reply_to_an_ended_call_is_refused_visibly() {
    let t = spawn(&[]).await;
    let (_, call_id, thread) = t.call_in(CALLER).await;
    let r = t
        .app
        .http
        .post(t.app.api(&format!("/calls/{call_id}/hangup")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    t.wait_for("the end posted in the thread", || {
        t.thread_posts(&thread)
            .into_iter()
            .find(|p| p.contains("The call ended"))
    })
    .await;
    t.wait_for("the announcement to show the end", || {
        t.slack.calls("chat.update").into_iter().find(|p| {
            p["ts"] == thread.as_str()
                && p["blocks"].to_string().contains("Ended after")
                && !p["blocks"].to_string().contains("hangup")
        })
    })
    .await;

    let reply = t.reply(ALICE, &thread, "Hello? Are you there?").await;
    t.wait_for("the ❌ reaction", || {
        t.reactions(&reply).contains(&"x".to_owned()).then_some(())
    })
    .await;
    t.wait_for("the reason in the thread", || {
        t.thread_posts(&thread)
            .into_iter()
            .find(|p| p.contains("the call has already ended"))
    })
    .await;
    assert!(t.app.messages(&call_id).await.is_empty());

    // A reply with nothing speakable in a live call is answered too.
    let (_, live, live_thread) = t.call_in("+14155550199").await;
    let reply = t.reply(ALICE, &live_thread, ":thumbsup: :tada:").await;
    t.wait_for("the nothing-to-say answer", || {
        t.thread_posts(&live_thread)
            .into_iter()
            .find(|p| p.contains("nothing to say"))
    })
    .await;
    assert!(t.reactions(&reply).contains(&"x".to_owned()));
    assert!(t.app.messages(&live).await.is_empty());
}

/// Twilio's conference callbacks can come late (and the line handles events concurrently): one
/// that says the caller joined, arriving after the call ended, must not edit the announcement
/// again (the demo console once showed the ended call as connected after such a one).
#[tokio::test]
async fn a_late_caller_join_after_the_end_edits_nothing() {
    let t = spawn(&[]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let conference = t.app.emulator.call(&sid).unwrap().conference_sid.unwrap();
    t.app.hang_up(&sid, &call_id).await;
    t.wait_for("the announcement to show the end", || {
        t.slack
            .calls("chat.update")
            .into_iter()
            .find(|p| p["ts"] == thread.as_str() && p["blocks"].to_string().contains("Ended after"))
    })
    .await;
    let edits = |t: &SlackTest| {
        t.slack
            .calls("chat.update")
            .into_iter()
            .filter(|p| p["ts"] == thread.as_str())
            .count()
    };
    let before = edits(&t);

    let friendly = format!("denwa-{call_id}");
    for (event, sequence) in [("conference-start", "998"), ("participant-join", "999")] {
        let r = t
            .app
            .post_signed(
                "/twilio/conference",
                &[
                    ("AccountSid", ACCOUNT_SID),
                    ("ConferenceSid", &conference),
                    ("FriendlyName", &friendly),
                    ("StatusCallbackEvent", event),
                    ("CallSid", &sid),
                    ("SequenceNumber", sequence),
                    ("StartConferenceOnEnter", "true"),
                    ("Muted", "false"),
                    ("Hold", "false"),
                ],
                AUTH_TOKEN,
            )
            .await;
        assert_eq!(r.status(), 204, "{event}");
    }
    // Absence can only be shown by waiting: the edit, were it made, is one local request away.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        edits(&t),
        before,
        "a late callback edited the ended call's announcement"
    );
    let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "ended");
}

#[tokio::test]
async fn a_reply_beyond_the_speech_limits_is_refused_visibly() {
    let t = spawn(&[("DENWA_SPEECH_MAX_QUEUED", "1")]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    // About half a second of speech: the next reply arrives while it still waits.
    let first = format!("Please hold{}", " on".repeat(150));
    t.reply(ALICE, &thread, &first).await;
    let second = t.reply(ALICE, &thread, "Are you still there?").await;
    t.wait_for("the reason in the thread", || {
        t.thread_posts(&thread).into_iter().find(|p| {
            p == ":x: Not spoken: the caller already has 1 message waiting to be spoken; send it again once some have been heard."
        })
    })
    .await;
    t.wait_for("the ❌ reaction", || {
        t.reactions(&second).contains(&"x".to_owned()).then_some(())
    })
    .await;
    let heard = t.app.wait_heard(&sid, &[first.as_str()]).await;
    assert!(
        !heard.iter().any(|h| h == "Are you still there?"),
        "{heard:?}"
    );
    assert_eq!(t.app.messages(&call_id).await.len(), 1);
}

#[tokio::test]
async fn replies_fail_visibly_once_twilio_has_refused_the_speaker_call_too_often() {
    let t = spawn(&[]).await;
    let (_, call_id, thread) = t.call_in(CALLER).await;
    t.app.emulator.fail_rest(
        FaultPlan::new(RestFault::Unavailable)
            .method("POST")
            .path("/Calls.json"),
    );
    let first = t.reply(ALICE, &thread, "Are you there?").await;
    let second = t.reply(ALICE, &thread, "We will call you back.").await;
    let reason = "Twilio did not place the speaker call: Twilio answered 503 (error 20503): Service unavailable";
    // Six dials over 15 to 31 seconds (waits of 1, 2, 4, 8, 16 s, each jittered down to half).
    let posts = t
        .app
        .wait_for(
            "both reasons in the thread",
            Duration::from_secs(45),
            || {
                let posts = t.thread_posts(&thread);
                let found = (posts
                    .iter()
                    .filter(|p| **p == format!(":x: Not spoken: {reason}."))
                    .count()
                    == 2)
                    .then_some(posts);
                async move { found }
            },
        )
        .await;
    for reply in [&first, &second] {
        assert!(t.reactions(reply).contains(&"x".to_owned()), "{posts:#?}");
    }
    let messages = t.app.messages(&call_id).await;
    assert_eq!(messages.len(), 2);
    for message in &messages {
        assert_eq!(message["state"], "failed", "{message}");
        assert_eq!(message["reason"], reason, "{message}");
    }
    // Bounded: six dials, then none, though the call goes on.
    let dials = || {
        t.app
            .emulator
            .rest_requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
            .count()
    };
    assert_eq!(dials(), 6);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(dials(), 6);
}

#[tokio::test]
async fn the_hang_up_button_ends_the_call() {
    let t = spawn(&[("DENWA_SLACK_ALLOWED_USERS", ALICE)]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let click = |user: &str| {
        click_body(
            user,
            "hangup",
            &call_id,
            (CHANNEL, &thread),
            &t.slack.response_url(),
        )
    };
    // Someone who may not: refused, the call goes on.
    let r = t
        .post(
            "/slack/interactions",
            &click(MALLORY),
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(r.status(), 200);
    t.wait_for("the refusal", || {
        t.slack
            .calls("chat.postEphemeral")
            .into_iter()
            .find(|p| p["user"] == MALLORY)
    })
    .await;
    let caller_leg = || {
        t.app
            .emulator
            .calls()
            .into_iter()
            .find(|c| c.sid == sid)
            .unwrap()
    };
    assert_ne!(caller_leg().status, "completed");

    let r = t
        .post(
            "/slack/interactions",
            &click(ALICE),
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(r.status(), 200);
    t.wait_for("the caller's leg to complete", || {
        (caller_leg().status == "completed").then_some(())
    })
    .await;
    t.wait_for("who hung up, in the thread", || {
        t.thread_posts(&thread)
            .into_iter()
            .find(|p| p.contains(&format!("<@{ALICE}> hung up")))
    })
    .await;
    let ended = t
        .wait_for("the announcement to lose its buttons", || {
            t.slack.calls("chat.update").into_iter().find(|p| {
                p["ts"] == thread.as_str() && p["blocks"].to_string().contains("Ended after")
            })
        })
        .await;
    let blocks = ended["blocks"].to_string();
    assert!(
        !blocks.contains("hangup") && !blocks.contains("Join by phone"),
        "{blocks}"
    );
}

#[tokio::test]
async fn slash_commands_list_calls_and_speak() {
    let t = spawn(&[]).await;
    let help = t.command(ALICE, "help").await;
    assert_eq!(help["response_type"], "ephemeral");
    assert!(help["text"].as_str().unwrap().contains("/denwa say"));
    let none = t.command(ALICE, "calls").await;
    assert_eq!(none["text"], "No call is active right now.");

    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let calls = t.command(ALICE, "calls").await;
    let listed = calls["text"].as_str().unwrap();
    assert!(
        listed.contains(&call_id) && listed.contains("+1 415-555-0123"),
        "{listed}"
    );

    let said = t.command(ALICE, "say We are *on* our way.").await;
    assert!(said["text"].as_str().unwrap().contains("Queued"), "{said}");
    t.app.wait_heard(&sid, &["We are on our way."]).await;
    // The receipt goes through the command's response_url, ephemeral and as a new message.
    let receipt = t
        .wait_for("the spoken note to the sender", || {
            t.slack
                .calls("response_url")
                .into_iter()
                .find(|p| p["text"].as_str().unwrap().contains("was spoken"))
        })
        .await;
    assert_eq!(receipt["response_type"], "ephemeral", "{receipt}");
    assert_eq!(receipt["replace_original"], false, "{receipt}");
    assert!(
        t.thread_posts(&thread)
            .iter()
            .any(|p| p.contains("via `/denwa say`: We are on our way."))
    );

    // Two calls: say asks which, then takes the id.
    let (sid2, call_id2, _) = t.call_in("+442079460958").await;
    let ask = t.command(ALICE, "say Which one?").await;
    let ask = ask["text"].as_str().unwrap();
    assert!(
        ask.contains("say which one") && ask.contains(&call_id) && ask.contains(&call_id2),
        "{ask}"
    );
    assert!(ask.contains("+44 20 7946 0958"), "{ask}");
    let said = t
        .command(ALICE, &format!("say {call_id2} Hello from London."))
        .await;
    assert!(said["text"].as_str().unwrap().contains("Queued"), "{said}");
    t.app.wait_heard(&sid2, &["Hello from London."]).await;
    assert_eq!(t.app.messages(&call_id).await.len(), 1);
    assert_eq!(t.app.messages(&call_id2).await.len(), 1);

    let unknown = t.command(ALICE, "dance").await;
    assert!(unknown["text"].as_str().unwrap().contains("I don't know"));
}

/// A command or click captured and sent again with its signature, within the five minutes the
/// signature is good for, acts once.
#[tokio::test]
async fn a_replayed_slash_command_or_button_click_acts_once() {
    let responders = format!(
        "[[line.responders]]\nname = \"Alice\"\nphone = \"{ALICE_PHONE}\"\nslack_user = \"{ALICE}\"\n"
    );
    let t = spawn_with_file(&responders, &[("DENWA_SLACK_ALLOWED_USERS", ALICE)]).await;
    // Busy when the call comes in, so the line's own ringing is over before she clicks.
    t.app.emulator.add_phone(ALICE_PHONE, PhoneBehaviour::Busy);
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let busy_legs = |more_than: usize| {
        let legs = t.legs_to(ALICE_PHONE);
        (legs.len() > more_than && legs.last().unwrap().status == "busy").then_some(())
    };
    t.wait_for("the line's ring to Alice to end busy", || busy_legs(0))
        .await;

    let url = t.slack.response_url();
    let say = command_body(ALICE, CHANNEL, &url, "say Only once, please.");
    let ts = now();
    let first = t.post_form_signed_at("/slack/commands", &say, ts).await;
    assert!(first.contains("Queued"), "{first}");
    let replay = t.post_form_signed_at("/slack/commands", &say, ts).await;
    assert!(replay.contains("That was already done."), "{replay}");
    t.app.wait_heard(&sid, &["Only once, please."]).await;
    assert_eq!(t.app.messages(&call_id).await.len(), 1, "stored once");

    // Join by phone rings Alice; the same click replayed once that ring is over does not ring
    // her again.
    let rung = t.legs_to(ALICE_PHONE).len();
    let join = click_body(ALICE, "join", &call_id, (CHANNEL, &thread), &url);
    let ts = now();
    t.post_form_signed_at("/slack/interactions", &join, ts)
        .await;
    t.wait_for("Alice's phone to ring, and be busy", || busy_legs(rung))
        .await;
    t.post_form_signed_at("/slack/interactions", &join, ts)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(t.legs_to(ALICE_PHONE).len(), rung + 1, "rung once");
    let heard = t.app.heard(&sid);
    assert_eq!(
        heard.iter().filter(|h| *h == "Only once, please.").count(),
        1,
        "{heard:?}"
    );
}

#[tokio::test]
async fn a_rate_limited_announcement_is_retried_and_lands() {
    let t = spawn(&[]).await;
    t.slack.rate_limit_next("chat.postMessage", 1);
    let (_, call_id) = t.app.call_in(CALLER).await;
    t.announcement(&call_id).await;
    let posts: Vec<u16> = t
        .slack
        .all_calls()
        .iter()
        .filter(|c| c.method == "chat.postMessage")
        .map(|c| c.status)
        .collect();
    assert_eq!(&posts[..2], &[429, 200], "{posts:?}");
    let ready: Value = t
        .http
        .get(format!("{}/readyz", t.app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["checks"]["bridges"]["slack"]["healthy"], true,
        "{ready}"
    );
}

#[tokio::test]
async fn an_announcement_that_cannot_be_posted_shows_in_readyz_and_metrics() {
    // A channel the workspace does not have: Slack answers channel_not_found, no retry helps.
    let t = spawn(&[("DENWA_SLACK_CHANNEL", "C0NOWHERE")]).await;
    let (_, _call_id) = t.app.call_in(CALLER).await;
    let ready = t.wait_for_async_ready().await;
    let slack = &ready["checks"]["bridges"]["slack"];
    assert_eq!(slack["healthy"], false, "{ready}");
    assert_eq!(slack["unannounced_calls"], 1, "{ready}");
    assert!(
        slack["detail"]
            .as_str()
            .unwrap()
            .contains("channel_not_found"),
        "{ready}"
    );
    let (metrics, samples) = t.app.metrics().await;
    assert_eq!(
        value(
            &samples,
            "denwa_bridge_unannounced_calls",
            &[("bridge", "slack")]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        value(
            &samples,
            "denwa_api_request_duration_seconds_count",
            &[("service", "slack"), ("outcome", "error")]
        )
        .is_some_and(|n| n >= 1.0),
        "Slack's refusal is an API error: {metrics}"
    );
}

impl SlackTest {
    async fn wait_for_async_ready(&self) -> Value {
        self.app
            .wait_for(
                "the failure in /readyz",
                Duration::from_secs(20),
                || async {
                    let ready: Value = self
                        .http
                        .get(format!("{}/readyz", self.app.base))
                        .send()
                        .await
                        .ok()?
                        .json()
                        .await
                        .ok()?;
                    (ready["checks"]["bridges"]["slack"]["unannounced_calls"] == 1).then_some(ready)
                },
            )
            .await
    }
}

#[tokio::test]
async fn bot_messages_edits_and_other_threads_are_not_spoken() {
    let t = spawn(&[]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let ts = |n: u64| format!("1800000001.{n:06}");
    let events = [
        // Our own (or any bot's) message in the thread.
        json!({"type": "message", "channel": CHANNEL, "user": "UDENWABOT", "bot_id": "BDENWABOT",
            "text": "bot says", "ts": ts(1), "thread_ts": thread}),
        json!({"type": "message", "subtype": "bot_message", "channel": CHANNEL, "bot_id": "B2",
            "text": "bot message", "ts": ts(2), "thread_ts": thread}),
        // An edit and a deletion of a reply.
        json!({"type": "message", "subtype": "message_changed", "channel": CHANNEL, "hidden": true,
            "ts": ts(3), "message": {"type": "message", "user": ALICE, "text": "edited", "ts": ts(4),
            "thread_ts": thread}, "previous_message": {"type": "message", "user": ALICE, "text": "old", "ts": ts(4)}}),
        json!({"type": "message", "subtype": "message_deleted", "channel": CHANNEL, "hidden": true,
            "ts": ts(5), "deleted_ts": ts(4)}),
        // An edit of a reply that was also sent to the channel is still an edit; a top-level
        // message.
        json!({"type": "message", "subtype": "message_changed", "channel": CHANNEL, "hidden": true,
            "ts": ts(6), "message": {"type": "message", "subtype": "thread_broadcast", "user": ALICE,
            "text": "edited broadcast", "ts": ts(7), "thread_ts": thread},
            "previous_message": {"type": "message", "subtype": "thread_broadcast", "user": ALICE,
            "text": "broadcast", "ts": ts(7), "thread_ts": thread}}),
        json!({"type": "message", "channel": CHANNEL, "user": ALICE, "text": "top level", "ts": ts(8)}),
        // Another channel, and a thread that is not a call.
        json!({"type": "message", "channel": "C0ELSEWHERE", "user": ALICE, "text": "elsewhere",
            "ts": ts(9), "thread_ts": thread}),
        json!({"type": "message", "channel": CHANNEL, "user": ALICE, "text": "not a call",
            "ts": ts(10), "thread_ts": "1600000000.000001"}),
        json!({"type": "reaction_added", "user": ALICE, "reaction": "eyes",
            "item": {"type": "message", "channel": CHANNEL, "ts": thread}, "event_ts": ts(11)}),
    ];
    for (i, event) in events.into_iter().enumerate() {
        assert_eq!(t.send_event(&format!("Ev0IGNORED{i}"), event).await, 200);
    }
    t.reply(ALICE, &thread, "The only one.").await;
    let heard = t.app.wait_heard(&sid, &["The only one."]).await;
    assert_eq!(heard, vec![GREETING, "The only one."]);
    let messages = t.app.messages(&call_id).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
}

#[tokio::test]
async fn replies_also_sent_to_the_channel_and_replies_with_files_are_spoken() {
    let t = spawn(&[]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let reply = |subtype: &str, text: &str| {
        let (ts, mut event) = SlackTest::message(ALICE, text, &thread);
        event["subtype"] = subtype.into();
        if subtype == "file_share" {
            event["files"] = json!([{"id": "F0001", "name": "photo.png", "mimetype": "image/png"}]);
        } else {
            event["root"] = json!({"type": "message", "user": "UDENWABOT", "ts": thread});
        }
        (ts, event)
    };
    let (broadcast, event) = reply("thread_broadcast", "Also for the channel: we are on it.");
    assert_eq!(t.send_event(&format!("Ev{}", unique()), event).await, 200);
    let (shared, event) = reply("file_share", "Here is a photo of the door.");
    assert_eq!(t.send_event(&format!("Ev{}", unique()), event).await, 200);
    t.app
        .wait_heard(
            &sid,
            &[
                "Also for the channel: we are on it.",
                "Here is a photo of the door.",
            ],
        )
        .await;
    for ts in [&broadcast, &shared] {
        t.wait_for("the ✅ reaction", || {
            t.reactions(ts)
                .contains(&"white_check_mark".to_owned())
                .then_some(())
        })
        .await;
    }
    // A file without a word: nothing to say, answered like any empty reply.
    let (bare, event) = reply("file_share", "");
    assert_eq!(t.send_event(&format!("Ev{}", unique()), event).await, 200);
    t.wait_for("the nothing-to-say answer", || {
        t.thread_posts(&thread)
            .into_iter()
            .find(|p| p.contains("nothing to say"))
    })
    .await;
    assert!(t.reactions(&bare).contains(&"x".to_owned()));
    assert_eq!(t.app.messages(&call_id).await.len(), 2);
}

#[tokio::test]
async fn without_allow_lists_commands_and_buttons_count_only_in_the_calls_channel() {
    let t = spawn(&[]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let callee = "+14155550188";
    t.app.emulator.add_phone(callee, PhoneBehaviour::Answer);
    let url = t.slack.response_url();
    for elsewhere in ["C0ELSEWHERE", "D0DIRECT01"] {
        for text in [
            "calls".to_owned(),
            "say Nobody should hear this.".to_owned(),
            format!("dial {callee}"),
        ] {
            let answer = t.command_from(MALLORY, elsewhere, &url, &text).await;
            let said = answer["text"].as_str().unwrap();
            assert!(
                said.contains(&format!("work in <#{CHANNEL}>")),
                "{elsewhere} {text}: {answer}"
            );
            assert!(!said.contains(&call_id), "{said}");
        }
        // help still answers anywhere.
        let help = t.command_from(MALLORY, elsewhere, &url, "help").await;
        assert!(help["text"].as_str().unwrap().contains("/denwa say"));
    }
    // A Hang up click on a copy of the announcement outside the channel changes nothing.
    let body = click_body(
        MALLORY,
        "hangup",
        &call_id,
        ("C0ELSEWHERE", "1800000009.000001"),
        &url,
    );
    let r = t
        .post(
            "/slack/interactions",
            &body,
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(t.legs_to(callee).is_empty(), "nothing dialled");
    assert!(t.app.messages(&call_id).await.is_empty(), "nothing said");
    let caller_leg = t
        .app
        .emulator
        .calls()
        .into_iter()
        .find(|c| c.sid == sid)
        .unwrap();
    assert_ne!(caller_leg.status, "completed", "not hung up");

    // In the channel, anyone may.
    let said = t.command(MALLORY, "say Hello from the channel.").await;
    assert!(said["text"].as_str().unwrap().contains("Queued"), "{said}");
    t.app.wait_heard(&sid, &["Hello from the channel."]).await;
    assert!(
        t.thread_posts(&thread)
            .iter()
            .any(|p| p.contains("via `/denwa say`"))
    );
}

#[tokio::test]
async fn an_allowed_user_may_say_from_a_dm_and_hears_back_there() {
    let t = spawn(&[("DENWA_SLACK_ALLOWED_USERS", ALICE)]).await;
    let (sid, _, _) = t.call_in(CALLER).await;
    let dm = "D0ALICEDM1";
    let said = t
        .command_from(ALICE, dm, &t.slack.response_url(), "say From my DM.")
        .await;
    assert!(said["text"].as_str().unwrap().contains("Queued"), "{said}");
    t.app.wait_heard(&sid, &["From my DM."]).await;
    let receipt = t
        .wait_for("the receipt through the response_url", || {
            t.slack
                .calls("response_url")
                .into_iter()
                .find(|p| p["text"].as_str().unwrap().contains("was spoken"))
        })
        .await;
    assert_eq!(receipt["response_type"], "ephemeral");
    assert!(
        t.slack
            .all_calls()
            .iter()
            .all(|c| c.method != "chat.postEphemeral"),
        "no chat.postEphemeral to the DM the bot is not in"
    );
    // Someone not allowed is refused from a DM too.
    let refused = t
        .command_from(MALLORY, "D0MALLORY1", &t.slack.response_url(), "calls")
        .await;
    assert!(
        refused["text"].as_str().unwrap().contains("not allowed"),
        "{refused}"
    );

    // A response_url that no longer works: the receipt falls back to the calls channel.
    let said = t
        .command_from(ALICE, dm, &t.slack.expired_response_url(), "say Once more.")
        .await;
    assert!(said["text"].as_str().unwrap().contains("Queued"), "{said}");
    t.app.wait_heard(&sid, &["From my DM.", "Once more."]).await;
    let fallback = t
        .wait_for("the receipt in the channel", || {
            t.slack
                .calls("chat.postEphemeral")
                .into_iter()
                .find(|p| p["user"] == ALICE && p["text"].as_str().unwrap().contains("was spoken"))
        })
        .await;
    assert_eq!(fallback["channel"], CHANNEL);
}

#[tokio::test]
async fn slacks_ssl_check_on_the_command_url_gets_an_empty_200() {
    let t = spawn(&[]).await;
    // Unsigned, as Slack sends it.
    let r = t
        .post_to(
            &t.app.base,
            "/slack/commands",
            "ssl_check=1&token=legacy",
            "application/x-www-form-urlencoded",
            None,
            &[],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    assert!(t.slack.all_calls().is_empty(), "{:?}", t.slack.all_calls());
}

/// A second denwa on the same Redis (a restart, or a replica): it has never seen the call, yet
/// knows its thread.
#[tokio::test]
async fn the_thread_mapping_survives_a_restart() {
    let t = spawn(&[]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let file = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n[redis]\nurl = \"{}\"\n\
         [twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nnumber = \"{LINE}\"\napi_base = \"{}\"\n\
         [speech]\nvoice = \"Polly.Joanna\"\nlanguage = \"en-US\"\n[line]\nname = \"Test line\"\n\
         greeting = \"{GREETING}\"\nhold_music_url = \"\"\n",
        t.app.redis.url(),
        t.app.emulator.base_url(),
    );
    let env: Vec<(String, String)> = [
        ("DENWA_TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("DENWA_API_TOKEN", API_TOKEN),
        ("DENWA_SLACK_CHANNEL", CHANNEL),
        ("DENWA_SLACK_BOT_TOKEN", BOT_TOKEN),
        ("DENWA_SLACK_SIGNING_SECRET", SIGNING_SECRET),
        ("DENWA_SLACK_API_BASE", &t.slack.api_base()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let settings = denwa::config::Settings::from_sources(Some(&file), "second", &env).unwrap();
    let second = denwa::startup::Application::with_listener(settings, listener).unwrap();
    tokio::spawn(second.run_until(std::future::pending()));

    let (_, event) = SlackTest::message(ALICE, "Heard through the second instance.", &thread);
    let r = t
        .post_to(
            &base,
            "/slack/events",
            &SlackTest::event_body("Ev0SECOND", event),
            "application/json",
            Some((SIGNING_SECRET, now())),
            &[],
        )
        .await;
    assert_eq!(r.status(), 200);
    t.app
        .wait_heard(&sid, &["Heard through the second instance."])
        .await;
    assert_eq!(t.app.messages(&call_id).await.len(), 1);
}

#[test]
fn slack_manifest_prints_the_app_with_the_public_url() {
    let dir = std::env::temp_dir().join(format!("denwa-slack-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\npublic_url = \"https://denwa.example.org/line\"\n[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nnumber = \"{LINE}\"\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_denwa"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("DENWA_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["slack", "manifest", "--config"])
        .arg(&file)
        .env("DENWA_TWILIO_AUTH_TOKEN", "x")
        .env("DENWA_API_TOKEN", "y")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: Value = serde_json::from_slice(&out.stdout).expect("the manifest is JSON");
    let settings = &manifest["settings"];
    assert_eq!(
        settings["event_subscriptions"]["request_url"],
        "https://denwa.example.org/line/slack/events"
    );
    assert_eq!(
        settings["event_subscriptions"]["bot_events"],
        json!(["message.channels", "message.groups"])
    );
    assert_eq!(
        settings["interactivity"]["request_url"],
        "https://denwa.example.org/line/slack/interactions"
    );
    let command = &manifest["features"]["slash_commands"][0];
    assert_eq!(command["command"], "/denwa");
    assert!(
        command["usage_hint"]
            .as_str()
            .unwrap()
            .contains("dial <number>"),
        "{command}"
    );
    assert_eq!(
        command["url"],
        "https://denwa.example.org/line/slack/commands"
    );
    let scopes = manifest["oauth_config"]["scopes"]["bot"]
        .as_array()
        .unwrap();
    for scope in [
        "chat:write",
        "reactions:write",
        "users:read",
        "usergroups:read",
        "channels:history",
        "groups:history",
        "commands",
    ] {
        assert!(scopes.contains(&json!(scope)), "{scope}");
    }
}

#[tokio::test]
async fn replies_are_spoken_in_the_order_they_were_written() {
    let t = spawn(&[]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    // The first needs a users.info lookup, so its work takes longer than the second's.
    t.reply(ALICE, &thread, "First, <@UALICE001> speaking.")
        .await;
    t.reply(ALICE, &thread, "Second.").await;
    t.reply(ALICE, &thread, "Third.").await;
    let heard = t
        .app
        .wait_heard(&sid, &["First, alice speaking.", "Second.", "Third."])
        .await;
    assert_eq!(
        heard[1..],
        ["First, alice speaking.", "Second.", "Third."],
        "{heard:?}"
    );
    assert_eq!(t.app.messages(&call_id).await.len(), 3);
}

/// A message stored by the previous version, whose origin was one `bridge:reference` string in
/// field `source`, may be in flight across an upgrade: it is spoken, and its receipt still
/// reaches the reply it came from.
#[tokio::test]
async fn a_reply_stored_by_the_previous_version_is_spoken_and_receipted() {
    let t = spawn(&[]).await;
    let (sid, call_id, _thread) = t.call_in(CALLER).await;
    // The previous version kept no look time for the sweep: the call has none.
    let _: i64 = redis::cmd("ZREM")
        .arg("denwa:calls:due")
        .arg(&call_id)
        .query_async(&mut redis_at(&t.app.redis.url()).await)
        .await
        .unwrap();
    // The previous version: a hash per message, the origin as JSON.
    let reply_ts = "1800000009.000001";
    let reference = json!({"on": "reply", "channel": CHANNEL, "ts": reply_ts}).to_string();
    let origin = json!({"bridge": "slack", "reference": reference, "who": ALICE}).to_string();
    let text = "Stored before the upgrade.";
    let pieces = format!("0:{0}:{0}", text.len());
    t.app
        .queue_as_the_previous_version(
            &call_id,
            "m00000000000000a1",
            &[
                ("text", text),
                ("origin", &origin),
                ("pieces", &pieces),
                ("pieces_heard", "0"),
            ],
        )
        .await;
    // The version before it: the origin as `bridge:reference`, no pieces.
    let older_ts = "1800000009.000002";
    let source = format!("slack:{CHANNEL}:{older_ts}");
    t.app
        .queue_as_the_previous_version(
            &call_id,
            "m00000000000000a2",
            &[("text", "Stored two versions ago."), ("source", &source)],
        )
        .await;
    // The sweep finds the waiting messages and starts a speaker for them.
    t.app
        .wait_heard(&sid, &[text, "Stored two versions ago."])
        .await;
    for ts in [reply_ts, older_ts] {
        t.wait_for("the ✅ receipt on each old reply", || {
            t.reactions(ts)
                .contains(&"white_check_mark".to_owned())
                .then_some(())
        })
        .await;
    }
    let messages = t.app.wait_all_spoken(&call_id).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0]["source"], "slack", "{messages:?}");
    assert_eq!(
        messages[1]["text"], "Stored two versions ago.",
        "{messages:?}"
    );
}

#[tokio::test]
async fn the_previous_signing_secret_is_accepted_during_a_rotation() {
    let t = spawn(&[("DENWA_SLACK_PREVIOUS_SIGNING_SECRET", "the-old-secret")]).await;
    let challenge = json!({"type": "url_verification", "challenge": "rotated"}).to_string();
    for (secret, status) in [
        ("the-old-secret", 200),
        (SIGNING_SECRET, 200),
        ("another-secret", 401),
    ] {
        let r = t
            .post_to(
                &t.app.base,
                "/slack/events",
                &challenge,
                "application/json",
                Some((secret, now())),
                &[],
            )
            .await;
        assert_eq!(r.status(), status, "{secret}");
    }
}

#[tokio::test]
async fn dial_calls_out_and_the_call_gets_its_thread_and_a_bad_number_is_refused() {
    let t = spawn(&[("DENWA_SLACK_ALLOWED_USERS", ALICE)]).await;
    let help = t.command(ALICE, "help").await;
    assert!(
        help["text"].as_str().unwrap().contains("/denwa dial"),
        "{help}"
    );
    let callee = "+14155550188";
    t.app.emulator.add_phone(callee, PhoneBehaviour::Answer);

    let answer = t.command(ALICE, &format!("dial {callee}")).await;
    assert_eq!(answer["response_type"], "ephemeral");
    let text = answer["text"].as_str().unwrap();
    assert!(text.starts_with("Calling +1 415-555-0188…"), "{answer}");
    let call_id = text.split('`').nth(1).expect("the call id").to_owned();
    let legs = t.legs_to(callee);
    assert_eq!(legs.len(), 1, "{legs:#?}");
    assert_eq!(legs[0].direction, "outbound-api");

    // Announced like any call, with a thread; a reply there is heard by the person called.
    let (thread, post) = t.announcement(&call_id).await;
    let headline = post["text"].as_str().unwrap();
    assert!(headline.contains("Call to +1 415-555-0188"), "{headline}");
    t.wait_for("the announcement to show the call connected", || {
        t.slack
            .calls("chat.update")
            .into_iter()
            .find(|p| p["ts"] == thread.as_str() && p["blocks"].to_string().contains("Connected"))
    })
    .await;
    let words = "Hello, this is support calling you back.";
    t.reply(ALICE, &thread, words).await;
    t.app.wait_heard(&legs[0].sid, &[words]).await;

    // Not allowed: refused, nothing dialled.
    let other = "+14155550199";
    let refused = t.command(MALLORY, &format!("dial {other}")).await;
    assert!(
        refused["text"].as_str().unwrap().contains("not allowed"),
        "{refused}"
    );
    // Not a number: refused with the line's reason, and nothing is dialled.
    let before = t.app.emulator.calls().len();
    let bad = t.command(ALICE, "dial 12345").await;
    assert_eq!(bad["response_type"], "ephemeral");
    assert!(
        bad["text"]
            .as_str()
            .unwrap()
            .contains("is not an E.164 phone number"),
        "{bad}"
    );
    // A premium-rate number: refused with the reason, before anything is dialled.
    let premium = t.command(ALICE, "dial +19005550123").await;
    assert_eq!(premium["response_type"], "ephemeral");
    assert!(
        premium["text"]
            .as_str()
            .unwrap()
            .contains("+19005550123 is a premium-rate number; denwa never calls those"),
        "{premium}"
    );
    assert!(t.legs_to("+19005550123").is_empty());
    let missing = t.command(ALICE, "dial").await;
    assert!(
        missing["text"]
            .as_str()
            .unwrap()
            .contains("/denwa dial <number>"),
        "{missing}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(t.legs_to(other).is_empty());
    assert!(t.legs_to("12345").is_empty());
    assert_eq!(
        t.app
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
        "[[line.responders]]\nname = \"Alice\"\nphone = \"{ALICE_PHONE}\"\nslack_user = \"{ALICE}\"\n"
    );
    let t = spawn_with_file(
        &responders,
        &[("DENWA_SLACK_ALLOWED_USERS", &format!("{ALICE}, {BOB}"))],
    )
    .await;
    // Busy when the call comes in, so the line's own ringing does not reach her.
    t.app.emulator.add_phone(ALICE_PHONE, PhoneBehaviour::Busy);
    let (sid, call_id) = t.app.call_in(CALLER).await;
    let (thread, post) = t.announcement(&call_id).await;
    let buttons = post["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .and_then(|b| b["elements"].as_array())
        .expect("the buttons")
        .clone();
    assert_eq!(buttons[0]["action_id"], "hangup", "{buttons:?}");
    assert_eq!(buttons[1]["action_id"], "join", "{buttons:?}");
    assert_eq!(buttons[1]["value"], call_id.as_str());
    assert_eq!(buttons[1]["text"]["text"], "Join by phone");
    t.app
        .wait_for(
            "the line's ring to Alice to end busy",
            Duration::from_secs(20),
            || async {
                t.legs_to(ALICE_PHONE)
                    .last()
                    .is_some_and(|l| l.status == "busy")
                    .then_some(())
            },
        )
        .await;
    let rung = t.legs_to(ALICE_PHONE).len();

    // Someone who may not act is refused; an allowed user who is not in the directory is told
    // so; nobody is dialled.
    t.click(MALLORY, "join", &call_id, &thread).await;
    let refusal = t.ephemeral_to(MALLORY, 0).await;
    assert!(refusal.contains("not allowed"), "{refusal}");
    t.click(BOB, "join", &call_id, &thread).await;
    let refusal = t.ephemeral_to(BOB, 0).await;
    assert!(
        refusal.starts_with("You are not in the line's responder directory"),
        "{refusal}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(t.legs_to(ALICE_PHONE).len(), rung);

    // Alice clicks: her phone rings, she presses 1 and is in the caller's conference; the
    // caller hears who joined.
    t.app.emulator.add_phone(
        ALICE_PHONE,
        PhoneBehaviour::AnswerAndPress {
            digits: "1".into(),
            after_secs: 8.0,
        },
    );
    let seen = t.ephemerals_to(ALICE);
    t.click(ALICE, "join", &call_id, &thread).await;
    assert_eq!(
        t.ephemeral_to(ALICE, seen).await,
        "Calling your phone, Alice: press 1 to join."
    );
    let legs = t.legs_to(ALICE_PHONE);
    assert_eq!(legs.len(), rung + 1, "{legs:#?}");
    let leg = legs.last().unwrap().sid.clone();
    t.app.wait_heard(&sid, &["Alice joined the call."]).await;
    t.app
        .wait_for(
            "Alice in the caller's conference",
            Duration::from_secs(10),
            || async {
                t.app
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
    t.wait_for("the join posted in the thread", || {
        t.thread_posts(&thread)
            .into_iter()
            .find(|p| p.contains("Alice joined the call."))
    })
    .await;
}

#[tokio::test]
async fn joins_leaves_and_the_end_are_posted_in_the_thread_and_the_announcement_sums_the_call_up() {
    let responders = format!("[[line.responders]]\nname = \"Alice\"\nphone = \"{ALICE_PHONE}\"\n");
    let t = spawn_with_file(
        &responders,
        &[
            ("DENWA_LINE_ANNOUNCE_LEAVES", "true"),
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
        ],
    )
    .await;
    t.app.emulator.add_phone(
        ALICE_PHONE,
        PhoneBehaviour::AnswerAndPress {
            digits: "1".into(),
            after_secs: 8.0,
        },
    );
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let (posts, thread_ts) = (&t, thread.as_str());
    let position = |text: &str| {
        let text = text.to_owned();
        move || {
            posts
                .thread_posts(thread_ts)
                .iter()
                .position(|p| *p == text)
        }
    };

    t.app.wait_heard(&sid, &["Alice joined the call."]).await;
    let joined = t
        .wait_for(
            "the join posted in the thread",
            position(":inbox_tray: Alice joined the call."),
        )
        .await;
    let alice = t.legs_to(ALICE_PHONE).remove(0);
    t.app.emulator.hangup(&alice.sid).await;
    let left = t
        .wait_for(
            "the leave posted in the thread",
            position(":outbox_tray: Alice left the call."),
        )
        .await;
    assert!(joined < left, "{:?}", t.thread_posts(&thread));
    t.app.wait_heard(&sid, &["Alice left the call."]).await;
    // Heard is not yet settled: the speaker's next turn marks the batch spoken.
    t.app
        .wait_for(
            "both announcements to be settled spoken",
            Duration::from_secs(20),
            || async {
                let messages = t.app.messages(&call_id).await;
                (messages.len() == 2 && messages.iter().all(|m| m["state"] == "spoken"))
                    .then_some(())
            },
        )
        .await;

    t.app.emulator.hangup(&sid).await;
    let ended = t
        .wait_for("the end posted in the thread", || {
            t.thread_posts(&thread)
                .iter()
                .position(|p| p.starts_with(":red_circle: The call ended after"))
        })
        .await;
    assert!(left < ended, "{:?}", t.thread_posts(&thread));
    let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "ended");
    assert_eq!(call["joined"], json!(["Alice"]));
    let spoken = call["messages_spoken"].as_u64().unwrap();
    assert_eq!(spoken, 2, "both announcements were spoken: {call}");
    let legs = call["speaker_legs"].as_u64().unwrap() + call["responder_legs"].as_u64().unwrap();
    assert!(legs >= 2, "Alice's leg and a speaker's: {call}");

    // The announcement, as it stands last, shows the call ended with its summary.
    let status = t
        .wait_for("the announcement to show the call ended", || {
            let last = t
                .slack
                .calls("chat.update")
                .into_iter()
                .rfind(|p| p["ts"] == thread.as_str())?;
            let status = last["blocks"]
                .as_array()?
                .iter()
                .find(|b| b["block_id"] == "status")?["elements"][0]["text"]
                .as_str()?
                .to_owned();
            status.contains("Ended after").then_some(status)
        })
        .await;
    assert!(
        status.contains(&format!("{spoken} messages were spoken")),
        "{status}"
    );
    assert!(status.contains("Joined: Alice."), "{status}");
    assert!(
        status.contains(&format!("{legs} extra call legs")),
        "{status}"
    );
    let duration = status
        .strip_prefix(":red_circle: Ended after ")
        .and_then(|s| s.split_once(". "))
        .map(|(d, _)| d)
        .unwrap_or_default();
    assert!(duration.ends_with(" s"), "a duration: {status}");
}

#[tokio::test]
async fn a_voicemail_twilio_cannot_transcribe_gets_a_no_transcript_note_in_the_thread() {
    // Five times slower than the other tests: the caller's word after the beep must come within
    // the two seconds Twilio will not transcribe, whatever the polling.
    let t = spawn_at(0.05, "", &[("DENWA_LINE_VOICEMAIL_AFTER", "2")]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    t.app.leave_voicemail(&sid, "Bye").await;
    let note = ":warning: No transcript: Twilio could not transcribe the voicemail (it transcribes recordings of more than 2 and less than 120 seconds). Listen to the recording.";
    let posts = t
        .wait_for("the note in the thread", || {
            let posts = t.thread_posts(&thread);
            posts.iter().any(|p| p == note).then_some(posts)
        })
        .await;
    let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
    let recording = format!(
        ":mailbox_with_mail: The caller left a <{}|voicemail>.",
        call["voicemail_url"].as_str().unwrap()
    );
    assert!(posts.contains(&recording), "{posts:#?}");
    assert_eq!(posts.iter().filter(|p| *p == note).count(), 1, "{posts:#?}");
    assert!(call["voicemail_transcript"].is_null(), "{call}");
    let warnings: Vec<u32> = t.app.emulator.errors().iter().map(|e| e.code).collect();
    assert_eq!(warnings, [13617], "Twilio's warning, and nothing else");
}

#[tokio::test]
async fn a_voicemail_is_posted_in_the_thread_with_its_recording_and_then_its_transcript() {
    let t = spawn(&[("DENWA_LINE_VOICEMAIL_AFTER", "2")]).await;
    let audit = KeyAudit::attach(&t.app.redis).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let words = "Please call me back about my order";
    t.app.leave_voicemail(&sid, words).await;

    let call = t
        .app
        .wait_for(
            "the voicemail and its transcript",
            Duration::from_secs(20),
            || async {
                let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
                call["voicemail_transcript"].is_string().then_some(call)
            },
        )
        .await;
    let url = call["voicemail_url"].as_str().unwrap();
    assert!(url.starts_with("http"), "{call}");
    let recording = format!(":mailbox_with_mail: The caller left a <{url}|voicemail>.");
    let transcript = format!(":memo: Voicemail transcript: “{words}”");
    let posts = t
        .wait_for("the voicemail and its transcript in the thread", || {
            let posts = t.thread_posts(&thread);
            posts.contains(&transcript).then_some(posts)
        })
        .await;
    let at = |text: &str| posts.iter().position(|p| p == text);
    let (Some(recording_at), Some(transcript_at)) = (at(&recording), at(&transcript)) else {
        panic!("{posts:#?}");
    };
    assert!(recording_at < transcript_at, "{posts:#?}");
    assert_eq!(posts.iter().filter(|p| **p == recording).count(), 1);
    audit.assert_no_strays(10).await;
}
