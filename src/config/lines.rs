//! `[[lines]]`: more lines in one deployment, beside the default line (`[line]`, numbered
//! `twilio.number`, announced in `slack.channel` / `discord.channel_id`).
//!
//! Each `[[lines]]` table is read by the very parser that reads `[line]` ([`Raw::line`]), on a
//! `Raw` of its own holding the default line's keys overlaid by the table's: so every key a
//! line has (and every key added to `[line]` later) is a `[[lines]]` key too, inherited unless
//! set, and its problems are named `lines[N].<key>`.

use std::collections::BTreeMap;

use denwa_chat::LineId;

use super::hours::AfterHours;
use super::line::LineSettings;
use super::reader::{Raw, Source};
use super::speech::LineSpeech;
use super::transcription::TranscriptionSettings;
use crate::domain::PhoneNumber;

/// One line: its own settings and where it lives (its number, its chat channels).
#[derive(Debug, Clone)]
pub struct LineConfig {
    pub settings: LineSettings,
    /// The number callers dial; shared with other lines only behind a menu.
    pub number: PhoneNumber,
    /// The Slack channel its calls are announced in (`slack.channel` unless set).
    pub slack_channel: Option<String>,
    /// The Discord channel its calls are announced in (`discord.channel_id` unless set).
    pub discord_channel: Option<String>,
    pub transcription: TranscriptionSettings,
    /// How it speaks: `[speech]`'s per-line keys, overridden by its `speech` table.
    pub speech: LineSpeech,
}

impl LineConfig {
    pub fn id(&self) -> &LineId {
        &self.settings.id
    }
}

/// Every line, the default line first. Never empty.
#[derive(Debug, Clone)]
pub struct Lines(Vec<LineConfig>);

/// At most this many lines: each is looked up by a walk of the list on every call.
pub const MAX_LINES: usize = 50;

impl Lines {
    /// The line of `[line]`: the one a call without a recorded line belongs to.
    pub fn default_line(&self) -> &LineConfig {
        &self.0[0]
    }

    pub fn all(&self) -> &[LineConfig] {
        &self.0
    }

    pub fn get(&self, id: &LineId) -> Option<&LineConfig> {
        self.0.iter().find(|l| l.id() == id)
    }

    /// The line `id`, or the default line for an id no longer configured (a call recorded
    /// before a line was removed).
    pub fn get_or_default(&self, id: Option<&LineId>) -> &LineConfig {
        id.and_then(|id| self.get(id))
            .unwrap_or_else(|| self.default_line())
    }

    /// The line that answers calls to `number`: the one with a menu where several share it.
    pub fn answering(&self, number: &str) -> Option<&LineConfig> {
        let mut sharing = self.0.iter().filter(|l| l.number.as_str() == number);
        let first = sharing.next()?;
        Some(
            std::iter::once(first)
                .chain(sharing)
                .find(|l| l.settings.menu.is_some())
                .unwrap_or(first),
        )
    }

    /// Each line's id and channel on one chat platform (`pick`), `home` where it has none.
    pub fn channels(
        &self,
        pick: impl Fn(&LineConfig) -> Option<&String>,
        home: &str,
    ) -> Vec<(LineId, String)> {
        self.0
            .iter()
            .map(|l| {
                (
                    l.id().clone(),
                    pick(l).map_or(home, |c| c.as_str()).to_owned(),
                )
            })
            .collect()
    }

    /// Every number of every line, each once, in the order the lines are listed.
    pub fn numbers(&self) -> Vec<&PhoneNumber> {
        let mut numbers: Vec<&PhoneNumber> = Vec::new();
        for line in &self.0 {
            if !numbers.contains(&&line.number) {
                numbers.push(&line.number);
            }
        }
        numbers
    }
}

