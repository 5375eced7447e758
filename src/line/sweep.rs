//! The sweep: a periodic look at the active calls that need one, for messages nobody is
//! speaking, for callers nobody answered (voicemail), and for calls Twilio has gone quiet about
//! (whose end may have been lost).
//!
//! Every kick is a background task, and a process can die between storing a message and
//! dialling, or a status callback can arrive while Redis is down. Rather than trust every path,
//! each replica looks every few seconds; the lease makes it safe for all of them to do so.
//!
//! A tick reads only the calls whose look is due (the store's sweep index, `store::sweep`), at
//! most [`LOOKS_PER_TICK`], in one round trip: an idle call is looked at once per its line's
//! `status_check_after`, not every tick, so a tick costs what the calls needing attention
//! cost, however many calls are on the line.

use std::time::Duration;

use futures::StreamExt as _;
use tokio::task::JoinHandle;

use super::Line;
use super::responders::RING_GRACE;
use super::voicemail::VOICEMAIL_TRIES;
use crate::config::LineConfig;
use crate::domain::{Call, CallId, Direction, now_ms};
use crate::speech;
use crate::store::{LogFailure as _, Looked, UnansweredSpeaker};

/// How often the sweep runs at most: a message whose speaker was lost waits at most this long
/// after its lease lapsed (seconds, see [`speech::DIAL_LEASE`]), plus a dial. Every replica sweeps,
/// so with several the wait is shorter still.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Calls one tick looks at, at most (the soonest due first); the rest wait for the next tick.
/// A tick's reads go out together, so this bounds the memory and the burst on Redis of one
/// tick, and so the sweep's share of the line's work.
pub(crate) const LOOKS_PER_TICK: usize = 500;

/// The sweep also offers voicemail, moves escalation on and asks Twilio about quiet calls when
/// they are due, so it runs often enough to do that within a quarter of `line.voicemail_after`,
/// of the shortest escalation level and of the shortest `status_check_after` (but not more than
/// four times a second).
fn interval(line: &Line) -> Duration {
    let soonest = line
        .lines()
        .all()
        .iter()
        .flat_map(|l| {
            let levels = l
                .settings
                .escalation
                .levels
                .iter()
                .map(|level| level.timeout);
            let s = &l.settings;
            [Some(s.status_check_after), s.voicemail_after]
                .into_iter()
                .flatten()
                .chain(levels)
        })
        .fold(Duration::MAX, Duration::min);
    (soonest / 4).clamp(Duration::from_millis(250), SWEEP_EVERY)
}

/// Runs until `shutdown` resolves.
pub async fn sweep(line: Line, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let every = interval(&line);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds = TwilioRounds::default();
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
                sweep_once(&line, every, &mut rounds).await
            }
        }
    }
}

async fn sweep_once(line: &Line, every: Duration, rounds: &mut TwilioRounds) {
    let now = now_ms();
    // Past any next look this sweep gives (see `LookRules::next_look`): a sweep that stops midway leaves
    // its calls to be looked at again then.
    let longest_quiet = line
        .lines()
        .all()
        .iter()
        .map(|l| l.settings.status_check_after)
        .max()
        .unwrap_or_default();
    let hold = now + millis(longest_quiet + every);
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
        if let Some(position) = l.escalation {
            line.escalate_if_due(call, position).await;
        }
        if l.utterances_unposted && line.line_of(call).transcription.enabled {
            line.post_utterances(&call.id).await;
        }
        if l.needs_speaker && l.unanswered_speaker.is_none() {
            tracing::info!(call = %call.id, "messages waiting with no speaker: starting one");
            speech::kick(&line.speech_of(call), &call.id);
        }
    }
    let next: Vec<(CallId, u64)> = looked
        .iter()
        .map(|l| {
            let rules = LookRules::of(line.line_of(&l.call), every);
            (l.call.id.clone(), rules.next_look(l, now))
        })
        .collect();
    line.store()
        .look_again(&next)
        .await
        .or_log("give the looked-at calls their next look");
    // Twilio may take seconds to answer: its rounds run in the background, one of each kind at
    // a time, so that restarting speakers and offering voicemail never wait for it. A call left
    // out of a round still running is looked at again at the next tick.
    let unanswered: Vec<_> = looked
        .iter()
        .filter_map(|l| Some((l.call.clone(), l.unanswered_speaker.clone()?)))
        .collect();
    if !unanswered.is_empty()
        && rounds
            .unanswered
            .as_ref()
            .is_none_or(JoinHandle::is_finished)
    {
        let line = line.clone();
        rounds.unanswered = Some(tokio::spawn(async move {
            judge_unanswered_legs(&line, unanswered).await
        }));
    }
    if rounds.quiet.as_ref().is_none_or(JoinHandle::is_finished) {
        let line = line.clone();
        let calls: Vec<_> = looked.into_iter().map(|l| l.call).collect();
        rounds.quiet = Some(tokio::spawn(
            async move { line.check_quiet_calls(&calls).await },
        ));
    }
}

