//! Several lines in one deployment, and a line's keypad menu: calls routed by the number
//! dialled, each announced in its own line's Slack channel, rung to its own people, spoken into
//! by a speaker dialling its own line's number; `GET /api/lines`, `POST /api/calls` from a line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use denwa_testkit::slack_signature::sign;
use denwa_twilio_emulator::{CallEventKind, PhoneBehaviour};
use serde_json::{Value, json};

use crate::fake_slack::FakeSlack;
use crate::helpers::*;

/// The second line's number, channel and responder.
const BILLING: &str = "+15005550007";
const BILLING_CHANNEL: &str = "C0BILLING1";
const SUPPORT_CHANNEL: &str = "C0SUPPORT1";
const ALICE: &str = "+14155550101";
const BOB: &str = "+14155550102";
const CALLER_2: &str = "+14155550124";
const BOT_TOKEN: &str = "xoxb-test-bot-token";
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_USER: &str = "UALICE001";

/// The default line (`[line]`: Test line, `LINE`, Alice, `SUPPORT_CHANNEL`) and Billing
/// (`BILLING`, Bob, its own channel).
const TWO_LINES: &str = r#"
id = "support"
[[line.responders]]
name = "Alice"
phone = "+14155550101"
[[lines]]
id = "billing"
name = "Billing"
number = "+15005550007"
greeting = "Thank you for calling billing."
slack_channel = "C0BILLING1"
[[lines.responders]]
name = "Bob"
phone = "+14155550102"
"#;

struct Lines {
    app: TestApp,
    slack: FakeSlack,
}

async fn spawn(file: &str, time_scale: f64, extra: &[(&str, &str)]) -> Lines {
    spawn_replicated(1, file, time_scale, extra).await
}

/// Like [`spawn`], with `replicas` instances behind a round-robin proxy (see
/// [`spawn_replicas`]).
async fn spawn_replicated(
    replicas: usize,
    file: &str,
    time_scale: f64,
    extra: &[(&str, &str)],
) -> Lines {
    let slack = FakeSlack::start(BOT_TOKEN, SUPPORT_CHANNEL).await;
    slack.add_channel(BILLING_CHANNEL);
    let api_base = slack.api_base();
    let mut env = vec![
        ("DENWA_SLACK_CHANNEL", SUPPORT_CHANNEL),
        ("DENWA_SLACK_BOT_TOKEN", BOT_TOKEN),
        ("DENWA_SLACK_SIGNING_SECRET", SIGNING_SECRET),
        ("DENWA_SLACK_API_BASE", api_base.as_str()),
    ];
    env.extend_from_slice(extra);
    let far = far_side(time_scale).await;
    let app = match replicas {
        1 => spawn_app_on(far, file, &env).await,
        _ => spawn_replicas_on(far, replicas, file, &env).await,
    };
    // The second number is the account's too, pointed at the same webhooks (as `denwa twilio
    // configure` points every line's number).
    app.add_number(BILLING);
    Lines { app, slack }
}

impl Lines {
    /// `from` calls `to` and is put in a conference: (caller leg, call id).
    async fn call(&self, from: &str, to: &str) -> (String, String) {
        let sid = self.app.emulator.place_call(from, to, None).await.unwrap();
        let id = self.app.wait_for_call(from, Some("connected")).await;
        (sid, id)
    }

    /// The announcement of `call_id`: (its channel, its ts, its text).
    async fn announcement(&self, call_id: &str) -> (String, String, String) {
        let call = self
            .app
            .wait_for("the announcement", Duration::from_secs(20), || async {
                self.slack
                    .answered("chat.postMessage")
                    .into_iter()
                    .find(|c| c.params["blocks"].to_string().contains(call_id))
            })
            .await;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        (
            text(&call.params["channel"]),
            text(&call.response["ts"]),
            text(&call.params["text"]),
        )
    }

    /// A Slack user's reply in the thread `thread_ts` of `channel`, signed as Slack signs it.
    async fn reply(&self, channel: &str, thread_ts: &str, text: &str) {
        let ts = format!("1800000000.{:06}", rand_suffix());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body = json!({
            "token": "legacy", "team_id": "T0TEST", "api_app_id": "A0DENWA",
            "type": "event_callback", "event_id": format!("Ev{ts}"), "event_time": now,
            "event": { "type": "message", "channel": channel, "channel_type": "channel",
                "user": SLACK_USER, "text": text, "ts": ts, "thread_ts": thread_ts, "event_ts": ts },
        })
        .to_string();
        let r = self
            .post_signed("/slack/events", body, "application/json")
            .await;
        assert_eq!(r.status(), 200);
    }

