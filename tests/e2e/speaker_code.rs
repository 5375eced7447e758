//! The speaker's one-time code crosses the telephone network as DTMF, and DTMF can be lost: a
//! digit lost on the line costs the speaker leg a second chance at the gate, not the message an
//! attempt. (That a spoofed caller gets no more than two chances: `security.rs`.)

use std::time::Duration;

use denwa_twilio_emulator::CallEventKind;

use crate::helpers::*;

/// The Twilio sides of the latest speaker leg: (outbound half, inbound half).
fn speaker_halves(app: &TestApp) -> (String, String) {
    let calls = app.emulator.calls();
    let outbound = calls
        .iter()
        .rev()
        .find(|c| c.from == LINE && c.to == LINE && c.direction == "outbound-api")
        .expect("a speaker leg was dialled");
    let inbound = outbound.far_end_call.clone().expect("it reached the line");
    (outbound.sid.clone(), inbound)
}

fn count(app: &TestApp, sid: &str, what: impl Fn(&CallEventKind) -> bool) -> usize {
    app.emulator
        .events(sid)
        .iter()
        .filter(|e| what(&e.kind))
        .count()
}

#[tokio::test]
async fn a_digit_of_the_code_lost_on_the_line_costs_the_message_no_attempt() {
    // One attempt per message: a lost digit must not spend it.
    let app = spawn_app_with(&[("DENWA_SPEECH_MAX_ATTEMPTS", "1")]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    // The speaker leg's code is the next DTMF on the line: its fourth digit is lost.
    app.emulator.lose_digit(3);
    assert_eq!(app.say(&call_id, "Thanks for holding.").await.0, 202);
    app.wait_heard(&sid, &["Thanks for holding."]).await;

    assert_eq!(app.speaker_legs(), 1, "the same leg got in");
    let messages = app.wait_all_spoken(&call_id).await;
    assert_eq!(messages[0]["attempts"], 1, "{messages:?}");
    let (outbound, inbound) = speaker_halves(&app);
    assert_eq!(
        count(&app, &inbound, |k| matches!(
            k,
            CallEventKind::DtmfLost { .. }
        )),
        1
    );
    // The code went twice: by SendDigits, then once more from the outbound half's turn.
    assert_eq!(
        count(&app, &outbound, |k| matches!(
            k,
            CallEventKind::DtmfSent { .. }
        )),
        16
    );
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );

    // With no digit lost, the next leg sends its code once, and never again.
    app.wait_for(
        "the speaker to hang up",
        Duration::from_secs(20),
        || async { (app.emulator.call(&outbound)?.status == "completed").then_some(()) },
    )
    .await;
    assert_eq!(app.say(&call_id, "Still there?").await.0, 202);
    app.wait_heard(&sid, &["Still there?"]).await;
    assert_eq!(app.speaker_legs(), 2);
    let (next, _) = speaker_halves(&app);
    // Past the second at which a leg not let in would send its code again.
    tokio::time::sleep(app.emulator.call_secs(12.0)).await;
    assert_eq!(
        count(&app, &next, |k| matches!(k, CallEventKind::DtmfSent { .. })),
        8
    );
}
