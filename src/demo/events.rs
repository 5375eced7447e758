//! `GET /demo/events`: one live stream (Server-Sent Events) of everything the console shows that
//! the public `/api` cannot: the console bridge's chat items and the emulator's events (what each
//! phone hears, word by word; call statuses; every webhook with the TwiML it returned).
//!
//! Every entry is JSON with a sequence number, `{"seq": 7, "source": "chat" | "emulator", ...}`,
//! sent as the SSE event id. The feed keeps a bounded history, so a console opened (or reloaded)
//! mid-call catches up, and a reconnecting `EventSource` (which sends `Last-Event-ID`) gets only
//! what it missed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use denwa_twilio_emulator::{CallEventKind, Emulator, EmulatorEvent};
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::DemoState;

/// Entries kept for consoles that connect late. A call's words are one entry each, so this is a
/// few long calls' worth.
const HISTORY: usize = 20_000;

/// The console's feed: a history plus a live broadcast of the same entries.
pub struct Feed {
    history: Mutex<History>,
    tx: broadcast::Sender<Arc<Entry>>,
}

#[derive(Default)]
struct History {
    next_seq: u64,
    entries: VecDeque<Arc<Entry>>,
}

pub struct Entry {
    seq: u64,
    json: String,
}

impl Feed {
    pub fn new() -> Arc<Feed> {
        let (tx, _) = broadcast::channel(4096);
        Arc::new(Feed {
            history: Mutex::new(History::default()),
            tx,
        })
    }

    /// Adds `entry` (a JSON object) with the next sequence number.
    pub fn publish(&self, mut entry: Value) {
        let mut history = self.history.lock().unwrap();
        history.next_seq += 1;
        let seq = history.next_seq;
        entry["seq"] = json!(seq);
        let entry = Arc::new(Entry {
            seq,
            json: entry.to_string(),
        });
        if history.entries.len() == HISTORY {
            history.entries.pop_front();
        }
        history.entries.push_back(entry.clone());
        // Sent under the lock, so the history and the broadcast agree on the order.
        let _ = self.tx.send(entry);
    }

    /// What happened after `after`, and the live feed from there on: taken under one lock, so
    /// nothing is missed and nothing comes twice.
    fn subscribe(&self, after: u64) -> (Vec<Arc<Entry>>, broadcast::Receiver<Arc<Entry>>) {
        let history = self.history.lock().unwrap();
        let past = history
            .entries
            .iter()
            .filter(|e| e.seq > after)
            .cloned()
            .collect();
        (past, self.tx.subscribe())
    }
}

/// Copies the emulator's live events into the feed, for as long as the emulator runs. Status
/// changes carry the call's snapshot (who is at the far end), so the console can tell the
/// caller's leg from a responder's or a speaker leg.
pub fn pump(emulator: Emulator, feed: Arc<Feed>) {
    let mut rx = emulator.subscribe();
    tokio::spawn(async move {
        loop {
            let event = match rx.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the demo console missed emulator events");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let call = match &event {
                EmulatorEvent::Call { call_sid, event } => match event.kind {
                    CallEventKind::Status { .. } => emulator.call(call_sid),
                    _ => None,
                },
                _ => None,
            };
            feed.publish(json!({ "source": "emulator", "event": event, "call": call }));
        }
    });
}

pub fn routes() -> Router<DemoState> {
    Router::new().route("/demo/events", get(events))
}

async fn events(
    State(state): State<DemoState>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (past, rx) = state.feed.subscribe(after);
    let past = futures::stream::iter(past.into_iter().map(|e| Ok(event(&e))));
    let live = futures::stream::unfold(rx, |mut rx| async move {
        // A reader too slow for the broadcast (Lagged) sees its stream end; the browser
        // reconnects with Last-Event-ID and the history fills the gap.
        let entry = rx.recv().await.ok()?;
        Some((Ok(event(&entry)), rx))
    });
    Sse::new(futures::StreamExt::chain(past, live)).keep_alive(KeepAlive::default())
}

fn event(entry: &Entry) -> Event {
    Event::default()
        .id(entry.seq.to_string())
        .data(entry.json.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_subscribers_get_the_history_after_their_last_id() {
        let feed = Feed::new();
        for n in 0..3 {
            feed.publish(json!({ "n": n }));
        }
        let (past, mut rx) = feed.subscribe(1);
        let seqs: Vec<u64> = past.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3]);
        assert!(past[0].json.contains("\"n\":1"), "{}", past[0].json);
        feed.publish(json!({ "n": 3 }));
        assert_eq!(rx.try_recv().unwrap().seq, 4);
    }
}
