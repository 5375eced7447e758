//! Twilio places an account's calls at its calls-per-second rate (1 a second by default) and
//! holds the rest `queued`. In a flood of dials (many speakers at once, responders being rung,
//! the account's other calls) a speaker leg can wait in that queue longer than its lease; it is
//! waited for, not dialled again behind itself.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::helpers::*;

/// Slow enough that a queue of [`AHEAD`] calls outlasts the speaker's 15 s lease.
const SCALE: f64 = 0.25;
/// The account's other calls queued ahead of the speaker leg: 64 call-seconds, 16 s here.
const AHEAD: usize = 64;
/// Far enough ahead that the lease surely lapses with the leg still queued: 20 s here.
const FAR_AHEAD: usize = 80;

/// Queues `ahead` calls of the account's own at the emulator, as another app would.
async fn fill_the_queue(app: &TestApp, ahead: usize) {
    let calls = format!(
        "{}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
        app.emulator.base_url()
    );
    for i in 0..ahead {
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
}

/// The speaker legs the emulator saw, oldest first: (CallSid, status).
fn speaker_legs(app: &TestApp) -> Vec<(String, String)> {
    app.emulator
        .calls()
        .into_iter()
        .filter(|c| c.from == LINE && c.to == LINE && c.direction == "outbound-api")
        .map(|c| (c.sid, c.status))
        .collect()
}

#[tokio::test]
async fn a_speaker_leg_queued_at_twilio_past_its_lease_is_waited_for_not_dialled_again() {
    let app = spawn_app_on(far_side(SCALE).await, "", &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    fill_the_queue(&app, AHEAD).await;
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

/// A leg is waited for only as long as its one-time code lives (2 minutes): later it could not
/// get in. Here it is taken as already kept that long; at the lapse Twilio is told to cancel it
/// and another is dialled, and the message is said once.
#[tokio::test]
async fn a_speaker_leg_queued_past_its_codes_life_is_cancelled_and_another_dialled() {
    let app = spawn_app_on(far_side(SCALE).await, "", &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    fill_the_queue(&app, FAR_AHEAD).await;
    assert_eq!(app.say(&call_id, "Sorry for the wait.").await.0, 202);
    app.wait_for(
        "the speaker leg's dial",
        Duration::from_secs(10),
        || async { (speaker_legs(&app).len() == 1).then_some(()) },
    )
    .await;
    // The leg was taken two minutes ago, as if kept through seven leases: its code is spent.
    let two_minutes_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        - 120_000;
    let mut redis = redis_at(&app.redis.url()).await;
    let _: () = redis::cmd("HSET")
        .arg(format!("denwa:call:{{{call_id}}}"))
        .arg("speaker_leg_at")
        .arg(two_minutes_ago.to_string())
        .query_async(&mut redis)
        .await
        .unwrap();

    app.wait_heard(&sid, &["Sorry for the wait."]).await;
    let legs = speaker_legs(&app);
    assert_eq!(legs.len(), 2, "{legs:?}");
    assert_eq!(legs[0].1, "canceled", "the first leg never rang: {legs:?}");
    let messages = app.wait_all_spoken(&call_id).await;
    assert_eq!(messages[0]["attempts"], 1, "{messages:?}");
    assert_eq!(
        app.heard(&sid)
            .iter()
            .filter(|h| *h == "Sorry for the wait.")
            .count(),
        1
    );
}
