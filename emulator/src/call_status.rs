//! What Twilio reports about a call: its direction, its status, and where status changes are
//! posted. Every part of the emulator speaks of calls in these words, so they sit below all of it.

use crate::twiml::HttpMethod;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    OutboundApi,
    OutboundDial,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::OutboundApi => "outbound-api",
            Direction::OutboundDial => "outbound-dial",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Initiated => "initiated",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Canceled => "canceled",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            CallStatus::Completed
                | CallStatus::Busy
                | CallStatus::Failed
                | CallStatus::NoAnswer
                | CallStatus::Canceled
        )
    }

    /// The `StatusCallbackEvent` group that reports this status.
    pub(crate) fn callback_event(self) -> Option<&'static str> {
        match self {
            CallStatus::Initiated => Some("initiated"),
            CallStatus::Ringing => Some("ringing"),
            CallStatus::InProgress => Some("answered"),
            s if s.is_final() => Some("completed"),
            _ => None,
        }
    }
}

/// Where a call's status changes are posted (`StatusCallback`, its method and events).
#[derive(Debug, Clone)]
pub(crate) struct StatusCallback {
    pub url: String,
    pub method: HttpMethod,
    pub events: Vec<String>,
}
