//! On-call schedules (issue 15, item 3), end to end: the test serves an iCalendar feed over HTTP
//! (a weekly rotation in New York time, built around the real now), denwa refreshes it into
//! Redis and rings who is on call; a feed that starts failing keeps the last good copy (and
//! `/readyz` and `/metrics` say so); a feed that never loaded rings the fallback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Datelike as _, Timelike as _, Utc};
use denwa_twilio_emulator::PhoneBehaviour;
use serde_json::{Value, json};

use crate::cli::denwa;
use crate::fake_slack::FakeSlack;
use crate::helpers::*;
use crate::oncall::{ALICE, BOB, CAROL, accepts};

const ZONE: chrono_tz::Tz = chrono_tz::America::New_York;

/// Alice is matched by her e-mail (the feed's ATTENDEE), Bob and Carol by name.
const DIRECTORY: &str = r#"
[[line.responders]]
name = "Alice"
phone = "+14155550101"
email = "alice@example.com"
[[line.responders]]
name = "Bob"
phone = "+14155550102"
[[line.responders]]
name = "Carol"
phone = "+14155550103"
"#;

const SLACK_CHANNEL: &str = "C0SCHEDUL";
const SLACK_TOKEN: &str = "xoxb-schedule-test";
const SLACK_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// The feed the test serves: `None` answers HTTP 500.
#[derive(Clone, Default)]
struct Feed {
    body: Arc<Mutex<Option<String>>>,
    /// When each request arrived.
    requests: Arc<Mutex<Vec<Instant>>>,
}

impl Feed {
    /// Serves the feed on 127.0.0.1, port 0; its URL.
    async fn serve(&self) -> String {
        async fn ics(State(feed): State<Feed>) -> (StatusCode, String) {
            feed.requests.lock().unwrap().push(Instant::now());
            match feed.body.lock().unwrap().clone() {
                Some(body) => (StatusCode::OK, body),
                None => (StatusCode::INTERNAL_SERVER_ERROR, "down".into()),
            }
        }
        let router = axum::Router::new()
            .route("/oncall.ics", axum::routing::get(ics))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://127.0.0.1:{port}/oncall.ics")
    }

    fn set(&self, body: Option<String>) {
        *self.body.lock().unwrap() = body;
    }
}

/// A local time in [`ZONE`] as an iCalendar DATE-TIME.
fn ical(t: chrono::DateTime<chrono_tz::Tz>) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A weekly rotation whose first shifts were a week ago: Alice's covers now (from three hours
/// before to three after, local time, so a daylight-saving change within the week cannot move
/// it off now), Bob's starts five hours from now. Alice is named by ATTENDEE e-mail, Bob by the
/// SUMMARY, as PagerDuty writes it.
fn rotation() -> String {
    rotation_from(5)
}

/// Like [`rotation`], with Bob's shift starting `bob_from` hours from now (negative: he is on
/// call now too, from then).
fn rotation_from(bob_from: i64) -> String {
    let now = Utc::now().with_timezone(&ZONE);
    let week_ago = now - chrono::Duration::days(7);
    let event = |uid: &str, start, hours, who: &str| {
        let end = start + chrono::Duration::hours(hours);
        format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=America/New_York:{}\r\nDTEND;TZID=America/New_York:{}\r\n\
RRULE:FREQ=WEEKLY\r\n{who}\r\nEND:VEVENT\r\n",
            ical(start),
            ical(end)
        )
    };
    [
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//denwa tests//EN\r\n".to_owned(),
        event(
            "alice-primary",
            week_ago - chrono::Duration::hours(3),
            6,
            "SUMMARY:Primary on call\r\nATTENDEE;CN=A. Example:mailto:Alice@Example.com",
        ),
        event(
            "bob-primary",
            week_ago + chrono::Duration::hours(bob_from),
            4,
            "SUMMARY:On call - Bob - Primary",
        ),
        "END:VCALENDAR\r\n".to_owned(),
    ]
    .concat()
}

struct Scheduled {
    app: TestApp,
    slack: FakeSlack,
    feed: Feed,
}

