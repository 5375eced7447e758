//! `[line.hours]`: when the line is open (weekly hours in a time zone, holidays), and where a
//! call goes outside them.
//!
//! Read from the line's own table (`section`), so several lines each bring their own.

use std::collections::BTreeSet;

use super::reader::Raw;
use crate::domain::LineId;
use crate::domain::business_hours::{self, BusinessHours, DAYS, OpenRange};

/// Where a call outside business hours goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterHours {
    /// Straight to voicemail, after `after_hours_greeting`: no conference, nobody rung.
    Voicemail,
    /// Another line of this deployment, by id; its own hours then apply (checked with the
    /// lines: `config/lines.rs`).
    Line(LineId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursSettings {
    pub hours: BusinessHours,
    pub after_hours: AfterHours,
    /// Said to a caller sent to voicemail after hours, before the tone.
    pub after_hours_greeting: String,
}

/// The longest after-hours greeting.
const MAX_GREETING_CHARS: usize = 1000;

impl Raw {
    /// `[<section>.hours]`; `None` when absent (always open) or wrong (problems recorded).
    pub(super) fn hours(&mut self, section: &str) -> Option<HoursSettings> {
        if !self.sub_table(section, "hours") {
            return None;
        }
        let key = |k: &str| format!("{section}.hours.{k}");
        let timezone = match self.string(section, "hours.timezone") {
            None => {
                self.problem(
                    key("timezone"),
                    "is required: an IANA time zone, e.g. \"Europe/London\"",
                );
                None
            }
            Some(name) => match name.trim().parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    self.problem(
                        key("timezone"),
                        format!("{name:?} is not an IANA time zone (e.g. \"America/New_York\")"),
                    );
                    None
                }
            },
        };
        let mut week: [Vec<OpenRange>; 7] = Default::default();
        for (day, ranges) in DAYS.iter().zip(week.iter_mut()) {
            let Some(text) = self.string(section, &format!("hours.{day}")) else {
                continue; // a day not listed is closed
            };
            match business_hours::parse_day(&text) {
                Ok(parsed) => *ranges = parsed,
                Err(e) => self.problem(key(day), e.to_string()),
            }
        }
        if week.iter().all(Vec::is_empty)
            && !DAYS
                .iter()
                .any(|d| self.has_problem(section, &format!("hours.{d}")))
        {
            self.problem(
                format!("{section}.hours"),
                "no day has hours, so the line would never be open: give at least one day, e.g. monday = \"09:00-17:00\"",
            );
        }
        let mut holidays = BTreeSet::new();
        for date in self.list(section, "hours.holidays") {
            match business_hours::parse_holiday(&date) {
                Ok(d) => {
                    holidays.insert(d);
                }
                Err(e) => self.problem(key("holidays"), e.to_string()),
            }
        }
        let after_hours = match self
            .string(section, "hours.after_hours")
            .as_deref()
            .map(str::trim)
        {
            None | Some("voicemail") => Some(AfterHours::Voicemail),
            Some(other) => match LineId::parse(other) {
                Some(line) => Some(AfterHours::Line(line)),
                None => {
                    self.problem(
                        key("after_hours"),
                        format!("{other:?} is not \"voicemail\" or a line id"),
                    );
                    None
                }
            },
        };
        let after_hours_greeting = self
            .string(section, "hours.after_hours_greeting")
            .filter(|g| !g.trim().is_empty())
            .unwrap_or_else(|| {
                "We are closed right now. Please leave a message after the tone, and press the pound key when you are done.".into()
            });
        // One `<Say>`, well within what Twilio speaks in one verb.
        if after_hours_greeting.chars().count() > MAX_GREETING_CHARS {
            self.problem(
                key("after_hours_greeting"),
                format!("is longer than {MAX_GREETING_CHARS} characters"),
            );
        }
        Some(HoursSettings {
            hours: BusinessHours::new(timezone?, week, holidays),
            after_hours: after_hours?,
            after_hours_greeting,
        })
    }
}
