//! HTTP routes: the contracts listed in README.md (Twilio webhooks, `/api`, health). Handlers are thin: they turn the request into types
//! (after the signature check) and hand it to the [`Line`].

mod api;
mod body_limit;
mod error;
mod health;
mod request_log;
mod request_metrics;
mod signed;
mod twilio_call_status;
mod twilio_caller_name;
mod twilio_conference;
mod twilio_menu;
mod twilio_outbound;
mod twilio_responder;
mod twilio_speak;
mod twilio_speaker_gate;
mod twilio_transcription;
mod twilio_voice;
mod twilio_voicemail;
mod twiml_response;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

pub use body_limit::webhook_body_limit;
use body_limit::{API_MAX_BODY, WEBHOOK_MAX_BODY};
pub use error::{ApiError, WebhookError};

use crate::line::Line;

pub fn router(line: Line) -> Router {
    let api = Router::new()
        .route("/api/calls", get(api::list_calls).post(api::dial))
        .route("/api/lines", get(api::lines))
        .route("/api/calls/{id}", get(api::get_call))
        .route("/api/calls/{id}/say", post(api::say))
        .route("/api/calls/{id}/messages", get(api::messages))
        .route("/api/calls/{id}/transcript", get(api::transcript))
        .route("/api/calls/{id}/hangup", post(api::hangup))
        .route_layer(middleware::from_fn_with_state(
            line.clone(),
            api::require_token,
        ))
        .layer(body_limit::api_body_limit())
        .layer(middleware::map_response(api::too_large_as_json));
    let webhooks = Router::new()
        .route("/twilio/voice", post(twilio_voice::voice))
        .route("/twilio/menu", post(twilio_menu::chosen))
        .route(
            "/twilio/speaker-gate",
            post(twilio_speaker_gate::speaker_gate),
        )
        .route("/twilio/speak", post(twilio_speak::speak))
        .route("/twilio/conference", post(twilio_conference::conference))
        .route("/twilio/call-status", post(twilio_call_status::call_status))
        .route("/twilio/responder", post(twilio_responder::answered))
        .route("/twilio/responder-accept", post(twilio_responder::accept))
        .route("/twilio/voicemail", post(twilio_voicemail::prompt))
        .route(
            "/twilio/voicemail-recorded",
            post(twilio_voicemail::recorded),
        )
        .route(
            "/twilio/voicemail-transcribed",
            post(twilio_voicemail::transcribed),
        )
        .route(
            "/twilio/caller-name",
            post(twilio_caller_name::caller_named),
        )
        .route("/twilio/outbound", post(twilio_outbound::outbound_answered))
        .route(
            "/twilio/transcription",
            post(twilio_transcription::transcription),
        )
        .layer(body_limit::webhook_body_limit());
    Router::new()
        .merge(webhooks)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(api)
        .with_state(line)
}

/// The whole application (`router` and the bridges' routes) wrapped in request tracing and
/// metrics, which see every route, the bridges' included.
pub fn observed(app: Router, line: &Line) -> Router {
    request_log::traced(app.layer(middleware::from_fn_with_state(
        line.clone(),
        request_metrics::record,
    )))
}
