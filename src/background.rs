//! Work started off the request path (dialling a speaker, ringing responders, telling the
//! bridges), tracked so that shutdown can finish or release it within a bound. The line and its
//! speakers share one [`Background`].
//!
//! Why track it: a task spawned and forgotten dies with the process halfway through. A speaker
//! dial cut off after its lease was taken left the call silent until the lease ran out. Now every
//! such task runs on one [`TaskTracker`], shutdown first tells them to stop (a dial in
//! flight releases its lease, so another replica or the restarted process dials at once), then
//! waits for them, bounded, before the process exits.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The tracked background tasks. Cheap to clone: clones share the tasks and the stop signal.
#[derive(Clone, Default)]
pub struct Background {
    tasks: TaskTracker,
    stopping: CancellationToken,
}

impl Background {
    /// Runs `task` in the background, tracked for shutdown (also once shutdown has begun: a
    /// receipt for a webhook still being answered must reach its bridge).
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Resolves once shutdown has begun: long background steps (a dial) race it and, losing,
    /// undo what they started.
    pub async fn stopping(&self) {
        self.stopping.cancelled().await
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Asks every background task to stop. Call it as soon as the process is asked to exit.
    pub fn begin_shutdown(&self) {
        self.stopping.cancel();
        self.tasks.close();
    }

    /// Waits at most `within` for background tasks to finish; false if some did not (they are
    /// dropped with the runtime, and what they held lapses with its lease).
    pub async fn finish(&self, within: Duration) -> bool {
        self.begin_shutdown();
        let tasks = &self.tasks;
        let finished = tokio::time::timeout(within, tasks.wait()).await.is_ok();
        if !finished {
            tracing::warn!(
                unfinished = tasks.len(),
                "shutdown: background tasks did not finish in time"
            );
        }
        finished
    }
}
