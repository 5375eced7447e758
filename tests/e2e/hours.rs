//! Business hours (issue 15, item 5), end to end: hours and holidays in the line's time zone,
//! chosen around the real now; outside them the caller goes straight to voicemail with the
//! after-hours greeting, no conference starts and nobody is rung.

use std::time::Duration;

use chrono::{Datelike as _, Utc};
use denwa_twilio_emulator::Heard;

use crate::cli::denwa;
use crate::helpers::*;
use crate::oncall::{ALICE, ALICE_ONLY, BOB, accepts};

const ZONE: chrono_tz::Tz = chrono_tz::Asia::Tokyo;
const NIGHT: &str = "+15005550008";
const CLOSED: &str = "We are closed for the day. Please leave a message after the tone.";
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `[line.hours]` in Tokyo with `days` (day name, ranges) and `holidays`.
fn hours(days: &[(&str, &str)], holidays: &[String]) -> String {
    let days: String = days
        .iter()
        .map(|(day, ranges)| format!("{day} = \"{ranges}\"\n"))
        .collect();
    let holidays: Vec<String> = holidays.iter().map(|d| format!("\"{d}\"")).collect();
    format!(
        "{ALICE_ONLY}\n[line.hours]\ntimezone = \"Asia/Tokyo\"\n{days}holidays = [{}]\n\
after_hours = \"voicemail\"\nafter_hours_greeting = \"{CLOSED}\"\n",
        holidays.join(", ")
    )
}

/// Today in Tokyo, shifted by `days`, as its weekday's name and its date.
fn tokyo_day(days: i64) -> (&'static str, String) {
    let day = Utc::now().with_timezone(&ZONE) + chrono::Duration::days(days);
    (
        DAYS[day.weekday().num_days_from_monday() as usize],
        day.format("%Y-%m-%d").to_string(),
    )
}

impl TestApp {
    /// Calls in; waits for the after-hours greeting and its beep, leaves `words`; the call's
    /// record once its voicemail transcript is in.
    async fn leave_after_hours_voicemail(&self, words: &str) -> (String, serde_json::Value) {
        let sid = self
            .emulator
            .place_call(CALLER, LINE, None)
            .await
            .expect("the emulator places the call");
        let call_id = self.wait_for_call(CALLER, None).await;
        self.wait_for(
            "the after-hours greeting and its beep",
            Duration::from_secs(20),
            || async {
                let heard = self.emulator.transcript(&sid);
                let greeting = heard
                    .iter()
                    .position(|h| matches!(h, Heard::Say { text, .. } if text == CLOSED))?;
                heard[greeting..]
                    .iter()
                    .any(|h| matches!(h, Heard::Beep))
                    .then_some(())
            },
        )
        .await;
        // A breath after the beep, as a person takes.
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.emulator.speak(&sid, words).await;
        self.emulator.press(&sid, "#").await;
        let call = self
            .wait_for(
                "the voicemail's transcript",
                Duration::from_secs(20),
                || async {
                    let (_, call) = self.get_json(&format!("/calls/{call_id}")).await;
                    call["voicemail_transcript"].is_string().then_some(call)
                },
            )
            .await;
        (sid, call)
    }

