//! Wiring the chat bridges in: each configured bridge is built with the line (to act on it),
//! registered with the line (to hear its events), and contributes its HTTP routes.

mod discord;
mod slack;

use std::sync::Arc;

use axum::Router;
use denwa_chat::ChatBridge;

use crate::line::Line;

pub use discord::register_commands as discord_register;
pub use slack::manifest as slack_manifest;

/// A bridge built for a line, and its HTTP routes.
pub type Built = (Arc<dyn ChatBridge>, Router);

/// Builds the configured bridges, plus `extra` ones not configured in `Settings` (the demo's
/// console), attaches them all to `line` and returns their routes.
pub fn attach(line: &Line, extra: Vec<Built>) -> Router {
    let mut bridges: Vec<Arc<dyn ChatBridge>> = Vec::new();
    let mut routes = Router::new();
    for built in [slack::build(line), discord::build(line)]
        .into_iter()
        .flatten()
        .chain(extra)
    {
        bridges.push(built.0);
        routes = routes.merge(built.1);
    }
    line.attach_bridges(bridges);
    routes
}
