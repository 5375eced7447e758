//! Conferences as Twilio documents them: when one starts and what a participant hears until then,
//! the participant labels Twilio accepts, and the Participants API (emulator/README.md,
//! "Conferences and participants"). Through the emulator's real boundaries: signed webhooks to a
//! stand-in application, REST over HTTP.

mod support;

use denwa_twilio_emulator::{DEFAULT_HOLD_MUSIC, Emulator, Heard, PhoneBehaviour};
use support::*;

const CAROL: &str = "+14155550103";
const DAVE: &str = "+14155550104";
const A_CALL_SID: &str = "CA0123456789abcdef0123456789abcdef";

/// `<Dial><Conference>` into conference `room`, reporting to `/conf`, then `<Say>after</Say>`.
fn room(attrs: &str) -> Reply {
    twiml(&format!(
        r#"<Response><Dial><Conference beep="false" statusCallback="/conf" statusCallbackEvent="start end join leave modify" {attrs}>room</Conference></Dial><Say>after</Say></Response>"#
    ))
}

/// The conference callbacks `app` received, in SequenceNumber order.
fn conference_events(app: &App) -> Vec<Hook> {
    let mut events = app.hooks_to("/conf");
    events.sort_by_key(|h| h.get("SequenceNumber").unwrap().parse::<u32>().unwrap());
    events
}

fn names(events: &[Hook]) -> Vec<String> {
    events
        .iter()
        .map(|h| h.get("StatusCallbackEvent").unwrap().to_owned())
        .collect()
}

async fn wait_in_room(em: &Emulator, participants: usize) {
    assert!(
        em.wait_until(WAIT, |em| em
            .conference("room")
            .is_some_and(|c| c.participants.len() == participants))
            .await,
        "{participants} participants in the room"
    );
}

fn codes(em: &Emulator) -> Vec<u32> {
    em.errors().iter().map(|e| e.code).collect()
}

/// Twilio starts a conference "when this participant joins" for one with
/// startConferenceOnEnter=true, and one joining with false waits "until a participant joins where
/// startConferenceOnEnter is true"; it takes two. The emulator's reading: only such a join, with
/// someone already in, starts it. Until then everyone hears the wait music and nobody is heard.
#[tokio::test]
async fn a_conference_starts_only_when_a_participant_who_may_start_it_joins_someone() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| {
        match (h.path.as_str(), h.get("From")) {
            ("/voice", Some(BOB)) => room(r#"startConferenceOnEnter="false""#),
            ("/voice", _) => room(""),
            _ => empty(),
        }
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);

    // Alice may start it, but alone she cannot.
    let alice = em.place_call(ALICE, LINE, None).await.unwrap();
    wait_in_room(&em, 1).await;
    // Bob joins Alice with startConferenceOnEnter=false: that starts nothing.
    let bob = em.place_call(BOB, LINE, None).await.unwrap();
    wait_in_room(&em, 2).await;
    tokio::time::sleep(em.call_secs(2.0)).await;
    assert_eq!(em.conference("room").unwrap().status, "init");
    em.speak(&bob, "can anyone hear me").await;
    em.speak(&alice, "hello").await;
    let music = vec![Heard::Play {
        url: DEFAULT_HOLD_MUSIC.into(),
    }];
    assert_eq!(em.transcript(&alice), music, "Bob is muted while waiting");
    assert_eq!(em.transcript(&bob), music, "so is Alice");

    // Carol may start it, and someone is in: it starts, and Bob is heard from then on.
    let carol = em.place_call(CAROL, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.conference("room").unwrap().status
            == "in-progress")
            .await
    );
    em.speak(&bob, "now you can").await;
    assert_eq!(em.heard_texts(&alice), vec!["now you can".to_owned()]);
    assert_eq!(em.heard_texts(&carol), vec!["now you can".to_owned()]);
    assert!(
        em.wait_until(WAIT, |_| conference_events(&app).len() == 4)
            .await
    );
    let events = conference_events(&app);
    assert_eq!(
        names(&events),
        [
            "participant-join",
            "participant-join",
            "participant-join",
            "conference-start"
        ]
    );
    assert_eq!(events[1].get("StartConferenceOnEnter"), Some("false"));
    for call in [&alice, &bob, &carol] {
        em.hangup(call).await;
    }
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

