//! Who is rung for a new call: the whole directory, or, on a line with `[line.schedule]`, those
//! the schedule puts on call now (in the directory's order), else its fallback responders.
//! The choice is made once per call, kept with the call (in-order ringing walks it, on any
//! replica) and posted in the call's thread.

use super::Line;
use crate::config::{LineSettings, ScheduleSettings};
use crate::domain::{CallId, now_ms};
use crate::schedule::Freshness;

/// The responders to ring (directory indices) and, with a schedule, why them.
pub(crate) struct RingList {
    pub indices: Vec<usize>,
    pub note: Option<String>,
}

impl Line {
    /// Who of `line`'s directory to ring for a new call, now.
    pub(crate) async fn who_to_ring(&self, id: &CallId, line: &LineSettings) -> RingList {
        let Some(schedule) = &line.schedule else {
            return RingList {
                indices: (0..line.responders.len()).collect(),
                note: None,
            };
        };
        let store = self.store();
        let rota = match store.schedule_rota(&schedule.line_id).await {
            Ok(rota) => rota,
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "cannot read the on-call schedule: ringing the fallback");
                None
            }
        };
        let Some(rota) = rota else {
            return fallback(line, schedule, "The on-call schedule has not loaded yet");
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
            return fallback(line, schedule, "Nobody is on call now by the schedule");
        }
        let fresh = match store.schedule_status(&schedule.line_id).await {
            Ok(status) => Freshness::judge(&status, schedule.refresh, now as u64).is_ok(),
            Err(_) => false,
        };
        let source = if fresh {
            "On call now by the schedule"
        } else {
            "On call now by the last good copy of the schedule (its refreshes are failing)"
        };
        let names = names_of(line, &indices);
        tracing::info!(call = %id, on_call = %names, "ringing who the schedule puts on call");
        RingList {
            indices,
            note: Some(format!("{source}: {names}. Ringing them.")),
        }
    }
}

/// The fallback responders of `line`'s schedule, and why they are rung.
fn fallback(line: &LineSettings, schedule: &ScheduleSettings, why: &str) -> RingList {
    let indices: Vec<usize> = schedule
        .fallback
        .iter()
        .filter_map(|name| line.responders.iter().position(|r| r.name == *name))
        .collect();
    let note = if indices.is_empty() {
        format!("{why}, and the line has no fallback responders: nobody is rung.")
    } else {
        format!(
            "{why}: ringing the fallback responders: {}.",
            names_of(line, &indices)
        )
    };
    tracing::info!(%note, "on-call schedule: fallback");
    RingList {
        indices,
        note: Some(note),
    }
}

/// "Alice, Bob".
fn names_of(line: &LineSettings, indices: &[usize]) -> String {
    indices
        .iter()
        .filter_map(|&i| line.responders.get(i).map(|r| r.name.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
