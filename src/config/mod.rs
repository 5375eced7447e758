//! Settings: `config.toml` plus `DENWA_<SECTION>_<KEY>` environment overrides, loaded once.
//!
//! Loading never stops at the first mistake: every problem is collected with the key it concerns,
//! so `denwa check` can list them all and `denwa serve` can refuse to start with the same list.
//! Secrets (tokens) are accepted only from the environment and kept in `SecretString`, which
//! does not print.
//!
//! Each section is read and checked in its own file ([`server`], [`redis`], ...) by a reader
//! ([`reader`]) that records problems rather than stopping; the chat sections are read straight
//! into the bridges' own configuration types, so a key is added in one place.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use denwa_discord::DiscordConfig;
use denwa_slack::SlackConfig;

mod api;
mod discord;
mod escalation;
mod hours;
mod line;
mod lines;
mod menu;
mod reader;
mod redis;
mod schedule;
mod server;
mod slack;
mod speech;
mod transcription;
mod twilio;

pub use api::ApiSettings;
pub use escalation::{Escalation, EscalationLevel};
pub use hours::{AfterHours, HoursSettings};
pub use line::{Greeting, LineSettings, Responder, RingCallerId, RingMode};
pub use lines::{LineConfig, Lines, MAX_LINES};
pub use menu::MenuSettings;
pub use redis::{CaCertificates, RedisSettings, RedisTarget};
pub use schedule::{ScheduleSettings, ScheduleSource};
pub use server::ServerSettings;
pub use speech::{LineSpeech, SpeechSettings, SpeechStrategy};
pub use transcription::{DEFAULT_NOTICE, TranscriptionEngine, TranscriptionSettings};
pub use twilio::TwilioSettings;

use reader::{Raw, Source};

/// Sections the file may contain, in the order the example documents them.
const SECTIONS: &[&str] = &[
    "server",
    "redis",
    "twilio",
    "speech",
    "line",
    "transcription",
    "api",
    "slack",
    "discord",
];

/// Keys that hold secrets: never read from the file, only from the environment.
const SECRET_KEYS: &[(&str, &str)] = &[
    ("twilio", "auth_token"),
    ("twilio", "previous_auth_token"),
    ("api", "token"),
    ("slack", "bot_token"),
    ("slack", "signing_secret"),
    ("slack", "previous_signing_secret"),
    ("discord", "bot_token"),
];

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub redis: RedisSettings,
    pub twilio: TwilioSettings,
    pub speech: SpeechSettings,
    /// The default line's (`[line]`); also `lines.default_line().settings`.
    pub line: LineSettings,
    /// Every line, the default first: `[line]`, then each `[[lines]]`.
    pub lines: Lines,
    pub transcription: TranscriptionSettings,
    pub api: ApiSettings,
    /// Present when `slack.channel` is set.
    pub slack: Option<SlackConfig>,
    /// Present when `discord.application_id` is set.
    pub discord: Option<DiscordConfig>,
}

/// One thing wrong with the configuration, naming the key (`section.key`) it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found while loading, in the order the keys were read.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Problem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl Settings {
    /// Loads `path` (which may be absent only if `file_optional`) and the process environment.
    pub fn load(path: &Path, file_optional: bool) -> Result<Settings, ConfigErrors> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file_optional => None,
            Err(e) => {
                return Err(ConfigErrors(vec![Problem {
                    key: path.display().to_string(),
                    message: format!("cannot read the configuration file: {e}"),
                }]));
            }
        };
        Self::from_sources(text.as_deref(), &path.display().to_string(), &env)
    }

    /// Builds settings from a file's text and environment pairs; the testable core of [`load`].
    pub fn from_sources(
        file_text: Option<&str>,
        file_name: &str,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigErrors> {
        let mut raw = Raw {
            values: BTreeMap::new(),
            problems: Vec::new(),
        };
        if let Some(text) = file_text {
            raw.read_file(text, file_name);
        }
        raw.read_env(env);
        let settings = raw.settings();
        match (settings, raw.problems.is_empty()) {
            (Some(s), true) => Ok(s),
            _ => Err(ConfigErrors(raw.problems)),
        }
    }
}