    /// `/denwa <text>` run in `channel`: Slack's answer to show the user.
    async fn command(&self, channel: &str, text: &str) -> Value {
        let body = serde_urlencoded::to_string([
            ("token", "legacy"),
            ("team_id", "T0TEST"),
            ("channel_id", channel),
            ("user_id", SLACK_USER),
            ("command", "/denwa"),
            ("text", text),
            ("response_url", &self.slack.response_url()),
            ("trigger_id", "1.2.3"),
        ])
        .unwrap();
        let r = self
            .post_signed("/slack/commands", body, "application/x-www-form-urlencoded")
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// POSTs `body` to the app's `path`, signed as Slack signs it now.
    async fn post_signed(&self, path: &str, body: String, content_type: &str) -> reqwest::Response {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.app
            .http
            .post(format!("{}{path}", self.app.base))
            .header("Content-Type", content_type)
            .header("X-Slack-Request-Timestamp", now.to_string())
            .header("X-Slack-Signature", sign(SIGNING_SECRET, now, &body))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The legs the line placed from `from` to `to`.
    fn legs(&self, from: &str, to: &str) -> usize {
        self.app
            .emulator
            .calls()
            .into_iter()
            .filter(|c| c.from == from && c.to == to)
            .count()
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn two_lines_each_call_announced_in_its_channel_rung_to_its_people_and_spoken_by_its_own_speaker()
 {
    let t = spawn(
        TWO_LINES,
        TIME_SCALE,
        &[("DENWA_LINE_VOICEMAIL_AFTER", "0")],
    )
    .await;
    t.app.emulator.add_phone(ALICE, PhoneBehaviour::NoAnswer);
    t.app.emulator.add_phone(BOB, PhoneBehaviour::NoAnswer);

    let (support_sid, support_call) = t.call(CALLER, LINE).await;
    let (billing_sid, billing_call) = t.call(CALLER_2, BILLING).await;

    // Each caller heard their own line's greeting.
    assert_eq!(t.app.heard(&support_sid)[0], GREETING);
    assert_eq!(
        t.app.heard(&billing_sid)[0],
        "Thank you for calling billing."
    );

    // Each call announced in its own line's channel, with its line's name.
    let (channel, support_ts, text) = t.announcement(&support_call).await;
    assert_eq!(channel, SUPPORT_CHANNEL);
    assert!(text.ends_with("on Test line"), "{text}");
    let (channel, billing_ts, text) = t.announcement(&billing_call).await;
    assert_eq!(channel, BILLING_CHANNEL);
    assert!(text.ends_with("on Billing"), "{text}");

    // Each rung to its own people, from its own number.
    t.app
        .wait_for(
            "both lines' responders rung",
            Duration::from_secs(20),
            || async { (t.legs(LINE, ALICE) == 1 && t.legs(BILLING, BOB) == 1).then_some(()) },
        )
        .await;
    assert_eq!(t.legs(LINE, BOB) + t.legs(BILLING, ALICE), 0);

    // The store and the API know each call's line.
    let (_, call) = t.app.get_json(&format!("/calls/{billing_call}")).await;
    assert_eq!(call["line"], "billing");
    assert_eq!(call["to"], BILLING);
    let (_, call) = t.app.get_json(&format!("/calls/{support_call}")).await;
    assert_eq!(call["line"], "support");

    // A reply in each thread is spoken on its own call, by a speaker dialling that line.
    t.reply(
        BILLING_CHANNEL,
        &billing_ts,
        "Billing here, how can we help?",
    )
    .await;
    t.reply(SUPPORT_CHANNEL, &support_ts, "Support here.").await;
    t.app
        .wait_heard(&billing_sid, &["Billing here, how can we help?"])
        .await;
    t.app.wait_heard(&support_sid, &["Support here."]).await;
    assert!(
        !t.app
            .heard(&support_sid)
            .iter()
            .any(|h| h.contains("Billing here")),
        "a reply reached the other line's caller"
    );
    // `/denwa calls`, from either line's channel, shows each call's line.
    let calls = t.command(BILLING_CHANNEL, "calls").await.to_string();
    assert!(
        calls.contains(&format!("`{billing_call}` from")) && calls.contains("on Billing,"),
        "{calls}"
    );
    assert!(calls.contains("on Test line,"), "{calls}");
    assert!(
        t.legs(BILLING, BILLING) >= 1,
        "Billing's speaker dials Billing"
    );
    assert!(t.legs(LINE, LINE) >= 1, "Support's speaker dials Support");
    assert!(
        t.app.emulator.errors().is_empty(),
        "{:?}",
        t.app.emulator.errors()
    );
}

#[tokio::test]
async fn the_api_lists_the_lines_and_dials_from_the_line_asked_for() {
    let t = spawn(TWO_LINES, TIME_SCALE, &[]).await;
    let (status, lines) = t.app.get_json("/lines").await;
    assert_eq!(status, 200);
    assert_eq!(
        lines["lines"],
        json!([
            {"id": "support", "name": "Test line", "number": LINE,
             "slack_channel": SUPPORT_CHANNEL, "discord_channel": null, "menu": null,
             "on_call": {"source": "directory", "responders": ["Alice"]}},
            {"id": "billing", "name": "Billing", "number": BILLING,
             "slack_channel": BILLING_CHANNEL, "discord_channel": null, "menu": null,
             "on_call": {"source": "directory", "responders": ["Bob"]}},
        ])
    );
    // Authenticated like the rest of /api.
    let r = t.app.http.get(t.app.api("/lines")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    t.app.emulator.add_phone(CALLER, PhoneBehaviour::Answer);
    let dial = |body: Value| {
        let app = &t.app;
        async move {
            let r = app
                .http
                .post(app.api("/calls"))
                .bearer_auth(API_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, call) = dial(json!({"to": CALLER, "line": "billing"})).await;
    assert_eq!(status, 201, "{call}");
    assert_eq!(call["line"], "billing");
    assert_eq!(call["to"], BILLING);
    assert_eq!(t.legs(BILLING, CALLER), 1);
    let (channel, _, _) = t.announcement(call["id"].as_str().unwrap()).await;
    assert_eq!(channel, BILLING_CHANNEL);

    let (status, body) = dial(json!({"to": CALLER, "line": "nope"})).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.to_string().contains("there is no line"), "{body}");
    // Without a line: the default line, from its number.
    let (status, call) = dial(json!({"to": ALICE})).await;
    assert_eq!(status, 201, "{call}");
    assert_eq!(call["line"], "support");
    assert_eq!(t.legs(LINE, ALICE), 1);
}

#[tokio::test]
async fn a_call_to_a_number_no_line_has_is_refused_with_nothing_recorded() {
    let t = spawn(TWO_LINES, TIME_SCALE, &[]).await;
    let stray = "+15005550009";
    t.app
        .emulator
        .add_number(stray, &format!("{}/twilio/voice", t.app.base), None);
    let sid = t
        .app
        .emulator
        .place_call(CALLER, stray, None)
        .await
        .unwrap();
    t.app
        .wait_for("the refusal", Duration::from_secs(10), || async {
            t.app
                .heard(&sid)
                .contains(&"Sorry, this number is not in service. Goodbye.".to_owned())
                .then_some(())
        })
        .await;
    let (_, calls) = t.app.get_json("/calls").await;
    assert_eq!(calls["calls"], json!([]));
    assert!(t.slack.calls("chat.postMessage").is_empty());
}

/// The default line offers the menu; Billing and Sales share its number.
const MENU: &str = r#"
[line.menu]
prompt = "For billing press 1. For sales press 2."
default = "sales"
timeout = 10
choices = { 1 = "billing", 2 = "sales" }
[[lines]]
id = "billing"
name = "Billing"
slack_channel = "C0BILLING1"
[[lines.responders]]
name = "Bob"
phone = "+14155550102"
[[lines]]
id = "sales"
name = "Sales"
[[lines.responders]]
name = "Alice"
phone = "+14155550101"
"#;

/// Slower than the other tests (10x faster than life, not 100x): the caller presses a key
/// while the menu listens, and the menu's timeout must not lapse on a loaded machine first.
const MENU_TIME_SCALE: f64 = 0.1;

impl Lines {
    /// Waits until the caller's call has started its `n`th `<Gather>` (the menu, offered).
    async fn wait_menu(&self, sid: &str, n: usize) {
        self.app
            .wait_for("the menu", Duration::from_secs(20), || async {
                let gathers = self
                    .app
                    .emulator
                    .events(sid)
                    .into_iter()
                    .filter(|e| matches!(&e.kind, CallEventKind::Verb { verb } if verb == "Gather"))
                    .count();
                (gathers >= n).then_some(())
            })
            .await;
    }
}

#[tokio::test]
async fn a_menu_choice_routes_the_call_to_its_team_and_no_key_to_the_default() {
    // Two replicas behind a round-robin proxy: the key may reach another replica than the one
    // that offered the menu (nothing of the menu is in a replica's memory).
    let t = spawn_replicated(
        2,
        MENU,
        MENU_TIME_SCALE,
        &[("DENWA_LINE_VOICEMAIL_AFTER", "0")],
    )
    .await;
    t.app.emulator.add_phone(ALICE, PhoneBehaviour::NoAnswer);
    t.app.emulator.add_phone(BOB, PhoneBehaviour::NoAnswer);

    // Press 1: Billing, announced in Billing's channel, Bob rung.
    let sid = t.app.emulator.place_call(CALLER, LINE, None).await.unwrap();
    t.wait_menu(&sid, 1).await;
    t.app.emulator.press(&sid, "1").await;
    let billing_call = t.app.wait_for_call(CALLER, Some("connected")).await;
    let (_, call) = t.app.get_json(&format!("/calls/{billing_call}")).await;
    assert_eq!(
        (&call["line"], &call["menu_choice"]),
        (&json!("billing"), &json!("1"))
    );
    let (channel, _, text) = t.announcement(&billing_call).await;
    assert_eq!(channel, BILLING_CHANNEL);
    assert!(text.ends_with("on Billing (pressed 1)"), "{text}");
    t.app
        .wait_for("Bob rung", Duration::from_secs(20), || async {
            (t.legs(LINE, BOB) == 1).then_some(())
        })
        .await;
    assert_eq!(t.legs(LINE, ALICE), 0);
    // The key cut the prompt short (Twilio's barge-in); then the chosen line's greeting.
    let cut = t.app.partly_heard(&sid);
    assert!(
        cut.len() == 1 && "For billing press 1. For sales press 2.".starts_with(&cut[0]),
        "{cut:?}"
    );
    assert_eq!(t.app.heard(&sid), vec![GREETING]);

    // No key: the default, Sales, in the default channel, Alice rung.
    let sid = t
        .app
        .emulator
        .place_call(CALLER_2, LINE, None)
        .await
        .unwrap();
    let sales_call = t.app.wait_for_call(CALLER_2, Some("connected")).await;
    let (_, call) = t.app.get_json(&format!("/calls/{sales_call}")).await;
    assert_eq!(
        (&call["line"], &call["menu_choice"]),
        (&json!("sales"), &json!("none"))
    );
    let (channel, _, text) = t.announcement(&sales_call).await;
    assert_eq!(channel, SUPPORT_CHANNEL);
    assert!(text.ends_with("on Sales (no key pressed)"), "{text}");
    t.app
        .wait_for("Alice rung", Duration::from_secs(20), || async {
            (t.legs(LINE, ALICE) == 1).then_some(())
        })
        .await;
    // The whole menu, then the default line's greeting.
    assert_eq!(
        t.app.heard(&sid),
        vec!["For billing press 1. For sales press 2.", GREETING]
    );

    // A key that is no choice: told so and asked again; then 1.
    let third = "+14155550125";
    let sid = t.app.emulator.place_call(third, LINE, None).await.unwrap();
    t.wait_menu(&sid, 1).await;
    t.app.emulator.press(&sid, "9").await;
    t.wait_menu(&sid, 2).await;
    t.app.emulator.press(&sid, "1").await;
    let call_id = t.app.wait_for_call(third, Some("connected")).await;
    let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["line"], "billing");
    assert!(
        t.app
            .heard(&sid)
            .contains(&"Sorry, that is not one of the choices.".to_owned()),
        "{:?}",
        t.app.heard(&sid)
    );
    assert!(
        t.app.emulator.errors().is_empty(),
        "{:?}",
        t.app.emulator.errors()
    );
}

#[test]
fn check_names_each_lines_problem_by_its_key() {
    let dir = std::env::temp_dir().join(format!("denwa-lines-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lines.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[server]
public_url = "https://denwa.example.org"
[twilio]
account_sid = "{ACCOUNT_SID}"
number = "{LINE}"
[line.menu]
prompt = "For billing press 1."
default = "billing"
choices = {{ 1 = "billing", 2 = "nobody" }}
[[lines]]
id = "billing"
name = "Billing"
ringing = "all"
[[lines]]
id = "sales"
number = "0800 123"
"#
        ),
    )
    .unwrap();
    let stderr = crate::cli::check_refuses(&file);
    for key in ["lines[0].ringing: unknown key", "lines[1].number: "] {
        assert!(stderr.contains(key), "{key} missing from:\n{stderr}");
    }

    // Each table reads well: now the lines are checked together.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("ringing = \"all\"\n", "")
        .replace("\"0800 123\"", &format!("\"{LINE}\""));
    std::fs::write(&file, text).unwrap();
    let stderr = crate::cli::check_refuses(&file);
    assert!(
        stderr.contains("line.menu.choices.2: there is no line \"nobody\""),
        "{stderr}"
    );
    // Sharing the menu's number is fine for a line its menu routes to or not.
    assert!(!stderr.contains("lines[1].number"), "{stderr}");
}

#[tokio::test]
async fn twilio_configure_points_every_lines_number_at_denwa() {
    let app = spawn_app().await;
    app.emulator
        .add_number(LINE, "https://old.example.com/voice", None);
    app.emulator
        .add_number(BILLING, "https://old.example.com/billing", None);
    let dir = std::env::temp_dir().join(format!("denwa-lines-configure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\npublic_url = \"https://denwa.example.org\"\n[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nnumber = \"{LINE}\"\napi_base = \"{}\"\n[[lines]]\nid = \"billing\"\nnumber = \"{BILLING}\"\n",
            app.emulator.base_url()
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        crate::cli::denwa()
            .args(["twilio", "configure", "--config"])
            .arg(&file)
            .env("DENWA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("DENWA_API_TOKEN", "y")
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
    for number in [LINE, BILLING] {
        let configured = app.emulator.number(number).unwrap();
        assert_eq!(
            configured.voice_url, "https://denwa.example.org/twilio/voice",
            "{number}"
        );
        assert_eq!(
            configured.status_callback.as_deref(),
            Some("https://denwa.example.org/twilio/call-status")
        );
    }
}

/// Status callbacks of legs to Bob fail (HTTP 500: Twilio does not send them again).
fn bobs_callbacks_lost(path: &str, params: Vec<(String, String)>) -> Option<Vec<(String, String)>> {
    let to_bob = params.iter().any(|(k, v)| k == "To" && v == BOB);
    (!(path.starts_with("/twilio/call-status") && to_bob)).then_some(params)
}

/// A call's end frees its own line's responders even when their legs' status callbacks are
/// lost: Bob, Billing's responder, is rung for the next Billing call.
#[tokio::test]
async fn the_end_of_a_call_frees_its_own_lines_responders() {
    // No chat: the lines without their channels.
    let file = TWO_LINES.replace("slack_channel = \"C0BILLING1\"\n", "");
    let app = spawn_app_rewriting(
        bobs_callbacks_lost,
        &file,
        &[("DENWA_LINE_VOICEMAIL_AFTER", "0")],
    )
    .await;
    app.add_number(BILLING);
    app.emulator.add_phone(BOB, PhoneBehaviour::NoAnswer);
    let bob_rung = |count: usize| {
        let app = &app;
        async move {
            app.wait_for(
                &format!("Bob rung {count} times"),
                Duration::from_secs(20),
                || async {
                    let legs = app
                        .emulator
                        .calls()
                        .into_iter()
                        .filter(|c| c.to == BOB && c.from == BILLING)
                        .count();
                    (legs >= count).then_some(())
                },
            )
            .await
        }
    };

    let sid = app
        .emulator
        .place_call(CALLER, BILLING, None)
        .await
        .unwrap();
    let call_id = app.wait_for_call(CALLER, Some("connected")).await;
    bob_rung(1).await;
    app.hang_up(&sid, &call_id).await;
    app.wait_for(
        "Bob's leg to stop ringing",
        Duration::from_secs(20),
        || async {
            app.emulator
                .calls()
                .into_iter()
                .filter(|c| c.to == BOB)
                .all(|c| c.status == "canceled" || c.status == "completed")
                .then_some(())
        },
    )
    .await;

    app.emulator
        .place_call(CALLER_2, BILLING, None)
        .await
        .unwrap();
    app.wait_for_call(CALLER_2, Some("connected")).await;
    bob_rung(2).await;
}
