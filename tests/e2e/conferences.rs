//! The caller's conference as the emulator runs it by Twilio's strictest reading: a conference
//! takes two to start and starts only when a participant with startConferenceOnEnter=true joins
//! someone; participant labels never resemble a CallSid. The speaker leg is heard under that
//! reading, and never keeps a conference of the caller's name going without the caller.

use std::collections::HashSet;
use std::time::Duration;

use denwa_twilio_emulator::{CallEventKind, EmulatorEvent};

use crate::helpers::*;

#[tokio::test]
async fn a_caller_waiting_alone_hears_the_speaker() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let name = ["denwa-", &call_id].concat();
    assert_eq!(
        app.emulator.conference(&name).unwrap().status,
        "init",
        "alone, the caller has not started the conference"
    );

    app.say(&call_id, "Hello from the team.").await;
    app.wait_heard(&sid, &["Hello from the team."]).await;
    assert_eq!(
        app.emulator.conference(&name).unwrap().status,
        "in-progress"
    );
    // The speaker's join started it, under a label Twilio takes (16023 refuses a SID-like one).
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

#[tokio::test]
async fn a_speaker_arriving_after_the_caller_left_leaves_no_conference_behind() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let name = ["denwa-", &call_id].concat();
    let callers_conference = app.emulator.call(&sid).unwrap().conference_sid.unwrap();
    let mut feed = app.emulator.subscribe();

    app.say(&call_id, "Are you still there?").await;
    // The caller hangs up as the speaker leg's last code digit arrives: the code reaches denwa as
    // the news of the caller leaving does, so the speaker is turned away at the gate or, let in
    // first, dials into a conference that is already over.
    let emulator = app.emulator.clone();
    let mut started = HashSet::new();
    let mut digits_in = 0;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), feed.recv())
            .await
            .expect("the speaker leg presents its code")
            .unwrap();
        started.extend(conference_started(&event));
        if let EmulatorEvent::Call { call_sid, event } = event
            && matches!(event.kind, CallEventKind::DtmfReceived { .. })
            && emulator
                .call(&call_sid)
                .is_some_and(|c| c.from == LINE && c.to == LINE && c.direction == "inbound")
        {
            digits_in += 1;
            if digits_in == code_digits(&app) {
                emulator.hangup(&sid).await;
                break;
            }
        }
    }

    // Whether the speaker was turned away at the gate or got into a new conference of the same
    // name before denwa heard the caller leave: within seconds every leg is gone, every
    // conference of the call's name is over, and none but the caller's ever started.
    app.wait_for(
        "the speaker leg and every conference of the call to end",
        Duration::from_secs(10),
        || async {
            let legs_over = app.speaker_legs_ended();
            let conferences_over = app
                .emulator
                .conferences()
                .iter()
                .filter(|c| c.friendly_name == name)
                .all(|c| c.status == "completed");
            (legs_over && conferences_over).then_some(())
        },
    )
    .await;
    while let Ok(event) = feed.try_recv() {
        started.extend(conference_started(&event));
    }
    assert!(
        started.iter().all(|c| *c == callers_conference),
        "a conference other than the caller's started: {started:?}"
    );
    // Nothing is lost: the message is reported failed, with the reason.
    let messages = app
        .wait_for(
            "the message to be settled",
            Duration::from_secs(10),
            || async {
                let m = app.messages(&call_id).await;
                (m[0]["state"] == "failed").then_some(m)
            },
        )
        .await;
    assert!(
        messages[0]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{messages:?}"
    );
}

/// The digits of the speaker leg's code: its `SendDigits` as denwa asked Twilio, without pauses.
fn code_digits(app: &TestApp) -> usize {
    let dial = app
        .emulator
        .rest_requests()
        .into_iter()
        .rev()
        .find(|r| {
            r.path.ends_with("/Calls.json")
                && r.params.iter().any(|(k, v)| k == "From" && v == LINE)
                && r.params.iter().any(|(k, v)| k == "To" && v == LINE)
        })
        .expect("the speaker leg was dialled");
    dial.params
        .iter()
        .find(|(k, _)| k == "SendDigits")
        .map(|(_, v)| v.chars().filter(|c| !matches!(c, 'w' | 'W')).count())
        .expect("the speaker leg sends its code")
}

/// The conference an event of the emulator's feed says started, if it does.
fn conference_started(event: &EmulatorEvent) -> Option<String> {
    match event {
        EmulatorEvent::Conference {
            conference_sid,
            event,
            ..
        } if event == "conference-start" => Some(conference_sid.clone()),
        _ => None,
    }
}
