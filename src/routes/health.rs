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

/// Ready when Redis answers. Bridges report their health alongside (a chat service that cannot
/// be posted to is worth an operator's attention) but do not make denwa unready: calls still
/// reach the API and the other bridges.
pub async fn readyz(State(line): State<Line>) -> impl IntoResponse {
    let redis = line.store().ping().await;
    let bridges: serde_json::Map<String, serde_json::Value> = line
        .bridges()
        .iter()
        .map(|b| (b.name().to_owned(), json!(b.status())))
        .collect();
    let (status, redis) = match redis {
        Ok(()) => (StatusCode::OK, "ok".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let word = if status == StatusCode::OK {
        "ready"
    } else {
        "unavailable"
    };
    (
        status,
        Json(json!({ "status": word, "checks": { "redis": redis, "bridges": bridges } })),
    )
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
            "denwa_calls_blocked_total",
            "Calls from line.blocked_callers, refused unanswered",
            &m.calls_blocked,
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
    for bridge in line.bridges() {
        let status = bridge.status();
        let name = bridge.name();
        let _ = writeln!(
            body,
            "denwa_bridge_healthy{{bridge=\"{name}\"}} {}\ndenwa_bridge_unannounced_calls{{bridge=\"{name}\"}} {}",
            u8::from(status.healthy),
            status.unannounced_calls
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
