//! A call as the line and the bridges speak of it: where it is in its life, which way it goes,
//! and the summary a bridge renders.

use std::fmt;

use serde::Serialize;

use crate::{CallId, LineId};

/// Where a call is in its life. Only moves forward: ringing -> connected -> ended. Its text
/// (`"ringing"`, `"connected"`, `"ended"`) is the `state` of the API's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Twilio asked what to do with the call; the caller is hearing the greeting.
    Ringing,
    /// The caller is in the conference.
    Connected,
    Ended,
}

impl CallState {
    const ALL: [CallState; 3] = [CallState::Ringing, CallState::Connected, CallState::Ended];

    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Connected => "connected",
            CallState::Ended => "ended",
        }
    }

    /// The state whose text is `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a call goes. Its text (`"inbound"`, `"outbound"`) is the `direction` of the API's
/// calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Someone called the line.
    Inbound,
    /// The line called someone (`denwa dial`, `POST /api/calls`).
    Outbound,
}

impl Direction {
    const ALL: [Direction; 2] = [Direction::Inbound, Direction::Outbound];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// The direction whose text is `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|direction| direction.as_str() == s)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call as bridges see it. `from` is the far end's number (the caller, or whom the line
/// called): bridges decide whether to show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallSummary {
    pub id: CallId,
    /// The line's display name.
    pub line: String,
    /// The line's id: which line's channel the call is announced in (see `lines[].id`).
    pub line_id: LineId,
    /// What the caller chose in the line's keypad menu ("1"), when the call came through one.
    pub menu_choice: Option<String>,
    pub from: String,
    pub caller_name: Option<String>,
    pub state: CallState,
    /// Unix milliseconds.
    pub started_at: u64,
    pub ended_at: Option<u64>,
    pub messages_spoken: u64,
    /// How many things the caller said, with live transcription on (`None`: it is off, and
    /// nobody counted).
    pub caller_utterances: Option<u64>,
    /// Extra call legs spent speaking into this call.
    pub speaker_legs: u64,
    /// Responder legs dialled for this call.
    pub responder_legs: u64,
    /// Everyone who joined the caller, in order.
    pub joined: Vec<String>,
    pub direction: Direction,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_directions_read_back_their_text() {
        for state in CallState::ALL {
            assert_eq!(CallState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
        for direction in Direction::ALL {
            assert_eq!(Direction::parse(direction.as_str()), Some(direction));
            assert_eq!(
                serde_json::to_value(direction).unwrap(),
                serde_json::Value::from(direction.as_str())
            );
        }
        assert_eq!(CallState::parse("Ended"), None);
        assert_eq!(Direction::parse(""), None);
    }
}