impl Raw {
    fn settings(&mut self) -> Option<Settings> {
        // Every section is read (and so checked) before any is required to be valid.
        let server = self.server();
        let redis = self.redis();
        let twilio = self.twilio();
        // Before the default line's parsers take the keys the other lines inherit.
        let inherited = self.inherited();
        let speech = self.speech();
        let number = twilio.as_ref().map(|t| &t.number);
        let line = self.line(number);
        let speech_language = speech.as_ref().and_then(|s| s.line.language.as_deref());
        let transcription = self.transcription(speech_language);
        let extra_lines = self.extra_lines(&inherited, number);
        let api = self.api();
        let mut slack = self.slack();
        let mut discord = self.discord();
        let lines = match (&line, number, &transcription, &speech, &slack, &discord) {
            (
                Some(line),
                Some(number),
                Some(transcription),
                Some(speech),
                Some(slack),
                Some(discord),
            ) => {
                let default = LineConfig {
                    settings: line.clone(),
                    number: number.clone(),
                    slack_channel: slack.as_ref().map(|s| s.channel.clone()),
                    discord_channel: discord.as_ref().map(|d| d.channel_id.clone()),
                    transcription: transcription.clone(),
                    speech: speech.line.clone(),
                };
                self.lines(default, extra_lines, slack.is_some(), discord.is_some())
            }
            _ => None,
        };
        // Each bridge announces a line's calls in that line's channel.
        if let Some(lines) = &lines {
            if let Some(Some(slack)) = &mut slack {
                slack.line_channels = lines.channels(|l| l.slack_channel.as_ref(), &slack.channel);
            }
            if let Some(Some(discord)) = &mut discord {
                discord.line_channels =
                    lines.channels(|l| l.discord_channel.as_ref(), &discord.channel_id);
            }
        }

        // Whatever is left was never asked for: most likely a typo.
        let leftovers: Vec<_> = std::mem::take(&mut self.values).into_iter().collect();
        for ((section, key), source) in leftovers {
            let origin = match source {
                Source::Env(name, _) => format!(" (from {name})"),
                Source::File(_) => String::new(),
            };
            self.problem(format!("{section}.{key}"), format!("unknown key{origin}"));
        }

        Some(Settings {
            server: server?,
            redis: redis?,
            twilio: twilio?,
            speech: speech?,
            line: line?,
            lines: lines?,
            transcription: transcription?,
            api: api?,
            slack: slack?,
            discord: discord?,
        })
    }
}

