//! Live transcription of the caller (Twilio Real-Time Transcriptions): the notice and
//! `<Start><Transcription>` in the caller's TwiML, and `/twilio/transcription`'s callbacks,
//! whose final utterances are kept with the call and posted to its thread, each once, in the
//! order spoken. See docs/protocols.md for Twilio's parameters.
//!
//! What the caller said is personal data: it is kept with the call's record (and expires with
//! it), handed to the bridges, and never logged.

use std::time::Duration;

use denwa_chat::LineEvent;
use serde::Deserialize;

use super::Line;
use crate::config::LineConfig;
use crate::domain::{CallId, CallSid, CallState, now_ms};
use crate::store::{Kept, LogFailure as _, MAX_TRANSCRIPT_BYTES, MAX_UTTERANCES};
use crate::twiml::{HttpMethod, Start, Transcription, TranscriptionTrack, VoiceResponse};

/// How long a final utterance waits before it is posted: a callback Twilio sent before it but
/// that arrives after it (Twilio promises no order; SequenceId gives it) still takes its place,
/// and utterances close together go out as one chat message (chat services' rate limits).
pub const POST_DELAY: Duration = Duration::from_millis(1_500);

/// How long after `transcription-stopped` the call must still be on for the stop to be news:
/// Twilio stops transcribing when the call ends, and that callback may come before the call's
/// own end is known.
const STOPPED_GRACE: Duration = Duration::from_secs(3);

/// How long a voicemail's transcript waits for the last final results after the recording ends.
const VOICEMAIL_TRANSCRIPT_WAIT: Duration = Duration::from_secs(3);

/// The longest utterance kept, in bytes (longer ones are cut at a character boundary): one
/// utterance is a sentence or two, and one chat message must hold it.
const MAX_UTTERANCE_BYTES: usize = 2_000;

/// The call hash's flags that make a notice post once, whichever replica gets the callback.
const UNAVAILABLE_FLAG: &str = "tx_unavailable_noted";

/// Twilio's transcription status callback, as posted (form-encoded, signed).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TranscriptionParams {
    pub transcription_event: String,
    /// Checked as it is read: a malformed one is refused (400) before anything is looked up.
    pub call_sid: CallSid,
    #[serde(default)]
    pub sequence_id: Option<String>,
    #[serde(default)]
    pub track: Option<String>,
    #[serde(default)]
    pub r#final: Option<String>,
    #[serde(default)]
    pub transcription_data: Option<String>,
    #[serde(default)]
    pub transcription_error: Option<String>,
    #[serde(default)]
    pub transcription_error_code: Option<String>,
}

/// `TranscriptionData`: a JSON string.
#[derive(Debug, Deserialize)]
struct TranscriptionData {
    transcript: String,
}

/// A transcription callback, parsed at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscriptionEvent {
    Started,
    /// A result for the caller's own audio (`inbound_track`). Partial results (`Final=false`)
    /// are never posted.
    Content {
        sequence: u64,
        is_final: bool,
        text: String,
    },
    /// A result for another track: denwa asks for the caller's only, so nothing to do.
    OtherTrack,
    Stopped,
    Error {
        reason: String,
    },
    /// An event Twilio may add: acknowledged, nothing done.
    Other,
}

impl TranscriptionParams {
    /// The event, or why the callback does not make sense.
    pub fn event(&self) -> Result<TranscriptionEvent, String> {
        Ok(match self.transcription_event.as_str() {
            "transcription-started" => TranscriptionEvent::Started,
            "transcription-stopped" => TranscriptionEvent::Stopped,
            "transcription-error" => TranscriptionEvent::Error {
                reason: match (&self.transcription_error, &self.transcription_error_code) {
                    (Some(text), _) if !text.trim().is_empty() => text.trim().to_owned(),
                    (_, Some(code)) if !code.trim().is_empty() => {
                        format!("Twilio error {}", code.trim())
                    }
                    _ => "Twilio reported a transcription error".to_owned(),
                },
            },
            "transcription-content" => {
                if self.track.as_deref().is_some_and(|t| t != "inbound_track") {
                    return Ok(TranscriptionEvent::OtherTrack);
                }
                let sequence = self
                    .sequence_id
                    .as_deref()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or("SequenceId is missing or not a number")?;
                let is_final = match self.r#final.as_deref() {
                    Some("true") => true,
                    Some("false") | None => false,
                    Some(_) => return Err("Final is neither true nor false".into()),
                };
                let data = self
                    .transcription_data
                    .as_deref()
                    .ok_or("TranscriptionData is missing")?;
                // serde's message would quote the caller's words: say only what was wrong.
                let data: TranscriptionData = serde_json::from_str(data).map_err(|_| {
                    "TranscriptionData is not JSON with a \"transcript\" string".to_owned()
                })?;
                TranscriptionEvent::Content {
                    sequence,
                    is_final,
                    text: data.transcript,
                }
            }
            _ => TranscriptionEvent::Other,
        })
    }
}

