//! Twilio places an account's calls at its calls-per-second rate (1 a second by default) and
//! holds the rest `queued`. In a flood of dials (many speakers at once, responders being rung,
//! the account's other calls) a speaker leg can wait in that queue longer than its lease; it is
//! waited for, not dialled again behind itself.

use std::time::{Duration, Instant};

use crate::helpers::*;

/// Slow enough that a queue of [`AHEAD`] calls outlasts the speaker's 15 s lease.
const SCALE: f64 = 0.25;
/// The account's other calls queued ahead of the speaker leg: 64 call-seconds, 16 s here.
const AHEAD: usize = 64;

#[tokio::test]
async fn a_speaker_leg_queued_at_twilio_past_its_lease_is_waited_for_not_dialled_again() {
    let app = spawn_app_on(far_side(SCALE).await, "", &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let calls = format!(
        "{}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
        app.emulator.base_url()
    );
    for i in 0..AHEAD {
        let to = format!("+1415555{:04}", 2000 + i);
        let created = app
            .http
            .post(&calls)
            .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
            .form(&[
                ("To", to.as_str()),
                ("From", LINE),
                ("Twiml", "<Response><Hangup/></Response>"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let said = Instant::now();
    assert_eq!(app.say(&call_id, "Sorry for the wait.").await.0, 202);
    app.wait_heard(&sid, &["Sorry for the wait."]).await;
    let waited = said.elapsed();
    assert!(
        waited > Duration::from_secs(15),
        "the leg was heard after {waited:?}: it did not wait past its lease in the queue"
    );
    assert_eq!(app.speaker_legs(), 1, "the queued leg was waited for");
    let messages = app.wait_all_spoken(&call_id).await;
    assert_eq!(messages[0]["attempts"], 1, "{messages:?}");
}
