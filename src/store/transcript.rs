//! The caller's words, from live transcription: kept with the call's record, in the call's hash
//! tag, bounded, and expiring with the call. Never logged (personal data).

use std::collections::HashMap;
use std::time::Duration;

use redis::AsyncCommands as _;

use super::{Store, StoreError, StoreResult, scripts};
use crate::domain::CallId;

/// The most final utterances kept per call: hours of talk, and a bound on what a transcript
/// request or a chat thread is handed.
pub const MAX_UTTERANCES: u64 = 1_000;

/// The most bytes of the caller's words kept per call (about two hours of speech).
pub const MAX_TRANSCRIPT_BYTES: u64 = 256 * 1024;

/// One final utterance of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    /// Twilio's SequenceId: the order the caller spoke in.
    pub sequence: u64,
    /// When denwa received it, Unix ms.
    pub at: u64,
    pub text: String,
}

/// What became of an utterance handed to [`Store::keep_utterance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    Stored,
    /// Its SequenceId was already stored (a callback Twilio sent again, or to another replica).
    Duplicate,
    /// The call's bound was reached just now (`first`) or before: it was not kept.
    Full {
        first: bool,
    },
    /// No such call (unknown, or its record has expired).
    NoCall,
}

impl Store {
    /// Keeps a final utterance (see TRANSCRIPT_FINAL).
    pub async fn keep_utterance(
        &self,
        id: &CallId,
        sequence: u64,
        at: u64,
        text: &str,
    ) -> StoreResult<Kept> {
        let outcome: String = scripts::TRANSCRIPT_FINAL
            .key(self.keys.call(id))
            .key(self.keys.transcript(id))
            .key(self.keys.transcript_unposted(id))
            .arg(sequence)
            .arg(at)
            .arg(text)
            .arg(MAX_UTTERANCES)
            .arg(MAX_TRANSCRIPT_BYTES)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match outcome.as_str() {
            "stored" => Kept::Stored,
            "duplicate" => Kept::Duplicate,
            "full" => Kept::Full { first: true },
            "full-again" => Kept::Full { first: false },
            "missing" => Kept::NoCall,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "keeping an utterance answered {other:?}"
                )));
            }
        })
    }

    /// The utterances to post now, in the order spoken, if the oldest has waited `delay`; each
    /// is handed to one caller only, whichever replica asks (see TRANSCRIPT_TAKE).
    pub async fn take_unposted_utterances(
        &self,
        id: &CallId,
        now: u64,
        delay: Duration,
    ) -> StoreResult<Vec<Utterance>> {
        let flat: Vec<String> = scripts::TRANSCRIPT_TAKE
            .key(self.keys.call(id))
            .key(self.keys.transcript(id))
            .key(self.keys.transcript_unposted(id))
            .arg(now)
            .arg(delay.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        let mut utterances = Vec::with_capacity(flat.len() / 2);
        for pair in flat.chunks_exact(2) {
            utterances.push(utterance(&pair[0], &pair[1])?);
        }
        Ok(utterances)
    }

    /// Every utterance of the call, in the order spoken.
    pub async fn utterances(&self, id: &CallId) -> StoreResult<Vec<Utterance>> {
        let stored: HashMap<String, String> = self.conn().hgetall(self.keys.transcript(id)).await?;
        let mut utterances = stored
            .iter()
            .map(|(seq, value)| utterance(seq, value))
            .collect::<StoreResult<Vec<_>>>()?;
        utterances.sort_by_key(|u| u.sequence);
        Ok(utterances)
    }

    /// Sets `flag` on the call the first time only: true then, false after (and for a call
    /// that has no record).
    pub async fn call_flag_once(&self, id: &CallId, flag: &str) -> StoreResult<bool> {
        let first: i64 = scripts::CALL_FLAG_ONCE
            .key(self.keys.call(id))
            .arg(flag)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(first == 1)
    }
}

/// An utterance from its stored SequenceId and `<at ms>:<text>`.
fn utterance(sequence: &str, value: &str) -> StoreResult<Utterance> {
    let corrupt = || StoreError::Corrupt("a malformed transcript entry".into());
    let (at, text) = value.split_once(':').ok_or_else(corrupt)?;
    Ok(Utterance {
        sequence: sequence.parse().map_err(|_| corrupt())?,
        at: at.parse().map_err(|_| corrupt())?,
        text: text.to_owned(),
    })
}
