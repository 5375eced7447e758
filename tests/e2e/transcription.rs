//! Live transcription of the caller (issue 12), end to end: the emulator transcribes what its
//! phone says and posts Twilio's signed callbacks; denwa posts the caller's words in the call's
//! Slack thread (fake Slack) and Discord thread (fake Discord), and serves the transcript API.

use std::time::Duration;

use denwa_twilio_emulator::{TranscriptionEngine, TranscriptionTrack};
use serde_json::Value;

use crate::fake_discord::FakeDiscord;
use crate::fake_slack::FakeSlack;
use crate::helpers::*;
use crate::script_keys::KeyAudit;

const SLACK_CHANNEL: &str = "C0TRANSC1";
const SLACK_TOKEN: &str = "xoxb-transcription-test";
const SLACK_SECRET: &str = "0123456789abcdef0123456789abcdef";
const DISCORD_APP: &str = "1100000000000000011";
const GUILD: &str = "1100000000000000012";
const DISCORD_CHANNEL: &str = "1100000000000000013";
const DISCORD_TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAxMQ.Gx1y2z.transcription";
/// What the caller hears before transcription starts, by default.
const NOTICE: &str = "This call is transcribed so that our team can read along.";

struct Transcribed {
    app: TestApp,
    slack: FakeSlack,
    discord: FakeDiscord,
}

/// The app with both chat bridges and `extra` settings.
async fn spawn(extra: &[(&str, &str)]) -> Transcribed {
    spawn_replicated(1, "", extra).await
}

/// Like [`spawn`], as `replicas` processes behind a round-robin balancer (1: one app), with
/// `extra_file` appended to the configuration file.
async fn spawn_replicated(
    replicas: usize,
    extra_file: &str,
    extra: &[(&str, &str)],
) -> Transcribed {
    let slack = FakeSlack::start(SLACK_TOKEN, SLACK_CHANNEL).await;
    let discord = FakeDiscord::start(GUILD, DISCORD_CHANNEL, DISCORD_TOKEN).await;
    let public_key: String = ed25519_dalek::SigningKey::from_bytes(&[7; 32])
        .verifying_key()
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let slack_base = slack.api_base();
    let mut env = vec![
        ("DENWA_SLACK_CHANNEL", SLACK_CHANNEL),
        ("DENWA_SLACK_BOT_TOKEN", SLACK_TOKEN),
        ("DENWA_SLACK_SIGNING_SECRET", SLACK_SECRET),
        ("DENWA_SLACK_API_BASE", slack_base.as_str()),
        ("DENWA_DISCORD_APPLICATION_ID", DISCORD_APP),
        ("DENWA_DISCORD_GUILD_ID", GUILD),
        ("DENWA_DISCORD_CHANNEL_ID", DISCORD_CHANNEL),
        ("DENWA_DISCORD_BOT_TOKEN", DISCORD_TOKEN),
        ("DENWA_DISCORD_PUBLIC_KEY", public_key.as_str()),
        ("DENWA_DISCORD_API_BASE", discord.base.as_str()),
    ];
    env.extend_from_slice(extra);
    let app = if replicas > 1 {
        spawn_replicas(replicas, extra_file, &env).await
    } else {
        spawn_app_with_file(extra_file, &env).await
    };
    Transcribed {
        app,
        slack,
        discord,
    }
}

async fn spawn_on() -> Transcribed {
    spawn(&[("DENWA_TRANSCRIPTION_ENABLED", "true")]).await
}

