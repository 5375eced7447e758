//! Domain types: input becomes one of these at the edge, and the rest of the code trusts it.

mod call;
mod call_id;
mod message;
mod participant_label;
mod phone_number;

pub use call::{Call, CallState};
pub use call_id::{CallId, ConferenceName};
pub use message::{Message, MessageId, MessageState, Piece};
pub use participant_label::ParticipantLabel;
pub use phone_number::PhoneNumber;

/// Now, in Unix milliseconds: the unit every timestamp in the store uses.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
