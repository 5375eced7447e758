//! End-to-end tests of the emulator through its real boundaries: its REST API over HTTP, and
//! webhooks to a stand-in application over HTTP with real signatures.

mod support;

use denwa_twilio_emulator::{
    APPLICATION_ERROR_MESSAGE, CallEventKind, DEFAULT_HOLD_MUSIC, Heard, PhoneBehaviour,
};
use support::*;

const CONFERENCE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Dial><Conference beep="false">denwa-room</Conference></Dial></Response>"#;

#[tokio::test]
async fn inbound_call_hears_the_greeting_and_webhook_is_signed() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| {
        twiml("<Response><Say voice=\"Polly.Joanna\" language=\"en-US\">Hello caller, welcome.</Say><Hangup/></Response>")
    })
    .await;
    em.add_number(
        LINE,
        &app.url("/twilio/voice?x=1"),
        Some(&app.url("/twilio/status")),
    );
    let call = em.place_call(ALICE, LINE, Some("Alice")).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );

    assert_eq!(
        em.transcript(&call),
        vec![Heard::Say {
            text: "Hello caller, welcome.".into(),
            voice: Some("Polly.Joanna".into()),
            language: Some("en-US".into()),
            complete: true,
        }]
    );
    let voice = app.hooks_to("/twilio/voice");
    assert_eq!(voice.len(), 1);
    let h = &voice[0];
    assert!(
        h.signature_ok,
        "signature must validate over the URL with its query string"
    );
    assert_eq!(h.user_agent, "TwilioProxy/1.1");
    assert!(h.idempotency_token.is_some());
    assert!(
        h.content_type
            .as_deref()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    for (k, v) in [
        ("CallSid", call.as_str()),
        ("AccountSid", em.account_sid()),
        ("From", ALICE),
        ("Caller", ALICE),
        ("To", LINE),
        ("Called", LINE),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
        ("CallerName", "Alice"),
    ] {
        assert_eq!(h.get(k), Some(v), "{k}");
    }
    // The number's status callback reports the end of the call.
    assert!(
        em.wait_until(WAIT, |_| !app.hooks_to("/twilio/status").is_empty())
            .await
    );
    let status = &app.hooks_to("/twilio/status")[0];
    assert_eq!(status.get("CallStatus"), Some("completed"));
    assert!(status.get("CallDuration").is_some());
    assert!(status.get("Timestamp").unwrap().ends_with("+0000"));
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn two_callers_in_a_conference_hear_each_other() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| twiml(CONFERENCE)).await;
    em.add_number(LINE, &app.url("/twilio/voice"), None);
    let a = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.call(&a).unwrap().conference_sid.is_some())
            .await
    );
    let b = em.place_call(BOB, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em
            .conference("denwa-room")
            .is_some_and(|c| c.status == "in-progress"))
            .await
    );
    em.speak(&a, "hello from Alice").await;
    em.speak(&b, "こんにちは、ボブです").await;
    assert_eq!(
        em.transcript(&b),
        vec![Heard::Speech {
            speaker: ALICE.into(),
            text: "hello from Alice".into(),
            complete: true
        }]
    );
    // Alice waited alone first (hold music), then heard Bob, never herself.
    assert_eq!(
        em.transcript(&a),
        vec![
            Heard::Play {
                url: DEFAULT_HOLD_MUSIC.into()
            },
            Heard::Speech {
                speaker: BOB.into(),
                text: "こんにちは、ボブです".into(),
                complete: true
            },
        ]
    );
    em.hangup(&a).await;
    em.hangup(&b).await;
    assert!(
        em.wait_until(WAIT, |em| em.conference("denwa-room").unwrap().status
            == "completed")
            .await
    );
    assert_eq!(
        em.conference("denwa-room")
            .unwrap()
            .reason_conference_ended
            .as_deref(),
        Some("last-participant-left")
    );
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

