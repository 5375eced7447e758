//! `Rota`: an iCalendar feed turned into on-call shifts over a window of time, each naming the
//! responders (from the line's directory) it puts on call.
//!
//! Parsing is the `icalendar` crate's, recurrence (RRULE, RDATE, EXDATE, with TZID time zones)
//! the `rrule` crate's through it: not a hand parser. What is kept is small and plain (start,
//! end, names) so it can be stored in Redis once and read by every replica at each call.

use std::collections::{BTreeSet, HashSet};
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use icalendar::{Calendar, CalendarDateTime, Component, DatePerhapsTime, EventStatus, Property};
use serde::{Deserialize, Serialize};

use crate::config::Responder;

/// Events read from one feed at most: a rota of a few teams has tens.
pub const MAX_EVENTS: usize = 5_000;

/// Shifts kept at most over the window (occurrences of every event together).
pub const MAX_SHIFTS: usize = 10_000;

/// Occurrences of one recurring event kept within the window.
const MAX_OCCURRENCES_PER_EVENT: usize = 2_000;

/// Occurrences walked at most over the whole feed, from each series' start: a daily rota since
/// 2015 is about 4 000 per series. (`rrule` also stops a series that yields nothing for 100 000
/// iterations.) About a second of work, on a blocking thread.
pub const MAX_OCCURRENCES_SCANNED: usize = 1_000_000;

/// The longest shift believed: an event that claims to last longer is ignored (a mistake, or an
/// "all year" placeholder that would put someone on call for ever).
const MAX_SHIFT_DAYS: i64 = 31;

/// Someone on call from `start_ms` (inclusive) to `end_ms` (exclusive), Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Directory names, in the directory's order.
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rota {
    pub shifts: Vec<Shift>,
}

/// Why a feed could not be read; the last good rota stays in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotaError {
    #[error("not an iCalendar feed: {0}")]
    Unparsable(String),
    #[error("the feed has more than {MAX_EVENTS} events")]
    TooManyEvents,
    #[error("the feed has more than {MAX_SHIFTS} shifts in the next days")]
    TooManyShifts,
    #[error("the feed's recurrences run to more than {MAX_OCCURRENCES_SCANNED} occurrences")]
    TooMuchRecurrence,
}

impl Rota {
    /// The shifts of `ics` that overlap `[from, until)`, matched against `directory`. Events
    /// that name nobody in the directory are left out; so are cancelled ones.
    pub fn from_ics(
        ics: &str,
        directory: &[Responder],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Rota, RotaError> {
        let calendar = Calendar::from_str(ics).map_err(RotaError::Unparsable)?;
        if calendar.components.is_empty() {
            return Err(RotaError::Unparsable("no calendar in it".into()));
        }
        let events: Vec<_> = calendar.calendar_events().collect();
        if events.len() > MAX_EVENTS {
            return Err(RotaError::TooManyEvents);
        }
        // A RECURRENCE-ID event replaces one occurrence of its series: the series skips it.
        let overridden: HashSet<(String, i64)> = events
            .iter()
            .filter_map(|e| {
                let uid = e.get_uid()?;
                let at = instant(e.get_recurrence_id()?, e.calendar_tz())?;
                Some((uid.to_owned(), at.timestamp_millis()))
            })
            .collect();
        let mut shifts = Vec::new();
        let mut scanned = 0usize;
        for event in &events {
            if event.get_status() == Some(EventStatus::Cancelled) {
                continue;
            }
            let names = who(event, directory);
            if names.is_empty() {
                continue;
            }
            let Some(length) = length(event) else {
                continue;
            };
            let Ok(set) = event.get_recurrence() else {
                tracing::debug!(uid = ?event.get_uid(), "an event whose start or rule cannot be read: skipped");
                continue;
            };
            let is_series = event.get_recurrence_id().is_none();
            let uid = event.get_uid().unwrap_or_default();
            let (from_ms, until_ms) = (from.timestamp_millis(), until.timestamp_millis());
            let mut kept = 0;
            // The series is walked from its start (as `rrule` does anyway), each occurrence
            // counted against the feed's budget: a feed of many long-running series fails
            // the refresh rather than hold a thread for minutes.
            for start in &set {
                scanned += 1;
                if scanned > MAX_OCCURRENCES_SCANNED {
                    return Err(RotaError::TooMuchRecurrence);
                }
                let start_ms = start.timestamp_millis();
                if start_ms >= until_ms || kept >= MAX_OCCURRENCES_PER_EVENT {
                    break;
                }
                let end_ms = start_ms + length.num_milliseconds();
                if end_ms <= from_ms
                    || (is_series && overridden.contains(&(uid.to_owned(), start_ms)))
                {
                    continue;
                }
                kept += 1;
                shifts.push(Shift {
                    start_ms,
                    end_ms,
                    names: names.clone(),
                });
                // Dropping shifts could drop whoever is on call now: the feed is refused
                // instead (the last good copy stays, and the reason shows in /readyz).
                if shifts.len() > MAX_SHIFTS {
                    return Err(RotaError::TooManyShifts);
                }
            }
        }
        shifts.sort_by_key(|s| s.start_ms);
        Ok(Rota { shifts })
    }

    /// The names on call at `at_ms`, each once.
    pub fn on_call(&self, at_ms: i64) -> BTreeSet<&str> {
        self.shifts
            .iter()
            .filter(|s| s.start_ms <= at_ms && at_ms < s.end_ms)
            .flat_map(|s| s.names.iter().map(String::as_str))
            .collect()
    }
}

/// An instant from a DTSTART-like value, read as `rrule` reads the series: a DATE is midnight
/// in the calendar's time zone (else the server's), a floating time (no TZID, no Z) is the
/// server's local time.
fn instant(value: DatePerhapsTime, calendar_tz: Option<&str>) -> Option<DateTime<Utc>> {
    let tz = calendar_tz.and_then(|t| t.parse::<chrono_tz::Tz>().ok());
    let local = |naive: chrono::NaiveDateTime| {
        chrono::Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    match value {
        DatePerhapsTime::DateTime(CalendarDateTime::Floating(naive)) => local(naive),
        DatePerhapsTime::DateTime(dt) => dt.try_into_utc(),
        DatePerhapsTime::Date(date) => {
            let midnight = date.and_hms_opt(0, 0, 0)?;
            match tz {
                Some(tz) => tz
                    .from_local_datetime(&midnight)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc)),
                None => local(midnight),
            }
        }
    }
}

