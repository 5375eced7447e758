//! Errors: what the emulator reports about the application under test ([`EmulatorError`]) and what
//! its REST API answers to bad requests ([`ApiError`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A strictness violation or failure Twilio would have logged in its debugger: a webhook that did
/// not answer properly, TwiML that did not parse, a `<Say>` over the length limits, a REST request
/// that was refused. Tests assert [`Emulator::errors`](crate::Emulator::errors) is empty.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("Twilio error {code}: {message}")]
pub struct EmulatorError {
    /// The Twilio error code (<https://www.twilio.com/docs/errors/{code}>).
    pub code: u32,
    pub message: String,
    /// The call it happened on, if any.
    pub call_sid: Option<String>,
    /// The URL involved (webhook or callback), if any.
    pub url: Option<String>,
}

impl EmulatorError {
    pub(crate) fn new(code: u32, message: impl Into<String>) -> Self {
        EmulatorError {
            code,
            message: message.into(),
            call_sid: None,
            url: None,
        }
    }

    pub(crate) fn on_call(mut self, sid: &str) -> Self {
        self.call_sid = Some(sid.to_string());
        self
    }

    pub(crate) fn at_url(mut self, url: &str) -> Self {
        self.url = Some(url.to_string());
        self
    }
}

/// A REST API error in Twilio's JSON shape:
/// `{"code":N,"message":"..","more_info":"https://www.twilio.com/docs/errors/N","status":400}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn bad_request(code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn not_found(path: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: 20404,
            message: format!("The requested resource {path} was not found"),
            retry_after: None,
        }
    }

    /// 500, error 20500: "The Twilio API encountered an error when processing your request"
    /// (<https://www.twilio.com/docs/api/errors/20500>).
    pub(crate) fn internal() -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: 20500,
            message: "Internal Server Error".into(),
            retry_after: None,
        }
    }

    /// 503, error 20503: "The requested Twilio Service is temporarily unavailable"
    /// (<https://www.twilio.com/docs/api/errors/20503>).
    pub(crate) fn unavailable() -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: 20503,
            message: "Service unavailable".into(),
            retry_after: None,
        }
    }

    /// 429, error 20429: too many concurrent requests; never processed
    /// (<https://www.twilio.com/docs/api/errors/20429>).
    pub(crate) fn too_many_requests(retry_after: Option<u64>) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: 20429,
            message: "Too Many Requests".into(),
            retry_after,
        }
    }

    pub(crate) fn unauthorized() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: 20003,
            message: "Authenticate".into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        resp
    }
}
