//! Business hours: a call that arrives outside the line's `[line.hours]` (or on a holiday) goes
//! where `after_hours` says, decided when the call arrives, before any conference exists:
//! straight to voicemail with the after-hours greeting (nobody is rung), or another line.

use chrono::Utc;
use denwa_chat::LineEvent;

use super::Line;
use crate::config::{AfterHours, HoursSettings, LineSettings};
use crate::domain::Call;
use crate::store::LogFailure as _;
use crate::twiml::VoiceResponse;

/// `line`'s hours, if it has them and is closed now.
pub(crate) fn closed_now(line: &LineSettings) -> Option<&HoursSettings> {
    line.hours.as_ref().filter(|h| !h.hours.is_open(Utc::now()))
}

impl Line {
    /// Answers a call recorded outside business hours. It is announced like any call (the team
    /// sees it, and its voicemail lands in its thread), but no conference starts and nobody is
    /// rung.
    pub(crate) async fn answer_after_hours(
        &self,
        record: &Call,
        hours: &HoursSettings,
    ) -> VoiceResponse {
        if let AfterHours::Line(other) = &hours.after_hours {
            return self.after_hours_to_line(record, other, hours).await;
        }
        let store = self.store();
        // Voicemail is marked started (chat replies and acceptance are refused, the sweep does
        // not offer it again) and ringing as not wanted (the sweep rings calls never rung).
        store
            .ringing_not_wanted(&record.id)
            .await
            .or_log("mark an after-hours call as not to be rung");
        store
            .start_voicemail(&record.id, 1)
            .await
            .or_log("mark an after-hours call as in voicemail");
        self.metrics().calls_after_hours.inc();
        tracing::info!(call = %record.id, "call outside business hours: straight to voicemail");
        self.publish(LineEvent::CallStarted {
            call: self.summary(record),
        });
        self.publish(LineEvent::Notice {
            call_id: record.id.clone(),
            text: "Outside business hours: the caller was sent straight to voicemail.".into(),
        });
        self.after_hours_voicemail(record, hours)
    }

    /// The after-hours greeting and the voicemail recording (also the answer to Twilio asking
    /// again about such a call).
    pub(crate) fn after_hours_voicemail(
        &self,
        record: &Call,
        hours: &HoursSettings,
    ) -> VoiceResponse {
        let response = self.start_transcription(VoiceResponse::new());
        self.record_voicemail(response, &record.id, &hours.after_hours_greeting)
    }

    /// HOOK (several lines, issue 15 item 1): pass an after-hours call to line `other`. Until
    /// lines exist, `denwa check` refuses any line id in `after_hours` (see
    /// `config::hours::other_lines`), so this is never reached; should it be, the caller gets
    /// voicemail rather than silence.
    pub(crate) async fn after_hours_to_line(
        &self,
        record: &Call,
        other: &str,
        hours: &HoursSettings,
    ) -> VoiceResponse {
        tracing::warn!(call = %record.id, line = other, "after-hours routing to another line is not available yet: voicemail instead");
        let voicemail = HoursSettings {
            after_hours: AfterHours::Voicemail,
            ..hours.clone()
        };
        Box::pin(self.answer_after_hours(record, &voicemail)).await
    }
}