/// "Once the TwiML document located at the waitUrl runs out of verbs to execute, silence will be
/// played" (a `<Redirect>` loops it).
#[tokio::test]
async fn a_wait_document_that_runs_out_leaves_silence() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/voice" => room(r#"waitUrl="/wait""#),
        "/wait" => twiml("<Response><Say>Please hold</Say></Response>"),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let alice = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| !em.heard_texts(&alice).is_empty())
            .await
    );
    tokio::time::sleep(em.call_secs(10.0)).await;
    assert_eq!(em.heard_texts(&alice), vec!["Please hold".to_owned()]);
    assert_eq!(app.hooks_to("/wait").len(), 1, "fetched once, not looped");
    em.hangup(&alice).await;
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

/// A `participantLabel` over 128 characters, with a `/` (or `%2F`), or resembling a CallSid is
/// error 16023 (the emulator refuses a SID-shaped run anywhere in the label): the call is not
/// added and goes on with its next verb.
#[tokio::test]
async fn invalid_participant_labels_keep_the_call_out_of_the_conference() {
    let long = "x".repeat(129);
    let with_sid = ["speaker-", A_CALL_SID].concat();
    for label in [with_sid.as_str(), A_CALL_SID, "a/b", "a%2Fb", &long] {
        let em = emulator().await;
        let attr = format!("participantLabel=\"{label}\"");
        let app = spawn_app(em.auth_token(), move |_| room(&attr)).await;
        em.add_number(LINE, &app.url("/voice"), None);
        let alice = em.place_call(ALICE, LINE, None).await.unwrap();
        assert!(
            em.wait_until(WAIT, |em| call_status(em, &alice) == "completed")
                .await,
            "{label}"
        );
        assert_eq!(codes(&em), vec![16023], "{label}");
        assert_eq!(em.heard_texts(&alice), vec!["after".to_owned()], "{label}");
        assert!(em.events(&alice).iter().all(|e| !matches!(
            e.kind,
            denwa_twilio_emulator::CallEventKind::ConferenceJoin { .. }
        )));
    }
}

/// A label already used in the conference is 16025: "The call will not be added into the
/// conference and instead continue to the next TwiML verb."
#[tokio::test]
async fn a_label_in_use_keeps_the_second_call_out() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| {
        room(r#"participantLabel="speaker-k3j9x0q2m7pa""#)
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let alice = em.place_call(ALICE, LINE, None).await.unwrap();
    wait_in_room(&em, 1).await;
    let bob = em.place_call(BOB, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &bob) == "completed")
            .await
    );
    assert_eq!(codes(&em), vec![16025]);
    assert_eq!(em.heard_texts(&bob), vec!["after".to_owned()]);
    let room = em.conference("room").unwrap();
    assert_eq!(room.participants.len(), 1);
    assert_eq!(room.participants[0].call_sid, alice);
    em.hangup(&alice).await;
}

/// The Participants API's `Label` follows the same rule (16024), and a label in use by a
/// participant in the conference or still being dialled is 16026.
#[tokio::test]
async fn the_participants_api_refuses_invalid_and_used_labels() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| room(r#"participantLabel="caller""#)).await;
    em.add_number(LINE, &app.url("/voice"), None);
    em.add_phone(BOB, PhoneBehaviour::NoAnswer);
    let alice = em.place_call(ALICE, LINE, None).await.unwrap();
    wait_in_room(&em, 1).await;
    let add = |label: &str| {
        let label = label.to_owned();
        let em = em.clone();
        async move {
            rest_post(
                &em,
                "/Conferences/room/Participants.json",
                &[("From", LINE), ("To", BOB), ("Label", &label)],
            )
            .await
        }
    };
    let with_sid = ["responder-", A_CALL_SID].concat();
    for label in [with_sid.as_str(), "a/b", "a%2fb", &"x".repeat(129)] {
        let (status, body) = add(label).await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (400, Some(16024)),
            "{label}"
        );
    }
    let (status, body) = add("caller").await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(16026)));
    let (status, body) = add("responder-1").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["label"], "responder-1");
    // Still ringing, it holds its label.
    let (status, body) = add("responder-1").await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(16026)));
    em.hangup(&alice).await;
}

