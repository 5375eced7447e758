//! Speech is bounded: `speech.max_queued` messages waiting per call, `speech.max_per_minute`
//! accepted per call, both counted in Redis (so they hold across replicas), and a call's
//! messages read a page at a time.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use serde_json::Value;

use crate::helpers::*;
use crate::oncall::{ALICE, ALICE_ONLY, accepts};

/// A message that takes the emulated voice about `words` * 0.3 call-seconds to say (3 ms each
/// in the tests' time): long enough that the messages sent after it are still waiting.
fn long_message(n: usize, words: usize) -> String {
    let mut text = format!("Message {n}:");
    for _ in 0..words {
        text.push_str(" wait");
    }
    text
}

/// The ids of every message the API lists for the call, a page of `limit` at a time.
async fn all_pages(app: &TestApp, call_id: &str, limit: usize) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &after {
            Some(after) => format!("?limit={limit}&after={after}"),
            None => format!("?limit={limit}"),
        };
        let (status, page) = app
            .get_json(&format!("/calls/{call_id}/messages{query}"))
            .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let messages = page["messages"].as_array().unwrap();
        assert!(messages.len() <= limit, "{page}");
        ids.extend(
            messages
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(messages.len(), limit, "only a full page has a next");
                assert_eq!(Some(next), ids.last().map(String::as_str));
                after = Some(next.to_owned());
            }
            None => {
                assert!(page["next"].is_null(), "{page}");
                return (ids, pages);
            }
        }
    }
}

/// Sends `text`, which must be refused with 429; the error code.
async fn refused(app: &TestApp, call_id: &str, text: &str) -> String {
    let (status, body) = app.say(call_id, text).await;
    assert_eq!(status, 429, "{body}");
    body["error"].as_str().unwrap().to_owned()
}

