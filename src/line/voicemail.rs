//! Voicemail: when nobody accepts and nobody writes from chat within `line.voicemail_after`,
//! the caller is moved out of the conference to leave a message; the recording and its
//! transcript go to the call's thread.

use denwa_chat::LineEvent;

use super::Line;
use crate::domain::{Call, CallState, Direction, now_ms};
use crate::store::LogFailure as _;
use crate::store::VoicemailPart;
use crate::twilio::{CallTarget, UpdateCall};
use crate::twiml::{HttpMethod, Record, VoiceResponse};

/// The longest voicemail, in seconds. Twilio transcribes only recordings shorter than 120 s
/// (warning 13617, https://www.twilio.com/docs/api/errors/13617): a caller who talks to the
/// limit must still get a transcript, so the limit stays clear of it, whatever Twilio's
/// rounding.
const VOICEMAIL_MAX_SECS: u32 = 115;

/// Silence that ends a voicemail.
const VOICEMAIL_SILENCE_SECS: u32 = 10;

/// Tries at moving a caller to voicemail. Twilio's client already retries what may pass (429,
/// 5xx) within a try; a refusal every sweep after that means the call is gone (its end lost) or
/// Twilio is down, and trying for ever would only hammer it.
pub(crate) const VOICEMAIL_TRIES: u32 = 3;

/// What Twilio's transcription callback says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transcription<'a> {
    /// `TranscriptionStatus=completed` and its text.
    Text(&'a str),
    /// `TranscriptionStatus=failed`: the recording was too short or too long, or Twilio failed.
    Failed,
}

impl<'a> Transcription<'a> {
    /// From the callback's `TranscriptionStatus` and `TranscriptionText`.
    pub fn from_callback(status: Option<&str>, text: Option<&'a str>) -> Self {
        match status {
            Some("failed") => Transcription::Failed,
            _ => Transcription::Text(text.unwrap_or_default()),
        }
    }
}

impl Line {
    /// Offers voicemail if the call has waited long enough with nobody on it. Called by the
    /// sweep; safe from every replica at once (the store lets one start it).
    pub(crate) async fn offer_voicemail_if_due(&self, call: &Call) {
        let Some(after) = self.line_of(call).settings.voicemail_after else {
            return;
        };
        if call.direction != Direction::Inbound || call.state == CallState::Ended {
            return;
        }
        // With escalation levels, voicemail comes after the last level of the last round
        // (`escalation_done` offers it; this tries again if Twilio refused to move the caller).
        let escalation = &self.line_of(call).settings.escalation;
        let due = if escalation.is_on() {
            matches!(self.store().escalation_position(&call.id).await,
                Ok(Some(p)) if p.step >= escalation.steps())
        } else {
            now_ms().saturating_sub(call.started_at) >= after.as_millis() as u64
        };
        if !due {
            return;
        }
        self.move_to_voicemail(call).await;
    }

    /// Moves the caller to voicemail, once, unless someone accepted or wrote from chat; safe
    /// from every replica at once (the store lets one start it).
    pub(crate) async fn move_to_voicemail(&self, call: &Call) {
        // An inbound call is recorded with its CallSid.
        let Some(call_sid) = call.call_sid.as_ref() else {
            return;
        };
        let Ok(Some(this_try)) = self
            .store()
            .start_voicemail(&call.id, VOICEMAIL_TRIES)
            .await
        else {
            return;
        };
        tracing::info!(call = %call.id, "nobody answered: offering voicemail");
        self.cancel_responder_legs(&call.id, None).await;
        let url = self.public_url("/twilio/voicemail", &[("call", call.id.as_str())]);
        let update = UpdateCall::redirect(CallTarget::url(url, HttpMethod::Post));
        if let Err(e) = self.twilio().update_call(call_sid, &update).await {
            // Let the sweep offer it again (up to its tries) rather than leave the caller on hold
            // with acceptance and chat replies refused.
            self.store()
                .cancel_voicemail(&call.id)
                .await
                .or_log("put voicemail back for another try");
            if this_try < VOICEMAIL_TRIES {
                tracing::warn!(call = %call.id, error = %e, this_try, "Twilio did not move the caller to voicemail");
                return;
            }
            tracing::error!(call = %call.id, error = %e, tries = this_try, "Twilio did not move the caller to voicemail: giving up");
            self.publish(LineEvent::Notice {
                call_id: call.id.clone(),
                text: format!(
                    "The caller could not be offered voicemail: Twilio refused to move the call {VOICEMAIL_TRIES} times, so denwa has stopped trying."
                ),
            });
        }
    }

