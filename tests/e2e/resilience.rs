//! With Redis down, callers hear something sensible and nothing is reported stored that is not;
//! when Redis returns, denwa recovers without a restart.

use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn redis_outage_is_handled_and_recovered_from() {
    let mut app = spawn_app().await;
    let (_, call_id) = app.call_in(CALLER).await;

    app.redis.stop();

    let (status, body) = app.say(&call_id, "Are you there?").await;
    assert_eq!(status, 503, "{body}");
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    let sid = app
        .emulator
        .place_call("+14155550999", LINE, None)
        .await
        .unwrap();
    app.wait_for(
        "the turned-away call to end",
        Duration::from_secs(20),
        || async {
            app.emulator
                .call(&sid)
                .filter(|c| c.status == "completed")
                .map(|_| ())
        },
    )
    .await;
    assert_eq!(
        app.heard(&sid),
        vec![UNAVAILABLE],
        "the caller is told, in valid TwiML"
    );
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );

    app.redis.restart().await;
    app.wait_for("readiness", Duration::from_secs(20), || async {
        let r = app
            .http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    // A fresh Redis: a new call works end to end.
    let (sid, call_id) = app.call_in("+14155550777").await;
    let (status, _) = app.say(&call_id, "We are back.").await;
    assert_eq!(status, 202);
    app.wait_heard(&sid, &["We are back."]).await;
}
