//! The on-call line: responders rung and screened, names announced, voicemail, outbound calls.

use std::time::Duration;

use denwa_twilio_emulator::{Heard, PhoneBehaviour};

use crate::helpers::*;

pub(crate) const ALICE: &str = "+14155550101";
pub(crate) const BOB: &str = "+14155550102";
pub(crate) const CAROL: &str = "+14155550103";

pub(crate) const RESPONDERS: &str = r#"
[[line.responders]]
name = "Alice"
phone = "+14155550101"
[[line.responders]]
name = "Bob"
phone = "+14155550102"
[[line.responders]]
name = "Carol"
phone = "+14155550103"
"#;

pub(crate) const ALICE_ONLY: &str = r#"
[[line.responders]]
name = "Alice"
phone = "+14155550101"
"#;

pub(crate) fn accepts() -> PhoneBehaviour {
    // Presses 1 once the prompt has said who is calling (about 6 call-seconds).
    PhoneBehaviour::AnswerAndPress {
        digits: "1".into(),
        after_secs: 8.0,
    }
}

impl TestApp {
    /// The legs the line placed to `phone`.
    pub(crate) fn legs_to(&self, phone: &str) -> Vec<denwa_twilio_emulator::CallSnapshot> {
        self.emulator
            .calls()
            .into_iter()
            .filter(|c| c.to == phone && c.from == LINE)
            .collect()
    }

    pub(crate) async fn wait_leg_ended(&self, phone: &str) -> String {
        self.wait_for(
            &format!("the leg to {phone} to end"),
            Duration::from_secs(20),
            || async {
                let legs = self.legs_to(phone);
                let leg = legs.last()?;
                matches!(
                    leg.status.as_str(),
                    "completed" | "canceled" | "busy" | "no-answer" | "failed"
                )
                .then(|| leg.status.clone())
            },
        )
        .await
    }

    pub(crate) fn in_conference(
        &self,
        call_sid: &str,
    ) -> Option<denwa_twilio_emulator::ParticipantSnapshot> {
        self.emulator
            .conferences()
            .into_iter()
            .filter(|c| c.status != "completed")
            .flat_map(|c| c.participants)
            .find(|p| p.call_sid == call_sid)
    }
}

