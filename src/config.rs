//! Settings: `config.toml` plus `DENWA_<SECTION>_<KEY>` environment overrides, loaded once.
//!
//! Loading never stops at the first mistake: every problem is collected with the key it concerns,
//! so `denwa check` can list them all and `denwa serve` can refuse to start with the same list.
//! Secrets (tokens) are accepted only from the environment and kept in [`SecretString`], which
//! does not print.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::domain::PhoneNumber;

/// Sections the file may contain, in the order the example documents them.
const SECTIONS: &[&str] = &[
    "server", "redis", "twilio", "speech", "line", "api", "slack", "discord",
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
    pub line: LineSettings,
    pub api: ApiSettings,
    /// Present when `slack.channel` is set.
    pub slack: Option<SlackSettings>,
    /// Present when `discord.application_id` is set.
    pub discord: Option<DiscordSettings>,
}

#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// The channel ID (C...) calls are announced in.
    pub channel: String,
    pub bot_token: SecretString,
    pub signing_secret: SecretString,
    /// Accepted too while a signing secret is rotated.
    pub previous_signing_secret: Option<SecretString>,
    pub api_base: Url,
    /// Slack user IDs allowed to speak; empty = anyone in the channel.
    pub allowed_users: Vec<String>,
    /// Slack user group IDs (S...) whose members may speak.
    pub allowed_user_groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DiscordSettings {
    pub application_id: String,
    pub guild_id: String,
    pub channel_id: String,
    pub bot_token: SecretString,
    /// The application's Ed25519 public key, hex (not a secret, but set per deployment).
    pub public_key: String,
    pub api_base: Url,
    /// Role IDs allowed to use the commands; empty = anyone in the guild.
    pub allowed_roles: Vec<String>,
    /// Whether thread names and embeds may show the caller's number.
    pub show_numbers: bool,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// The URL Twilio (and chat services) reach denwa at; webhook signatures are computed over it.
    pub public_url: Url,
    /// Connections served at once; beyond it new ones wait in the listen backlog (see
    /// `server.rs`).
    pub max_connections: usize,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// May carry a password, so it is kept secret.
    pub url: SecretString,
    pub key_prefix: String,
}

#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The token being rotated out: webhooks signed with it are still accepted.
    pub previous_auth_token: Option<SecretString>,
    /// The line: the Twilio number callers dial, and the number the speaker legs dial.
    pub number: PhoneNumber,
    pub api_base: Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechStrategy {
    /// Twilio dials the line's own number; that second leg joins the conference and speaks.
    SelfDial,
    /// Twilio's conference announce API (no extra call leg).
    Announce,
}

#[derive(Debug, Clone)]
pub struct SpeechSettings {
    pub strategy: SpeechStrategy,
    pub voice: Option<String>,
    pub language: Option<String>,
    /// How often an unspoken message is tried again before it is reported failed.
    pub max_attempts: u32,
    /// How long a speaker leg waits for its inbound half to join the conference.
    pub join_timeout: Duration,
    /// The longest message accepted, in characters.
    pub max_message_chars: usize,
    /// How long a speaker leg with nothing left to say waits for more before hanging up: people
    /// type in bursts, and a few idle seconds cost less than another leg.
    pub linger: Duration,
    /// The most messages one call may have waiting (queued or being spoken); beyond it a say is
    /// refused. Every message costs money, and a queue nobody can hear to the end helps no one.
    pub max_queued: usize,
    /// The most messages one call accepts per rolling minute.
    pub max_per_minute: usize,
}

#[derive(Debug, Clone)]
pub enum Greeting {
    Say(String),
    Play(Url),
}

#[derive(Debug, Clone)]
pub struct LineSettings {
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
}

/// Someone who answers the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    pub name: String,
    pub phone: PhoneNumber,
    pub slack_user: Option<String>,
    pub discord_user: Option<String>,
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

#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub token: SecretString,
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

/// Where a value came from, so messages can say "set in DENWA_X_Y" rather than only the key.
#[derive(Debug, Clone)]
enum Source {
    File(toml::Value),
    Env(String, String),
}

