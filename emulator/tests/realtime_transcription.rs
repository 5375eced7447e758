//! Real-Time Transcriptions: `<Start><Transcription>` and `<Stop>`, and the signed events
//! posted to `statusCallbackUrl` for what the phone says (`inbound_track`) and hears
//! (`outbound_track`).

mod support;

use denwa_twilio_emulator::twiml::{self, Verb};
use denwa_twilio_emulator::{
    CallbackChaos, Emulator, TRANSCRIPTION_CONFIDENCE, TranscriptionEngine, TranscriptionTrack,
};
use support::*;

/// A line whose voice document is `body` (inside `<Response>`), with events to `/events`.
async fn line(em: &Emulator, body: &str) -> (App, String) {
    let doc = format!("<Response>{body}</Response>");
    let app = spawn_app(em.auth_token(), move |h| match h.path.as_str() {
        "/voice" => twiml(&doc),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "in-progress")
            .await
    );
    (app, call)
}

/// A caller held in a long pause while an inbound-track transcription runs.
const LISTEN: &str = r#"<Start><Transcription statusCallbackUrl="/events" track="inbound_track"/></Start><Pause length="600"/>"#;

fn events(app: &App) -> Vec<Hook> {
    let mut v = app.hooks_to("/events");
    v.sort_by_key(sequence);
    v
}

fn sequence(h: &Hook) -> u64 {
    h.get("SequenceId")
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX)
}

fn event(h: &Hook) -> &str {
    h.get("TranscriptionEvent").unwrap_or("")
}

/// The `transcript` of a `transcription-content` event.
fn transcript(h: &Hook) -> String {
    let data: serde_json::Value =
        serde_json::from_str(h.get("TranscriptionData").unwrap_or("null")).unwrap();
    data["transcript"].as_str().unwrap_or("").to_string()
}

/// Final transcripts of `track`, in `SequenceId` order.
fn finals(app: &App, track: &str) -> Vec<String> {
    events(app)
        .iter()
        .filter(|h| event(h) == "transcription-content")
        .filter(|h| h.get("Final") == Some("true") && h.get("Track") == Some(track))
        .map(transcript)
        .collect()
}

async fn wait_for_event(em: &Emulator, app: &App, name: &str) {
    assert!(
        em.wait_until(WAIT, |_| events(app).iter().any(|h| event(h) == name))
            .await,
        "no {name}"
    );
}

