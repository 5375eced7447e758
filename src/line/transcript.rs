//! A call's conversation both ways, for `GET /api/calls/{id}/transcript`: what the caller said
//! (live transcription's final utterances), what the team had spoken to them and the line's own
//! announcements, in time order.

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

use super::Line;
use crate::domain::{CallId, MessageState};
use crate::store::StoreResult;

/// Messages read per page when gathering a call's transcript.
const PAGE: usize = 1_000;

/// The most messages a transcript reads: a bound on one request's work (a call at
/// `speech.max_per_minute` for hours could hold more).
const MAX_MESSAGES: usize = 20_000;

/// Who said an entry of a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The caller (live transcription).
    Caller,
    /// A message from chat or the API, spoken to the caller.
    Team,
    /// The line's own announcements ("Alice joined the call").
    Line,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptEntry {
    /// RFC 3339: when the caller said it (as denwa heard of it), or when it was spoken to them.
    pub at: String,
    pub speaker: Speaker,
    /// The caller's name when known; null for the team and the line (denwa keeps a sender's
    /// chat id, not their name).
    pub name: Option<String>,
    pub text: String,
    #[serde(skip)]
    at_ms: u64,
}

impl Line {
    /// The call's transcript, or `None` for no such call.
    pub async fn transcript(&self, id: &CallId) -> StoreResult<Option<Vec<TranscriptEntry>>> {
        let Some(call) = self.store().call(id).await? else {
            return Ok(None);
        };
        let name = self.caller_name(&call);
        let mut entries: Vec<TranscriptEntry> = Vec::new();
        // Utterances come in the order spoken; a late callback's arrival time must not move
        // one before an earlier one.
        let mut last = 0;
        for utterance in self.store().utterances(id).await? {
            last = last.max(utterance.at);
            entries.push(entry(last, Speaker::Caller, name.clone(), utterance.text));
        }
        let mut after = None;
        let mut read = 0;
        while read < MAX_MESSAGES {
            let Some(page) = self.store().messages_page(id, after.as_ref(), PAGE).await? else {
                break;
            };
            read += page.messages.len();
            for message in page.messages {
                if message.state != MessageState::Spoken {
                    continue;
                }
                let speaker = if message.origin.is_line() {
                    Speaker::Line
                } else {
                    Speaker::Team
                };
                let at = message.finished_at.unwrap_or(message.created_at);
                entries.push(entry(at, speaker, None, message.text));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        // Stable: entries of one instant keep the caller's order.
        entries.sort_by_key(|e| e.at_ms);
        Ok(Some(entries))
    }
}

fn entry(at_ms: u64, speaker: Speaker, name: Option<String>, text: String) -> TranscriptEntry {
    let at = DateTime::from_timestamp_millis(i64::try_from(at_ms).unwrap_or(i64::MAX))
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    TranscriptEntry {
        at,
        speaker,
        name,
        text,
        at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc() {
        let e = entry(1_765_000_000_123, Speaker::Caller, None, "hi".into());
        assert_eq!(e.at, "2025-12-06T05:46:40.123Z");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"at": "2025-12-06T05:46:40.123Z", "speaker": "caller", "name": null, "text": "hi"})
        );
    }
}
