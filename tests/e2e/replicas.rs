//! Several replicas on one Redis behind a round-robin balancer: every webhook and API request
//! lands on the next replica, so each step of a call is taken by a process that did not see the
//! step before. The flows must come out exactly as with one process.

use std::time::Duration;

use denwa_twilio_emulator::PhoneBehaviour;

use crate::helpers::*;

#[tokio::test]
async fn a_call_spoken_to_across_three_replicas_hears_everything_once_in_order() {
    let app = spawn_replicas(3, "", &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let texts: Vec<String> = (1..=6)
        .map(|i| format!("Reply {i} from whichever replica."))
        .collect();
    for text in &texts {
        let (status, body) = app.say(&call_id, text).await;
        assert_eq!(status, 202, "{body}");
    }
    let expected: Vec<&str> = texts.iter().map(String::as_str).collect();
    let heard = app.wait_heard(&sid, &expected).await;
    let after_greeting: Vec<&str> = heard.iter().skip(1).map(String::as_str).collect();
    assert_eq!(after_greeting, expected, "in order, each once");
    assert!(
        app.partly_heard(&sid).is_empty(),
        "{:?}",
        app.partly_heard(&sid)
    );
    assert_eq!(app.speaker_legs(), 1);
    app.wait_for("every receipt", Duration::from_secs(10), || async {
        app.messages(&call_id)
            .await
            .iter()
            .all(|m| m["state"] == "spoken")
            .then_some(())
    })
    .await;
    app.emulator.hangup(&sid).await;
    app.wait_for("the call to end", Duration::from_secs(10), || async {
        let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
        (call["state"] == "ended").then_some(())
    })
    .await;
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

#[tokio::test]
async fn in_order_ringing_and_acceptance_work_across_replicas() {
    let app = spawn_replicas(
        2,
        r#"
[[line.responders]]
name = "Alice"
phone = "+14155550101"
[[line.responders]]
name = "Bob"
phone = "+14155550102"
"#,
        &[
            ("DENWA_LINE_RING", "in-order"),
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
        ],
    )
    .await;
    app.emulator.add_phone("+14155550101", PhoneBehaviour::Busy);
    app.emulator.add_phone(
        "+14155550102",
        PhoneBehaviour::AnswerAndPress {
            digits: "1".into(),
            after_secs: 8.0,
        },
    );
    let (sid, call_id) = app.call_in(CALLER).await;
    let heard = app.wait_heard(&sid, &["Bob joined the call."]).await;
    assert_eq!(heard, vec![GREETING, "Bob joined the call."]);
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["joined"], serde_json::json!(["Bob"]));
    assert_eq!(call["responder_legs"], 2);
}
