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
mod keys;
mod legs;
mod messages;
mod scripts;
mod speaker;
mod transcript;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret as _;

pub use announcements::AnnouncementEnd;
pub use calls::{ConferenceChange, CreateOutcome, NewCall, ParticipantRole};
pub use legs::VoicemailPart;
pub use messages::{EnqueueOutcome, NewMessage, SpeechLimits};
pub use speaker::{SpeakerState, Turn, TurnRequest};
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
    conn: ConnectionManager,
    keys: Keys,
}

impl Store {
    /// Prepares a connection without waiting for Redis: denwa starts (and answers callers
    /// something sensible) while Redis is down, and the manager reconnects when it returns.
    pub fn connect(url: &secrecy::SecretString, key_prefix: &str) -> StoreResult<Store> {
        let client = redis::Client::open(url.expose_secret())?;
        // Webhooks must answer Twilio in milliseconds, so a dead Redis has to fail fast rather
        // than hang: short connect and response timeouts, no retry inside a request (the manager
        // still reconnects in the background for the next one).
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Store {
            conn,
            keys: Keys::new(key_prefix),
        })
    }

    pub async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}
