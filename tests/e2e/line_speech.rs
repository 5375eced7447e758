//! A line's own speech settings (`[[lines]]` `speech` table): everything said on a call is said
//! in its line's voice and language (greeting, transcription notice, the responder's prompt, join
//! announcements, chat replies), and spoken in its line's way (`strategy`).

use std::time::{Duration, SystemTime};

use denwa_twilio_emulator::{Heard, PhoneBehaviour};

use crate::ghost_calls::voice_webhook;
use crate::helpers::*;
use crate::oncall::accepts;

/// The second line's number and responder.
const TOKYO: &str = "+15005550007";
const ALICE: &str = "+14155550101";
const BOB: &str = "+14155550102";
const CALLER_2: &str = "+14155550124";

/// The test configuration's `[speech]` (see `helpers::config_file`): the default line's.
const DEFAULT_VOICE: (&str, &str) = ("Polly.Joanna", "en-US");
const TOKYO_VOICE: (&str, &str) = ("Polly.Mizuki", "ja-JP");
const TOKYO_GREETING: &str = "Tokyo desk, thank you for calling.";
const TOKYO_NOTICE: &str = "This call is transcribed.";

/// The default line (Test line, `LINE`, Alice) and Tokyo (`TOKYO`, Bob, its own voice and
/// language, transcribed in that language), speaking in Tokyo's way `strategy`.
fn two_lines(strategy: &str) -> String {
    format!(
        r#"
id = "support"
[[line.responders]]
name = "Alice"
phone = "{ALICE}"
[[lines]]
id = "tokyo"
name = "Tokyo"
number = "{TOKYO}"
greeting = "{TOKYO_GREETING}"
[lines.speech]
voice = "{}"
language = "{}"
strategy = "{strategy}"
[lines.transcription]
enabled = true
notice = "{TOKYO_NOTICE}"
[[lines.responders]]
name = "Bob"
phone = "{BOB}"
"#,
        TOKYO_VOICE.0, TOKYO_VOICE.1
    )
}

async fn spawn(strategy: &str) -> TestApp {
    spawn_with(strategy, "0", accepts()).await
}

/// Like [`spawn`], with voicemail offered after `voicemail_after` seconds (`0`: never) and Bob's
/// phone doing `bob`.
async fn spawn_with(strategy: &str, voicemail_after: &str, bob: PhoneBehaviour) -> TestApp {
    let app = spawn_app_with_file(
        &two_lines(strategy),
        &[("DENWA_LINE_VOICEMAIL_AFTER", voicemail_after)],
    )
    .await;
    // Tokyo's number is the account's too, pointed at the same webhooks.
    app.add_number(TOKYO);
    app.emulator.add_phone(ALICE, accepts());
    app.emulator.add_phone(BOB, bob);
    app
}

/// Everything said (in full) to leg `sid`: (text, voice, language).
fn said(app: &TestApp, sid: &str) -> Vec<(String, Option<String>, Option<String>)> {
    app.emulator
        .transcript(sid)
        .into_iter()
        .filter_map(|h| match h {
            Heard::Say {
                text,
                voice,
                language,
                complete: true,
            } => Some((text, voice, language)),
            _ => None,
        })
        .collect()
}

/// Asserts every `<Say>` leg `sid` heard was in `voice`, and that it heard each of `expected`.
fn all_in(app: &TestApp, sid: &str, (voice, language): (&str, &str), expected: &[&str]) {
    let said = said(app, sid);
    for text in expected {
        assert!(
            said.iter().any(|(t, _, _)| t == text),
            "{text:?} not heard on {sid}: {said:#?}"
        );
    }
    for (text, v, l) in &said {
        assert_eq!(
            (v.as_deref(), l.as_deref()),
            (Some(voice), Some(language)),
            "{text:?} on {sid}"
        );
    }
}

/// The leg the line placed to `phone`.
fn leg_to(app: &TestApp, phone: &str) -> String {
    app.emulator
        .calls()
        .into_iter()
        .find(|c| c.to == phone)
        .map(|c| c.sid)
        .unwrap_or_else(|| panic!("{phone} was not rung"))
}

/// Whether every speaker leg (a line calling itself) of either line has ended.
fn speaker_legs_ended(app: &TestApp) -> bool {
    app.emulator
        .calls()
        .iter()
        .filter(|c| c.from == c.to)
        .all(|c| c.status == "completed")
}

