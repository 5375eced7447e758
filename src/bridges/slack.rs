//! The Slack bridge, when `[slack]` is configured. (Being built: see bridges/slack.)

use std::sync::Arc;

use axum::Router;
use denwa_chat::ChatBridge;

use crate::config::Settings;
use crate::line::Line;

pub fn build(_line: &Line) -> Option<(Arc<dyn ChatBridge>, Router)> {
    None
}

pub fn manifest(_settings: &Settings) -> Result<String, String> {
    Err("the Slack bridge is not built yet".into())
}
