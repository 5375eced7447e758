//! `[slack]`: read straight into the Slack bridge's own configuration.

use denwa_slack::SlackConfig;
use secrecy::SecretString;

use super::reader::Raw;

impl Raw {
    /// `None` inside: Slack is off (no `slack.channel`).
    pub(super) fn slack(&mut self) -> Option<Option<SlackConfig>> {
        let Some(channel) = self
            .string("slack", "channel")
            .filter(|c| !c.trim().is_empty())
        else {
            // The other keys make no sense without a channel; say so rather than ignore them.
            if self.drain_section("slack") {
                self.problem(
                    "slack.channel",
                    "is required to enable Slack (the channel ID, C...)",
                );
            }
            return Some(None);
        };
        if !channel.starts_with(['C', 'G']) {
            self.problem(
                "slack.channel",
                format!("{channel:?} is not a channel ID (C... or G...; not the #name)"),
            );
        }
        let bot_token = self.secret(
            "slack",
            "bot_token",
            "the app's Bot User OAuth Token, xoxb-...",
        );
        let signing_secret = self.secret("slack", "signing_secret", "the app's Signing Secret");
        let previous_signing_secret = self
            .string("slack", "previous_signing_secret")
            .filter(|v| !v.is_empty())
            .map(SecretString::from);
        let api_base = self
            .string("slack", "api_base")
            .or_else(|| Some("https://slack.com/api".into()));
        let api_base = self.url("slack", "api_base", api_base);
        let allowed_users = self.list("slack", "allowed_users");
        let allowed_user_groups = self.list("slack", "allowed_user_groups");
        Some(Some(SlackConfig {
            channel,
            // Filled in once the lines are read (`Raw::settings`).
            line_channels: Vec::new(),
            bot_token: bot_token?,
            signing_secret: signing_secret?,
            previous_signing_secret,
            api_base: api_base?,
            allowed_users,
            allowed_user_groups,
        }))
    }
}
