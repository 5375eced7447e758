//! The core flows with Twilio's callbacks delivered as Twilio may deliver them: late, out of
//! order, twice (the emulator's `CallbackChaos`, see `TestApp::disorder_callbacks`). Each flow
//! runs under several seeds and must end as it does in order: every message heard once, in
//! order; every join announced once; responders released; the voicemail whole in the thread.

use std::time::Duration;

use denwa_twilio_emulator::PhoneBehaviour;

use crate::helpers::*;
use crate::oncall::{ALICE, ALICE_ONLY, BOB, CAROL, RESPONDERS, accepts};

const SEEDS: [u64; 3] = [1, 2, 3];

/// Long enough for every late or repeated callback to have arrived (at most 3 call-seconds
/// late: 30 ms), and for anything it wrongly set off to be heard.
const SETTLE: Duration = Duration::from_millis(500);

impl TestApp {
    /// Waits until the caller on `sid` has heard `expected` after the greeting and then, once
    /// every late callback is in, that it heard exactly that: each text once, in order, whole.
    async fn assert_hears_exactly(&self, sid: &str, expected: &[&str], seed: u64) {
        self.wait_heard(sid, expected).await;
        tokio::time::sleep(SETTLE).await;
        let heard = self.heard(sid);
        let after_greeting: Vec<&str> = heard.iter().skip(1).map(String::as_str).collect();
        assert_eq!(after_greeting, expected, "seed {seed}");
        assert_eq!(heard[0], GREETING, "seed {seed}");
        assert!(
            self.partly_heard(sid).is_empty(),
            "seed {seed}: words lost: {:?}",
            self.partly_heard(sid)
        );
    }

    /// Posts conference event `event` about participant `call_sid` of call `call_id`'s
    /// conference, numbered `seq`, signed as Twilio signs it.
    async fn conference_event(&self, call_id: &str, event: &str, call_sid: &str, seq: u64) {
        let conference = self
            .emulator
            .conference(&format!("denwa-{call_id}"))
            .expect("the call's conference");
        let seq = seq.to_string();
        let r = self
            .post_signed(
                "/twilio/conference",
                &[
                    ("AccountSid", ACCOUNT_SID),
                    ("ConferenceSid", &conference.sid),
                    ("FriendlyName", &conference.friendly_name),
                    ("StatusCallbackEvent", event),
                    ("CallSid", call_sid),
                    ("SequenceNumber", &seq),
                    ("Muted", "true"),
                    ("Hold", "false"),
                ],
                AUTH_TOKEN,
            )
            .await;
        assert_eq!(r.status(), 204, "{event}");
    }

    /// Waits until every message of the call is receipted spoken: `count` of them.
    async fn assert_all_spoken(&self, call_id: &str, count: usize, seed: u64) {
        self.wait_all_spoken(call_id).await;
        let (_, call) = self.get_json(&format!("/calls/{call_id}")).await;
        assert_eq!(call["messages_spoken"], count, "seed {seed}: {call}");
        assert_eq!(call["messages_failed"], 0, "seed {seed}: {call}");
        assert!(
            self.emulator.errors().is_empty(),
            "seed {seed}: {:?}",
            self.emulator.errors()
        );
    }
}

#[tokio::test]
async fn a_burst_is_heard_once_each_in_order() {
    for seed in SEEDS {
        let app = spawn_app_chaotic(seed, "", &[]).await;
        let (sid, call_id) = app.call_in(CALLER).await;
        let texts: Vec<String> = (1..=6)
            .map(|i| format!("Message number {i} of the burst."))
            .collect();
        for text in &texts {
            let (status, body) = app.say(&call_id, text).await;
            assert_eq!(status, 202, "seed {seed}: {body}");
        }
        let expected: Vec<&str> = texts.iter().map(String::as_str).collect();
        app.assert_hears_exactly(&sid, &expected, seed).await;
        app.assert_all_spoken(&call_id, texts.len(), seed).await;
    }
}

#[tokio::test]
async fn a_responder_joining_is_announced_once() {
    for seed in SEEDS {
        let app = spawn_app_chaotic(seed, ALICE_ONLY, &[("DENWA_LINE_VOICEMAIL_AFTER", "0")]).await;
        app.emulator.add_phone(ALICE, accepts());
        let (sid, call_id) = app.call_in(CALLER).await;
        app.assert_hears_exactly(&sid, &["Alice joined the call."], seed)
            .await;
        let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
        assert_eq!(call["joined"], serde_json::json!(["Alice"]), "seed {seed}");
        app.assert_all_spoken(&call_id, 1, seed).await;
    }
}

