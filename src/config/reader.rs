//! Reading the merged file and environment, key by key: each typed read records a problem with
//! the key it concerns rather than stopping, and takes the key out, so that whatever is left at
//! the end was never asked for (a typo).

use std::collections::BTreeMap;

use secrecy::SecretString;
use url::Url;

use super::{Problem, SECRET_KEYS, SECTIONS, env_name};

/// Where a value came from, so messages can say "set in DENWA_X_Y" rather than only the key.
#[derive(Debug, Clone)]
pub(super) enum Source {
    File(toml::Value),
    Env(String, String),
}

/// The merged, still untyped configuration: file values overridden by environment variables.
#[derive(Default)]
pub(super) struct Raw {
    pub(super) values: BTreeMap<(String, String), Source>,
    pub(super) problems: Vec<Problem>,
}

impl Raw {
    pub(super) fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    pub(super) fn read_file(&mut self, text: &str, file_name: &str) {
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
            if section == "lines" {
                // `[[lines]]`: a list of tables, read as one value (see `config/lines.rs`).
                self.values
                    .insert((section, String::new()), Source::File(value));
                continue;
            }
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

    pub(super) fn read_env(&mut self, env: &[(String, String)]) {
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

    pub(super) fn take(&mut self, section: &str, key: &str) -> Option<Source> {
        self.values.remove(&(section.to_owned(), key.to_owned()))
    }

    /// A string value; `None` when unset. A wrong type is a problem.
    pub(super) fn string(&mut self, section: &str, key: &str) -> Option<String> {
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

    pub(super) fn required(&mut self, section: &str, key: &str, hint: &str) -> Option<String> {
        let value = self.string(section, key).filter(|v| !v.trim().is_empty());
        if value.is_none() && !self.has_problem(section, key) {
            self.problem(format!("{section}.{key}"), format!("is required: {hint}"));
        }
        value
    }

    pub(super) fn secret(&mut self, section: &str, key: &str, hint: &str) -> Option<SecretString> {
        let value = self.string(section, key).filter(|v| !v.is_empty());
        if value.is_none() {
            self.problem(
                format!("{section}.{key}"),
                format!("is required: set {} ({hint})", env_name(section, key)),
            );
        }
        value.map(SecretString::from)
    }

    pub(super) fn has_problem(&self, section: &str, key: &str) -> bool {
        let k = format!("{section}.{key}");
        self.problems.iter().any(|p| p.key == k)
    }

    pub(super) fn integer(
        &mut self,
        section: &str,
        key: &str,
        default: u64,
        range: (u64, u64),
    ) -> u64 {
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
    pub(super) fn list(&mut self, section: &str, key: &str) -> Vec<String> {
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

    pub(super) fn boolean(&mut self, section: &str, key: &str, default: bool) -> bool {
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
    pub(super) fn snowflake(&mut self, section: &str, key: &str, hint: &str) -> Option<String> {
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

    /// `[section.name]`, a table within a section (`[line.schedule]`): its keys are read as
    /// `name.key`, so problems name them `section.name.key`, and `DENWA_SECTION_NAME_KEY` sets
    /// one (the environment wins, as everywhere). True if any of its keys is set.
    pub(super) fn sub_table(&mut self, section: &str, name: &str) -> bool {
        match self.take(section, name) {
            None => {}
            Some(Source::File(toml::Value::Table(table))) => {
                for (key, value) in table {
                    self.values.insert(
                        (section.to_owned(), format!("{name}.{key}")),
                        Source::File(value),
                    );
                }
            }
            Some(Source::File(other)) => self.problem(
                format!("{section}.{name}"),
                format!(
                    "expected a [{section}.{name}] table, found {}",
                    other.type_str()
                ),
            ),
            Some(Source::Env(var, _)) => self.problem(
                format!("{section}.{name}"),
                format!("{var} cannot set a whole table: set its keys, e.g. {var}_<KEY>"),
            ),
        }
        let env_prefix = format!("{name}_");
        let from_env: Vec<(String, String)> = self
            .values
            .keys()
            .filter(|(s, k)| s == section && k.starts_with(&env_prefix))
            .cloned()
            .collect();
        for (s, k) in from_env {
            if let Some(value) = self.values.remove(&(s.clone(), k.clone())) {
                let key = format!("{name}.{}", &k[env_prefix.len()..]);
                self.values.insert((s, key), value);
            }
        }
        let file_prefix = format!("{name}.");
        self.values
            .keys()
            .any(|(s, k)| s == section && k.starts_with(&file_prefix))
    }

    /// Drops every key of `section`; true if there were any.
    pub(super) fn drain_section(&mut self, section: &str) -> bool {
        let before = self.values.len();
        self.values.retain(|(s, _), _| s != section);
        before != self.values.len()
    }

    pub(super) fn url(&mut self, section: &str, key: &str, value: Option<String>) -> Option<Url> {
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
}
