//! Every request's time by matched route and status class, and the requests turned away by
//! reason, for `/metrics`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::line::Line;
use crate::metrics::Rejection;

pub async fn record(State(line): State<Line>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let metrics = line.metrics();
    metrics.request_answered(&route, status.as_u16(), started.elapsed());
    // A handler that knows the reason says it (the API's two 429s); otherwise the status does.
    let reason = response
        .extensions()
        .get::<Rejection>()
        .copied()
        .or_else(|| rejection_of(&route, status));
    if let Some(reason) = reason {
        metrics.rejected(reason);
    }
    response
}

fn rejection_of(route: &str, status: StatusCode) -> Option<Rejection> {
    Some(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if route.starts_with("/api") => {
            Rejection::Unauthorized
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Rejection::BadSignature,
        StatusCode::PAYLOAD_TOO_LARGE => Rejection::TooLarge,
        StatusCode::TOO_MANY_REQUESTS => Rejection::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE if route != "/readyz" => Rejection::Unavailable,
        _ => return None,
    })
}
