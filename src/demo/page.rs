//! The console page: HTML, CSS and vanilla JavaScript compiled into the binary (no build step,
//! nothing fetched from the internet), and `GET /demo/config`, what the page needs to start.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::DemoState;

const HTML: &str = include_str!("console.html");
const CSS: &str = include_str!("console.css");
const JS: &str = include_str!("console.js");

/// Only this server's own files and API: the page shows text from callers and chat, and must
/// never be able to run anything that text smuggles in.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; frame-ancestors 'none'";

pub fn routes() -> Router<DemoState> {
    Router::new()
        .route("/", get(page))
        .route("/demo", get(page))
        .route("/demo/console.css", get(css))
        .route("/demo/console.js", get(js))
        .route("/demo/config", get(config))
}

async fn page() -> Response {
    ([(header::CONTENT_SECURITY_POLICY, CSP)], Html(HTML)).into_response()
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
        .into_response()
}

/// The API token is handed to the page: the demo listens on 127.0.0.1 only, its token is made up
/// at start, and its "phone company" is the emulator (requests naming another host are refused,
/// so a web page elsewhere cannot rebind a name to this server to read it).
async fn config(State(state): State<DemoState>) -> Json<serde_json::Value> {
    Json(json!({
        "api_token": &*state.api_token,
        "line": &*state.line,
        "line_name": &*state.line_name,
        "lines": state.lines.iter().map(|(number, name)| json!({"number": number, "name": name})).collect::<Vec<_>>(),
        "caller": &*state.caller,
        "store": state.store,
        "time_scale": state.time_scale,
        "phones": state.phones.list(),
    }))
}
