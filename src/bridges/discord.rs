//! The Discord bridge, when `[discord]` is configured. (Being built: see bridges/discord.)

use std::sync::Arc;

use axum::Router;
use denwa_chat::ChatBridge;

use crate::config::Settings;
use crate::line::Line;

pub fn build(_line: &Line) -> Option<(Arc<dyn ChatBridge>, Router)> {
    None
}

pub async fn register_commands(_settings: &Settings) -> Result<String, String> {
    Err("the Discord bridge is not built yet".into())
}
