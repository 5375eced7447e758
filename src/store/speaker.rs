//! The speaker lock, one-time codes and the speaker's turns.

use redis::AsyncCommands as _;

use super::{Store, StoreResult, scripts};
use crate::domain::{CallId, MessageId, now_ms};

/// How long the speaker lock lives without a turn refreshing it. A leg refreshes it every time it
/// fetches `/twilio/speak`; if a leg vanishes without a status callback, the lock lapses and the
/// next message dials a fresh leg instead of waiting forever. Long enough to cover a leg's dialling
/// and join wait, short enough that a lost leg costs at most this much delay.
pub const SPEAKER_LOCK_TTL_MS: u64 = 120_000;

/// How long a one-time code stays valid: the self-dialled leg presents it seconds after it is
/// issued; anything later is not ours.
const CODE_TTL_SECS: u64 = 120;

/// The most messages one turn says; the rest wait for the next turn (a `<Redirect>` away), which
/// keeps each TwiML document small.
const BATCH_LIMIT: usize = 20;

/// Where the current speaker leg is, per the call hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeakerState {
    /// The leg is being dialled or is entering its code.
    Dialing,
    /// Its inbound half presented a valid code and is joining the conference.
    Gated,
    /// Its inbound half is in the conference: speech is heard from now on.
    Joined,
    /// Its inbound half left the conference.
    Left,
}

/// The outcome of one speaker turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// This leg no longer holds the lock: it must hang up without speaking.
    Stale,
    /// Nothing left to say; the lock is released.
    Done {
        spoken: Vec<MessageId>,
        failed: Vec<MessageId>,
    },
    /// Say these (in order), then come back.
    Speak {
        spoken: Vec<MessageId>,
        failed: Vec<MessageId>,
        batch: Vec<MessageId>,
    },
}

/// The outcome of a speaker leg ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegEnd {
    /// Whether the leg was still the call's current speaker (else: nothing changed).
    pub was_current: bool,
    /// Messages are still waiting: dial another leg.
    pub more_to_say: bool,
    pub failed: Vec<MessageId>,
}

fn ids(raw: Vec<String>) -> Vec<MessageId> {
    raw.iter().filter_map(|s| MessageId::parse(s)).collect()
}

impl Store {
    /// Takes the speaker lock for `leg` if the call has something to say and no leg is speaking.
    pub async fn acquire_speaker(
        &self,
        id: &CallId,
        leg: &str,
        max_attempts: u32,
    ) -> StoreResult<(bool, Vec<MessageId>)> {
        let (acquired, failed): (i64, Vec<String>) = scripts::ACQUIRE_SPEAKER
            .key(self.keys.call(id))
            .key(self.keys.queue(id))
            .key(self.keys.inflight(id))
            .key(self.keys.speaker_lock(id))
            .arg(leg)
            .arg(SPEAKER_LOCK_TTL_MS)
            .arg(self.keys.message_prefix(id))
            .arg(max_attempts)
            .arg(now_ms())
            .invoke_async(&mut self.conn())
            .await?;
        Ok((acquired == 1, ids(failed)))
    }

    /// Whether `leg` still holds the call's speaker lock.
    pub async fn holds_speaker(&self, id: &CallId, leg: &str) -> StoreResult<bool> {
        let holder: Option<String> = self.conn().get(self.keys.speaker_lock(id)).await?;
        Ok(holder.as_deref() == Some(leg))
    }

    pub async fn speaker_state(&self, id: &CallId) -> StoreResult<Option<SpeakerState>> {
        Ok(self
            .call_field(id, "speaker_state")
            .await?
            .and_then(|s| match s.as_str() {
                "dialing" => Some(SpeakerState::Dialing),
                "gated" => Some(SpeakerState::Gated),
                "joined" => Some(SpeakerState::Joined),
                "left" => Some(SpeakerState::Left),
                _ => None,
            }))
    }

    /// Records the Twilio CallSid of the speaker leg's outbound half (for status callbacks).
    pub async fn set_speaker_outbound(
        &self,
        id: &CallId,
        leg: &str,
        call_sid: &str,
    ) -> StoreResult<()> {
        let key = self.keys.call(id);
        let current: Option<String> = self.conn().hget(&key, "speaker_leg").await?;
        if current.as_deref() == Some(leg) {
            let _: () = self.conn().hset(&key, "speaker_out_sid", call_sid).await?;
        }
        Ok(())
    }