impl Line {
    /// With `transcription.enabled`: the notice, then the start of the caller's transcription,
    /// appended to `response` (before the caller enters the conference).
    /// The line's own `lines[].transcription` settings apply.
    pub(crate) fn start_transcription(
        &self,
        line: &LineConfig,
        mut response: VoiceResponse,
    ) -> VoiceResponse {
        let settings = &line.transcription;
        if !settings.enabled {
            return response;
        }
        if let Some(notice) = &settings.notice {
            response = response.say(self.say_verb(line, notice));
        }
        let mut transcription = Transcription::new()
            // The caller's own audio only: denwa's speech is already in the thread.
            .track(TranscriptionTrack::Inbound)
            .status_callback_url(self.public_url("/twilio/transcription", &[]).as_str())
            .status_callback_method(HttpMethod::Post)
            .language_code(settings.language.as_str());
        if let Some(engine) = settings.engine {
            transcription = transcription.transcription_engine(engine.as_str());
        }
        response.start(Start::transcription(transcription))
    }

    /// A transcription callback (signed; `event` parsed from it).
    pub async fn transcription_event(
        &self,
        call_sid: &CallSid,
        event: TranscriptionEvent,
    ) -> Result<(), crate::store::StoreError> {
        let Some(id) = self.store().call_for_sid(call_sid).await? else {
            tracing::info!(%call_sid, "a transcription callback for no known call");
            return Ok(());
        };
        match event {
            TranscriptionEvent::Content {
                sequence,
                is_final: true,
                text,
            } => self.keep_utterance(&id, sequence, &text).await?,
            TranscriptionEvent::Error { reason } => {
                if self.call_is_on(&id).await {
                    self.transcript_unavailable(&id, &reason).await;
                }
            }
            TranscriptionEvent::Stopped => {
                let line = self.clone();
                self.spawn(async move {
                    tokio::time::sleep(STOPPED_GRACE).await;
                    if line.call_is_on(&id).await {
                        line.transcript_unavailable(&id, "Twilio stopped transcribing the call")
                            .await;
                    }
                });
            }
            TranscriptionEvent::Started
            | TranscriptionEvent::Content { .. }
            | TranscriptionEvent::OtherTrack
            | TranscriptionEvent::Other => {}
        }
        Ok(())
    }

    async fn keep_utterance(
        &self,
        id: &CallId,
        sequence: u64,
        text: &str,
    ) -> Result<(), crate::store::StoreError> {
        let text = cut(text.trim(), MAX_UTTERANCE_BYTES);
        if text.is_empty() {
            return Ok(());
        }
        // With it, in the same round trip: the sweep's look once the utterance is due to be
        // posted, should this process stop before it posts.
        let store = self.store();
        let now = now_ms();
        let look_by = now + (POST_DELAY + Duration::from_secs(1)).as_millis() as u64;
        let (kept, _) = tokio::join!(store.keep_utterance(id, sequence, now, text), async {
            store
                .look_by(id, look_by)
                .await
                .or_log("schedule the sweep's look")
        });
        match kept? {
            Kept::Stored => {
                self.metrics().caller_utterances.inc();
                let line = self.clone();
                let id = id.clone();
                self.spawn(async move {
                    // A little past the delay: the step checks it against the store's record.
                    tokio::time::sleep(POST_DELAY + Duration::from_millis(100)).await;
                    line.post_utterances(&id).await;
                });
            }
            Kept::Full { first: true } => self.publish(LineEvent::Notice {
                call_id: id.clone(),
                text: format!(
                    "The live transcript stops here: this call reached denwa's limit of {MAX_UTTERANCES} utterances or {} KiB. The call goes on.",
                    MAX_TRANSCRIPT_BYTES / 1024
                ),
            }),
            Kept::Duplicate | Kept::Full { first: false } | Kept::NoCall => {}
        }
        Ok(())
    }

