//! Telling the chat bridges what happened: the line's events about calls, and the speakers'
//! receipts for messages spoken or failed. Both the line and its speakers publish, so this sits
//! below them both.

use std::sync::{Arc, OnceLock};

use denwa_chat::{ChatBridge, LineEvent};

use crate::background::Background;
use crate::domain::{CallId, MessageId};
use crate::metrics::Metrics;
use crate::store::Store;

/// The attached bridges and what publishing to them needs. Cheap to clone: clones share the
/// bridges, once attached.
#[derive(Clone)]
pub struct ChatEvents {
    /// Set once at start-up: bridges need the line (to act on it) before the line can hold them.
    bridges: Arc<OnceLock<Vec<Arc<dyn ChatBridge>>>>,
    store: Store,
    metrics: Arc<Metrics>,
    background: Background,
}

impl ChatEvents {
    pub fn new(store: Store, metrics: Arc<Metrics>, background: Background) -> Self {
        Self {
            bridges: Arc::default(),
            store,
            metrics,
            background,
        }
    }

    /// Attaches the chat bridges; only the first call has any effect.
    pub fn attach(&self, bridges: Vec<Arc<dyn ChatBridge>>) {
        if self.bridges.set(bridges).is_err() {
            tracing::warn!("chat bridges were already attached; the later set is ignored");
        }
    }

    pub fn bridges(&self) -> &[Arc<dyn ChatBridge>] {
        self.bridges.get().map(Vec::as_slice).unwrap_or_default()
    }

    /// Hands `event` to every bridge, off the caller's path: a slow or failing chat service must
    /// never delay an answer to Twilio. Failures are logged and counted.
    pub fn publish(&self, event: LineEvent) {
        for bridge in self.bridges() {
            let bridge = bridge.clone();
            let metrics = self.metrics.clone();
            let event = event.clone();
            self.background.spawn(async move {
                if let Err(e) = bridge.on_event(&event).await {
                    metrics.bridge_errors.inc();
                    tracing::warn!(bridge = bridge.name(), error = %e, "bridge failed to handle a line event");
                }
            });
        }
    }

    /// Publishes receipts for messages that were just spoken or failed.
    pub async fn publish_receipts(&self, id: &CallId, spoken: &[MessageId], failed: &[MessageId]) {
        self.metrics.messages_spoken.inc_by(spoken.len() as u64);
        self.metrics.messages_failed.inc_by(failed.len() as u64);
        if self.bridges().is_empty() || (spoken.is_empty() && failed.is_empty()) {
            return;
        }
        let ids: Vec<&str> = spoken.iter().chain(failed).map(MessageId::as_str).collect();
        let messages = match self.store.messages_by_id(id, &ids).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "could not read messages for receipts");
                return;
            }
        };
        for m in messages {
            let origin = m.origin;
            let event = if spoken.contains(&m.id) {
                LineEvent::MessageSpoken {
                    call_id: id.clone(),
                    message_id: m.id,
                    origin,
                }
            } else {
                LineEvent::MessageFailed {
                    call_id: id.clone(),
                    message_id: m.id,
                    origin,
                    reason: m.reason.unwrap_or_else(|| "it could not be spoken".into()),
                }
            };
            self.publish(event);
        }
    }
}
