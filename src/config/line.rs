//! `[line]` and `[[line.responders]]`: what callers hear, and who answers.

use std::time::Duration;

use url::Url;

use super::hours::HoursSettings;
use super::menu::MenuSettings;
use super::reader::{Raw, Source};
use super::schedule::ScheduleSettings;
use crate::domain::{BlockedCallers, DialPolicy, LineId, PhoneNumber};

#[derive(Debug, Clone)]
pub enum Greeting {
    Say(String),
    Play(Url),
}

#[derive(Debug, Clone)]
pub struct LineSettings {
    /// The line's short id (`line.id`, default `default`; `lines[].id`): what the API, chat and
    /// the store call it.
    pub id: LineId,
    pub name: String,
    pub greeting: Greeting,
    /// What the caller hears while alone in the conference; `None` = Twilio's default hold
    /// music, `Some("")`-like silence is written as an empty URL.
    pub hold_music_url: Option<String>,
    /// Said to a caller when denwa cannot take the call (its store is unreachable).
    pub unavailable_message: String,
    /// The people who answer the line.
    pub responders: Vec<Responder>,
    pub ring: RingMode,
    /// Seconds each responder's phone rings.
    pub ring_timeout: u32,
    /// Responders join listen-only (they reply from chat), as in the original hack.
    pub responders_muted: bool,
    /// Caller ID shown to responders: the line's number (default) or the caller's.
    pub ring_caller_id: RingCallerId,
    pub announce_joins: bool,
    pub announce_leaves: bool,
    /// Ask callers to say their name, and play it when announcing them.
    pub record_names: bool,
    /// Seconds without an accepting responder or a chat reply before the caller is offered
    /// voicemail; `None` = never.
    pub voicemail_after: Option<Duration>,
    /// How long Twilio may say nothing about a call before denwa asks it whether the call is
    /// still on: a final callback lost while Redis was down would leave it active for ever.
    pub status_check_after: Duration,
    /// Where the line may place calls (`line.dial_countries`); premium-rate and shared-cost
    /// numbers never.
    pub dial_policy: DialPolicy,
    /// Callers turned away before anything is recorded (`line.blocked_callers`).
    pub blocked_callers: BlockedCallers,
    /// A keypad menu routing callers to other lines that share this one's number.
    pub menu: Option<MenuSettings>,
    /// `[line.schedule]`: who of the directory is rung comes from an iCalendar feed.
    pub schedule: Option<ScheduleSettings>,
    /// `[line.hours]`: outside them, calls go to `after_hours`.
    pub hours: Option<HoursSettings>,
}

