//! `/healthz` (the process is up), `/readyz` (it can do its work), `/metrics` (Prometheus).

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
    let body = line.metrics().render(line.bridges());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}
