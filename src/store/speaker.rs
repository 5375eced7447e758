//! The speaker lease, one-time codes and the speaker's turns.
//!
//! `speaker_leg` in the call hash names the call's one speaker; the lock key beside it is its
//! lease, renewed on every turn for as long as that turn's speech lasts. A leg that vanishes
//! without a status callback lets its lease lapse, and the next speaker (or the sweep) takes
//! over what it held.

use std::time::Duration;

use redis::AsyncCommands as _;
use redis::ScriptInvocation;

use super::calls::pairs;
use super::messages::message_from_fields;
use super::sweep::UnansweredSpeaker;
use super::{Store, StoreError, StoreResult, scripts};
use crate::domain::{CallId, CallSid, CallState, ConferenceSid, Message, MessageId, now_ms};

/// How long a one-time code stays valid: the self-dialled leg presents it seconds after it is
/// issued; anything later is not ours.
const CODE_TTL_SECS: u64 = 120;
const CODE_TTL: Duration = Duration::from_secs(CODE_TTL_SECS);
/// From Twilio placing a speaker leg to its code reaching the gate: answer, the `w` and eight
/// digits (about 1.4 s), with room to spare. A leg queued at Twilio is kept only while it
/// could still get in (see [`Store::judge_unanswered_speaker`]).
const CODE_DIALLED_WITHIN: Duration = Duration::from_secs(5);

/// What the sweep's judgment did with an unanswered speaker leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnansweredVerdict {
    /// Still being placed: it has a new lease.
    Kept,
    /// Forgotten: a new speaker may be started.
    Forgotten,
    /// No longer the call's unanswered leg, or holding a lease again: nothing to do.
    NotJudged,
}

/// The most messages one turn says; the rest wait for the next turn (a `<Redirect>` away). The
/// turn's size in bytes is bounded by [`TurnRequest::budget_bytes`] as well.
const BATCH_LIMIT: usize = 20;

/// Where the current speaker leg is, per the call hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeakerState {
    /// The leg is being dialled or is entering its code.
    Dialing,
    /// Its inbound half presented a valid code and is joining the conference.
    Gated,
    /// Its inbound half is in the caller's conference: speech is heard from now on.
    Joined,
    /// Its inbound half left the conference.
    Left,
    /// An announce leg: Twilio plays its turns into the conference (no call leg).
    Announcing,
}

impl SpeakerState {
    fn parse(text: &str) -> Option<SpeakerState> {
        match text {
            "dialing" => Some(SpeakerState::Dialing),
            "gated" => Some(SpeakerState::Gated),
            "joined" => Some(SpeakerState::Joined),
            "left" => Some(SpeakerState::Left),
            "announcing" => Some(SpeakerState::Announcing),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SpeakerState::Dialing => "dialing",
            SpeakerState::Gated => "gated",
            SpeakerState::Joined => "joined",
            SpeakerState::Left => "left",
            SpeakerState::Announcing => "announcing",
        }
    }
}

/// What a speaker asks for in one turn.
#[derive(Debug, Clone, Copy)]
pub struct TurnRequest<'a> {
    pub leg: &'a str,
    /// Turn N settles batch N-1 and takes batch N.
    pub turn: u64,
    pub max_attempts: u32,
    /// False for the announce strategy, where Twilio plays the announcement into the
    /// conference itself.
    pub require_join: bool,
    /// Keep the lease when the queue is empty (the leg waits a moment for more).
    pub linger: bool,
    /// The base lease; the script adds the batch's speaking time.
    pub lease: Duration,
    /// The most TwiML one turn may carry, in bytes (speech's `pieces::TURN_BUDGET_BYTES`): the
    /// speaker decides it, the store only keeps to it.
    pub budget_bytes: usize,
}

/// The outcome of one speaker turn: each carries what the speaker needs to answer Twilio, so a
/// turn is one round trip (see SPEAKER_TURN).
#[derive(Debug, Clone)]
pub enum Turn {
    /// This leg is no longer the call's speaker: it must hang up without speaking.
    Stale,
    /// A self-dialled leg not (yet) in the conference with the caller: nothing was taken. The
    /// call's and the speaker's state, and this leg's one-time code if it was kept, say whether
    /// to wait (the lease was renewed), send the code again or hang up.
    Unjoined {
        call: Option<CallState>,
        speaker: Option<SpeakerState>,
        code: Option<String>,
    },
    /// A repeated request for the turn already handed out: say this batch (still in flight) again.
    Again { batch: Vec<Message> },
    /// Nothing queued right now; the leg keeps the lease and waits a moment for more.
    Linger {
        spoken: Vec<MessageId>,
        failed: Vec<MessageId>,
    },
    /// Nothing left to say; the lease is released. `more`: messages are waiting all the same
    /// (the last batch was not heard and went back to the queue): start another speaker.
    Done {
        spoken: Vec<MessageId>,
        failed: Vec<MessageId>,
        more: bool,
    },
    /// Say these (in order), then come back for the next turn. `conference_sid`: the call's
    /// conference, where an announcement is played.
    Speak {
        spoken: Vec<MessageId>,
        failed: Vec<MessageId>,
        batch: Vec<Message>,
        conference_sid: Option<ConferenceSid>,
    },
}

