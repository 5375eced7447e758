//! Responder legs, participants' names and presence, voicemail: the on-call line's state.

use redis::AsyncCommands as _;

use super::{Store, StoreResult, scripts};
use crate::domain::{CallId, CallSid, now_ms};

/// What Twilio reported of a voicemail: the recording (`<Record>`'s action) or its transcript
/// (the transcribe callback). They come in either order, and a callback may come twice.
#[derive(Debug, Clone, Copy)]
pub enum VoicemailPart<'a> {
    Recording(&'a str),
    Transcript(&'a str),
}

/// What of a voicemail is to be posted now, in this order: the recording, then its transcript
/// (each once, and the transcript never before the recording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicemailNews {
    /// The recording's URL ("" while it is not known).
    pub recording_url: String,
    pub post_recording: bool,
    pub transcript: Option<String>,
}

/// How long a responder counts as busy on a call without a release (a lost status callback must
/// not keep them off the rota forever; no on-call call lasts this long).
const RESPONDER_BUSY_SECS: u64 = 4 * 3600;

impl Store {
    /// The display name of a participant leg (responder, or the caller).
    pub async fn set_participant_name(
        &self,
        id: &CallId,
        call_sid: &CallSid,
        name: &str,
    ) -> StoreResult<()> {
        let _: () = self
            .conn()
            .hset(self.keys.call(id), format!("name:{call_sid}"), name)
            .await?;
        Ok(())
    }

    pub async fn participant_name(
        &self,
        id: &CallId,
        call_sid: &CallSid,
    ) -> StoreResult<Option<String>> {
        self.call_field(id, &format!("name:{call_sid}")).await
    }

    /// Marks a responder busy with call `id`; false if they already are on a denwa call.
    pub async fn claim_responder(&self, phone: &str, id: &CallId) -> StoreResult<bool> {
        let claimed: Option<String> = redis::cmd("SET")
            .arg(self.keys.responder_busy(phone))
            .arg(id.as_str())
            .arg("NX")
            .arg("EX")
            .arg(RESPONDER_BUSY_SECS)
            .query_async(&mut self.conn())
            .await?;
        Ok(claimed.is_some())
    }

    /// Frees a responder claimed for call `id` (not one since claimed by another call).
    pub async fn release_responder(&self, phone: &str, id: &CallId) -> StoreResult<()> {
        let key = self.keys.responder_busy(phone);
        let holder: Option<String> = self.conn().get(&key).await?;
        if holder.as_deref() == Some(id.as_str()) {
            let _: () = self.conn().del(&key).await?;
        }
        Ok(())
    }