/// Speaker legs Twilio asked about at once in one round (each a request to Twilio).
const UNANSWERED_AT_ONCE: usize = 16;

/// Legs Twilio may still hold queued (`speech::judge_unanswered_leg`), at most
/// [`UNANSWERED_AT_ONCE`] asked about at a time: in a flood there are many, and Twilio limits an
/// account's concurrent requests.
async fn judge_unanswered_legs(line: &Line, legs: Vec<(Call, UnansweredSpeaker)>) {
    futures::stream::iter(legs)
        .for_each_concurrent(UNANSWERED_AT_ONCE, |(call, leg)| async move {
            speech::judge_unanswered_leg(&line.speech_of(&call), &call.id, &leg).await;
        })
        .await;
}

/// The rounds of questions to Twilio still under way, if any.
#[derive(Default)]
struct TwilioRounds {
    /// About quiet calls (`Line::check_quiet_calls`).
    quiet: Option<JoinHandle<()>>,
    /// About unanswered speaker legs ([`judge_unanswered_legs`]).
    unanswered: Option<JoinHandle<()>>,
}

/// What decides when a call is next looked at: the line's settings, and the tick.
struct LookRules {
    every: Duration,
    status_check_after: Duration,
    voicemail_after: Option<Duration>,
    rings_responders: bool,
    transcribing: bool,
}

impl LookRules {
    /// For a call on `config`'s line.
    fn of(config: &LineConfig, every: Duration) -> Self {
        LookRules {
            every,
            status_check_after: config.settings.status_check_after,
            voicemail_after: config.settings.voicemail_after,
            rings_responders: !config.settings.responders.is_empty(),
            transcribing: config.transcription.enabled,
        }
    }

    /// When the sweep must next look at a call it has just looked at (unix ms): the next tick
    /// while something waits (messages, utterances, a check that is due but was not made this
    /// tick), else its next check: responders rung, voicemail, Twilio asked about it once it
    /// has been quiet for its line's `status_check_after` (at the latest, so a live call is looked at
    /// that often).
    fn next_look(&self, l: &Looked, now: u64) -> u64 {
        let soon = now + millis(self.every);
        let at = |due: u64| due.max(soon);
        let call = &l.call;
        let mut next = at(call.quiet_since() + millis(self.status_check_after));
        if l.messages_waiting || (l.utterances_unposted && self.transcribing) {
            next = soon;
        }
        let inbound = call.direction == Direction::Inbound;
        if inbound && !l.ring_started && self.rings_responders {
            next = next.min(at(call.started_at + millis(RING_GRACE)));
        }
        // A level's time up: the next level (the step moving on brings the look forward too,
        // see `Line::escalate`; this is for the replica that dies before it can).
        if let Some(deadline) = l.escalation.and_then(|e| e.deadline_ms) {
            next = next.min(at(deadline));
        }
        if let Some(after) = self.voicemail_after
            && inbound
            && call.call_sid.is_some()
            && l.voicemail_tries.is_some_and(|t| t < VOICEMAIL_TRIES)
        {
            next = next.min(at(call.started_at + millis(after)));
        }
        next
    }
}

/// When a new call must first be looked at, from its start (see [`LookRules::next_look`]).
pub(crate) fn first_look(config: &LineConfig, direction: Direction) -> Duration {
    first_look_of(&LookRules::of(config, SWEEP_EVERY), direction)
}

fn first_look_of(rules: &LookRules, direction: Direction) -> Duration {
    let mut first = rules.status_check_after;
    if direction == Direction::Inbound {
        if rules.rings_responders {
            first = first.min(RING_GRACE);
        }
        if let Some(after) = rules.voicemail_after {
            first = first.min(after);
        }
    }
    first
}

