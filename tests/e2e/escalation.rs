//! Escalation: levels of responders rung in turn, the sequence repeated, then voicemail; a
//! responder pressing 2 passes the call on; every step in the call's Slack thread; the step
//! carried on by another replica, or by the process that replaced a killed one.

use std::time::Duration;

use denwa_twilio_emulator::{Heard, PhoneBehaviour};
use serde_json::Value;

use crate::fake_slack::FakeSlack;
use crate::helpers::*;
use crate::oncall::{ALICE, BOB, accepts};
use crate::operations::value;
use crate::serve_process::{ServeProcess, free_port};

const CHANNEL: &str = "C0CALLS01";
const BOT_TOKEN: &str = "xoxb-test-bot-token";

/// Alice is level 1 and Bob level 2, each given `timeout` seconds.
fn two_levels(timeout: u32) -> String {
    format!(
        r#"
[[line.responders]]
name = "Alice"
phone = "{ALICE}"
[[line.responders]]
name = "Bob"
phone = "{BOB}"
[[line.escalation]]
responders = ["Alice"]
timeout = {timeout}
[[line.escalation]]
responders = ["Bob"]
ring = "in-order"
timeout = {timeout}
"#
    )
}

fn slack_env(slack: &FakeSlack) -> Vec<(&'static str, String)> {
    vec![
        ("DENWA_SLACK_CHANNEL", CHANNEL.into()),
        ("DENWA_SLACK_BOT_TOKEN", BOT_TOKEN.into()),
        (
            "DENWA_SLACK_SIGNING_SECRET",
            "8f742231b10e8888abcd99yyyzzz85a5".into(),
        ),
        ("DENWA_SLACK_API_BASE", slack.api_base()),
    ]
}

/// The escalation notes posted in the thread of call `call_id`'s announcement, in order.
fn escalation_notes(slack: &FakeSlack, call_id: &str) -> Vec<String> {
    let posts = slack.calls("chat.postMessage");
    let Some(ts) = slack
        .answered("chat.postMessage")
        .into_iter()
        .find(|c| c.params["blocks"].to_string().contains(call_id))
        .and_then(|c| c.response["ts"].as_str().map(str::to_owned))
    else {
        return Vec::new();
    };
    posts
        .iter()
        .filter(|p| p["thread_ts"] == Value::String(ts.clone()))
        .filter_map(|p| p["text"].as_str()?.strip_prefix(":telephone_receiver: "))
        .map(str::to_owned)
        .collect()
}

async fn wait_notes(app: &TestApp, slack: &FakeSlack, call_id: &str, count: usize) -> Vec<String> {
    app.wait_for(
        &format!("{count} escalation notes in the thread"),
        Duration::from_secs(60),
        || async {
            let notes = escalation_notes(slack, call_id);
            (notes.len() >= count).then_some(notes)
        },
    )
    .await
}

#[tokio::test]
async fn two_levels_repeated_once_then_voicemail_across_two_replicas_each_step_once_in_the_thread()
{
    let slack = FakeSlack::start(BOT_TOKEN, CHANNEL).await;
    let env = slack_env(&slack);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("DENWA_LINE_ESCALATION_REPEAT", "1"));
    // Both replicas sweep: each level's end is seen by both, and moves the call once.
    let app = spawn_replicas(2, &two_levels(5), &env).await;
    app.emulator.add_phone(ALICE, PhoneBehaviour::NoAnswer);
    app.emulator.add_phone(BOB, PhoneBehaviour::NoAnswer);
    let (sid, call_id) = app.call_in(CALLER).await;

    let notes = wait_notes(&app, &slack, &call_id, 5).await;
    assert_eq!(
        notes,
        vec![
            "Ringing level 1: Alice.",
            "Nobody answered level 1: trying level 2. Ringing level 2: Bob.",
            "Nobody answered level 2: repeating from level 1 (round 2 of 2). Ringing level 1: Alice.",
            "Nobody answered level 1: trying level 2. Ringing level 2: Bob.",
            "Nobody answered level 2: to voicemail.",
        ]
    );
    app.wait_for_the_beep(&sid).await;
    assert_eq!(app.legs_to(ALICE).len(), 2, "level 1 rung once per round");
    assert_eq!(app.legs_to(BOB).len(), 2, "level 2 rung once per round");
    // Bob (level 2) is rung only after Alice's level is over, each round.
    let (alice, bob) = (app.legs_to(ALICE), app.legs_to(BOB));
    assert!(alice[0].date_created <= bob[0].date_created);
    assert!(bob[0].date_created <= alice[1].date_created);
    assert!(alice[1].date_created <= bob[1].date_created);
    // Nothing more happens once the caller is in voicemail.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(escalation_notes(&slack, &call_id).len(), 5);
    assert_eq!(app.legs_to(ALICE).len() + app.legs_to(BOB).len(), 4);
}