impl Transcribed {
    /// The caller's words posted in Slack threads, one line each, in the order posted.
    fn slack_said(&self) -> Vec<String> {
        self.slack
            .calls("chat.postMessage")
            .into_iter()
            .filter(|p| p["thread_ts"].is_string())
            .filter_map(|p| p["text"].as_str().map(str::to_owned))
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.strip_prefix(":speech_balloon: *Caller:* "))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The caller's words posted in Discord threads (every post is checked to allow no ping).
    fn discord_said(&self) -> Vec<String> {
        self.discord
            .matching("POST", "/messages")
            .into_iter()
            .filter(|r| r.path != format!("/api/v10/channels/{DISCORD_CHANNEL}/messages"))
            .filter_map(|r| {
                let content = r.body["content"].as_str()?.to_owned();
                content.contains("🗣️").then(|| {
                    assert_eq!(
                        r.body["allowed_mentions"]["parse"],
                        serde_json::json!([]),
                        "{}",
                        r.body
                    );
                    content
                })
            })
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.strip_prefix("🗣️ **Caller:** "))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Waits until Slack and Discord each show `expected` (in order, nothing else).
    async fn wait_said(&self, expected: &[&str]) {
        self.app
            .wait_for(
                &format!("{expected:?} in both threads"),
                Duration::from_secs(20),
                || {
                    let done = self.slack_said() == expected && self.discord_said() == expected;
                    async move { done.then_some(()) }
                },
            )
            .await;
    }

    /// Thread posts in Slack containing `text`.
    fn slack_posts_with(&self, text: &str) -> Vec<String> {
        self.slack
            .calls("chat.postMessage")
            .into_iter()
            .filter_map(|p| p["text"].as_str().map(str::to_owned))
            .filter(|t| t.contains(text))
            .collect()
    }

    /// A transcription callback for `call_sid`, signed with `token`.
    async fn callback(&self, call_sid: &str, params: &[(&str, &str)], token: &str) -> u16 {
        let mut all = vec![("AccountSid", ACCOUNT_SID), ("CallSid", call_sid)];
        all.extend_from_slice(params);
        self.app
            .post_signed("/twilio/transcription", &all, token)
            .await
            .status()
            .as_u16()
    }

    async fn final_result(&self, call_sid: &str, sequence: &str, text: &str) -> u16 {
        let data = serde_json::json!({"transcript": text, "confidence": 0.9}).to_string();
        self.callback(
            call_sid,
            &[
                ("TranscriptionEvent", "transcription-content"),
                ("TranscriptionSid", "GT0123456789abcdef0123456789abcdef"),
                ("SequenceId", sequence),
                ("Track", "inbound_track"),
                ("Final", "true"),
                ("LanguageCode", "en-US"),
                ("TranscriptionData", &data),
            ],
            AUTH_TOKEN,
        )
        .await
    }

    /// Whether `/metrics` shows `line` (a metric and its value).
    async fn metric(&self, line: &str) -> bool {
        let url = format!("{}/metrics", self.app.base);
        let text = self
            .app
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines().any(|l| l == line)
    }

