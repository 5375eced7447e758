//! The sweep reads only the calls due for a look (the store's sweep index), not every active
//! call every tick; and a call the index does not know (recorded by a version before it) is
//! still looked after: the sweep gives every active call without one a look time, a page a tick.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::redis_cluster::cli;
use crate::serve_process::{ServeProcess, app_on_a_process};

/// How many times Redis has run `command` (`INFO commandstats`; commands run by scripts count).
fn times_run(port: u16, command: &str) -> u64 {
    let stats = cli(port, &["INFO", "commandstats"]);
    let prefix = format!("cmdstat_{command}:calls=");
    stats
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn idle_calls_are_not_read_every_tick() {
    const CALLS: usize = 40;
    const TICKS: u64 = 4;
    let app = spawn_app_with_file("", &[]).await;
    for n in 0..CALLS {
        let sid = format!("CA{n:032}");
        let response = app
            .post_signed(
                "/twilio/voice",
                &[
                    ("CallSid", sid.as_str()),
                    ("AccountSid", ACCOUNT_SID),
                    ("From", "+14155550199"),
                    ("To", LINE),
                ],
                AUTH_TOKEN,
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let (_, calls) = app.get_json("/calls").await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), CALLS);

    // Each tick asks the sweep's index for the due calls once (ZRANGEBYSCORE in DUE_CALLS); a
    // call read is an HGETALL of its record.
    let port = app.redis.port;
    let (ticks, reads) = (times_run(port, "zrangebyscore"), times_run(port, "hgetall"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while times_run(port, "zrangebyscore") < ticks + TICKS {
        assert!(Instant::now() < deadline, "the sweep does not tick");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let read = times_run(port, "hgetall") - reads;
    // Reading every active call every tick would be CALLS x TICKS reads. None of these calls is
    // due (no responders, voicemail after 120 s, Twilio asked after 60 s of quiet).
    assert!(
        read < CALLS as u64,
        "{read} call records read in {TICKS} ticks of {CALLS} idle calls"
    );
}

#[tokio::test]
async fn a_call_missing_from_the_sweeps_index_is_looked_after_by_the_next_process() {
    let env = [("DENWA_LINE_VOICEMAIL_AFTER", "3")];
    let (app, mut first) = app_on_a_process(&env).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    first.kill();
    first.exited_within(Duration::from_secs(10)).await;
    // As a version of denwa before the sweep's index left it: active, with no look time.
    let removed = cli(app.redis.port, &["ZREM", "denwa:calls:due", &call_id]);
    assert_eq!(removed.trim(), "1", "the call was in the sweep's index");

    let _second = ServeProcess::take_over(&app, &env).await;
    // Nobody answers: the new process offers voicemail, which only its sweep does.
    app.wait_for_the_beep(&sid).await;
}
