//! Ghost calls: one Twilio CallSid is one call however often Twilio asks about it, a call whose
//! final callbacks were lost is ended once Twilio says it is over, and no retry against a dead
//! call goes on for ever.

use std::time::Duration;

use denwa_twilio_emulator::CallEventKind;

use crate::fake_slack::FakeSlack;
use crate::helpers::*;

const CHANNEL: &str = "C0GHOSTS1";
const BOT_TOKEN: &str = "xoxb-ghost-test-token";

/// A fake Slack, and the settings that point denwa at it.
async fn fake_slack() -> (FakeSlack, Vec<(&'static str, String)>) {
    let slack = FakeSlack::start(BOT_TOKEN, CHANNEL).await;
    let env = vec![
        ("DENWA_SLACK_CHANNEL", CHANNEL.to_owned()),
        ("DENWA_SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
        (
            "DENWA_SLACK_SIGNING_SECRET",
            "ghost-test-signing-secret".to_owned(),
        ),
        ("DENWA_SLACK_API_BASE", slack.api_base()),
    ];
    (slack, env)
}

fn borrowed<'a>(pairs: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The announcements (channel messages, not thread replies) of call `call_id`.
fn announcements(slack: &FakeSlack, call_id: &str) -> Vec<serde_json::Value> {
    slack
        .answered("chat.postMessage")
        .into_iter()
        .filter(|c| c.params["thread_ts"].is_null())
        .filter(|c| c.params["blocks"].to_string().contains(call_id))
        .map(|c| c.response)
        .collect()
}

/// The thread of call `call_id`'s announcement, once it is posted.
async fn announced_thread(app: &TestApp, slack: &FakeSlack, call_id: &str) -> String {
    app.wait_for("the announcement", Duration::from_secs(10), || async {
        announcements(slack, call_id)
            .first()
            .map(|a| a["ts"].as_str().unwrap().to_owned())
    })
    .await
}

/// Waits for a post in `thread` that says `words`.
async fn wait_for_thread_post(app: &TestApp, slack: &FakeSlack, thread: &str, words: &str) {
    app.wait_for(
        &format!("{words:?} in the thread"),
        Duration::from_secs(10),
        || async {
            slack
                .calls("chat.postMessage")
                .iter()
                .any(|p| p["thread_ts"] == thread && p["text"].as_str().unwrap().contains(words))
                .then_some(())
        },
    )
    .await;
}

/// The voice webhook Twilio sent for the call `sid`: (its parameters, denwa's answer).
pub(crate) fn voice_webhook(app: &TestApp, sid: &str) -> (Vec<(String, String)>, String) {
    app.emulator
        .events(sid)
        .into_iter()
        .find_map(|e| match e.kind {
            CallEventKind::Webhook {
                purpose,
                params,
                response_body: Some(body),
                ..
            } if purpose == "voice" => Some((params, body)),
            _ => None,
        })
        .expect("Twilio asked the line about the call")
}

/// Ids of the active calls whose caller leg is `sid`.
async fn calls_of_sid(app: &TestApp, sid: &str) -> Vec<String> {
    let (status, body) = app.get_json("/calls").await;
    assert_eq!(status, 200, "{body}");
    body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call_sid"] == sid)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asks the line about a call as Twilio does, `times` times at once; returns the answers.
async fn ask_at_once(app: &TestApp, params: &[(String, String)], times: usize) -> Vec<String> {
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let asks = (0..times).map(|_| app.post_signed("/twilio/voice", &params, AUTH_TOKEN));
    let mut answers = Vec::new();
    for response in futures::future::join_all(asks).await {
        assert_eq!(response.status(), 200);
        answers.push(response.text().await.unwrap());
    }
    answers
}

#[tokio::test]
async fn a_repeated_voice_webhook_is_the_same_call_answered_alike_and_announced_once() {
    let (slack, env) = fake_slack().await;
    let app = spawn_replicas(2, "", &borrowed(&env)).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let (params, first_answer) = voice_webhook(&app, &sid);

    // Twilio retries the webhook: the same caller, the same conference, on either replica.
    for answer in ask_at_once(&app, &params, 3).await {
        assert_eq!(answer, first_answer);
    }
    assert_eq!(calls_of_sid(&app, &sid).await, vec![call_id.clone()]);

    // A new call whose first webhook arrives three times at once, on both replicas.
    let new_sid = "CA0123456789abcdef0123456789abc001";
    let params: Vec<(String, String)> = params
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "CallSid" => (k, new_sid.to_owned()),
            _ => (k, v),
        })
        .collect();
    let answers = ask_at_once(&app, &params, 3).await;
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:#?}");
    let new_calls = calls_of_sid(&app, new_sid).await;
    assert_eq!(new_calls.len(), 1, "{new_calls:?}");
    assert!(answers[0].contains(&format!("denwa-{}", new_calls[0])));

    for id in [&call_id, &new_calls[0]] {
        announced_thread(&app, &slack, id).await;
    }
    // Announcements are posted off the webhook's path: give a second one time to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in [&call_id, &new_calls[0]] {
        assert_eq!(announcements(&slack, id).len(), 1, "call {id}");
    }
}

