//! Asking Twilio about calls it has gone quiet about.
//!
//! A call ends when Twilio's callbacks say so. One that arrives while Redis is down is lost:
//! Twilio does not send a callback again, so without more the call would stay active for ever
//! (live in chat, offered voicemail, swept every few seconds). So the sweep asks Twilio
//! (`GET Calls/{Sid}.json`) about every call it has heard nothing of for
//! `line.status_check_after`, and ends those Twilio reports finished, as their callback would have.
//!
//! Asking is bounded, so that a thousand quiet calls cannot storm Twilio: each call is asked about
//! at most once per `status_check_after` across every replica (the store hands out the claim),
//! and one sweep asks about at most [`MAX_CHECKS_PER_SWEEP`] calls, the longest quiet first.

use std::time::Duration;

use super::Line;
use super::call_status::caller_end_reason;
use crate::domain::{Call, CallState, now_ms};

/// Calls one sweep asks Twilio about, at most. Every replica sweeps at least every 10 s, so a
/// replica asks a few times a second at most; calls beyond it wait for the next sweep, the
/// longest quiet first.
pub(crate) const MAX_CHECKS_PER_SWEEP: usize = 20;

/// How long placing an outbound call may take before a call Twilio never named counts as never
/// placed: well beyond the REST client's worst case (4 tries of 10 s, with their pauses), so a
/// slow Twilio never has a call ended under it.
const PLACING_TAKES_AT_MOST: Duration = Duration::from_secs(120);

impl Line {
    /// Asks Twilio about the calls (of `calls`) due for it, at once, and ends those that are over.
    pub(crate) async fn check_quiet_calls(&self, calls: &[Call]) {
        // Each call by its own line's `status_check_after`.
        let quiet = |call: &Call| self.line_of(call).settings.status_check_after;
        let due = due_for_check(calls, quiet, now_ms());
        futures::future::join_all(
            due.into_iter()
                .map(|call| self.check_call(call, quiet(call))),
        )
        .await;
    }

    async fn check_call(&self, call: &Call, quiet: Duration) {
        match self.store().claim_status_check(&call.id, quiet).await {
            Ok(true) => {}
            Ok(false) => return, // another replica asked, or Twilio spoke of it meanwhile
            Err(e) => {
                tracing::warn!(call = %call.id, error = %e, "cannot claim a status check");
                return;
            }
        }
        let Some(call_sid) = &call.call_sid else {
            if now_ms().saturating_sub(call.started_at) < PLACING_TAKES_AT_MOST.as_millis() as u64 {
                return; // still being placed, perhaps
            }
            // The replica placing the call stopped before Twilio said which call it is: nothing
            // will ever be heard of it.
            tracing::warn!(call = %call.id, "an outbound call was never placed: ending it");
            self.end_call(&call.id, "the call could not be placed", None)
                .await;
            return;
        };
        match self.twilio().fetch_call(call_sid).await {
            Ok(twilio) if twilio.status.is_final() => {
                tracing::warn!(
                    call = %call.id,
                    status = twilio.status.as_str(),
                    "Twilio reports a call over whose end denwa never heard of: ending it"
                );
                self.end_call(&call.id, &caller_end_reason(twilio.status), None)
                    .await;
            }
            Ok(twilio) => {
                tracing::debug!(call = %call.id, status = twilio.status.as_str(), "the call is still on");
            }
            // Asked again after another quiet period: an error is no evidence the call is over.
            Err(e) => tracing::warn!(call = %call.id, error = %e, "cannot ask Twilio about a call"),
        }
    }
}

/// The calls due for a check: live, quiet for at least `quiet`, the longest quiet first, at most
/// [`MAX_CHECKS_PER_SWEEP`]. (The store's claim has the last word.)
fn due_for_check(calls: &[Call], quiet: impl Fn(&Call) -> Duration, now: u64) -> Vec<&Call> {
    let mut due: Vec<&Call> = calls
        .iter()
        .filter(|c| {
            c.state != CallState::Ended
                && now.saturating_sub(c.quiet_since()) >= quiet(c).as_millis() as u64
        })
        .collect();
    due.sort_by_key(|c| c.quiet_since());
    due.truncate(MAX_CHECKS_PER_SWEEP);
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(n: usize, state: CallState, last_activity_at: u64, checked: Option<u64>) -> Call {
        Call {
            state,
            last_activity_at,
            status_checked_at: checked,
            ..Call::sample(n)
        }
    }

    #[test]
    fn only_live_calls_quiet_for_the_period_are_due_the_longest_quiet_first() {
        let quiet = Duration::from_secs(60);
        let now = 1_000_000;
        let calls = [
            call(0, CallState::Connected, now - 61_000, None),
            call(1, CallState::Connected, now - 10_000, None),
            call(2, CallState::Ringing, now - 500_000, Some(now - 30_000)),
            call(3, CallState::Ended, 0, None),
            call(4, CallState::Ringing, now - 900_000, Some(now - 70_000)),
        ];
        let due: Vec<&str> = due_for_check(&calls, |_| quiet, now)
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(due, ["call4", "call0"]);
    }

    #[test]
    fn a_sweep_asks_about_a_bounded_number_of_calls() {
        let calls: Vec<Call> = (0..3 * MAX_CHECKS_PER_SWEEP)
            .map(|n| call(n, CallState::Connected, n as u64, None))
            .collect();
        let due = due_for_check(&calls, |_| Duration::from_secs(60), 10_000_000);
        assert_eq!(due.len(), MAX_CHECKS_PER_SWEEP);
        assert_eq!(due[0].id.as_str(), "call0");
    }
}
