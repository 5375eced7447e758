//! What the speakers are given: the store, the Twilio client, the speech settings, the counters,
//! the background tasks and the bridges' receipts. Not the line: the line starts speech, and
//! speech names nothing above it (`routes` -> `line` -> `speech` -> `store`).

use std::sync::Arc;

use url::Url;

use crate::background::Background;
use crate::chat_events::ChatEvents;
use crate::config::{ServerSettings, SpeechSettings};
use crate::domain::{CallId, ConferenceName, MessageId, PhoneNumber};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::twilio::TwilioClient;
use crate::twiml::{Beep, Conference, ConferenceEvent, HttpMethod, Say};

/// Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct SpeechContext {
    inner: Arc<SpeechParts>,
}

/// The parts of a [`SpeechContext`], named so that none is passed in the wrong place.
pub struct SpeechParts {
    pub settings: SpeechSettings,
    pub server: ServerSettings,
    /// The line's number: what a self-dialled speaker calls, and calls from.
    pub line_number: PhoneNumber,
    pub store: Store,
    pub twilio: TwilioClient,
    pub metrics: Arc<Metrics>,
    pub background: Background,
    pub events: ChatEvents,
}

impl SpeechContext {
    pub fn new(parts: SpeechParts) -> Self {
        Self {
            inner: Arc::new(parts),
        }
    }

    pub fn settings(&self) -> &SpeechSettings {
        &self.inner.settings
    }

    pub fn line_number(&self) -> &PhoneNumber {
        &self.inner.line_number
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn twilio(&self) -> &TwilioClient {
        &self.inner.twilio
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// See [`ServerSettings::url`].
    pub fn public_url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        self.inner.server.url(path, query)
    }

    /// The conference of call `id`, with the status callbacks denwa follows. Every leg joining it
    /// (the caller, responders, speakers) carries the callbacks: Twilio takes them from whichever
    /// participant joins first.
    pub fn conference(&self, id: &CallId) -> Conference {
        Conference::new(ConferenceName::of(id))
            .beep(Beep::False)
            .status_callback(self.public_url("/twilio/conference", &[]).as_str())
            .status_callback_method(HttpMethod::Post)
            .status_callback_events([
                ConferenceEvent::Start,
                ConferenceEvent::End,
                ConferenceEvent::Join,
                ConferenceEvent::Leave,
                ConferenceEvent::Announcement,
            ])
    }

    /// A `<Say>` of `text` in the configured voice and language.
    pub fn say_verb(&self, text: &str) -> Say {
        super::say_verb(&self.inner.settings, text)
    }

    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.inner.background.spawn(task);
    }

    pub async fn stopping(&self) {
        self.inner.background.stopping().await
    }

    pub fn is_stopping(&self) -> bool {
        self.inner.background.is_stopping()
    }

    pub async fn publish_receipts(&self, id: &CallId, spoken: &[MessageId], failed: &[MessageId]) {
        self.inner.events.publish_receipts(id, spoken, failed).await;
    }
}
