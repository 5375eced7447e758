//! Real-Time Transcriptions: `<Start><Transcription>` and `<Stop>`, and the signed events
//! posted to `statusCallbackUrl` for what the phone says (`inbound_track`) and hears
//! (`outbound_track`).

mod support;

use denwa_twilio_emulator::{Emulator, TRANSCRIPTION_CONFIDENCE};
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
const LISTEN: &str = r#"<Start><Transcription statusCallbackUrl="/events" track="inbound_track"/></Start><Pause length="60"/>"#;

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
async fn partial_results_grow_before_each_final() {
    let em = emulator().await;
    let (app, call) = line(
        &em,
        r#"<Start><Transcription statusCallbackUrl="/events" track="inbound_track" partialResults="true"/></Start><Pause length="60"/>"#,
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
        r#"<Start><Transcription statusCallbackUrl="/events" track="outbound_track"/></Start><Say>Thanks for calling. Please hold.</Say><Pause length="60"/>"#,
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
        r#"<Start><Transcription statusCallbackUrl="/events" track="both_tracks"/></Start><Say>Hi.</Say><Pause length="60"/>"#,
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
        r#"<Start><Transcription statusCallbackUrl="/events"/></Start><Say>Go on.</Say><Pause length="60"/>"#,
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
async fn stop_transcription_by_name() {
    let em = emulator().await;
    let (app, call) = line(
        &em,
        r#"<Start><Transcription name="live" statusCallbackUrl="/events"/></Start><Pause length="1"/><Stop><Transcription name="live"/></Stop><Pause length="60"/>"#,
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
