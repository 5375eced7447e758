//! A bridge's health: the calls it could not announce.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use crate::{BridgeStatus, CallId};

/// Calls remembered as unannounced, so their events do not wait for a thread that will not come.
const REMEMBERED: usize = 1000;

/// Announcements that could not be posted, for [`crate::ChatBridge::status`]. Process-local on
/// purpose: it describes this replica's view of the chat service, which is what an operator
/// looking at its `/readyz` wants.
#[derive(Default)]
pub(crate) struct Health(Mutex<State>);

#[derive(Default)]
struct State {
    unannounced: u64,
    /// Whether the latest announcement failed; a later success makes the bridge healthy again
    /// (the count and the last failure stay, for the operator to see).
    failing: bool,
    detail: Option<String>,
    recent: VecDeque<CallId>,
}

impl Health {
    pub fn status(&self) -> BridgeStatus {
        let s = self.lock();
        BridgeStatus {
            healthy: !s.failing,
            detail: s.detail.clone().unwrap_or_else(|| "ok".into()),
            unannounced_calls: s.unannounced,
        }
    }

    /// `call` could not be announced, for the reason `detail`.
    pub fn unannounced(&self, call: &CallId, detail: impl Into<String>) {
        let mut s = self.lock();
        s.unannounced += 1;
        s.failing = true;
        s.detail = Some(detail.into());
        s.recent.push_back(call.clone());
        if s.recent.len() > REMEMBERED {
            s.recent.pop_front();
        }
    }

    /// A call was announced: the bridge works again.
    pub fn announced(&self) {
        self.lock().failing = false;
    }

    /// Whether `call` is one this bridge could not announce (lately).
    pub fn is_unannounced(&self, call: &CallId) -> bool {
        self.lock().recent.contains(call)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_announcement_shows_until_one_succeeds() {
        let health = Health::default();
        assert_eq!(health.status(), BridgeStatus::default());
        let call = CallId::parse("c1").unwrap();
        health.unannounced(&call, "could not announce: channel_not_found");
        let status = health.status();
        assert!(!status.healthy);
        assert_eq!(status.unannounced_calls, 1);
        assert_eq!(status.detail, "could not announce: channel_not_found");
        assert!(health.is_unannounced(&call));
        assert!(!health.is_unannounced(&CallId::parse("c2").unwrap()));
        health.announced();
        let status = health.status();
        assert!(status.healthy);
        assert_eq!(status.unannounced_calls, 1, "the count stays");
    }
}
