//! Escalation: levels of responders rung one after another until someone presses 1, the whole
//! sequence repeated `line.escalation_repeat` times, then voicemail.
//!
//! Each move from one step (a level, in a round) to the next is one compare-and-set in the
//! store (`Store::escalate`): a level's time running out (seen by any replica's sweep) and a
//! responder pressing 2 (on any replica) race safely, and the step moves once. The step's
//! deadline is kept with the call, so when the replica that rang a level stops, another's sweep
//! moves the call on. Each step is posted in the call's thread.

use denwa_chat::LineEvent;

use super::Line;
use crate::config::{Escalation, LineConfig, RingMode};
use crate::domain::{Call, CallId, CallState, Direction, now_ms};
use crate::store::{EscalationPosition, LogFailure as _};

/// Why a call moves on to its next step.
#[derive(Debug, Clone)]
pub(crate) enum Advance {
    /// A new call: its first level.
    Start,
    /// The level's time ran out with nobody pressing 1.
    TimedOut,
    /// Nobody of the level could be rung (all busy on other calls, or Twilio refused).
    NobodyReachable,
    /// A responder pressed 2: their name and index (their leg hangs up by itself, after
    /// hearing that the call was passed on).
    Passed { name: String, index: usize },
}

impl Advance {
    /// The step's label in `denwa_escalation_steps`.
    fn metric(&self) -> &'static str {
        match self {
            Advance::Start => "first",
            Advance::TimedOut => "timed_out",
            Advance::NobodyReachable => "nobody_reachable",
            Advance::Passed { .. } => "passed",
        }
    }
}

/// How a responder leg of an escalation step is placed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepLeg {
    pub step: u64,
    pub in_order: bool,
    /// Seconds the responder's phone rings.
    pub ring_secs: u32,
}

impl Line {
    /// Moves call `id` on from step `from` (`None`: the call is new) and rings the next level,
    /// or, after the last level of the last round, offers voicemail. Does nothing if the step
    /// moved on already (another replica, another key press), someone accepted, or the call
    /// ended.
    pub(crate) async fn escalate(
        &self,
        id: &CallId,
        line: &LineConfig,
        from: Option<u64>,
        why: Advance,
    ) {
        let escalation = &line.settings.escalation;
        let mut from = from;
        let mut why = why;
        // Each pass moves one step; there are `steps()` of them, and voicemail after.
        for _ in 0..=escalation.steps() {
            let next = from.map_or(0, |s| s + 1);
            let (level, _) = escalation.level_of(next);
            let timeout = escalation
                .levels
                .get(level)
                .map_or(0, |l| l.timeout.as_millis() as u64);
            let deadline = now_ms() + timeout;
            let step = match self
                .store()
                .escalate(id, from, escalation.steps(), deadline)
                .await
            {
                Ok(Some(step)) => step,
                Ok(None) => return,
                Err(e) => {
                    // The sweep tries again once the step's deadline passes.
                    tracing::warn!(call = %id, error = %e, "cannot move the escalation on");
                    return;
                }
            };
            // Counted here, after the compare-and-set: each move once, whichever replica won it.
            let metrics = self.metrics();
            metrics.escalation_step(line.id().as_str(), why.metric());
            if step >= escalation.steps() {
                metrics.escalation_step(line.id().as_str(), "exhausted");
            }
            // The sweep looks at the call when this step's time is up, on whichever replica.
            self.store()
                .look_by(id, deadline)
                .await
                .or_log("bring the call's next look to its level's end");
            if from.is_some() {
                let keep = match &why {
                    Advance::Passed { index, .. } => Some(*index),
                    _ => None,
                };
                self.cancel_responder_legs(id, keep).await;
            }
            let moved = step_text(escalation, from, step, &why);
            if step >= escalation.steps() {
                self.note(id, moved);
                self.escalation_done(id, line).await;
                return;
            }
            let (level, _) = escalation.level_of(step);
            let rung = self.ring_level(id, line, step).await;
            if rung.is_empty() {
                self.note(id, moved);
                from = Some(step);
                why = Advance::NobodyReachable;
                continue;
            }
            let ringing = [
                "Ringing level ",
                &(level + 1).to_string(),
                ": ",
                &rung.join(", "),
                ".",
            ]
            .concat();
            self.note(id, [moved, ringing].join(" ").trim().to_owned());
            return;
        }
    }