    /// Issues the one-time code the speaker leg will dial in with.
    pub async fn store_speaker_code(&self, code: &str, id: &CallId, leg: &str) -> StoreResult<()> {
        let value = format!("{id}:{leg}");
        let _: () = self
            .conn()
            .set_ex(self.keys.speaker_code(code), value, CODE_TTL_SECS)
            .await?;
        Ok(())
    }

    /// Consumes a code (it works once) and, if it belongs to the call's current speaker leg,
    /// lets `inbound_sid` through: it is now the leg's inbound half. Returns the call it opens.
    pub async fn redeem_speaker_code(
        &self,
        code: &str,
        inbound_sid: &str,
    ) -> StoreResult<Option<CallId>> {
        let value: Option<String> = self.conn().get_del(self.keys.speaker_code(code)).await?;
        let Some((id, leg)) = value.as_deref().and_then(|v| v.split_once(':')) else {
            return Ok(None);
        };
        let Some(id) = CallId::parse(id) else {
            return Ok(None);
        };
        let key = self.keys.call(&id);
        let (state, current): (Option<String>, Option<String>) = redis::pipe()
            .hget(&key, "state")
            .hget(&key, "speaker_leg")
            .query_async(&mut self.conn())
            .await?;
        if state.as_deref() == Some("ended") || current.as_deref() != Some(leg) {
            return Ok(None);
        }
        let _: () = self
            .conn()
            .hset_multiple(
                &key,
                &[("speaker_in_sid", inbound_sid), ("speaker_state", "gated")],
            )
            .await?;
        Ok(Some(id))
    }

    /// One turn of the speaker leg `leg`: see [`Turn`]. `require_join` is false for the announce
    /// strategy, where Twilio plays the announcement into the conference itself.
    pub async fn speaker_turn(
        &self,
        id: &CallId,
        leg: &str,
        max_attempts: u32,
        require_join: bool,
    ) -> StoreResult<Turn> {
        let (status, spoken, failed, batch): (String, Vec<String>, Vec<String>, Vec<String>) =
            scripts::SPEAKER_TURN
                .key(self.keys.call(id))
                .key(self.keys.queue(id))
                .key(self.keys.inflight(id))
                .key(self.keys.speaker_lock(id))
                .arg(leg)
                .arg(now_ms())
                .arg(SPEAKER_LOCK_TTL_MS)
                .arg(max_attempts)
                .arg(self.keys.message_prefix(id))
                .arg(BATCH_LIMIT)
                .arg(if require_join { "joined" } else { "always" })
                .invoke_async(&mut self.conn())
                .await?;
        Ok(match status.as_str() {
            "speak" => Turn::Speak {
                spoken: ids(spoken),
                failed: ids(failed),
                batch: ids(batch),
            },
            "done" => Turn::Done {
                spoken: ids(spoken),
                failed: ids(failed),
            },
            _ => Turn::Stale,
        })
    }

    /// The speaker leg `leg` is over (its call ended, or it gave up waiting).
    pub async fn speaker_leg_ended(
        &self,
        id: &CallId,
        leg: &str,
        max_attempts: u32,
        reason: &str,
    ) -> StoreResult<LegEnd> {
        let (current, more, failed): (i64, i64, Vec<String>) = scripts::SPEAKER_LEG_ENDED
            .key(self.keys.call(id))
            .key(self.keys.queue(id))
            .key(self.keys.inflight(id))
            .key(self.keys.speaker_lock(id))
            .arg(leg)
            .arg(now_ms())
            .arg(max_attempts)
            .arg(self.keys.message_prefix(id))
            .arg(reason)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(LegEnd {
            was_current: current == 1,
            more_to_say: more == 1,
            failed: ids(failed),
        })
    }
}

impl Store {
    /// The ids the current speaker holds in flight, in order.
    pub async fn inflight(&self, id: &CallId) -> StoreResult<Vec<String>> {
        Ok(self.conn().lrange(self.keys.inflight(id), 0, -1).await?)
    }
}
