//! The HTTP layer's errors, each knowing its status. Internals are logged, not shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use denwa_chat::LineRefused;
use serde_json::json;

use super::{API_MAX_BODY, WEBHOOK_MAX_BODY};
use crate::metrics::Rejection;
use crate::store::StoreError;

/// Errors answering Twilio's webhooks.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong `X-Twilio-Signature`: not from Twilio, or not for this account.
    #[error("invalid Twilio signature")]
    BadSignature,
    #[error("malformed webhook: {0}")]
    BadRequest(String),
    #[error("the body is over the {} KiB a webhook may carry", WEBHOOK_MAX_BODY / 1024)]
    TooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebhookError::BadSignature => StatusCode::FORBIDDEN,
            WebhookError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebhookError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::Store(e) => {
                tracing::error!(error = %e, "webhook failed on the store");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (status, self.to_string()).into_response()
    }
}

/// Errors of the `/api` routes, as JSON `{"error": code, "message": text}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// A number the line never calls (`line.dial_countries`, premium rate, shared cost).
    #[error("{0}")]
    NumberNotAllowed(String),
    #[error("the body is over the {} KiB /api accepts", API_MAX_BODY / 1024)]
    TooLarge,
    #[error("{0}")]
    Unavailable(String),
    /// Twilio refused or failed a request made on the client's behalf.
    #[error("{0}")]
    BadGateway(String),
    /// The call has `speech.max_queued` messages waiting: try again once some were spoken.
    #[error("{0}")]
    QueueFull(String),
    /// The call took `speech.max_per_minute` messages in the last minute.
    #[error("{message}")]
    RateLimited {
        message: String,
        /// Seconds until the window has room again (`Retry-After`).
        retry_after_secs: u64,
    },
}

impl ApiError {
    fn code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::NumberNotAllowed(_) => (StatusCode::FORBIDDEN, "number_not_allowed"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::BadGateway(_) => (StatusCode::BAD_GATEWAY, "twilio"),
            ApiError::QueueFull(_) => (StatusCode::TOO_MANY_REQUESTS, "queue_full"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.code();
        let mut response = (
            status,
            Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthorized => {
                headers.insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer"),
                );
            }
            ApiError::RateLimited {
                retry_after_secs, ..
            } => {
                headers.insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
            }
            ApiError::QueueFull(_) => {
                // Both limits answer 429: the metrics tell them apart by this.
                response.extensions_mut().insert(Rejection::QueueFull);
            }
            _ => {}
        }
        response
    }
}

impl From<LineRefused> for ApiError {
    fn from(refused: LineRefused) -> Self {
        let message = refused.to_string();
        match refused {
            LineRefused::NoSuchCall => ApiError::NotFound(message),
            LineRefused::CallEnded | LineRefused::InVoicemail => ApiError::Conflict(message),
            LineRefused::NothingToSay | LineRefused::TooLong { .. } => ApiError::Invalid(message),
            LineRefused::Unavailable => ApiError::Unavailable(message),
            LineRefused::BadNumber(_) | LineRefused::NotAResponder => ApiError::Invalid(message),
            LineRefused::DialFailed(_) => ApiError::BadGateway(message),
            LineRefused::NumberNotAllowed(_) => ApiError::NumberNotAllowed(message),
            LineRefused::QueueFull { .. } => ApiError::QueueFull(message),
            LineRefused::RateLimited {
                retry_after_secs, ..
            } => ApiError::RateLimited {
                message,
                retry_after_secs,
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "API request failed on the store");
        ApiError::Unavailable(LineRefused::Unavailable.to_string())
    }
}
