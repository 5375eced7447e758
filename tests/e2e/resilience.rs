//! With Redis down, callers hear something sensible and nothing is reported stored that is not;
//! when Redis returns, denwa recovers without a restart.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::redis_server::RedisServer;

#[tokio::test]
async fn redis_outage_is_handled_and_recovered_from() {
    let mut app = spawn_app().await;
    let (_, call_id) = app.call_in(CALLER).await;

    app.redis.stop();

    let (status, body) = app.say(&call_id, "Are you there?").await;
    assert_eq!(status, 503, "{body}");
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    let sid = app
        .emulator
        .place_call("+14155550999", LINE, None)
        .await
        .unwrap();
    app.wait_for(
        "the turned-away call to end",
        Duration::from_secs(20),
        || async {
            app.emulator
                .call(&sid)
                .filter(|c| c.status == "completed")
                .map(|_| ())
        },
    )
    .await;
    assert_eq!(
        app.heard(&sid),
        vec![UNAVAILABLE],
        "the caller is told, in valid TwiML"
    );
    // Only the turned-away call is judged here: the first call's own callbacks (its conference
    // starting, a responder's leg) may land in the outage too, and 503 is their honest answer.
    let errors: Vec<_> = app
        .emulator
        .errors()
        .into_iter()
        .filter(|e| e.call_sid.as_deref() == Some(sid.as_str()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    app.redis.restart().await;
    app.wait_for("readiness", Duration::from_secs(20), || async {
        let r = app
            .http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    // A fresh Redis: a new call works end to end.
    let (sid, call_id) = app.call_in("+14155550777").await;
    let (status, _) = app.say(&call_id, "We are back.").await;
    assert_eq!(status, 202);
    app.wait_heard(&sid, &["We are back."]).await;
}

/// Redis stops for seven seconds while a speaker is saying a burst, and comes back with its data
/// (persistence on). The leg holds its place meanwhile: speech resumes within seconds of Redis
/// returning, every message is heard exactly once, in order, and replies sent right after the
/// outage follow on the same leg.
#[tokio::test]
async fn a_redis_outage_mid_speech_resumes_within_seconds_and_says_nothing_twice() {
    let far = far_side_with(RedisServer::start_persistent().await, TIME_SCALE).await;
    let mut app = spawn_app_on(far, "", &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let sentence = "This reply goes on for a while, so that the speaker is in the middle of it.";
    let before: Vec<String> = (1..=6)
        .map(|i| format!("Before the outage, part {i}. {}", sentence.repeat(4)))
        .collect();
    for text in &before {
        assert_eq!(app.say(&call_id, text).await.0, 202);
    }
    app.wait_heard(&sid, &[before[0].as_str()]).await;

    app.redis.stop();
    tokio::time::sleep(Duration::from_secs(7)).await;
    app.redis.restart().await;
    let back = Instant::now();

    let after: Vec<String> = (1..=6)
        .map(|i| format!("After the outage, reply {i}."))
        .collect();
    for text in &after {
        // The first requests after a restart may still meet the old connection.
        app.wait_for(
            "the say to be accepted",
            Duration::from_secs(10),
            || async { (app.say(&call_id, text).await.0 == 202).then_some(()) },
        )
        .await;
    }
    app.wait_heard(&sid, &[after[0].as_str()]).await;
    let resumed = back.elapsed();
    assert!(
        resumed < Duration::from_secs(10),
        "the first reply was heard {resumed:?} after Redis returned"
    );
    let expected: Vec<&str> = std::iter::once(GREETING)
        .chain(before.iter().chain(&after).map(String::as_str))
        .collect();
    let heard = app.wait_heard(&sid, &expected).await;
    assert_eq!(heard, expected, "each once, in order");
    assert_eq!(app.partly_heard(&sid), Vec::<String>::new());
    app.wait_for("every receipt", Duration::from_secs(10), || async {
        let messages = app.messages(&call_id).await;
        (messages.len() == 12 && messages.iter().all(|m| m["state"] == "spoken")).then_some(())
    })
    .await;
}