    /// What the caller heard said, in order.
    fn said_to(&self, sid: &str) -> Vec<String> {
        self.emulator
            .transcript(sid)
            .into_iter()
            .filter_map(|h| match h {
                Heard::Say { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    }
}

#[tokio::test]
async fn after_hours_the_caller_goes_straight_to_voicemail_and_nobody_is_rung() {
    // Open only three days from now (Tokyo time): closed today.
    let (open_day, _) = tokyo_day(3);
    let app = spawn_app_with_file(&hours(&[(open_day, "09:00-17:00")], &[]), &[]).await;
    app.emulator.add_phone(ALICE, accepts());

    let (sid, call) = app
        .leave_after_hours_voicemail("my boiler is broken please call back")
        .await;
    assert_eq!(
        call["voicemail_transcript"],
        "my boiler is broken please call back"
    );
    let said = app.said_to(&sid);
    assert_eq!(said.first().map(String::as_str), Some(CLOSED), "{said:?}");
    assert!(!said.iter().any(|s| s == GREETING), "{said:?}");
    assert!(app.legs_to(ALICE).is_empty(), "nobody is rung after hours");
    assert!(
        app.emulator.conferences().is_empty(),
        "no conference is started for an after-hours call"
    );
    assert_eq!(call["responder_legs"], 0);
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("denwa_calls_after_hours_total 1"),
        "{metrics}"
    );
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

#[tokio::test]
async fn a_holiday_counts_as_after_hours() {
    // Open around the clock every day, but today (and, should the test cross midnight in Tokyo,
    // tomorrow) is a holiday.
    let every_day: Vec<(&str, &str)> = DAYS.iter().map(|d| (*d, "00:00-24:00")).collect();
    let holidays = vec![tokyo_day(0).1, tokyo_day(1).1];
    let app = spawn_app_with_file(&hours(&every_day, &holidays), &[]).await;
    app.emulator.add_phone(ALICE, accepts());

    let (_, call) = app.leave_after_hours_voicemail("happy holidays").await;
    assert_eq!(call["voicemail_transcript"], "happy holidays");
    assert!(app.legs_to(ALICE).is_empty(), "nobody is rung on a holiday");
    assert!(app.emulator.conferences().is_empty());
}

#[tokio::test]
async fn within_hours_the_call_is_answered_as_usual() {
    let every_day: Vec<(&str, &str)> = DAYS.iter().map(|d| (*d, "00:00-24:00")).collect();
    // Holidays elsewhere in the year do not close today.
    let holidays = vec![tokyo_day(30).1];
    let app = spawn_app_with_file(
        &hours(&every_day, &holidays),
        &[("DENWA_LINE_VOICEMAIL_AFTER", "0")],
    )
    .await;
    app.emulator.add_phone(ALICE, accepts());
    let (sid, _) = app.call_in(CALLER).await;
    let heard = app.wait_heard(&sid, &["Alice joined the call."]).await;
    assert_eq!(heard, vec![GREETING, "Alice joined the call."]);
}

#[tokio::test]
async fn after_hours_a_line_may_pass_its_calls_to_another_line() {
    // The default line is closed today and passes its calls to the night desk (its own number,
    // its own people, open around the clock).
    let (open_day, _) = tokyo_day(3);
    let every_day: String = DAYS
        .iter()
        .map(|d| format!("{d} = \"00:00-24:00\"\n"))
        .collect();
    let file = format!(
        "{ALICE_ONLY}\n[line.hours]\ntimezone = \"Asia/Tokyo\"\n{open_day} = \"09:00-17:00\"\n\
after_hours = \"night\"\n\n[[lines]]\nid = \"night\"\nname = \"Night desk\"\n\
number = \"{NIGHT}\"\n[[lines.responders]]\nname = \"Bob\"\nphone = \"{BOB}\"\n\
[lines.hours]\ntimezone = \"Asia/Tokyo\"\n{every_day}"
    );
    let app = spawn_app_with_file(&file, &[("DENWA_LINE_VOICEMAIL_AFTER", "0")]).await;
    // The night desk's number is the account's too (its speaker and ringing call from it).
    app.add_number(NIGHT);
    app.emulator.add_phone(ALICE, accepts());
    app.emulator.add_phone(BOB, accepts());
    let (sid, call_id) = app.call_in(CALLER).await;
    app.wait_heard(&sid, &["Bob joined the call."]).await;
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["line"], "night", "{call}");
    assert!(
        app.legs_to(ALICE).is_empty(),
        "the closed line's people are not rung"
    );
    assert!(
        !app.metrics_text()
            .await
            .contains("denwa_calls_after_hours_total 1"),
        "a call passed on is not a voicemail"
    );
}

#[test]
fn check_names_the_hours_keys_it_refuses() {
    let dir = std::env::temp_dir().join(format!("denwa-hours-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hours.toml");
    let config = format!(
        "[server]\npublic_url = \"https://denwa.example.com\"\n[twilio]\n\
account_sid = \"{ACCOUNT_SID}\"\nnumber = \"+14155550100\"\n[line]\n\
[line.hours]\ntimezone = \"Mars/Olympus_Mons\"\nmonday = \"09:00-17:00\"\n\
tuesday = \"17:00-09:00\"\nwednesday = \"9am-5pm\"\nholidays = [\"2026-12-25\", \"2026-13-01\"]\n\
after_hours = \"Not a line!\"\n"
    );
    std::fs::write(&file, config).unwrap();
    let stderr = crate::cli::check_refuses(&file);
    for expected in [
        "line.hours.timezone: \"Mars/Olympus_Mons\" is not an IANA time zone",
        "line.hours.tuesday: \"17:00-09:00\" is not a time range",
        "line.hours.wednesday: \"9am-5pm\" is not a time range",
        "line.hours.holidays: \"2026-13-01\" is not a date",
        "line.hours.after_hours: \"Not a line!\" is not \"voicemail\" or a line id",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from:\n{stderr}"
        );
    }
    assert!(!stderr.contains("line.hours.monday"), "{stderr}");

    // Scalar keys from the environment.
    let out = denwa()
        .args(["check", "--config"])
        .arg(&file)
        .env("DENWA_TWILIO_AUTH_TOKEN", "x")
        .env("DENWA_API_TOKEN", "y")
        .env("DENWA_LINE_HOURS_TIMEZONE", "Europe/London")
        .env("DENWA_LINE_HOURS_TUESDAY", "08:00-12:00, 13:00-17:30")
        .env("DENWA_LINE_HOURS_WEDNESDAY", "")
        .env("DENWA_LINE_HOURS_HOLIDAYS", "2026-12-25,2027-01-01")
        .env("DENWA_LINE_HOURS_AFTER_HOURS", "support")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Only the line it names is left to refuse: there is no line "support".
    let hours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("line.hours"))
        .collect();
    assert_eq!(
        hours,
        ["  - line.hours.after_hours: \"support\" is not \"voicemail\" or the id of another line"],
        "{stderr}"
    );
}