/// `DENWA_<SECTION>_<KEY>`, the environment variable that sets `section.key`.
pub fn env_name(section: &str, key: &str) -> String {
    format!(
        "DENWA_{}_{}",
        section.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8080"
public_url = "https://denwa.example.com"
[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
number = "+14155550100"
"#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn secrets() -> Vec<(String, String)> {
        env(&[
            ("DENWA_TWILIO_AUTH_TOKEN", "t0ken"),
            ("DENWA_API_TOKEN", "api"),
        ])
    }

    fn problems(file: Option<&str>, env: &[(String, String)]) -> Vec<String> {
        Settings::from_sources(file, "config.toml", env)
            .err()
            .map(|e| e.0.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn loads_a_good_file_with_defaults() {
        let s = Settings::from_sources(Some(GOOD), "config.toml", &secrets()).unwrap();
        assert_eq!(s.twilio.number.as_str(), "+14155550100");
        assert_eq!(s.twilio.api_base.as_str(), "https://api.twilio.com/");
        assert_eq!(s.speech.line.strategy, SpeechStrategy::SelfDial);
        assert_eq!(s.redis.key_prefix, "denwa");
        assert_eq!(s.server.max_connections, 1024);
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut e = secrets();
        e.extend(env(&[
            ("DENWA_TWILIO_NUMBER", "+819012345678"),
            ("DENWA_SPEECH_MAX_ATTEMPTS", "5"),
            ("DENWA_SERVER_MAX_CONNECTIONS", "16"),
        ]));
        let s = Settings::from_sources(Some(GOOD), "config.toml", &e).unwrap();
        assert_eq!(s.twilio.number.as_str(), "+819012345678");
        assert_eq!(s.speech.max_attempts, 5);
        assert_eq!(s.server.max_connections, 16);
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let file = r#"
[server]
public_url = "not a url"
max_connections = 0
[twilio]
account_sid = "nope"
number = "0312345678"
auth_token = "in the file"
[speech]
strategy = "shout"
max_attempts = "many"
[line]
greting = "typo"
"#;
        let p = problems(Some(file), &[]);
        for key in [
            "server.public_url",
            "server.max_connections",
            "twilio.account_sid",
            "twilio.number",
            "twilio.auth_token",
            "speech.strategy",
            "speech.max_attempts",
            "line.greting",
            "api.token",
        ] {
            assert!(
                p.iter().any(|m| m.starts_with(&format!("{key}:"))),
                "{key} missing from {p:#?}"
            );
        }
        assert!(
            p.iter().any(|m| m.contains("DENWA_TWILIO_AUTH_TOKEN")),
            "{p:#?}"
        );
    }

    #[test]
    fn speech_limits_have_defaults_and_ranges() {
        let s = Settings::from_sources(Some(GOOD), "config.toml", &secrets()).unwrap();
        assert_eq!((s.speech.max_queued, s.speech.max_per_minute), (100, 60));

        let with = |queued: &str, per_minute: &str| {
            let mut e = secrets();
            e.extend(env(&[
                ("DENWA_SPEECH_MAX_QUEUED", queued),
                ("DENWA_SPEECH_MAX_PER_MINUTE", per_minute),
            ]));
            e
        };
        let s = Settings::from_sources(Some(GOOD), "config.toml", &with("1", "10000")).unwrap();
        assert_eq!((s.speech.max_queued, s.speech.max_per_minute), (1, 10_000));
        let s = Settings::from_sources(Some(GOOD), "config.toml", &with("10000", "1")).unwrap();
        assert_eq!((s.speech.max_queued, s.speech.max_per_minute), (10_000, 1));

        for (queued, per_minute) in [("0", "0"), ("10001", "10001"), ("-1", "lots")] {
            let p = problems(Some(GOOD), &with(queued, per_minute));
            for key in ["speech.max_queued", "speech.max_per_minute"] {
                assert!(
                    p.contains(&format!("{key}: must be a whole number from 1 to 10000")),
                    "{key} with {queued}/{per_minute}: {p:#?}"
                );
            }
        }
        let file = format!("{GOOD}\n[speech]\nmax_queued = 0\nmax_per_minute = \"60\"\n");
        let p = problems(Some(&file), &secrets());
        assert!(
            p.contains(&"speech.max_queued: must be a whole number from 1 to 10000".to_owned()),
            "{p:#?}"
        );
        assert!(
            p.contains(&"speech.max_per_minute: expected an integer, found string".to_owned()),
            "{p:#?}"
        );
    }

    #[test]
    fn the_status_check_period_defaults_within_the_two_minute_promise_and_is_bounded() {
        let s = Settings::from_sources(Some(GOOD), "config.toml", &secrets()).unwrap();
        assert_eq!(s.line.status_check_after, Duration::from_secs(60));
        for bad in ["0", "101"] {
            let mut e = secrets();
            e.extend(env(&[("DENWA_LINE_STATUS_CHECK_AFTER", bad)]));
            let p = problems(Some(GOOD), &e);
            assert!(
                p.iter().any(|m| m.starts_with("line.status_check_after:")),
                "{bad}: {p:#?}"
            );
        }
    }

    #[test]
    fn transcription_is_off_by_default_and_follows_the_speech_language() {
        let s = Settings::from_sources(Some(GOOD), "config.toml", &secrets()).unwrap();
        assert!(!s.transcription.enabled);
        assert_eq!(s.transcription.language, "en-US");
        assert_eq!(s.transcription.engine, None);
        assert_eq!(s.transcription.notice.as_deref(), Some(DEFAULT_NOTICE));

        let file = format!("{GOOD}\n[speech]\nlanguage = \"ja-JP\"\n");
        let mut e = secrets();
        e.extend(env(&[
            ("DENWA_TRANSCRIPTION_ENABLED", "true"),
            ("DENWA_TRANSCRIPTION_ENGINE", "deepgram"),
            ("DENWA_TRANSCRIPTION_NOTICE", ""),
        ]));
        let s = Settings::from_sources(Some(&file), "config.toml", &e).unwrap();
        assert!(s.transcription.enabled);
        assert_eq!(s.transcription.language, "ja-JP");
        assert_eq!(s.transcription.engine, Some(TranscriptionEngine::Deepgram));
        assert_eq!(s.transcription.notice, None);

        let file = format!(
            "{GOOD}\n[transcription]\nenabled = \"yes\"\nlanguage = \"en_US\"\nengine = \"whisper\"\nnotice = \"{}\"\n",
            "x".repeat(1001)
        );
        let p = problems(Some(&file), &secrets());
        for key in [
            "transcription.enabled",
            "transcription.language",
            "transcription.engine",
            "transcription.notice",
        ] {
            assert!(
                p.iter().any(|m| m.starts_with(&format!("{key}:"))),
                "{key} missing from {p:#?}"
            );
        }
    }

    #[test]
    fn a_line_schedule_and_hours_have_defaults_and_take_the_environment() {
        let file = format!(
            "{GOOD}\n[[line.responders]]\nname = \"Alice\"\nphone = \"+14155550101\"\n\
email = \"alice@example.com\"\n[line.schedule]\nurl = \"https://cal.example.com/a.ics\"\n\
[line.hours]\ntimezone = \"Asia/Tokyo\"\nmonday = \"09:00-17:00\"\n"
        );
        let s = Settings::from_sources(Some(&file), "config.toml", &secrets()).unwrap();
        let schedule = s.line.schedule.unwrap();
        assert_eq!(schedule.refresh, Duration::from_secs(300));
        assert_eq!(schedule.line_id, "default");
        assert!(schedule.fallback.is_empty());
        assert_eq!(
            s.line.responders[0].email.as_deref(),
            Some("alice@example.com")
        );
        let hours = s.line.hours.unwrap();
        assert_eq!(hours.after_hours, AfterHours::Voicemail);
        assert_eq!(hours.hours.timezone(), chrono_tz::Asia::Tokyo);

        let mut e = secrets();
        e.extend(env(&[
            ("DENWA_LINE_SCHEDULE_FILE", "/etc/denwa/oncall.ics"),
            ("DENWA_LINE_SCHEDULE_URL", ""),
            ("DENWA_LINE_SCHEDULE_REFRESH", "60"),
            ("DENWA_LINE_SCHEDULE_FALLBACK", "Alice"),
            ("DENWA_LINE_HOURS_TIMEZONE", "Europe/London"),
        ]));
        // An empty URL from the environment unsets the file's, so the file source is used.
        let s = Settings::from_sources(Some(&file), "config.toml", &e).unwrap();
        let schedule = s.line.schedule.unwrap();
        assert_eq!(
            schedule.source,
            ScheduleSource::File("/etc/denwa/oncall.ics".into())
        );
        assert_eq!(schedule.refresh, Duration::from_secs(60));
        assert_eq!(schedule.fallback, ["Alice"]);
        assert_eq!(
            s.line.hours.unwrap().hours.timezone(),
            chrono_tz::Europe::London
        );
    }

    #[test]
    fn bad_toml_is_reported_not_panicked() {
        let p = problems(Some("[server\nlisten = "), &secrets());
        assert!(p[0].starts_with("config.toml: not valid TOML"), "{p:?}");
    }

    #[test]
    fn missing_required_keys_name_their_env_var() {
        let p = problems(None, &[]);
        assert!(
            p.iter()
                .any(|m| m.starts_with("server.public_url: is required")),
            "{p:#?}"
        );
        assert!(
            p.iter().any(|m| m.contains("set DENWA_API_TOKEN")),
            "{p:#?}"
        );
    }

    #[test]
    fn chat_sections_are_optional_and_checked_when_present() {
        let s = Settings::from_sources(Some(GOOD), "config.toml", &secrets()).unwrap();
        assert!(s.slack.is_none() && s.discord.is_none());

        let mut e = secrets();
        e.extend(env(&[
            ("DENWA_SLACK_CHANNEL", "C0123"),
            ("DENWA_SLACK_BOT_TOKEN", "xoxb-1"),
            ("DENWA_SLACK_SIGNING_SECRET", "s"),
            ("DENWA_SLACK_ALLOWED_USERS", "U1, U2"),
        ]));
        let s = Settings::from_sources(Some(GOOD), "config.toml", &e).unwrap();
        let slack = s.slack.unwrap();
        assert_eq!(slack.allowed_users, vec!["U1", "U2"]);
        assert_eq!(slack.api_base.as_str(), "https://slack.com/api");

        let file =
            format!("{GOOD}\n[slack]\nchannel = \"#general\"\n[discord]\nguild_id = \"1\"\n");
        let p = problems(Some(&file), &secrets());
        for key in [
            "slack.channel",
            "slack.bot_token",
            "slack.signing_secret",
            "discord.application_id",
        ] {
            assert!(
                p.iter().any(|m| m.starts_with(&format!("{key}:"))),
                "{key} missing from {p:#?}"
            );
        }
        assert!(!p.iter().any(|m| m.contains("unknown key")), "{p:#?}");
    }

    #[test]
    fn responders_are_read_and_checked() {
        let file = format!(
            "{GOOD}\n[line]\nring = \"in-order\"\nvoicemail_after = 0\n[[line.responders]]\nname = \"Alice\"\nphone = \"+14155550101\"\nslack_user = \"U1\"\n[[line.responders]]\nname = \"Bob\"\nphone = \"555\"\n"
        );
        let p = problems(Some(&file), &secrets());
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(p[0].starts_with("line.responders[1].phone:"), "{p:#?}");
        let file = file.replace("\"555\"", "\"+14155550102\"");
        let s = Settings::from_sources(Some(&file), "config.toml", &secrets()).unwrap();
        assert_eq!(s.line.responders.len(), 2);
        assert_eq!(s.line.responders[0].slack_user.as_deref(), Some("U1"));
        assert_eq!(s.line.ring, RingMode::InOrder);
        assert_eq!(s.line.voicemail_after, None);
        assert!(s.line.responders_muted);
    }

    #[test]
    fn dial_guards_are_checked_with_their_keys() {
        let file = format!(
            "{GOOD}\n[line]\ndial_countries = [\"US\", \"Atlantis\"]\nblocked_callers = [\"+1900\", \"900\"]\n[[line.responders]]\nname = \"Premium\"\nphone = \"+19005550123\"\n"
        );
        let p = problems(Some(&file), &secrets());
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(
            p.iter()
                .any(|m| m.starts_with("line.dial_countries: \"Atlantis\"")),
            "{p:#?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("line.blocked_callers: \"900\"")),
            "{p:#?}"
        );
        assert!(
            p.iter().any(|m| m
                .starts_with("line.responders[0].phone: +19005550123 is a premium-rate number")),
            "{p:#?}"
        );
        // A responder abroad needs their country listed; the default is the line's own.
        let abroad =
            format!("{GOOD}\n[[line.responders]]\nname = \"Kenji\"\nphone = \"+819012345678\"\n");
        let p = problems(Some(&abroad), &secrets());
        assert!(
            p[0].starts_with("line.responders[0].phone: +819012345678 is in JP"),
            "{p:#?}"
        );
        let env = [secrets(), env(&[("DENWA_LINE_DIAL_COUNTRIES", "US, JP")])].concat();
        assert!(problems(Some(&abroad), &env).is_empty());
        // The speaker calls in from the line's own number: it cannot be blocked.
        let own = format!("{GOOD}\n[line]\nblocked_callers = [\"+1415\"]\n");
        let p = problems(Some(&own), &secrets());
        assert!(
            p[0].starts_with("line.blocked_callers: blocks the line's own number"),
            "{p:#?}"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Settings::from_sources(Some(GOOD), "config.toml", &secrets()).unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("t0ken"), "{debug}");
    }
}