    async fn transcript(&self, call_id: &str) -> Vec<Value> {
        let (status, body) = self
            .app
            .get_json(&format!("/calls/{call_id}/transcript"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["entries"].as_array().cloned().unwrap_or_default()
    }
}

#[tokio::test]
async fn the_callers_sentences_appear_in_both_threads_in_order_once() {
    let t = spawn_on().await;
    let (sid, call_id) = t.app.call_in(CALLER).await;
    let started = t.app.emulator.realtime_transcriptions();
    assert_eq!(started.len(), 1, "one transcription per call");
    assert_eq!(started[0].call_sid, sid);
    assert!(
        started[0]
            .status_callback_url
            .as_deref()
            .is_some_and(|u| u == format!("{}/twilio/transcription", t.app.base)),
        "{:?}",
        started[0].status_callback_url
    );
    let settings = &started[0].settings;
    assert_eq!(
        settings.track,
        TranscriptionTrack::Inbound,
        "the caller's voice only"
    );
    assert_eq!(settings.language_code, "en-US", "speech.language");
    assert!(!settings.partial_results);
    assert_eq!(
        t.app.heard(&sid).iter().filter(|h| *h == NOTICE).count(),
        1,
        "the caller heard the notice once"
    );

    t.app
        .emulator
        .speak(
            &sid,
            "My server is down. Can anyone help? It started an hour ago.",
        )
        .await;
    t.wait_said(&[
        "My server is down.",
        "Can anyone help?",
        "It started an hour ago.",
    ])
    .await;

    // Speech is data: nothing the caller says can ping, mention or link.
    t.app
        .emulator
        .speak(&sid, "<!channel> @everyone <https://x|y> & more")
        .await;
    let hostile_slack = "&lt;!channel&gt; @everyone &lt;https://x|y&gt; &amp; more";
    let hostile_discord = "\\<!channel\\> \\@everyone \\<https://x\\|y\\> & more";
    t.app
        .wait_for(
            "the hostile line in both threads",
            Duration::from_secs(20),
            || {
                let done = t.slack_said().len() == 4 && t.discord_said().len() == 4;
                async move { done.then_some(()) }
            },
        )
        .await;
    assert_eq!(t.slack_said()[3], hostile_slack);
    assert_eq!(t.discord_said()[3], hostile_discord);

    // The transcript both ways: the caller's words and what the team had spoken to them.
    let (status, _) = t.app.say(&call_id, "We are looking at it now.").await;
    assert_eq!(status, 202);
    t.app.wait_all_spoken(&call_id).await;
    let entries = t.transcript(&call_id).await;
    let said: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["speaker"].as_str().unwrap(), e["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        said,
        vec![
            ("caller", "My server is down."),
            ("caller", "Can anyone help?"),
            ("caller", "It started an hour ago."),
            ("caller", "<!channel> @everyone <https://x|y> & more"),
            ("team", "We are looking at it now."),
        ]
    );
    for e in &entries {
        assert!(e["name"].is_null(), "{e}");
        let at = e["at"].as_str().unwrap();
        assert!(at.ends_with('Z') && at.contains('T'), "RFC 3339: {at}");
    }

    // The end of the call counts what the caller said; nothing was posted twice meanwhile.
    t.app.emulator.hangup(&sid).await;
    t.app
        .wait_for("the end in Slack", Duration::from_secs(20), || {
            let posts = t.slack_posts_with("the caller said 4 things");
            async move { (!posts.is_empty()).then_some(()) }
        })
        .await;
    t.app
        .wait_for("the end in Discord", Duration::from_secs(20), || {
            let found = t.discord.requests().iter().any(|r| {
                r.body["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("the caller said 4 things"))
            });
            async move { found.then_some(()) }
        })
        .await;
    assert_eq!(t.slack_said().len(), 4);
    assert_eq!(t.discord_said().len(), 4);
    // Twilio stops transcribing when the call ends: that is no news for the thread.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(t.slack_posts_with("unavailable").is_empty());
    // Still readable after the end, for as long as the call's record is kept.
    assert_eq!(t.transcript(&call_id).await.len(), 5);
}

#[tokio::test]
async fn repeated_and_disordered_callbacks_post_each_utterance_once_in_order() {
    let t = spawn_on().await;
    let audit = KeyAudit::attach(&t.app.redis).await;
    let (sid, call_id) = t.app.call_in(CALLER).await;
    // Twilio's callbacks in the worst order: the last first, one twice, a partial result.
    let partial = serde_json::json!({"transcript": "seco", "confidence": 0.5}).to_string();
    assert_eq!(t.final_result(&sid, "7", "Third.").await, 204);
    assert_eq!(
        t.callback(
            &sid,
            &[
                ("TranscriptionEvent", "transcription-content"),
                ("SequenceId", "4"),
                ("Track", "inbound_track"),
                ("Final", "false"),
                ("TranscriptionData", &partial),
            ],
            AUTH_TOKEN
        )
        .await,
        204
    );
    assert_eq!(t.final_result(&sid, "5", "Second.").await, 204);
    assert_eq!(t.final_result(&sid, "7", "Third.").await, 204);
    assert_eq!(t.final_result(&sid, "2", "First.").await, 204);
    assert_eq!(t.final_result(&sid, "5", "Second.").await, 204);
    t.wait_said(&["First.", "Second.", "Third."]).await;
    // A repeat after the post is not posted again.
    assert_eq!(t.final_result(&sid, "2", "First.").await, 204);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(t.slack_said(), ["First.", "Second.", "Third."]);
    assert_eq!(t.discord_said(), ["First.", "Second.", "Third."]);
    assert!(t.metric("denwa_caller_utterances_total 3").await);
    let texts: Vec<String> = t
        .transcript(&call_id)
        .await
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["First.", "Second.", "Third."]);
    // Malformed content is refused with a reason, and nothing is kept.
    assert_eq!(
        t.callback(
            &sid,
            &[
                ("TranscriptionEvent", "transcription-content"),
                ("SequenceId", "9"),
                ("Final", "true"),
                ("TranscriptionData", "not json"),
            ],
            AUTH_TOKEN
        )
        .await,
        400
    );
    assert_eq!(t.transcript(&call_id).await.len(), 3);
    audit.assert_no_strays(10).await;
}

#[tokio::test]
async fn a_forged_callback_is_refused_and_touches_nothing() {
    let t = spawn_on().await;
    let (sid, call_id) = t.app.call_in(CALLER).await;
    let data = serde_json::json!({"transcript": "Forged words.", "confidence": 1.0}).to_string();
    let params = [
        ("TranscriptionEvent", "transcription-content"),
        ("SequenceId", "1"),
        ("Track", "inbound_track"),
        ("Final", "true"),
        ("TranscriptionData", data.as_str()),
    ];
    assert_eq!(t.callback(&sid, &params, "not-the-auth-token").await, 403);
    let error = [
        ("TranscriptionEvent", "transcription-error"),
        ("TranscriptionError", "forged"),
    ];
    assert_eq!(t.callback(&sid, &error, "not-the-auth-token").await, 403);
    // Signed, but naming no call SID: a clear 400, nothing looked up.
    let r = t
        .app
        .post_signed(
            "/twilio/transcription",
            &[
                ("CallSid", "CA1"),
                ("TranscriptionEvent", "transcription-error"),
            ],
            AUTH_TOKEN,
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not a Twilio call SID"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(t.transcript(&call_id).await.is_empty());
    assert!(t.slack_said().is_empty());
    assert!(t.slack_posts_with("unavailable").is_empty());
    // The same callback, signed, would have been kept: the refusal was the signature's.
    assert_eq!(t.callback(&sid, &params, AUTH_TOKEN).await, 204);
    t.wait_said(&["Forged words."]).await;
}

#[tokio::test]
async fn transcription_disabled_starts_nothing() {
    let t = spawn(&[]).await;
    let (sid, call_id) = t.app.call_in(CALLER).await;
    t.app.emulator.speak(&sid, "Is anyone there?").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(t.app.emulator.realtime_transcriptions().is_empty());
    assert!(!t.app.heard(&sid).iter().any(|h| h == NOTICE));
    assert!(t.slack_said().is_empty() && t.discord_said().is_empty());
    assert!(t.transcript(&call_id).await.is_empty());
    t.app.emulator.hangup(&sid).await;
    t.app
        .wait_for("the end in Slack", Duration::from_secs(20), || {
            let posts = t.slack_posts_with("message was spoken");
            async move { (!posts.is_empty()).then_some(()) }
        })
        .await;
    assert!(t.slack_posts_with("the caller said").is_empty());
}

#[tokio::test]
async fn a_transcription_error_is_posted_once_and_the_call_goes_on() {
    let t = spawn_on().await;
    let (sid, call_id) = t.app.call_in(CALLER).await;
    t.app.emulator.fail_transcription(&sid, "engine overloaded");
    // Twilio may send it again, to another replica.
    let error = [
        ("TranscriptionEvent", "transcription-error"),
        ("TranscriptionError", "engine overloaded"),
    ];
    assert_eq!(t.callback(&sid, &error, AUTH_TOKEN).await, 204);
    let expected = "live transcript unavailable: engine overloaded";
    t.app
        .wait_for("the notice", Duration::from_secs(20), || {
            let found = !t.slack_posts_with(expected).is_empty();
            async move { found.then_some(()) }
        })
        .await;
    // The stop that follows the error is not news of its own.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(t.slack_posts_with("unavailable").len(), 1);
    let discord_notices = t
        .discord
        .requests()
        .iter()
        .filter(|r| {
            r.body["content"]
                .as_str()
                .is_some_and(|c| c.contains("unavailable"))
        })
        .count();
    assert_eq!(discord_notices, 1);
    assert!(t.metric("denwa_transcripts_unavailable_total 1").await);
    let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "connected", "the call goes on");
}

#[tokio::test]
async fn a_voicemail_is_transcribed_by_the_live_transcription() {
    let t = spawn(&[
        ("DENWA_TRANSCRIPTION_ENABLED", "true"),
        ("DENWA_LINE_VOICEMAIL_AFTER", "2"),
    ])
    .await;
    let (sid, call_id) = t.app.call_in(CALLER).await;
    t.app.emulator.speak(&sid, "Hello? Is anyone there?").await;
    // Shorter than the 2 s a recording transcription needs.
    t.app.leave_voicemail(&sid, "Call me back.").await;
    let call = t
        .app
        .wait_for("the transcript", Duration::from_secs(20), || async {
            let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
            call["voicemail_transcript"].is_string().then_some(call)
        })
        .await;
    assert_eq!(call["voicemail_transcript"], "Call me back.");
    t.app
        .wait_for("the transcript in Slack", Duration::from_secs(20), || {
            let found = !t.slack_posts_with("Voicemail transcript").is_empty();
            async move { found.then_some(()) }
        })
        .await;
    assert_eq!(
        t.slack_posts_with("Voicemail transcript"),
        [":memo: Voicemail transcript: “Call me back.”"]
    );
    // The recording itself was not sent for transcription.
    let transcribed = t
        .app
        .emulator
        .events(&sid)
        .iter()
        .any(|e| format!("{e:?}").contains("voicemail-transcribed"));
    assert!(!transcribed);
}

#[tokio::test]
async fn across_replicas_and_disordered_callbacks_each_utterance_is_posted_once_in_order() {
    let t = spawn_replicated(3, "", &[("DENWA_TRANSCRIPTION_ENABLED", "true")]).await;
    t.app.disorder_callbacks(12);
    let (sid, _) = t.app.call_in(CALLER).await;
    let sentences = [
        "The printer is on fire.",
        "Not a big fire.",
        "But still a fire.",
        "Please send someone.",
    ];
    t.app.emulator.speak(&sid, &sentences.join(" ")).await;
    t.wait_said(&sentences).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(t.slack_said(), sentences);
    assert_eq!(t.discord_said(), sentences);
}

#[tokio::test]
async fn the_language_engine_and_notice_are_the_configured_ones() {
    let t = spawn(&[
        ("DENWA_TRANSCRIPTION_ENABLED", "true"),
        ("DENWA_TRANSCRIPTION_LANGUAGE", "ja-JP"),
        ("DENWA_TRANSCRIPTION_ENGINE", "deepgram"),
        ("DENWA_TRANSCRIPTION_NOTICE", ""),
    ])
    .await;
    let (sid, _) = t.app.call_in(CALLER).await;
    let started = t.app.emulator.realtime_transcriptions();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].settings.language_code, "ja-JP");
    assert_eq!(started[0].settings.engine, TranscriptionEngine::Deepgram);
    assert!(!t.app.heard(&sid).iter().any(|h| h == NOTICE), "no notice");
    assert!(
        t.app.emulator.errors().is_empty(),
        "{:?}",
        t.app.emulator.errors()
    );
}

