//! The sweep: a periodic look at every active call for messages nobody is speaking.
//!
//! Every kick is a background task, and a process can die between storing a message and
//! dialling, or a status callback can arrive while Redis is down. Rather than trust every path,
//! each replica looks every few seconds; the lease makes it safe for all of them to do so.

use std::time::Duration;

use crate::line::Line;

/// How often the sweep runs: a lost message waits at most this long plus a dial.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Runs until `shutdown` resolves.
pub async fn sweep(line: Line, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => sweep_once(&line).await,
        }
    }
}

async fn sweep_once(line: &Line) {
    let Ok(calls) = line.store().active_calls().await else {
        return; // Redis is down: the next tick will see.
    };
    for call in calls {
        if let Ok(true) = line.store().needs_speaker(&call.id).await {
            tracing::info!(call = %call.id, "messages waiting with no speaker: starting one");
            super::kick(line, &call.id);
        }
    }
}
