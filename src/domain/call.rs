//! A call on the line, as denwa keeps it.

use serde::Serialize;

use super::{CallId, CallSid, CallState, Direction, LineId};

/// One call to (or from) the line. The caller's number is kept for the team's chat, never put in
/// a conference name, URL or log line.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    pub id: CallId,
    pub state: CallState,
    /// The number at the other end: the caller's on an inbound call, as Twilio gave it (may be
    /// "anonymous" or a client identity), the person dialled on an outbound one. `from` in the
    /// API and the store, whichever way the call went.
    #[serde(rename = "from")]
    pub other_party: String,
    /// The line's own number (the one called, or the one calling out). `to` in the API and the
    /// store.
    #[serde(rename = "to")]
    pub line_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    /// Twilio's CallSid of the caller's leg; none while an outbound call is being placed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_sid: Option<CallSid>,
    pub conference: String,
    /// The line the call is on (`None`: recorded before denwa had several lines, so the
    /// default line's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<LineId>,
    /// The key the caller pressed in the line's menu, when the call came through one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub menu_choice: Option<String>,
    /// Unix milliseconds.
    pub started_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    pub messages_spoken: u64,
    pub messages_failed: u64,
    /// The caller's final utterances kept from live transcription.
    pub caller_utterances: u64,
    /// Extra call legs this call has cost (speaker legs): the seed's author warned that each
    /// spoken message can cost a call.
    pub speaker_legs: u64,
    /// Responder legs dialled for this call (each costs a call too).
    pub responder_legs: u64,
    pub direction: Direction,
    /// Everyone who joined the caller in the conference, in order.
    pub joined: Vec<String>,
    /// The voicemail the caller left, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voicemail_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voicemail_transcript: Option<String>,
    /// Unix milliseconds: when Twilio last told denwa about the caller's leg (its webhook, its
    /// conference's events).
    pub last_activity_at: u64,
    /// Unix milliseconds: when denwa last asked Twilio whether the call is still on.
    #[serde(skip)]
    pub status_checked_at: Option<u64>,
}

impl Call {
    /// Since when nobody has heard about the call: neither from Twilio, nor by asking it.
    pub fn quiet_since(&self) -> u64 {
        self.last_activity_at
            .max(self.status_checked_at.unwrap_or(0))
    }
}

#[cfg(test)]
impl Call {
    /// An inbound call `call<n>` (CallSid `CA<n>`) that started at 0 and was never heard of since,
    /// for tests to change what they need.
    pub(crate) fn sample(n: usize) -> Call {
        let id = CallId::parse(&format!("call{n}")).unwrap();
        Call {
            conference: super::ConferenceName::of(&id).to_string(),
            id,
            state: CallState::Connected,
            other_party: "+14155550123".into(),
            line_number: "+15005550006".into(),
            line: None,
            menu_choice: None,
            caller_name: None,
            call_sid: CallSid::parse(&format!("CA{n:032}")),
            started_at: 0,
            ended_at: None,
            messages_spoken: 0,
            messages_failed: 0,
            speaker_legs: 0,
            responder_legs: 0,
            caller_utterances: 0,
            direction: Direction::Inbound,
            joined: Vec::new(),
            voicemail_url: None,
            voicemail_transcript: None,
            last_activity_at: 0,
            status_checked_at: None,
        }
    }
}
