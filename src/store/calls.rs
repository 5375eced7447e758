//! Call records.

use std::collections::HashMap;
use std::time::Duration;

use redis::AsyncCommands as _;

use super::{Store, StoreError, StoreResult, scripts};
use crate::domain::{
    Call, CallId, CallSid, CallState, ConferenceName, ConferenceSid, Direction, LineId, MessageId,
    now_ms,
};

/// What `/twilio/voice` knows about a new call.
pub struct NewCall<'a> {
    /// For an incoming call, `domain::incoming_call_id` of its CallSid (so a repeat is the same).
    pub id: &'a CallId,
    /// None for an outbound call recorded before Twilio is asked to place it.
    pub call_sid: Option<&'a CallSid>,
    /// The number at the other end (see [`Call::other_party`]); stored as `from`.
    pub other_party: &'a str,
    /// The line's own number; stored as `to`.
    pub line_number: &'a str,
    pub caller_name: Option<&'a str>,
    /// How the caller leg is announced (its participant name), when it has a CallSid.
    pub announced_as: Option<&'a str>,
    pub direction: Direction,
    /// The line the call is on.
    pub line: &'a LineId,
    /// The key pressed in the line's menu, when it came through one.
    pub menu_choice: Option<&'a str>,
    /// When the sweep must first look at the call, from now (see `store::sweep`): the soonest
    /// of its first checks (responders rung, voicemail, Twilio asked about a quiet call).
    pub first_look: Duration,
}

/// Whose leg a conference participant event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantRole {
    Caller,
    Speaker,
    Other,
    /// Someone else whose join arrived after their leave: they came and went.
    CameAndWent,
    /// The conference belongs to no call denwa knows.
    Unknown,
    /// Out of order (older than an event already seen), or the call has ended: nothing to do.
    Ignored,
}

/// How long a call's records outlive its end: long enough for the team to read receipts.
const ENDED_CALL_TTL_SECS: i64 = 7 * 24 * 3600;

/// What earlier versions stored as the CallSid of an outbound call not yet placed
/// (`pending-<call id>`): read as none, as a call recorded across an upgrade may still hold it.
const LEGACY_PENDING_SID: &str = "pending-";

/// How long an index entry may name a call whose record is not there before it is dropped: the
/// record is written in the same pipeline, so it is there within a round trip or never.
pub(super) const UNRECORDED_GRACE_MS: u64 = 60_000;

/// Call records read together when all active calls are listed.
const READ_CHUNK: usize = 500;

/// The lifetime a live call's messages hash is given at each enqueue: longer than any call lasts
/// (Twilio ends a call after 24 hours at most) and the week after it, which the call's end sets
/// as for every key of the call. A replica of the previous version ending the call during a
/// rolling upgrade knows nothing of this hash; it still goes.
pub(super) const LIVE_MESSAGES_TTL: Duration = Duration::from_secs(9 * 24 * 3600);

/// Messages given their expiry per round trip when a call ends.
const EXPIRE_CHUNK: usize = 1000;

/// What [`Store::create_call`] did, with the call as it is now.
#[derive(Debug, Clone)]
pub enum CreateOutcome {
    /// The call is recorded.
    Created(Call),
    /// It was recorded before: Twilio asked again about the same call.
    Exists(Call),
}

