//! `[line.schedule]`: the line's responders come from an iCalendar feed (who is on call now),
//! with fallback responders for when nobody is, or the feed never loaded.
//!
//! Read from the line's own table (`section`), so several lines each bring their own.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::Responder;
use super::reader::Raw;

/// Where the feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleSource {
    /// `url`: http(s), fetched at each refresh.
    Url(Url),
    /// `file`: read at each refresh (a feed another tool writes).
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSettings {
    /// Names the schedule in the store (the line's id): replicas of one line share it.
    pub line_id: String,
    pub source: ScheduleSource,
    /// How often one replica reads the feed again.
    pub refresh: Duration,
    /// Directory names rung when nobody is on call (or the feed never loaded), in order.
    pub fallback: Vec<String>,
}

/// `refresh` bounds, seconds: not more often than every 5 s (feeds are served by someone
/// else), and at least daily.
const REFRESH_RANGE: (u64, u64) = (5, 86_400);
const REFRESH_DEFAULT: u64 = 300;

impl Raw {
    /// `[<section>.schedule]` of a line whose directory is `responders`; `None` when absent
    /// (the line rings its whole directory) or wrong (problems recorded).
    pub(super) fn schedule(
        &mut self,
        section: &str,
        line_id: &str,
        responders: &[Responder],
    ) -> Option<ScheduleSettings> {
        if !self.sub_table(section, "schedule") {
            return None;
        }
        let key = |k: &str| format!("{section}.schedule.{k}");
        // Empty is unset, so an environment variable can turn off the file's value.
        let url = self
            .string(section, "schedule.url")
            .filter(|u| !u.trim().is_empty());
        let file = self
            .string(section, "schedule.file")
            .filter(|f| !f.trim().is_empty());
        let source = match (url, file) {
            (Some(_), Some(_)) => {
                self.problem(key("file"), "set schedule.url or schedule.file, not both");
                None
            }
            (Some(url), None) => self
                .url(section, "schedule.url", Some(url))
                .map(ScheduleSource::Url),
            (None, Some(file)) => Some(ScheduleSource::File(PathBuf::from(file.trim()))),
            (None, None) => {
                self.problem(
                    key("url"),
                    "is required: the iCalendar feed's http(s) URL (or set schedule.file)",
                );
                None
            }
        };
        let refresh = Duration::from_secs(self.integer(
            section,
            "schedule.refresh",
            REFRESH_DEFAULT,
            REFRESH_RANGE,
        ));
        let fallback = self.list(section, "schedule.fallback");
        for name in &fallback {
            if !responders.iter().any(|r| r.name == *name) {
                self.problem(
                    key("fallback"),
                    format!("{name:?} is not the name of one of [[{section}.responders]]"),
                );
            }
        }
        if responders.is_empty() {
            self.problem(
                format!("{section}.schedule"),
                format!("needs [[{section}.responders]]: the feed's names and e-mails are matched against them"),
            );
        }
        Some(ScheduleSettings {
            line_id: line_id.to_owned(),
            source: source?,
            refresh,
            fallback,
        })
    }
}
