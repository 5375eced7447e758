//! The sweep: a periodic look at every active call for messages nobody is speaking, for
//! callers nobody answered (voicemail), and for calls Twilio has gone quiet about (whose end
//! may have been lost).
//!
//! Every kick is a background task, and a process can die between storing a message and
//! dialling, or a status callback can arrive while Redis is down. Rather than trust every path,
//! each replica looks every few seconds; the lease makes it safe for all of them to do so.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::Line;
use crate::speech;

/// How often the sweep runs at most: a message whose speaker was lost waits at most this long
/// after its lease lapsed (seconds, see [`speech::DIAL_LEASE`]), plus a dial. Every replica sweeps,
/// so with several the wait is shorter still.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// The sweep also offers voicemail and asks Twilio about quiet calls when they are due, so it
/// runs often enough to do that within a quarter of `line.voicemail_after` and of
/// `line.status_check_after` (but not more than four times a second).
fn interval(line: &Line) -> Duration {
    let status_check_after = line.settings().line.status_check_after;
    let soonest = line
        .lines()
        .all()
        .iter()
        .filter_map(|l| l.settings.voicemail_after)
        .fold(status_check_after, Duration::min);
    (soonest / 4).clamp(Duration::from_millis(250), SWEEP_EVERY)
}

/// Runs until `shutdown` resolves.
pub async fn sweep(line: Line, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(interval(&line));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut checks = None;
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => sweep_once(&line, &mut checks).await,
        }
    }
}

/// `checks` is the round of questions to Twilio about quiet calls still under way, if any.
async fn sweep_once(line: &Line, checks: &mut Option<JoinHandle<()>>) {
    let Ok(calls) = line.store().active_calls().await else {
        return; // Redis is down: the next tick will see.
    };
    for call in &calls {
        line.offer_voicemail_if_due(call).await;
        line.ring_if_never_rung(call).await;
        if line.line_of(call).transcription.enabled {
            line.post_utterances(&call.id).await;
        }
        if let Ok(true) = line.store().needs_speaker(&call.id).await {
            tracing::info!(call = %call.id, "messages waiting with no speaker: starting one");
            speech::kick(line.speech(), &call.id);
        }
    }
    // Twilio may take seconds to answer: its round runs in the background, one at a time, so
    // that restarting speakers and offering voicemail never wait for it.
    if checks.as_ref().is_none_or(JoinHandle::is_finished) {
        let line = line.clone();
        *checks = Some(tokio::spawn(
            async move { line.check_quiet_calls(&calls).await },
        ));
    }
}
