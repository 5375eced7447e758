//! What the emulator tells its user: per-call event logs and the live event feed.

use crate::audio::Heard;
use crate::error::EmulatorError;

/// One entry of a call's log ([`Emulator::events`](crate::Emulator::events)).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallEvent {
    /// Call-seconds since the emulator started.
    pub at: f64,
    #[serde(flatten)]
    pub kind: CallEventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallEventKind {
    /// The call's status changed (`queued`, `initiated`, `ringing`, `in-progress`, `completed`,
    /// `busy`, `failed`, `no-answer`, `canceled`).
    Status { status: String },
    /// A request the emulator sent for this call and what came back.
    Webhook {
        /// `voice`, `action`, `redirect`, `status-callback`, `conference-status`, `transcription`,
        /// `recording-status`, `announce`, `wait`.
        purpose: String,
        method: String,
        url: String,
        params: Vec<(String, String)>,
        response_status: Option<u16>,
        response_body: Option<String>,
        /// Transport failure (connection refused, timeout), if any.
        error: Option<String>,
    },
    /// The call's Twilio side began executing a verb.
    Verb { verb: String },
    /// DTMF that reached this call's Twilio side (from its far end).
    DtmfReceived { digit: char },
    /// DTMF this call's Twilio side sent to its far end (`SendDigits`, `<Play digits>`).
    DtmfSent { digit: char },
    /// DTMF on its way to this call's Twilio side that the line lost
    /// ([`Emulator::lose_digit`](crate::Emulator::lose_digit)).
    DtmfLost { digit: char },
    /// The far end of this call spoke (see [`Emulator::speak`](crate::Emulator::speak)).
    FarEndSpoke { text: String },
    /// The far end hung up.
    FarEndHungUp,
    ConferenceJoin {
        conference_sid: String,
        friendly_name: String,
    },
    ConferenceLeave {
        conference_sid: String,
        reason: String,
    },
    /// An error recorded against this call (also in [`Emulator::errors`](crate::Emulator::errors)).
    Error { code: u32, message: String },
}

/// The live feed ([`Emulator::subscribe`](crate::Emulator::subscribe)).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EmulatorEvent {
    Call {
        call_sid: String,
        event: CallEvent,
    },
    /// A transcript entry of `call_sid` was created or grew (`index` is its position, so a
    /// display can update it in place as tokens arrive).
    Heard {
        call_sid: String,
        index: usize,
        heard: Heard,
    },
    Conference {
        conference_sid: String,
        friendly_name: String,
        /// The Twilio event name (`conference-start`, `participant-join`, ...), whether or not the
        /// application subscribed to it.
        event: String,
        call_sid: Option<String>,
    },
    Error(EmulatorError),
}