/// The seed's self-dial: the speaker leg `<Say>`s as soon as it answers, while its inbound leg is
/// still gathering the one-time code. `speak_after` lets the speaker wait first.
async fn self_dial(speak_pause: u32) -> (Vec<Heard>, Vec<denwa_twilio_emulator::EmulatorError>) {
    const MESSAGE: &str = "The quick brown fox jumps over the lazy dog while the band plays on and everyone in the room listens carefully to every single word";
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), move |h| match h.path.as_str() {
        "/twilio/voice" if h.get("From") == h.get("To") => {
            twiml(r#"<Response><Gather numDigits="4" timeout="10" action="/twilio/code"/></Response>"#)
        }
        "/twilio/voice" => twiml(CONFERENCE),
        "/twilio/code" if h.get("Digits") == Some("1234") => twiml(
            r#"<Response><Dial><Conference beep="false" waitUrl="" startConferenceOnEnter="true">denwa-room</Conference></Dial></Response>"#,
        ),
        "/twilio/code" => twiml("<Response><Hangup/></Response>"),
        "/twilio/speak" => twiml(&format!(
            "<Response><Pause length=\"{speak_pause}\"/><Say>{MESSAGE}</Say><Hangup/></Response>"
        )),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/twilio/voice"), None);
    let caller = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em
            .call(&caller)
            .unwrap()
            .conference_sid
            .is_some())
            .await
    );

    let speak_url = app.url("/twilio/speak");
    let (status, body) = rest_post(
        &em,
        "/Calls.json",
        &[
            ("To", LINE),
            ("From", LINE),
            ("Url", &speak_url),
            ("SendDigits", "wwww1234"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "queued");
    let speaker = body["sid"].as_str().unwrap().to_string();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &speaker) == "completed")
            .await
    );
    em.hangup(&caller).await;
    let said: Vec<Heard> = em
        .transcript(&caller)
        .into_iter()
        .filter(|h| matches!(h, Heard::Say { .. }))
        .collect();
    // The outbound leg itself "heard" nothing but spoke the whole text to its far end.
    let spoken = em.transcript(&speaker);
    assert_eq!(spoken.len(), 1);
    assert_eq!(spoken[0].text(), Some(MESSAGE));
    let inbound = em.call(&speaker).unwrap().far_end_call.unwrap();
    let events = em.events(&inbound);
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, CallEventKind::DtmfReceived { digit: '4' }))
    );
    (said, em.errors())
}

#[tokio::test]
async fn self_dial_that_speaks_immediately_loses_the_first_words() {
    let (said, errors) = self_dial(0).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(said.len(), 1, "{said:?}");
    let Heard::Say { text, complete, .. } = &said[0] else {
        unreachable!()
    };
    assert!(!complete, "the caller must miss the beginning: {text:?}");
    assert!(!text.is_empty());
    assert!(
        "The quick brown fox jumps over the lazy dog while the band plays on and everyone in the room listens carefully to every single word"
            .ends_with(text.as_str())
    );
    assert!(!text.starts_with("The quick"));
}

#[tokio::test]
async fn self_dial_that_waits_for_the_join_is_heard_in_full() {
    let (said, errors) = self_dial(6).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].is_complete(), "{said:?}");
}

#[tokio::test]
async fn strict_parser_failures_are_application_errors() {
    for (body, code) in [
        ("<Response><Speak>hi</Speak></Response>", 12200),
        ("<Response><Say color=\"red\">hi</Say></Response>", 12200),
        ("<Response><Say>hi</Response>", 12100),
    ] {
        let em = emulator().await;
        let app = spawn_app(em.auth_token(), move |_| twiml(body)).await;
        em.add_number(LINE, &app.url("/twilio/voice"), None);
        let call = em.place_call(ALICE, LINE, None).await.unwrap();
        assert!(
            em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
                .await
        );
        let errors = em.errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, code, "{body}");
        assert_eq!(
            em.heard_texts(&call),
            vec![APPLICATION_ERROR_MESSAGE.to_string()]
        );
    }
}

