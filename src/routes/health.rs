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
/// The on-call schedule likewise: a stale one (its feed failing) is shown as `"schedule":
/// {"status": "stale", "reason": ...}` and the whole as `"degraded"`, still 200. Every replica
/// reads the same feed, so an unready answer would take all of them out of the load balancer at
/// once and turn every caller away, while the line still works: it rings by the last good copy
/// of the schedule, or its fallback responders. Operators alert on the body or on
/// `denwa_schedule_stale`, not on the status code.
pub async fn readyz(State(line): State<Line>) -> impl IntoResponse {
    let redis = line.store().ping().await;
    let schedule = match &line.settings().line.schedule {
        None => None,
        Some(settings) => Some(
            match line.store().schedule_status(&settings.line_id).await {
                Ok(status) => Freshness::judge(&status, settings.refresh, now_ms()),
                Err(e) => Freshness::NeverLoaded {
                    reason: format!("the store cannot say: {e}"),
                },
            },
        ),
    };
    let bridges: serde_json::Map<String, serde_json::Value> = line
        .bridges()
        .iter()
        .map(|b| (b.name().to_owned(), json!(b.status())))
        .collect();
    let (status, redis) = match redis {
        Ok(()) => (StatusCode::OK, "ok".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let degraded = schedule.as_ref().is_some_and(|s| !s.is_ok());
    let word = match (status == StatusCode::OK, degraded) {
        (false, _) => "unavailable",
        (true, true) => "degraded",
        (true, false) => "ready",
    };
    let mut checks = json!({ "redis": redis, "bridges": bridges });
    if let Some(schedule) = schedule {
        checks["schedule"] = json!(schedule);
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
