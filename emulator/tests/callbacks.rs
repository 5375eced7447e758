//! Callbacks as Twilio delivers them: with `CallbackChaos`, late, out of order and twice; TwiML
//! fetches never.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use denwa_twilio_emulator::{CallbackChaos, Emulator, EmulatorConfig, Heard};
use support::*;

#[test]
fn the_same_seed_makes_the_same_decisions() {
    let decide = |seed| {
        let mut chaos = CallbackChaos::seeded(seed);
        (0..200)
            .map(|_| chaos.next_deliveries().0)
            .collect::<Vec<_>>()
    };
    let first = decide(7);
    assert_eq!(first, decide(7));
    assert_ne!(first, decide(8));
    assert!(
        first
            .iter()
            .all(|d| d.iter().all(|s| (0.0..=2.0).contains(s))),
        "delays stay within the default 2 call-seconds"
    );
    let twice = first.iter().filter(|d| d.len() == 2).count();
    assert!(
        (10..=80).contains(&twice),
        "about one callback in five is delivered twice: {twice} of 200"
    );
    assert!(first.iter().all(|d| !d.is_empty() && d.len() <= 2));
}

/// The conference events of a two-party conference ended through the API, and the calls' final
/// status callbacks, under chaos with every callback delivered twice.
#[tokio::test]
async fn chaos_delivers_callbacks_late_out_of_order_and_twice_but_fetches_twiml_once() {
    let em = emulator().await;
    em.chaos_callbacks(Some(
        CallbackChaos::seeded(11)
            .max_delay_secs(3.0)
            .duplicate_chance(1.0),
    ));
    let app = spawn_app(em.auth_token(), |h| match h.path.as_str() {
        "/voice" => twiml(
            r#"<Response><Dial><Conference beep="false" statusCallback="/conf" statusCallbackEvent="start end join leave">room</Conference></Dial></Response>"#,
        ),
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), Some(&app.url("/status")));
    let a = call_into_conference(&em, ALICE, "room").await;
    let b = call_into_conference(&em, BOB, "room").await;
    let conf = em.conference("room").unwrap().sid;
    end_conference(&em, &conf).await;
    // join, join, start, leave, leave, end: six events, each delivered twice; and two final
    // call statuses, each twice.
    assert!(
        em.wait_until(WAIT, |_| app.hooks_to("/conf").len() == 12
            && app.hooks_to("/status").len() == 4)
            .await,
        "{:?}",
        app.hooks()
            .iter()
            .map(|h| (&h.path, h.get("StatusCallbackEvent")))
            .collect::<Vec<_>>()
    );

    let arrived: Vec<u32> = app
        .hooks_to("/conf")
        .iter()
        .map(|h| h.get("SequenceNumber").unwrap().parse().unwrap())
        .collect();
    let mut sorted = arrived.clone();
    sorted.sort_unstable();
    assert_ne!(arrived, sorted, "callbacks overtake each other");
    let expected: Vec<u32> = (0..6).flat_map(|n| [n, n]).collect();
    assert_eq!(sorted, expected, "each event twice, none lost");
    for sid in [&a, &b] {
        let statuses: Vec<_> = app
            .hooks_to("/status")
            .into_iter()
            .filter(|h| h.get("CallSid") == Some(sid.as_str()))
            .map(|h| h.get("CallStatus").unwrap().to_string())
            .collect();
        assert_eq!(statuses, ["completed", "completed"], "{sid}");
    }
    assert_eq!(
        app.hooks_to("/voice").len(),
        2,
        "TwiML fetches are requests Twilio waits on: never repeated"
    );
    assert!(app.hooks().iter().all(|h| h.signature_ok));
    assert!(em.errors().is_empty(), "{:?}", em.errors());
}

/// Twilio transcribes in the background and promises no order against the `<Record>` action: in
/// chaos mode the transcription can arrive while the action is still being answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_can_send_a_transcription_before_the_record_action_is_answered() {
    // Call time at the speed of life; chaos sends the transcription at once, and the action takes
    // three seconds to answer, which leaves room to spare on a busy machine.
    let em = Emulator::start(EmulatorConfig {
        time_scale: 1.0,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    em.chaos_callbacks(Some(
        CallbackChaos::seeded(3)
            .max_delay_secs(0.0)
            .duplicate_chance(0.0),
    ));
    let action_answered = Arc::new(AtomicBool::new(false));
    // What the transcription handler saw, once it has run: the hook is on record before its
    // handler runs, so the test waits for this, not for the record.
    let overtook = Arc::new(std::sync::OnceLock::new());
    let (answered, seen) = (action_answered.clone(), overtook.clone());
    let app = spawn_app(em.auth_token(), move |h| match h.path.as_str() {
        "/voice" => twiml(
            r#"<Response><Record action="/recorded" transcribeCallback="/transcribed" maxLength="5" timeout="1"/></Response>"#,
        ),
        "/recorded" => {
            // A slow application: the action takes a moment to answer.
            std::thread::sleep(Duration::from_millis(3000));
            answered.store(true, Ordering::SeqCst);
            twiml("<Response><Hangup/></Response>")
        }
        "/transcribed" => {
            let _ = seen.set(!answered.load(Ordering::SeqCst));
            empty()
        }
        _ => empty(),
    })
    .await;
    em.add_number(LINE, &app.url("/voice"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    // The caller speaks after the beep, as a person would.
    assert!(
        em.wait_until(WAIT, |em| em
            .transcript(&call)
            .iter()
            .any(|h| matches!(h, Heard::Beep)))
            .await
    );
    // The beep lasts half a call-second.
    tokio::time::sleep(em.call_secs(0.6)).await;
    // Long enough to be transcribed (Twilio transcribes recordings of 2 to 120 seconds).
    let words = "please call me back about my order today";
    em.speak(&call, words).await;
    assert!(em.wait_until(WAIT, |_| overtook.get().is_some()).await);
    assert_eq!(
        overtook.get(),
        Some(&true),
        "the transcription arrived before the action was answered"
    );
    assert_eq!(
        app.hooks_to("/transcribed")[0].get("TranscriptionText"),
        Some(words)
    );
}
