//! A process stopped in the middle of starting a speaker (SIGTERM from an orchestrator, or
//! SIGKILL) must not silence the call: after a restart, what waits is heard within seconds.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::serve_process::{ServeProcess, app_on_a_process};

/// The message is accepted, the speaker's lease taken and its dial in flight at Twilio (slowed
/// down by the emulator) when the process is stopped; a new process on the same address takes
/// over.
async fn stopped_mid_dial(stop: impl FnOnce(&mut ServeProcess)) -> (TestApp, Option<i32>) {
    let (app, mut first) = app_on_a_process(&[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;

    app.emulator.delay_rest(Duration::from_secs(3));
    let (status, body) = app.say(&call_id, "Are you still there?").await;
    assert_eq!(status, 202, "{body}");
    // The dial is on its way to Twilio.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(&mut first);
    let exit = first.exited_within(Duration::from_secs(10)).await;
    app.emulator.delay_rest(Duration::ZERO);

    let restarted = Instant::now();
    let _second = ServeProcess::take_over(&app, &[]).await;
    app.wait_heard(&sid, &["Are you still there?"]).await;
    let waited = restarted.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "heard {waited:?} after the restart"
    );
    assert_eq!(
        app.heard(&sid),
        vec![GREETING, "Are you still there?"],
        "heard once"
    );
    (app, exit)
}

#[tokio::test]
async fn sigterm_during_a_speaker_dial_exits_cleanly_and_the_restart_speaks_at_once() {
    let (_, exit) = stopped_mid_dial(|p| p.terminate()).await;
    assert_eq!(exit, Some(0), "a graceful exit");
}

#[tokio::test]
async fn sigkill_during_a_speaker_dial_costs_seconds_not_minutes() {
    stopped_mid_dial(|p| p.kill()).await;
}