impl Store {
    /// Records a new call once (see CREATE_CALL), in one round trip: the call's own keys in one
    /// script that answers the call as stored, and sent with it the single-key writes outside
    /// its hash slot: the CallSid lookup and the active-call index. They are not atomic
    /// with the script (on a Redis Cluster they are other masters' keys) but each is
    /// idempotent, so a repeat of the request completes what a failure left half done, and what
    /// is left meanwhile is only what the sweep repairs: an index entry for a call not (yet)
    /// recorded, or for an ended call a repeat re-added (see [`Store::active_calls`]), and a
    /// lookup that names a call not recorded, which reads as no call.
    pub async fn create_call(&self, call: NewCall<'_>) -> StoreResult<CreateOutcome> {
        let now = now_ms();
        let mut fields: Vec<(String, String)> = vec![
            ("id".into(), call.id.to_string()),
            ("state".into(), CallState::Ringing.as_str().into()),
            ("from".into(), call.other_party.into()),
            ("to".into(), call.line_number.into()),
            ("started_at".into(), now.to_string()),
            ("last_activity_at".into(), now.to_string()),
            ("direction".into(), call.direction.as_str().into()),
            ("line".into(), call.line.to_string()),
        ];
        if let Some(choice) = call.menu_choice {
            fields.push(("menu_choice".into(), choice.into()));
        }
        if let Some(sid) = call.call_sid {
            fields.push(("call_sid".into(), sid.to_string()));
            if let Some(name) = call.announced_as {
                fields.push((format!("name:{sid}"), name.into()));
            }
        }
        if let Some(name) = call.caller_name {
            fields.push(("caller_name".into(), name.into()));
        }
        let mut create = scripts::CREATE_CALL.prepare_invoke();
        create
            .key(self.keys.call(call.id))
            .key(self.keys.joined(call.id))
            .arg(now);
        for (name, value) in &fields {
            create.arg(name).arg(value);
        }
        // Sent together, not one after the other: the connection multiplexes them (one
        // socket's pipeline on a standalone Redis, each master's own on a cluster, whose client
        // refuses a pipeline across slots), so the three cost one round trip of latency.
        let (mut c1, mut c2, mut c3, mut c4) = (self.conn(), self.conn(), self.conn(), self.conn());
        let lookup = async {
            match call.call_sid {
                Some(sid) => {
                    c1.set_ex(
                        self.keys.call_sid(sid),
                        call.id.as_str(),
                        ENDED_CALL_TTL_SECS as u64,
                    )
                    .await
                }
                None => Ok(()),
            }
        };
        // NX: a repeat keeps the call's place (its start) in the index.
        let mut index = redis::cmd("ZADD");
        index
            .arg(self.keys.active_calls())
            .arg("NX")
            .arg(now)
            .arg(call.id.as_str());
        // NX too: a repeat does not put off a look already due.
        let mut due = redis::cmd("ZADD");
        due.arg(self.keys.due_calls())
            .arg("NX")
            .arg(now + call.first_look.as_millis() as u64)
            .arg(call.id.as_str());
        let (created, hash, joined): (i64, Vec<String>, Vec<String>) = {
            let (stored, (), _, _): (_, (), i64, i64) = futures::try_join!(
                create.invoke_async(&mut c2),
                lookup,
                index.query_async(&mut c3),
                due.query_async(&mut c4)
            )?;
            stored
        };
        let fields: HashMap<String, String> = pairs(hash);
        let mut record = call_from_fields(call.id, &fields)?;
        record.joined = joined;
        Ok(if created == 1 {
            CreateOutcome::Created(record)
        } else {
            CreateOutcome::Exists(record)
        })
    }

    /// Sets the caller leg's CallSid once Twilio has it (outbound calls are recorded before).
    /// Two single-key writes in two hash slots, the lookup first: if the second fails, what is
    /// left is a lookup naming the call, which is right, and the call hash without its CallSid,
    /// as before this step.
    pub async fn set_call_sid(&self, id: &CallId, call_sid: &CallSid) -> StoreResult<()> {
        let _: () = self
            .conn()
            .set_ex(
                self.keys.call_sid(call_sid),
                id.as_str(),
                ENDED_CALL_TTL_SECS as u64,
            )
            .await?;
        let _: () = self
            .conn()
            .hset(self.keys.call(id), "call_sid", call_sid.as_str())
            .await?;
        Ok(())
    }

    /// The call whose caller leg has this Twilio CallSid.
    pub async fn call_for_sid(&self, call_sid: &CallSid) -> StoreResult<Option<CallId>> {
        let id: Option<String> = self.conn().get(self.keys.call_sid(call_sid)).await?;
        Ok(id.and_then(|s| CallId::parse(&s)))
    }