#[tokio::test]
async fn pressing_2_passes_the_call_to_the_next_level_at_once() {
    let slack = FakeSlack::start(BOT_TOKEN, CHANNEL).await;
    let env = slack_env(&slack);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // A level's time far beyond the test's: only the press of 2 can move the call on.
    // The emulator at a tenth of real time: Alice has a real second to press after the prompt.
    let app = spawn_app_at(0.1, &two_levels(600), &env).await;
    app.emulator.add_phone(ALICE, PhoneBehaviour::Answer);
    app.emulator.add_phone(BOB, accepts());
    let (sid, call_id) = app.call_in(CALLER).await;

    // Alice hears the whole prompt, then presses 2.
    let said = |leg: &str| -> Vec<String> {
        app.emulator
            .transcript(leg)
            .into_iter()
            .filter_map(|h| match h {
                Heard::Say { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    };
    let alice = app
        .wait_for(
            "Alice to hear the whole prompt",
            Duration::from_secs(20),
            || async {
                let alice = app.legs_to(ALICE).pop()?;
                said(&alice.sid)
                    .iter()
                    .any(|t| {
                        t.starts_with("Call for Test line from")
                            && t.ends_with("Press 1 to accept, or 2 to pass it on.")
                    })
                    .then_some(alice)
            },
        )
        .await;
    assert!(app.legs_to(BOB).is_empty(), "level 2 waits");
    app.emulator.press(&alice.sid, "2").await;

    app.wait_heard(&sid, &["Bob joined the call."]).await;
    let notes = wait_notes(&app, &slack, &call_id, 3).await;
    assert_eq!(
        notes,
        vec![
            "Ringing level 1: Alice.",
            "Alice passed the call on: trying level 2. Ringing level 2: Bob.",
            "Bob accepted the call (level 2).",
        ]
    );
    app.wait_for("Alice to be told", Duration::from_secs(20), || async {
        said(&alice.sid)
            .iter()
            .any(|t| t == "Passed on to the next level. Goodbye.")
            .then_some(())
    })
    .await;
    assert_eq!(app.wait_leg_ended(ALICE).await, "completed");
    assert!(
        app.in_conference(&alice.sid).is_none(),
        "Alice passed: not in the call"
    );
    assert_eq!(app.legs_to(BOB).len(), 1);
    // /metrics counts each step once, by why it was taken.
    let (_, samples) = app.metrics().await;
    let steps = |step: &str| {
        value(
            &samples,
            "denwa_escalation_steps_total",
            &[("line", "default"), ("step", step)],
        )
    };
    assert_eq!(
        ["first", "passed", "accepted", "timed_out", "exhausted"].map(steps),
        [Some(1.0), Some(1.0), Some(1.0), None, None]
    );
}

#[tokio::test]
async fn a_killed_process_mid_level_loses_no_step_its_replacement_rings_the_next_level() {
    let (redis, emulator) = far_side(TIME_SCALE).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    add_number(&emulator, LINE, &base);
    let file = two_levels(5);
    let mut first = ServeProcess::start_with_file(port, &base, &redis, &emulator, &file, &[]).await;
    let app = TestApp {
        base,
        emulator,
        redis,
        http: reqwest::Client::new(),
    };
    app.emulator.add_phone(ALICE, PhoneBehaviour::NoAnswer);
    app.emulator.add_phone(BOB, accepts());
    let (sid, _) = app.call_in(CALLER).await;
    app.wait_for("level 1 to ring Alice", Duration::from_secs(20), || async {
        (!app.legs_to(ALICE).is_empty()).then_some(())
    })
    .await;
    first.kill();
    first.exited_within(Duration::from_secs(10)).await;
    assert!(
        app.legs_to(BOB).is_empty(),
        "level 2 waits for level 1's time"
    );

    let _second =
        ServeProcess::start_with_file(port, &app.base, &app.redis, &app.emulator, &file, &[]).await;
    // The new process's sweep finds level 1's time up and rings level 2; Bob takes the call.
    // (The caller's own conference events may have gone to the killed process: Bob's joining
    // is looked for in the conference, not in what the caller heard.)
    app.wait_for(
        "Bob in the caller's conference",
        Duration::from_secs(30),
        || async {
            let bob = app.legs_to(BOB).pop()?;
            let conference = app
                .emulator
                .conferences()
                .into_iter()
                .find(|c| c.participants.iter().any(|p| p.call_sid == sid))?;
            conference
                .participants
                .iter()
                .any(|p| p.call_sid == bob.sid)
                .then_some(())
        },
    )
    .await;
    assert_eq!(app.legs_to(ALICE).len(), 1);
    assert_eq!(app.legs_to(BOB).len(), 1);
}

#[test]
fn check_names_each_bad_escalation_key() {
    let dir = std::env::temp_dir().join(format!("denwa-escalation-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("escalation.toml");
    std::fs::write(
        &file,
        r#"
[line]
escalation_repeat = 9
[[line.responders]]
name = "Alice"
phone = "+14155550101"
[[line.escalation]]
responders = ["Alice"]
ring = "sometimes"
timeout = 1
[[line.escalation]]
responders = ["Zed"]
"#,
    )
    .unwrap();
    let stderr = crate::cli::check_refuses(&file);
    for expected in [
        "line.escalation[1].responders: no responder named \"Zed\"",
        "line.escalation[0].ring",
        "line.escalation[0].timeout",
        "line.escalation_repeat",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected} missing from:\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
