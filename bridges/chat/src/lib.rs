//! The contract between the line and the chat bridges (Slack, Discord, the demo console, ...).
//!
//! Two directions:
//! - the line tells every bridge what happens on the line ([`LineEvent`]) through
//!   [`ChatBridge::on_event`]: a call to announce, a participant who joined, a message spoken or
//!   failed (the receipt), the call's end;
//! - a bridge asks the line to act on behalf of its users through [`LineControl`]: say a text
//!   into a call, hang a call up, list the active calls.
//!
//! Bridge crates depend only on this crate, never on the line's, so nothing cycles and no bridge
//! can reach Twilio or the store directly. The line depends on it too: the words both sides use
//! (a call's [`CallId`] and [`CallState`], its [`Direction`], a [`MessageId`]) are defined here,
//! once, as types; a bridge parses what its platform hands it (a button's value, a command's
//! text) into them at its edge, and nothing past the edge handles an id as a string.

mod api_meter;
mod call;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod health;
mod ids;
mod line_channels;
mod mentions;
mod note;
mod origin;
mod phone_display;
mod receipt;
pub mod speech;
mod threads;
pub mod words;

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

pub use api_meter::{ApiMeter, ApiObserver, ApiOutcome, ApiService};
pub use call::{CallState, CallSummary, Direction};
use health::Health;
pub use ids::{CallId, LineId, MessageId};
pub use line_channels::LineChannels;
pub use mentions::{MentionKind, Mentions, Names};
pub use note::Note;
pub use origin::MessageOrigin;
pub use phone_display::format_number;
pub use receipt::Receipt;
pub use threads::{THREAD_WAIT, Threads};

/// A boxed future, so the traits stay object-safe (`Arc<dyn ChatBridge>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What happened on the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LineEvent {
    /// A call came in: announce it (its thread is the call).
    CallStarted {
        call: CallSummary,
    },
    /// The caller is in the conference.
    CallConnected {
        call: CallSummary,
    },
    CallEnded {
        call: CallSummary,
    },
    ParticipantJoined {
        call_id: CallId,
        name: String,
    },
    ParticipantLeft {
        call_id: CallId,
        name: String,
    },
    /// A message was spoken to the caller: the receipt.
    MessageSpoken {
        call_id: CallId,
        message_id: MessageId,
        origin: MessageOrigin,
    },
    /// A message will never be spoken, and why.
    MessageFailed {
        call_id: CallId,
        message_id: MessageId,
        origin: MessageOrigin,
        reason: String,
    },
    /// The caller left a voicemail; the transcript follows in a second event when Twilio has it.
    Voicemail {
        call_id: CallId,
        recording_url: String,
        transcript: Option<String>,
    },
    /// What the caller said (live transcription): final utterances, in the order spoken, each
    /// handed to the bridges once. Several close together come as one event, to stay within
    /// the chat services' rate limits. The text is the caller's: data, never markup.
    CallerSaid {
        call_id: CallId,
        /// The caller's name, when known.
        name: Option<String>,
        utterances: Vec<String>,
    },
    /// Something the team should know about a call (denwa gave up on something it tried), in
    /// plain words: posted in the call's thread.
    Notice {
        call_id: CallId,
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{bridge}: {message}")]
pub struct BridgeError {
    pub bridge: String,
    pub message: String,
}

/// A chat bridge, as the line sees it.
pub trait ChatBridge: Send + Sync + 'static {
    /// Short name, also used as [`MessageOrigin::bridge`].
    fn name(&self) -> &'static str;

    /// Handles one event. Called off the webhook's path: a slow chat service never delays
    /// Twilio. Errors are logged and counted by the line.
    fn on_event<'a>(&'a self, event: &'a LineEvent) -> BoxFuture<'a, Result<(), BridgeError>>;

    /// The bridge's health, reported at `/readyz`.
    fn status(&self) -> BridgeStatus {
        BridgeStatus::default()
    }
}

/// Why the line would not do what a bridge asked: take a message, hang up, dial, join someone by
/// phone, or read or keep a call's data. One type for every request, because a bridge answers
/// each refusal the same way (in the chat user's words); each variant's text is written for the
/// chat user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineRefused {
    #[error("there is no such call")]
    NoSuchCall,
    #[error("the call has already ended")]
    CallEnded,
    #[error("there is nothing to say in that message")]
    NothingToSay,
    #[error("the message is too long ({chars} characters; the limit is {limit})")]
    TooLong { chars: usize, limit: usize },
    #[error("denwa cannot store messages right now; please try again shortly")]
    Unavailable,
    #[error("the caller is leaving a voicemail")]
    InVoicemail,
    #[error("{0}")]
    BadNumber(String),
    #[error(
        "you are not in the line's responder directory ([[line.responders]] with your chat user id)"
    )]
    NotAResponder,
    #[error("Twilio did not place the call: {0}")]
    DialFailed(String),
    /// The line never calls this number: premium rate, shared cost, or a country outside
    /// `line.dial_countries`. The text says which.
    #[error("{0}")]
    NumberNotAllowed(String),
    /// `speech.max_queued`: the call has this many messages waiting or being spoken.
    #[error(
        "the caller already has {} waiting to be spoken; send it again once some have been heard",
        words::count(*.limit as u64, "message")
    )]
    QueueFull { limit: usize },
    /// `speech.max_per_minute`: the call accepted this many in the last minute; a slot frees in
    /// `retry_after_secs` (at least 1).
    #[error(
        "this call takes at most {} a minute; try again in {}",
        words::count(*.limit as u64, "message"),
        words::count(*.retry_after_secs, "second")
    )]
    RateLimited { limit: usize, retry_after_secs: u64 },
}

