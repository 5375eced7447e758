//! Escalation's state, kept with the call (`esc_*` fields of its hash) so that any replica, the
//! sweep included, carries a call from one level to the next.

use redis::AsyncCommands as _;

use super::{Store, StoreResult, scripts};
use crate::domain::{CallId, now_ms};

/// Where a call's escalation is: its step (level and round, see `config::Escalation`) and when
/// that step's time is up (ms since the epoch; `None` once past the last step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationPosition {
    pub step: u64,
    pub deadline_ms: Option<u64>,
}

/// A level's time is up at `esc_deadline`; the sweep (`line::sweep`) reads it with the call.
pub(super) fn escalation_position(
    fields: &std::collections::HashMap<String, String>,
) -> Option<EscalationPosition> {
    Some(EscalationPosition {
        step: fields.get("esc_step")?.parse().ok()?,
        deadline_ms: fields.get("esc_deadline").and_then(|d| d.parse().ok()),
    })
}

impl Store {
    /// Moves the call's escalation from step `from` (`None`: not begun) to the next, once: of
    /// replicas racing to advance the same step, one wins. Refused (`None`) when the step has
    /// moved on, someone accepted, voicemail began or the call ended. `steps` is how many there
    /// are; the step returned may equal it (every level was rung: voicemail next).
    pub async fn escalate(
        &self,
        id: &CallId,
        from: Option<u64>,
        steps: u64,
        next_deadline_ms: u64,
    ) -> StoreResult<Option<u64>> {
        let from = from.map_or(-1, |s| s as i64);
        let next: i64 = scripts::ESCALATE
            .key(self.keys.call(id))
            .arg(from)
            .arg(steps)
            .arg(now_ms())
            .arg(next_deadline_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(u64::try_from(next).ok())
    }

    /// The call's escalation step, if it began.
    pub async fn escalation_position(
        &self,
        id: &CallId,
    ) -> StoreResult<Option<EscalationPosition>> {
        let (step, deadline): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(self.keys.call(id))
            .arg("esc_step")
            .arg("esc_deadline")
            .query_async(&mut self.conn())
            .await?;
        Ok(step.map(|step| EscalationPosition {
            step,
            deadline_ms: deadline,
        }))
    }

    /// The next member (0, 1, 2, ...) of step `step`'s level to ring in order.
    pub async fn next_level_member(&self, id: &CallId, step: u64) -> StoreResult<usize> {
        let next: i64 = self
            .conn()
            .hincr(self.keys.call(id), format!("esc_next:{step}"), 1)
            .await?;
        Ok((next - 1).max(0) as usize)
    }

    /// Responder `index` was rung for step `step` (their pressing 2 passes that step on).
    pub async fn set_responder_step(
        &self,
        id: &CallId,
        index: usize,
        step: u64,
    ) -> StoreResult<()> {
        let _: () = self
            .conn()
            .hset(self.keys.call(id), format!("esc_leg_step:{index}"), step)
            .await?;
        Ok(())
    }

    /// The step responder `index` was last rung for.
    pub async fn responder_step(&self, id: &CallId, index: usize) -> StoreResult<Option<u64>> {
        Ok(self
            .call_field(id, &format!("esc_leg_step:{index}"))
            .await?
            .and_then(|v| v.parse().ok()))
    }
}
