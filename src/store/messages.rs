//! Messages and the per-call speech queue.

use std::collections::HashMap;
use std::time::Duration;

use denwa_chat::MessageOrigin;
use redis::AsyncCommands as _;

use super::calls::LIVE_MESSAGES_TTL;
use super::{Store, StoreError, StoreResult, scripts};
use crate::domain::{CallId, LineId, Message, MessageId, MessageState, Piece, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// Stored; `waiting` messages of the call (this one included) are queued or being spoken.
    /// `line` is the call's (read in the same step: its speaker speaks in its voice).
    Queued {
        waiting: u64,
        line: Option<LineId>,
    },
    /// The sender sent this message before (same name): it is that message, stored once.
    Duplicate(MessageId),
    NoSuchCall,
    CallEnded,
    /// The caller has been sent to voicemail: nobody can speak to them any more.
    InVoicemail,
    /// The call already has [`SpeechLimits::max_waiting`] messages waiting or being spoken.
    QueueFull,
    /// The call accepted [`SpeechLimits::per_minute`] messages in the last minute; the oldest
    /// of them leaves the window after `retry_after`.
    RateLimited {
        retry_after: Duration,
    },
}

/// How much one call may be sent (`speech.max_queued`, `speech.max_per_minute`), counted in
/// Redis so that every replica enforces the same limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechLimits {
    /// Messages queued or in flight.
    pub max_waiting: usize,
    /// Messages accepted per rolling [`RATE_WINDOW`].
    pub per_minute: usize,
}

/// The fields a message may have, each kept in the call's messages hash as
/// `<message id>:<field>` (`source` only in messages stored before origins were JSON). Scripts
/// read a message by these names (`FIELDS` in their prelude), so a new field is added here.
pub(super) const MESSAGE_FIELDS: [&str; 15] = [
    "id",
    "text",
    "origin",
    "source",
    "audio_url",
    "state",
    "reason",
    "attempts",
    "created_at",
    "finished_at",
    "seq",
    "pieces",
    "pieces_heard",
    "saying_from",
    "saying_to",
];

/// The window of [`SpeechLimits::per_minute`].
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// One page of a call's messages, in the order received.
#[derive(Debug, Clone)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// The last message of this page when more follow it (the `after` of the next page).
    pub next: Option<MessageId>,
}

/// A message to store, as [`Store::enqueue`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub id: &'a MessageId,
    /// Normalised (single spaces), and within `speech.max_message_chars`.
    pub text: &'a str,
    /// A recording played before the text.
    pub audio_url: Option<&'a str>,
    /// How the text is said (see `speech::pieces`).
    pub pieces: &'a [Piece],
    /// Who to tell when it is spoken; kept beside the message as JSON.
    pub origin: &'a MessageOrigin,
    /// The sender's own name for the message ([`MessageOrigin::key`]): a retried request under
    /// the same name is stored once.
    pub name: Option<&'a str>,
    /// Someone wrote it to the caller (from chat or the API), rather than the line announcing
    /// something: the call counts as answered, so the caller is not sent to voicemail.
    pub chat_reply: bool,
}

impl Store {
    /// Stores `text` and queues it for the call. When this returns `Queued` the message is in
    /// Redis: only then may a chat or API client be told it was accepted. Without `limits` (the
    /// line's own announcements) the message neither counts against the rate nor is refused.
    pub async fn enqueue(
        &self,
        id: &CallId,
        message: NewMessage<'_>,
        limits: Option<SpeechLimits>,
    ) -> StoreResult<EnqueueOutcome> {
        let NewMessage {
            id: message,
            text,
            audio_url,
            pieces,
            origin,
            name,
            chat_reply,
        } = message;
        let origin = serde_json::to_string(origin)
            .map_err(|e| StoreError::Corrupt(format!("an origin that is not JSON: {e}")))?;
        let (outcome, number, known): (String, u64, String) = scripts::ENQUEUE
            .key(self.keys.call(id))
            .key(self.keys.queue(id))
            .key(self.keys.order(id))
            .key(self.keys.messages(id))
            .key(self.keys.inflight(id))
            .key(self.keys.accepted(id))
            .key(self.keys.named_messages(id))
            .key(self.keys.legacy_message(id, message.as_str()))
            .arg(message.as_str())
            .arg(text)
            .arg(origin)
            .arg(now_ms())
            .arg(audio_url.unwrap_or_default())
            .arg(limits.map_or(0, |l| l.max_waiting))
            .arg(limits.map_or(0, |l| l.per_minute))
            .arg(RATE_WINDOW.as_millis() as u64)
            .arg(Piece::encode_all(pieces))
            .arg(name.unwrap_or_default())
            .arg(u8::from(chat_reply))
            .arg(LIVE_MESSAGES_TTL.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match outcome.as_str() {
            "ok" => EnqueueOutcome::Queued {
                waiting: number,
                line: LineId::parse(&known),
            },
            "duplicate" => EnqueueOutcome::Duplicate(
                MessageId::parse(&known)
                    .ok_or_else(|| StoreError::Corrupt(format!("a named message {known:?}")))?,
            ),
            "ended" => EnqueueOutcome::CallEnded,
            "voicemail" => EnqueueOutcome::InVoicemail,
            "queue_full" => EnqueueOutcome::QueueFull,
            "rate_limited" => EnqueueOutcome::RateLimited {
                retry_after: Duration::from_millis(number),
            },
            _ => EnqueueOutcome::NoSuchCall,
        })
    }

