//! `[[line.escalation]]` and `line.escalation_repeat`: levels of responders rung one after
//! another until someone presses 1, the whole sequence repeated before voicemail.
//!
//! A level names responders of the directory (`[[line.responders]]`) by name, so one person can
//! be in several levels and a schedule (who is on call now) still decides who of a level is
//! rung: a level's members are looked up in the line's responders of the moment.

use std::time::Duration;

use super::line::{Responder, RingMode};
use super::reader::{Raw, Source};

/// At most this many levels: the sweep and each step walk them.
pub const MAX_LEVELS: usize = 10;

/// At most this many repeats of the whole sequence (each one rings everybody again).
pub const MAX_REPEAT: u64 = 5;

/// One level: who is rung, how, and for how long before the next level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationLevel {
    /// Indexes into the line's `responders`, in the order listed.
    pub members: Vec<usize>,
    pub ring: RingMode,
    /// How long the level is given (ringing and the responder's decision included) before the
    /// next level is rung.
    pub timeout: Duration,
}

/// The line's escalation policy; `levels` empty = no escalation (every responder rung at once or
/// in order, as `line.ring` says, until voicemail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Escalation {
    pub levels: Vec<EscalationLevel>,
    /// How many times the whole sequence is rung again after its last level, before voicemail.
    pub repeat: u32,
}

impl Escalation {
    pub fn is_on(&self) -> bool {
        !self.levels.is_empty()
    }

    /// Steps in all: every level, once per round.
    pub fn steps(&self) -> u64 {
        self.levels.len() as u64 * (u64::from(self.repeat) + 1)
    }

    /// The level (0-based) and round (0-based) of step `step`.
    pub fn level_of(&self, step: u64) -> (usize, u64) {
        let count = self.levels.len().max(1) as u64;
        ((step % count) as usize, step / count)
    }
}

impl Raw {
    /// `[[line.escalation]]` (members named from `responders`) and `line.escalation_repeat`.
    pub(super) fn escalation(
        &mut self,
        responders: &[Responder],
        default_ring: RingMode,
    ) -> Escalation {
        let repeat = self.integer("line", "escalation_repeat", 0, (0, MAX_REPEAT)) as u32;
        let items = match self.take("line", "escalation") {
            None => return Escalation::default(),
            Some(Source::File(toml::Value::Array(items))) => items,
            Some(Source::Env(name, _)) => {
                self.problem(
                    "line.escalation",
                    format!(
                        "cannot be set from the environment ({name}): list the levels in the file"
                    ),
                );
                return Escalation::default();
            }
            Some(Source::File(other)) => {
                self.problem(
                    "line.escalation",
                    format!(
                        "expected [[line.escalation]] tables, found {}",
                        other.type_str()
                    ),
                );
                return Escalation::default();
            }
        };
        if items.len() > MAX_LEVELS {
            self.problem(
                "line.escalation",
                format!("{} levels; at most {MAX_LEVELS}", items.len()),
            );
            return Escalation::default();
        }
        let mut levels = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(level) = self.escalation_level(i, item, responders, default_ring) {
                levels.push(level);
            }
        }
        Escalation { levels, repeat }
    }

    fn escalation_level(
        &mut self,
        i: usize,
        item: &toml::Value,
        responders: &[Responder],
        default_ring: RingMode,
    ) -> Option<EscalationLevel> {
        let key = |k: &str| format!("line.escalation[{i}].{k}");
        let Some(table) = item.as_table() else {
            self.problem(
                format!("line.escalation[{i}]"),
                "expected a table with responders, ring and timeout",
            );
            return None;
        };
        for unknown in table
            .keys()
            .filter(|k| !["responders", "ring", "timeout"].contains(&k.as_str()))
        {
            self.problem(key(unknown), "unknown key");
        }
        let mut members = Vec::new();
        match table.get("responders").and_then(toml::Value::as_array) {
            Some(names) if !names.is_empty() => {
                for name in names {
                    let Some(name) = name.as_str().map(str::trim) else {
                        self.problem(key("responders"), "expected responder names (strings)");
                        continue;
                    };
                    match responders.iter().position(|r| r.name == name) {
                        Some(index) if members.contains(&index) => {
                            self.problem(key("responders"), format!("{name:?} is listed twice"));
                        }
                        Some(index) => members.push(index),
                        None => self.problem(
                            key("responders"),
                            format!("no responder named {name:?} in [[line.responders]]"),
                        ),
                    }
                }
            }
            _ => self.problem(
                key("responders"),
                "is required: a non-empty list of responder names",
            ),
        }
        let ring = match table.get("ring").map(|v| v.as_str()) {
            None => default_ring,
            Some(Some("all")) => RingMode::All,
            Some(Some("in-order" | "in_order")) => RingMode::InOrder,
            Some(other) => {
                self.problem(
                    key("ring"),
                    format!(
                        "{:?} is not one of \"all\", \"in-order\"",
                        other.unwrap_or("?")
                    ),
                );
                default_ring
            }
        };
        let timeout = match table.get("timeout") {
            None => DEFAULT_TIMEOUT_SECS,
            Some(toml::Value::Integer(secs))
                if (MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(secs) =>
            {
                *secs
            }
            Some(other) => {
                self.problem(
                    key("timeout"),
                    format!(
                        "{other} is not a whole number of seconds from {MIN_TIMEOUT_SECS} to {MAX_TIMEOUT_SECS}"
                    ),
                );
                DEFAULT_TIMEOUT_SECS
            }
        };
        (!members.is_empty()).then(|| EscalationLevel {
            members,
            ring,
            timeout: Duration::from_secs(timeout as u64),
        })
    }
}

