//! Twilio transcribes only recordings shorter than 120 seconds: a caller who talks until the
//! voicemail's limit still gets a transcript.

use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn a_caller_who_talks_to_the_limit_still_gets_a_transcript() {
    let app = spawn_app_with(&[("DENWA_LINE_VOICEMAIL_AFTER", "2")]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    // About 135 seconds of talk, without a pause: the recording stops at its limit.
    let words: Vec<String> = (0..450).map(|i| format!("word{i}")).collect();
    let talk = words.join(" ");
    app.leave_voicemail(&sid, &talk).await;
    let call = app
        .wait_for("the transcript", Duration::from_secs(20), || async {
            let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
            call["voicemail_transcript"].is_string().then_some(call)
        })
        .await;
    let transcript = call["voicemail_transcript"].as_str().unwrap();
    assert!(talk.starts_with(transcript), "{transcript}");
    assert!(
        transcript.len() < talk.len(),
        "the limit cut it: {transcript}"
    );
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}