#[tokio::test]
async fn what_the_caller_says_arrives_as_one_final_per_sentence_signed() {
    let em = emulator().await;
    let (app, call) = line(&em, LISTEN).await;
    wait_for_event(&em, &app, "transcription-started").await;
    em.speak(&call, "My server is down. Can anyone help?").await;
    let want = vec!["My server is down.", "Can anyone help?"];
    assert!(
        em.wait_until(WAIT, |_| finals(&app, "inbound_track") == want)
            .await,
        "{:?}",
        finals(&app, "inbound_track")
    );
    let all = events(&app);
    assert!(all.iter().all(|h| h.signature_ok && h.method == "POST"));
    assert!(
        all.iter()
            .all(|h| { h.content_type.as_deref() == Some("application/x-www-form-urlencoded") })
    );
    // SequenceId counts from 1, without gaps; every event names the call and the transcription.
    let seqs: Vec<u64> = all.iter().map(sequence).collect();
    assert_eq!(seqs, (1..=all.len() as u64).collect::<Vec<_>>());
    let t = em.realtime_transcriptions();
    assert_eq!(t.len(), 1);
    assert!(t[0].sid.starts_with("GT") && t[0].sid.len() == 34);
    for h in &all {
        assert_eq!(h.get("CallSid"), Some(call.as_str()));
        assert_eq!(h.get("AccountSid"), Some(em.account_sid()));
        assert_eq!(h.get("TranscriptionSid"), Some(t[0].sid.as_str()));
        assert!(h.get("Timestamp").is_some_and(|t| t.ends_with('Z')));
    }
    assert_eq!(event(&all[0]), "transcription-started");
    let content = all
        .iter()
        .find(|h| event(h) == "transcription-content")
        .unwrap();
    assert_eq!(content.get("LanguageCode"), Some("en-US"));
    let data: serde_json::Value =
        serde_json::from_str(content.get("TranscriptionData").unwrap()).unwrap();
    assert_eq!(data["confidence"].as_f64(), Some(TRANSCRIPTION_CONFIDENCE));
    // Without partialResults, only finals.
    assert!(
        all.iter()
            .filter(|h| event(h) == "transcription-content")
            .all(|h| h.get("Final") == Some("true"))
    );
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

#[tokio::test]
async fn events_by_get_carry_their_parameters_in_the_signed_url() {
    let em = emulator().await;
    let (app, call) = line(
        &em,
        r#"<Start><Transcription statusCallbackUrl="/events" statusCallbackMethod="GET" track="inbound_track"/></Start><Pause length="600"/>"#,
    )
    .await;
    em.speak(&call, "Hi.").await;
    assert!(
        em.wait_until(WAIT, |_| finals(&app, "inbound_track") == ["Hi."])
            .await
    );
    let all = events(&app);
    assert!(all.iter().all(|h| h.method == "GET" && h.signature_ok));
    assert!(all.iter().all(|h| h.url.contains("TranscriptionEvent=")));
}

#[tokio::test]
async fn partial_results_grow_before_each_final() {
    let em = emulator().await;
    let (app, call) = line(
        &em,
        r#"<Start><Transcription statusCallbackUrl="/events" track="inbound_track" partialResults="true"/></Start><Pause length="600"/>"#,
    )
    .await;
    em.speak(&call, "Is anyone there? Hello").await;
    let want = vec!["Is anyone there?", "Hello"];
    assert!(
        em.wait_until(WAIT, |_| finals(&app, "inbound_track") == want)
            .await
    );
    let contents: Vec<(String, String)> = events(&app)
        .iter()
        .filter(|h| event(h) == "transcription-content")
        .map(|h| (h.get("Final").unwrap_or("").to_string(), transcript(h)))
        .collect();
    let expected: Vec<(String, String)> = [
        ("false", "Is"),
        ("false", "Is anyone"),
        ("true", "Is anyone there?"),
        ("true", "Hello"),
    ]
    .iter()
    .map(|(f, t)| (f.to_string(), t.to_string()))
    .collect();
    assert_eq!(contents, expected);
}

#[tokio::test]
async fn the_outbound_track_is_what_the_phone_hears_and_the_inbound_track_is_left_out() {
    let em = emulator().await;
    let (app, call) = line(
        &em,
        r#"<Start><Transcription statusCallbackUrl="/events" track="outbound_track"/></Start><Say>Thanks for calling. Please hold.</Say><Pause length="600"/>"#,
    )
    .await;
    let want = vec!["Thanks for calling.", "Please hold."];
    assert!(
        em.wait_until(WAIT, |_| finals(&app, "outbound_track") == want)
            .await,
        "{:?}",
        finals(&app, "outbound_track")
    );
    em.speak(&call, "Hello?").await;
    em.hangup(&call).await;
    wait_for_event(&em, &app, "transcription-stopped").await;
    assert!(finals(&app, "inbound_track").is_empty());
}

#[tokio::test]
async fn both_tracks_tell_each_track_apart() {
    let em = emulator().await;
    let (app, call) = line(
        &em,
        r#"<Start><Transcription statusCallbackUrl="/events" track="both_tracks"/></Start><Say>Hi.</Say><Pause length="600"/>"#,
    )
    .await;
    assert!(
        em.wait_until(WAIT, |_| finals(&app, "outbound_track") == ["Hi."])
            .await
    );
    em.speak(&call, "Hello.").await;
    assert!(
        em.wait_until(WAIT, |_| finals(&app, "inbound_track") == ["Hello."])
            .await
    );
}

#[tokio::test]
async fn start_does_not_block_the_next_verb() {
    let em = emulator().await;
    let (_app, call) = line(
        &em,
        r#"<Start><Transcription statusCallbackUrl="/events"/></Start><Say>Go on.</Say><Pause length="600"/>"#,
    )
    .await;
    assert!(
        em.wait_until(WAIT, |em| em.heard_texts(&call) == ["Go on."])
            .await
    );
}

#[tokio::test]
async fn the_end_of_the_call_stops_the_transcription() {
    let em = emulator().await;
    let (app, call) = line(&em, LISTEN).await;
    em.speak(&call, "Bye.").await;
    em.hangup(&call).await;
    wait_for_event(&em, &app, "transcription-stopped").await;
    let names: Vec<String> = events(&app).iter().map(|h| event(h).to_string()).collect();
    assert_eq!(
        names,
        [
            "transcription-started",
            "transcription-content",
            "transcription-stopped"
        ]
    );
    assert_eq!(em.realtime_transcriptions()[0].status, "stopped");
}

#[tokio::test]
async fn words_being_said_when_the_call_ends_get_their_final_before_stopped() {
    let em = emulator().await;
    let (app, call) = line(&em, LISTEN).await;
    let words: Vec<String> = (1..=100).map(|n| format!("w{n}")).collect();
    let said = words.join(" ");
    let speaker = {
        let (em, call, said) = (em.clone(), call.clone(), said.clone());
        tokio::spawn(async move { em.speak(&call, &said).await })
    };
    // A few words in (100 words take 30 call-seconds), the caller hangs up.
    tokio::time::sleep(em.call_secs(2.0)).await;
    em.hangup(&call).await;
    wait_for_event(&em, &app, "transcription-stopped").await;
    speaker.await.unwrap();
    let all = events(&app);
    let names: Vec<&str> = all.iter().map(event).collect();
    assert_eq!(
        names,
        [
            "transcription-started",
            "transcription-content",
            "transcription-stopped"
        ]
    );
    let heard = transcript(&all[1]);
    assert_eq!(all[1].get("Final"), Some("true"));
    assert!(
        !heard.is_empty() && heard.len() < said.len() && said.starts_with(&heard),
        "{heard:?}"
    );
}

#[tokio::test]
async fn stop_transcription_by_name() {
    let em = emulator().await;
    let (app, call) = line(
        &em,
        r#"<Start><Transcription name="live" statusCallbackUrl="/events"/></Start><Pause length="1"/><Stop><Transcription name="live"/></Stop><Pause length="600"/>"#,
    )
    .await;
    wait_for_event(&em, &app, "transcription-stopped").await;
    em.speak(&call, "Anyone?").await;
    // Spoken after the stop: never transcribed.
    tokio::time::sleep(em.call_secs(3.0)).await;
    assert!(finals(&app, "inbound_track").is_empty());
    assert_eq!(call_status(&em, &call), "in-progress");
}

#[tokio::test]
async fn an_injected_engine_failure_posts_error_then_stopped_and_the_call_goes_on() {
    let em = emulator().await;
    let (app, call) = line(&em, LISTEN).await;
    wait_for_event(&em, &app, "transcription-started").await;
    em.fail_transcription(&call, "provider unavailable");
    wait_for_event(&em, &app, "transcription-stopped").await;
    let all = events(&app);
    let names: Vec<&str> = all.iter().map(event).collect();
    assert_eq!(
        names,
        [
            "transcription-started",
            "transcription-error",
            "transcription-stopped"
        ]
    );
    assert_eq!(
        all[1].get("TranscriptionError"),
        Some("provider unavailable")
    );
    assert_eq!(call_status(&em, &call), "in-progress");
    // A second failure of a stopped transcription posts nothing more.
    em.fail_transcription(&call, "again");
    tokio::time::sleep(em.call_secs(2.0)).await;
    assert_eq!(events(&app).len(), 3);
}

// ----- TwiML: strict like every other verb -----

fn parse(body: &str) -> Result<Vec<Verb>, twiml::TwimlError> {
    twiml::parse(&format!("<Response>{body}</Response>")).map(|d| d.verbs)
}

#[test]
fn every_documented_attribute_is_read() {
    let verbs = parse(
        r#"<Start><Transcription name="caller" track="inbound_track" statusCallbackUrl="https://app.example/t" statusCallbackMethod="GET" languageCode="fr-FR" transcriptionEngine="deepgram" speechModel="nova-2" profanityFilter="false" partialResults="true" hints="denwa, on-call" enableAutomaticPunctuation="false" inboundTrackLabel="caller" outboundTrackLabel="team" intelligenceService="GA0123456789abcdef0123456789abcdef"/></Start>"#,
    )
    .unwrap();
    let [Verb::StartTranscription(s)] = verbs.as_slice() else {
        panic!("{verbs:?}");
    };
    assert_eq!(s.name.as_deref(), Some("caller"));
    assert_eq!(s.track, TranscriptionTrack::Inbound);
    assert_eq!(
        s.status_callback_url.as_deref(),
        Some("https://app.example/t")
    );
    assert_eq!(s.status_callback_method, twiml::HttpMethod::Get);
    assert_eq!(s.language_code, "fr-FR");
    assert_eq!(s.engine, TranscriptionEngine::Deepgram);
    assert_eq!(s.speech_model.as_deref(), Some("nova-2"));
    assert!(!s.profanity_filter && s.partial_results && !s.enable_automatic_punctuation);
    assert_eq!(s.hints.as_deref(), Some("denwa, on-call"));
    assert_eq!(s.inbound_track_label.as_deref(), Some("caller"));
    assert_eq!(s.outbound_track_label.as_deref(), Some("team"));
    assert_eq!(
        s.intelligence_service.as_deref(),
        Some("GA0123456789abcdef0123456789abcdef")
    );
}

#[test]
fn defaults_are_twilios() {
    let verbs = parse("<Start><Transcription/></Start>").unwrap();
    let [Verb::StartTranscription(s)] = verbs.as_slice() else {
        panic!("{verbs:?}");
    };
    assert_eq!(s.track, TranscriptionTrack::Both);
    assert_eq!(s.language_code, "en-US");
    assert_eq!(s.engine, TranscriptionEngine::Google);
    assert_eq!(s.status_callback_method, twiml::HttpMethod::Post);
    assert!(s.profanity_filter && !s.partial_results && s.enable_automatic_punctuation);
    assert_eq!(
        parse(r#"<Stop><Transcription name="caller"/></Stop>"#).unwrap(),
        [Verb::StopTranscription {
            name: "caller".into()
        }]
    );
}

#[test]
fn what_twilio_refuses_is_12200() {
    let cases = [
        r#"<Start><Transcription colour="red"/></Start>"#,
        r#"<Start><Transcription statusCallback="/t"/></Start>"#,
        r#"<Start><Transcription track="inbound"/></Start>"#,
        r#"<Start><Transcription track="both"/></Start>"#,
        r#"<Start><Transcription transcriptionEngine="whisper"/></Start>"#,
        r#"<Start><Transcription partialResults="yes"/></Start>"#,
        r#"<Start><Transcription profanityFilter="1"/></Start>"#,
        r#"<Start><Transcription enableAutomaticPunctuation=""/></Start>"#,
        r#"<Start><Transcription statusCallbackMethod="PUT"/></Start>"#,
        r#"<Start><Transcription statusCallbackUrl="ftp://x/t"/></Start>"#,
        r#"<Start><Transcription statusCallbackUrl="/a b"/></Start>"#,
        r#"<Start><Transcription languageCode="english please"/></Start>"#,
        r#"<Start><Transcription speechModel="a model"/></Start>"#,
        r#"<Start><Transcription name=""/></Start>"#,
        r#"<Start><Transcription>words</Transcription></Start>"#,
        r#"<Start><Transcription><Config name="a" value="b"/></Transcription></Start>"#,
        r#"<Start action="/next"><Transcription/></Start>"#,
        r#"<Start colour="red"><Transcription/></Start>"#,
        r#"<Stop name="a"><Transcription name="a"/></Stop>"#,
        "<Start></Start>",
        "<Start>text</Start>",
        "<Start><Transcription/><Transcription/></Start>",
        "<Start><Say>hi</Say></Start>",
        r#"<Start><Stream url="wss://x/s"/></Start>"#,
        "<Stop><Transcription/></Stop>",
        r#"<Stop><Transcription name="a" track="inbound_track"/></Stop>"#,
        "<Stop></Stop>",
    ];
    for body in cases {
        match parse(body) {
            Err(e) => assert_eq!(e.code, twiml::SCHEMA_VIOLATION, "{body}: {e}"),
            Ok(v) => panic!("{body} was accepted: {v:?}"),
        }
    }
}

#[tokio::test]
async fn a_refused_start_is_an_application_error_at_run_time() {
    let em = emulator().await;
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/voice" => {
            twiml(r#"<Response><Start><Transcription track="inbound"/></Start></Response>"#)
        }
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.errors().iter().any(|e| e.code == 12200))
            .await
    );
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    assert!(em.realtime_transcriptions().is_empty());
}