/// Whether Twilio's final status callback for `sid` reached denwa and was refused.
fn final_callback_refused(app: &TestApp, sid: &str) -> bool {
    app.emulator.events(sid).into_iter().any(|e| {
        matches!(e.kind, CallEventKind::Webhook { purpose, params, response_status, .. }
            if purpose == "status-callback"
                && params.iter().any(|(k, v)| k == "CallStatus" && v == "completed")
                && response_status.is_some_and(|s| s >= 500))
    })
}

/// The questions denwa asked Twilio about call `sid`, and when.
fn status_checks(app: &TestApp, sid: &str) -> Vec<std::time::SystemTime> {
    let path = format!("/Calls/{sid}.json");
    app.emulator
        .rest_requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&path))
        .map(|r| r.at)
        .collect()
}

#[tokio::test]
async fn a_call_whose_end_was_lost_while_redis_was_down_is_ended_once_twilio_says_it_is_over() {
    let (slack, mut env) = fake_slack().await;
    env.push(("DENWA_LINE_STATUS_CHECK_AFTER", "1".to_owned()));
    let mut app = spawn_app_persistent(&borrowed(&env)).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let thread = announced_thread(&app, &slack, &call_id).await;

    // The caller hangs up while Redis is down: Twilio's callbacks about it are refused, and
    // Twilio never sends them again.
    app.redis.stop();
    app.emulator.hangup(&sid).await;
    app.wait_for("the final callback", Duration::from_secs(10), || async {
        final_callback_refused(&app, &sid).then_some(())
    })
    .await;
    app.redis.restart().await;
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "connected", "Redis kept the call: {call}");

    let ended = app
        .wait_for("the call to be ended", Duration::from_secs(10), || async {
            let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
            (call["state"] == "ended").then_some(call)
        })
        .await;
    assert!(!status_checks(&app, &sid).is_empty(), "Twilio was asked");
    assert!(ended["ended_at"].as_u64().is_some(), "{ended}");
    let (_, active) = app.get_json("/calls").await;
    assert_eq!(active["calls"], serde_json::json!([]));
    // The chat hears of the end as of any other.
    wait_for_thread_post(&app, &slack, &thread, "The call ended").await;

    // Twilio asking about the call again now (a late retry, a replay) starts nothing.
    let (params, _) = voice_webhook(&app, &sid);
    let answer = ask_at_once(&app, &params, 1).await.remove(0);
    assert!(
        answer.contains("<Hangup/>") && !answer.contains("<Dial>"),
        "{answer}"
    );
    let (_, active) = app.get_json("/calls").await;
    assert_eq!(active["calls"], serde_json::json!([]));
}