    /// Posts the utterances that have waited [`POST_DELAY`], in the order spoken, once (also run
    /// by the sweep, for a replica that stopped between keeping and posting).
    pub(crate) async fn post_utterances(&self, id: &CallId) {
        let Some(utterances) = self
            .store()
            .take_unposted_utterances(id, now_ms(), POST_DELAY)
            .await
            .or_log("take the caller's words to post")
        else {
            return;
        };
        if utterances.is_empty() {
            return;
        }
        let name = match self.store().call(id).await {
            Ok(Some(call)) => self.caller_name(&call),
            _ => None,
        };
        self.publish(LineEvent::CallerSaid {
            call_id: id.clone(),
            name,
            utterances: utterances.into_iter().map(|u| u.text).collect(),
        });
    }

    /// The caller's name, when known (see [`Line::known_name`]).
    pub(crate) fn caller_name(&self, call: &crate::domain::Call) -> Option<String> {
        self.known_name(
            self.line_of(call),
            &call.other_party,
            call.caller_name.as_deref(),
        )
    }

    async fn call_is_on(&self, id: &CallId) -> bool {
        matches!(self.store().call(id).await, Ok(Some(call)) if call.state != CallState::Ended)
    }

    /// Tells the thread, once per call, that the live transcript has stopped.
    async fn transcript_unavailable(&self, id: &CallId, reason: &str) {
        let first = self.store().call_flag_once(id, UNAVAILABLE_FLAG).await;
        if first.or_log("note that the live transcript stopped") == Some(true) {
            self.metrics().transcripts_unavailable.inc();
            self.publish(LineEvent::Notice {
                call_id: id.clone(),
                text: format!("live transcript unavailable: {reason}"),
            });
        }
    }

    /// With live transcription, the voicemail's transcript is what the caller said after
    /// voicemail started; posted once the last results have had time to come.
    pub(crate) fn voicemail_from_live_transcript(&self, id: &CallId) {
        let line = self.clone();
        let id = id.clone();
        self.spawn(async move {
            tokio::time::sleep(VOICEMAIL_TRANSCRIPT_WAIT).await;
            let since = line
                .store()
                .call_field(&id, "voicemail_started")
                .await
                .ok()
                .flatten()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            let Some(utterances) = line
                .store()
                .utterances(&id)
                .await
                .or_log("read the caller's words for the voicemail")
            else {
                return;
            };
            let text = utterances
                .into_iter()
                .filter(|u| u.at >= since)
                .map(|u| u.text)
                .collect::<Vec<_>>()
                .join(" ");
            line.voicemail_transcribed(&id, super::Transcription::Text(&text))
                .await;
        });
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(event: &str) -> TranscriptionParams {
        TranscriptionParams {
            transcription_event: event.into(),
            call_sid: CallSid::parse("CA0123456789abcdef0123456789abcdef").unwrap(),
            sequence_id: Some("3".into()),
            track: Some("inbound_track".into()),
            r#final: Some("true".into()),
            transcription_data: Some(
                r#"{"transcript":"my server is down","confidence":0.9}"#.into(),
            ),
            transcription_error: None,
            transcription_error_code: None,
        }
    }

    #[test]
    fn content_is_parsed_into_a_typed_event() {
        assert_eq!(
            params("transcription-content").event(),
            Ok(TranscriptionEvent::Content {
                sequence: 3,
                is_final: true,
                text: "my server is down".into()
            })
        );
        let mut other = params("transcription-content");
        other.track = Some("outbound_track".into());
        assert_eq!(other.event(), Ok(TranscriptionEvent::OtherTrack));
        let mut bad = params("transcription-content");
        bad.transcription_data = Some("not json".into());
        assert!(bad.event().is_err());
        let mut bad = params("transcription-content");
        bad.sequence_id = Some("x".into());
        assert!(bad.event().is_err());
        assert_eq!(
            params("transcription-paused").event(),
            Ok(TranscriptionEvent::Other)
        );
    }

    #[test]
    fn an_error_says_why_when_twilio_does() {
        let mut error = params("transcription-error");
        error.transcription_error = Some("audio stream lost".into());
        assert_eq!(
            error.event(),
            Ok(TranscriptionEvent::Error {
                reason: "audio stream lost".into()
            })
        );
        error.transcription_error = None;
        error.transcription_error_code = Some("32655".into());
        assert_eq!(
            error.event(),
            Ok(TranscriptionEvent::Error {
                reason: "Twilio error 32655".into()
            })
        );
    }

    #[test]
    fn long_utterances_are_cut_at_a_character_boundary() {
        assert_eq!(cut("日本語", 7), "日本");
        assert_eq!(cut("abc", 7), "abc");
    }
}