/// Speaker legs dialled for call `call_id` at or after `since` (from `number`, to it).
fn speaker_dials(app: &TestApp, call_id: &str, number: &str, since: SystemTime) -> usize {
    let for_call = format!("call={call_id}");
    app.emulator
        .rest_requests()
        .into_iter()
        .filter(|r| {
            let param = |k: &str| r.params.iter().find(|(key, _)| key == k).map(|(_, v)| v);
            r.method == "POST"
                && r.path.ends_with("/Calls.json")
                && r.at >= since
                && param("Url")
                    .is_some_and(|u| u.contains("/twilio/speak") && u.contains(&for_call))
                && param("To").is_some_and(|to| to == number)
        })
        .count()
}

/// A call on each line, its responder joined and announced: (support's caller leg and call,
/// Tokyo's).
async fn a_call_on_each_line(app: &TestApp) -> ((String, String), (String, String)) {
    let (support_sid, support_call) = app.call_in(CALLER).await;
    let tokyo_sid = app
        .emulator
        .place_call(CALLER_2, TOKYO, None)
        .await
        .unwrap();
    let tokyo_call = app.wait_for_call(CALLER_2, Some("connected")).await;
    app.wait_heard(&support_sid, &["Alice joined the call."])
        .await;
    app.wait_heard(&tokyo_sid, &["Bob joined the call."]).await;
    ((support_sid, support_call), (tokyo_sid, tokyo_call))
}

