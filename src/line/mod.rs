//! The line: what happens to calls, from Twilio's webhooks and from chat.
//!
//! `Line` is the application's shared state (cheap to clone) and the place the flows meet:
//! [`incoming`] answers calls, [`say`] takes messages, [`conference`] and [`call_status`] follow
//! Twilio's callbacks, and [`crate::speech`] speaks. Everything it knows lives in the store, so
//! any replica can handle any webhook.

mod background;
mod call_status;
mod conference;
mod control;
mod events;
mod incoming;
mod outbound;
mod responders;
mod say;
mod status_check;
mod sweep;
mod transcript;
mod transcription;
mod voicemail;

use std::sync::{Arc, OnceLock};

use denwa_chat::ChatBridge;
use url::Url;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::twilio::{SignatureValidator, TwilioClient};

pub use call_status::{CallStatusParams, LegKind};
pub use conference::ConferenceEventParams;
pub use incoming::VoiceParams;
pub use outbound::DialError;
pub use sweep::sweep;
pub use transcription::TranscriptionParams;
pub use voicemail::Transcription;

#[derive(Clone)]
pub struct Line {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Store,
    twilio: TwilioClient,
    validator: SignatureValidator,
    /// Set once at start-up: bridges need the line (to act on it) before the line can hold them.
    bridges: OnceLock<Vec<Arc<dyn ChatBridge>>>,
    metrics: Metrics,
    background: background::Background,
}

impl Line {
    pub fn new(settings: Settings, store: Store, twilio: TwilioClient) -> Line {
        let mut validator = SignatureValidator::new(settings.twilio.auth_token.clone());
        if let Some(previous) = &settings.twilio.previous_auth_token {
            validator = validator.with_previous_token(previous.clone());
        }
        Line {
            inner: Arc::new(Inner {
                settings,
                store,
                twilio,
                validator,
                bridges: OnceLock::new(),
                metrics: Metrics::default(),
                background: Default::default(),
            }),
        }
    }

    /// Attaches the chat bridges; only the first call has any effect.
    pub fn attach_bridges(&self, bridges: Vec<Arc<dyn ChatBridge>>) {
        let _ = self.inner.bridges.set(bridges);
    }

    pub fn bridges(&self) -> &[Arc<dyn ChatBridge>] {
        self.inner
            .bridges
            .get()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn twilio(&self) -> &TwilioClient {
        &self.inner.twilio
    }

    pub fn validator(&self) -> &SignatureValidator {
        &self.inner.validator
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// An absolute URL under `server.public_url` (which may carry a path prefix) with query
    /// parameters; the URL Twilio will request, and so the one its signature covers.
    pub fn public_url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.settings.server.public_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&[base.as_str(), path].concat());
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// The URL Twilio signed for a request that reached us at `path_and_query`.
    pub fn signed_url(&self, path_and_query: &str) -> String {
        let public = self
            .inner
            .settings
            .server
            .public_url
            .as_str()
            .trim_end_matches('/');
        [public, path_and_query].concat()
    }
}
