//! A TwiML document as an HTTP response.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::twiml::VoiceResponse;

pub struct Twiml(pub VoiceResponse);

impl IntoResponse for Twiml {
    fn into_response(self) -> Response {
        (
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            self.0.to_xml(),
        )
            .into_response()
    }
}