/// The app with the directory, `[line.schedule]` on the test's feed (refreshed every 5 s,
/// Carol the fallback) and Slack, ringing all at once.
async fn spawn(feed: Feed) -> Scheduled {
    let url = feed.serve().await;
    spawn_reading(feed, &format!("url = \"{url}\""), &[]).await
}

/// Like [`spawn`], the feed read as `source` says (`url = ...` or `file = ...`), with `extra`
/// settings.
async fn spawn_reading(feed: Feed, source: &str, extra: &[(&str, &str)]) -> Scheduled {
    let slack = FakeSlack::start(SLACK_TOKEN, SLACK_CHANNEL).await;
    let slack_base = slack.api_base();
    let file =
        format!("{DIRECTORY}\n[line.schedule]\n{source}\nrefresh = 5\nfallback = [\"Carol\"]\n");
    let mut env = vec![
        ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
        ("DENWA_SLACK_CHANNEL", SLACK_CHANNEL),
        ("DENWA_SLACK_BOT_TOKEN", SLACK_TOKEN),
        ("DENWA_SLACK_SIGNING_SECRET", SLACK_SECRET),
        ("DENWA_SLACK_API_BASE", slack_base.as_str()),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app_with_file(&file, &env).await;
    Scheduled { app, slack, feed }
}

impl Scheduled {
    /// Waits until `/readyz` shows the schedule with `status`; the schedule's check.
    async fn wait_schedule(&self, status: &str) -> (u16, Value) {
        self.app
            .wait_for(
                &format!("/readyz to show the schedule {status}"),
                Duration::from_secs(30),
                || async {
                    let (code, body) = self.app.readyz().await;
                    (body["checks"]["schedules"]["default"]["status"] == status)
                        .then_some((code, body))
                },
            )
            .await
    }

    /// `GET /api/lines`: who is on call on the (only) line now, and from where.
    async fn on_call(&self) -> Value {
        let (code, body) = self.app.get_json("/lines").await;
        assert_eq!(code, 200, "{body}");
        body["lines"][0]["on_call"].clone()
    }

    /// Waits for a note in a call's Slack thread starting with `start`.
    async fn wait_note(&self, start: &str) -> String {
        self.app
            .wait_for(
                &format!("a thread note starting {start:?}"),
                Duration::from_secs(20),
                || async {
                    self.slack
                        .calls("chat.postMessage")
                        .into_iter()
                        .filter(|p| p["thread_ts"].is_string())
                        .filter_map(|p| p["text"].as_str().map(str::to_owned))
                        .find(|t| t.contains(start))
                },
            )
            .await
    }

    /// Calls in; once `joined` has joined and the caller hung up and the call ended, the legs
    /// placed to each responder (Alice, Bob, Carol).
    async fn ring_until_joined(&self, joined: &str) -> [usize; 3] {
        let app = &self.app;
        let (sid, call_id) = app.call_in(CALLER).await;
        app.wait_heard(&sid, &[&format!("{joined} joined the call.")])
            .await;
        app.emulator.hangup(&sid).await;
        app.wait_for("the call to end", Duration::from_secs(20), || async {
            let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
            (call["state"] == "ended").then_some(())
        })
        .await;
        [ALICE, BOB, CAROL].map(|p| app.legs_to(p).len())
    }
}

#[tokio::test]
async fn the_weekly_rotation_in_a_time_zone_decides_who_is_rung_now() {
    let feed = Feed::default();
    feed.set(Some(rotation()));
    let s = spawn(feed).await;
    for phone in [ALICE, BOB, CAROL] {
        s.app.emulator.add_phone(phone, accepts());
    }
    let (code, ready) = s.wait_schedule("ok").await;
    assert_eq!((code, &ready["status"]), (200, &Value::from("ready")));

    // Alice is on call now, Bob not, and Carol (the fallback) is not needed: only Alice rings.
    assert_eq!(
        s.on_call().await,
        json!({"source": "schedule", "responders": ["Alice"]})
    );
    assert_eq!(s.ring_until_joined("Alice").await, [1, 0, 0]);
    let note = s.wait_note("On call now by the schedule").await;
    assert!(
        note.contains("On call now by the schedule: Alice. Ringing them."),
        "{note}"
    );
    assert!(
        s.app.emulator.errors().is_empty(),
        "{:?}",
        s.app.emulator.errors()
    );
}

#[tokio::test]
async fn a_feed_failing_after_a_good_load_keeps_the_last_good_copy_and_readyz_and_metrics_say_so() {
    let feed = Feed::default();
    feed.set(Some(rotation()));
    let s = spawn(feed).await;
    for phone in [ALICE, BOB, CAROL] {
        s.app.emulator.add_phone(phone, accepts());
    }
    s.wait_schedule("ok").await;
    s.feed.set(None);

    // The next refresh (within 5 s) fails: still ready (200), but degraded, with the reason.
    let (code, ready) = s.wait_schedule("stale").await;
    assert_eq!(code, 200, "{ready}");
    assert_eq!(ready["status"], "degraded", "{ready}");
    let schedule = &ready["checks"]["schedules"]["default"];
    assert!(
        schedule["reason"].as_str().unwrap().contains("HTTP 500"),
        "{schedule}"
    );
    assert!(schedule["loaded_at_ms"].as_u64().unwrap() > 0, "{schedule}");
    let metrics = s
        .app
        .wait_for(
            "/metrics to show the schedule stale",
            Duration::from_secs(20),
            || async {
                let text = s.app.metrics_text().await;
                text.contains("denwa_schedule_stale{line=\"default\"} 1")
                    .then_some(text)
            },
        )
        .await;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from:\n{metrics}"))
    };
    assert!(value("denwa_schedule_refresh_failures_total{line=\"default\"}") >= 1.0);
    let loaded = value("denwa_schedule_last_success_timestamp_seconds{line=\"default\"}");
    let now = Utc::now().timestamp() as f64;
    assert!(loaded > now - 120.0 && loaded <= now, "{loaded} vs {now}");

    // The last good copy still says Alice.
    assert_eq!(
        s.on_call().await,
        json!({"source": "stale_schedule", "responders": ["Alice"]})
    );
    assert_eq!(s.ring_until_joined("Alice").await, [1, 0, 0]);
    let note = s.wait_note("On call now by the last good copy").await;
    assert!(note.contains(": Alice. Ringing them."), "{note}");

    // The feed comes back: fresh again.
    s.feed.set(Some(rotation()));
    let (_, ready) = s.wait_schedule("ok").await;
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn a_feed_that_never_loaded_rings_the_fallback() {
    let s = spawn(Feed::default()).await;
    for phone in [ALICE, BOB, CAROL] {
        s.app.emulator.add_phone(phone, accepts());
    }
    let (code, ready) = s
        .app
        .wait_for(
            "a failed first refresh",
            Duration::from_secs(30),
            || async {
                let (code, body) = s.app.readyz().await;
                let schedule = &body["checks"]["schedules"]["default"];
                (schedule["status"] == "never_loaded"
                    && schedule["reason"].as_str()?.contains("HTTP 500"))
                .then_some((code, body))
            },
        )
        .await;
    assert_eq!((code, &ready["status"]), (200, &Value::from("degraded")));
    assert!(!s.feed.requests.lock().unwrap().is_empty());
    assert_eq!(
        s.on_call().await,
        json!({"source": "fallback_not_loaded", "responders": ["Carol"]})
    );

    assert_eq!(s.ring_until_joined("Carol").await, [0, 0, 1]);
    let note = s.wait_note("The on-call schedule has not loaded yet").await;
    assert!(
        note.contains("ringing the fallback responders: Carol."),
        "{note}"
    );
}

#[tokio::test]
async fn nobody_on_call_rings_the_fallback() {
    // A rotation in which nobody in the directory is named.
    let feed = Feed::default();
    feed.set(Some(
        rotation().replace("Alice@Example.com", "dave@example.com"),
    ));
    let s = spawn(feed).await;
    for phone in [ALICE, BOB, CAROL] {
        s.app.emulator.add_phone(phone, accepts());
    }
    s.wait_schedule("ok").await;
    assert_eq!(
        s.on_call().await,
        json!({"source": "fallback_nobody_on_call", "responders": ["Carol"]})
    );
    assert_eq!(s.ring_until_joined("Carol").await, [0, 0, 1]);
    s.wait_note("Nobody is on call now by the schedule: ringing the fallback responders: Carol.")
        .await;
}

#[tokio::test]
async fn in_order_ringing_walks_only_those_on_call() {
    // Alice and Bob are both on call now; Alice is busy, so Bob is rung next, and Carol (not on
    // call, the fallback) never.
    let feed = Feed::default();
    feed.set(Some(rotation_from(-2)));
    let url = feed.serve().await;
    let s = spawn_reading(
        feed,
        &format!("url = \"{url}\""),
        &[("DENWA_LINE_RING", "in-order")],
    )
    .await;
    s.app.emulator.add_phone(ALICE, PhoneBehaviour::Busy);
    s.app.emulator.add_phone(BOB, accepts());
    s.app.emulator.add_phone(CAROL, accepts());
    s.wait_schedule("ok").await;
    assert_eq!(s.ring_until_joined("Bob").await, [1, 1, 0]);
    s.wait_note("On call now by the schedule: Alice, Bob. Ringing them.")
        .await;
}

#[tokio::test]
async fn a_feed_from_a_file_is_read_and_one_over_the_size_limit_is_refused() {
    let dir = std::env::temp_dir().join(format!("denwa-schedule-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("oncall.ics");
    std::fs::write(&path, rotation()).unwrap();
    let s = spawn_reading(
        Feed::default(),
        &format!("file = \"{}\"", path.display()),
        &[],
    )
    .await;
    s.app.emulator.add_phone(ALICE, accepts());
    s.wait_schedule("ok").await;
    assert_eq!(s.ring_until_joined("Alice").await, [1, 0, 0]);

    // A feed over 1 MiB (a comment-padded calendar) is refused, and the last good copy stays.
    let padding = format!("X-PAD:{}\r\n", "x".repeat(70)).repeat(16_000);
    std::fs::write(
        &path,
        rotation().replace("END:VCALENDAR", &format!("{padding}END:VCALENDAR")),
    )
    .unwrap();
    let (_, ready) = s.wait_schedule("stale").await;
    let reason = ready["checks"]["schedules"]["default"]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("larger than 1048576 bytes"), "{reason}");
}

#[tokio::test]
async fn replicas_share_one_refresh_per_period_and_ring_from_the_shared_copy() {
    let feed = Feed::default();
    feed.set(Some(rotation()));
    let url = feed.serve().await;
    let file = format!(
        "{DIRECTORY}\n[line.schedule]\nurl = \"{url}\"\nrefresh = 5\nfallback = [\"Carol\"]\n"
    );
    let app = spawn_replicas(2, &file, &[("DENWA_LINE_VOICEMAIL_AFTER", "0")]).await;
    for phone in [ALICE, BOB, CAROL] {
        app.emulator.add_phone(phone, accepts());
    }
    // Three reads of the feed: both replicas tick every second, but only the one holding the
    // lease (5 s) reads it, so three reads span at least two periods, 10 s (8 s allows for the
    // first request's own delay; a slow machine only spaces them further). Without the lease
    // they would come within a second or two.
    let requests = app
        .wait_for(
            "three reads of the feed",
            Duration::from_secs(40),
            || async {
                let requests = feed.requests.lock().unwrap().clone();
                (requests.len() >= 3).then_some(requests)
            },
        )
        .await;
    let spanned = requests[2] - requests[0];
    assert!(
        spanned >= Duration::from_secs(8),
        "three reads within {spanned:?}: the replicas did not share the refresh"
    );
    // Both replicas (the balancer alternates) see the shared copy, and ring by it.
    for _ in 0..2 {
        let (code, ready) = app.readyz().await;
        assert_eq!(code, 200);
        assert_eq!(
            ready["checks"]["schedules"]["default"]["status"], "ok",
            "{ready}"
        );
    }
    let (sid, _) = app.call_in(CALLER).await;
    app.wait_heard(&sid, &["Alice joined the call."]).await;
    assert!(app.legs_to(BOB).is_empty() && app.legs_to(CAROL).is_empty());
}

#[test]
fn check_names_the_schedule_keys_it_refuses() {
    let dir = std::env::temp_dir().join(format!("denwa-schedule-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("schedule.toml");
    let config = format!(
        "[server]\npublic_url = \"https://denwa.example.com\"\n[twilio]\n\
account_sid = \"{ACCOUNT_SID}\"\nnumber = \"+14155550100\"\n[line]\n\
[[line.responders]]\nname = \"Alice\"\nphone = \"+14155550101\"\nemail = \"not-an-address\"\n\
[line.schedule]\nurl = \"ftp://calendar.example.com/oncall.ics\"\nrefresh = 1\n\
fallback = [\"Zed\"]\ncolour = \"blue\"\n"
    );
    std::fs::write(&file, config).unwrap();
    let stderr = crate::cli::check_refuses(&file);
    for expected in [
        "line.schedule.url: \"ftp://calendar.example.com/oncall.ics\" is not an http(s) URL",
        "line.schedule.refresh: must be a whole number from 5 to 86400",
        "line.schedule.fallback: \"Zed\" is not the name of one of [[line.responders]]",
        "line.schedule.colour: unknown key",
        "line.responders[0].email: \"not-an-address\" is not an e-mail address",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from:\n{stderr}"
        );
    }

    // The environment sets the scalar keys, and wins over the file.
    let out = denwa()
        .args(["check", "--config"])
        .arg(&file)
        .env("DENWA_TWILIO_AUTH_TOKEN", "x")
        .env("DENWA_API_TOKEN", "y")
        .env(
            "DENWA_LINE_SCHEDULE_URL",
            "https://calendar.example.com/oncall.ics",
        )
        .env("DENWA_LINE_SCHEDULE_REFRESH", "600")
        .env("DENWA_LINE_SCHEDULE_FALLBACK", "Alice")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for gone in [
        "line.schedule.url",
        "line.schedule.refresh",
        "line.schedule.fallback",
    ] {
        assert!(!stderr.contains(gone), "{gone} still refused:\n{stderr}");
    }
    assert!(
        stderr.contains("line.schedule.colour: unknown key"),
        "{stderr}"
    );
}

/// Escalation on a line with a schedule: the schedule decides who is on call, each level rings
/// only its members who are (a level with none of them is passed at once).
#[tokio::test]
async fn escalation_levels_ring_only_their_members_the_schedule_puts_on_call() {
    let feed = Feed::default();
    feed.set(Some(rotation()));
    let url = feed.serve().await;
    let slack = FakeSlack::start(SLACK_TOKEN, SLACK_CHANNEL).await;
    let slack_base = slack.api_base();
    // Level 1 is Bob (not on call now); level 2 is Alice (on call) and Carol (the fallback, not
    // needed while someone is on call).
    let file = format!(
        "{DIRECTORY}\n[line.schedule]\nurl = \"{url}\"\nrefresh = 5\nfallback = [\"Carol\"]\n\
         [[line.escalation]]\nresponders = [\"Bob\"]\ntimeout = 60\n\
         [[line.escalation]]\nresponders = [\"Alice\", \"Carol\"]\ntimeout = 60\n"
    );
    let env = [
        ("DENWA_SLACK_CHANNEL", SLACK_CHANNEL),
        ("DENWA_SLACK_BOT_TOKEN", SLACK_TOKEN),
        ("DENWA_SLACK_SIGNING_SECRET", SLACK_SECRET),
        ("DENWA_SLACK_API_BASE", slack_base.as_str()),
    ];
    let app = spawn_app_with_file(&file, &env).await;
    let s = Scheduled { app, slack, feed };
    for phone in [ALICE, BOB, CAROL] {
        s.app.emulator.add_phone(phone, accepts());
    }
    s.wait_schedule("ok").await;

    assert_eq!(s.ring_until_joined("Alice").await, [1, 0, 0]);
    s.wait_note("On call now by the schedule: Alice.").await;
    s.wait_note("Nobody of level 1 could be rung: trying level 2. Ringing level 2: Alice.")
        .await;
    s.wait_note("Alice accepted the call (level 2).").await;
}
