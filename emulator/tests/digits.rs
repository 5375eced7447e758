//! DTMF: what `SendDigits` accepts (error 21206 otherwise), how long `W` waits, and digits lost
//! on the line.

mod support;

use denwa_twilio_emulator::{CallEventKind, Emulator};
use support::*;

/// A line whose inbound calls gather `num_digits` digits (ending after 5 s without one) and
/// post them to `/gathered`; outbound calls it places to itself just wait.
async fn self_dial_line(em: &Emulator, num_digits: u32) -> App {
    let gather = format!(
        r#"<Response><Gather numDigits="{num_digits}" timeout="5" action="/gathered"/></Response>"#
    );
    let app = spawn_app(em.auth_token(), move |h| match h.path.as_str() {
        "/voice" => twiml(&gather),
        "/out" => twiml(r#"<Response><Pause length="10"/></Response>"#),
        _ => twiml("<Response><Hangup/></Response>"),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    app
}

/// Places a call from the line to itself that sends `digits` once answered.
async fn dial_self(em: &Emulator, app: &App, digits: &str) -> (u16, serde_json::Value) {
    rest_post(
        em,
        "/Calls.json",
        &[
            ("To", LINE),
            ("From", LINE),
            ("Url", app.url("/out").as_str()),
            ("SendDigits", digits),
        ],
    )
    .await
}

#[tokio::test]
async fn send_digits_takes_keys_a_to_d_and_refuses_the_rest_with_21206() {
    let em = emulator().await;
    let app = self_dial_line(&em, 4).await;
    for bad in ["12x", "1,2", "1 2", "abcd"] {
        let (status, body) = dial_self(&em, &app, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["code"], 21206, "{bad}: {body}");
    }
    assert!(em.calls().is_empty());
    let (status, body) = dial_self(&em, &app, "wA*B#W").await;
    assert_eq!(status, 201, "{body}");
    assert!(
        em.wait_until(WAIT, |_| !app.hooks_to("/gathered").is_empty())
            .await
    );
    assert_eq!(app.hooks_to("/gathered")[0].get("Digits"), Some("A*B"));
}

#[tokio::test]
async fn an_upper_case_w_waits_a_whole_second() {
    let em = emulator().await;
    let app = self_dial_line(&em, 1).await;
    let (_, body) = dial_self(&em, &app, "W5").await;
    let sid = body["sid"].as_str().unwrap().to_string();
    assert!(
        em.wait_until(WAIT, |_| !app.hooks_to("/gathered").is_empty())
            .await
    );
    let events = em.events(&sid);
    let answered = events
        .iter()
        .find(|e| matches!(&e.kind, CallEventKind::Status { status } if status == "in-progress"))
        .unwrap()
        .at;
    let sent = events
        .iter()
        .find(|e| matches!(e.kind, CallEventKind::DtmfSent { digit: '5' }))
        .unwrap()
        .at;
    assert!(
        sent - answered >= 1.0,
        "the digit came {}s in",
        sent - answered
    );
}

#[tokio::test]
async fn a_digit_the_line_loses_never_reaches_the_gather() {
    let em = emulator().await;
    let app = self_dial_line(&em, 4).await;
    em.lose_digit(1);
    dial_self(&em, &app, "ww1234").await;
    assert!(
        em.wait_until(WAIT, |_| !app.hooks_to("/gathered").is_empty())
            .await
    );
    // Three digits came, then the gather's timeout: Twilio posts what it has.
    let gathered = &app.hooks_to("/gathered")[0];
    assert_eq!(gathered.get("Digits"), Some("134"));
    let inbound = em
        .calls()
        .into_iter()
        .find(|c| c.direction == "inbound")
        .unwrap();
    assert!(
        em.events(&inbound.sid)
            .iter()
            .any(|e| e.kind == CallEventKind::DtmfLost { digit: '2' })
    );
    // One loss was asked for: the next digits arrive.
    dial_self(&em, &app, "ww1234").await;
    assert!(
        em.wait_until(WAIT, |_| app.hooks_to("/gathered").len() == 2)
            .await
    );
    assert_eq!(app.hooks_to("/gathered")[1].get("Digits"), Some("1234"));
}