#[tokio::test]
async fn twilio_is_asked_about_each_quiet_call_at_most_once_per_period_across_replicas() {
    let app = spawn_replicas(2, "", &[("DENWA_LINE_STATUS_CHECK_AFTER", "1")]).await;
    // Calls Twilio keeps no record of: asked about, never ended.
    let sids: Vec<String> = (0..3)
        .map(|i| format!("CA0123456789abcdef0123456789abc{i:03}"))
        .collect();
    for sid in &sids {
        ghost_call(&app, sid, LINE).await;
    }
    tokio::time::sleep(Duration::from_millis(3_600)).await;
    for sid in &sids {
        let asked = status_checks(&app, sid);
        assert!((2..=4).contains(&asked.len()), "{sid}: {asked:?}");
        for pair in asked.windows(2) {
            let gap = pair[1].duration_since(pair[0]).unwrap();
            // The claim is taken a moment before each question goes out.
            assert!(
                gap >= Duration::from_millis(900),
                "{sid}: asked again after {gap:?}"
            );
        }
        assert_eq!(calls_of_sid(&app, sid).await.len(), 1, "not ended: {sid}");
    }
}

/// Each line asks Twilio about its quiet calls after its own `status_check_after`: a line's
/// table sets it like any `[line]` key.
#[tokio::test]
async fn each_line_asks_twilio_about_its_quiet_calls_after_its_own_period() {
    const QUICK: &str = "+15005550007";
    let lines = format!(
        "status_check_after = 100\n[[lines]]\nid = \"quick\"\nnumber = \"{QUICK}\"\nstatus_check_after = 1\n"
    );
    let app = spawn_app_with_file(&lines, &[("DENWA_LINE_VOICEMAIL_AFTER", "0")]).await;
    let slow = "CA0123456789abcdef0123456789abc001";
    let quick = "CA0123456789abcdef0123456789abc002";
    ghost_call(&app, slow, LINE).await;
    ghost_call(&app, quick, QUICK).await;
    app.wait_for(
        "the quick line's call asked about twice",
        Duration::from_secs(10),
        || async { (status_checks(&app, quick).len() >= 2).then_some(()) },
    )
    .await;
    let asked = status_checks(&app, slow);
    assert!(
        asked.is_empty(),
        "the default line waits its own 100 s: {asked:?}"
    );
}

/// Asks line `to` about a call Twilio keeps no record of, as Twilio would about a real one.
async fn ghost_call(app: &TestApp, sid: &str, to: &str) {
    let params = [
        ("AccountSid", ACCOUNT_SID),
        ("CallSid", sid),
        ("From", CALLER),
        ("To", to),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
    ];
    let r = app.post_signed("/twilio/voice", &params, AUTH_TOKEN).await;
    assert_eq!(r.status(), 200);
}

/// The times denwa asked Twilio to move call `sid` to voicemail.
fn voicemail_redirects(app: &TestApp, sid: &str) -> usize {
    let path = format!("/Calls/{sid}.json");
    app.emulator
        .rest_requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(&path))
        .filter(|r| {
            r.params
                .iter()
                .any(|(k, v)| k == "Url" && v.contains("/twilio/voicemail"))
        })
        .count()
}

#[tokio::test]
async fn voicemail_is_tried_a_bounded_number_of_times_on_a_call_twilio_cannot_move() {
    let (slack, mut env) = fake_slack().await;
    env.push(("DENWA_LINE_VOICEMAIL_AFTER", "1".to_owned()));
    let app = spawn_app_with(&borrowed(&env)).await;
    let sid = "CA0123456789abcdef0123456789abc100";
    ghost_call(&app, sid, LINE).await;
    let call_id = calls_of_sid(&app, sid).await.remove(0);
    let thread = announced_thread(&app, &slack, &call_id).await;

    wait_for_thread_post(&app, &slack, &thread, "could not be offered voicemail").await;
    let tries = voicemail_redirects(&app, sid);
    assert_eq!(tries, 3);
    // The sweep runs four times a second here: it would have tried again by now.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(voicemail_redirects(&app, sid), tries);
}