#[tokio::test]
async fn webhook_failures_are_application_errors() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/500" => Reply {
            status: 500,
            content_type: "text/plain",
            body: "boom".into(),
        },
        _ => Reply {
            status: 200,
            content_type: "application/json",
            body: "{}".into(),
        },
    })
    .await;
    em.add_number(LINE, &app.url("/500"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    assert_eq!(em.errors()[0].code, 11200);
    assert_eq!(
        em.heard_texts(&call),
        vec![APPLICATION_ERROR_MESSAGE.to_string()]
    );

    em.add_number(LINE, &app.url("/json"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    assert_eq!(em.errors()[1].code, 12300);

    // Nobody listening at all.
    em.add_number(LINE, "http://127.0.0.1:9/voice", None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    assert_eq!(em.errors()[2].code, 11205);
}

#[tokio::test]
async fn gather_posts_digits_to_its_action_resolved_against_the_document() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/ivr/voice" => twiml(
            r#"<Response><Gather numDigits="3" action="menu"><Say>Enter your code</Say></Gather><Say>No input</Say></Response>"#,
        ),
        "/ivr/menu" => twiml(&format!("<Response><Say>You pressed {}</Say></Response>", h.get("Digits").unwrap())),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/ivr/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| !em.transcript(&call).is_empty())
            .await
    );
    // Barge-in: pressing during the prompt cuts it.
    em.press(&call, "427").await;
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    let menu = app.hooks_to("/ivr/menu");
    assert_eq!(menu.len(), 1);
    assert_eq!(menu[0].get("Digits"), Some("427"));
    assert_eq!(menu[0].get("CallStatus"), Some("in-progress"));
    let texts = em.heard_texts(&call);
    assert_eq!(texts.last().map(String::as_str), Some("You pressed 427"));
    assert!(
        !em.transcript(&call)[0].is_complete(),
        "the prompt was interrupted"
    );
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn gather_timeout_falls_through_to_the_next_verb() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| {
        twiml(r#"<Response><Gather numDigits="1" timeout="2"/><Say>Goodbye</Say></Response>"#)
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    assert_eq!(em.heard_texts(&call), vec!["Goodbye".to_string()]);
    assert_eq!(app.hooks().len(), 1);
}

#[tokio::test]
async fn rest_api_authenticates_and_validates_like_twilio() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| twiml("<Response/>")).await;
    em.add_number(LINE, &app.url("/voice"), None);
    let client = rest_client();
    let calls = format!(
        "{}/2010-04-01/Accounts/{}/Calls.json",
        em.base_url(),
        em.account_sid()
    );

    let resp = client
        .post(&calls)
        .basic_auth(em.account_sid(), Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 20003);
    assert_eq!(
        body["more_info"],
        "https://www.twilio.com/docs/errors/20003"
    );
    let resp = client.get(&calls).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    let url = app.url("/voice");
    for (form, code) in [
        (vec![("From", LINE), ("Url", url.as_str())], 21201),
        (vec![("To", ALICE), ("Url", url.as_str())], 21213),
        (vec![("To", ALICE), ("From", LINE)], 21205),
        (
            vec![("To", "0123"), ("From", LINE), ("Url", url.as_str())],
            21211,
        ),
        (
            vec![("To", ALICE), ("From", BOB), ("Url", url.as_str())],
            21210,
        ),
        (
            vec![("To", ALICE), ("From", LINE), ("Url", "/relative")],
            21205,
        ),
        (
            vec![
                ("To", ALICE),
                ("From", LINE),
                ("Url", url.as_str()),
                ("Method", "PUT"),
            ],
            21200,
        ),
    ] {
        let (status, body) = rest_post(&em, "/Calls.json", &form).await;
        assert_eq!(status, 400, "{form:?}: {body}");
        assert_eq!(body["code"], code, "{form:?}: {body}");
        assert_eq!(body["status"], 400);
    }
    let (status, body) = rest_get(&em, "/Calls/CA00000000000000000000000000000000.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], 20404);

    // Another account's path with these credentials.
    let resp = client
        .get(format!(
            "{}/2010-04-01/Accounts/AC11111111111111111111111111111111/Calls.json",
            em.base_url()
        ))
        .basic_auth(em.account_sid(), Some(em.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(em.errors().is_empty());
}

#[tokio::test]
async fn outbound_call_status_callbacks_are_sequenced() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/outbound" => twiml("<Response><Say>This is a reminder</Say></Response>"),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let (outbound, cb) = (app.url("/outbound"), app.url("/status"));
    let (status, body) = rest_post(
        &em,
        "/Calls.json",
        &[
            ("To", ALICE),
            ("From", LINE),
            ("Url", &outbound),
            ("StatusCallback", &cb),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let sid = body["sid"].as_str().unwrap().to_string();
    assert_eq!(body["direction"], "outbound-api");
    assert_eq!(
        body["uri"],
        format!("/2010-04-01/Accounts/{}/Calls/{sid}.json", em.account_sid())
    );
    assert!(
        em.wait_until(WAIT, |_| app.hooks_to("/status").len() == 4)
            .await
    );
    let mut callbacks = app.hooks_to("/status");
    callbacks.sort_by_key(|h| h.get("SequenceNumber").unwrap().parse::<u32>().unwrap());
    let statuses: Vec<_> = callbacks
        .iter()
        .map(|h| h.get("CallStatus").unwrap().to_string())
        .collect();
    assert_eq!(
        statuses,
        ["initiated", "ringing", "in-progress", "completed"]
    );
    let seqs: Vec<_> = callbacks
        .iter()
        .map(|h| h.get("SequenceNumber").unwrap().to_string())
        .collect();
    assert_eq!(seqs, ["0", "1", "2", "3"]);
    assert!(
        callbacks
            .iter()
            .all(|h| h.signature_ok && h.get("CallbackSource") == Some("call-progress-events"))
    );
    assert!(callbacks[3].get("CallDuration").is_some());
    assert_eq!(em.heard_texts(&sid), vec!["This is a reminder".to_string()]);
    let outbound_hook = &app.hooks_to("/outbound")[0];
    assert_eq!(outbound_hook.get("CallStatus"), Some("in-progress"));
    assert_eq!(outbound_hook.get("Direction"), Some("outbound-api"));
    let (_, fetched) = rest_get(&em, &format!("/Calls/{sid}.json")).await;
    assert_eq!(fetched["status"], "completed");
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn phone_behaviours_set_the_final_status() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| {
        twiml("<Response><Say>hi</Say></Response>")
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    em.add_phone("+14155550001", PhoneBehaviour::Busy);
    em.add_phone("+14155550002", PhoneBehaviour::NoAnswer);
    em.add_phone("+14155550003", PhoneBehaviour::Fail);
    let url = app.url("/voice");
    let mut sids = Vec::new();
    for to in ["+14155550001", "+14155550002", "+14155550003"] {
        let (_, body) = rest_post(
            &em,
            "/Calls.json",
            &[("To", to), ("From", LINE), ("Url", &url), ("Timeout", "5")],
        )
        .await;
        sids.push(body["sid"].as_str().unwrap().to_string());
    }
    assert!(
        em.wait_until(WAIT, |em| sids.iter().all(|s| em
            .call(s)
            .unwrap()
            .end_time
            .is_some()))
            .await
    );
    let statuses: Vec<_> = sids.iter().map(|s| call_status(&em, s)).collect();
    assert_eq!(statuses, ["busy", "no-answer", "failed"]);
    assert!(
        app.hooks().is_empty(),
        "no TwiML is fetched for unanswered calls"
    );
}

#[tokio::test]
async fn conference_announcement_is_heard_by_everyone_and_reported() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/voice" => twiml(
            r#"<Response><Dial><Conference beep="false" statusCallback="/conf" statusCallbackEvent="start end join leave announcement">denwa-room</Conference></Dial></Response>"#,
        ),
        "/announce" => twiml("<Response><Say>Bob joined the call</Say></Response>"),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let a = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.call(&a).unwrap().conference_sid.is_some())
            .await
    );
    let b = em.place_call(BOB, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.conference("denwa-room").unwrap().status
            == "in-progress")
            .await
    );

    let (status, list) = rest_get(
        &em,
        "/Conferences.json?FriendlyName=denwa-room&Status=in-progress",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["conferences"].as_array().unwrap().len(), 1);
    assert_eq!(list["page_size"], 50);
    let conf_sid = list["conferences"][0]["sid"].as_str().unwrap().to_string();
    let announce = app.url("/announce");
    let (status, body) = rest_post(
        &em,
        &format!("/Conferences/{conf_sid}.json"),
        &[("AnnounceUrl", &announce)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        em.wait_until(WAIT, |_| app
            .hooks_to("/conf")
            .iter()
            .any(|h| h.get("StatusCallbackEvent") == Some("announcement-end")))
            .await
    );
    for call in [&a, &b] {
        assert!(
            em.heard_texts(call)
                .contains(&"Bob joined the call".to_string()),
            "{call}"
        );
    }
    end_conference(&em, &conf_sid).await;
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &a) == "completed"
            && call_status(em, &b) == "completed")
            .await
    );
    assert!(
        em.wait_until(WAIT, |_| app
            .hooks_to("/conf")
            .iter()
            .any(|h| h.get("StatusCallbackEvent") == Some("conference-end")))
            .await
    );

    let mut events = app.hooks_to("/conf");
    events.sort_by_key(|h| h.get("SequenceNumber").unwrap().parse::<u32>().unwrap());
    let names: Vec<_> = events
        .iter()
        .map(|h| h.get("StatusCallbackEvent").unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "participant-join",
            "participant-join",
            "conference-start",
            "announcement-end",
            "participant-leave",
            "participant-leave",
            "conference-end"
        ]
    );
    let seqs: Vec<u32> = events
        .iter()
        .map(|h| h.get("SequenceNumber").unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (0..7).collect::<Vec<_>>());
    assert!(
        events
            .iter()
            .all(|h| h.signature_ok && h.get("ConferenceSid") == Some(conf_sid.as_str()))
    );
    let end = events.last().unwrap();
    assert_eq!(
        end.get("ReasonConferenceEnded"),
        Some("conference-ended-via-api")
    );
    let join = &events[0];
    assert_eq!(join.get("CallSid"), Some(a.as_str()));
    assert_eq!(join.get("Muted"), Some("false"));
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn participants_api_dials_muted_listeners_in() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| twiml(CONFERENCE)).await;
    em.add_number(LINE, &app.url("/voice"), None);
    let a = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.call(&a).unwrap().conference_sid.is_some())
            .await
    );
    let conf = em.conference("denwa-room").unwrap().sid;
    let (status, body) = rest_post(
        &em,
        &format!("/Conferences/{conf}/Participants.json"),
        &[
            ("From", LINE),
            ("To", BOB),
            ("Muted", "true"),
            ("Label", "responder"),
            ("Beep", "false"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "queued");
    let responder = body["call_sid"].as_str().unwrap().to_string();
    assert!(
        em.wait_until(WAIT, |em| em.conference(&conf).unwrap().participants.len()
            == 2)
            .await
    );
    em.speak(&responder, "can you hear me").await;
    em.speak(&a, "I need help").await;
    assert!(
        em.heard_texts(&a).is_empty(),
        "a muted participant is not heard"
    );
    assert_eq!(em.heard_texts(&responder), vec!["I need help".to_string()]);

    let (status, body) = rest_post(
        &em,
        &format!("/Conferences/{conf}/Participants/responder.json"),
        &[("Muted", "false")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["muted"], false);
    em.speak(&responder, "on my way").await;
    assert_eq!(em.heard_texts(&a), vec!["on my way".to_string()]);
    let (_, list) = rest_get(&em, &format!("/Conferences/{conf}/Participants.json")).await;
    assert_eq!(list["participants"].as_array().unwrap().len(), 2);
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn record_reports_recording_and_transcription() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/voice" => twiml(r#"<Response><Say>Leave a message</Say><Record maxLength="30" timeout="2" action="/recorded" transcribeCallback="/transcribed"/></Response>"#),
        "/recorded" => twiml("<Response><Say>Thanks</Say><Hangup/></Response>"),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.transcript(&call).contains(&Heard::Beep))
            .await
    );
    // Words spoken over the beep are not recorded: wait for it to end.
    tokio::time::sleep(em.call_secs(1.0)).await;
    // Over two seconds: Twilio transcribes nothing shorter (see tests/transcription.rs).
    em.speak(&call, "please call me back about my order").await;
    em.press(&call, "#").await;
    assert!(
        em.wait_until(WAIT, |_| !app.hooks_to("/transcribed").is_empty())
            .await
    );
    let recorded = &app.hooks_to("/recorded")[0];
    assert_eq!(recorded.get("Digits"), Some("#"));
    assert!(
        recorded
            .get("RecordingUrl")
            .unwrap()
            .starts_with(&em.base_url())
    );
    assert!(recorded.get("RecordingSid").unwrap().starts_with("RE"));
    let t = &app.hooks_to("/transcribed")[0];
    assert_eq!(
        t.get("TranscriptionText"),
        Some("please call me back about my order")
    );
    assert_eq!(t.get("TranscriptionStatus"), Some("completed"));
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    assert_eq!(
        em.heard_texts(&call).last().map(String::as_str),
        Some("Thanks")
    );
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn say_over_twilio_limits_is_never_spoken() {
    let em = emulator().await;
    let long = "あ".repeat(501);
    let body =
        format!("<Response><Say voice=\"Polly.Mizuki\">{long}</Say><Say>after</Say></Response>");
    let app = spawn_app(em.auth_token(), move |_| twiml(&body)).await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    assert_eq!(em.heard_texts(&call), vec!["after".to_string()]);
    assert_eq!(em.errors().len(), 1);
    assert_eq!(em.errors()[0].code, 13521);
}

#[tokio::test]
async fn redirect_by_rest_moves_a_call_out_of_its_conference() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/voice" => twiml(CONFERENCE),
        "/elsewhere" => twiml("<Response><Say>Moved</Say></Response>"),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let a = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.call(&a).unwrap().conference_sid.is_some())
            .await
    );
    let elsewhere = app.url("/elsewhere");
    let (status, body) = rest_post(&em, &format!("/Calls/{a}.json"), &[("Url", &elsewhere)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &a) == "completed")
            .await
    );
    assert_eq!(em.heard_texts(&a), vec!["Moved".to_string()]);
    assert_eq!(em.conference("denwa-room").unwrap().status, "completed");
    let (status, body) = rest_post(&em, &format!("/Calls/{a}.json"), &[("Url", &elsewhere)]).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21220)));
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn incoming_phone_numbers_can_be_listed_and_repointed() {
    let em = emulator().await;
    let first = spawn_app(em.auth_token(), |_| {
        twiml("<Response><Say>first</Say></Response>")
    })
    .await;
    let second = spawn_app(em.auth_token(), |_| {
        twiml("<Response><Say>second</Say></Response>")
    })
    .await;
    let pn = em.add_number(LINE, &first.url("/voice"), None);
    let (status, list) = rest_get(
        &em,
        &format!(
            "/IncomingPhoneNumbers.json?PhoneNumber={}",
            LINE.replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["incoming_phone_numbers"][0]["sid"], pn.as_str());
    let url = second.url("/voice");
    let (status, body) = rest_post(
        &em,
        &format!("/IncomingPhoneNumbers/{pn}.json"),
        &[("VoiceUrl", &url), ("VoiceMethod", "GET")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["voice_url"], url.as_str());
    assert_eq!(em.number(LINE).unwrap().voice_url, url);
    assert_eq!(em.number(LINE).unwrap().voice_method, "GET");
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    assert_eq!(em.heard_texts(&call), vec!["second".to_string()]);
    let hook = &second.hooks()[0];
    assert_eq!(hook.method, "GET");
    assert!(
        hook.signature_ok,
        "GET signatures cover the URL with its query"
    );
    assert_eq!(hook.get("CallSid"), Some(call.as_str()));
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn end_conference_on_exit_sends_the_others_to_their_next_verb() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match (h.path.as_str(), h.get("From")) {
        ("/voice", Some(ALICE)) => twiml(
            r#"<Response><Dial><Conference beep="false" endConferenceOnExit="true">room</Conference></Dial></Response>"#,
        ),
        ("/voice", _) => twiml(r#"<Response><Dial><Conference beep="false">room</Conference></Dial><Say>The call has ended</Say></Response>"#),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let a = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.call(&a).unwrap().conference_sid.is_some())
            .await
    );
    let b = em.place_call(BOB, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.conference("room").unwrap().status
            == "in-progress")
            .await
    );
    em.hangup(&a).await;
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &b) == "completed")
            .await
    );
    assert_eq!(em.heard_texts(&b), vec!["The call has ended".to_string()]);
    let conf = em.conference("room").unwrap();
    assert_eq!(
        conf.reason_conference_ended.as_deref(),
        Some("participant-with-end-conference-on-exit-left")
    );
    assert_eq!(conf.call_sid_ending_conference.as_deref(), Some(a.as_str()));
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn live_feed_reports_heard_tokens() {
    let em = emulator().await;
    let mut feed = em.subscribe();
    let app = spawn_app(em.auth_token(), |_| {
        twiml("<Response><Say>one two</Say></Response>")
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    let mut heard = Vec::new();
    while let Ok(ev) = feed.try_recv() {
        if let denwa_twilio_emulator::EmulatorEvent::Heard { heard: h, .. } = ev {
            heard.push(h.text().unwrap().to_string());
        }
    }
    assert_eq!(heard, ["one", "one two"]);
}

#[tokio::test]
async fn speech_gather_reports_what_the_caller_said() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/voice" => twiml(r#"<Response><Gather input="speech" action="/speech" speechTimeout="1"><Say>Who are you?</Say></Gather></Response>"#),
        "/speech" => twiml("<Response><Hangup/></Response>"),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em
            .transcript(&call)
            .first()
            .is_some_and(Heard::is_complete))
            .await
    );
    em.speak(&call, "my name is Alice").await;
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    let speech = &app.hooks_to("/speech")[0];
    assert_eq!(speech.get("SpeechResult"), Some("my name is Alice"));
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn dial_number_bridges_the_caller_to_a_phone() {
    let em = emulator().await;
    em.add_phone(
        BOB,
        PhoneBehaviour::AnswerAndPress {
            digits: "5".into(),
            after_secs: 1.0,
        },
    );
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/voice" => twiml(&format!(
            r#"<Response><Dial action="/dialed" hangupOnStar="true">{BOB}</Dial></Response>"#
        )),
        "/dialed" => twiml("<Response><Say>Back from the call</Say></Response>"),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.calls().iter().any(|c| c
            .parent_call_sid
            .as_deref()
            == Some(call.as_str())
            && c.status == "in-progress"))
            .await
    );
    let child = em
        .calls()
        .into_iter()
        .find(|c| c.parent_call_sid.as_deref() == Some(call.as_str()))
        .unwrap();
    assert_eq!(child.direction, "outbound-dial");
    assert_eq!(
        child.from, ALICE,
        "the caller's number is the default caller ID"
    );
    em.speak(&call, "hi Bob").await;
    em.speak(&child.sid, "hi Alice").await;
    assert_eq!(em.heard_texts(&child.sid), vec!["hi Bob".to_string()]);
    em.press(&call, "*").await;
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    assert_eq!(
        em.heard_texts(&call),
        vec!["hi Alice".to_string(), "Back from the call".to_string()]
    );
    let dialed = &app.hooks_to("/dialed")[0];
    assert_eq!(dialed.get("DialCallStatus"), Some("completed"));
    assert_eq!(dialed.get("DialCallSid"), Some(child.sid.as_str()));
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn voicemail_greeting_enters_the_conference() {
    let em = emulator().await;
    em.add_phone(BOB, PhoneBehaviour::Voicemail);
    let app = spawn_app(em.auth_token(), |_| twiml(CONFERENCE)).await;
    em.add_number(LINE, &app.url("/voice"), None);
    let a = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.call(&a).unwrap().conference_sid.is_some())
            .await
    );
    let conf = em.conference("denwa-room").unwrap().sid;
    let (status, body) = rest_post(
        &em,
        &format!("/Conferences/{conf}/Participants.json"),
        &[("From", LINE), ("To", BOB), ("MachineDetection", "Enable")],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let vm = body["call_sid"].as_str().unwrap().to_string();
    assert!(
        em.wait_until(WAIT, |em| em
            .heard_texts(&a)
            .iter()
            .any(|t| t == denwa_twilio_emulator::VOICEMAIL_GREETING))
            .await
    );
    assert_eq!(
        em.call(&vm).unwrap().answered_by.as_deref(),
        Some("machine_start")
    );
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn reject_does_not_answer() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| {
        twiml(r#"<Response><Reject reason="busy"/></Response>"#)
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "busy")
            .await
    );
    assert!(em.call(&call).unwrap().start_time.is_none());
    assert!(em.transcript(&call).is_empty());
}