/// Someone who answers the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    pub name: String,
    pub phone: PhoneNumber,
    pub slack_user: Option<String>,
    pub discord_user: Option<String>,
    /// How an on-call schedule's events name them (ATTENDEE / ORGANIZER), besides their name.
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingMode {
    /// Every available responder at once; the first to accept gets the call.
    All,
    /// One after another, `ring_timeout` seconds each.
    InOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingCallerId {
    Line,
    Caller,
}

impl LineSettings {
    /// The responder with this phone number.
    pub fn responder_by_phone(&self, phone: &str) -> Option<(usize, &Responder)> {
        self.responders
            .iter()
            .enumerate()
            .find(|(_, r)| r.phone.as_str() == phone)
    }
}

impl Raw {
    /// Reads the `line` section of this `Raw`: `[line]`, or a `[[lines]]` table overlaid on it
    /// (see `config/lines.rs`). `line_number` is the line's own (`twilio.number`, or the table's
    /// `number`), when it is valid: the line calls its own country unless `line.dial_countries`
    /// says otherwise.
    pub(super) fn line(&mut self, line_number: Option<&PhoneNumber>) -> Option<LineSettings> {
        let id = match self.string("line", "id") {
            None => LineId::parse(LineId::DEFAULT),
            Some(text) => {
                let id = LineId::parse(text.trim());
                if id.is_none() {
                    self.problem(
                        "line.id",
                        format!(
                            "{text:?} is not a line id (1 to 32 lower-case letters, digits and -)"
                        ),
                    );
                }
                id
            }
        };
        let name = self
            .string("line", "name")
            .unwrap_or_else(|| "denwa".into());
        let greeting_text = self.string("line", "greeting");
        let greeting_url = self.string("line", "greeting_url");
        let greeting = match (greeting_text, greeting_url) {
            (Some(_), Some(_)) => {
                self.problem(
                    "line.greeting_url",
                    "set line.greeting (spoken) or line.greeting_url (played), not both",
                );
                None
            }
            (None, Some(url)) => self
                .url("line", "greeting_url", Some(url))
                .map(Greeting::Play),
            (Some(text), None) => Some(Greeting::Say(text)),
            (None, None) => Some(Greeting::Say(format!(
                "Thank you for calling {name}. Please stay on the line: the team will answer you here."
            ))),
        };
        let hold_music_url = self.string("line", "hold_music_url");
        if let Some(u) = hold_music_url.clone().filter(|u| !u.is_empty()) {
            self.url("line", "hold_music_url", Some(u));
        }
        let unavailable_message = self.string("line", "unavailable_message").unwrap_or_else(|| {
            "Sorry, this line cannot take calls right now. Please try again in a few minutes. Goodbye."
                .into()
        });

        let responders = self.responders();
        let ring = match self.string("line", "ring").as_deref() {
            None | Some("all") => RingMode::All,
            Some("in-order") => RingMode::InOrder,
            Some(other) => {
                self.problem(
                    "line.ring",
                    format!("{other:?} is not one of \"all\", \"in-order\""),
                );
                RingMode::All
            }
        };
        let ring_timeout = self.integer("line", "ring_timeout", 20, (5, 120)) as u32;
        let responders_muted = self.boolean("line", "responders_muted", true);
        let ring_caller_id = match self.string("line", "ring_caller_id").as_deref() {
            None | Some("line") => RingCallerId::Line,
            Some("caller") => RingCallerId::Caller,
            Some(other) => {
                self.problem(
                    "line.ring_caller_id",
                    format!("{other:?} is not one of \"line\", \"caller\""),
                );
                RingCallerId::Line
            }
        };
        let announce_joins = self.boolean("line", "announce_joins", true);
        let announce_leaves = self.boolean("line", "announce_leaves", false);
        let record_names = self.boolean("line", "record_names", false);
        let voicemail_after = match self.integer("line", "voicemail_after", 120, (0, 3600)) {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        };
        // At most 100 s: with the sweep's own delay, a call whose final callback was lost is
        // ended within two minutes.
        let status_check_after =
            Duration::from_secs(self.integer("line", "status_check_after", 60, (1, 100)));
        let dial_policy = self.dial_policy(line_number);
        for (i, r) in responders.iter().enumerate() {
            if let Err(refusal) = dial_policy.check(&r.phone) {
                self.problem(format!("line.responders[{i}].phone"), refusal.to_string());
            }
        }
        let blocked_callers = match BlockedCallers::new(&self.list("line", "blocked_callers")) {
            Ok(blocked) => blocked,
            Err(e) => {
                self.problem("line.blocked_callers", e.to_string());
                BlockedCallers::default()
            }
        };
        if let Some(own) = line_number.filter(|n| blocked_callers.blocks(n.as_str())) {
            // The self-dial speaker calls in from the line's own number.
            self.problem(
                "line.blocked_callers",
                format!("blocks the line's own number {own}, which its speaker calls from"),
            );
        }
        let menu = self.menu();
        let schedule = id
            .as_ref()
            .and_then(|id| self.schedule("line", id.as_str(), &responders));
        let hours = self.hours("line");
        Some(LineSettings {
            id: id?,
            name,
            greeting: greeting?,
            hold_music_url,
            unavailable_message,
            responders,
            ring,
            ring_timeout,
            responders_muted,
            ring_caller_id,
            announce_joins,
            announce_leaves,
            record_names,
            voicemail_after,
            status_check_after,
            dial_policy,
            blocked_callers,
            menu,
            schedule,
            hours,
        })
    }

    /// `line.dial_countries`: ISO country codes, or `"*"`; default the line number's country.
    fn dial_policy(&mut self, line_number: Option<&PhoneNumber>) -> DialPolicy {
        let codes = self.list("line", "dial_countries");
        if codes.is_empty() {
            return line_number.map_or_else(DialPolicy::any_country, DialPolicy::country_of);
        }
        DialPolicy::countries(&codes).unwrap_or_else(|e| {
            self.problem("line.dial_countries", e.to_string());
            DialPolicy::any_country()
        })
    }
}

impl Raw {
    /// `[[line.responders]]`: name, phone (E.164), optional slack_user / discord_user.
    fn responders(&mut self) -> Vec<Responder> {
        let items = match self.take("line", "responders") {
            None => return Vec::new(),
            Some(Source::File(toml::Value::Array(items))) => items,
            Some(Source::Env(name, _)) => {
                self.problem(
                    "line.responders",
                    format!("cannot be set from the environment ({name}): list them in the file"),
                );
                return Vec::new();
            }
            Some(Source::File(other)) => {
                self.problem(
                    "line.responders",
                    format!(
                        "expected [[line.responders]] tables, found {}",
                        other.type_str()
                    ),
                );
                return Vec::new();
            }
        };
        let mut responders: Vec<Responder> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = |k: &str| format!("line.responders[{i}].{k}");
            let Some(table) = item.as_table() else {
                self.problem(
                    format!("line.responders[{i}]"),
                    "expected a table with name and phone",
                );
                continue;
            };
            for unknown in table.keys().filter(|k| {
                !["name", "phone", "slack_user", "discord_user", "email"].contains(&k.as_str())
            }) {
                self.problem(key(unknown), "unknown key");
            }
            let text = |k: &str| {
                table
                    .get(k)
                    .and_then(|v| v.as_str())
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            let name = text("name");
            if name.is_none() {
                self.problem(key("name"), "is required (how the responder is announced)");
            }
            let phone = match text("phone").map(PhoneNumber::parse) {
                Some(Ok(p)) => Some(p),
                Some(Err(e)) => {
                    self.problem(key("phone"), e.to_string());
                    None
                }
                None => {
                    self.problem(key("phone"), "is required (E.164, e.g. +14155550100)");
                    None
                }
            };
            if let Some(p) = &phone
                && responders.iter().any(|r| &r.phone == p)
            {
                self.problem(key("phone"), format!("{p} is listed twice"));
            }
            if let Some(email) = text("email")
                && !email.contains('@')
            {
                self.problem(key("email"), format!("{email:?} is not an e-mail address"));
            }
            if let (Some(name), Some(phone)) = (name, phone) {
                responders.push(Responder {
                    name: name.to_owned(),
                    phone,
                    slack_user: text("slack_user").map(str::to_owned),
                    discord_user: text("discord_user").map(str::to_owned),
                    email: text("email").map(str::to_owned),
                });
            }
        }
        responders
    }
}
