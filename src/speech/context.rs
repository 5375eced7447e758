//! What the speakers are given: the store, the Twilio client, the speech settings, the counters,
//! the background tasks and the bridges' receipts. Not the line: the line starts speech, and
//! speech names nothing above it (`routes` -> `line` -> `speech` -> `store`).
//!
//! A context speaks for one line (its voice, language, strategy and number): the one a call is
//! on, chosen with [`SpeechContext::on_line`] by whoever knows the call's line (the line from the
//! call record it read, a speaker leg from its signed URL), so that no turn reads it again.

use std::sync::Arc;

use url::Url;

use crate::background::Background;
use crate::chat_events::ChatEvents;
use crate::config::{LineConfig, LineSpeech, Lines, ServerSettings, SpeechSettings};
use crate::domain::{CallId, ConferenceName, LineId, MessageId, PhoneNumber};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::twilio::TwilioClient;
use crate::twiml::{Beep, Conference, ConferenceEvent, HttpMethod, Say};

/// Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct SpeechContext {
    inner: Arc<SpeechParts>,
    /// The line it speaks for: its index in `inner.lines` (0, the default line, until chosen).
    line: usize,
}

/// The parts of a [`SpeechContext`], named so that none is passed in the wrong place.
pub struct SpeechParts {
    pub settings: SpeechSettings,
    pub server: ServerSettings,
    /// Every line: how each speaks, and its number (what its self-dialled speaker calls, and
    /// calls from).
    pub lines: Lines,
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
            line: 0,
        }
    }

    /// This context, speaking for line `id`: the default line for `None` (a call recorded
    /// before calls kept their line, a leg dialled before its URL named it) or a line no longer
    /// configured.
    pub fn on_line(&self, id: Option<&LineId>) -> SpeechContext {
        let line = id
            .and_then(|id| self.inner.lines.all().iter().position(|l| l.id() == id))
            .unwrap_or(0);
        SpeechContext {
            inner: self.inner.clone(),
            line,
        }
    }

    /// The process's limits (`[speech]`); how this line speaks is [`Self::line_speech`].
    pub fn settings(&self) -> &SpeechSettings {
        &self.inner.settings
    }

    /// The line this context speaks for.
    pub fn line(&self) -> &LineConfig {
        &self.inner.lines.all()[self.line]
    }

    /// How this context's line speaks: its voice, language and strategy.
    pub fn line_speech(&self) -> &LineSpeech {
        &self.line().speech
    }

    /// Every line: what a message is cut for before the store tells which line its call is on.
    pub fn lines(&self) -> &Lines {
        &self.inner.lines
    }

    pub fn line_number(&self) -> &PhoneNumber {
        &self.line().number
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

    /// A `<Say>` of `text` in this line's voice and language.
    pub fn say_verb(&self, text: &str) -> Say {
        super::say_verb(self.line_speech(), text)
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