/// Twilio lists the participants "either connecting to, or actively connected to" a conference,
/// and one dialled through the API that never answers is reported with `participant-leave`.
#[tokio::test]
async fn participants_being_dialled_are_listed_and_reported_when_they_never_join() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| room("")).await;
    em.add_number(LINE, &app.url("/voice"), None);
    em.add_phone(BOB, PhoneBehaviour::NoAnswer);
    em.add_phone(CAROL, PhoneBehaviour::Busy);
    let alice = em.place_call(ALICE, LINE, None).await.unwrap();
    wait_in_room(&em, 1).await;
    let conf = em.conference("room").unwrap().sid;
    let participants = format!("/Conferences/{conf}/Participants.json");
    let (status, bob) = rest_post(
        &em,
        &participants,
        &[
            ("From", LINE),
            ("To", BOB),
            ("Label", "bob"),
            ("Timeout", "30"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{bob}");
    assert_eq!(bob["status"], "queued");
    let bob = bob["call_sid"].as_str().unwrap().to_owned();

    let listed = |em: Emulator, participants: String| async move {
        let (status, list) = rest_get(&em, &participants).await;
        assert_eq!(status, 200);
        list["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["call_sid"].as_str().unwrap().to_owned(),
                    p["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let now = listed(em.clone(), participants.clone()).await;
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(now[0], (alice.clone(), "connected".to_owned()));
    assert_eq!(now[1].0, bob);
    assert!(
        ["queued", "connecting", "ringing"].contains(&now[1].1.as_str()),
        "{now:?}"
    );
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &bob) == "ringing")
            .await
    );
    let now = listed(em.clone(), participants.clone()).await;
    assert_eq!(now[1], (bob.clone(), "ringing".to_owned()));
    let (status, one) = rest_get(&em, &format!("/Conferences/{conf}/Participants/bob.json")).await;
    assert_eq!((status, one["status"].as_str()), (200, Some("ringing")));
    // Stricter than documented: one still being dialled is not updated.
    let (status, _) = rest_post(
        &em,
        &format!("/Conferences/{conf}/Participants/{bob}.json"),
        &[("Muted", "true")],
    )
    .await;
    assert_eq!(status, 404);

    let (status, carol) = rest_post(
        &em,
        &participants,
        &[("From", LINE), ("To", CAROL), ("Label", "carol")],
    )
    .await;
    assert_eq!(status, 201, "{carol}");
    let carol = carol["call_sid"].as_str().unwrap().to_owned();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &bob) == "no-answer"
            && call_status(em, &carol) == "busy")
            .await
    );
    let now = listed(em.clone(), participants.clone()).await;
    assert_eq!(now, [(alice.clone(), "connected".to_owned())]);
    assert!(
        em.wait_until(WAIT, |_| conference_events(&app)
            .iter()
            .filter(|h| h.get("StatusCallbackEvent") == Some("participant-leave"))
            .count()
            == 2)
            .await
    );
    for (call, label, status) in [(&bob, "bob", "no-answer"), (&carol, "carol", "busy")] {
        let leave = conference_events(&app)
            .into_iter()
            .find(|h| {
                h.get("StatusCallbackEvent") == Some("participant-leave")
                    && h.get("CallSid") == Some(call.as_str())
            })
            .unwrap();
        assert_eq!(leave.get("ParticipantLabel"), Some(label));
        assert_eq!(
            leave.get("ReasonParticipantLeft"),
            Some("participant_add_failed")
        );
        assert_eq!(leave.get("ParticipantCallStatus"), Some(status));
    }
    assert_eq!(em.conference("room").unwrap().status, "init");
    em.hangup(&alice).await;
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

