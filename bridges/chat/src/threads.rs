//! A bridge's call threads: each call's thread is linked in the line's store, so every replica
//! finds it, and events that belong in a thread wait (bounded) for it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::{BridgeStatus, CallId, Health, LineControl, LineRefused};

/// How long an event that belongs in a call's thread waits for the announcement to be posted:
/// the line hands events to a bridge concurrently, so a call's end can come before its
/// announcement is posted, and the announcement may be retrying a rate limit (both bridges'
/// clients honour `Retry-After`, Discord's for up to 30 s a request).
pub const THREAD_WAIT: Duration = Duration::from_secs(60);
/// The first pause between looks; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(1);

/// One bridge's call threads, and the announcements it could not post (its health:
/// [`Threads::status`]).
pub struct Threads {
    bridge: &'static str,
    line: Arc<dyn LineControl>,
    health: Health,
}

impl Threads {
    pub fn new(bridge: &'static str, line: Arc<dyn LineControl>) -> Self {
        Self {
            bridge,
            line,
            health: Health::default(),
        }
    }

    /// Links `thread` (the bridge's own name for it) to `call`, in the line's store.
    pub async fn link(&self, call: &CallId, thread: &str) -> Result<(), LineRefused> {
        self.line.link_thread(self.bridge, call, thread).await
    }

    /// The call's thread if it is linked now (no waiting: for an answer due at once).
    pub async fn now(&self, call: &CallId) -> Option<String> {
        self.line
            .thread_of_call(self.bridge, call)
            .await
            .ok()
            .flatten()
    }

    /// The call's thread, waiting up to [`THREAD_WAIT`] for an announcement still being posted;
    /// `None` at once for a call whose announcement failed.
    pub async fn wait_for(&self, call: &CallId) -> Option<String> {
        let deadline = Instant::now() + THREAD_WAIT;
        let mut pause = FIRST_POLL;
        loop {
            if let Some(thread) = self.now(call).await {
                return Some(thread);
            }
            if self.health.is_unannounced(call) || Instant::now() > deadline {
                tracing::warn!(%call, bridge = self.bridge, "the call has no thread; nothing posted");
                return None;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// The call's announcement could not be posted (or linked), for the reason `detail`: it
    /// shows in the bridge's status, and its events stop waiting for its thread.
    pub fn unannounced(&self, call: &CallId, detail: impl Into<String>) {
        self.health.unannounced(call, detail);
    }

    /// A call was announced.
    pub fn announced(&self) {
        self.health.announced();
    }

    /// The bridge's health, for [`crate::ChatBridge::status`].
    pub fn status(&self) -> BridgeStatus {
        self.health.status()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::{Accepted, BoxFuture, CallSummary, MessageOrigin};

    /// A line whose thread for every call is linked after `looks` looks at it (never: `None`).
    struct SlowAnnouncement {
        looks: Mutex<u32>,
        linked_after: Option<u32>,
    }

    impl LineControl for SlowAnnouncement {
        fn thread_of_call<'a>(
            &'a self,
            _: &'a str,
            _: &'a CallId,
        ) -> BoxFuture<'a, Result<Option<String>, LineRefused>> {
            let mut looks = self.looks.lock().unwrap();
            *looks += 1;
            let linked = self.linked_after.is_some_and(|n| *looks > n);
            Box::pin(async move { Ok(linked.then(|| "T1".to_owned())) })
        }
        fn say<'a>(
            &'a self,
            _: &'a CallId,
            _: &'a str,
            _: MessageOrigin,
        ) -> BoxFuture<'a, Result<Accepted, LineRefused>> {
            unimplemented!()
        }
        fn hang_up<'a>(&'a self, _: &'a CallId) -> BoxFuture<'a, Result<(), LineRefused>> {
            unimplemented!()
        }
        fn active_calls(&self) -> BoxFuture<'_, Result<Vec<CallSummary>, LineRefused>> {
            unimplemented!()
        }
        fn call<'a>(
            &'a self,
            _: &'a CallId,
        ) -> BoxFuture<'a, Result<Option<CallSummary>, LineRefused>> {
            unimplemented!()
        }
        fn link_thread<'a>(
            &'a self,
            _: &'a str,
            _: &'a CallId,
            _: &'a str,
        ) -> BoxFuture<'a, Result<(), LineRefused>> {
            unimplemented!()
        }
        fn call_of_thread<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<CallId>, LineRefused>> {
            unimplemented!()
        }
        fn first_delivery<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<bool, LineRefused>> {
            unimplemented!()
        }
    }

    fn threads(linked_after: Option<u32>) -> Threads {
        let line = SlowAnnouncement {
            looks: Mutex::new(0),
            linked_after,
        };
        Threads::new("test", Arc::new(line))
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_waits_for_the_announcement_to_be_linked() {
        let call = CallId::parse("c1").unwrap();
        let started = Instant::now();
        assert_eq!(
            threads(Some(5)).wait_for(&call).await.as_deref(),
            Some("T1")
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_is_bounded_and_skipped_for_a_call_never_announced() {
        let call = CallId::parse("c1").unwrap();
        let started = Instant::now();
        assert_eq!(threads(None).wait_for(&call).await, None);
        let waited = started.elapsed();
        assert!(
            (THREAD_WAIT..THREAD_WAIT + MAX_POLL * 2).contains(&waited),
            "{waited:?}"
        );

        let threads = threads(None);
        threads.unannounced(&call, "channel_not_found");
        let started = Instant::now();
        assert_eq!(threads.wait_for(&call).await, None);
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(!threads.status().healthy);
    }
}