#[tokio::test]
async fn custom_wait_url_is_played_until_the_conference_starts() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/voice" => twiml(r#"<Response><Dial><Conference beep="false" waitUrl="/wait">room</Conference></Dial></Response>"#),
        "/wait" => twiml("<Response><Say>Please hold</Say><Pause length=\"1\"/><Redirect>/wait</Redirect></Response>"),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let a = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.heard_texts(&a).len() >= 2)
            .await
    );
    assert!(
        em.heard_texts(&a)
            .iter()
            .all(|t| "Please hold".starts_with(t.as_str()))
    );
    let wait = &app.hooks_to("/wait")[0];
    assert!(wait.signature_ok);
    assert!(wait.get("ConferenceSid").unwrap().starts_with("CF"));
    let b = em.place_call(BOB, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.conference("room").unwrap().status
            == "in-progress")
            .await
    );
    tokio::time::sleep(em.call_secs(3.0)).await;
    let count = em.heard_texts(&a).len();
    em.speak(&b, "hello").await;
    let texts = em.heard_texts(&a);
    assert_eq!(texts.len(), count + 1, "the wait music stopped: {texts:?}");
    assert_eq!(texts.last().map(String::as_str), Some("hello"));
    // Events serialize for the live feed.
    for e in em.events(&a) {
        serde_json::to_string(&e).unwrap();
    }
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