/// `EndConferenceOnExit` and `BeepOnExit` set through the API are honoured when that participant
/// leaves, and reported as `participant-modify`.
#[tokio::test]
async fn a_participant_updated_to_end_the_conference_ends_it_on_leaving() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| room("")).await;
    em.add_number(LINE, &app.url("/voice"), None);
    let alice = em.place_call(ALICE, LINE, None).await.unwrap();
    wait_in_room(&em, 1).await;
    let bob = em.place_call(BOB, LINE, None).await.unwrap();
    wait_in_room(&em, 2).await;
    let conf = em.conference("room").unwrap().sid;
    let (status, body) = rest_post(
        &em,
        &format!("/Conferences/{conf}/Participants/{alice}.json"),
        &[("EndConferenceOnExit", "true"), ("BeepOnExit", "true")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["end_conference_on_exit"], true);
    assert!(
        em.wait_until(WAIT, |_| conference_events(&app)
            .iter()
            .any(|h| h.get("StatusCallbackEvent") == Some("participant-modify")))
            .await
    );
    let modify = conference_events(&app)
        .into_iter()
        .find(|h| h.get("StatusCallbackEvent") == Some("participant-modify"))
        .unwrap();
    assert_eq!(modify.get("CallSid"), Some(alice.as_str()));
    assert_eq!(modify.get("EndConferenceOnExit"), Some("true"));

    em.hangup(&alice).await;
    assert!(
        em.wait_until(WAIT, |em| em.conference(&conf).unwrap().status
            == "completed")
            .await
    );
    assert_eq!(
        em.conference(&conf)
            .unwrap()
            .reason_conference_ended
            .as_deref(),
        Some("participant-with-end-conference-on-exit-left")
    );
    // Bob hears Alice leave (her beep), is dropped from the conference and goes on with his
    // TwiML.
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &bob) == "completed")
            .await
    );
    assert!(em.transcript(&bob).contains(&Heard::Beep));
    assert_eq!(em.heard_texts(&bob), vec!["after".to_owned()]);
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

/// Without `ConferenceStatusCallbackEvent`, a conference created through the Participants API
/// reports `start end`: the documented default.
#[tokio::test]
async fn conference_events_default_to_start_and_end() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| empty()).await;
    let conf_callback = app.url("/conf");
    em.add_number(LINE, &app.url("/voice"), None);
    for to in [CAROL, DAVE] {
        let (status, body) = rest_post(
            &em,
            "/Conferences/room/Participants.json",
            &[
                ("From", LINE),
                ("To", to),
                ("ConferenceStatusCallback", &conf_callback),
            ],
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    assert!(
        em.wait_until(WAIT, |em| em
            .conference("room")
            .is_some_and(|c| c.status == "in-progress"))
            .await
    );
    let conf = em.conference("room").unwrap().sid;
    end_conference(&em, &conf).await;
    assert!(
        em.wait_until(WAIT, |_| conference_events(&app).len() == 2)
            .await
    );
    tokio::time::sleep(em.call_secs(2.0)).await;
    assert_eq!(
        names(&conference_events(&app)),
        ["conference-start", "conference-end"]
    );
}

/// Inline `Twiml` is at most 4,000 characters (32018), redirecting a live call as creating one.
#[tokio::test]
async fn inline_twiml_over_4000_characters_is_refused_on_update_too() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |_| room("")).await;
    em.add_number(LINE, &app.url("/voice"), None);
    let alice = em.place_call(ALICE, LINE, None).await.unwrap();
    wait_in_room(&em, 1).await;
    let twiml_of = |chars: usize| {
        let wrapper = "<Response><Say></Say></Response>".len();
        format!(
            "<Response><Say>{}</Say></Response>",
            "a".repeat(chars - wrapper)
        )
    };
    let call = format!("/Calls/{alice}.json");
    let (status, body) = rest_post(&em, &call, &[("Twiml", &twiml_of(4001))]).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(32018)));
    assert_eq!(
        em.call(&alice).unwrap().conference_sid,
        Some(em.conference("room").unwrap().sid),
        "the refused update leaves the call where it was"
    );
    let (status, body) = rest_post(&em, &call, &[("Twiml", &twiml_of(4000))]).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &alice) == "completed")
            .await
    );
    let (status, body) = rest_post(
        &em,
        "/Calls.json",
        &[("From", LINE), ("To", BOB), ("Twiml", &twiml_of(4001))],
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(32018)));
}
