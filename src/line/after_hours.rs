//! Business hours: a call that arrives outside its line's `[line.hours]` (or on a holiday) goes
//! where `after_hours` says, decided when the call arrives, before any conference exists:
//! another line (whose own hours then apply), or straight to voicemail with the after-hours
//! greeting (nobody is rung).

use chrono::Utc;
use denwa_chat::LineEvent;

use super::Line;
use crate::config::{AfterHours, HoursSettings, LineConfig, LineSettings, MAX_LINES};
use crate::domain::Call;
use crate::store::LogFailure as _;
use crate::twiml::VoiceResponse;

/// `line`'s hours, if it has them and is closed now.
pub(crate) fn closed_now(line: &LineSettings) -> Option<&HoursSettings> {
    line.hours.as_ref().filter(|h| !h.hours.is_open(Utc::now()))
}

impl Line {
    /// The line that takes a call to `line` now: `line` itself when it is open (or sends its
    /// after-hours calls to voicemail), else the line its `after_hours` names, followed while
    /// closed lines pass calls on. A ring of closed lines ends at one of them (whose caller then
    /// gets its voicemail): at most one hop per line.
    pub(crate) fn after_hours_line<'a>(&'a self, line: &'a LineConfig) -> &'a LineConfig {
        let mut current = line;
        for _ in 0..MAX_LINES {
            let Some(AfterHours::Line(next)) =
                closed_now(&current.settings).map(|h| &h.after_hours)
            else {
                break;
            };
            let Some(next) = self.lines().get(next) else {
                break;
            };
            tracing::info!(from = %current.id(), to = %next.id(), "outside business hours: the call goes to another line");
            current = next;
        }
        current
    }

    /// Answers a call recorded on `line` outside its business hours: straight to voicemail. It
    /// is announced like any call (the team sees it, and its voicemail lands in its thread), but
    /// no conference starts and nobody is rung. (A line that passes its after-hours calls on
    /// has already done so, see [`Line::after_hours_line`]; one reached here is the end of a
    /// ring of closed lines, and takes a voicemail.)
    pub(crate) async fn answer_after_hours(
        &self,
        record: &Call,
        line: &LineConfig,
        hours: &HoursSettings,
    ) -> VoiceResponse {
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
        tracing::info!(call = %record.id, line = %line.id(), "call outside business hours: straight to voicemail");
        self.publish(LineEvent::CallStarted {
            call: self.summary(record),
        });
        self.publish(LineEvent::Notice {
            call_id: record.id.clone(),
            text: "Outside business hours: the caller was sent straight to voicemail.".into(),
        });
        self.after_hours_voicemail(record, line, hours)
    }

    /// The after-hours greeting and the voicemail recording (also the answer to Twilio asking
    /// again about such a call).
    pub(crate) fn after_hours_voicemail(
        &self,
        record: &Call,
        line: &LineConfig,
        hours: &HoursSettings,
    ) -> VoiceResponse {
        let response = self.start_transcription(line, VoiceResponse::new());
        self.record_voicemail(response, &record.id, &hours.after_hours_greeting, line)
    }
}