fn millis(d: Duration) -> u64 {
    d.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Call;

    const NOW: u64 = 1_000_000;

    fn rules() -> LookRules {
        LookRules {
            every: Duration::from_secs(2),
            status_check_after: Duration::from_secs(60),
            voicemail_after: Some(Duration::from_secs(120)),
            rings_responders: true,
            transcribing: true,
        }
    }

    /// A call that started `ago` ms before NOW and was last heard of then, its responders rung,
    /// voicemail still open, nothing waiting.
    fn idle(ago: u64) -> Looked {
        Looked {
            call: Call {
                started_at: NOW - ago,
                last_activity_at: NOW - ago,
                ..Call::sample(1)
            },
            needs_speaker: false,
            unanswered_speaker: None,
            messages_waiting: false,
            utterances_unposted: false,
            ring_started: true,
            voicemail_tries: Some(0),
            escalation: None,
        }
    }

    #[test]
    fn an_idle_call_is_next_looked_at_for_its_next_check_not_every_tick() {
        // Twilio was asked about it 10 s ago: next in 50 s; voicemail (120 s from its start,
        // 100 s ago) comes first.
        let asked = Looked {
            call: Call {
                status_checked_at: Some(NOW - 10_000),
                ..idle(100_000).call
            },
            ..idle(100_000)
        };
        assert_eq!(rules().next_look(&asked, NOW), NOW + 20_000);
        // Once voicemail is no longer possible: when Twilio is to be asked.
        let answered = Looked {
            voicemail_tries: None,
            ..asked.clone()
        };
        assert_eq!(rules().next_look(&answered, NOW), NOW + 50_000);
        // Quiet for longer than the period and not asked (beyond this tick's bound): next tick.
        assert_eq!(rules().next_look(&idle(100_000), NOW), NOW + 2_000);
    }

    #[test]
    fn what_waits_is_looked_at_every_tick() {
        let soon = NOW + 2_000;
        let messages = Looked {
            messages_waiting: true,
            ..idle(1_000)
        };
        assert_eq!(rules().next_look(&messages, NOW), soon);
        let words = Looked {
            utterances_unposted: true,
            ..idle(1_000)
        };
        assert_eq!(rules().next_look(&words, NOW), soon);
        let not_transcribing = LookRules {
            transcribing: false,
            ..rules()
        };
        assert!(not_transcribing.next_look(&words, NOW) > soon);
        // Responders never rung, past the grace: the next tick.
        let never_rung = Looked {
            ring_started: false,
            ..idle(10_000)
        };
        assert_eq!(rules().next_look(&never_rung, NOW), soon);
        // A level's time up in 3 s: looked at then, or in a tick if that is later.
        let escalating = |deadline_ms| Looked {
            escalation: Some(crate::store::EscalationPosition {
                step: 0,
                deadline_ms: Some(deadline_ms),
            }),
            voicemail_tries: None,
            ..idle(1_000)
        };
        assert_eq!(
            rules().next_look(&escalating(NOW + 3_000), NOW),
            NOW + 3_000
        );
        assert_eq!(rules().next_look(&escalating(NOW - 1), NOW), soon);
        // Within the grace: when it ends.
        let just_in = Looked {
            ring_started: false,
            ..idle(1_000)
        };
        assert_eq!(rules().next_look(&just_in, NOW), NOW + 4_000);
    }

    #[test]
    fn a_call_is_looked_at_at_least_once_per_status_check_period() {
        for l in [idle(0), idle(59_000), idle(200_000)] {
            let next = rules().next_look(&l, NOW);
            assert!(next > NOW && next <= NOW + 60_000, "{next}");
        }
    }

    #[test]
    fn a_new_call_is_first_looked_at_for_its_soonest_check() {
        let r = rules();
        assert_eq!(first_look_of(&r, Direction::Inbound), RING_GRACE);
        let quiet = LookRules {
            rings_responders: false,
            ..rules()
        };
        assert_eq!(
            first_look_of(&quiet, Direction::Inbound),
            Duration::from_secs(60)
        );
        let short_voicemail = LookRules {
            voicemail_after: Some(Duration::from_secs(3)),
            ..quiet
        };
        assert_eq!(
            first_look_of(&short_voicemail, Direction::Inbound),
            Duration::from_secs(3)
        );
        assert_eq!(
            first_look_of(&short_voicemail, Direction::Outbound),
            Duration::from_secs(60)
        );
    }
}
