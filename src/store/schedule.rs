//! A line's on-call schedule as every replica sees it: the last good rota, when it was loaded,
//! and what went wrong with the last refresh, if anything. One replica refreshes per period
//! (the lease); all read.

use std::time::Duration;

use super::{Store, StoreError, StoreResult};
use crate::schedule::Rota;

/// What the store knows of a schedule's refreshes (the rota itself is read separately: it may
/// be large, and health checks do not need it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleStatus {
    /// Unix ms of the last refresh that loaded the feed.
    pub loaded_at: Option<u64>,
    /// Unix ms of the last refresh tried, good or bad.
    pub attempted_at: Option<u64>,
    /// Why the last refresh failed; `None` once one succeeds.
    pub error: Option<String>,
}

impl Store {
    /// Takes the refresh lease of `line`'s schedule for `period` if no replica holds it.
    pub async fn take_schedule_lease(
        &self,
        line: &str,
        token: &str,
        period: Duration,
    ) -> StoreResult<bool> {
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.keys.schedule_lease(line))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(period.as_millis() as u64)
            .query_async(&mut self.conn())
            .await?;
        Ok(taken.is_some())
    }

    /// A refresh loaded the feed: its rota replaces the last, and the error is cleared.
    pub async fn schedule_loaded(&self, line: &str, rota: &Rota, at_ms: u64) -> StoreResult<()> {
        let json = serde_json::to_string(rota).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let key = self.keys.schedule(line);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("HSET")
            .arg(&key)
            .arg("rota")
            .arg(json)
            .arg("loaded_at")
            .arg(at_ms)
            .arg("attempted_at")
            .arg(at_ms)
            .ignore()
            .cmd("HDEL")
            .arg(&key)
            .arg("error")
            .ignore();
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// A refresh failed: the last good rota stays; the reason is kept for `/readyz`.
    pub async fn schedule_failed(&self, line: &str, error: &str, at_ms: u64) -> StoreResult<()> {
        let _: () = redis::cmd("HSET")
            .arg(self.keys.schedule(line))
            .arg("error")
            .arg(error)
            .arg("attempted_at")
            .arg(at_ms)
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub async fn schedule_status(&self, line: &str) -> StoreResult<ScheduleStatus> {
        let (loaded_at, attempted_at, error): (Option<u64>, Option<u64>, Option<String>) =
            redis::cmd("HMGET")
                .arg(self.keys.schedule(line))
                .arg(&["loaded_at", "attempted_at", "error"])
                .query_async(&mut self.conn())
                .await?;
        Ok(ScheduleStatus {
            loaded_at,
            attempted_at,
            error,
        })
    }

    /// The last good rota; `None` if the feed never loaded.
    pub async fn schedule_rota(&self, line: &str) -> StoreResult<Option<Rota>> {
        let json: Option<String> = redis::cmd("HGET")
            .arg(self.keys.schedule(line))
            .arg("rota")
            .query_async(&mut self.conn())
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }
}