/// How long each occurrence lasts: DTEND - DTSTART (a DATE start without an end is one day).
fn length(event: &icalendar::CalendarEvent<'_>) -> Option<chrono::Duration> {
    let start = event.get_start()?;
    let length = match (&start, event.get_end()) {
        (DatePerhapsTime::Date(s), Some(DatePerhapsTime::Date(e))) => {
            chrono::Duration::days((e - *s).num_days())
        }
        (DatePerhapsTime::Date(_), None) => chrono::Duration::days(1),
        (_, Some(end)) => {
            let tz = event.calendar_tz();
            instant(end, tz)? - instant(start, tz)?
        }
        (_, None) => return None,
    };
    (length > chrono::Duration::zero() && length <= chrono::Duration::days(MAX_SHIFT_DAYS))
        .then_some(length)
}

/// The directory names an event puts on call, in the directory's order: a responder matches by
/// e-mail (an ATTENDEE's or the ORGANIZER's `mailto:`, or in the SUMMARY) or by name (an
/// attendee's or organizer's CN, or the SUMMARY naming them as whole words, e.g. PagerDuty's
/// "On call: Alice Example - Primary"). Case does not matter.
fn who(event: &icalendar::Event, directory: &[Responder]) -> Vec<String> {
    let people: Vec<&Property> = event
        .multi_properties()
        .get("ATTENDEE")
        .into_iter()
        .flatten()
        .chain(event.properties().get("ORGANIZER"))
        .collect();
    let emails: Vec<String> = people
        .iter()
        .filter_map(|p| {
            let v = p.value().trim();
            let v = v
                .strip_prefix("mailto:")
                .or_else(|| v.strip_prefix("MAILTO:"))?;
            Some(v.to_lowercase())
        })
        .collect();
    let common_names: Vec<String> = people
        .iter()
        .filter_map(|p| {
            p.params()
                .get("CN")
                .map(|cn| cn.value().trim().to_lowercase())
        })
        .collect();
    let summary = event.get_summary().unwrap_or_default().to_lowercase();
    directory
        .iter()
        .filter(|r| {
            let name = r.name.to_lowercase();
            let by_email = r.email.as_deref().is_some_and(|email| {
                let email = email.to_lowercase();
                emails.contains(&email) || summary.contains(&email)
            });
            by_email || common_names.contains(&name) || has_words(&summary, &name)
        })
        .map(|r| r.name.clone())
        .collect()
}