    /// Every level was rung: voicemail (if the line has it), as when nobody answers a line
    /// without levels.
    async fn escalation_done(&self, id: &CallId, line: &LineConfig) {
        if line.settings.voicemail_after.is_none() {
            return;
        }
        if let Ok(Some(call)) = self.store().call(id).await {
            self.move_to_voicemail(&call).await;
        }
    }

    /// Rings the level of `step`: every member at once, or the first available in order.
    /// Returns the names rung.
    async fn ring_level(&self, id: &CallId, line: &LineConfig, step: u64) -> Vec<String> {
        let escalation = &line.settings.escalation;
        let (level, _) = escalation.level_of(step);
        let Some(level) = escalation.levels.get(level) else {
            return Vec::new();
        };
        let leg = StepLeg {
            step,
            in_order: level.ring == RingMode::InOrder,
            ring_secs: match level.ring {
                RingMode::All => level.timeout.as_secs() as u32,
                // One after another within the level's time.
                RingMode::InOrder => line
                    .settings
                    .ring_timeout
                    .min(level.timeout.as_secs() as u32),
            },
        };
        let name = |index: usize| {
            line.settings
                .responders
                .get(index)
                .map(|r| r.name.clone())
                .unwrap_or_default()
        };
        match level.ring {
            RingMode::All => {
                let mut rung = Vec::new();
                for index in self.level_members(id, line, step).await {
                    if self.dial_responder(id, index, Some(leg)).await {
                        rung.push(name(index));
                    }
                }
                rung
            }
            RingMode::InOrder => self
                .ring_next_in_level(id, line, leg)
                .await
                .map(name)
                .into_iter()
                .collect(),
        }
    }

    /// The members of step `step`'s level to ring: on a line with an on-call schedule, those
    /// the schedule chose for the call (on call now, or its fallback); the rest are skipped.
    async fn level_members(&self, id: &CallId, line: &LineConfig, step: u64) -> Vec<usize> {
        let escalation = &line.settings.escalation;
        let Some(level) = escalation.levels.get(escalation.level_of(step).0) else {
            return Vec::new();
        };
        if line.settings.schedule.is_none() {
            return level.members.clone();
        }
        match self.store().ring_list(id).await {
            Ok(Some(on_call)) => level
                .members
                .iter()
                .copied()
                .filter(|m| on_call.contains(m))
                .collect(),
            Ok(None) => level.members.clone(),
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "cannot read who is on call: ringing the whole level");
                level.members.clone()
            }
        }
    }

    /// In-order ringing within a level: dials its next available member. Returns whom.
    async fn ring_next_in_level(
        &self,
        id: &CallId,
        line: &LineConfig,
        leg: StepLeg,
    ) -> Option<usize> {
        let members = self.level_members(id, line, leg.step).await;
        // Bounded by the level's members: each pass takes the next.
        for _ in 0..members.len() {
            let next = match self.store().next_level_member(id, leg.step).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(call = %id, error = %e, "cannot pick the level's next responder");
                    return None;
                }
            };
            let index = *members.get(next)?;
            if self.dial_responder(id, index, Some(leg)).await {
                return Some(index);
            }
        }
        None
    }

    /// A responder leg of an in-order level ended unanswered: ring the level's next member,
    /// or, when none is left, move on to the next level at once.
    pub(crate) async fn escalation_leg_ended(&self, id: &CallId, line: &LineConfig, index: usize) {
        let escalation = &line.settings.escalation;
        let (Ok(Some(position)), Ok(Some(step))) = (
            self.store().escalation_position(id).await,
            self.store().responder_step(id, index).await,
        ) else {
            return;
        };
        let Some(level) = escalation.levels.get(escalation.level_of(step).0) else {
            return;
        };
        if position.step != step || level.ring != RingMode::InOrder {
            return;
        }
        let leg = StepLeg {
            step,
            in_order: true,
            ring_secs: line
                .settings
                .ring_timeout
                .min(level.timeout.as_secs() as u32),
        };
        match self.ring_next_in_level(id, line, leg).await {
            Some(index) => {
                let name = line.settings.responders.get(index).map(|r| r.name.as_str());
                self.note(
                    id,
                    ["Ringing ", name.unwrap_or("the next responder"), "."].concat(),
                );
            }
            None => self.escalate(id, line, Some(step), Advance::TimedOut).await,
        }
    }

    /// Responder `index` pressed 2: the call moves to the next level now (if it is still on
    /// the level they were rung for).
    pub(crate) async fn pass_on(&self, id: &CallId, line: &LineConfig, index: usize) {
        let Ok(Some(step)) = self.store().responder_step(id, index).await else {
            return;
        };
        let name = line
            .settings
            .responders
            .get(index)
            .map_or_else(|| "A responder".to_owned(), |r| r.name.clone());
        self.escalate(id, line, Some(step), Advance::Passed { name, index })
            .await;
    }

    /// Responder `index` took the call: said in the thread with the level they were rung for.
    pub(crate) async fn escalation_accepted(&self, id: &CallId, line: &LineConfig, index: usize) {
        let escalation = &line.settings.escalation;
        let name = line
            .settings
            .responders
            .get(index)
            .map_or("A responder", |r| r.name.as_str());
        let level = match self.store().responder_step(id, index).await {
            Ok(Some(step)) => [
                " (level ",
                &(escalation.level_of(step).0 + 1).to_string(),
                ")",
            ]
            .concat(),
            _ => String::new(),
        };
        self.metrics()
            .escalation_step(line.id().as_str(), "accepted");
        self.note(id, [name, " accepted the call", &level, "."].concat());
    }

    /// The sweep's check: a call whose level's time is up moves on, whichever replica rang it.
    /// `position`: where its escalation is, read with the call.
    pub(crate) async fn escalate_if_due(&self, call: &Call, position: EscalationPosition) {
        let line = self.line_of(call);
        if !line.settings.escalation.is_on()
            || call.direction != Direction::Inbound
            || call.state == CallState::Ended
        {
            return;
        }
        if position.deadline_ms.is_some_and(|d| d <= now_ms()) {
            tracing::info!(call = %call.id, step = position.step, "nobody answered the level in time: escalating");
            self.escalate(&call.id, line, Some(position.step), Advance::TimedOut)
                .await;
        }
    }

    /// Posts an escalation step in the call's thread.
    fn note(&self, id: &CallId, text: String) {
        if text.is_empty() {
            return;
        }
        self.publish(LineEvent::Escalation {
            call_id: id.clone(),
            text,
        });
    }
}

