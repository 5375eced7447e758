//! `<Record transcribe>`: Twilio transcribes only recordings longer than 2 seconds and shorter
//! than 120; any other gets `TranscriptionStatus=failed` and warning 13617.

mod support;

use denwa_twilio_emulator::Emulator;
use support::*;

/// A line that records callers (at most `max_length` seconds, no silence timeout) with a
/// transcription, and the caller's leg once the beep has sounded.
async fn recording_line(em: &Emulator, max_length: u32) -> (App, String) {
    let record = format!(
        r#"<Response><Record maxLength="{max_length}" timeout="0" playBeep="false" action="/recorded" transcribe="true" transcribeCallback="/transcribed"/></Response>"#
    );
    let app = spawn_app(em.auth_token(), move |h| match h.path.as_str() {
        "/voice" => twiml(&record),
        "/recorded" => twiml("<Response><Hangup/></Response>"),
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

async fn transcription(em: &Emulator, app: &App) -> Hook {
    assert!(
        em.wait_until(WAIT, |_| !app.hooks_to("/transcribed").is_empty())
            .await
    );
    app.hooks_to("/transcribed").remove(0)
}

fn warnings_13617(em: &Emulator) -> usize {
    em.errors().iter().filter(|e| e.code == 13617).count()
}

#[tokio::test]
async fn a_recording_of_two_seconds_or_less_is_not_transcribed() {
    let em = emulator().await;
    let (app, call) = recording_line(&em, 30).await;
    em.speak(&call, "hi there").await;
    em.press(&call, "#").await;
    let t = transcription(&em, &app).await;
    assert_eq!(t.get("TranscriptionStatus"), Some("failed"));
    assert_eq!(t.get("TranscriptionText"), None);
    assert!(t.get("RecordingUrl").is_some());
    // The recording itself is not affected.
    assert_eq!(app.hooks_to("/recorded").len(), 1);
    assert_eq!(warnings_13617(&em), 1, "{:?}", em.errors());
}

#[tokio::test]
async fn a_recording_that_reaches_two_minutes_is_not_transcribed() {
    let em = emulator().await;
    let (app, call) = recording_line(&em, 120).await;
    em.speak(&call, "I have a long story to tell").await;
    let t = transcription(&em, &app).await;
    assert_eq!(t.get("TranscriptionStatus"), Some("failed"));
    assert_eq!(t.get("TranscriptionText"), None);
    assert_eq!(
        app.hooks_to("/recorded")[0].get("RecordingDuration"),
        Some("120")
    );
    assert_eq!(warnings_13617(&em), 1, "{:?}", em.errors());
}

#[tokio::test]
async fn a_recording_inside_the_range_is_transcribed() {
    let em = emulator().await;
    let (app, call) = recording_line(&em, 110).await;
    em.speak(&call, "I have a long story to tell").await;
    let t = transcription(&em, &app).await;
    assert_eq!(t.get("TranscriptionStatus"), Some("completed"));
    assert_eq!(
        t.get("TranscriptionText"),
        Some("I have a long story to tell")
    );
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}