/// A message the line accepted: it is stored and queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub message_id: MessageId,
}

/// What a bridge may ask of the line.
pub trait LineControl: Send + Sync + 'static {
    /// Where the bridge reports its platform's API calls (latency, errors) for the line's
    /// metrics; by default nowhere.
    fn api_meter(&self, service: ApiService) -> ApiMeter {
        ApiMeter::unobserved(service)
    }

    /// Queues `text` for `call`. Returns only once the message is stored.
    fn say<'a>(
        &'a self,
        call: &'a CallId,
        text: &'a str,
        origin: MessageOrigin,
    ) -> BoxFuture<'a, Result<Accepted, LineRefused>>;

    /// Ends the call for everyone.
    fn hang_up<'a>(&'a self, call: &'a CallId) -> BoxFuture<'a, Result<(), LineRefused>>;

    fn active_calls(&self) -> BoxFuture<'_, Result<Vec<CallSummary>, LineRefused>>;

    /// One call by id (also after it ended, while its record is kept).
    fn call<'a>(
        &'a self,
        call: &'a CallId,
    ) -> BoxFuture<'a, Result<Option<CallSummary>, LineRefused>>;

    /// Remembers that `thread` (bridge-specific: a Slack `channel:ts`, a Discord thread id) is
    /// call `call`'s thread in `bridge`. Kept in the line's store, so it survives restarts and
    /// is shared by every replica.
    fn link_thread<'a>(
        &'a self,
        bridge: &'a str,
        call: &'a CallId,
        thread: &'a str,
    ) -> BoxFuture<'a, Result<(), LineRefused>>;

    /// The thread linked to a call in `bridge`.
    fn thread_of_call<'a>(
        &'a self,
        bridge: &'a str,
        call: &'a CallId,
    ) -> BoxFuture<'a, Result<Option<String>, LineRefused>>;

    /// The call linked to a thread in `bridge`.
    fn call_of_thread<'a>(
        &'a self,
        bridge: &'a str,
        thread: &'a str,
    ) -> BoxFuture<'a, Result<Option<CallId>, LineRefused>>;

    /// True the first time `delivery_id` (e.g. a Slack `event_id`) is seen by `bridge`, false on
    /// every retry of it, across replicas (kept a day).
    fn first_delivery<'a>(
        &'a self,
        bridge: &'a str,
        delivery_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, LineRefused>>;
}

/// What a bridge may ask of the line beyond speaking: calls placed on a user's behalf. Kept apart
/// from [`LineControl`] so a bridge (or a test double) needs it only where it offers it.
pub trait LineDialing: Send + Sync + 'static {
    /// The line calls `number`, as the user typed it; the line checks it (E.164, not the line's
    /// own number) and refuses with [`LineRefused::BadNumber`], as it does for the API. The call
    /// gets a thread like any other.
    fn dial<'a>(&'a self, number: &'a str) -> BoxFuture<'a, Result<CallSummary, LineRefused>>;

    /// Dials the responder whose `bridge` user id is `user` into `call` (they press 1 to
    /// join, so a voicemail box cannot). Returns the responder's name.
    fn join_by_phone<'a>(
        &'a self,
        call: &'a CallId,
        bridge: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, Result<String, LineRefused>>;

    /// The responder name of a chat user, if they are in the directory (to offer "Join by phone").
    fn responder_name(&self, bridge: &str, user: &str) -> Option<String>;
}

/// The line as a bridge holds it: what it may ask ([`LineControl`]) and the calls it may place
/// ([`LineDialing`]). The line is both; a test double may be either.
pub trait BridgeLine: LineControl + LineDialing {}

impl<T: LineControl + LineDialing> BridgeLine for T {}

/// How a bridge is doing, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BridgeStatus {
    pub healthy: bool,
    /// The last failure worth an operator's attention (e.g. an announcement that could not be
    /// posted after retries), or "ok".
    pub detail: String,
    /// Calls whose announcement could not be posted.
    pub unannounced_calls: u64,
}

impl Default for BridgeStatus {
    fn default() -> Self {
        Self {
            healthy: true,
            detail: "ok".into(),
            unannounced_calls: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_at_the_speech_limits_say_what_to_do() {
        assert_eq!(
            LineRefused::QueueFull { limit: 100 }.to_string(),
            "the caller already has 100 messages waiting to be spoken; send it again once some have been heard"
        );
        assert!(
            LineRefused::QueueFull { limit: 1 }
                .to_string()
                .starts_with("the caller already has 1 message waiting")
        );
        let rate = |limit, retry_after_secs| LineRefused::RateLimited {
            limit,
            retry_after_secs,
        };
        assert_eq!(
            rate(60, 1).to_string(),
            "this call takes at most 60 messages a minute; try again in 1 second"
        );
        assert_eq!(
            rate(1, 42).to_string(),
            "this call takes at most 1 message a minute; try again in 42 seconds"
        );
    }
}
