//! The sweep's index: when each active call must next be looked at.
//!
//! The sweep (`line::sweep`) is the safety net for kicks that were lost: a replica that stopped
//! between storing a message and dialling, a status callback that never came, a caller nobody
//! answered. Reading every active call every tick made its cost grow with the calls on the line
//! (BENCHMARKS.md, "Incoming calls"), so each active call carries, in a sorted set of its own
//! hash slot, the time by which it must next be looked at:
//! - a new call: its first check (responders rung, voicemail, Twilio asked), from [`NewCall`];
//! - a message stored or an utterance kept: soon after (see [`Store::look_by`]), whichever
//!   replica dies before acting on it;
//! - a call without one (see [`Store::schedule_unscheduled_calls`]): now;
//! - after each look, the sweep's own answer (`line::sweep::next_look`): the next tick while
//!   messages or utterances wait, else the call's next check. At the latest, a call is looked
//!   at once per `line.status_check_after`, when Twilio may be asked about it.
//!
//! A time is only ever brought forward by the events above (`ZADD LT`), and the sweep hands
//! out due calls by putting them off to a hold time first ([`scripts::DUE_CALLS`]) and then
//! bringing them forward to their next look (`ZADD XX LT`): an event that lands while a call
//! is being looked at keeps its earlier time.
//!
//! [`NewCall`]: super::NewCall

use std::collections::HashMap;

use redis::AsyncCommands as _;

use super::calls::{UNRECORDED_GRACE_MS, call_from_fields, pairs};
use super::escalation::{EscalationPosition, escalation_position};
use super::{Store, StoreResult, scripts};
use crate::domain::{Call, CallId, CallSid, CallState, now_ms};

/// Active calls the sweep makes sure have a look time, per tick (see
/// [`Store::schedule_unscheduled_calls`]).
const ADOPT_PAGE: isize = 250;

/// One call as the sweep sees it.
#[derive(Debug, Clone)]
pub struct Looked {
    pub call: Call,
    /// Messages wait or are in flight, nobody holds the speaker lease, and no failed dial asked
    /// the call to wait (see NEEDS_SPEAKER).
    pub needs_speaker: bool,
    /// With `needs_speaker`: the speaker leg Twilio accepted that never reached the gate, if
    /// that is why the call has no speaker.
    pub unanswered_speaker: Option<UnansweredSpeaker>,
    /// Messages wait or are in flight, speaker or not.
    pub messages_waiting: bool,
    /// The caller's utterances wait to be posted to chat.
    pub utterances_unposted: bool,
    /// The call's responders were rung (or ringing began).
    pub ring_started: bool,
    /// How many times voicemail was tried, while it may still be offered: `None` once a
    /// responder accepted, someone wrote from chat, or voicemail began (see START_VOICEMAIL).
    pub voicemail_tries: Option<u32>,
    /// Where its escalation is, on a line with levels, while a level's time runs (see
    /// `store::escalation`).
    pub escalation: Option<EscalationPosition>,
}

/// A self-dialled speaker leg Twilio accepted whose lease lapsed before it reached the gate.
/// Twilio places an account's calls at its calls-per-second rate (1 by default) and holds the
/// rest queued, so in a flood of dials the leg may simply not have been placed yet; or it was
/// lost without a status callback. Only Twilio can tell (`speech::judge_unanswered_leg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnansweredSpeaker {
    pub leg: String,
    /// The outbound half's CallSid, as stored when Twilio accepted the dial (the judgment
    /// compares it as stored; [`UnansweredSpeaker::sid`] parses it to ask Twilio).
    pub call_sid: String,
}

impl UnansweredSpeaker {
    /// The leg ACQUIRE_SPEAKER waits on (`dialing`, with the CallSid Twilio gave it).
    fn of(fields: &HashMap<String, String>) -> Option<UnansweredSpeaker> {
        if fields.get("speaker_state").map(String::as_str) != Some("dialing") {
            return None;
        }
        Some(UnansweredSpeaker {
            leg: fields.get("speaker_leg").cloned().unwrap_or_default(),
            call_sid: fields.get("speaker_out_sid")?.clone(),
        })
    }

    /// `None` for a stored value that is not a CallSid: such a leg cannot be asked about, and
    /// is forgotten.
    pub fn sid(&self) -> Option<CallSid> {
        CallSid::parse(&self.call_sid)
    }
}

impl Store {
    /// The calls whose look is due at `now`, at most `limit`, each put off to `hold_until`
    /// until [`Store::look_again`] gives it its next time. Another replica's sweep meanwhile
    /// gets others.
    pub async fn due_calls(
        &self,
        now: u64,
        limit: usize,
        hold_until: u64,
    ) -> StoreResult<Vec<CallId>> {
        let ids: Vec<String> = scripts::DUE_CALLS
            .key(self.keys.due_calls())
            .arg(now)
            .arg(limit)
            .arg(hold_until)
            .invoke_async(&mut self.conn())
            .await?;
        let (ids, bad): (Vec<_>, Vec<_>) = ids
            .into_iter()
            .map(|s| CallId::parse(&s).ok_or(s))
            .partition(Result::is_ok);
        let bad: Vec<String> = bad.into_iter().filter_map(Result::err).collect();
        if !bad.is_empty() {
            self.unindex_calls(&bad).await?;
        }
        Ok(ids.into_iter().filter_map(Result::ok).collect())
    }

