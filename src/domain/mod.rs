//! Domain types: input becomes one of these at the edge, and the rest of the code trusts it.

pub mod business_hours;
mod call;
mod conference_name;
mod dial_policy;
mod incoming_call_id;
mod leg_token;
mod message;
mod participant_label;
mod phone_number;
mod twilio_sid;

pub use call::Call;
pub use conference_name::ConferenceName;
pub use dial_policy::{BlockedCallers, DialPolicy, DialRefusal};
// The words the line shares with the chat bridges have one home, the chat contract; the line
// uses them as its own.
pub use denwa_chat::{CallId, CallState, Direction, LineId, MessageId};
pub use incoming_call_id::incoming_call_id;
pub use leg_token::LegToken;
pub use message::{Message, MessageState, Piece};
pub use participant_label::ParticipantLabel;
pub use phone_number::PhoneNumber;
pub use twilio_sid::{CallSid, ConferenceSid};

/// Now, in Unix milliseconds: the unit every timestamp in the store uses.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
