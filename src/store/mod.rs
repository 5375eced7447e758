//! The store: every piece of denwa's state, in Redis.
//!
//! Only this module builds Redis keys ([`keys`]). Keys of one call share the hash tag
//! `{<call id>}`, so every multi-key step on a call (the Lua scripts in [`scripts`]) touches a
//! single Redis Cluster slot. Steps that must not interleave across replicas (taking a batch to
//! speak, ending a call, requeueing a failed leg's messages) are Lua scripts, which Redis runs
//! atomically.

mod announcements;
mod bridges;
mod calls;
mod connection;
mod escalation;
mod keys;
mod legs;
mod messages;
mod migration;
mod schedule;
mod scripts;
mod speaker;
mod sweep;
mod transcript;
mod trust;

use crate::config::RedisSettings;
use connection::Connection;

pub use announcements::AnnouncementEnd;
pub use calls::{ConferenceChange, CreateOutcome, NewCall, ParticipantRole};
pub use escalation::EscalationPosition;
pub use legs::VoicemailPart;
pub use messages::{EnqueueOutcome, NewMessage, SpeechLimits};
pub use schedule::ScheduleStatus;
pub use speaker::{SpeakerState, Turn, TurnRequest, UnansweredVerdict};
pub use sweep::{Looked, UnansweredSpeaker};
pub use transcript::{Kept, MAX_TRANSCRIPT_BYTES, MAX_UTTERANCES};

use keys::Keys;

/// The store could not be reached or answered something unexpected. Callers treat both the same
/// way: the operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(#[from] redis::RedisError),
    #[error("the store holds a malformed record: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Whether the store could not be reached because TLS failed (an untrusted or mismatched
    /// certificate, a handshake refused): a configuration fault to report as such, where a
    /// refused or timed-out connection is only Redis being down. The redis crate keeps the
    /// rustls error only as text (its I/O errors expose no source), so the text is what is read.
    pub fn is_tls(&self) -> bool {
        let StoreError::Unavailable(e) = self else {
            return false;
        };
        let text = e.to_string().to_ascii_lowercase();
        ["certificate", "tls", "handshake", "unknownissuer"]
            .iter()
            .any(|word| text.contains(word))
    }
}

/// For a store step whose failure the flow can live with (a note for later, a cleanup that has a
/// fallback) but must not hide: the failure is logged with what was being done.
pub trait LogFailure<T> {
    fn or_log(self, doing: &str) -> Option<T>;
}

impl<T> LogFailure<T> for StoreResult<T> {
    fn or_log(self, doing: &str) -> Option<T> {
        self.inspect_err(|e| tracing::warn!(error = %e, "cannot {doing}"))
            .ok()
    }
}

/// A chat user is told the store is unavailable; the cause goes to the log, here, once.
impl From<StoreError> for denwa_chat::LineRefused {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "a request from chat failed on the store");
        denwa_chat::LineRefused::Unavailable
    }
}

#[derive(Clone)]
pub struct Store {
    conn: Connection,
    keys: Keys,
}

impl Store {
    /// Prepares a connection (to one Redis, or to a Redis Cluster through its seeds) without
    /// waiting for Redis: denwa starts (and answers callers something sensible) while Redis is
    /// down, and the connection is made, or made again, when it returns.
    pub fn connect(settings: &RedisSettings) -> StoreResult<Store> {
        Ok(Store {
            conn: Connection::open(settings)?,
            keys: Keys::new(&settings.key_prefix),
        })
    }

    /// PING, bounded by `within` (a connection that never answers is an error too).
    pub async fn ping_within(&self, within: std::time::Duration) -> StoreResult<()> {
        match tokio::time::timeout(within, self.ping()).await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError::Unavailable(redis::RedisError::from((
                redis::ErrorKind::Io,
                "no answer in time",
            )))),
        }
    }

    pub async fn ping(&self) -> StoreResult<()> {
        let _: String = redis::cmd("PING").query_async(&mut self.conn()).await?;
        Ok(())
    }

    fn conn(&self) -> Connection {
        self.conn.clone()
    }
}
