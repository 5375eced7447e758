//! Request tracing: a span per request (method, matched route, request id; the status once
//! answered), the request id taken from `X-Request-Id` or made, and given back in the
//! response, and the signature and token headers marked sensitive so no layer ever prints them.
//!
//! The span carries the route pattern (`/api/calls/{id}/say`), not the request's path: a path
//! carries call ids, and a query may carry what a client put in it.

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::{Level, Span};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers that carry a secret or a signature over one.
const SENSITIVE: [HeaderName; 4] = [
    header::AUTHORIZATION,
    HeaderName::from_static("x-twilio-signature"),
    HeaderName::from_static("x-slack-signature"),
    HeaderName::from_static("x-signature-ed25519"),
];

/// The longest request id taken from a client; a longer one, or one with other characters than
/// letters, digits, `-`, `_`, `.`, is replaced by a new one (it goes into every log line).
const MAX_REQUEST_ID: usize = 64;

/// Wraps every route of `router` (bridges' included) in the request tracing layers.
pub fn traced(router: Router) -> Router {
    // The layer added last sees the request first: an unfit id is dropped, an id is made where
    // none is left, the secret headers are marked, the span opens, and on the way out the id is
    // copied into the response.
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(span_for)
                // The handler logs a failure's cause once, where it knows it; a second line per
                // 5xx (a `/readyz` probe while Redis is down) would only repeat it.
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG))
                .on_response(|response: &Response, latency: Duration, span: &Span| {
                    span.record("status", response.status().as_u16());
                    tracing::debug!(target: "denwa::access", status = response.status().as_u16(), ?latency, "answered");
                }),
        )
        .layer(SetSensitiveRequestHeadersLayer::new(SENSITIVE))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::map_request(drop_unfit_request_id))
}

fn span_for(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    // At the highest level, so that no filter drops the span while keeping a line logged in it:
    // with `DENWA_LOG=warn` a warning still carries its request id.
    tracing::error_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %id,
        status = tracing::field::Empty,
    )
}

async fn drop_unfit_request_id(mut request: Request) -> Request {
    if request
        .headers()
        .get(&REQUEST_ID)
        .is_some_and(|id| !fit(id))
    {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

fn fit(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_taken() {
        assert!(fit(&HeaderValue::from_static("abc-123_x.y")));
        assert!(!fit(&HeaderValue::from_static("")));
        assert!(!fit(&HeaderValue::from_static("a b")));
        assert!(!fit(&HeaderValue::from_str(&"a".repeat(65)).unwrap()));
    }
}