    /// Reads what the sweep needs of each call, all in one round trip of latency (one script per
    /// call, each in its call's slot, sent together). Calls that ended, and calls whose record
    /// is not there past [`UNRECORDED_GRACE_MS`] after their start, are dropped from both
    /// indexes and not returned.
    pub async fn look_at_calls(&self, ids: &[CallId]) -> StoreResult<Vec<Looked>> {
        type Answer = (Vec<String>, i64, i64, i64);
        let now = now_ms();
        let answers: Vec<Answer> = futures::future::try_join_all(ids.iter().map(|id| {
            let mut conn = self.conn();
            let mut look = scripts::LOOK_AT_CALL.prepare_invoke();
            look.key(self.keys.call(id))
                .key(self.keys.queue(id))
                .key(self.keys.inflight(id))
                .key(self.keys.speaker_lock(id))
                .key(self.keys.transcript_unposted(id))
                .arg(now);
            async move { look.invoke_async::<Answer>(&mut conn).await }
        }))
        .await?;
        let mut looked = Vec::with_capacity(ids.len());
        let (mut ended, mut unrecorded) = (Vec::new(), Vec::new());
        for (id, (flat, needs, waiting, unposted)) in ids.iter().zip(answers) {
            if flat.is_empty() {
                unrecorded.push(id);
                continue;
            }
            let fields = pairs(flat);
            let call = call_from_fields(id, &fields)?;
            if call.state == CallState::Ended {
                ended.push(id.as_str());
                continue;
            }
            looked.push(Looked {
                needs_speaker: needs == 1,
                unanswered_speaker: (needs == 1)
                    .then(|| UnansweredSpeaker::of(&fields))
                    .flatten(),
                messages_waiting: waiting > 0,
                utterances_unposted: unposted > 0,
                ring_started: fields.contains_key("ring_started"),
                voicemail_tries: voicemail_tries(&fields),
                escalation: escalation_position(&fields),
                call,
            });
        }
        self.drop_unrecorded(&unrecorded, now, &mut ended).await?;
        if !ended.is_empty() {
            self.unindex_calls(&ended).await?;
        }
        Ok(looked)
    }

    /// A call in the index without a record may be being written on another master (see
    /// [`Store::create_call`]): it is dropped once its start, in the active-call index, is
    /// older than the grace, or it is no longer there; else looked at again after the grace.
    async fn drop_unrecorded<'a>(
        &self,
        ids: &[&'a CallId],
        now: u64,
        drop: &mut Vec<&'a str>,
    ) -> StoreResult<()> {
        let mut again = Vec::new();
        for id in ids {
            let since: Option<f64> = self
                .conn()
                .zscore(self.keys.active_calls(), id.as_str())
                .await?;
            match since {
                Some(since) if now.saturating_sub(since as u64) <= UNRECORDED_GRACE_MS => {
                    again.push(((*id).clone(), now + UNRECORDED_GRACE_MS))
                }
                _ => drop.push(id.as_str()),
            }
        }
        self.look_again(&again).await
    }

    /// Gives calls handed out by [`Store::due_calls`] their next look, unless an event brought
    /// it forward meanwhile (`LT`), and only while they are in the index (`XX`: not one that
    /// ended meanwhile).
    pub async fn look_again(&self, next: &[(CallId, u64)]) -> StoreResult<()> {
        if next.is_empty() {
            return Ok(());
        }
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(self.keys.due_calls()).arg("XX").arg("LT");
        for (id, at) in next {
            zadd.arg(*at).arg(id.as_str());
        }
        let _: i64 = zadd.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Brings the call's next look forward to `at` (unix ms) at the latest: something happened
    /// that must be acted on, and the replica that should may stop first.
    pub async fn look_by(&self, id: &CallId, at: u64) -> StoreResult<()> {
        let _: i64 = redis::cmd("ZADD")
            .arg(self.keys.due_calls())
            .arg("LT")
            .arg(at)
            .arg(id.as_str())
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Gives the active calls without a look time one now, a page of the active-call index at a
    /// time from rank `from` (a call recorded by a version of denwa before the sweep's index,
    /// which a rolling upgrade may still run, or whose entry was lost: the index is written
    /// beside the call, not atomically with it). Calls that have one keep it (`NX`). Returns
    /// the rank to go on from, 0 once past the end. The sweep runs a page per tick, so it comes
    /// round to every call, at a cost per tick that does not grow with the calls.
    pub async fn schedule_unscheduled_calls(&self, from: isize) -> StoreResult<isize> {
        let ids: Vec<String> = self
            .conn()
            .zrange(self.keys.active_calls(), from, from + ADOPT_PAGE - 1)
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(self.keys.due_calls()).arg("NX");
        let now = now_ms();
        for id in &ids {
            zadd.arg(now).arg(id);
        }
        let _: usize = zadd.query_async(&mut self.conn()).await?;
        Ok(if ids.len() < ADOPT_PAGE as usize {
            0
        } else {
            from + ADOPT_PAGE
        })
    }
}

fn voicemail_tries(fields: &HashMap<String, String>) -> Option<u32> {
    let replies = fields
        .get("chat_replies")
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    if fields.contains_key("accepted_by") || fields.contains_key("voicemail_started") || replies > 0
    {
        return None;
    }
    Some(
        fields
            .get("voicemail_tries")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    )
}
