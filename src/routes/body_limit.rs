//! How large a request body may be. tower-http's [`RequestBodyLimitLayer`] refuses a body whose
//! `Content-Length` is over the limit with 413 before reading any of it, and stops reading a
//! chunked one at the limit (the extractor then answers 413). Nothing is buffered beyond it, and
//! the limit applies before any signature check: a stranger cannot make denwa hold megabytes.

use tower_http::limit::RequestBodyLimitLayer;

/// Twilio's, Slack's and Discord's webhooks: form posts and JSON events of a few KiB.
pub const WEBHOOK_MAX_BODY: usize = 64 * 1024;

/// `/api`: a message of `speech.max_message_chars` (10,000 by default) as JSON, even written as
/// `\u` escapes, fits with room to spare.
pub const API_MAX_BODY: usize = 256 * 1024;

/// The limit for webhooks (`/twilio/*`, `/slack/*`, `/discord/*`).
pub fn webhook_body_limit() -> RequestBodyLimitLayer {
    RequestBodyLimitLayer::new(WEBHOOK_MAX_BODY)
}

/// The limit for `/api`.
pub fn api_body_limit() -> RequestBodyLimitLayer {
    RequestBodyLimitLayer::new(API_MAX_BODY)
}
