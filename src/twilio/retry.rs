//! When and how long to wait before retrying a Twilio request.

use std::time::Duration;

use rand::RngExt as _;
use reqwest::header::HeaderValue;

/// Exponential backoff with jitter for retryable Twilio failures (429, 5xx, network errors).
///
/// The delay before retry `n` (1-based) is `base_delay * 2^(n-1)`, capped at `max_delay`, then
/// scaled by a random factor in [0.5, 1]: the jitter keeps replicas that failed together from
/// retrying together, and the floor keeps a retry from coming back instantly. A `Retry-After` from
/// Twilio is a minimum; one longer than `max_delay` ends the retries instead (waiting less than
/// asked would only earn another 429, and waiting longer than `max_delay` is what the caller
/// said not to do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retries.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // Four attempts over about two seconds ride out a blip at Twilio's edge or a brief 429
        // burst, while a webhook-driven caller still answers within Twilio's 15 s webhook deadline.
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn no_retries() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// How long to wait after failed attempt number `attempt` (1-based), or `None` to give up
    /// because Twilio asked for a longer wait than `max_delay`.
    pub(crate) fn delay_after(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let backoff = ceiling.mul_f64(rand::rng().random_range(0.5..=1.0));
        match retry_after {
            Some(wait) if wait > self.max_delay => None,
            Some(wait) => Some(wait.max(backoff)),
            None => Some(backoff),
        }
    }
}

/// Parses a `Retry-After` header given in seconds (what Twilio sends). The HTTP-date form is
/// ignored, leaving the backoff to decide.
pub(crate) fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    value
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1_000),
        };
        for _ in 0..100 {
            for (attempt, ceiling_ms) in [
                (1, 100),
                (2, 200),
                (3, 400),
                (4, 800),
                (5, 1_000),
                (40, 1_000),
            ] {
                let delay = policy.delay_after(attempt, None).unwrap();
                let ceiling = Duration::from_millis(ceiling_ms);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "attempt {attempt}: {delay:?}"
                );
            }
        }
    }

    #[test]
    fn retry_after_is_a_minimum_up_to_max_delay() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay_after(1, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert!(policy.delay_after(1, Some(Duration::ZERO)).unwrap() >= Duration::from_millis(125));
        assert_eq!(policy.delay_after(1, Some(Duration::from_secs(60))), None);
    }

    #[test]
    fn parses_seconds_only() {
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("3")),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static(" 0 ")),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(&HeaderValue::from_static("-1")), None);
    }
}
