//! A soak: thousands of messages on many calls across three replicas, with Redis restarted once
//! in the middle. Nothing lost, nothing doubled, every call's messages in order. Prints its
//! figures (run with `--no-capture` to see them).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::redis_server::RedisServer;

const CALLS: usize = 10;
const PER_CALL: usize = 300;
const REPLICAS: usize = 3;
/// Redis is stopped once this many messages have been accepted, for [`OUTAGE`].
const RESTART_AFTER: usize = CALLS * PER_CALL / 3;
const OUTAGE: Duration = Duration::from_secs(1);

fn text(call: usize, n: usize) -> String {
    format!("Soak call {call}, message {n}.")
}

#[tokio::test]
async fn thousands_of_messages_across_replicas_and_a_redis_restart_are_heard_once_in_order() {
    let far = far_side_with(RedisServer::start_persistent().await, TIME_SCALE).await;
    let mut app = spawn_replicas_on(
        far,
        REPLICAS,
        "",
        &[
            ("DENWA_SPEECH_MAX_PER_MINUTE", "10000"),
            ("DENWA_SPEECH_MAX_QUEUED", "10000"),
        ],
    )
    .await;
    let mut calls = Vec::new();
    for c in 0..CALLS {
        calls.push(app.call_in(&format!("+1415555{:04}", 1000 + c)).await);
    }

    let accepted = Arc::new(AtomicUsize::new(0));
    let retried = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for (c, (_, call_id)) in calls.iter().enumerate() {
        let (http, url) = (app.http.clone(), app.api(&format!("/calls/{call_id}/say")));
        let (accepted, retried) = (accepted.clone(), retried.clone());
        senders.push(tokio::spawn(async move {
            for n in 1..=PER_CALL {
                let body =
                    serde_json::json!({ "text": text(c, n), "reference": format!("{c}-{n}") });
                // One at a time, each until accepted (a 503 while Redis is away stores
                // nothing; a lost answer is made good by the reference): the order is defined.
                let mut tries = 0;
                loop {
                    tries += 1;
                    assert!(tries < 1_000, "call {c} message {n} never accepted");
                    let sent = http
                        .post(&url)
                        .bearer_auth(API_TOKEN)
                        .json(&body)
                        .send()
                        .await;
                    if sent.is_ok_and(|r| r.status() == 202) {
                        break;
                    }
                    retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                accepted.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    while accepted.load(Ordering::Relaxed) < RESTART_AFTER {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.redis.stop();
    let stopped_at = Instant::now();
    tokio::time::sleep(OUTAGE).await;
    app.redis.restart().await;

    for sender in senders {
        sender.await.unwrap();
    }
    let all_accepted = started.elapsed();
    for (c, (sid, _)) in calls.iter().enumerate() {
        let expected: Vec<String> = (1..=PER_CALL).map(|n| text(c, n)).collect();
        let heard = app
            .wait_for(
                &format!("call {c} to hear its {PER_CALL} messages"),
                Duration::from_secs(120),
                || async {
                    let heard = app.heard(sid);
                    (heard.len() > PER_CALL).then_some(heard)
                },
            )
            .await;
        assert_eq!(heard[0], GREETING);
        assert!(
            heard[1..] == expected[..],
            "call {c}: heard {} messages, first difference at {:?}",
            heard.len() - 1,
            heard[1..].iter().zip(&expected).position(|(h, e)| h != e)
        );
        assert!(app.partly_heard(sid).is_empty(), "call {c}: words lost");
    }
    let all_heard = started.elapsed();
    let legs = app.speaker_legs();
    println!(
        "soak: {} messages on {CALLS} calls through {REPLICAS} replicas; Redis stopped after {} \
         for {:?} (restarted at {:?}); {} requests refused and retried; all accepted in {:?}, \
         all heard once and in order in {:?}; {legs} speaker legs",
        CALLS * PER_CALL,
        RESTART_AFTER,
        OUTAGE,
        stopped_at.duration_since(started) + OUTAGE,
        retried.load(Ordering::Relaxed),
        all_accepted,
        all_heard,
    );
    for (_, call_id) in &calls {
        let messages = app.messages(call_id).await;
        assert_eq!(messages.len(), PER_CALL, "stored once each");
    }
}
