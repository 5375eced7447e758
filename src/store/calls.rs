//! Call records.

use std::collections::HashMap;
use std::time::Duration;

use redis::AsyncCommands as _;

use super::{Store, StoreError, StoreResult, scripts};
use crate::domain::{
    Call, CallId, CallSid, CallState, ConferenceName, ConferenceSid, Direction, MessageId, now_ms,
};

/// What `/twilio/voice` knows about a new call.
pub struct NewCall<'a> {
    pub id: &'a CallId,
    /// None for an outbound call recorded before Twilio is asked to place it.
    pub call_sid: Option<&'a CallSid>,
    /// The number at the other end (see [`Call::other_party`]); stored as `from`.
    pub other_party: &'a str,
    /// The line's own number; stored as `to`.
    pub line_number: &'a str,
    pub caller_name: Option<&'a str>,
    pub direction: Direction,
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

/// Messages given their expiry per round trip when a call ends.
const EXPIRE_CHUNK: usize = 1000;

/// What [`Store::create_call`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The call is recorded, under the id it was given.
    Created,
    /// Its CallSid already is this call: Twilio asked again about the same call.
    Exists(CallId),
}

impl Store {
    /// Records a new call, unless its CallSid already is one (see CREATE_CALL).
    pub async fn create_call(&self, call: NewCall<'_>) -> StoreResult<CreateOutcome> {
        let now = now_ms();
        let mut fields: Vec<(&str, String)> = vec![
            ("id", call.id.to_string()),
            ("state", CallState::Ringing.as_str().into()),
            ("from", call.other_party.into()),
            ("to", call.line_number.into()),
            ("started_at", now.to_string()),
            ("last_activity_at", now.to_string()),
            ("direction", call.direction.as_str().into()),
        ];
        if let Some(sid) = call.call_sid {
            fields.push(("call_sid", sid.to_string()));
        }
        if let Some(name) = call.caller_name {
            fields.push(("caller_name", name.into()));
        }
        let mut script = scripts::CREATE_CALL.prepare_invoke();
        script
            .key(self.keys.call(call.id))
            .key(self.keys.active_calls());
        if let Some(sid) = call.call_sid {
            script.key(self.keys.call_sid(sid));
        }
        script
            .arg(call.id.as_str())
            .arg(ENDED_CALL_TTL_SECS)
            .arg(now);
        for (name, value) in &fields {
            script.arg(*name).arg(value);
        }
        let existing: Option<String> = script.invoke_async(&mut self.conn()).await?;
        match existing {
            None => Ok(CreateOutcome::Created),
            Some(id) => CallId::parse(&id)
                .map(CreateOutcome::Exists)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("CallSid maps to a bad call id {id:?}"))
                }),
        }
    }

    /// Sets the caller leg's CallSid once Twilio has it (outbound calls are recorded before).
    pub async fn set_call_sid(&self, id: &CallId, call_sid: &CallSid) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(self.keys.call(id), "call_sid", call_sid.as_str())
            .ignore()
            .set_ex(
                self.keys.call_sid(call_sid),
                id.as_str(),
                ENDED_CALL_TTL_SECS as u64,
            )
            .ignore();
        pipe.query_async::<()>(&mut self.conn()).await?;
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

    /// Active calls, oldest first.
    pub async fn active_calls(&self) -> StoreResult<Vec<Call>> {
        let ids: Vec<String> = self.conn().zrange(self.keys.active_calls(), 0, -1).await?;
        let mut calls = Vec::with_capacity(ids.len());
        for id in ids.iter().filter_map(|s| CallId::parse(s)) {
            if let Some(call) = self.call(&id).await? {
                calls.push(call);
            }
        }
        Ok(calls)
    }

    /// Twilio told denwa about the call's caller leg: it is not lost (see CLAIM_STATUS_CHECK).
    pub async fn touch_call(&self, id: &CallId) -> StoreResult<()> {
        let _: () = scripts::TOUCH_CALL
            .key(self.keys.call(id))
            .arg(now_ms())
            .invoke_async(&mut self.conn())
            .await?;
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

    /// The SID of the call's running conference, as its events named it.
    pub async fn conference_sid(&self, id: &CallId) -> StoreResult<Option<ConferenceSid>> {
        let stored = self.call_field(id, "conference_sid").await?;
        Ok(stored.and_then(|sid| {
            let parsed = ConferenceSid::parse(&sid);
            if parsed.is_none() {
                tracing::warn!(call = %id, "the stored ConferenceSid is not one");
            }
            parsed
        }))
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
        let (ended, failed): (i64, Vec<String>) = scripts::END_CALL
            .key(self.keys.call(id))
            .key(self.keys.queue(id))
            .key(self.keys.inflight(id))
            .key(self.keys.active_calls())
            .arg(id.as_str())
            .arg(now_ms())
            .arg(self.keys.message_prefix(id))
            .arg(reason)
            .arg(conference.map(ConferenceSid::as_str).unwrap_or_default())
            .invoke_async(&mut self.conn())
            .await?;
        if ended == 1 {
            self.expire_call(id).await?;
        }
        Ok((
            ended == 1,
            failed.iter().filter_map(|s| MessageId::parse(s)).collect(),
        ))
    }

    /// Gives every key of an ended call the same expiry. The messages go first, a chunk per
    /// round trip: a long call has many, and one pipeline of them all would hold its every id in
    /// memory at once (the order list no longer grows: the call has ended).
    async fn expire_call(&self, id: &CallId) -> StoreResult<()> {
        let order = self.keys.order(id);
        let prefix = self.keys.message_prefix(id);
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
                pipe.expire(format!("{prefix}{mid}"), ENDED_CALL_TTL_SECS)
                    .ignore();
            }
            pipe.query_async::<()>(&mut self.conn()).await?;
        }
        let mut pipe = redis::pipe();
        for key in [
            self.keys.call(id),
            order,
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

fn call_from_fields(id: &CallId, f: &HashMap<String, String>) -> StoreResult<Call> {
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