    /// At most `limit` messages of the call in the order received: the first ones, or those
    /// after message `after`. `None` if `after` is not a message of this call.
    ///
    /// A long call's order list is never read whole: the page starts at `after`'s position,
    /// which ENQUEUE kept in the message (`seq`), and reads `limit` + 1 ids to know whether
    /// more follow.
    pub async fn messages_page(
        &self,
        id: &CallId,
        after: Option<&MessageId>,
        limit: usize,
    ) -> StoreResult<Option<MessagePage>> {
        let start = match after {
            None => 0,
            Some(after) => {
                let mut seq: Option<String> = self
                    .conn()
                    .hget(self.keys.messages(id), format!("{after}:seq"))
                    .await?;
                if seq.is_none() {
                    // Stored by the previous version and not moved since.
                    let legacy = self.keys.legacy_message(id, after.as_str());
                    seq = self.conn().hget(legacy, "seq").await?;
                }
                // `seq` is the list's length once the message was pushed: the index after it.
                match seq.and_then(|s| s.parse::<isize>().ok()) {
                    Some(seq) => seq,
                    None => return Ok(None),
                }
            }
        };
        let mut ids: Vec<String> = self
            .conn()
            .lrange(self.keys.order(id), start, start + limit as isize)
            .await?;
        let more = ids.len() > limit;
        ids.truncate(limit);
        let messages = self.messages_by_id(id, &ids).await?;
        let next = more
            .then(|| ids.last().and_then(|last| MessageId::parse(last)))
            .flatten();
        Ok(Some(MessagePage { messages, next }))
    }

    /// The named messages of the call, in the order given (unknown ids are skipped).
    pub async fn messages_by_id<S: AsRef<str>>(
        &self,
        id: &CallId,
        ids: &[S],
    ) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let messages = self.keys.messages(id);
        let mut pipe = redis::pipe();
        for mid in ids {
            let fields: Vec<String> = MESSAGE_FIELDS
                .iter()
                .map(|f| format!("{}:{f}", mid.as_ref()))
                .collect();
            pipe.cmd("HMGET").arg(&messages).arg(fields);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut self.conn()).await?;
        let mut rows: Vec<HashMap<String, String>> = rows
            .into_iter()
            .map(|values| {
                MESSAGE_FIELDS
                    .iter()
                    .zip(values)
                    .filter_map(|(f, v)| Some(((*f).to_owned(), v?)))
                    .collect()
            })
            .collect();
        self.read_legacy_messages(id, ids, &mut rows).await?;
        rows.iter()
            .filter(|r| !r.is_empty())
            .map(message_from_fields)
            .collect()
    }

    /// Fills the rows found empty from the messages' hashes of the previous layout: messages it
    /// stored that no script has moved (a call's spoken messages are never moved).
    async fn read_legacy_messages<S: AsRef<str>>(
        &self,
        id: &CallId,
        ids: &[S],
        rows: &mut [HashMap<String, String>],
    ) -> StoreResult<()> {
        let missing: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].is_empty()).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for &i in &missing {
            pipe.hgetall(self.keys.legacy_message(id, ids[i].as_ref()));
        }
        let legacy: Vec<HashMap<String, String>> = pipe.query_async(&mut self.conn()).await?;
        for (i, fields) in missing.into_iter().zip(legacy) {
            rows[i] = fields;
        }
        Ok(())
    }
}

