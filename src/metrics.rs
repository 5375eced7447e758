//! The counters exposed at `/metrics`, kept by the line, its speakers and its routes.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters exposed at `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub calls_answered: AtomicU64,
    pub calls_refused_store_down: AtomicU64,
    /// Calls from `line.blocked_callers`, refused unanswered.
    pub calls_blocked: AtomicU64,
    pub messages_queued: AtomicU64,
    pub messages_spoken: AtomicU64,
    pub messages_failed: AtomicU64,
    pub speaker_legs: AtomicU64,
    pub speaker_dial_failures: AtomicU64,
    pub webhooks_rejected: AtomicU64,
    pub bridge_errors: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
