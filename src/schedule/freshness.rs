//! Whether the schedule in use can be trusted: loaded, and refreshed lately without error.

use std::time::Duration;

use serde::Serialize;

use crate::store::ScheduleStatus;

/// How the schedule in use stands, as `/readyz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Freshness {
    /// The last refresh loaded the feed, recently enough.
    Ok { loaded_at_ms: u64 },
    /// The last good copy is in use, but it is old or the last refresh failed.
    Stale { loaded_at_ms: u64, reason: String },
    /// The feed never loaded: the fallback responders are rung.
    NeverLoaded { reason: String },
}

/// Refreshes that may be missed (a replica restarting, a slow feed) before a copy counts as
/// stale even without a recorded error.
const MISSED_REFRESHES: u32 = 3;

impl Freshness {
    pub fn judge(status: &ScheduleStatus, refresh: Duration, now_ms: u64) -> Freshness {
        let Some(loaded_at_ms) = status.loaded_at else {
            return Freshness::NeverLoaded {
                reason: status
                    .error
                    .clone()
                    .unwrap_or_else(|| "no refresh has finished yet".into()),
            };
        };
        if let Some(error) = &status.error {
            return Freshness::Stale {
                loaded_at_ms,
                reason: format!("the last refresh failed: {error}"),
            };
        }
        let allowed = (refresh * MISSED_REFRESHES + super::feed::FETCH_TIMEOUT).as_millis() as u64;
        if now_ms.saturating_sub(loaded_at_ms) > allowed {
            return Freshness::Stale {
                loaded_at_ms,
                reason: format!(
                    "no refresh has succeeded for {} s",
                    (now_ms - loaded_at_ms) / 1000
                ),
            };
        }
        Freshness::Ok { loaded_at_ms }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Freshness::Ok { .. })
    }
}
