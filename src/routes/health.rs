//! `/healthz` (the process is up), `/readyz` (it can do its work), `/metrics` (Prometheus).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::domain::now_ms;
use crate::line::Line;
use crate::schedule::Freshness;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when Redis answers. Bridges report their health alongside (a chat service that cannot
/// be posted to is worth an operator's attention) but do not make denwa unready: calls still
/// reach the API and the other bridges.
///
/// The lines' on-call schedules likewise: a stale one (its feed failing) is shown as
/// `"schedules": {"<line id>": {"status": "stale", "reason": ...}}` and the whole as
/// `"degraded"`, still 200. Every replica
/// reads the same feed, so an unready answer would take all of them out of the load balancer at
/// once and turn every caller away, while the line still works: it rings by the last good copy
/// of the schedule, or its fallback responders. Operators alert on the body or on
/// `denwa_schedule_stale`, not on the status code.
pub async fn readyz(State(line): State<Line>) -> impl IntoResponse {
    let redis = line.store().ping().await;
    // Each line with a schedule, by line id.
    let mut schedules = Vec::new();
    for config in line.lines().all() {
        let Some(settings) = &config.settings.schedule else {
            continue;
        };
        let freshness = match line.store().schedule_status(&settings.line_id).await {
            Ok(status) => Freshness::judge(&status, settings.refresh, now_ms()),
            Err(e) => Freshness::NeverLoaded {
                reason: format!("the store cannot say: {e}"),
            },
        };
        schedules.push((config.id().as_str().to_owned(), freshness));
    }
    let bridges: serde_json::Map<String, serde_json::Value> = line
        .bridges()
        .iter()
        .map(|b| (b.name().to_owned(), json!(b.status())))
        .collect();
    let (status, redis) = match redis {
        Ok(()) => (StatusCode::OK, "ok".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let degraded = schedules.iter().any(|(_, s)| !s.is_ok());
    let word = match (status == StatusCode::OK, degraded) {
        (false, _) => "unavailable",
        (true, true) => "degraded",
        (true, false) => "ready",
    };
    let mut checks = json!({ "redis": redis, "bridges": bridges });
    if !schedules.is_empty() {
        let by_line: serde_json::Map<String, serde_json::Value> = schedules
            .into_iter()
            .map(|(id, freshness)| (id, json!(freshness)))
            .collect();
        checks["schedules"] = json!(by_line);
    }
    (status, Json(json!({ "status": word, "checks": checks })))
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