pub(super) fn message_from_fields(f: &HashMap<String, String>) -> StoreResult<Message> {
    let corrupt = || StoreError::Corrupt(format!("malformed message record {:?}", f.get("id")));
    let number = |key: &str| f.get(key).and_then(|s| s.parse::<usize>().ok());
    let origin = match (f.get("origin"), f.get("source")) {
        (Some(json), _) => serde_json::from_str(json).map_err(|e| {
            StoreError::Corrupt(format!("the origin of message {:?}: {e}", f.get("id")))
        })?,
        (None, Some(source)) => legacy_origin(source),
        (None, None) => MessageOrigin::new("", ""),
    };
    Ok(Message {
        id: f
            .get("id")
            .and_then(|s| MessageId::parse(s))
            .ok_or_else(corrupt)?,
        text: f.get("text").cloned().unwrap_or_default(),
        audio_url: f.get("audio_url").cloned(),
        state: f
            .get("state")
            .and_then(|s| MessageState::parse(s))
            .ok_or_else(corrupt)?,
        reason: f.get("reason").cloned(),
        source: public_source(&origin),
        origin,
        attempts: f.get("attempts").and_then(|s| s.parse().ok()).unwrap_or(0),
        created_at: f
            .get("created_at")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        finished_at: f.get("finished_at").and_then(|s| s.parse().ok()),
        pieces: f
            .get("pieces")
            .zip(f.get("text"))
            .and_then(|(stored, text)| Piece::decode_all(stored, text))
            .unwrap_or_default(),
        pieces_heard: number("pieces_heard").unwrap_or(0),
        saying: number("saying_from")
            .zip(number("saying_to"))
            .map(|(from, to)| from..to),
    })
}

/// What API clients see of a message's origin: `api:<reference>` for the API's own references,
/// the bridge's name for everything else (other bridges' references can be credentials: a
/// Discord interaction token, a Slack response URL).
fn public_source(origin: &MessageOrigin) -> String {
    match origin.key() {
        Some(key) if origin.bridge == "api" => key,
        _ => origin.bridge.clone(),
    }
}

/// The origin of a message stored before origins were kept as JSON, in field `source`:
/// `bridge` or `bridge:reference`. Such messages may be in flight across an upgrade, and their
/// receipts must still find their way back; the bridges read their old references.
fn legacy_origin(source: &str) -> MessageOrigin {
    match source.split_once(':') {
        Some((bridge, reference)) => MessageOrigin::new(bridge, reference),
        None => MessageOrigin::new(source, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_apis_own_references_are_shown() {
        let source = |bridge: &str, reference: &str| {
            public_source(&MessageOrigin::new(bridge, reference).by("U1"))
        };
        assert_eq!(source("api", "console-1"), "api:console-1");
        assert_eq!(source("api", ""), "api");
        assert_eq!(source("line", ""), "line");
        assert_eq!(
            source(
                "discord",
                r#"{"issued":1732500000,"token":"aW50ZXJhY3Rpb24"}"#
            ),
            "discord"
        );
        assert_eq!(
            source("slack", "https://hooks.slack.com/commands/T1/2/3"),
            "slack"
        );
        // Stored by the previous version: the same as before.
        for (stored, shown) in [
            ("api:console-1", "api:console-1"),
            ("api", "api"),
            ("line", "line"),
            (
                "discord:1732500000:80351110224678912:aW50ZXJhY3Rpb24",
                "discord",
            ),
            ("slack:https://hooks.slack.com/commands/T1/2/3", "slack"),
        ] {
            assert_eq!(public_source(&legacy_origin(stored)), shown, "{stored}");
        }
    }

    #[test]
    fn origins_stored_by_the_previous_version_are_read() {
        assert_eq!(legacy_origin("api"), MessageOrigin::new("api", ""));
        assert_eq!(
            legacy_origin("slack:C1:1503435956.000247"),
            MessageOrigin::new("slack", "C1:1503435956.000247")
        );
        assert_eq!(
            legacy_origin("api:ui:42").key(),
            MessageOrigin::new("api", "ui:42").key(),
            "a retry across the upgrade is the same message"
        );
    }
}
