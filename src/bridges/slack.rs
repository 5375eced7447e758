//! The Slack bridge, when `[slack]` is configured (see bridges/slack).

use std::sync::Arc;

use axum::Router;
use denwa_chat::ChatBridge;
use denwa_slack::{SlackBridge, SlackConfig};

use crate::config::{Settings, SlackSettings};
use crate::line::Line;

pub fn build(line: &Line) -> Option<(Arc<dyn ChatBridge>, Router)> {
    let settings = line.settings().slack.as_ref()?;
    let line = Arc::new(line.clone());
    let bridge = SlackBridge::new(config(settings), line);
    let routes = bridge.router();
    Some((bridge, routes))
}

fn config(s: &SlackSettings) -> SlackConfig {
    SlackConfig {
        channel: s.channel.clone(),
        bot_token: s.bot_token.clone(),
        signing_secret: s.signing_secret.clone(),
        previous_signing_secret: s.previous_signing_secret.clone(),
        api_base: s.api_base.clone(),
        allowed_users: s.allowed_users.clone(),
        allowed_user_groups: s.allowed_user_groups.clone(),
    }
}

/// The app manifest for `denwa slack manifest`. It needs only `server.public_url` (and the
/// line's name): the app is created before its tokens exist.
pub fn manifest(settings: &Settings) -> Result<String, String> {
    Ok(denwa_slack::manifest(
        &settings.server.public_url,
        &settings.line.name,
    ))
}