/// A level's `timeout` (seconds): its default and bounds. At least `line.ring_timeout`'s least
/// (a responder must hear who is calling and decide); a level of more than ten minutes is a
/// caller given up on.
const DEFAULT_TIMEOUT_SECS: i64 = 30;
const MIN_TIMEOUT_SECS: i64 = 5;
const MAX_TIMEOUT_SECS: i64 = 600;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{RingMode, Settings};
    use super::EscalationLevel;

    const BASE: &str = r#"
[server]
public_url = "https://denwa.example.com"
[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
number = "+14155550100"
[line]
ring = "in-order"
escalation_repeat = 2
[[line.responders]]
name = "Alice"
phone = "+14155550101"
[[line.responders]]
name = "Bob"
phone = "+14155550102"
[[line.escalation]]
responders = ["Bob", "Alice"]
[[line.escalation]]
responders = ["Alice"]
ring = "all"
timeout = 90
"#;

    fn load(extra: &str) -> Result<Settings, Vec<String>> {
        let env: Vec<(String, String)> =
            [("DENWA_TWILIO_AUTH_TOKEN", "t"), ("DENWA_API_TOKEN", "a")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        Settings::from_sources(Some(&format!("{BASE}{extra}")), "config.toml", &env)
            .map_err(|e| e.0.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn levels_name_responders_and_take_the_line_s_ring_by_default() {
        let s = load("").unwrap();
        let escalation = &s.lines.default_line().settings.escalation;
        assert_eq!(escalation.repeat, 2);
        assert_eq!(
            escalation.levels,
            vec![
                EscalationLevel {
                    members: vec![1, 0],
                    ring: RingMode::InOrder,
                    timeout: Duration::from_secs(30),
                },
                EscalationLevel {
                    members: vec![0],
                    ring: RingMode::All,
                    timeout: Duration::from_secs(90),
                },
            ]
        );
        assert_eq!(escalation.steps(), 6);
        assert_eq!(escalation.level_of(3), (1, 1));
    }

    #[test]
    fn a_line_with_its_own_people_needs_its_own_levels_and_check_says_so() {
        let problems = load(
            r#"
[[lines]]
id = "billing"
number = "+14155550200"
[[lines.responders]]
name = "Carol"
phone = "+14155550103"
"#,
        )
        .unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("lines[0].escalation[0].responders")
                    && p.contains("no responder named \"Bob\"")),
            "{problems:?}"
        );
    }
}
