//! Who is rung for a new call: the whole directory, or, on a line with `[line.schedule]`, those
//! the schedule puts on call now (in the directory's order), else its fallback responders.
//! The choice is made once per call, kept with the call (in-order ringing walks it, on any
//! replica) and posted in the call's thread. `GET /api/lines` shows the same choice, made now.

use serde::Serialize;

use super::Line;
use crate::config::{LineSettings, ScheduleSettings};
use crate::domain::{CallId, now_ms};
use crate::schedule::Freshness;

/// Where the list of who is on call comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnCallSource {
    /// The line has no schedule: every responder of its directory.
    Directory,
    /// The schedule, freshly loaded.
    Schedule,
    /// The last good copy of the schedule: its refreshes are failing.
    StaleSchedule,
    /// The schedule's fallback responders: nobody is on call by the schedule now.
    FallbackNobodyOnCall,
    /// The schedule's fallback responders: the schedule has not loaded (or cannot be read).
    FallbackNotLoaded,
}

/// Who is on call on a line now: directory indices, and where they come from.
#[derive(Debug, Clone)]
pub struct OnCallNow {
    pub indices: Vec<usize>,
    pub source: OnCallSource,
}

impl OnCallNow {
    /// Their names, in the directory's order.
    pub fn names<'a>(&self, line: &'a LineSettings) -> Vec<&'a str> {
        self.indices
            .iter()
            .filter_map(|&i| line.responders.get(i).map(|r| r.name.as_str()))
            .collect()
    }
}

/// The responders to ring (directory indices) and, with a schedule, why them.
pub(crate) struct RingList {
    pub indices: Vec<usize>,
    pub note: Option<String>,
}

impl Line {
    /// Who of `line`'s directory is on call now.
    pub async fn on_call_now(&self, line: &LineSettings) -> OnCallNow {
        let Some(schedule) = &line.schedule else {
            return OnCallNow {
                indices: (0..line.responders.len()).collect(),
                source: OnCallSource::Directory,
            };
        };
        let store = self.store();
        let rota = match store.schedule_rota(&schedule.line_id).await {
            Ok(rota) => rota,
            Err(e) => {
                tracing::warn!(line = %schedule.line_id, error = %e, "cannot read the on-call schedule: the fallback is on call");
                None
            }
        };
        let Some(rota) = rota else {
            return fallback(line, schedule, OnCallSource::FallbackNotLoaded);
        };
        let now = now_ms() as i64;
        let on_call = rota.on_call(now);
        let indices: Vec<usize> = line
            .responders
            .iter()
            .enumerate()
            .filter(|(_, r)| on_call.contains(r.name.as_str()))
            .map(|(i, _)| i)
            .collect();
        if indices.is_empty() {
            return fallback(line, schedule, OnCallSource::FallbackNobodyOnCall);
        }
        let fresh = match store.schedule_status(&schedule.line_id).await {
            Ok(status) => Freshness::judge(&status, schedule.refresh, now as u64).is_ok(),
            Err(_) => false,
        };
        OnCallNow {
            indices,
            source: if fresh {
                OnCallSource::Schedule
            } else {
                OnCallSource::StaleSchedule
            },
        }
    }

    /// Who of `line`'s directory to ring for a new call, now, and what the thread is told.
    pub(crate) async fn who_to_ring(&self, id: &CallId, line: &LineSettings) -> RingList {
        let now = self.on_call_now(line).await;
        let names = now.names(line).join(", ");
        let note = match now.source {
            OnCallSource::Directory => None,
            OnCallSource::Schedule | OnCallSource::StaleSchedule => {
                let source = if now.source == OnCallSource::Schedule {
                    "On call now by the schedule"
                } else {
                    "On call now by the last good copy of the schedule (its refreshes are failing)"
                };
                tracing::info!(call = %id, on_call = %names, "ringing who the schedule puts on call");
                Some(format!("{source}: {names}. Ringing them."))
            }
            OnCallSource::FallbackNobodyOnCall | OnCallSource::FallbackNotLoaded => {
                let why = if now.source == OnCallSource::FallbackNotLoaded {
                    "The on-call schedule has not loaded yet"
                } else {
                    "Nobody is on call now by the schedule"
                };
                let note = if now.indices.is_empty() {
                    format!("{why}, and the line has no fallback responders: nobody is rung.")
                } else {
                    format!("{why}: ringing the fallback responders: {names}.")
                };
                tracing::info!(call = %id, %note, "on-call schedule: fallback");
                Some(note)
            }
        };
        RingList {
            indices: now.indices,
            note,
        }
    }
}

/// The fallback responders of `line`'s schedule.
fn fallback(line: &LineSettings, schedule: &ScheduleSettings, source: OnCallSource) -> OnCallNow {
    OnCallNow {
        indices: schedule
            .fallback
            .iter()
            .filter_map(|name| line.responders.iter().position(|r| r.name == *name))
            .collect(),
        source,
    }
}
