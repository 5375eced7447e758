//! `[line.menu]` / `[lines.menu]`: a keypad menu ("for billing press 1") whose choices are
//! other lines sharing the menu line's number.

use denwa_chat::LineId;

use super::reader::{Raw, Source};

/// The longest prompt: one `<Say>` well within Twilio's limits (docs/protocols.md).
const MAX_PROMPT_CHARS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuSettings {
    /// Said inside the `<Gather>`: the choices, in the caller's words.
    pub prompt: String,
    /// Seconds of silence after the prompt before the caller is taken to `default`.
    pub timeout: u32,
    /// How many times the menu is offered to a caller pressing keys that are not choices
    /// before they are taken to `default`.
    pub attempts: u32,
    /// Where a caller who presses nothing (or only wrong keys) goes.
    pub default: LineId,
    /// Key (one digit, `*` or `#`) -> the line it routes to.
    pub choices: Vec<(char, LineId)>,
}

impl MenuSettings {
    /// The line key `digit` routes to.
    pub fn choice(&self, digit: &str) -> Option<&LineId> {
        let mut chars = digit.chars();
        let (Some(key), None) = (chars.next(), chars.next()) else {
            return None;
        };
        self.choices.iter().find(|(k, _)| *k == key).map(|(_, l)| l)
    }
}

impl Raw {
    /// `line.menu` (a table), read for whichever line this `Raw` holds.
    pub(super) fn menu(&mut self) -> Option<MenuSettings> {
        let table = match self.take("line", "menu")? {
            Source::File(toml::Value::Table(t)) => t,
            Source::Env(name, _) => {
                self.problem(
                    "line.menu",
                    format!("cannot be set from the environment ({name}): write it in the file"),
                );
                return None;
            }
            Source::File(other) => {
                self.problem(
                    "line.menu",
                    format!("expected a [line.menu] table, found {}", other.type_str()),
                );
                return None;
            }
        };
        for unknown in table.keys().filter(|k| {
            !["prompt", "timeout", "attempts", "default", "choices"].contains(&k.as_str())
        }) {
            self.problem(format!("line.menu.{unknown}"), "unknown key");
        }
        let prompt = match table.get("prompt").and_then(|v| v.as_str()).map(str::trim) {
            Some(p) if !p.is_empty() && p.chars().count() <= MAX_PROMPT_CHARS => Some(p.to_owned()),
            Some(p) if !p.is_empty() => {
                self.problem(
                    "line.menu.prompt",
                    format!("is longer than {MAX_PROMPT_CHARS} characters"),
                );
                None
            }
            _ => {
                self.problem(
                    "line.menu.prompt",
                    "is required: what the caller hears, e.g. \"For billing press 1\"",
                );
                None
            }
        };
        let mut bounded = |key: &str, default: i64, (low, high): (i64, i64)| match table.get(key) {
            None => Some(default as u32),
            Some(toml::Value::Integer(i)) if (low..=high).contains(i) => Some(*i as u32),
            Some(_) => {
                self.problem(
                    format!("line.menu.{key}"),
                    format!("must be a whole number from {low} to {high}"),
                );
                None
            }
        };
        let timeout = bounded("timeout", 5, (1, 30));
        let attempts = bounded("attempts", 2, (1, 5));
        let default = self.menu_line_id(table.get("default"), "line.menu.default");
        let mut choices = Vec::new();
        match table.get("choices") {
            Some(toml::Value::Table(entries)) if !entries.is_empty() => {
                for (key, value) in entries {
                    let name = format!("line.menu.choices.{key}");
                    let mut chars = key.chars();
                    let digit = match (chars.next(), chars.next()) {
                        (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => c,
                        _ => {
                            self.problem(name, "a choice's key is one digit, * or #");
                            continue;
                        }
                    };
                    if let Some(line) = self.menu_line_id(Some(value), &name) {
                        choices.push((digit, line));
                    }
                }
            }
            _ => self.problem(
                "line.menu.choices",
                "is required: a table of key -> line id, e.g. { 1 = \"billing\" }",
            ),
        }
        Some(MenuSettings {
            prompt: prompt?,
            timeout: timeout?,
            attempts: attempts?,
            default: default?,
            choices,
        })
    }

    fn menu_line_id(&mut self, value: Option<&toml::Value>, key: &str) -> Option<LineId> {
        let id = value.and_then(|v| v.as_str()).and_then(LineId::parse);
        if id.is_none() {
            self.problem(
                key,
                "must be a line's id (lower-case letters, digits and -)",
            );
        }
        id
    }
}
