//! The line: what happens to calls, from Twilio's webhooks and from chat.
//!
//! `Line` is the application's shared state (cheap to clone) and the place the flows meet:
//! [`incoming`] answers calls, [`say`] takes messages, [`conference`] and [`call_status`] follow
//! Twilio's callbacks, and [`crate::speech`] speaks. Everything it knows lives in the store, so
//! any replica can handle any webhook.

mod after_hours;
mod call_status;
mod conference;
mod control;
mod escalation;
mod events;
mod incoming;
mod menu;
mod on_call;
mod outbound;
mod responders;
mod say;
mod status_check;
mod sweep;
mod transcript;
mod transcription;
mod voicemail;

use std::sync::Arc;
use std::time::Duration;

use denwa_chat::ChatBridge;
use url::Url;

use crate::background::Background;
use crate::chat_events::ChatEvents;
use crate::config::{LineConfig, Lines, Settings};
use crate::domain::{Call, CallId};
use crate::metrics::Metrics;
use crate::speech::{SpeechContext, SpeechParts};
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
    events: ChatEvents,
    metrics: Arc<Metrics>,
    background: Background,
    /// What the speakers are given: the line starts them, they never see the line.
    speech: SpeechContext,
}

impl Line {
    /// `metrics` is this instance's own (its Twilio client already reports to it).
    pub fn new(settings: Settings, store: Store, twilio: TwilioClient, metrics: Metrics) -> Line {
        let mut validator = SignatureValidator::new(settings.twilio.auth_token.clone());
        if let Some(previous) = &settings.twilio.previous_auth_token {
            validator = validator.with_previous_token(previous.clone());
        }
        let metrics = Arc::new(metrics);
        let background = Background::default();
        let events = ChatEvents::new(store.clone(), metrics.clone(), background.clone());
        let speech = SpeechContext::new(SpeechParts {
            settings: settings.speech.clone(),
            server: settings.server.clone(),
            lines: settings.lines.clone(),
            store: store.clone(),
            twilio: twilio.clone(),
            metrics: metrics.clone(),
            background: background.clone(),
            events: events.clone(),
        });
        Line {
            inner: Arc::new(Inner {
                settings,
                store,
                twilio,
                validator,
                events,
                metrics,
                background,
                speech,
            }),
        }
    }

    /// Attaches the chat bridges; only the first call has any effect.
    pub fn attach_bridges(&self, bridges: Vec<Arc<dyn ChatBridge>>) {
        self.inner.events.attach(bridges);
    }

    pub fn bridges(&self) -> &[Arc<dyn ChatBridge>] {
        self.inner.events.bridges()
    }

    /// What the speakers are given, speaking for the default line; see [`Line::speech_of`].
    pub fn speech(&self) -> &SpeechContext {
        &self.inner.speech
    }

    /// What the speakers are given, speaking for the line `call` is on.
    pub(crate) fn speech_of(&self, call: &Call) -> SpeechContext {
        self.inner.speech.on_line(call.line.as_ref())
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Every line, the default first.
    pub fn lines(&self) -> &Lines {
        &self.inner.settings.lines
    }

    /// The line `call` is on (the default line's for a call recorded before it kept one, or
    /// whose line has since been removed from the configuration).
    pub(crate) fn line_of(&self, call: &Call) -> &LineConfig {
        self.lines().get_or_default(call.line.as_ref())
    }

    /// The line of call `id`, read from the store; the default line if it cannot be read.
    pub(crate) async fn line_of_id(&self, id: &CallId) -> &LineConfig {
        match self.store().call(id).await {
            Ok(Some(call)) => self.line_of(&call),
            _ => self.lines().default_line(),
        }
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

    /// See [`crate::config::ServerSettings::url`].
    pub fn public_url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        self.inner.settings.server.url(path, query)
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

/// The line's background work (see [`crate::background`]).
impl Line {
    /// Runs `task` in the background, tracked for shutdown.
    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.inner.background.spawn(task);
    }

    /// Asks every background task to stop. Call it as soon as the process is asked to exit.
    pub fn begin_shutdown(&self) {
        self.inner.background.begin_shutdown();
    }

    /// Waits at most `within` for background tasks to finish; false if some did not.
    pub async fn finish_background(&self, within: Duration) -> bool {
        self.inner.background.finish(within).await
    }
}