#[tokio::test]
async fn ring_all_the_first_to_press_1_gets_the_call_muted_and_the_caller_hears_who_joined() {
    let app = spawn_app_with_file(RESPONDERS, &[("DENWA_LINE_VOICEMAIL_AFTER", "0")]).await;
    app.emulator.add_phone(ALICE, accepts());
    app.emulator.add_phone(BOB, PhoneBehaviour::NoAnswer);
    app.emulator.add_phone(CAROL, PhoneBehaviour::Voicemail);
    let (sid, call_id) = app.call_in(CALLER).await;

    let heard = app.wait_heard(&sid, &["Alice joined the call."]).await;
    assert_eq!(heard, vec![GREETING, "Alice joined the call."]);
    let alice = app.legs_to(ALICE).remove(0);
    let participant = app
        .in_conference(&alice.sid)
        .expect("Alice is in the caller's conference");
    assert!(participant.muted, "responders listen; they reply from chat");
    let prompt: Vec<String> = app
        .emulator
        .transcript(&alice.sid)
        .into_iter()
        .filter_map(|h| match h {
            Heard::Say { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert!(
        prompt
            .iter()
            .any(|t| t.starts_with("Call for Test line from") && t.ends_with("Press 1 to accept.")),
        "{prompt:?}"
    );

    // Bob never answered and Carol's voicemail box never pressed 1: both stop ringing.
    app.wait_leg_ended(BOB).await;
    app.wait_leg_ended(CAROL).await;
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["joined"], serde_json::json!(["Alice"]));
    assert_eq!(call["responder_legs"], 3);
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

#[tokio::test]
async fn in_order_ringing_moves_on_from_a_busy_responder() {
    let app = spawn_app_with_file(
        RESPONDERS,
        &[
            ("DENWA_LINE_RING", "in-order"),
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
            ("DENWA_LINE_RESPONDERS_MUTED", "false"),
        ],
    )
    .await;
    app.emulator.add_phone(ALICE, PhoneBehaviour::Busy);
    app.emulator.add_phone(BOB, accepts());
    app.emulator.add_phone(CAROL, accepts());
    let (sid, _) = app.call_in(CALLER).await;
    app.wait_heard(&sid, &["Bob joined the call."]).await;
    assert_eq!(app.legs_to(ALICE).len(), 1);
    assert_eq!(app.legs_to(BOB).len(), 1);
    assert!(
        app.legs_to(CAROL).is_empty(),
        "Carol is not rung once Bob accepted"
    );
    let bob = app.legs_to(BOB).remove(0);
    assert!(
        !app.in_conference(&bob.sid).unwrap().muted,
        "responders_muted = false"
    );
    // Alice was rung first.
    assert!(app.legs_to(ALICE)[0].date_created <= bob.date_created);
}

#[tokio::test]
async fn the_caller_hanging_up_mid_ring_cancels_the_responders() {
    let app = spawn_app_with_file(
        RESPONDERS,
        &[
            ("DENWA_LINE_RING_TIMEOUT", "120"),
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
        ],
    )
    .await;
    for phone in [ALICE, BOB, CAROL] {
        app.emulator.add_phone(phone, PhoneBehaviour::NoAnswer);
    }
    let (sid, call_id) = app.call_in(CALLER).await;
    app.wait_for(
        "the responders to ring",
        Duration::from_secs(10),
        || async {
            (app.legs_to(ALICE).len() + app.legs_to(BOB).len() + app.legs_to(CAROL).len() == 3)
                .then_some(())
        },
    )
    .await;
    app.emulator.hangup(&sid).await;
    for phone in [ALICE, BOB, CAROL] {
        assert_eq!(app.wait_leg_ended(phone).await, "canceled", "{phone}");
    }
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "ended");

    // They were released: the next call rings them again.
    app.emulator.add_phone(ALICE, accepts());
    let (sid, _) = app.call_in("+14155550777").await;
    app.wait_heard(&sid, &["Alice joined the call."]).await;
}

#[tokio::test]
async fn a_responder_on_a_call_is_not_rung_for_another() {
    let app = spawn_app_with_file(RESPONDERS, &[("DENWA_LINE_VOICEMAIL_AFTER", "0")]).await;
    app.emulator.add_phone(ALICE, accepts());
    app.emulator.add_phone(BOB, PhoneBehaviour::Busy);
    app.emulator.add_phone(CAROL, PhoneBehaviour::Busy);
    let (first, _) = app.call_in("+14155550001").await;
    app.wait_heard(&first, &["Alice joined the call."]).await;
    let (_, _) = app.call_in("+14155550002").await;
    app.wait_for(
        "Bob and Carol to be rung for the second call",
        Duration::from_secs(10),
        || async { (app.legs_to(BOB).len() == 2 && app.legs_to(CAROL).len() == 2).then_some(()) },
    )
    .await;
    assert_eq!(
        app.legs_to(ALICE).len(),
        1,
        "Alice is busy with the first call"
    );
}

#[tokio::test]
async fn leaves_are_announced_when_configured() {
    let app = spawn_app_with_file(
        RESPONDERS,
        &[
            ("DENWA_LINE_ANNOUNCE_LEAVES", "true"),
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
        ],
    )
    .await;
    app.emulator.add_phone(ALICE, accepts());
    app.emulator.add_phone(BOB, PhoneBehaviour::Busy);
    app.emulator.add_phone(CAROL, PhoneBehaviour::Busy);
    let (sid, _) = app.call_in(CALLER).await;
    app.wait_heard(&sid, &["Alice joined the call."]).await;
    let alice = app.legs_to(ALICE).remove(0);
    app.emulator.hangup(&alice.sid).await;
    let heard = app.wait_heard(&sid, &["Alice left the call."]).await;
    assert_eq!(
        heard,
        vec![GREETING, "Alice joined the call.", "Alice left the call."]
    );
}

#[tokio::test]
async fn a_recorded_name_is_played_when_the_caller_joins_someone() {
    // Alice accepts while the caller is still recording their name, so she is in first. The
    // recording ends after 3 s of silence (5 s at most), so the emulator runs at half of real
    // time here: at the usual hundredth that window is 30 ms, which a loaded machine misses.
    let app = spawn_app_at(
        0.5,
        ALICE_ONLY,
        &[
            ("DENWA_LINE_RECORD_NAMES", "true"),
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
        ],
    )
    .await;
    app.emulator.add_phone(
        ALICE,
        PhoneBehaviour::AnswerAndPress {
            digits: "1".into(),
            after_secs: 0.5,
        },
    );
    let sid = app.emulator.place_call(CALLER, LINE, None).await.unwrap();
    app.wait_for(
        "Alice to be in the conference",
        Duration::from_secs(20),
        || async {
            let alice = app.legs_to(ALICE).pop()?;
            app.in_conference(&alice.sid).map(|_| ())
        },
    )
    .await;
    // She is in before the caller's beep: only then is there a recording to speak into.
    app.wait_for(
        "the tone before the caller's name",
        Duration::from_secs(20),
        || async {
            app.emulator
                .transcript(&sid)
                .iter()
                .any(|h| matches!(h, Heard::Beep))
                .then_some(())
        },
    )
    .await;
    // A breath after the tone (one call-second), as a person takes: Twilio listens from half a
    // second after the beep.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.emulator.speak(&sid, "Jane Roe").await;
    app.emulator.press(&sid, "#").await;
    let alice = app.legs_to(ALICE).remove(0);
    let heard = app
        .wait_for(
            "Alice to hear the caller's name",
            Duration::from_secs(20),
            || async {
                let t = app.emulator.transcript(&alice.sid);
                let joined = t.iter().position(
                    |h| matches!(h, Heard::Say { text, .. } if text == "joined the call."),
                )?;
                Some(t[..joined].to_vec())
            },
        )
        .await;
    assert!(
        matches!(heard.last(), Some(Heard::Play { url }) if url.contains("Recording")),
        "the recording is played just before 'joined the call.': {heard:?}"
    );
}

#[tokio::test]
async fn nobody_answering_leads_to_voicemail_posted_with_its_transcript() {
    let app = spawn_app_with_file(
        r#"
[[line.responders]]
name = "Carol"
phone = "+14155550103"
"#,
        &[("DENWA_LINE_VOICEMAIL_AFTER", "2")],
    )
    .await;
    app.emulator.add_phone(CAROL, PhoneBehaviour::Voicemail);
    let (sid, call_id) = app.call_in(CALLER).await;
    app.wait_for_the_beep(&sid).await;
    assert_eq!(
        app.wait_leg_ended(CAROL).await,
        "completed",
        "Carol's answering machine is hung up"
    );
    // Nobody can speak to a caller who is recording a message: chat is told so.
    let (status, body) = app.say(&call_id, "Still there?").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["message"], "the caller is leaving a voicemail");
    app.emulator
        .speak(&sid, "Please call me back about my order")
        .await;
    app.emulator.press(&sid, "#").await;
    let call = app
        .wait_for(
            "the voicemail, its transcript and the call's end",
            Duration::from_secs(20),
            || async {
                // Twilio's transcript may come before the recording's action has ended the
                // call (on a loaded machine it does): wait for both.
                let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
                (call["voicemail_transcript"].is_string() && call["state"] == "ended")
                    .then_some(call)
            },
        )
        .await;
    assert!(call["voicemail_url"].as_str().unwrap().starts_with("http"));
    assert_eq!(
        call["voicemail_transcript"],
        "Please call me back about my order"
    );
}

#[tokio::test]
async fn a_chat_reply_means_no_voicemail() {
    let app = spawn_app_with(&[("DENWA_LINE_VOICEMAIL_AFTER", "2")]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    app.say(&call_id, "We are here, one moment.").await;
    app.wait_heard(&sid, &["We are here, one moment."]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        app.heard(&sid)
            .iter()
            .all(|t| !t.starts_with("Nobody can take your call"))
    );
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "connected");
}

#[tokio::test]
async fn the_line_can_call_out_and_speak_to_the_person_called() {
    let app = spawn_app().await;
    let callee = "+14155550188";
    app.emulator.add_phone(callee, PhoneBehaviour::Answer);
    let r = app
        .http
        .post(app.api("/calls"))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({ "to": callee }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let call: serde_json::Value = r.json().await.unwrap();
    assert_eq!(call["direction"], "outbound");
    let call_id = call["id"].as_str().unwrap().to_owned();
    app.wait_for(
        "the callee in the conference",
        Duration::from_secs(20),
        || async {
            let (_, c) = app.get_json(&format!("/calls/{call_id}")).await;
            (c["state"] == "connected").then_some(())
        },
    )
    .await;
    app.say(&call_id, "Hello, this is support calling you back.")
        .await;
    let leg = app.legs_to(callee).remove(0);
    app.wait_heard(&leg.sid, &["Hello, this is support calling you back."])
        .await;

    let bad = app
        .http
        .post(app.api("/calls"))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({ "to": "12345" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn a_caller_is_announced_by_the_name_twilio_looked_up() {
    // A long greeting: Alice (a short prompt, a quick 1) is in the conference before the caller.
    let greeting = "Thank you for calling. ".repeat(12);
    let app = spawn_app_with_file(
        ALICE_ONLY,
        &[
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
            ("DENWA_LINE_GREETING", greeting.trim()),
        ],
    )
    .await;
    app.emulator.add_phone(
        ALICE,
        PhoneBehaviour::AnswerAndPress {
            digits: "1".into(),
            after_secs: 4.0,
        },
    );
    app.emulator
        .place_call(CALLER, LINE, Some("Jane Roe"))
        .await
        .unwrap();
    let alice = app
        .wait_for("Alice to be rung", Duration::from_secs(10), || async {
            app.legs_to(ALICE).pop()
        })
        .await;
    let heard = app
        .wait_for(
            "Alice to hear who joined",
            Duration::from_secs(20),
            || async {
                let heard = app.heard(&alice.sid);
                heard
                    .iter()
                    .any(|t| t == "Jane Roe joined the call.")
                    .then_some(heard)
            },
        )
        .await;
    assert!(
        heard[0].starts_with("Call for Test line from Jane Roe."),
        "{heard:?}"
    );
    // And the caller, joining after her, is told she is there.
    let caller = app
        .emulator
        .calls()
        .into_iter()
        .find(|c| c.from == CALLER)
        .unwrap();
    app.wait_heard(&caller.sid, &["Alice is on the call."])
        .await;
}

#[tokio::test]
async fn a_responder_who_accepts_then_hangs_up_does_not_leave_the_caller_on_hold() {
    let app = spawn_app_with_file(ALICE_ONLY, &[("DENWA_LINE_VOICEMAIL_AFTER", "2")]).await;
    app.emulator.add_phone(ALICE, accepts());
    let (sid, _) = app.call_in(CALLER).await;
    app.wait_heard(&sid, &["Alice joined the call."]).await;
    let alice = app.legs_to(ALICE).remove(0);
    app.emulator.hangup(&alice.sid).await;
    // Nobody wrote from chat and nobody is left: the caller is offered voicemail.
    app.wait_for("the voicemail prompt", Duration::from_secs(20), || async {
        app.heard(&sid)
            .iter()
            .any(|t| t.starts_with("Nobody can take your call right now"))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_caller_id_twilio_refuses_falls_back_to_the_lines_number() {
    let app = spawn_app_with_file(
        ALICE_ONLY,
        &[
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
            ("DENWA_LINE_RING_CALLER_ID", "caller"),
        ],
    )
    .await;
    app.emulator.add_phone(ALICE, accepts());
    let (sid, _) = app.call_in(CALLER).await;
    // The emulator, like Twilio, refuses a From the account does not own (error 21210).
    app.wait_heard(&sid, &["Alice joined the call."]).await;
    let alice = app.legs_to(ALICE);
    assert_eq!(alice.len(), 1, "rung once, from the line's number");
}

/// Asked to record their name, a caller who says nothing makes an empty recording: Twilio then
/// skips the `<Record>` action and goes on with the document. They reach the call all the same.
#[tokio::test]
async fn a_caller_who_says_no_name_is_put_through_all_the_same() {
    let app = spawn_app_with(&[
        ("DENWA_LINE_RECORD_NAMES", "true"),
        ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
    ])
    .await;
    let (sid, call_id) = app.call_in(CALLER).await;
    assert_eq!(app.say(&call_id, "We can hear you.").await.0, 202);
    app.wait_heard(&sid, &["We can hear you."]).await;
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}
