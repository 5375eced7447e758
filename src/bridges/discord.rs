//! The Discord bridge (bridges/discord), when `[discord]` is configured.

use std::sync::Arc;

use axum::Router;
use denwa_chat::ChatBridge;
use denwa_discord::{DiscordBridge, DiscordConfig};

use crate::config::{DiscordSettings, Settings};
use crate::line::Line;

fn config(settings: &DiscordSettings) -> DiscordConfig {
    DiscordConfig {
        application_id: settings.application_id.clone(),
        guild_id: settings.guild_id.clone(),
        channel_id: settings.channel_id.clone(),
        bot_token: settings.bot_token.clone(),
        public_key: settings.public_key.clone(),
        api_base: settings.api_base.as_str().to_owned(),
        allowed_roles: settings.allowed_roles.clone(),
        show_numbers: settings.show_numbers,
        defer_after: DiscordConfig::DEFER_AFTER,
    }
}

pub fn build(line: &Line) -> Option<(Arc<dyn ChatBridge>, Router)> {
    let settings = line.settings().discord.as_ref()?;
    let line = Arc::new(line.clone());
    match DiscordBridge::new(config(settings), line) {
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
    let registered = denwa_discord::register_commands(&config(discord))
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