/// The keys of `[line]`, `[transcription]` and `[speech]` as set (file and environment), before
/// the default line's parsers take them: what `[[lines]]` tables inherit.
pub(super) struct Inherited {
    line: Vec<(String, Source)>,
    transcription: Vec<(String, Source)>,
    speech: Vec<(String, Source)>,
}

/// A `[[lines]]` table read, before the lines are checked together.
pub(super) struct ExtraLine {
    config: LineConfig,
    /// Where its number came from: its own `number`, or `twilio.number` inherited.
    own_number: bool,
}

/// Keys of a `[[lines]]` table that `[line]` has not: where the line lives.
const PLACE_KEYS: &[&str] = &[
    "number",
    "slack_channel",
    "discord_channel",
    "transcription",
    "speech",
];

/// Keys of `[line]` a `[[lines]]` table does not inherit: its identity and its own menu.
const NOT_INHERITED: &[&str] = &["id", "menu"];

impl Raw {
    pub(super) fn inherited(&self) -> Inherited {
        let section = |name: &str| {
            self.values
                .iter()
                .filter(|((s, _), _)| s == name)
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .collect()
        };
        Inherited {
            line: section("line"),
            transcription: section("transcription"),
            speech: section("speech"),
        }
    }

    /// Reads every `[[lines]]` table. `twilio_number` is the default line's number, inherited
    /// by tables without a `number`.
    pub(super) fn extra_lines(
        &mut self,
        inherited: &Inherited,
        twilio_number: Option<&PhoneNumber>,
    ) -> Vec<ExtraLine> {
        let items = match self.take("lines", "") {
            None => return Vec::new(),
            Some(Source::File(toml::Value::Array(items))) => items,
            Some(_) => {
                self.problem("lines", "expected [[lines]] tables");
                return Vec::new();
            }
        };
        if items.len() + 1 > MAX_LINES {
            self.problem(
                "lines",
                format!("at most {} [[lines]] besides [line]", MAX_LINES - 1),
            );
            return Vec::new();
        }
        let mut lines = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("lines[{i}]");
            let Some(table) = item.as_table() else {
                self.problem(&at, "expected a table");
                continue;
            };
            if let Some(line) = self.extra_line(&at, table, inherited, twilio_number) {
                lines.push(line);
            }
        }
        lines
    }

    fn extra_line(
        &mut self,
        at: &str,
        table: &toml::Table,
        inherited: &Inherited,
        twilio_number: Option<&PhoneNumber>,
    ) -> Option<ExtraLine> {
        if !table.contains_key("id") {
            self.problem(
                format!("{at}.id"),
                "is required: the line's short id, e.g. \"billing\"",
            );
        }
        // A line that sets its greeting either way replaces the default's, whichever way that
        // was set (setting both is a mistake only within one table).
        let own_greeting = table.contains_key("greeting") || table.contains_key("greeting_url");
        let own: toml::Table = table
            .iter()
            .filter(|(k, _)| !PLACE_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut line = Raw::overlaid(
            "line",
            inherited.line.iter().filter(|(key, _)| {
                let inheritable = !NOT_INHERITED.contains(&key.as_str());
                let replaced = own_greeting && (key == "greeting" || key == "greeting_url");
                inheritable && !replaced
            }),
            &own,
        );

        let text = |key: &str| table.get(key).map(|v| v.as_str().map(str::trim));
        let number = match text("number") {
            None => twilio_number.cloned(),
            Some(Some(n)) => match PhoneNumber::parse(n) {
                Ok(n) => Some(n),
                Err(e) => {
                    self.problem(format!("{at}.number"), e.to_string());
                    None
                }
            },
            Some(None) => {
                self.problem(format!("{at}.number"), "expected a string (E.164)");
                None
            }
        };
        let mut channel = |key: &str| match text(key) {
            None => None,
            Some(Some(c)) if !c.is_empty() => Some(c.to_owned()),
            Some(_) => {
                self.problem(format!("{at}.{key}"), "expected a channel id");
                None
            }
        };
        let slack_channel = channel("slack_channel");
        let discord_channel = channel("discord_channel");

        let settings = line.line(number.as_ref());
        self.adopt(line, "line", &own, at);

        let speech = self.line_own_speech(at, table, inherited);
        // What the line hears in is what it speaks in, unless `transcription.language` says.
        let speech_language = speech.as_ref().and_then(|s| s.language.as_deref());
        let transcription = self.line_transcription(at, table, inherited, speech_language);
        Some(ExtraLine {
            config: LineConfig {
                settings: settings?,
                number: number?,
                slack_channel,
                discord_channel,
                transcription: transcription?,
                speech: speech?,
            },
            own_number: table.contains_key("number"),
        })
    }

    /// `lines[N].speech`: a table of `[speech]`'s per-line keys ([`LineSpeech`]) overriding
    /// the defaults; `[speech]`'s other keys are the process's, and unknown here.
    fn line_own_speech(
        &mut self,
        at: &str,
        table: &toml::Table,
        inherited: &Inherited,
    ) -> Option<LineSpeech> {
        let own = self.own_table(at, table, "speech", "{ voice = \"Polly.Mizuki\" }");
        let mut raw = Raw::overlaid("speech", inherited.speech.iter(), &own);
        let settings = raw.line_speech();
        self.adopt(raw, "speech", &own, &format!("{at}.speech"));
        settings
    }

    /// The table `name` of `[[lines]]` table `at`, empty when unset.
    fn own_table(&mut self, at: &str, table: &toml::Table, name: &str, e_g: &str) -> toml::Table {
        match table.get(name) {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t.clone(),
            Some(_) => {
                self.problem(
                    format!("{at}.{name}"),
                    format!("expected a table of [{name}] keys, e.g. {e_g}"),
                );
                toml::Table::new()
            }
        }
    }

    /// `lines[N].transcription`: a table of `[transcription]` keys overriding the defaults.
    /// `speech_language` is the line's `speech.language`, the default for its
    /// `transcription.language`.
    fn line_transcription(
        &mut self,
        at: &str,
        table: &toml::Table,
        inherited: &Inherited,
        speech_language: Option<&str>,
    ) -> Option<TranscriptionSettings> {
        let own = self.own_table(at, table, "transcription", "{ enabled = true }");
        let mut raw = Raw::overlaid("transcription", inherited.transcription.iter(), &own);
        let settings = raw.transcription(speech_language);
        self.adopt(raw, "transcription", &own, &format!("{at}.transcription"));
        settings
    }

    /// A `Raw` of `section` alone: the `inherited` keys, overlaid by `own`'s.
    fn overlaid<'a>(
        section: &str,
        inherited: impl Iterator<Item = &'a (String, Source)>,
        own: &toml::Table,
    ) -> Raw {
        let mut raw = Raw::default();
        for (key, value) in inherited {
            raw.values
                .insert((section.into(), key.clone()), value.clone());
        }
        for (key, value) in own {
            raw.values
                .insert((section.into(), key.clone()), Source::File(value.clone()));
        }
        raw
    }

    /// Takes the problems of `other` (an [`Raw::overlaid`] `section`, read) as this `Raw`'s,
    /// renamed from `section.` to `to.`, with "unknown key" for each of `own`'s keys left unread
    /// (an inherited key was read, or reported, where it was written).
    fn adopt(&mut self, mut other: Raw, section: &str, own: &toml::Table, to: &str) {
        let unread: Vec<String> = std::mem::take(&mut other.values)
            .into_keys()
            .map(|(_, key)| key)
            .filter(|key| own.contains_key(key))
            .collect();
        for key in unread {
            other.problem(format!("{section}.{key}"), "unknown key");
        }
        let from = format!("{section}.");
        for mut problem in other.problems {
            if let Some(rest) = problem.key.strip_prefix(&from) {
                problem.key = [to, ".", rest].concat();
            }
            self.problems.push(problem);
        }
    }

    /// All the lines, checked together: ids unique, a number shared only behind a menu, menus
    /// naming lines that share their number, channels only for configured chats.
    pub(super) fn lines(
        &mut self,
        default: LineConfig,
        extra: Vec<ExtraLine>,
        slack_on: bool,
        discord_on: bool,
    ) -> Option<Lines> {
        let mut names: Vec<String> = vec!["line".into()];
        let mut all = vec![default];
        let mut own_number = vec![false];
        for (i, line) in extra.into_iter().enumerate() {
            names.push(format!("lines[{i}]"));
            all.push(line.config);
            own_number.push(line.own_number);
        }
        let mut ok = true;
        for (i, line) in all.iter().enumerate() {
            let at = &names[i];
            if let Some(j) = all[..i].iter().position(|l| l.id() == line.id()) {
                self.problem(
                    format!("{at}.id"),
                    format!("{:?} is already the id of {}", line.id().as_str(), names[j]),
                );
                ok = false;
            }
            if line.slack_channel.is_some() && !slack_on {
                self.problem(format!("{at}.slack_channel"), "[slack] is not configured");
                ok = false;
            }
            if line.discord_channel.is_some() && !discord_on {
                self.problem(
                    format!("{at}.discord_channel"),
                    "[discord] is not configured",
                );
                ok = false;
            }
        }
        // Lines sharing a number: exactly one of them offers the menu that routes to the others.
        let mut by_number: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, line) in all.iter().enumerate() {
            by_number.entry(line.number.as_str()).or_default().push(i);
        }
        for sharing in by_number.values().filter(|s| s.len() > 1) {
            let menus = sharing
                .iter()
                .filter(|&&i| all[i].settings.menu.is_some())
                .count();
            if menus != 1 {
                // Named where the number was written: a table without one inherited it.
                let i = sharing[1..]
                    .iter()
                    .copied()
                    .find(|&i| own_number[i])
                    .unwrap_or(sharing[1]);
                self.problem(
                    format!("{}.number", names[i]),
                    format!(
                        "{} is also the number of {}: lines share a number only when exactly one of them has a menu",
                        all[i].number,
                        names[sharing[0]]
                    ),
                );
                ok = false;
            }
        }
        for (i, line) in all.iter().enumerate() {
            let Some(menu) = &line.settings.menu else {
                continue;
            };
            let menu_at = format!("{}.menu", names[i]);
            let targets = std::iter::once(("default".to_owned(), &menu.default)).chain(
                menu.choices
                    .iter()
                    .map(|(key, id)| (format!("choices.{key}"), id)),
            );
            for (key, id) in targets {
                let problem = match all.iter().find(|l| l.id() == id) {
                    None => Some(format!("there is no line {:?}", id.as_str())),
                    Some(target) if target.id() == line.id() => {
                        Some("a menu routes to other lines, not its own".into())
                    }
                    Some(target) if target.number != line.number => Some(format!(
                        "line {:?} has another number: a menu's lines share its number",
                        id.as_str()
                    )),
                    Some(_) => None,
                };
                if let Some(problem) = problem {
                    self.problem(format!("{menu_at}.{key}"), problem);
                    ok = false;
                }
            }
        }
        // `after_hours` naming a line: one there is, and not itself.
        for (i, line) in all.iter().enumerate() {
            let Some(AfterHours::Line(id)) = line.settings.hours.as_ref().map(|h| &h.after_hours)
            else {
                continue;
            };
            let problem = if id == line.id() {
                Some("a line passes its after-hours calls to another line, not itself".to_owned())
            } else if !all.iter().any(|l| l.id() == id) {
                Some(format!(
                    "{:?} is not \"voicemail\" or the id of another line",
                    id.as_str()
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                self.problem(format!("{}.hours.after_hours", names[i]), problem);
                ok = false;
            }
        }
        ok.then_some(Lines(all))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;

    const BASE: &str = r#"
[server]
public_url = "https://denwa.example.com"
[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
number = "+14155550100"
[line]
name = "Support"
greeting = "Hello from support."
ring = "in-order"
[[line.responders]]
name = "Alice"
phone = "+14155550101"
"#;

    fn env() -> Vec<(String, String)> {
        [("DENWA_TWILIO_AUTH_TOKEN", "t"), ("DENWA_API_TOKEN", "a")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(extra: &str) -> Result<Settings, Vec<String>> {
        Settings::from_sources(Some(&format!("{BASE}{extra}")), "config.toml", &env())
            .map_err(|e| e.0.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn one_line_is_the_default_line() {
        let s = load("").unwrap();
        assert_eq!(s.lines.all().len(), 1);
        let line = s.lines.default_line();
        assert_eq!(line.id().as_str(), "default");
        assert_eq!(line.number.as_str(), "+14155550100");
        assert_eq!(line.settings.name, "Support");
        assert!(s.lines.answering("+14155550100").is_some());
        assert!(s.lines.answering("+14155550199").is_none());
    }

    #[test]
    fn a_line_inherits_what_it_does_not_set() {
        let s = load(
            r#"
[[lines]]
id = "billing"
name = "Billing"
number = "+14155550200"
greeting_url = "https://example.com/billing.mp3"
[[lines.responders]]
name = "Bob"
phone = "+14155550102"
[lines.transcription]
enabled = true
language = "ja-JP"
"#,
        )
        .unwrap();
        let billing = s.lines.all()[1].clone();
        assert_eq!(billing.id().as_str(), "billing");
        assert_eq!(billing.settings.name, "Billing");
        assert!(matches!(
            billing.settings.greeting,
            super::super::Greeting::Play(_)
        ));
        assert_eq!(billing.settings.ring, super::super::RingMode::InOrder);
        assert_eq!(billing.settings.responders.len(), 1);
        assert_eq!(billing.settings.responders[0].name, "Bob");
        assert!(billing.transcription.enabled);
        assert_eq!(billing.transcription.language, "ja-JP");
        assert!(!s.lines.default_line().transcription.enabled);
        assert_eq!(
            s.lines.answering("+14155550200").unwrap().id().as_str(),
            "billing"
        );
        assert_eq!(s.lines.numbers().len(), 2);
    }

    #[test]
    fn problems_name_the_line_and_key() {
        let p = load(
            r#"
[[lines]]
id = "Bad Id"
number = "555"
ring = "sometimes"
colour = "blue"
[[lines]]
id = "sales"
number = "+14155550100"
[lines.transcription]
engine = "whisper"
"#,
        )
        .unwrap_err();
        for key in [
            "lines[0].id:",
            "lines[0].number:",
            "lines[0].ring:",
            "lines[0].colour: unknown key",
            "lines[1].transcription.engine:",
        ] {
            assert!(
                p.iter().any(|m| m.starts_with(key)),
                "{key} missing from {p:#?}"
            );
        }
        // Lines are checked together once each reads well.
        let p = load(
            "[[lines]]\nid = \"sales\"\n[[lines]]\nid = \"sales\"\nnumber = \"+14155550300\"\n",
        )
        .unwrap_err();
        for key in [
            "lines[0].number: +14155550100 is also the number of line",
            "lines[1].id: \"sales\" is already the id of lines[0]",
        ] {
            assert!(
                p.iter().any(|m| m.starts_with(key)),
                "{key} missing from {p:#?}"
            );
        }
    }

    #[test]
    fn a_line_speaks_its_own_way_and_inherits_the_rest_of_speech() {
        use super::super::SpeechStrategy;
        let s = load(
            r#"
[speech]
voice = "Polly.Joanna"
language = "en-US"
strategy = "announce"
[transcription]
enabled = true
[[lines]]
id = "tokyo"
number = "+14155550200"
status_check_after = 30
[lines.speech]
voice = "Polly.Mizuki"
language = "ja-JP"
[[lines]]
id = "plain"
number = "+14155550300"
[lines.speech]
strategy = "self-dial"
"#,
        )
        .unwrap();
        let [default, tokyo, plain] = s.lines.all() else {
            panic!("three lines")
        };
        assert_eq!(default.speech, s.speech.line);
        assert_eq!(default.speech.voice.as_deref(), Some("Polly.Joanna"));
        assert_eq!(tokyo.speech.voice.as_deref(), Some("Polly.Mizuki"));
        assert_eq!(tokyo.speech.language.as_deref(), Some("ja-JP"));
        assert_eq!(tokyo.speech.strategy, SpeechStrategy::Announce);
        // The line hears in the language it speaks, unless `transcription.language` says.
        assert_eq!(tokyo.transcription.language, "ja-JP");
        assert_eq!(default.transcription.language, "en-US");
        assert_eq!(plain.speech.voice.as_deref(), Some("Polly.Joanna"));
        assert_eq!(plain.speech.strategy, SpeechStrategy::SelfDial);
        assert_eq!(tokyo.settings.status_check_after.as_secs(), 30);
        assert_eq!(plain.settings.status_check_after.as_secs(), 60);

        let p = load(
            r#"
[[lines]]
id = "tokyo"
number = "+14155550200"
[lines.speech]
voice = "Polly Mizuki"
language = "ja_JP"
strategy = "shout"
max_queued = 5
[[lines]]
id = "osaka"
number = "+14155550300"
speech = "Polly.Mizuki"
"#,
        )
        .unwrap_err();
        for key in [
            "lines[0].speech.voice: \"Polly Mizuki\" is not a Twilio voice name",
            "lines[0].speech.language: \"ja_JP\" is not a BCP-47 language code",
            "lines[0].speech.strategy: \"shout\" is not one of",
            // The process's limits are `[speech]`'s alone.
            "lines[0].speech.max_queued: unknown key",
            "lines[1].speech: expected a table of [speech] keys",
        ] {
            assert!(
                p.iter().any(|m| m.starts_with(key)),
                "{key} missing from {p:#?}"
            );
        }
    }

    #[test]
    fn a_menu_shares_its_number_with_the_lines_it_routes_to() {
        let menu = r#"
[line.menu]
prompt = "For billing press 1, for sales press 2."
default = "sales"
choices = { 1 = "billing", 2 = "sales" }
[[lines]]
id = "billing"
name = "Billing"
[[lines]]
id = "sales"
name = "Sales"
"#;
        let s = load(menu).unwrap();
        let front = s.lines.answering("+14155550100").unwrap();
        assert_eq!(front.id().as_str(), "default");
        let m = front.settings.menu.as_ref().unwrap();
        assert_eq!(m.choice("1").unwrap().as_str(), "billing");
        assert_eq!(m.choice("3"), None);
        assert_eq!((m.timeout, m.attempts), (5, 2));
        // The tables do not inherit the menu.
        assert!(s.lines.all()[1].settings.menu.is_none());

        let p = load(&menu.replace("2 = \"sales\"", "2 = \"nobody\", x = \"sales\"")).unwrap_err();
        assert!(
            p.iter()
                .any(|m| m.starts_with("line.menu.choices.2: there is no line \"nobody\"")),
            "{p:#?}"
        );
        assert!(
            p.iter().any(|m| m.starts_with("line.menu.choices.x:")),
            "{p:#?}"
        );
        let p = load(&menu.replace(
            "name = \"Sales\"",
            "name = \"Sales\"\nnumber = \"+14155550300\"",
        ))
        .unwrap_err();
        assert!(
            p.iter()
                .any(|m| m.starts_with("line.menu.choices.2: line \"sales\" has another number")),
            "{p:#?}"
        );
    }
}