    /// Records responder `index`'s leg for the call (it costs a call leg).
    pub async fn record_responder_leg(
        &self,
        id: &CallId,
        index: usize,
        call_sid: &CallSid,
    ) -> StoreResult<()> {
        let key = self.keys.call(id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(&key, format!("responder:{index}"), call_sid.as_str())
            .ignore()
            .hincr(&key, "responder_legs", 1)
            .ignore();
        pipe.query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    /// The call's responder legs: (responder index, CallSid).
    pub async fn responder_legs(&self, id: &CallId) -> StoreResult<Vec<(usize, CallSid)>> {
        let fields: std::collections::HashMap<String, String> =
            self.conn().hgetall(self.keys.call(id)).await?;
        let mut legs: Vec<(usize, CallSid)> = fields
            .into_iter()
            .filter_map(|(k, v)| {
                let index = k.strip_prefix("responder:")?.parse().ok()?;
                let sid = CallSid::parse(&v);
                if sid.is_none() {
                    tracing::warn!(call = %id, index, "a stored responder leg is not a CallSid; left out");
                }
                Some((index, sid?))
            })
            .collect();
        legs.sort();
        Ok(legs)
    }

    /// Records that a responder leg ended; false if it was recorded already (a repeated callback).
    pub async fn responder_leg_done(&self, id: &CallId, call_sid: &CallSid) -> StoreResult<bool> {
        let first: i64 = self
            .conn()
            .hset_nx(self.keys.call(id), format!("leg_done:{call_sid}"), 1)
            .await?;
        Ok(first == 1)
    }

    /// The leg in-order ringing is waiting on.
    pub async fn set_ring_current(&self, id: &CallId, call_sid: &CallSid) -> StoreResult<()> {
        let _: () = self
            .conn()
            .hset(self.keys.call(id), "ring_current", call_sid.as_str())
            .await?;
        Ok(())
    }

    /// The leg in-order ringing is waiting on, if any.
    pub async fn ring_current(&self, id: &CallId) -> StoreResult<Option<CallSid>> {
        let stored = self.call_field(id, "ring_current").await?;
        Ok(stored.and_then(|sid| CallSid::parse(&sid)))
    }

    /// The responder who accepted left: the call is open again (to voicemail, or another
    /// responder joining by phone) rather than held by someone who is gone.
    pub async fn responder_left(&self, id: &CallId, index: usize) -> StoreResult<()> {
        let key = self.keys.call(id);
        let accepted: Option<String> = self.conn().hget(&key, "accepted_by").await?;
        if accepted.as_deref() == Some(index.to_string().as_str()) {
            let _: () = self.conn().hdel(&key, "accepted_by").await?;
        }
        Ok(())
    }

    /// Lets voicemail be offered again (Twilio refused to move the caller), up to its tries.
    pub async fn cancel_voicemail(&self, id: &CallId) -> StoreResult<()> {
        let _: () = self
            .conn()
            .hdel(self.keys.call(id), "voicemail_started")
            .await?;
        Ok(())
    }

    /// Frees every responder claimed for call `id` (the call is over).
    pub async fn release_responders(&self, phones: &[&str], id: &CallId) -> StoreResult<()> {
        for phone in phones {
            self.release_responder(phone, id).await?;
        }
        Ok(())
    }

    /// Records that ringing the responders began; false if it had already.
    pub async fn start_ringing(&self, id: &CallId) -> StoreResult<bool> {
        let first: i64 = self
            .conn()
            .hset_nx(self.keys.call(id), "ring_started", now_ms())
            .await?;
        Ok(first == 1)
    }

    /// Whether ringing the responders began for the call.
    pub async fn ringing_started(&self, id: &CallId) -> StoreResult<bool> {
        Ok(self.call_field(id, "ring_started").await?.is_some())
    }

    /// The responders (directory indices, in ringing order) chosen for the call when its
    /// ringing began: the schedule's choice holds for the whole call, on every replica.
    pub async fn set_ring_list(&self, id: &CallId, indices: &[usize]) -> StoreResult<()> {
        let list = indices
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let _: () = self
            .conn()
            .hset(self.keys.call(id), "ring_list", list)
            .await?;
        Ok(())
    }

    /// See [`Store::set_ring_list`]; `None` when the call rings the whole directory.
    pub async fn ring_list(&self, id: &CallId) -> StoreResult<Option<Vec<usize>>> {
        let Some(list) = self.call_field(id, "ring_list").await? else {
            return Ok(None);
        };
        Ok(Some(
            list.split(',')
                .filter_map(|i| i.parse::<usize>().ok())
                .collect(),
        ))
    }

    /// Marks a call as needing no ringing (it went straight to voicemail): the sweep, which
    /// rings calls whose ringing never began, leaves it alone.
    pub async fn ringing_not_wanted(&self, id: &CallId) -> StoreResult<()> {
        let _: i64 = self
            .conn()
            .hset_nx(self.keys.call(id), "ring_started", now_ms())
            .await?;
        Ok(())
    }

    /// The next responder index for in-order ringing (0, 1, 2, ...).
    pub async fn next_ring_index(&self, id: &CallId) -> StoreResult<usize> {
        let next: i64 = self
            .conn()
            .hincr(self.keys.call(id), "ring_next", 1)
            .await?;
        Ok((next - 1).max(0) as usize)
    }

    /// Responder `index` pressed 1: true if they get the call.
    pub async fn accept_call(&self, id: &CallId, index: usize) -> StoreResult<bool> {
        let won: i64 = scripts::ACCEPT
            .key(self.keys.call(id))
            .arg(index)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(won == 1)
    }

    /// Marks responder `index` as having asked to join by phone.
    pub async fn request_join(&self, id: &CallId, index: usize) -> StoreResult<()> {
        let _: () = self
            .conn()
            .hset(self.keys.call(id), format!("join_requested:{index}"), 1)
            .await?;
        Ok(())
    }

    pub async fn join_requested(&self, id: &CallId, index: usize) -> StoreResult<bool> {
        Ok(self
            .call_field(id, &format!("join_requested:{index}"))
            .await?
            .is_some())
    }

    pub async fn accepted_by(&self, id: &CallId) -> StoreResult<Option<usize>> {
        Ok(self
            .call_field(id, "accepted_by")
            .await?
            .and_then(|v| v.parse().ok()))
    }

    /// A human joined; returns how many were already there (None for a repeated event).
    pub async fn human_joined(
        &self,
        id: &CallId,
        call_sid: &CallSid,
        name: &str,
    ) -> StoreResult<Option<u64>> {
        let before: i64 = scripts::HUMAN_JOINED
            .key(self.keys.call(id))
            .key(self.keys.joined(id))
            .arg(call_sid.as_str())
            .arg(name)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(u64::try_from(before).ok())
    }

    /// A human left; true if they had been counted in.
    pub async fn human_left(&self, id: &CallId, call_sid: &CallSid) -> StoreResult<bool> {
        let left: i64 = scripts::HUMAN_LEFT
            .key(self.keys.call(id))
            .arg(call_sid.as_str())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(left == 1)
    }

    /// Names of everyone who joined the call, in order.
    pub async fn joined_names(&self, id: &CallId) -> StoreResult<Vec<String>> {
        Ok(self.conn().lrange(self.keys.joined(id), 0, -1).await?)
    }

    /// Starts voicemail once, if nobody accepted and nobody wrote, and it was tried fewer than
    /// `max_tries` times. Returns the number of this try if it starts now.
    pub async fn start_voicemail(&self, id: &CallId, max_tries: u32) -> StoreResult<Option<u32>> {
        let this_try: u32 = scripts::START_VOICEMAIL
            .key(self.keys.call(id))
            .arg(now_ms())
            .arg(max_tries)
            .invoke_async(&mut self.conn())
            .await?;
        Ok((this_try > 0).then_some(this_try))
    }

    pub async fn in_voicemail(&self, id: &CallId) -> StoreResult<bool> {
        Ok(self.call_field(id, "voicemail_started").await?.is_some())
    }

    /// Keeps a part of the voicemail (the first report of each counts) and says what of it to
    /// post now; see VOICEMAIL_PART.
    pub async fn voicemail_part(
        &self,
        id: &CallId,
        part: VoicemailPart<'_>,
    ) -> StoreResult<VoicemailNews> {
        let (name, value) = match part {
            VoicemailPart::Recording(url) => ("recording", url),
            VoicemailPart::Transcript(text) => ("transcript", text),
        };
        let (recording_url, post_recording, transcript): (String, i64, String) =
            scripts::VOICEMAIL_PART
                .key(self.keys.call(id))
                .arg(name)
                .arg(value)
                .invoke_async(&mut self.conn())
                .await?;
        Ok(VoicemailNews {
            post_recording: post_recording == 1,
            transcript: (!transcript.is_empty()).then_some(transcript),
            recording_url,
        })
    }

    /// Twilio reported that it could not transcribe the voicemail; true the first time (Twilio
    /// may send a callback again, and the team is told once).
    pub async fn voicemail_transcript_failed(&self, id: &CallId) -> StoreResult<bool> {
        Ok(self
            .conn()
            .hset_nx(self.keys.call(id), "voicemail_transcript_failed", now_ms())
            .await?)
    }

    /// The caller's own recording of their name.
    pub async fn set_name_recording(&self, id: &CallId, url: &str) -> StoreResult<()> {
        let _: () = self
            .conn()
            .hset(self.keys.call(id), "name_recording", url)
            .await?;
        Ok(())
    }
}
