//! `[discord]`: read straight into the Discord bridge's own configuration.

use denwa_discord::DiscordConfig;

use super::reader::Raw;

impl Raw {
    /// `None` inside: Discord is off (no `discord.application_id`).
    pub(super) fn discord(&mut self) -> Option<Option<DiscordConfig>> {
        let Some(application_id) = self
            .string("discord", "application_id")
            .filter(|v| !v.trim().is_empty())
        else {
            if self.drain_section("discord") {
                self.problem(
                    "discord.application_id",
                    "is required to enable Discord (the application ID)",
                );
            }
            return Some(None);
        };
        if !application_id.bytes().all(|b| b.is_ascii_digit()) {
            self.problem(
                "discord.application_id",
                format!("{application_id:?} is not a Discord id (digits only)"),
            );
        }
        let guild_id = self.snowflake("discord", "guild_id", "the server (guild) ID");
        let channel_id = self.snowflake(
            "discord",
            "channel_id",
            "the channel ID calls are announced in",
        );
        let bot_token = self.secret("discord", "bot_token", "the bot's token");
        let public_key = self.required(
            "discord",
            "public_key",
            "set DENWA_DISCORD_PUBLIC_KEY (the application's public key, hex)",
        );
        if let Some(k) = &public_key
            && !(k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            self.problem(
                "discord.public_key",
                "must be 64 hex digits (General Information > Public Key)",
            );
        }
        let api_base = self
            .string("discord", "api_base")
            .or_else(|| Some("https://discord.com".into()));
        let api_base = self.url("discord", "api_base", api_base);
        let allowed_roles = self.list("discord", "allowed_roles");
        let show_numbers = self.boolean("discord", "show_numbers", false);
        Some(Some(DiscordConfig {
            application_id,
            guild_id: guild_id?,
            channel_id: channel_id?,
            line_channels: Vec::new(),
            bot_token: bot_token?,
            public_key: public_key?,
            api_base: api_base?.as_str().to_owned(),
            allowed_roles,
            show_numbers,
            defer_after: DiscordConfig::DEFER_AFTER,
        }))
    }
}