#[tokio::test]
async fn responders_are_rung_the_first_to_press_1_joins_and_all_are_released() {
    for seed in SEEDS {
        let app = spawn_app_chaotic(seed, RESPONDERS, &[("DENWA_LINE_VOICEMAIL_AFTER", "0")]).await;
        app.emulator.add_phone(ALICE, accepts());
        app.emulator.add_phone(BOB, PhoneBehaviour::NoAnswer);
        app.emulator.add_phone(CAROL, PhoneBehaviour::Voicemail);
        let (sid, call_id) = app.call_in(CALLER).await;
        app.assert_hears_exactly(&sid, &["Alice joined the call."], seed)
            .await;
        let alice = app.legs_to(ALICE).remove(0);
        let participant = app.in_conference(&alice.sid).expect("Alice is in");
        assert!(participant.muted, "seed {seed}");
        app.wait_leg_ended(BOB).await;
        app.wait_leg_ended(CAROL).await;
        let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
        assert_eq!(call["joined"], serde_json::json!(["Alice"]), "seed {seed}");
        assert_eq!(call["responder_legs"], 3, "seed {seed}");

        // The caller hangs up; every responder is free again, whatever order their legs'
        // ends came in: the next call rings all three, and Alice joins it.
        app.emulator.hangup(&sid).await;
        app.wait_leg_ended(ALICE).await;
        let (sid, _) = app.call_in("+14155550777").await;
        app.assert_hears_exactly(&sid, &["Alice joined the call."], seed)
            .await;
        for phone in [ALICE, BOB, CAROL] {
            assert_eq!(
                app.legs_to(phone).len(),
                2,
                "seed {seed}: {phone} rung again"
            );
        }
    }
}

#[tokio::test]
async fn a_voicemail_reaches_the_thread_recording_first_then_its_transcript() {
    for seed in SEEDS {
        let t = crate::slack::spawn(&[("DENWA_LINE_VOICEMAIL_AFTER", "2")]).await;
        t.app.disorder_callbacks(seed);
        let (sid, call_id, thread) = t.call_in(CALLER).await;
        let words = "Please call me back about my order";
        t.app.leave_voicemail(&sid, words).await;
        let call = t
            .app
            .wait_for("the voicemail", Duration::from_secs(20), || async {
                let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
                (call["voicemail_transcript"].is_string() && call["voicemail_url"].is_string())
                    .then_some(call)
            })
            .await;
        assert_eq!(call["voicemail_transcript"], words, "seed {seed}");
        assert_eq!(call["state"], "ended", "seed {seed}");
        let url = call["voicemail_url"].as_str().unwrap();
        let recording = format!(":mailbox_with_mail: The caller left a <{url}|voicemail>.");
        let transcript = format!(":memo: Voicemail transcript: “{words}”");
        t.wait_for("the transcript in the thread", || {
            t.thread_posts(&thread).contains(&transcript).then_some(())
        })
        .await;
        tokio::time::sleep(SETTLE).await;
        let posts = t.thread_posts(&thread);
        let at = |text: &str| posts.iter().position(|p| p == text);
        let (Some(recording_at), Some(transcript_at)) = (at(&recording), at(&transcript)) else {
            panic!("seed {seed}: {posts:#?}");
        };
        assert!(recording_at < transcript_at, "seed {seed}: {posts:#?}");
        for post in [&recording, &transcript] {
            let times = posts.iter().filter(|p| *p == post).count();
            assert_eq!(times, 1, "seed {seed}: {post} once: {posts:#?}");
        }
    }
}

