//! The guards that would otherwise cost money: blocked callers are refused before anything
//! exists, and the line never dials premium-rate, shared-cost or out-of-country numbers.

use std::time::Duration;

use denwa_twilio_emulator::PhoneBehaviour;
use serde_json::{Value, json};

use crate::helpers::*;

impl TestApp {
    async fn dial(&self, to: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.api("/calls"))
            .bearer_auth(API_TOKEN)
            .json(&json!({ "to": to }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Calls Twilio was asked to place, other than the self-dial speaker's.
    fn dialled(&self, to: &str) -> usize {
        self.emulator
            .calls()
            .iter()
            .filter(|c| c.to == to && c.from == LINE)
            .count()
    }
}

#[tokio::test]
async fn a_blocked_caller_is_refused_unanswered_and_nothing_is_recorded() {
    let app = spawn_app_with_file(r#"blocked_callers = ["+1900", "+14155550666"]"#, &[]).await;
    let blocked = "+14155550666";
    let sid = app
        .emulator
        .place_call(blocked, LINE, None)
        .await
        .expect("the emulator places the call");
    let ended = app
        .emulator
        .wait_until(Duration::from_secs(10), |e| {
            e.call(&sid)
                .is_some_and(|c| !matches!(c.status.as_str(), "queued" | "ringing"))
        })
        .await;
    assert!(ended, "{:#?}", app.emulator.call(&sid));
    let call = app.emulator.call(&sid).expect("the call");
    // `<Reject>` ends a call unanswered (no-answer, or busy), so it is never billed.
    assert!(
        matches!(call.status.as_str(), "no-answer" | "busy"),
        "{call:#?}"
    );
    assert_eq!(call.duration.unwrap_or(0), 0);
    assert!(app.emulator.conferences().is_empty());
    let (_, calls) = app.get_json("/calls").await;
    assert_eq!(calls["calls"], json!([]), "no call record: {calls}");

    // Anyone else gets through, and the refusal is counted.
    let (_, call_id) = app.call_in("+14155550123").await;
    assert!(!call_id.is_empty());
    let metrics = app.metrics_text().await;
    assert!(metrics.contains("denwa_calls_blocked_total 1"), "{metrics}");
}

#[tokio::test]
async fn the_line_never_dials_premium_rate_shared_cost_or_other_countries() {
    let app = spawn_app().await;
    for (number, says) in [
        ("+19005550123", "is a premium-rate number"),
        ("+33810123456", "is a shared-cost number"),
        (
            "+819012345678",
            "is in JP, which line.dial_countries does not include",
        ),
    ] {
        let (status, body) = app.dial(number).await;
        assert_eq!(status, 403, "{number}: {body}");
        assert_eq!(body["error"], "number_not_allowed", "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{number}: {message}");
        assert_eq!(app.dialled(number), 0, "{number} was not dialled");
    }
    let (_, calls) = app.get_json("/calls").await;
    assert_eq!(calls["calls"], json!([]), "nothing recorded: {calls}");

    // The line's own country is allowed by default.
    let callee = "+14155550188";
    app.emulator.add_phone(callee, PhoneBehaviour::Answer);
    let (status, body) = app.dial(callee).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.dialled(callee), 1);
}

#[tokio::test]
async fn dial_countries_widens_the_line_but_premium_rate_stays_refused() {
    let app = spawn_app_with_file(r#"dial_countries = ["US", "JP"]"#, &[]).await;
    let callee = "+819012345678";
    app.emulator.add_phone(callee, PhoneBehaviour::Answer);
    let (status, body) = app.dial(callee).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.dialled(callee), 1);

    let any = spawn_app_with(&[("DENWA_LINE_DIAL_COUNTRIES", "*")]).await;
    let (status, body) = any.dial("+33899123456").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("premium-rate"),
        "{body}"
    );
}