/// Whether `words` occurs in `text` with no letter or digit right before or after it.
fn has_words(text: &str, words: &str) -> bool {
    if words.is_empty() {
        return false;
    }
    text.match_indices(words).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + words.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PhoneNumber;

    fn responder(name: &str, email: Option<&str>) -> Responder {
        Responder {
            name: name.into(),
            phone: PhoneNumber::parse("+14155550101").unwrap(),
            slack_user: None,
            discord_user: None,
            email: email.map(str::to_owned),
        }
    }

    fn directory() -> Vec<Responder> {
        vec![
            responder("Alice", Some("alice@example.com")),
            responder("Bob", None),
            responder("Carol", None),
        ]
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Alice Monday to Wednesday noon, Bob Wednesday noon to Monday, weekly from a Monday in
    /// Tokyo; one of Bob's weeks is cancelled with EXDATE, one of Alice's moved to Carol.
    const ROTATION: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:alice\r\nDTSTART;TZID=Asia/Tokyo:20261102T090000\r\n\
DTEND;TZID=Asia/Tokyo:20261104T120000\r\nRRULE:FREQ=WEEKLY\r\n\
SUMMARY:Primary\r\nATTENDEE;CN=Someone:mailto:ALICE@example.com\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:bob\r\nDTSTART;TZID=Asia/Tokyo:20261104T120000\r\n\
DTEND;TZID=Asia/Tokyo:20261109T090000\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n\
EXDATE;TZID=Asia/Tokyo:20261111T120000\r\nSUMMARY:On call: bob - Primary\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:alice\r\nRECURRENCE-ID;TZID=Asia/Tokyo:20261116T090000\r\n\
DTSTART;TZID=Asia/Tokyo:20261116T090000\r\nDTEND;TZID=Asia/Tokyo:20261118T120000\r\n\
SUMMARY:Carol covers\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    fn on_call_at(when: &str) -> Vec<String> {
        let t = at(when);
        let rota = Rota::from_ics(
            ROTATION,
            &directory(),
            t - chrono::Duration::days(1),
            t + chrono::Duration::days(1),
        )
        .unwrap();
        rota.on_call(t.timestamp_millis())
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_weekly_rotation_in_a_time_zone_says_who_is_on_call() {
        // Monday 2026-11-09 09:00 Tokyo is 00:00 UTC: Alice from then.
        assert_eq!(on_call_at("2026-11-09T00:00:00Z"), ["Alice"]);
        assert_eq!(on_call_at("2026-11-08T23:59:59Z"), ["Bob"]);
        // Wednesday noon Tokyo (03:00 UTC): Bob, except the week EXDATE cancelled.
        assert_eq!(on_call_at("2026-11-04T03:00:00Z"), ["Bob"]);
        assert!(on_call_at("2026-11-11T03:00:00Z").is_empty());
        // The week Alice's shift was moved to Carol.
        assert_eq!(on_call_at("2026-11-16T01:00:00Z"), ["Carol"]);
        assert_eq!(on_call_at("2026-11-23T01:00:00Z"), ["Alice"]);
    }

    #[test]
    fn garbage_is_an_error_not_an_empty_rota() {
        let d = directory();
        let now = Utc::now();
        assert!(Rota::from_ics("<html>oops</html>", &d, now, now).is_err());
        assert!(Rota::from_ics("", &d, now, now).is_err());
    }

    #[test]
    fn names_match_as_whole_words() {
        assert!(has_words("on call: bob - primary", "bob"));
        assert!(!has_words("on call: bobby", "bob"));
        assert!(has_words("bob", "bob"));
    }
}

#[cfg(test)]
mod bounds {
    use super::*;
    use crate::domain::PhoneNumber;

    /// A feed near the size limit, of events recurring every hour for years: refused within
    /// its bounds (and its time), never expanded for minutes.
    #[test]
    fn a_large_feed_of_long_running_series_is_bounded() {
        let directory = vec![Responder {
            name: "Alice".into(),
            phone: PhoneNumber::parse("+14155550101").unwrap(),
            slack_user: None,
            discord_user: None,
            email: None,
        }];
        let now = Utc::now();
        let event = |i: usize, day: &str, rule: &str| {
            format!(
                "BEGIN:VEVENT\r\nUID:e{i}\r\nDTSTART;TZID=Europe/Berlin:{day}T000000\r\n\
DTEND;TZID=Europe/Berlin:{day}T003000\r\nRRULE:{rule}\r\nSUMMARY:Alice\r\nEND:VEVENT\r\n"
            )
        };
        let feed = |day: &str, rule: &str| {
            let events: String = (0..MAX_EVENTS).map(|i| event(i, day, rule)).collect();
            format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{events}END:VCALENDAR\r\n")
        };
        let until = now + chrono::Duration::days(14);
        // Series that ended long ago: walked, within the budget, then refused.
        let ended = feed("20200101", "FREQ=HOURLY;UNTIL=20250101T000000Z");
        let started = std::time::Instant::now();
        assert_eq!(
            Rota::from_ics(&ended, &directory, now, until),
            Err(RotaError::TooMuchRecurrence)
        );
        eprintln!("{} bytes refused in {:?}", ended.len(), started.elapsed());
        // Series that started yesterday: too many shifts ahead, refused.
        let yesterday = (now - chrono::Duration::days(1))
            .format("%Y%m%d")
            .to_string();
        let running = feed(&yesterday, "FREQ=HOURLY");
        assert_eq!(
            Rota::from_ics(&running, &directory, now, until),
            Err(RotaError::TooManyShifts)
        );
    }
}