/// What the thread is told of a move from step `from` to `step`: why the last level was left,
/// and where the call goes ("" for the first level of a new call).
fn step_text(escalation: &Escalation, from: Option<u64>, step: u64, why: &Advance) -> String {
    let Some(from) = from else {
        return String::new();
    };
    let left = (escalation.level_of(from).0 + 1).to_string();
    let reason = match why {
        Advance::Start => String::new(),
        Advance::TimedOut => ["Nobody answered level ", &left, ":"].concat(),
        Advance::NobodyReachable => ["Nobody of level ", &left, " could be rung:"].concat(),
        Advance::Passed { name, .. } => [name.as_str(), " passed the call on:"].concat(),
    };
    let next = if step >= escalation.steps() {
        "to voicemail.".to_owned()
    } else {
        let (level, round) = escalation.level_of(step);
        if level == 0 {
            [
                "repeating from level 1 (round ",
                &(round + 1).to_string(),
                " of ",
                &(escalation.repeat + 1).to_string(),
                ").",
            ]
            .concat()
        } else {
            ["trying level ", &(level + 1).to_string(), "."].concat()
        }
    };
    [reason, next].join(" ").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::EscalationLevel;

    fn two_levels(repeat: u32) -> Escalation {
        let level = |members: Vec<usize>| EscalationLevel {
            members,
            ring: RingMode::All,
            timeout: Duration::from_secs(30),
        };
        Escalation {
            levels: vec![level(vec![0]), level(vec![1])],
            repeat,
        }
    }

    #[test]
    fn each_move_says_why_and_where() {
        let e = two_levels(1);
        assert_eq!(e.steps(), 4);
        assert_eq!(step_text(&e, None, 0, &Advance::Start), "");
        assert_eq!(
            step_text(&e, Some(0), 1, &Advance::TimedOut),
            "Nobody answered level 1: trying level 2."
        );
        assert_eq!(
            step_text(&e, Some(1), 2, &Advance::TimedOut),
            "Nobody answered level 2: repeating from level 1 (round 2 of 2)."
        );
        assert_eq!(
            step_text(
                &e,
                Some(0),
                1,
                &Advance::Passed {
                    name: "Alice".into(),
                    index: 0
                }
            ),
            "Alice passed the call on: trying level 2."
        );
        assert_eq!(
            step_text(&e, Some(3), 4, &Advance::TimedOut),
            "Nobody answered level 2: to voicemail."
        );
    }
}