/// Sends `text`; the id of the accepted message.
async fn accepted(app: &TestApp, call_id: &str, text: &str) -> String {
    let (status, body) = app.say(call_id, text).await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Waits until every message of the call is settled as spoken (a turn's batch is settled as a
/// whole, by the next turn: until then its messages still wait).
async fn all_spoken(app: &TestApp, call_id: &str) {
    app.wait_for(
        "every message to be spoken",
        Duration::from_secs(10),
        || async {
            app.messages(call_id)
                .await
                .iter()
                .all(|m| m["state"] == "spoken")
                .then_some(())
        },
    )
    .await;
}

fn ids(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_say_beyond_max_queued_is_refused_and_nothing_of_it_is_stored() {
    let app = spawn_app_with(&[("DENWA_SPEECH_MAX_QUEUED", "3")]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let texts: Vec<String> = (1..=3).map(|n| long_message(n, 150)).collect();
    let mut sent = Vec::new();
    for text in &texts {
        sent.push(accepted(&app, &call_id, text).await);
    }

    // Three are waiting or being spoken (the first takes about a second to say): the limit.
    let (status, body) = app.say(&call_id, "One too many.").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "queue_full", "{body}");
    assert_eq!(
        body["message"],
        "the caller already has 3 messages waiting to be spoken; send it again once some have been heard"
    );
    assert_eq!(
        ids(&app.messages(&call_id).await),
        sent,
        "nothing refused was stored"
    );
    assert_eq!(app.rejected("queue_full").await, 1.0);
    assert_eq!(app.rejected("rate_limited").await, 0.0);

    // Once they have been spoken there is room again: the limit is on what waits.
    let expected: Vec<&str> = texts.iter().map(String::as_str).collect();
    app.wait_heard(&sid, &expected).await;
    all_spoken(&app, &call_id).await;
    sent.push(accepted(&app, &call_id, "Room again.").await);
    let heard = app.wait_heard(&sid, &["Room again."]).await;
    assert!(!heard.iter().any(|h| h == "One too many."), "{heard:?}");
    assert_eq!(ids(&app.messages(&call_id).await), sent);
}

#[tokio::test]
async fn a_say_beyond_max_per_minute_is_refused_with_retry_after() {
    let app = spawn_app_with(&[("DENWA_SPEECH_MAX_PER_MINUTE", "3")]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    for text in ["One.", "Two.", "Three."] {
        accepted(&app, &call_id, text).await;
    }
    // Heard, so nothing waits: what refuses the next one is the minute, not the queue.
    app.wait_heard(&sid, &["One.", "Two.", "Three."]).await;

    let r = app
        .http
        .post(app.api(&format!("/calls/{call_id}/say")))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({ "text": "Four." }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry_after: u64 = r.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    // The oldest of the three was accepted a moment ago: its slot frees in about a minute.
    assert!(
        (50..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert_eq!(
        body["message"],
        format!("this call takes at most 3 messages a minute; try again in {retry_after} seconds")
    );
    assert_eq!(
        app.messages(&call_id).await.len(),
        3,
        "nothing refused was stored"
    );
    assert_eq!(app.rejected("rate_limited").await, 1.0);
    assert_eq!(app.rejected("queue_full").await, 0.0);

    // Per call: another call has its own minute.
    let (_, other) = app.call_in("+14155550199").await;
    accepted(&app, &other, "A fresh call.").await;
}

#[tokio::test]
async fn the_limits_hold_across_replicas() {
    // Round robin over two replicas: a count kept in each process would let twice as many by.
    let app = spawn_replicas(
        2,
        "",
        &[
            ("DENWA_SPEECH_MAX_QUEUED", "3"),
            ("DENWA_SPEECH_MAX_PER_MINUTE", "4"),
        ],
    )
    .await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let texts: Vec<String> = (1..=3).map(|n| long_message(n, 150)).collect();
    for text in &texts {
        accepted(&app, &call_id, text).await;
    }
    assert_eq!(
        refused(&app, &call_id, "Past the queue.").await,
        "queue_full"
    );

    let expected: Vec<&str> = texts.iter().map(String::as_str).collect();
    app.wait_heard(&sid, &expected).await;
    all_spoken(&app, &call_id).await;
    accepted(&app, &call_id, "The fourth of the minute.").await;
    assert_eq!(
        refused(&app, &call_id, "The fifth of the minute.").await,
        "rate_limited"
    );
    assert_eq!(app.messages(&call_id).await.len(), 4);
}

#[tokio::test]
async fn the_lines_own_announcements_pass_the_limits_and_do_not_use_them_up() {
    // A long greeting: the caller is not in the conference for about a second, so nothing can be
    // spoken meanwhile, and Alice (who accepts within a tenth of that) is in before them.
    let greeting = "Please stay on the line. ".repeat(60);
    let app = spawn_app_with_file(
        ALICE_ONLY,
        &[
            ("DENWA_SPEECH_MAX_QUEUED", "1"),
            ("DENWA_SPEECH_MAX_PER_MINUTE", "2"),
            ("DENWA_LINE_GREETING", greeting.trim()),
        ],
    )
    .await;
    app.emulator.add_phone(ALICE, accepts());
    let sid = app.emulator.place_call(CALLER, LINE, None).await.unwrap();
    let call_id = app.wait_for_call(CALLER, None).await;
    // Chat fills the queue before the caller is in.
    accepted(&app, &call_id, "Hello from chat.").await;
    assert_eq!(refused(&app, &call_id, "No room.").await, "queue_full");

    // The caller joins with Alice already there: the line tells them so, queue full or not.
    let announcements = ["The caller joined the call.", "Alice is on the call."];
    let heard = app.wait_heard(&sid, &announcements).await;
    assert_eq!(
        heard[1..],
        [["Hello from chat."].as_slice(), &announcements].concat()
    );
    let sources: Vec<Value> = app
        .messages(&call_id)
        .await
        .iter()
        .map(|m| m["source"].clone())
        .collect();
    assert_eq!(sources, ["api", "line", "line"]);

    // The announcements did not count against chat's minute: its second message is taken, and
    // only a third is one too many.
    all_spoken(&app, &call_id).await;
    accepted(&app, &call_id, "Second from chat.").await;
    app.wait_heard(&sid, &["Second from chat."]).await;
    all_spoken(&app, &call_id).await;
    assert_eq!(
        refused(&app, &call_id, "Third from chat.").await,
        "rate_limited"
    );
}

#[tokio::test]
async fn messages_are_listed_a_page_at_a_time_each_once() {
    let app = spawn_app_with(&[
        ("DENWA_SPEECH_MAX_QUEUED", "1000"),
        ("DENWA_SPEECH_MAX_PER_MINUTE", "1000"),
    ])
    .await;
    let (_, call_id) = app.call_in(CALLER).await;
    let mut sent = Vec::new();
    for n in 1..=101 {
        sent.push(accepted(&app, &call_id, &format!("Number {n}.")).await);
    }

    // Without a limit: the first 100, and where to continue.
    let (status, page) = app.get_json(&format!("/calls/{call_id}/messages")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(page["messages"].as_array().unwrap()), sent[..100]);
    assert_eq!(page["next"], sent[99].as_str());
    let (_, last) = app
        .get_json(&format!("/calls/{call_id}/messages?after={}", sent[99]))
        .await;
    assert_eq!(ids(last["messages"].as_array().unwrap()), sent[100..]);
    assert!(last["next"].is_null(), "{last}");

    for limit in [1, 7, 101, 1000] {
        let (listed, pages) = all_pages(&app, &call_id, limit).await;
        assert_eq!(listed, sent, "limit {limit}: every message once, in order");
        assert_eq!(pages, 101usize.div_ceil(limit), "limit {limit}");
    }

    let (_, other) = app.call_in("+14155550199").await;
    let elsewhere = accepted(&app, &other, "Another call's.").await;
    for query in [
        "limit=0".to_owned(),
        "limit=1001".to_owned(),
        "limit=ten".to_owned(),
        "limt=10".to_owned(),
        "after=12345".to_owned(),
        "after=m0000000000000000".to_owned(),
        format!("after={elsewhere}"),
    ] {
        let (status, body) = app
            .get_json(&format!("/calls/{call_id}/messages?{query}"))
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"], "invalid", "{query}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty(), "{body}");
    }
}
