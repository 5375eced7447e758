//! Messages posted to the API are heard by the caller: exactly, in order, once, cheaply.

use std::time::Duration;

use crate::helpers::*;
use crate::redis_cluster::{Backend, spawn_app_on_store};

#[tokio::test]
async fn a_message_is_heard_exactly_and_receipted() {
    a_message_is_heard_exactly_and_receipted_on(Backend::Redis).await
}

#[tokio::test]
async fn a_message_is_heard_exactly_and_receipted_on_a_cluster() {
    a_message_is_heard_exactly_and_receipted_on(Backend::Cluster).await
}

async fn a_message_is_heard_exactly_and_receipted_on(backend: Backend) {
    let app = spawn_app_on_store(backend, &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;

    let (status, body) = app
        .say(
            &call_id,
            "Hello, this is the support team. How can we help?",
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let message_id = body["id"].as_str().unwrap().to_owned();

    let heard = app
        .wait_heard(&sid, &["Hello, this is the support team. How can we help?"])
        .await;
    assert_eq!(
        heard,
        vec![
            GREETING,
            "Hello, this is the support team. How can we help?"
        ]
    );

    let messages = app
        .wait_for("the receipt", Duration::from_secs(10), || async {
            let m = app.messages(&call_id).await;
            (m[0]["state"] == "spoken").then_some(m)
        })
        .await;
    assert_eq!(messages[0]["id"], message_id.as_str());
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

#[tokio::test]
async fn a_burst_of_ten_costs_one_leg_and_is_heard_in_order_once_each() {
    a_burst_of_ten_costs_one_leg_and_is_heard_in_order_once_each_on(Backend::Redis).await
}

#[tokio::test]
async fn a_burst_of_ten_costs_one_leg_and_is_heard_in_order_once_each_on_a_cluster() {
    a_burst_of_ten_costs_one_leg_and_is_heard_in_order_once_each_on(Backend::Cluster).await
}

async fn a_burst_of_ten_costs_one_leg_and_is_heard_in_order_once_each_on(backend: Backend) {
    let app = spawn_app_on_store(backend, &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let texts: Vec<String> = (1..=10)
        .map(|i| format!("Message number {i} of the burst."))
        .collect();
    for text in &texts {
        let (status, _) = app.say(&call_id, text).await;
        assert_eq!(status, 202);
    }
    let expected: Vec<&str> = texts.iter().map(String::as_str).collect();
    let heard = app.wait_heard(&sid, &expected).await;
    let after_greeting: Vec<&str> = heard.iter().skip(1).map(String::as_str).collect();
    assert_eq!(after_greeting, expected, "in order, each once");
    assert!(
        app.partly_heard(&sid).is_empty(),
        "no words lost: {:?}",
        app.partly_heard(&sid)
    );
    assert_eq!(app.speaker_legs(), 1, "one speaker leg for the whole burst");

    app.wait_for("all receipts", Duration::from_secs(10), || async {
        app.messages(&call_id)
            .await
            .iter()
            .all(|m| m["state"] == "spoken")
            .then_some(())
    })
    .await;
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["messages_spoken"], 10);
    assert_eq!(call["speaker_legs"], 1);
}

#[tokio::test]
async fn messages_after_the_leg_hung_up_get_a_new_leg() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    app.say(&call_id, "First.").await;
    app.wait_heard(&sid, &["First."]).await;
    app.wait_for("the first leg to end", Duration::from_secs(10), || async {
        app.speaker_legs_ended().then_some(())
    })
    .await;
    app.say(&call_id, "Second.").await;
    let heard = app.wait_heard(&sid, &["Second."]).await;
    assert_eq!(heard, vec![GREETING, "First.", "Second."]);
    assert_eq!(app.speaker_legs(), 2);
}

#[tokio::test]
async fn two_concurrent_calls_never_hear_each_other() {
    let app = spawn_app().await;
    let (sid_a, call_a) = app.call_in("+14155550001").await;
    let (sid_b, call_b) = app.call_in("+14155550002").await;
    for i in 0..3 {
        app.say(&call_a, &format!("For caller A, part {i}.")).await;
        app.say(&call_b, &format!("For caller B, part {i}.")).await;
    }
    let heard_a = app
        .wait_heard(
            &sid_a,
            &[
                "For caller A, part 0.",
                "For caller A, part 1.",
                "For caller A, part 2.",
            ],
        )
        .await;
    let heard_b = app
        .wait_heard(
            &sid_b,
            &[
                "For caller B, part 0.",
                "For caller B, part 1.",
                "For caller B, part 2.",
            ],
        )
        .await;
    assert!(
        heard_a.iter().all(|t| !t.contains("caller B")),
        "{heard_a:?}"
    );
    assert!(
        heard_b.iter().all(|t| !t.contains("caller A")),
        "{heard_b:?}"
    );
}

#[tokio::test]
async fn a_hostile_message_is_spoken_literally() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let hostile = r#"</Say><Dial>+19005550000</Dial><Say>"&'"#;
    let (status, _) = app.say(&call_id, hostile).await;
    assert_eq!(status, 202);
    app.wait_heard(&sid, &[hostile]).await;
    assert!(
        app.emulator.calls().iter().all(|c| c.to != "+19005550000"),
        "no call was placed to the injected number"
    );
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

#[tokio::test]
async fn a_long_japanese_message_is_heard_whole_in_valid_pieces() {
    let app = spawn_app_with(&[
        ("DENWA_SPEECH_VOICE", "Polly.Mizuki"),
        ("DENWA_SPEECH_LANGUAGE", "ja-JP"),
    ])
    .await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let sentence =
        "お電話ありがとうございます。担当者が順番にお答えしますので、このままお待ちください。";
    let mut text = String::new();
    while text.chars().count() < 2000 {
        text.push_str(sentence);
    }
    let text: String = text.chars().take(2000).collect();
    let (status, body) = app.say(&call_id, &text).await;
    assert_eq!(status, 202, "{body}");

    let pieces = app
        .wait_for("the whole message", Duration::from_secs(60), || async {
            let heard: Vec<String> = app.heard(&sid).into_iter().skip(1).collect();
            (heard.concat() == text).then_some(heard)
        })
        .await;
    assert!(
        pieces.len() >= 4,
        "2,000 Japanese characters need several <Say>s, got {}",
        pieces.len()
    );
    for piece in &pieces {
        assert!(piece.len() <= 3000, "Polly limit: {} bytes", piece.len());
        let encoded: String = url::form_urlencoded::byte_serialize(piece.as_bytes()).collect();
        assert!(
            encoded.len() <= 4500,
            "URL-encoded limit: {}",
            encoded.len()
        );
    }
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

#[tokio::test]
async fn messages_cut_off_by_the_caller_hanging_up_are_reported_failed_with_the_reason() {
    messages_cut_off_by_the_caller_hanging_up_are_reported_failed_with_the_reason_on(Backend::Redis)
        .await
}

#[tokio::test]
async fn messages_cut_off_by_the_caller_hanging_up_are_reported_failed_with_the_reason_on_a_cluster()
 {
    messages_cut_off_by_the_caller_hanging_up_are_reported_failed_with_the_reason_on(
        Backend::Cluster,
    )
    .await
}

async fn messages_cut_off_by_the_caller_hanging_up_are_reported_failed_with_the_reason_on(
    backend: Backend,
) {
    let app = spawn_app_on_store(backend, &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let long = "This is a long answer that the caller will not wait for. ".repeat(20);
    let (status, _) = app.say(&call_id, &long).await;
    assert_eq!(status, 202);
    app.wait_for(
        "the message to be in the speaker's mouth",
        Duration::from_secs(20),
        || async {
            let m = app.messages(&call_id).await;
            (m[0]["state"] == "speaking").then_some(())
        },
    )
    .await;
    app.say(&call_id, "And this one was still waiting.").await;
    app.emulator.hangup(&sid).await;
    let messages = app
        .wait_for("both messages to fail", Duration::from_secs(20), || async {
            let m = app.messages(&call_id).await;
            m.iter().all(|m| m["state"] == "failed").then_some(m)
        })
        .await;
    for m in &messages {
        let reason = m["reason"].as_str().unwrap();
        assert!(
            reason.contains("ended") || reason.contains("hung up"),
            "{reason}"
        );
    }
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["messages_failed"], 2);
    assert_eq!(call["messages_spoken"], 0);
}

#[tokio::test]
async fn a_message_sent_during_the_greeting_waits_for_the_caller() {
    let app = spawn_app().await;
    let sid = app.emulator.place_call(CALLER, LINE, None).await.unwrap();
    // As soon as the call exists (the caller still hearing the greeting), say something.
    let call_id = app
        .wait_for(
            "the call to be recorded",
            Duration::from_secs(10),
            || async {
                let (_, calls) = app.get_json("/calls").await;
                calls["calls"].as_array()?.first()?["id"]
                    .as_str()
                    .map(str::to_owned)
            },
        )
        .await;
    let (status, _) = app.say(&call_id, "Thanks for waiting.").await;
    assert_eq!(status, 202);
    let heard = app.wait_heard(&sid, &["Thanks for waiting."]).await;
    assert_eq!(heard, vec![GREETING, "Thanks for waiting."]);
    assert!(
        app.partly_heard(&sid).is_empty(),
        "{:?}",
        app.partly_heard(&sid)
    );
    assert_eq!(app.speaker_legs(), 1);
}

#[tokio::test]
async fn late_out_of_order_conference_events_do_not_undo_newer_ones() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let conference = app.emulator.conferences()[0].clone();
    let friendly = format!("denwa-{call_id}");
    // A participant-leave for the caller numbered before the join Twilio already sent.
    let r = app
        .post_signed(
            "/twilio/conference",
            &[
                ("AccountSid", ACCOUNT_SID),
                ("ConferenceSid", &conference.sid),
                ("FriendlyName", &friendly),
                ("StatusCallbackEvent", "participant-leave"),
                ("CallSid", &sid),
                ("SequenceNumber", "0"),
                ("Muted", "false"),
                ("Hold", "false"),
            ],
            AUTH_TOKEN,
        )
        .await;
    assert_eq!(r.status(), 204);
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(
        call["state"], "connected",
        "a stale leave must not end the call"
    );
    // A conference-end for some other conference of the same name is not this call's end.
    let r = app
        .post_signed(
            "/twilio/conference",
            &[
                ("AccountSid", ACCOUNT_SID),
                ("ConferenceSid", "CF00000000000000000000000000000000"),
                ("FriendlyName", &friendly),
                ("StatusCallbackEvent", "conference-end"),
                ("SequenceNumber", "99"),
            ],
            AUTH_TOKEN,
        )
        .await;
    assert_eq!(r.status(), 204);
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "connected");
    app.say(&call_id, "Still here.").await;
    app.wait_heard(&sid, &["Still here."]).await;
}

#[tokio::test]
async fn a_reply_typed_a_moment_after_the_last_shares_its_leg() {
    a_reply_typed_a_moment_after_the_last_shares_its_leg_on(Backend::Redis).await
}

#[tokio::test]
async fn a_reply_typed_a_moment_after_the_last_shares_its_leg_on_a_cluster() {
    a_reply_typed_a_moment_after_the_last_shares_its_leg_on(Backend::Cluster).await
}

async fn a_reply_typed_a_moment_after_the_last_shares_its_leg_on(backend: Backend) {
    let app = spawn_app_on_store(backend, &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    app.say(&call_id, "One moment please.").await;
    app.wait_heard(&sid, &["One moment please."]).await;
    // The leg lingers (speech.linger) rather than hanging up the instant the queue is empty.
    app.say(&call_id, "Found it: your order ships today.").await;
    let heard = app
        .wait_heard(&sid, &["Found it: your order ships today."])
        .await;
    assert_eq!(
        heard,
        vec![
            GREETING,
            "One moment please.",
            "Found it: your order ships today."
        ]
    );
    assert_eq!(app.speaker_legs(), 1);
}
