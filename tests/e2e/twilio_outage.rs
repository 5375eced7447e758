//! Twilio failing: the emulator answers `503` to `Calls.json` for a while. denwa dials a call's
//! speaker again only after a growing, jittered wait kept in Redis, a bounded number of times;
//! when Twilio recovers in time the message is heard, and past the bound the messages waiting
//! fail visibly.

use std::time::{Duration, SystemTime};

use denwa_twilio_emulator::{FaultPlan, RestFault};

use crate::helpers::*;

/// The attempts to place a call (`POST Calls.json`) and when each was answered, with the status.
fn dials(app: &TestApp) -> Vec<(SystemTime, u16)> {
    app.emulator
        .rest_requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
        .map(|r| (r.at, r.status))
        .collect()
}

fn gaps(dials: &[(SystemTime, u16)]) -> Vec<Duration> {
    dials
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0).unwrap_or_default())
        .collect()
}

fn unavailable_dials() -> FaultPlan {
    FaultPlan::new(RestFault::Unavailable)
        .method("POST")
        .path("/Calls.json")
}

#[tokio::test]
async fn through_a_short_outage_dials_are_spaced_and_the_message_is_heard() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    app.emulator.fail_rest(unavailable_dials().times(3));

    let (status, _) = app.say(&call_id, "Sorry for the wait.").await;
    assert_eq!(status, 202);
    app.wait_heard(&sid, &["Sorry for the wait."]).await;

    // Three refused dials and the one that worked, each after a longer wait than the last: at
    // least half of 1 s, 2 s and 4 s (the jitter's floor), where an unbounded retry would have
    // come back every half second.
    let dials = dials(&app);
    let statuses: Vec<u16> = dials.iter().map(|d| d.1).collect();
    assert_eq!(statuses, [503, 503, 503, 201], "{dials:?}");
    for (i, gap) in gaps(&dials).iter().enumerate() {
        let floor = Duration::from_millis(500 << i);
        assert!(*gap >= floor, "wait {i} was {gap:?}, under {floor:?}");
    }
    assert_eq!(app.wait_all_spoken(&call_id).await.len(), 1);
    assert_eq!(app.speaker_legs(), 1);
}

#[tokio::test]
async fn new_messages_and_the_sweep_wait_with_the_call() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    app.emulator.fail_rest(unavailable_dials().times(2));
    app.say(&call_id, "One.").await;
    // While the call waits out its second, longer pause, more messages arrive (each kicks the
    // pipeline) and the sweep passes (every 2 s): none of them dials before the wait is over.
    app.wait_for("two refused dials", Duration::from_secs(10), || async {
        (dials(&app).len() == 2).then_some(())
    })
    .await;
    for text in ["Two.", "Three."] {
        assert_eq!(app.say(&call_id, text).await.0, 202);
    }
    app.wait_heard(&sid, &["One.", "Two.", "Three."]).await;
    let dials = dials(&app);
    assert_eq!(dials.len(), 3, "{dials:?}");
    assert!(gaps(&dials)[1] >= Duration::from_secs(1), "{dials:?}");
}