    /// The voicemail prompt and recording. With live transcription on, the caller's words are
    /// already being transcribed (in the line's language, with no length limit): the recording
    /// is not transcribed again.
    pub async fn voicemail_prompt(&self, id: &crate::domain::CallId) -> VoiceResponse {
        let line = self.line_of_id(id).await;
        self.record_voicemail(
            VoiceResponse::new(),
            id,
            "Nobody can take your call right now. Please leave a message after the tone, and press the pound key when you are done.",
            line,
        )
    }

    /// `response`, then `prompt` and the recording of a voicemail for call `id` (see
    /// [`Line::voicemail_prompt`]; after hours, the caller hears the line's own greeting).
    /// Said in the voice of `line`, the call's; with its live transcription on, the recording is
    /// not transcribed again.
    pub(crate) fn record_voicemail(
        &self,
        response: VoiceResponse,
        id: &crate::domain::CallId,
        prompt: &str,
        line: &crate::config::LineConfig,
    ) -> VoiceResponse {
        let transcribed_live = line.transcription.enabled;
        let query = [("call", id.as_str())];
        let mut record = Record::new()
            .action(
                self.public_url("/twilio/voicemail-recorded", &query)
                    .as_str(),
            )
            .method(HttpMethod::Post)
            .max_length(VOICEMAIL_MAX_SECS)
            // Callers gather their thoughts: Twilio's default of 5 s of silence cuts many of
            // them off before they start.
            .timeout(VOICEMAIL_SILENCE_SECS)
            .play_beep(true)
            .finish_on_key("#");
        if !transcribed_live {
            record = record.transcribe(true).transcribe_callback(
                self.public_url("/twilio/voicemail-transcribed", &query)
                    .as_str(),
            );
        }
        response
            .say(self.say_verb(line, prompt))
            .record(record)
            .say(self.say_verb(line, "We did not get a message. Goodbye."))
            .hangup()
    }

    /// The caller finished recording: keep it, post it to the thread, end the call.
    pub async fn voicemail_recorded(
        &self,
        id: &crate::domain::CallId,
        recording_url: Option<&str>,
    ) -> VoiceResponse {
        let line = self.line_of_id(id).await;
        if let Some(url) = recording_url.filter(|u| !u.is_empty()) {
            self.voicemail_part(id, VoicemailPart::Recording(url)).await;
            if line.transcription.enabled {
                self.voicemail_from_live_transcript(id);
            }
        }
        self.end_call(id, "the caller left a voicemail", None).await;
        VoiceResponse::new()
            .say(self.say_verb(line, "Thank you. We will get back to you. Goodbye."))
            .hangup()
    }

    /// Twilio's transcript of the voicemail, or its word that there is none.
    pub async fn voicemail_transcribed(
        &self,
        id: &crate::domain::CallId,
        transcription: Transcription<'_>,
    ) {
        let text = match transcription {
            Transcription::Text(text) => text.trim(),
            Transcription::Failed => {
                let first = self
                    .store()
                    .voicemail_transcript_failed(id)
                    .await
                    .or_log("note a failed voicemail transcription");
                if first == Some(true) {
                    self.publish(LineEvent::Notice {
                        call_id: id.clone(),
                        text: "No transcript: Twilio could not transcribe the voicemail (it transcribes recordings of more than 2 and less than 120 seconds). Listen to the recording.".to_owned(),
                    });
                }
                return;
            }
        };
        if text.is_empty() {
            return;
        }
        self.voicemail_part(id, VoicemailPart::Transcript(text))
            .await;
    }

    /// Keeps a part of the voicemail and posts to the thread what is due: the recording once,
    /// then the transcript once (held back if it came before the recording).
    async fn voicemail_part(&self, id: &crate::domain::CallId, part: VoicemailPart<'_>) {
        let Some(news) = self
            .store()
            .voicemail_part(id, part)
            .await
            .or_log("keep the voicemail")
        else {
            return;
        };
        if news.post_recording {
            self.publish(LineEvent::Voicemail {
                call_id: id.clone(),
                recording_url: news.recording_url.clone(),
                transcript: None,
            });
        }
        if let Some(transcript) = news.transcript {
            self.publish(LineEvent::Voicemail {
                call_id: id.clone(),
                recording_url: news.recording_url,
                transcript: Some(transcript),
            });
        }
    }
}