#[tokio::test]
async fn the_transcript_holds_the_lines_announcements_and_the_callers_words_in_time_order() {
    let t = spawn_replicated(
        1,
        crate::oncall::ALICE_ONLY,
        &[("DENWA_TRANSCRIPTION_ENABLED", "true")],
    )
    .await;
    t.app
        .emulator
        .add_phone(crate::oncall::ALICE, crate::oncall::accepts());
    let (sid, call_id) = t.app.call_in(CALLER).await;
    t.app.emulator.speak(&sid, "Hello?").await;
    t.wait_said(&["Hello?"]).await;
    let entries = t
        .app
        .wait_for(
            "Alice's join in the transcript",
            Duration::from_secs(30),
            || async {
                let entries = t.transcript(&call_id).await;
                entries
                    .iter()
                    .any(|e| {
                        e["speaker"] == "line"
                            && e["text"].as_str().is_some_and(|s| s.contains("Alice"))
                    })
                    .then_some(entries)
            },
        )
        .await;
    let speakers: Vec<&str> = entries
        .iter()
        .map(|e| e["speaker"].as_str().unwrap())
        .collect();
    assert_eq!(speakers.first(), Some(&"caller"), "{entries:?}");
    assert!(speakers.contains(&"line"), "{entries:?}");
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "in time order");
}