/// Twilio transcribes in the background: the transcript can come before the recording it
/// transcribes (and again). The thread still shows the recording first, each once.
#[tokio::test]
async fn a_transcript_that_comes_before_its_recording_waits_for_it() {
    let t = crate::slack::spawn(&[("DENWA_LINE_VOICEMAIL_AFTER", "2")]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    t.app.wait_for_the_beep(&sid).await;
    let early = "Please call me back about my order";
    let path = format!("/twilio/voicemail-transcribed?call={call_id}");
    // While the caller is still speaking, the transcript arrives, twice.
    let transcribed = async {
        for _ in 0..2 {
            let r = t
                .app
                .post_signed(
                    &path,
                    &[
                        ("AccountSid", ACCOUNT_SID),
                        ("CallSid", &sid),
                        ("TranscriptionText", early),
                        ("TranscriptionStatus", "completed"),
                    ],
                    AUTH_TOKEN,
                )
                .await;
            assert_eq!(r.status(), 204);
        }
    };
    tokio::join!(t.app.emulator.speak(&sid, early), transcribed);
    t.app.emulator.press(&sid, "#").await;
    let transcript = format!(":memo: Voicemail transcript: “{early}”");
    t.wait_for("the transcript in the thread", || {
        t.thread_posts(&thread).contains(&transcript).then_some(())
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    let posts = t.thread_posts(&thread);
    let recording_at = posts
        .iter()
        .position(|p| p.starts_with(":mailbox_with_mail: The caller left a"));
    let transcript_at = posts.iter().position(|p| *p == transcript);
    assert!(
        matches!((recording_at, transcript_at), (Some(r), Some(t)) if r < t),
        "{posts:#?}"
    );
    assert_eq!(posts.iter().filter(|p| **p == transcript).count(), 1);
}

/// Someone who joins and leaves within moments: Twilio's leave can arrive before the join. The
/// thread and the call's record still show that they joined and left (in that order), and
/// nobody is told aloud of someone who is gone.
#[tokio::test]
async fn a_leave_that_arrives_before_its_join_still_shows_both() {
    let t = crate::slack::spawn(&[]).await;
    let (sid, call_id, thread) = t.call_in(CALLER).await;
    let visitor = "CA0123456789abcdef0123456789abcdef";
    t.app
        .conference_event(&call_id, "participant-leave", visitor, 50)
        .await;
    t.app
        .conference_event(&call_id, "participant-join", visitor, 49)
        .await;
    let joined = ":inbox_tray: Someone joined the call.".to_owned();
    let left = ":outbox_tray: Someone left the call.".to_owned();
    let posts = t
        .wait_for("the visitor in the thread", || {
            let posts = t.thread_posts(&thread);
            posts.contains(&left).then_some(posts)
        })
        .await;
    let at = |text: &str| posts.iter().position(|p| p == text);
    assert!(
        matches!((at(&joined), at(&left)), (Some(j), Some(l)) if j < l),
        "{posts:#?}"
    );
    let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["joined"], serde_json::json!(["Someone"]), "{call}");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(t.app.heard(&sid), vec![GREETING], "nothing said aloud");
    // A repeat of either changes nothing.
    let repeats = t.thread_posts(&thread).len();
    t.app
        .conference_event(&call_id, "participant-join", visitor, 49)
        .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(t.thread_posts(&thread).len(), repeats);
}

/// Announcement events are repeated and late too, and (as Twilio may) name no announcement:
/// a repeated `announcement-end` must not settle the next announcement before it is heard.
#[tokio::test]
async fn the_announce_strategy_says_each_message_once_in_order() {
    for seed in SEEDS {
        let app = spawn_app_rewriting(
            crate::announce::without_announce_url,
            ALICE_ONLY,
            &[
                ("DENWA_SPEECH_STRATEGY", "announce"),
                ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
            ],
        )
        .await;
        app.disorder_callbacks(seed);
        app.emulator.add_phone(ALICE, accepts());
        let (sid, call_id) = app.call_in(CALLER).await;
        app.wait_heard(&sid, &["Alice joined the call."]).await;
        let texts: Vec<String> = (1..=5)
            .map(|i| format!("Announcement number {i}."))
            .collect();
        for text in &texts {
            let (status, body) = app.say(&call_id, text).await;
            assert_eq!(status, 202, "seed {seed}: {body}");
        }
        let mut expected = vec!["Alice joined the call."];
        expected.extend(texts.iter().map(String::as_str));
        app.assert_hears_exactly(&sid, &expected, seed).await;
        app.assert_all_spoken(&call_id, expected.len(), seed).await;
        let announcements = app
            .emulator
            .rest_requests()
            .iter()
            .filter(|r| r.params.iter().any(|(k, _)| k == "AnnounceUrl"))
            .count();
        assert!(announcements > 0, "seed {seed}: spoken as announcements");
    }
}