#[tokio::test]
async fn each_line_says_everything_in_its_own_voice_and_language() {
    let app = spawn("self-dial").await;
    // The responders accept (each prompted in their line's voice), and are announced.
    let ((support_sid, support_call), (tokyo_sid, tokyo_call)) = a_call_on_each_line(&app).await;
    // A chat reply on each call, said by its line's own speaker.
    app.say(&support_call, "Support here.").await;
    app.say(&tokyo_call, "Tokyo here.").await;
    app.wait_heard(&support_sid, &["Support here."]).await;
    app.wait_heard(&tokyo_sid, &["Tokyo here."]).await;

    all_in(
        &app,
        &support_sid,
        DEFAULT_VOICE,
        &[GREETING, "Alice joined the call.", "Support here."],
    );
    all_in(
        &app,
        &tokyo_sid,
        TOKYO_VOICE,
        &[
            TOKYO_GREETING,
            TOKYO_NOTICE,
            "Bob joined the call.",
            "Tokyo here.",
        ],
    );
    let prompt = |said: Vec<(String, Option<String>, Option<String>)>| {
        said.into_iter()
            .find(|(t, _, _)| t.starts_with("Call for "))
            .map(|(_, v, l)| (v, l))
    };
    let voice = |(v, l): (&str, &str)| Some((Some(v.to_owned()), Some(l.to_owned())));
    assert_eq!(
        prompt(said(&app, &leg_to(&app, ALICE))),
        voice(DEFAULT_VOICE)
    );
    assert_eq!(prompt(said(&app, &leg_to(&app, BOB))), voice(TOKYO_VOICE));

    // Tokyo's caller is transcribed in the language Tokyo speaks (its transcription.language
    // unset); the default line does not transcribe.
    let (_, twiml) = voice_webhook(&app, &tokyo_sid);
    assert!(twiml.contains(r#"languageCode="ja-JP""#), "{twiml}");
    let (_, twiml) = voice_webhook(&app, &support_sid);
    assert!(!twiml.contains("<Transcription"), "{twiml}");
}

/// Tokyo announces into its conference while the default line self-dials: each call's
/// speaker is its line's kind, and an announcement speaks in its line's voice too.
#[tokio::test]
async fn a_line_announces_while_another_self_dials() {
    let app = spawn("announce").await;
    // Bob's join started Tokyo's conference: Twilio takes announcements into it from now on.
    let ((support_sid, support_call), (tokyo_sid, tokyo_call)) = a_call_on_each_line(&app).await;
    app.wait_for(
        "the speaker legs to hang up",
        Duration::from_secs(20),
        || async { speaker_legs_ended(&app).then_some(()) },
    )
    .await;

    let since = SystemTime::now();
    app.say(&tokyo_call, "Announced in Tokyo.").await;
    app.say(&support_call, "Dialled in support.").await;
    app.wait_heard(&tokyo_sid, &["Announced in Tokyo."]).await;
    app.wait_heard(&support_sid, &["Dialled in support."]).await;

    assert_eq!(
        speaker_dials(&app, &tokyo_call, TOKYO, since),
        0,
        "announced"
    );
    assert_eq!(
        speaker_dials(&app, &support_call, LINE, since),
        1,
        "self-dialled"
    );
    let announced = app.emulator.rest_requests().into_iter().any(|r| {
        r.at >= since
            && r.path.contains("/Conferences/")
            && r.params
                .iter()
                .any(|(k, v)| k == "AnnounceUrl" && v.contains(&format!("call={tokyo_call}")))
    });
    assert!(announced, "Tokyo's message was announced");
    all_in(&app, &tokyo_sid, TOKYO_VOICE, &["Announced in Tokyo."]);
    all_in(&app, &support_sid, DEFAULT_VOICE, &["Dialled in support."]);
}

#[test]
fn check_names_a_line_speech_key_it_refuses() {
    let dir = std::env::temp_dir().join(format!("denwa-line-speech-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("line-speech.toml");
    let config = format!(
        "[server]\npublic_url = \"https://denwa.example.com\"\n[twilio]\n\
account_sid = \"{ACCOUNT_SID}\"\nnumber = \"+14155550100\"\n\
[[lines]]\nid = \"tokyo\"\nnumber = \"+14155550200\"\n\
[[lines]]\nid = \"osaka\"\nnumber = \"+14155550300\"\n[lines.speech]\n\
voice = \"Polly Mizuki, please\"\nlanguage = \"ja_JP\"\nstrategy = \"shout\"\nlinger = 5\n"
    );
    std::fs::write(&file, config).unwrap();
    let stderr = crate::cli::check_refuses(&file);
    for expected in [
        "lines[1].speech.voice: \"Polly Mizuki, please\" is not a Twilio voice name",
        "lines[1].speech.language: \"ja_JP\" is not a BCP-47 language code",
        "lines[1].speech.strategy: \"shout\" is not one of",
        // `[speech]`'s other keys bound the process: one value for every line.
        "lines[1].speech.linger: unknown key",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected} missing from:\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `denwa check` says how each line speaks, not only the default line.
#[tokio::test]
async fn check_names_each_lines_way_of_speaking() {
    let app = spawn_app_with_file("", &[]).await;
    let dir = std::env::temp_dir().join(format!("denwa-line-speech-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("denwa.toml");
    std::fs::write(
        &file,
        config_file(&app.base, &app.redis, &app.emulator, &two_lines("announce")),
    )
    .unwrap();
    let out = crate::cli::denwa()
        .args(["check", "--config"])
        .arg(&file)
        .env("DENWA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("DENWA_API_TOKEN", API_TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "support {LINE} (self-dial), tokyo {TOKYO} (announce)"
        )),
        "{stdout}"
    );
}

/// Nobody on Tokyo takes the call: the voicemail prompt, too, is said in Tokyo's voice and
/// language.
#[tokio::test]
async fn the_voicemail_prompt_is_said_in_the_lines_voice() {
    let app = spawn_with("self-dial", "2", PhoneBehaviour::Voicemail).await;
    let sid = app
        .emulator
        .place_call(CALLER_2, TOKYO, None)
        .await
        .unwrap();
    app.wait_for_the_beep(&sid).await;
    all_in(&app, &sid, TOKYO_VOICE, &[TOKYO_GREETING, TOKYO_NOTICE]);
    assert!(
        said(&app, &sid)
            .iter()
            .any(|(t, _, _)| t.starts_with("Nobody can take your call right now")),
        "{:#?}",
        said(&app, &sid)
    );
}

/// Tokyo offers a menu, whose one choice (also the default) is a desk sharing its number: the
/// menu's prompt is said in Tokyo's voice and language, then the call goes to the desk.
#[tokio::test]
async fn a_menu_prompt_is_said_in_its_lines_voice() {
    const PROMPT: &str = "For billing press 1.";
    let menu = format!(
        r#"
[lines.menu]
prompt = "{PROMPT}"
default = "tokyo-billing"
timeout = 5
choices = {{ 1 = "tokyo-billing" }}
[[lines]]
id = "tokyo-billing"
name = "Tokyo billing"
number = "{TOKYO}"
[[lines.responders]]
name = "Bob"
phone = "{BOB}"
"#
    );
    let app = spawn_app_with_file(
        &(two_lines("self-dial") + &menu),
        &[("DENWA_LINE_VOICEMAIL_AFTER", "0")],
    )
    .await;
    app.add_number(TOKYO);
    let sid = app
        .emulator
        .place_call(CALLER_2, TOKYO, None)
        .await
        .unwrap();
    let call = app.wait_for_call(CALLER_2, Some("connected")).await;
    let (_, record) = app.get_json(&format!("/calls/{call}")).await;
    assert_eq!(record["line"], "tokyo-billing", "{record}");
    let prompt = said(&app, &sid)
        .into_iter()
        .find(|(t, _, _)| t == PROMPT)
        .map(|(_, v, l)| (v, l));
    assert_eq!(
        prompt,
        Some((
            Some(TOKYO_VOICE.0.to_owned()),
            Some(TOKYO_VOICE.1.to_owned())
        ))
    );
}