/// The merged, still untyped configuration: file values overridden by environment variables.
struct Raw {
    values: BTreeMap<(String, String), Source>,
    problems: Vec<Problem>,
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
    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    fn read_file(&mut self, text: &str, file_name: &str) {
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                // toml's message already carries the line and column.
                self.problem(
                    file_name,
                    format!("not valid TOML: {}", e.to_string().trim()),
                );
                return;
            }
        };
        for (section, value) in table {
            let Some(entries) = value.as_table() else {
                self.problem(&section, "expected a [section] table");
                continue;
            };
            if !SECTIONS.contains(&section.as_str()) {
                self.problem(
                    &section,
                    format!("unknown section (known: {})", SECTIONS.join(", ")),
                );
                continue;
            }
            for (key, value) in entries {
                if SECRET_KEYS.contains(&(section.as_str(), key.as_str())) {
                    self.problem(
                        format!("{section}.{key}"),
                        format!(
                            "secrets are read from the environment only: remove it from the file and set {}",
                            env_name(&section, key)
                        ),
                    );
                    continue;
                }
                self.values
                    .insert((section.clone(), key.clone()), Source::File(value.clone()));
            }
        }
    }

    fn read_env(&mut self, env: &[(String, String)]) {
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("DENWA_") else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            // Sections have no underscore, so the first one separates section from key.
            let Some((section, key)) = rest.split_once('_') else {
                continue;
            };
            if !SECTIONS.contains(&section) {
                // DENWA_LOG and friends are not configuration keys.
                continue;
            }
            self.values.insert(
                (section.to_owned(), key.to_owned()),
                Source::Env(name.clone(), value.clone()),
            );
        }
    }

    fn take(&mut self, section: &str, key: &str) -> Option<Source> {
        self.values.remove(&(section.to_owned(), key.to_owned()))
    }

    /// A string value; `None` when unset. A wrong type is a problem.
    fn string(&mut self, section: &str, key: &str) -> Option<String> {
        match self.take(section, key)? {
            Source::Env(_, v) => Some(v),
            Source::File(toml::Value::String(s)) => Some(s),
            Source::File(other) => {
                self.problem(
                    format!("{section}.{key}"),
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn required(&mut self, section: &str, key: &str, hint: &str) -> Option<String> {
        let value = self.string(section, key).filter(|v| !v.trim().is_empty());
        if value.is_none() && !self.has_problem(section, key) {
            self.problem(format!("{section}.{key}"), format!("is required: {hint}"));
        }
        value
    }

    fn secret(&mut self, section: &str, key: &str, hint: &str) -> Option<SecretString> {
        let value = self.string(section, key).filter(|v| !v.is_empty());
        if value.is_none() {
            self.problem(
                format!("{section}.{key}"),
                format!("is required: set {} ({hint})", env_name(section, key)),
            );
        }
        value.map(SecretString::from)
    }

    fn has_problem(&self, section: &str, key: &str) -> bool {
        let k = format!("{section}.{key}");
        self.problems.iter().any(|p| p.key == k)
    }

    fn integer(&mut self, section: &str, key: &str, default: u64, range: (u64, u64)) -> u64 {
        let name = format!("{section}.{key}");
        let value = match self.take(section, key) {
            None => return default,
            Some(Source::File(toml::Value::Integer(i))) => u64::try_from(i).ok(),
            Some(Source::Env(_, v)) => v.trim().parse::<u64>().ok(),
            Some(Source::File(other)) => {
                self.problem(
                    name,
                    format!("expected an integer, found {}", other.type_str()),
                );
                return default;
            }
        };
        match value {
            Some(v) if (range.0..=range.1).contains(&v) => v,
            _ => {
                self.problem(
                    name,
                    format!("must be a whole number from {} to {}", range.0, range.1),
                );
                default
            }
        }
    }

    /// A list of strings: a TOML array, or a comma-separated environment variable.
    fn list(&mut self, section: &str, key: &str) -> Vec<String> {
        let items: Vec<String> = match self.take(section, key) {
            None => return Vec::new(),
            Some(Source::Env(_, v)) => v.split(',').map(|s| s.trim().to_owned()).collect(),
            Some(Source::File(toml::Value::Array(items))) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        toml::Value::String(s) => out.push(s.trim().to_owned()),
                        other => {
                            self.problem(
                                format!("{section}.{key}"),
                                format!(
                                    "expected a list of strings, found a {} in it",
                                    other.type_str()
                                ),
                            );
                            return Vec::new();
                        }
                    }
                }
                out
            }
            Some(Source::File(other)) => {
                self.problem(
                    format!("{section}.{key}"),
                    format!("expected a list of strings, found {}", other.type_str()),
                );
                return Vec::new();
            }
        };
        items.into_iter().filter(|s| !s.is_empty()).collect()
    }

    fn boolean(&mut self, section: &str, key: &str, default: bool) -> bool {
        let name = format!("{section}.{key}");
        match self.take(section, key) {
            None => default,
            Some(Source::File(toml::Value::Boolean(b))) => b,
            Some(Source::Env(_, v)) => match v.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                other => {
                    self.problem(name, format!("{other:?} is not true or false"));
                    default
                }
            },
            Some(Source::File(other)) => {
                self.problem(
                    name,
                    format!("expected true or false, found {}", other.type_str()),
                );
                default
            }
        }
    }

    /// An id made of digits (Discord snowflakes).
    fn snowflake(&mut self, section: &str, key: &str, hint: &str) -> Option<String> {
        let value = self.required(section, key, hint)?;
        if value.bytes().all(|b| b.is_ascii_digit()) {
            Some(value)
        } else {
            self.problem(
                format!("{section}.{key}"),
                format!("{value:?} is not a Discord id (digits only)"),
            );
            None
        }
    }

    /// Drops every key of `section`; true if there were any.
    fn drain_section(&mut self, section: &str) -> bool {
        let before = self.values.len();
        self.values.retain(|(s, _), _| s != section);
        before != self.values.len()
    }

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
            for unknown in table
                .keys()
                .filter(|k| !["name", "phone", "slack_user", "discord_user"].contains(&k.as_str()))
            {
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
            if let (Some(name), Some(phone)) = (name, phone) {
                responders.push(Responder {
                    name: name.to_owned(),
                    phone,
                    slack_user: text("slack_user").map(str::to_owned),
                    discord_user: text("discord_user").map(str::to_owned),
                });
            }
        }
        responders
    }

    fn slack(&mut self) -> Option<Option<SlackSettings>> {
        let Some(channel) = self
            .string("slack", "channel")
            .filter(|c| !c.trim().is_empty())
        else {
            // The other keys make no sense without a channel; say so rather than ignore them.
            if self.drain_section("slack") {
                self.problem(
                    "slack.channel",
                    "is required to enable Slack (the channel ID, C...)",
                );
            }
            return Some(None);
        };
        if !channel.starts_with(['C', 'G']) {
            self.problem(
                "slack.channel",
                format!("{channel:?} is not a channel ID (C... or G...; not the #name)"),
            );
        }
        let bot_token = self.secret(
            "slack",
            "bot_token",
            "the app's Bot User OAuth Token, xoxb-...",
        );
        let signing_secret = self.secret("slack", "signing_secret", "the app's Signing Secret");
        let previous_signing_secret = self
            .string("slack", "previous_signing_secret")
            .filter(|v| !v.is_empty())
            .map(SecretString::from);
        let api_base = self
            .string("slack", "api_base")
            .or_else(|| Some("https://slack.com/api".into()));
        let api_base = self.url("slack", "api_base", api_base);
        let allowed_users = self.list("slack", "allowed_users");
        let allowed_user_groups = self.list("slack", "allowed_user_groups");
        Some(Some(SlackSettings {
            channel,
            bot_token: bot_token?,
            signing_secret: signing_secret?,
            previous_signing_secret,
            api_base: api_base?,
            allowed_users,
            allowed_user_groups,
        }))
    }

    fn discord(&mut self) -> Option<Option<DiscordSettings>> {
        let Some(application_id) = self
            .string("discord", "application_id")
            .filter(|v| !v.trim().is_empty())
        else {
            if self.drain_section("discord") {
                self.problem(
                    "discord.application_id",
                    "is required to enable Discord (the application ID)",
                );
            }
            return Some(None);
        };
        if !application_id.bytes().all(|b| b.is_ascii_digit()) {
            self.problem(
                "discord.application_id",
                format!("{application_id:?} is not a Discord id (digits only)"),
            );
        }
        let guild_id = self.snowflake("discord", "guild_id", "the server (guild) ID");
        let channel_id = self.snowflake(
            "discord",
            "channel_id",
            "the channel ID calls are announced in",
        );
        let bot_token = self.secret("discord", "bot_token", "the bot's token");
        let public_key = self.required(
            "discord",
            "public_key",
            "set DENWA_DISCORD_PUBLIC_KEY (the application's public key, hex)",
        );
        if let Some(k) = &public_key
            && !(k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            self.problem(
                "discord.public_key",
                "must be 64 hex digits (General Information > Public Key)",
            );
        }
        let api_base = self
            .string("discord", "api_base")
            .or_else(|| Some("https://discord.com".into()));
        let api_base = self.url("discord", "api_base", api_base);
        let allowed_roles = self.list("discord", "allowed_roles");
        let show_numbers = self.boolean("discord", "show_numbers", false);
        Some(Some(DiscordSettings {
            application_id,
            guild_id: guild_id?,
            channel_id: channel_id?,
            bot_token: bot_token?,
            public_key: public_key?,
            api_base: api_base?,
            allowed_roles,
            show_numbers,
        }))
    }

    fn url(&mut self, section: &str, key: &str, value: Option<String>) -> Option<Url> {
        let value = value?;
        match Url::parse(value.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) => {
                self.problem(
                    format!("{section}.{key}"),
                    format!("{value:?} is not an http(s) URL"),
                );
                None
            }
            Err(e) => {
                self.problem(
                    format!("{section}.{key}"),
                    format!("{value:?} is not a URL: {e}"),
                );
                None
            }
        }
    }

    fn settings(&mut self) -> Option<Settings> {
        let listen = self
            .string("server", "listen")
            .unwrap_or_else(|| "0.0.0.0:8080".into());
        let listen = match listen.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.problem(
                    "server.listen",
                    format!("{listen:?} is not an address like 0.0.0.0:8080"),
                );
                None
            }
        };
        let public_url = self.required(
            "server",
            "public_url",
            "the https URL Twilio reaches denwa at",
        );
        let public_url = self.url("server", "public_url", public_url);
        if let Some(u) = &public_url
            && (u.query().is_some() || u.fragment().is_some())
        {
            self.problem(
                "server.public_url",
                "must not carry a query string or fragment",
            );
        }
        let max_connections = self.integer("server", "max_connections", 1024, (1, 65_536)) as usize;

        let redis_url = self
            .string("redis", "url")
            .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
        let redis_url = match redis::IntoConnectionInfo::into_connection_info(redis_url.as_str()) {
            Ok(_) => Some(SecretString::from(redis_url)),
            Err(e) => {
                self.problem(
                    "redis.url",
                    format!("not a Redis URL (redis://host:port/db): {e}"),
                );
                None
            }
        };
        let key_prefix = self
            .string("redis", "key_prefix")
            .unwrap_or_else(|| "denwa".into());
        if key_prefix.is_empty() || key_prefix.contains(['{', '}', ' ']) {
            self.problem(
                "redis.key_prefix",
                "must be non-empty and contain no braces or spaces",
            );
        }

        let account_sid = self.required("twilio", "account_sid", "your Twilio Account SID (AC...)");
        if let Some(sid) = &account_sid
            && !(sid.starts_with("AC")
                && sid.len() == 34
                && sid[2..].bytes().all(|b| b.is_ascii_hexdigit()))
        {
            self.problem(
                "twilio.account_sid",
                format!("{sid:?} is not an Account SID (AC + 32 hex digits)"),
            );
        }
        let auth_token = self.secret("twilio", "auth_token", "the account's Auth Token");
        let previous_auth_token = self
            .string("twilio", "previous_auth_token")
            .filter(|v| !v.is_empty())
            .map(SecretString::from);
        let number = self.required("twilio", "number", "the line's Twilio number in E.164 form");
        let number = number.and_then(|n| match PhoneNumber::parse(n.trim()) {
            Ok(n) => Some(n),
            Err(e) => {
                self.problem("twilio.number", e.to_string());
                None
            }
        });
        let api_base = self
            .string("twilio", "api_base")
            .or_else(|| Some("https://api.twilio.com".into()));
        let api_base = self.url("twilio", "api_base", api_base);

        let strategy = match self.string("speech", "strategy").as_deref() {
            None | Some("self-dial") => Some(SpeechStrategy::SelfDial),
            Some("announce") => Some(SpeechStrategy::Announce),
            Some(other) => {
                self.problem(
                    "speech.strategy",
                    format!("{other:?} is not one of \"self-dial\", \"announce\""),
                );
                None
            }
        };
        let voice = self.string("speech", "voice").filter(|v| !v.is_empty());
        let language = self.string("speech", "language").filter(|v| !v.is_empty());
        let max_attempts = self.integer("speech", "max_attempts", 3, (1, 10)) as u32;
        let join_timeout =
            Duration::from_secs(self.integer("speech", "join_timeout", 30, (5, 300)));
        let max_message_chars =
            self.integer("speech", "max_message_chars", 10_000, (1, 100_000)) as usize;
        let linger = Duration::from_secs(self.integer("speech", "linger", 3, (0, 30)));
        let max_queued = self.integer("speech", "max_queued", 100, (1, 10_000)) as usize;
        let max_per_minute = self.integer("speech", "max_per_minute", 60, (1, 10_000)) as usize;

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

        let api_token = self.secret("api", "token", "the bearer token for /api");
        let slack = self.slack();
        let discord = self.discord();

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
            server: ServerSettings {
                listen: listen?,
                public_url: public_url?,
                max_connections,
            },
            redis: RedisSettings {
                url: redis_url?,
                key_prefix,
            },
            twilio: TwilioSettings {
                account_sid: account_sid?,
                auth_token: auth_token?,
                previous_auth_token,
                number: number?,
                api_base: api_base?,
            },
            speech: SpeechSettings {
                strategy: strategy?,
                voice,
                language,
                max_attempts,
                join_timeout,
                max_message_chars,
                linger,
                max_queued,
                max_per_minute,
            },
            line: LineSettings {
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
            },
            api: ApiSettings { token: api_token? },
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
        assert_eq!(s.speech.strategy, SpeechStrategy::SelfDial);
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
    fn secrets_do_not_print() {
        let s = Settings::from_sources(Some(GOOD), "config.toml", &secrets()).unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("t0ken"), "{debug}");
    }
}