/// Twilio reads at most 64 kB of TwiML (error 11750), for a call's first document as for every
/// later one; a document just under the limit is executed.
#[tokio::test]
async fn twiml_over_64_kb_is_refused_with_11750() {
    for (padding, refused) in [(64_000, true), (63_000, false)] {
        let body = format!(
            "<Response><Say>Hello.</Say><!--{}--></Response>",
            "x".repeat(padding)
        );
        let em = emulator().await;
        let app = spawn_app(em.auth_token(), move |_| twiml(&body)).await;
        em.add_number(LINE, &app.url("/twilio/voice"), None);
        let call = em.place_call(ALICE, LINE, None).await.unwrap();
        assert!(
            em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
                .await
        );
        let codes: Vec<u32> = em.errors().iter().map(|e| e.code).collect();
        if refused {
            assert_eq!(codes, vec![11750]);
            assert_eq!(
                em.heard_texts(&call),
                vec![APPLICATION_ERROR_MESSAGE.to_string()]
            );
        } else {
            assert!(codes.is_empty(), "{codes:?}");
            assert_eq!(em.heard_texts(&call), vec!["Hello.".to_string()]);
        }
    }
}

#[tokio::test]
async fn rest_requests_are_logged_with_their_parameters_and_status() {
    let em = emulator().await;
    let missing = "/Calls/CA00000000000000000000000000000000.json";
    rest_get(&em, missing).await;
    rest_post(&em, missing, &[("Status", "completed")]).await;
    let log = em.rest_requests();
    let path = format!("/2010-04-01/Accounts/{}{missing}", em.account_sid());
    let seen: Vec<_> = log
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                r.params.clone(),
                r.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("GET", path.as_str(), vec![], 404),
            (
                "POST",
                path.as_str(),
                vec![("Status".to_owned(), "completed".to_owned())],
                404
            ),
        ]
    );
}
