//! Dialling a speaker again while Twilio will not place it: per call, exponential, jittered,
//! bounded.
//!
//! The REST client does not retry `Calls.json` after a 5xx or a timeout (Twilio may have placed
//! the call: https://www.twilio.com/docs/api/errors/20500), so a failed dial comes back here.
//! Dialling again at once would hammer a Twilio that is struggling, once per call with messages
//! waiting, every time a message arrives and every sweep. Instead the call waits: 1 s after the
//! first failure, doubling up to 16 s, each wait scaled by a random factor in [0.5, 1] (calls that
//! failed together do not come back together) and never shorter than Twilio's `Retry-After`.
//! The wait is kept in the call's hash, so the sweep and every replica keep it, and new messages
//! wait with the others. After [`DIAL_ATTEMPTS`] failed dials in a row (at most about 31 s) the
//! messages waiting fail, each with its receipt saying why: the team learns that Twilio is down
//! while the caller is still there, rather than never.

use std::time::Duration;

use super::SpeechContext;
use crate::domain::CallId;
use crate::twilio::{RetryPolicy, TwilioError};

/// Dials in a row that may fail before the waiting messages do.
pub(crate) const DIAL_ATTEMPTS: u32 = 6;

const BACKOFF: RetryPolicy = RetryPolicy {
    max_attempts: DIAL_ATTEMPTS,
    base_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(16),
};

/// The waits after failed dial 1, 2, ... `DIAL_ATTEMPTS - 1`, each jittered, none shorter than
/// `retry_after`. The store picks the one for the call's count of failures in a row.
fn waits(retry_after: Option<Duration>) -> Vec<Duration> {
    (1..DIAL_ATTEMPTS)
        .map(|failure| {
            let backoff = BACKOFF
                .delay_after(failure, None)
                .unwrap_or(BACKOFF.max_delay);
            retry_after.map_or(backoff, |asked| asked.max(backoff))
        })
        .collect()
}

/// Twilio did not place speaker `leg` of call `id`: the call waits before its next dial, or,
/// with the dials run out, its waiting messages fail with `error` as the reason.
pub(crate) async fn dial_failed(
    speech: &SpeechContext,
    id: &CallId,
    leg: &str,
    error: &TwilioError,
) {
    speech.metrics().speaker_dial_failures.inc();
    let reason = format!("Twilio did not place the speaker call: {error}");
    let outcome = speech
        .store()
        .speaker_dial_failed(id, leg, &reason, &waits(error.retry_after()))
        .await;
    match outcome {
        Ok(failure) => {
            speech.publish_receipts(id, &[], &failure.failed).await;
            match failure.retry_in {
                Some(wait) => {
                    tracing::warn!(call = %id, error = %error, retry_in_ms = wait.as_millis() as u64, "Twilio did not place the speaker call; dialling again later");
                    super::kick_after(speech, id, wait);
                }
                None if failure.was_current => {
                    tracing::error!(call = %id, error = %error, failed = failure.failed.len(), "Twilio did not place the speaker call {DIAL_ATTEMPTS} times in a row; the waiting messages failed");
                }
                None => {}
            }
        }
        // The dial lease lapses by itself and the sweep dials again: no backoff is recorded,
        // but nor can a store that does not answer let anyone dial.
        Err(e) => tracing::warn!(call = %id, error = %e, "cannot record a failed speaker dial"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_within_jitter_and_keep_retry_after() {
        for _ in 0..50 {
            let waits = waits(None);
            assert_eq!(waits.len(), DIAL_ATTEMPTS as usize - 1);
            for (i, wait) in waits.iter().enumerate() {
                let ceiling = Duration::from_secs(1 << i).min(BACKOFF.max_delay);
                assert!(*wait >= ceiling / 2 && *wait <= ceiling, "{i}: {wait:?}");
            }
        }
        let asked = Duration::from_secs(20);
        assert!(waits(Some(asked)).iter().all(|w| *w == asked));
    }
}
