//! The Slack bridge, when `[slack]` is configured (see bridges/slack).

use std::sync::Arc;

use axum::Router;
use denwa_chat::ChatBridge;
use denwa_slack::SlackBridge;

use crate::config::Settings;
use crate::line::Line;

pub fn build(line: &Line) -> Option<(Arc<dyn ChatBridge>, Router)> {
    let settings = line.settings().slack.as_ref()?;
    let line = Arc::new(line.clone());
    let bridge = SlackBridge::new(settings.clone(), line);
    let routes = bridge.router();
    Some((bridge, routes))
}

/// The app manifest for `denwa slack manifest`. It needs only `server.public_url` (and the
/// line's name): the app is created before its tokens exist.
pub fn manifest(settings: &Settings) -> Result<String, String> {
    Ok(denwa_slack::manifest(
        &settings.server.public_url,
        &settings.line.name,
    ))
}
