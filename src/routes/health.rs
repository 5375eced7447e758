//! `/healthz` (the process is up), `/readyz` (it can do its work), `/metrics` (Prometheus).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::line::Line;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(line): State<Line>) -> impl IntoResponse {
    match line.store().ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": { "redis": "ok" } })),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "checks": { "redis": e.to_string() } })),
        ),
    }
}

pub async fn metrics(State(line): State<Line>) -> impl IntoResponse {
    let m = line.metrics();
    let counters = [
        (
            "denwa_calls_answered_total",
            "Calls answered and put in a conference",
            &m.calls_answered,
        ),
        (
            "denwa_calls_refused_total",
            "Calls turned away because the store was unreachable",
            &m.calls_refused_store_down,
        ),
        (
            "denwa_messages_queued_total",
            "Messages accepted for speaking",
            &m.messages_queued,
        ),
        (
            "denwa_messages_spoken_total",
            "Messages confirmed spoken",
            &m.messages_spoken,
        ),
        (
            "denwa_messages_failed_total",
            "Messages that will never be spoken",
            &m.messages_failed,
        ),
        (
            "denwa_speaker_legs_total",
            "Speaker call legs placed (each costs a call)",
            &m.speaker_legs,
        ),
        (
            "denwa_speaker_dial_failures_total",
            "Speaker legs Twilio would not place",
            &m.speaker_dial_failures,
        ),
        (
            "denwa_webhooks_rejected_total",
            "Webhooks rejected for a bad signature",
            &m.webhooks_rejected,
        ),
        (
            "denwa_bridge_errors_total",
            "Chat bridge failures",
            &m.bridge_errors,
        ),
    ];
    let mut body = String::new();
    for (name, help, counter) in counters {
        let _ = writeln!(
            body,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
