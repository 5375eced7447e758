//! `Signed<F, Q>`: a Twilio webhook whose signature has been checked on the raw bytes, then
//! parsed. Nothing about the request is trusted, or even parsed, before the check.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::WebhookError;
use crate::line::Line;

/// Query parameters for webhooks that take none.
#[derive(Debug, serde::Deserialize)]
pub struct NoQuery {}

pub struct Signed<F, Q = NoQuery> {
    pub form: F,
    pub query: Q,
}

impl<F, Q> FromRequest<Line> for Signed<F, Q>
where
    F: DeserializeOwned,
    Q: DeserializeOwned,
{
    type Rejection = WebhookError;

    async fn from_request(req: Request, line: &Line) -> Result<Self, Self::Rejection> {
        let signature = req
            .headers()
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_owned();
        let body = Bytes::from_request(req, line).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                WebhookError::TooLarge
            } else {
                WebhookError::BadRequest(format!("unreadable body: {e}"))
            }
        })?;
        // Twilio signs the URL it requested: ours as configured, not the listener's address.
        let url = line.signed_url(&path_and_query);
        if !line.validator().validate_form(&url, &body, &signature) {
            line.metrics().webhooks_rejected.inc();
            tracing::warn!(path = %path_and_query.split('?').next().unwrap_or_default(), "rejected a webhook with a bad or missing signature");
            return Err(WebhookError::BadSignature);
        }
        let form = serde_urlencoded::from_bytes(&body)
            .map_err(|e| WebhookError::BadRequest(format!("form parameters: {e}")))?;
        let query_text = path_and_query
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default();
        let query = serde_urlencoded::from_str(query_text)
            .map_err(|e| WebhookError::BadRequest(format!("query parameters: {e}")))?;
        Ok(Signed { form, query })
    }
}
