//! Recordings made by `<Record>` and recorded conferences. The emulator keeps no audio, only
//! what was said, which becomes the transcription.

use std::time::SystemTime;

use crate::clock::new_sid;
use crate::state::{RecordingRec, State};

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
            RecordingRec {
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
