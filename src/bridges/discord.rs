//! The Discord bridge (bridges/discord), when `[discord]` is configured.

use std::sync::Arc;

use axum::Router;
use denwa_chat::ChatBridge;
use denwa_discord::DiscordBridge;

use crate::config::Settings;
use crate::line::Line;

pub fn build(line: &Line) -> Option<(Arc<dyn ChatBridge>, Router)> {
    let settings = line.settings().discord.as_ref()?;
    let line = Arc::new(line.clone());
    match DiscordBridge::new(settings.clone(), line) {
        Ok(bridge) => {
            let routes = bridge.router();
            Some((bridge as Arc<dyn ChatBridge>, routes))
        }
        Err(e) => {
            // `denwa check` already validated the key's form; a key that is not an Ed25519 point
            // lands here. Calls still work without Discord.
            tracing::error!(error = %e, "the Discord bridge is off");
            None
        }
    }
}

/// `denwa discord register`: registers the slash commands in the guild and says where to point
/// Discord's Interactions Endpoint URL.
pub async fn register_commands(settings: &Settings) -> Result<String, String> {
    let Some(discord) = &settings.discord else {
        return Err("[discord] is not configured (set discord.application_id)".into());
    };
    let registered = denwa_discord::register_commands(discord)
        .await
        .map_err(|e| format!("Discord refused the commands: {e}"))?;
    let names: Vec<String> = registered.iter().map(|c| format!("/{}", c.name)).collect();
    let mut endpoint = settings.server.public_url.clone();
    let path = endpoint.path().trim_end_matches('/').to_owned();
    endpoint.set_path(&format!("{path}/discord/interactions"));
    Ok(format!(
        "Registered {} in guild {}.\n\
         Now paste this as the Interactions Endpoint URL (Developer Portal > your application > \
         General Information) and save; Discord checks it at once:\n\
         {endpoint}",
        names.join(", "),
        discord.guild_id,
    ))
}
