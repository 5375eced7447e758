//! The sweep: a periodic look at the active calls that need one, for messages nobody is
//! speaking, for callers nobody answered (voicemail), and for calls Twilio has gone quiet about
//! (whose end may have been lost).
//!
//! Every kick is a background task, and a process can die between storing a message and
//! dialling, or a status callback can arrive while Redis is down. Rather than trust every path,
//! each replica looks every few seconds; the lease makes it safe for all of them to do so.
//!
//! A tick reads only the calls whose look is due (the store's sweep index, `store::sweep`), at
//! most [`LOOKS_PER_TICK`], in one round trip: an idle call is looked at once per
//! `line.status_check_after`, not every tick, so a tick costs what the calls needing attention
//! cost, however many calls are on the line.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::Line;
use super::responders::RING_GRACE;
use super::voicemail::VOICEMAIL_TRIES;
use crate::domain::{CallId, Direction, now_ms};
use crate::speech;
use crate::store::{LogFailure as _, Looked};

/// How often the sweep runs at most: a message whose speaker was lost waits at most this long
/// after its lease lapsed (seconds, see [`speech::DIAL_LEASE`]), plus a dial. Every replica sweeps,
/// so with several the wait is shorter still.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Calls one tick looks at, at most (the soonest due first); the rest wait for the next tick.
/// A tick's reads go out together, so this bounds the memory and the burst on Redis of one
/// tick, and so the sweep's share of the line's work.
pub(crate) const LOOKS_PER_TICK: usize = 500;

/// The sweep also offers voicemail and asks Twilio about quiet calls when they are due, so it
/// runs often enough to do that within a quarter of `line.voicemail_after` and of
/// `line.status_check_after` (but not more than four times a second).
fn interval(line: &Line) -> Duration {
    let line = &line.settings().line;
    let soonest = line
        .voicemail_after
        .map_or(line.status_check_after, |v| v.min(line.status_check_after));
    (soonest / 4).clamp(Duration::from_millis(250), SWEEP_EVERY)
}

/// Runs until `shutdown` resolves.
pub async fn sweep(line: Line, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let every = interval(&line);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut checks = None;
    // Where in the active-call index the next page of calls is made sure to have a look time.
    let mut adopt_from = 0;
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {
                // Calls recorded by a version before the sweep's index (a rolling upgrade), or
                // whose entry was lost, get one: a page a tick, round and round.
                if let Some(next) = line.store().schedule_unscheduled_calls(adopt_from).await
                    .or_log("give active calls a look time") {
                    adopt_from = next;
                }
                sweep_once(&line, every, &mut checks).await
            }
        }
    }
}

/// `checks` is the round of questions to Twilio about quiet calls still under way, if any.
async fn sweep_once(line: &Line, every: Duration, checks: &mut Option<JoinHandle<()>>) {
    let now = now_ms();
    // Past any next look this sweep gives (see `next_look`): a sweep that stops midway leaves
    // its calls to be looked at again then.
    let hold = now + millis(line.settings().line.status_check_after + every);
    let Ok(due) = line.store().due_calls(now, LOOKS_PER_TICK, hold).await else {
        return; // Redis is down: the next tick will see.
    };
    if due.is_empty() {
        return;
    }
    let Some(looked) = line
        .store()
        .look_at_calls(&due)
        .await
        .or_log("read the calls due for a look")
    else {
        // Given back for the next tick if Redis lets; else held, and looked at when the hold ends.
        let next: Vec<(CallId, u64)> = due
            .into_iter()
            .map(|id| (id, now + millis(every)))
            .collect();
        let _ = line.store().look_again(&next).await;
        return;
    };
    line.metrics().sweep_looks.inc_by(looked.len() as u64);
    for l in &looked {
        let call = &l.call;
        if l.voicemail_tries.is_some_and(|t| t < VOICEMAIL_TRIES) {
            line.offer_voicemail_if_due(call).await;
        }
        if !l.ring_started {
            line.ring_if_never_rung(call).await;
        }
        if l.utterances_unposted && line.settings().transcription.enabled {
            line.post_utterances(&call.id).await;
        }
        if l.needs_speaker {
            tracing::info!(call = %call.id, "messages waiting with no speaker: starting one");
            speech::kick(line.speech(), &call.id);
        }
    }
    let next: Vec<(CallId, u64)> = looked
        .iter()
        .map(|l| (l.call.id.clone(), next_look(line, l, now, every)))
        .collect();
    line.store()
        .look_again(&next)
        .await
        .or_log("give the looked-at calls their next look");
    // Twilio may take seconds to answer: its round runs in the background, one at a time, so
    // that restarting speakers and offering voicemail never wait for it.
    if checks.as_ref().is_none_or(JoinHandle::is_finished) {
        let line = line.clone();
        let calls: Vec<_> = looked.into_iter().map(|l| l.call).collect();
        *checks = Some(tokio::spawn(
            async move { line.check_quiet_calls(&calls).await },
        ));
    }
}

/// When the sweep must next look at a call it has just looked at (unix ms): the next tick while
/// something waits (messages, utterances, a check that is due but was not made this tick), else
/// its next check: responders rung, voicemail, Twilio asked about it once it has been quiet for
/// `line.status_check_after` (at the latest, so a live call is looked at that often).
fn next_look(line: &Line, l: &Looked, now: u64, every: Duration) -> u64 {
    let settings = &line.settings().line;
    let soon = now + millis(every);
    let at = |due: u64| due.max(soon);
    let call = &l.call;
    let mut next = at(call.quiet_since() + millis(settings.status_check_after));
    if l.messages_waiting || (l.utterances_unposted && line.settings().transcription.enabled) {
        next = soon;
    }
    let inbound = call.direction == Direction::Inbound;
    if inbound && !l.ring_started && !settings.responders.is_empty() {
        next = next.min(at(call.started_at + millis(RING_GRACE)));
    }
    if let Some(after) = settings.voicemail_after
        && inbound
        && call.call_sid.is_some()
        && l.voicemail_tries.is_some_and(|t| t < VOICEMAIL_TRIES)
    {
        next = next.min(at(call.started_at + millis(after)));
    }
    next
}

/// When a new call must first be looked at, from its start (see [`next_look`]).
pub(crate) fn first_look(line: &Line, direction: Direction) -> Duration {
    let settings = &line.settings().line;
    let mut first = settings.status_check_after;
    if direction == Direction::Inbound {
        if !settings.responders.is_empty() {
            first = first.min(RING_GRACE);
        }
        if let Some(after) = settings.voicemail_after {
            first = first.min(after);
        }
    }
    first
}

fn millis(d: Duration) -> u64 {
    d.as_millis() as u64
}
