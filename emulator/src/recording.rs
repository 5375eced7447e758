//! Recordings made by `<Record>` and recorded conferences. The emulator keeps no audio, only
//! what was said, which becomes the transcription.

use std::ops::Range;
use std::time::SystemTime;

use crate::clock::new_sid;
use crate::state::{RecordingRecord, State};

/// The recording lengths Twilio transcribes, in seconds, both ends excluded: "Transcription is
/// currently limited to recordings with a duration greater than 2 seconds and less than 120
/// seconds" (warning 13617, https://www.twilio.com/docs/api/errors/13617).
pub(crate) const TRANSCRIBABLE_SECS: Range<f64> = 2.0..120.0;

/// Whether Twilio transcribes a recording `length` seconds long. Stricter than documented: both
/// the exact length and the whole seconds Twilio reports (`RecordingDuration`) must be in range,
/// so a recording of 2.4 s (reported as 2) or 119.6 s (reported as 120) is not transcribed.
pub(crate) fn transcribable(length: f64) -> bool {
    let in_range = |secs: f64| secs > TRANSCRIBABLE_SECS.start && secs < TRANSCRIBABLE_SECS.end;
    in_range(length) && in_range(length.round())
}

impl State {
    /// Stores a recording; returns its SID and `RecordingUrl`.
    pub(crate) fn new_recording(
        &mut self,
        call_sid: Option<&str>,
        conference_sid: Option<&str>,
        duration: u64,
        transcript: String,
        source: &'static str,
    ) -> (String, String) {
        let sid = new_sid("RE");
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Recordings/{sid}",
            self.base_url, self.account_sid
        );
        self.recordings.insert(
            sid.clone(),
            RecordingRecord {
                sid: sid.clone(),
                call_sid: call_sid.map(str::to_string),
                conference_sid: conference_sid.map(str::to_string),
                duration,
                transcript,
                date_created: SystemTime::now(),
                source,
            },
        );
        (sid, url)
    }
}