// ----- REST: the Calls Transcriptions subresource -----

fn transcriptions_path(call: &str) -> String {
    format!("/Calls/{call}/Transcriptions.json")
}

#[tokio::test]
async fn rest_create_starts_and_update_stops() {
    let em = emulator().await;
    let (app, call) = line(&em, r#"<Pause length="600"/>"#).await;
    let events_url = app.url("/events");
    let (status, body) = rest_post(
        &em,
        &transcriptions_path(&call),
        &[
            ("Name", "Contact center transcription"),
            ("Track", "inbound_track"),
            ("StatusCallbackUrl", &events_url),
            ("LanguageCode", "en-GB"),
            ("TranscriptionEngine", "google"),
            ("PartialResults", "false"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let sid = body["sid"].as_str().unwrap().to_string();
    assert!(sid.starts_with("GT") && sid.len() == 34);
    assert_eq!(body["call_sid"], call.as_str());
    assert_eq!(body["account_sid"], em.account_sid());
    assert_eq!(body["name"], "Contact center transcription");
    assert_eq!(body["status"], "in-progress");
    assert_eq!(
        body["uri"],
        format!(
            "/2010-04-01/Accounts/{}/Calls/{call}/Transcriptions/{sid}.json",
            em.account_sid()
        )
    );
    em.speak(&call, "Hello there.").await;
    assert!(
        em.wait_until(WAIT, |_| finals(&app, "inbound_track") == ["Hello there."])
            .await
    );
    assert_eq!(
        events(&app)
            .iter()
            .find(|h| event(h) == "transcription-content")
            .and_then(|h| h.get("LanguageCode")),
        Some("en-GB")
    );
    // Stopped by name, as Twilio allows in place of the SID.
    let (status, body) = rest_post(
        &em,
        &format!("/Calls/{call}/Transcriptions/Contact%20center%20transcription.json"),
        &[("Status", "stopped")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sid"], sid.as_str());
    assert_eq!(body["status"], "stopped");
    wait_for_event(&em, &app, "transcription-stopped").await;
    assert_eq!(em.realtime_transcriptions()[0].status, "stopped");
}

#[tokio::test]
async fn rest_refuses_what_twilio_refuses() {
    let em = emulator().await;
    let (_app, call) = line(&em, r#"<Pause length="600"/>"#).await;
    let path = transcriptions_path(&call);
    for form in [
        vec![("Track", "inbound")],
        vec![("TranscriptionEngine", "whisper")],
        vec![("PartialResults", "yes")],
        vec![("StatusCallbackUrl", "/relative")],
        vec![("StatusCallbackMethod", "PUT")],
        // A TwiML spelling, or a parameter of another resource: a typo Twilio would not act on.
        vec![("statusCallbackUrl", "https://app.example/t")],
        vec![("StatusCallback", "https://app.example/t")],
    ] {
        let (status, body) = rest_post(&em, &path, &form).await;
        assert_eq!(status, 400, "{form:?}: {body}");
    }
    let (status, _) = rest_post(
        &em,
        &transcriptions_path("CA00000000000000000000000000000000"),
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = rest_post(&em, &path, &[]).await;
    assert_eq!(status, 201, "{body}");
    let sid = body["sid"].as_str().unwrap();
    let (status, _) = rest_post(
        &em,
        &format!("/Calls/{call}/Transcriptions/{sid}.json"),
        &[("Status", "in-progress")],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = rest_post(
        &em,
        &format!("/Calls/{call}/Transcriptions/nobody.json"),
        &[("Status", "stopped")],
    )
    .await;
    assert_eq!(status, 404);
    // A call that has ended cannot be transcribed.
    em.hangup(&call).await;
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await
    );
    let (status, body) = rest_post(&em, &path, &[]).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21220)));
}

// ----- Callbacks as Twilio may deliver them -----

#[tokio::test]
async fn under_chaos_events_come_late_disordered_and_twice_and_sequence_ids_restore_them() {
    let em = emulator().await;
    em.chaos_callbacks(Some(CallbackChaos::seeded(7).duplicate_chance(0.5)));
    let (app, call) = line(&em, LISTEN).await;
    em.speak(&call, "One. Two. Three. Four. Five. Six.").await;
    em.hangup(&call).await;
    let app2 = app.clone();
    // Every event at least once: started, six finals, stopped.
    assert!(
        em.wait_until(WAIT, move |_| {
            let mut seqs: Vec<u64> = app2.hooks_to("/events").iter().map(sequence).collect();
            seqs.sort();
            seqs.dedup();
            seqs == (1..=8).collect::<Vec<_>>()
        })
        .await
    );
    tokio::time::sleep(em.call_secs(3.0)).await;
    let arrived: Vec<u64> = app.hooks_to("/events").iter().map(sequence).collect();
    assert!(arrived.len() > 8, "no event came twice: {arrived:?}");
    assert!(
        arrived.windows(2).any(|w| w[0] > w[1]),
        "no event overtook another: {arrived:?}"
    );
    // In SequenceId order, with repeats dropped, the words are in order.
    let mut seen = std::collections::HashSet::new();
    let words: Vec<String> = events(&app)
        .into_iter()
        .filter(|h| seen.insert(sequence(h)))
        .filter(|h| event(h) == "transcription-content")
        .map(|h| transcript(&h))
        .collect();
    assert_eq!(words, ["One.", "Two.", "Three.", "Four.", "Five.", "Six."]);
    // A repeat says exactly what the first delivery said.
    let all = events(&app);
    for pair in all.windows(2) {
        if sequence(&pair[0]) == sequence(&pair[1]) {
            assert_eq!(pair[0].params, pair[1].params);
        }
    }
}