    pub async fn call(&self, id: &CallId) -> StoreResult<Option<Call>> {
        let fields: HashMap<String, String> = self.conn().hgetall(self.keys.call(id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let mut call = call_from_fields(id, &fields)?;
        call.joined = self.joined_names(id).await?;
        Ok(Some(call))
    }

    /// Active calls, oldest first. The index is written apart from the calls (see
    /// [`Store::create_call`], [`Store::end_call`]), so it may name a call that has ended or
    /// whose record was never written: those entries are dropped here (the sweep reads this
    /// every few seconds), a missing record only once it is older than
    /// [`UNRECORDED_GRACE_MS`], as its record may be being written on another master.
    pub async fn active_calls(&self) -> StoreResult<Vec<Call>> {
        let index: Vec<(String, f64)> = self
            .conn()
            .zrange_withscores(self.keys.active_calls(), 0, -1)
            .await?;
        let now = now_ms() as f64;
        let mut calls = Vec::with_capacity(index.len());
        let mut stale = Vec::new();
        let mut ids = Vec::with_capacity(index.len());
        for (member, since) in index {
            match CallId::parse(&member) {
                Some(id) => ids.push((id, member, since)),
                None => stale.push(member),
            }
        }
        // Read together, a chunk at a time: one round trip of latency per chunk, not one per call,
        // and no more than a chunk's requests in flight.
        let mut records = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(READ_CHUNK) {
            records.extend(
                futures::future::try_join_all(chunk.iter().map(|(id, _, _)| self.call(id))).await?,
            );
        }
        for ((_, member, since), record) in ids.into_iter().zip(records) {
            match record {
                Some(call) if call.state == CallState::Ended => stale.push(member),
                Some(call) => calls.push(call),
                None if now - since > UNRECORDED_GRACE_MS as f64 => stale.push(member),
                None => {}
            }
        }
        if !stale.is_empty() {
            self.unindex_calls(&stale).await?;
        }
        Ok(calls)
    }

    /// Drops calls from the active-call index and the sweep's: two single-key commands (each
    /// index is its own hash slot), sent together.
    pub(super) async fn unindex_calls<T: redis::ToRedisArgs + Send + Sync>(
        &self,
        ids: &[T],
    ) -> StoreResult<()> {
        let (mut active, mut due) = (self.conn(), self.conn());
        let (_, _): (i64, i64) = futures::try_join!(
            active.zrem(self.keys.active_calls(), ids),
            due.zrem(self.keys.due_calls(), ids)
        )?;
        Ok(())
    }

    /// Claims the right to ask Twilio whether the call is still on: true for one replica once
    /// Twilio has said nothing about it, and nobody has asked, for `quiet`.
    pub async fn claim_status_check(&self, id: &CallId, quiet: Duration) -> StoreResult<bool> {
        let claimed: i64 = scripts::CLAIM_STATUS_CHECK
            .key(self.keys.call(id))
            .arg(now_ms())
            .arg(quiet.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(claimed == 1)
    }

    /// Speaker-leg bookkeeping fields of the call hash, for the speaker's turn decisions.
    pub(crate) async fn call_field(&self, id: &CallId, field: &str) -> StoreResult<Option<String>> {
        Ok(self.conn().hget(self.keys.call(id), field).await?)
    }

    /// Fields of call `id`'s hash, in the order asked (`None` for each one unset).
    pub(crate) async fn call_fields<const N: usize>(
        &self,
        id: &CallId,
        fields: [&str; N],
    ) -> StoreResult<[Option<String>; N]> {
        let values: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.call(id))
            .arg(&fields[..])
            .query_async(&mut self.conn())
            .await?;
        Ok(std::array::from_fn(|i| values.get(i).cloned().flatten()))
    }

    /// Marks the call ended (once) and fails its unspoken messages. Returns whether this call
    /// did the ending, and the ids it failed.
    /// With `conference`, only if that is the call's conference (see END_CALL).
    pub async fn end_call(
        &self,
        id: &CallId,
        reason: &str,
        conference: Option<&ConferenceSid>,
    ) -> StoreResult<(bool, Vec<MessageId>)> {
        let mut invocation = scripts::END_CALL.prepare_invoke();
        invocation
            .key(self.keys.call(id))
            .key(self.keys.queue(id))
            .key(self.keys.inflight(id))
            .key(self.keys.messages(id))
            .arg(id.as_str())
            .arg(now_ms())
            .arg(reason)
            .arg(conference.map(ConferenceSid::as_str).unwrap_or_default());
        let (ended, failed): (i64, Vec<String>) = self.invoke_on_messages(id, &invocation).await?;
        if ended == 1 {
            // After the call is marked ended: a failure here leaves an ended call in the indexes,
            // which `active_calls` and the sweep drop.
            self.unindex_calls(&[id.as_str()]).await?;
            self.expire_call(id).await?;
        }
        Ok((
            ended == 1,
            failed.iter().filter_map(|s| MessageId::parse(s)).collect(),
        ))
    }

    /// Gives every key of an ended call the same expiry. The messages' hashes of the previous
    /// layout (a replica of that version wrote them, or ENQUEUE did for such replicas: see
    /// `migration`) go first, a chunk per round trip: a long call has many ids, and one pipeline
    /// of them all would hold them all in memory at once (the order list no longer grows: the
    /// call has ended). This pass goes with that layout.
    async fn expire_call(&self, id: &CallId) -> StoreResult<()> {
        let order = self.keys.order(id);
        let total: usize = self.conn().llen(&order).await?;
        for start in (0..total).step_by(EXPIRE_CHUNK) {
            let end = start + EXPIRE_CHUNK - 1;
            let ids: Vec<String> = self
                .conn()
                .lrange(&order, start as isize, end as isize)
                .await?;
            if ids.is_empty() {
                break;
            }
            let mut pipe = redis::pipe();
            for mid in ids {
                pipe.expire(self.keys.legacy_message(id, &mid), ENDED_CALL_TTL_SECS)
                    .ignore();
            }
            pipe.query_async::<()>(&mut self.conn()).await?;
        }
        let mut pipe = redis::pipe();
        for key in [
            self.keys.call(id),
            order,
            self.keys.messages(id),
            self.keys.queue(id),
            self.keys.inflight(id),
            self.keys.joined(id),
            self.keys.named_messages(id),
            self.keys.transcript(id),
            self.keys.transcript_unposted(id),
        ] {
            pipe.expire(key, ENDED_CALL_TTL_SECS).ignore();
        }
        pipe.query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    /// Records a conference event about a participant of the call's conference, or the
    /// conference's start. `sequence` is Twilio's SequenceNumber, to drop late arrivals;
    /// `starts_conference`: the participant joined with startConferenceOnEnter=true.
    pub async fn conference_event(
        &self,
        id: &CallId,
        event: ConferenceChange<'_>,
        conference_sid: &ConferenceSid,
        sequence: Option<u64>,
        starts_conference: bool,
    ) -> StoreResult<ParticipantRole> {
        let (call_sid, kind) = match event {
            ConferenceChange::Started => ("", "start"),
            ConferenceChange::Joined(sid) => (sid.as_str(), "join"),
            ConferenceChange::Left(sid) => (sid.as_str(), "leave"),
        };
        let role: String = scripts::PARTICIPANT
            .key(self.keys.call(id))
            .arg(call_sid)
            .arg(kind)
            .arg(conference_sid.as_str())
            .arg(now_ms())
            .arg(sequence.map(|s| s.to_string()).unwrap_or_default())
            .arg(if starts_conference { "1" } else { "" })
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match role.as_str() {
            "caller" => ParticipantRole::Caller,
            "speaker" => ParticipantRole::Speaker,
            "other" => ParticipantRole::Other,
            "came-and-went" => ParticipantRole::CameAndWent,
            "old" | "ended" => ParticipantRole::Ignored,
            _ => ParticipantRole::Unknown,
        })
    }
}

/// A change in a call's conference.
#[derive(Debug, Clone, Copy)]
pub enum ConferenceChange<'a> {
    Started,
    Joined(&'a CallSid),
    Left(&'a CallSid),
}

/// HGETALL's answer inside a script: field, value, field, value...
pub(super) fn pairs(flat: Vec<String>) -> HashMap<String, String> {
    let mut fields = HashMap::with_capacity(flat.len() / 2);
    let mut items = flat.into_iter();
    while let (Some(field), Some(value)) = (items.next(), items.next()) {
        fields.insert(field, value);
    }
    fields
}

pub(super) fn call_from_fields(id: &CallId, f: &HashMap<String, String>) -> StoreResult<Call> {
    let text = |k: &str| f.get(k).cloned().unwrap_or_default();
    let num = |k: &str| f.get(k).and_then(|v| v.parse::<u64>().ok());
    let state = f
        .get("state")
        .and_then(|s| CallState::parse(s))
        .ok_or_else(|| StoreError::Corrupt(format!("call {id} has no valid state")))?;
    Ok(Call {
        id: id.clone(),
        state,
        other_party: text("from"),
        line_number: text("to"),
        caller_name: f.get("caller_name").cloned(),
        call_sid: f
            .get("call_sid")
            .filter(|sid| !sid.starts_with(LEGACY_PENDING_SID))
            .and_then(|sid| {
                let parsed = CallSid::parse(sid);
                if parsed.is_none() {
                    tracing::warn!(call = %id, "the stored CallSid is not one; the call is read without it");
                }
                parsed
            }),
        conference: ConferenceName::of(id).to_string(),
        line: f.get("line").and_then(|l| LineId::parse(l)),
        menu_choice: f.get("menu_choice").cloned(),
        started_at: num("started_at").unwrap_or(0),
        ended_at: num("ended_at"),
        messages_spoken: num("messages_spoken").unwrap_or(0),
        messages_failed: num("messages_failed").unwrap_or(0),
        caller_utterances: num("tx_utterances").unwrap_or(0),
        speaker_legs: num("speaker_legs").unwrap_or(0),
        responder_legs: num("responder_legs").unwrap_or(0),
        // Calls recorded before denwa kept a direction were all inbound.
        direction: match f.get("direction") {
            None => Direction::Inbound,
            Some(d) => Direction::parse(d)
                .ok_or_else(|| StoreError::Corrupt(format!("call {id} has no valid direction")))?,
        },
        joined: Vec::new(),
        voicemail_url: f.get("voicemail_recording").cloned(),
        voicemail_transcript: f.get("voicemail_transcript").cloned(),
        // Calls recorded before denwa kept this: their start is the last news of them.
        last_activity_at: num("last_activity_at").or(num("started_at")).unwrap_or(0),
        status_checked_at: num("status_checked_at"),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::call_from_fields;
    use crate::domain::CallId;

    fn call_sid_read_from(stored: Option<&str>) -> Option<String> {
        let id = CallId::generate();
        let mut fields = HashMap::from([("state".to_owned(), "ringing".to_owned())]);
        if let Some(sid) = stored {
            fields.insert("call_sid".to_owned(), sid.to_owned());
        }
        call_from_fields(&id, &fields)
            .unwrap()
            .call_sid
            .map(|sid| sid.to_string())
    }

    #[test]
    fn a_call_not_yet_placed_has_no_call_sid_also_as_earlier_versions_stored_it() {
        let sid = "CA0123456789abcdef0123456789abcdef";
        assert_eq!(call_sid_read_from(Some(sid)).as_deref(), Some(sid));
        assert_eq!(call_sid_read_from(None), None);
        assert_eq!(call_sid_read_from(Some("pending-0123456789abcdef")), None);
    }
}
