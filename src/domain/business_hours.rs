//! `BusinessHours`: when a line is open, in its own time zone. Weekly hours (several ranges a
//! day, a day without any closed) and holiday dates (closed all day), judged at an instant.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

/// Days in the order config and `chrono::Weekday::num_days_from_monday` use.
pub const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Minutes since local midnight, 0..=1440 (1440 is "24:00", the end of the day).
type Minute = u16;

/// An open range within one day: `start` inclusive, `end` exclusive, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenRange {
    start: Minute,
    end: Minute,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    timezone: Tz,
    /// Monday first; an empty day is closed.
    week: [Vec<OpenRange>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// Why a day's hours could not be read; the message is meant for `denwa check`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HoursError(String);

impl OpenRange {
    /// `"09:00-17:00"`; `24:00` may end a range. An overnight range is two ranges on two days.
    pub fn parse(text: &str) -> Result<OpenRange, HoursError> {
        let bad = |why: &str| {
            HoursError(format!(
                "{text:?} is not a time range like \"09:00-17:00\": {why}"
            ))
        };
        let (start, end) = text
            .trim()
            .split_once('-')
            .ok_or_else(|| bad("no '-' between the start and the end"))?;
        let start = minute(start).ok_or_else(|| bad("the start is not HH:MM"))?;
        let end = minute(end).ok_or_else(|| bad("the end is not HH:MM (24:00 ends the day)"))?;
        if start >= end {
            return Err(bad(
                "it must end after it starts (write an overnight range as two days' ranges)",
            ));
        }
        Ok(OpenRange { start, end })
    }

    fn contains(&self, minute: Minute) -> bool {
        (self.start..self.end).contains(&minute)
    }
}

/// `HH:MM`, 00:00 to 24:00.
fn minute(text: &str) -> Option<Minute> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (Minute, Minute) = (h.parse().ok()?, m.parse().ok()?);
    let total = h.checked_mul(60)? + m;
    (m < 60 && total <= 24 * 60).then_some(total)
}

/// A day's ranges, comma-separated: `"09:00-12:00, 13:00-17:00"`; at most 24 of them.
pub fn parse_day(text: &str) -> Result<Vec<OpenRange>, HoursError> {
    let ranges = text
        .split(',')
        .filter(|r| !r.trim().is_empty())
        .map(OpenRange::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if ranges.len() > 24 {
        return Err(HoursError("more than 24 ranges in one day".into()));
    }
    Ok(ranges)
}

/// `"2026-12-25"`.
pub fn parse_holiday(text: &str) -> Result<NaiveDate, HoursError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| HoursError(format!("{text:?} is not a date like \"2026-12-25\": {e}")))
}

impl BusinessHours {
    pub fn new(timezone: Tz, week: [Vec<OpenRange>; 7], holidays: BTreeSet<NaiveDate>) -> Self {
        BusinessHours {
            timezone,
            week,
            holidays,
        }
    }

    /// Whether the line is open at `at`: a holiday (a date in the line's time zone) is closed
    /// all day, whatever its weekday's hours.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.timezone);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let day = local.weekday().num_days_from_monday() as usize;
        let time: NaiveTime = local.time();
        let minute = (time.hour() * 60 + time.minute()) as Minute;
        self.week[day].iter().any(|r| r.contains(minute))
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }
}

impl fmt::Display for OpenRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: Minute| (m / 60, m % 60);
        let ((sh, sm), (eh, em)) = (hm(self.start), hm(self.end));
        write!(f, "{sh:02}:{sm:02}-{eh:02}:{em:02}")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn hours(monday: &str, holidays: &[&str]) -> BusinessHours {
        let mut week: [Vec<OpenRange>; 7] = Default::default();
        week[0] = parse_day(monday).unwrap();
        BusinessHours::new(
            chrono_tz::Asia::Tokyo,
            week,
            holidays.iter().map(|h| parse_holiday(h).unwrap()).collect(),
        )
    }

    #[test]
    fn ranges_are_judged_in_the_line_time_zone() {
        let h = hours("09:00-12:00, 13:00-24:00", &[]);
        // 2026-12-07 is a Monday; Tokyo is UTC+9.
        let tokyo = |hh, mm| {
            chrono_tz::Asia::Tokyo
                .with_ymd_and_hms(2026, 12, 7, hh, mm, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert!(!h.is_open(tokyo(8, 59)));
        assert!(h.is_open(tokyo(9, 0)));
        assert!(!h.is_open(tokyo(12, 30)));
        assert!(h.is_open(tokyo(23, 59)));
        // Tuesday has no hours: closed.
        assert!(!h.is_open(tokyo(9, 0) + chrono::Duration::days(1)));
        let holiday = hours("00:00-24:00", &["2026-12-07"]);
        assert!(!holiday.is_open(tokyo(10, 0)));
        assert!(holiday.is_open(tokyo(10, 0) + chrono::Duration::days(7)));
    }

    #[test]
    fn bad_ranges_and_dates_say_why() {
        for bad in [
            "9-17",
            "09:00",
            "17:00-09:00",
            "09:00-24:01",
            "25:00-26:00",
            "09:60-10:00",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_day("").unwrap(), vec![]);
        assert_eq!(
            parse_day("00:00-24:00").unwrap()[0].to_string(),
            "00:00-24:00"
        );
        assert!(parse_holiday("2026-02-30").is_err());
        assert!(parse_holiday("25/12/2026").is_err());
    }
}