/// The outcome of a failed speaker dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialFailure {
    /// Whether the leg was still the call's current speaker (else: nothing changed).
    pub was_current: bool,
    /// Messages failed because the dials ran out.
    pub failed: Vec<MessageId>,
    /// How long the call waits before its next dial; `None` once the dials ran out.
    pub retry_in: Option<Duration>,
}

/// The outcome of a speaker leg ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegEnd {
    /// Messages are still waiting: start another speaker.
    pub more_to_say: bool,
    pub failed: Vec<MessageId>,
}

fn ids(raw: Vec<String>) -> Vec<MessageId> {
    raw.iter().filter_map(|s| MessageId::parse(s)).collect()
}

fn millis(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Store {
    /// `script` invoked on the call's keys in the speaker scripts' order: call, queue, inflight,
    /// lock.
    fn speaker_script<'a>(&self, script: &'a redis::Script, id: &CallId) -> ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.keys.call(id))
            .key(self.keys.queue(id))
            .key(self.keys.inflight(id))
            .key(self.keys.speaker_lock(id));
        invocation
    }

    /// `script` invoked on the speaker scripts' keys and the call's messages after them: the
    /// scripts that walk the queue and the in-flight list (see [`Store::invoke_on_messages`]).
    fn messages_script<'a>(&self, script: &'a redis::Script, id: &CallId) -> ScriptInvocation<'a> {
        let mut invocation = self.speaker_script(script, id);
        invocation.key(self.keys.messages(id));
        invocation
    }

    /// Takes the speaker lease for self-dialled leg `leg` if the caller is in, the call has
    /// something to say and no leg is speaking, and issues the one-time `code` the leg will dial
    /// in with: one round trip. `lease` must cover dialling and the wait to join.
    ///
    /// The code lives on its own key (the gate finds it by its digits alone), in another hash
    /// slot than the call's, so it is written beside the lease's script, not in it, and before
    /// knowing whether the lease was taken: a code whose leg did not get the lease opens nothing
    /// (the gate admits only the call's current speaker leg, ADMIT_SPEAKER) and expires with its
    /// key.
    pub async fn acquire_speaker(
        &self,
        id: &CallId,
        leg: &str,
        code: &str,
        max_attempts: u32,
        lease: Duration,
    ) -> StoreResult<(bool, Vec<MessageId>)> {
        let mut acquire = self.acquire_script(id, leg, SpeakerState::Dialing, max_attempts, lease);
        acquire.arg(code);
        let mut code_conn = self.conn();
        let code_key = async {
            code_conn
                .set_ex::<_, _, ()>(
                    self.keys.speaker_code(code),
                    format!("{id}:{leg}"),
                    CODE_TTL_SECS,
                )
                .await
                .map_err(StoreError::from)
        };
        let ((acquired, failed), ()) = futures::try_join!(
            self.invoke_on_messages::<(i64, Vec<String>)>(id, &acquire),
            code_key
        )?;
        Ok((acquired == 1, ids(failed)))
    }

    fn acquire_script(
        &self,
        id: &CallId,
        leg: &str,
        state: SpeakerState,
        max_attempts: u32,
        lease: Duration,
    ) -> ScriptInvocation<'static> {
        let mut acquire = self.messages_script(&scripts::ACQUIRE_SPEAKER, id);
        acquire
            .arg(leg)
            .arg(millis(lease))
            .arg("")
            .arg(max_attempts)
            .arg(now_ms())
            .arg(state.as_str());
        acquire
    }

    /// Like [`Store::acquire_speaker`], for a leg that starts in `state` (an announce leg:
    /// [`SpeakerState::Announcing`]).
    pub async fn acquire_speaker_as(
        &self,
        id: &CallId,
        leg: &str,
        state: SpeakerState,
        max_attempts: u32,
        lease: Duration,
    ) -> StoreResult<(bool, Vec<MessageId>)> {
        let acquire = self.acquire_script(id, leg, state, max_attempts, lease);
        let (acquired, failed): (i64, Vec<String>) = self.invoke_on_messages(id, &acquire).await?;
        Ok((acquired == 1, ids(failed)))
    }

    /// Renews `leg`'s lease while it waits; false if it is no longer the call's speaker.
    pub async fn renew_speaker(
        &self,
        id: &CallId,
        leg: &str,
        lease: Duration,
    ) -> StoreResult<bool> {
        let held: i64 = scripts::RENEW_SPEAKER
            .key(self.keys.call(id))
            .key(self.keys.speaker_lock(id))
            .arg(leg)
            .arg(millis(lease))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(held == 1)
    }

    /// Whether the call has messages waiting or in flight, no speaker, and no failed dial asking
    /// it to wait: the sweep's test.
    pub async fn needs_speaker(&self, id: &CallId) -> StoreResult<bool> {
        let needs: i64 = scripts::NEEDS_SPEAKER
            .key(self.keys.call(id))
            .key(self.keys.queue(id))
            .key(self.keys.inflight(id))
            .key(self.keys.speaker_lock(id))
            .arg(now_ms())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(needs == 1)
    }

    /// Twilio placed `leg`'s call (outbound half `call_sid`): its lease becomes `lease`. False
    /// if the leg is no longer the call's speaker (a slow dial outlived its lease).
    pub async fn speaker_dialled(
        &self,
        id: &CallId,
        leg: &str,
        call_sid: &CallSid,
        lease: Duration,
    ) -> StoreResult<bool> {
        let current: i64 = scripts::SPEAKER_DIALLED
            .key(self.keys.call(id))
            .key(self.keys.speaker_lock(id))
            .arg(leg)
            .arg(millis(lease))
            .arg(call_sid.as_str())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(current == 1)
    }

    /// Judges speaker `leg` of call `id`, which Twilio accepted but which never reached the
    /// gate before its lease lapsed (see [`UnansweredSpeaker`]): `still_placing` (Twilio holds it
    /// queued or ringing) keeps it for another `lease`, as long as its one-time code will still
    /// be live when it dials in; otherwise it is forgotten, as a leg that ended.
    pub async fn judge_unanswered_speaker(
        &self,
        id: &CallId,
        leg: &UnansweredSpeaker,
        still_placing: bool,
        lease: Duration,
    ) -> StoreResult<UnansweredVerdict> {
        let verdict: i64 = scripts::UNANSWERED_SPEAKER
            .key(self.keys.call(id))
            .key(self.keys.speaker_lock(id))
            .arg(&leg.leg)
            .arg(millis(lease))
            .arg(u8::from(still_placing))
            .arg(&leg.call_sid)
            .arg(now_ms())
            .arg(millis(CODE_TTL.saturating_sub(CODE_DIALLED_WITHIN)))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match verdict {
            1 => UnansweredVerdict::Kept,
            0 => UnansweredVerdict::Forgotten,
            _ => UnansweredVerdict::NotJudged,
        })
    }

    /// Twilio did not place `leg`'s call: see [`DialFailure`] and SPEAKER_DIAL_FAILED. `waits`
    /// are the pauses before the next dial after failure 1, 2, ... in a row; the failure after
    /// the last of them fails the waiting messages with `reason`.
    pub async fn speaker_dial_failed(
        &self,
        id: &CallId,
        leg: &str,
        reason: &str,
        waits: &[Duration],
    ) -> StoreResult<DialFailure> {
        let mut invocation = self.messages_script(&scripts::SPEAKER_DIAL_FAILED, id);
        invocation.arg(leg).arg(now_ms()).arg(reason);
        for wait in waits {
            invocation.arg(millis(*wait));
        }
        let (current, failed, wait): (i64, Vec<String>, i64) =
            self.invoke_on_messages(id, &invocation).await?;
        Ok(DialFailure {
            was_current: current == 1,
            failed: ids(failed),
            retry_in: u64::try_from(wait).ok().map(Duration::from_millis),
        })
    }

    /// Releases the lease of a speaker whose dial was abandoned; see RELEASE_DIALLING_SPEAKER.
    pub async fn release_dialling_speaker(&self, id: &CallId, leg: &str) -> StoreResult<bool> {
        let released: i64 = scripts::RELEASE_DIALLING_SPEAKER
            .key(self.keys.call(id))
            .key(self.keys.speaker_lock(id))
            .arg(leg)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(released == 1)
    }

    /// Consumes a code (it works once, GETDEL) and, if it belongs to the call's current speaker
    /// leg and the caller is still in, lets `inbound_sid` through as that leg's inbound half.
    /// Returns the call it opens and the leg's token.
    pub async fn redeem_speaker_code(
        &self,
        code: &str,
        inbound_sid: &CallSid,
    ) -> StoreResult<Option<(CallId, String)>> {
        let value: Option<String> = self.conn().get_del(self.keys.speaker_code(code)).await?;
        let Some((id, leg)) = value.as_deref().and_then(|v| v.split_once(':')) else {
            return Ok(None);
        };
        let Some(id) = CallId::parse(id) else {
            return Ok(None);
        };
        // The code lives on its own key (looked up by digits alone), so the check of the call
        // is a second, atomic step on the call's own keys.
        let admitted: i64 = scripts::ADMIT_SPEAKER
            .key(self.keys.call(&id))
            .arg(leg)
            .arg(inbound_sid.as_str())
            .invoke_async(&mut self.conn())
            .await?;
        Ok((admitted == 1).then(|| (id, leg.to_owned())))
    }

    /// A turn of a speaker: see [`Turn`] and [`TurnRequest`].
    pub async fn speaker_turn(&self, id: &CallId, request: &TurnRequest<'_>) -> StoreResult<Turn> {
        let TurnRequest {
            leg,
            turn,
            max_attempts,
            require_join,
            linger,
            lease,
            budget_bytes,
        } = *request;
        type Answer = (
            String,
            Vec<String>,
            Vec<String>,
            Vec<String>,
            i64,
            (String, String, String, String),
            Vec<Vec<String>>,
        );
        let mut invocation = self.messages_script(&scripts::SPEAKER_TURN, id);
        invocation
            .arg(leg)
            .arg(turn)
            .arg(now_ms())
            .arg(millis(lease))
            .arg(max_attempts)
            .arg(BATCH_LIMIT)
            .arg(if require_join { "joined" } else { "always" })
            .arg(if linger { "linger" } else { "" })
            .arg(budget_bytes);
        let (status, spoken, failed, _batch, more, call, messages): Answer =
            self.invoke_on_messages(id, &invocation).await?;
        let (call_state, speaker_state, conference_sid, code) = call;
        let batch = || -> StoreResult<Vec<Message>> {
            messages
                .into_iter()
                .filter(|m| !m.is_empty())
                .map(|m| message_from_fields(&pairs(m)))
                .collect()
        };
        Ok(match status.as_str() {
            "speak" => Turn::Speak {
                spoken: ids(spoken),
                failed: ids(failed),
                batch: batch()?,
                conference_sid: ConferenceSid::parse(&conference_sid),
            },
            "again" => Turn::Again { batch: batch()? },
            "unjoined" => Turn::Unjoined {
                call: CallState::parse(&call_state),
                speaker: SpeakerState::parse(&speaker_state),
                // Kept as "leg:code": only this leg's own.
                code: code
                    .split_once(':')
                    .filter(|(owner, _)| *owner == leg)
                    .map(|(_, code)| code.to_owned()),
            },
            "linger" => Turn::Linger {
                spoken: ids(spoken),
                failed: ids(failed),
            },
            "done" => Turn::Done {
                spoken: ids(spoken),
                failed: ids(failed),
                more: more == 1,
            },
            _ => Turn::Stale,
        })
    }

    /// The speaker leg `leg` is over (its call ended, or it gave up).
    pub async fn speaker_leg_ended(
        &self,
        id: &CallId,
        leg: &str,
        max_attempts: u32,
        reason: &str,
    ) -> StoreResult<LegEnd> {
        // The script also says whether the leg was still the speaker; nothing here needs it.
        let mut invocation = self.messages_script(&scripts::SPEAKER_LEG_ENDED, id);
        invocation
            .arg(leg)
            .arg(now_ms())
            .arg(max_attempts)
            .arg(reason);
        let (_current, more, failed): (i64, i64, Vec<String>) =
            self.invoke_on_messages(id, &invocation).await?;
        Ok(LegEnd {
            more_to_say: more == 1,
            failed: ids(failed),
        })
    }

    /// The ids the current speaker holds in flight, in order.
    pub async fn inflight(&self, id: &CallId) -> StoreResult<Vec<String>> {
        Ok(self.conn().lrange(self.keys.inflight(id), 0, -1).await?)
    }
}