#[tokio::test]
async fn a_stop_while_the_call_is_on_is_posted_once() {
    let t = spawn_on().await;
    let (sid, call_id) = t.app.call_in(CALLER).await;
    let stopped = [("TranscriptionEvent", "transcription-stopped")];
    assert_eq!(t.callback(&sid, &stopped, AUTH_TOKEN).await, 204);
    assert_eq!(t.callback(&sid, &stopped, AUTH_TOKEN).await, 204);
    let expected = "live transcript unavailable: Twilio stopped transcribing the call";
    t.app
        .wait_for("the notice", Duration::from_secs(20), || {
            let found = !t.slack_posts_with(expected).is_empty();
            async move { found.then_some(()) }
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(t.slack_posts_with("unavailable").len(), 1);
    let (_, call) = t.app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "connected", "the call goes on");
}

#[tokio::test]
async fn the_caller_is_labelled_by_name_when_known_and_the_name_is_inert_too() {
    let t = spawn_on().await;
    let sid = t
        .app
        .emulator
        .place_call(CALLER, LINE, Some("<Jane> @here"))
        .await
        .unwrap();
    let call_id = t.app.wait_for_call(CALLER, Some("connected")).await;
    t.app.emulator.speak(&sid, "It is me again.").await;
    t.app
        .wait_for("the words in both threads", Duration::from_secs(20), || {
            let slack = t
                .slack_posts_with("It is me again.")
                .contains(&":speech_balloon: *&lt;Jane&gt; @here:* It is me again.".to_owned());
            let discord = t.discord.requests().iter().any(|r| {
                r.body["content"] == "🗣️ **\\<Jane\\> \\@here:** It is me again."
                    && r.body["allowed_mentions"]["parse"] == serde_json::json!([])
            });
            async move { (slack && discord).then_some(()) }
        })
        .await;
    let entries = t.transcript(&call_id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["name"], "<Jane> @here");
    assert_eq!(entries[0]["speaker"], "caller");
}

#[tokio::test]
async fn a_calls_transcript_is_bounded_and_the_thread_is_told_once() {
    let t = spawn_on().await;
    let (sid, call_id) = t.app.call_in(CALLER).await;
    // 2,000 bytes each: the 256 KiB bound holds 131 of them.
    let words = "talk ".repeat(400);
    for sequence in 1..=133 {
        let status = t
            .final_result(&sid, &sequence.to_string(), words.trim_end())
            .await;
        assert_eq!(status, 204, "utterance {sequence}");
    }
    let expected = "The live transcript stops here";
    t.app
        .wait_for("the limit's notice", Duration::from_secs(20), || {
            let found = !t.slack_posts_with(expected).is_empty();
            async move { found.then_some(()) }
        })
        .await;
    t.app
        .wait_for(
            "every kept utterance in Slack",
            Duration::from_secs(30),
            || {
                let n = t.slack_said().len();
                async move { (n == 131).then_some(()) }
            },
        )
        .await;
    // Every Slack message stays within what Slack shows whole.
    for text in t.slack_posts_with("talk") {
        assert!(text.chars().count() <= 4_000, "{}", text.len());
    }
    assert_eq!(t.slack_posts_with(expected).len(), 1);
    assert_eq!(t.transcript(&call_id).await.len(), 131);
}
