//! Webhooks without Twilio's signature change nothing; a spoofed self-dial never gets in.

use std::time::Duration;

use denwa_twilio_emulator::CallEventKind;

use crate::helpers::*;

fn voice_params<'a>(from: &'a str, sid: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CallSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", from),
        ("To", LINE),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
    ]
}

#[tokio::test]
async fn unsigned_forged_or_misdirected_webhooks_are_rejected_and_change_nothing() {
    let app = spawn_app().await;
    let params = voice_params(CALLER, "CA00000000000000000000000000000001");

    let unsigned = app
        .http
        .post(format!("{}/twilio/voice", app.base))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    let forged = app
        .post_signed("/twilio/voice", &params, "not-the-auth-token")
        .await;
    assert_eq!(forged.status(), 403);
    // Signed for another URL: the signature covers the path.
    let url = format!("{}/twilio/other", app.base);
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let misdirected = app
        .http
        .post(format!("{}/twilio/voice", app.base))
        .header(
            "X-Twilio-Signature",
            denwa_twilio_emulator::sign(AUTH_TOKEN, &url, &owned),
        )
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(misdirected.status(), 403);
    let (_, calls) = app.get_json("/calls").await;
    assert_eq!(
        calls["calls"].as_array().unwrap().len(),
        0,
        "no call was recorded"
    );

    // A forged conference-end cannot end a real call.
    let (_, call_id) = app.call_in(CALLER).await;
    let conference = format!("denwa-{call_id}");
    for path in [
        "/twilio/conference",
        "/twilio/call-status",
        "/twilio/speak",
        "/twilio/speaker-gate",
        "/twilio/transcription",
    ] {
        let r = app
            .post_signed(
                path,
                &[
                    ("ConferenceSid", "CF0"),
                    ("FriendlyName", &conference),
                    ("StatusCallbackEvent", "conference-end"),
                    ("AccountSid", ACCOUNT_SID),
                    ("CallSid", "CA1"),
                    ("CallStatus", "completed"),
                ],
                "wrong-token",
            )
            .await;
        assert_eq!(r.status(), 403, "{path}");
    }
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "connected");
}

#[tokio::test]
async fn a_signed_webhook_with_a_malformed_sid_is_a_clear_400_and_changes_nothing() {
    let app = spawn_app().await;
    for bad in [
        "CA1",
        "CA0123456789abcdef0123456789abcdeg",
        "CF0123456789abcdef0123456789abcdef",
    ] {
        let r = app
            .post_signed("/twilio/voice", &voice_params(CALLER, bad), AUTH_TOKEN)
            .await;
        assert_eq!(r.status(), 400, "{bad:?}");
        let body = r.text().await.unwrap();
        assert!(body.contains("not a Twilio call SID"), "{bad:?}: {body}");
    }
    let (_, calls) = app.get_json("/calls").await;
    assert_eq!(
        calls["calls"].as_array().unwrap().len(),
        0,
        "no call was recorded"
    );

    // A conference event naming a conference by anything but its SID ends nothing.
    let (_, call_id) = app.call_in(CALLER).await;
    let r = app
        .post_signed(
            "/twilio/conference",
            &[
                ("AccountSid", ACCOUNT_SID),
                ("ConferenceSid", "denwa-conference"),
                ("FriendlyName", &format!("denwa-{call_id}")),
                ("StatusCallbackEvent", "conference-end"),
                ("SequenceNumber", "99"),
            ],
            AUTH_TOKEN,
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("not a Twilio conference SID")
    );
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "connected");
}

#[tokio::test]
async fn a_spoofed_self_dial_never_hears_or_speaks_in_a_conference() {
    let app = spawn_app().await;
    let (caller_sid, call_id) = app.call_in(CALLER).await;
    // Someone spoofs the line's own number as caller ID, and even presses digits, again and
    // again.
    let spoof = app.emulator.place_call(LINE, LINE, None).await.unwrap();
    for _ in 0..3 {
        app.emulator.press(&spoof, "12345678").await;
    }
    app.emulator.speak(&spoof, "I am an intruder").await;
    app.wait_for(
        "the spoofed call to be hung up",
        Duration::from_secs(20),
        || async {
            app.emulator
                .call(&spoof)
                .filter(|c| c.status == "completed")
                .map(|_| ())
        },
    )
    .await;
    assert!(
        app.emulator
            .conferences()
            .iter()
            .all(|c| c.participants.iter().all(|p| p.call_sid != spoof))
    );
    assert!(
        app.emulator.transcript(&spoof).is_empty(),
        "the spoofed call heard nothing"
    );
    // Two chances at the code (the second for a speaker whose digit was lost), no more.
    let gate: Vec<String> = app
        .emulator
        .events(&spoof)
        .into_iter()
        .filter_map(|e| match e.kind {
            CallEventKind::Webhook { url, .. } if url.contains("/twilio/speaker-gate") => Some(url),
            _ => None,
        })
        .collect();
    assert_eq!(gate.len(), 2, "{gate:?}");
    assert!(gate[1].ends_with("?attempt=2"), "{gate:?}");
    assert!(
        app.heard(&caller_sid)
            .iter()
            .all(|t| !t.contains("intruder"))
    );
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["speaker_legs"], 0);
    let (_, calls) = app.get_json("/calls").await;
    assert_eq!(
        calls["calls"].as_array().unwrap().len(),
        1,
        "the spoof was not taken for a caller"
    );
}
