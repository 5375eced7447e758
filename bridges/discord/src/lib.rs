//! denwa's Discord bridge: calls announced in a channel, each call a thread, `/say` spoken to the
//! caller. HTTP interactions only, no gateway: Discord POSTs every slash command, button press
//! and autocomplete to `POST /discord/interactions`, and the bridge talks back over REST. No
//! long-lived connection and no state in the process (the thread <-> call link lives in the
//! line's store through [`denwa_chat::LineControl::link_thread`]), so any number of replicas can serve
//! Discord.
//!
//! # Layout
//! - [`verify`]: the Ed25519 signature and timestamp check, done on the raw bytes before anything
//!   is parsed.
//! - [`interactions`]: the interaction types we read and the routing: PING, `/say`, `/hangup`,
//!   `/calls`, `/dial`, the Hang up and Join by phone buttons, autocomplete; Discord's 3 s
//!   deadline.
//! - [`commands`]: the command definitions and `denwa discord register`.
//! - [`announce`]: [`denwa_chat::ChatBridge`] for Discord: the call's embed and thread, join/leave/end posts,
//!   receipts as follow-ups (in the call's thread, mentioning the user, once the token expired).
//! - [`markup`]: Discord markup to plain speech.
//! - [`rest`]: the REST client (bounded retries, 429s and `X-RateLimit-*` honoured).
//!
//! # Why serenity's builders and models but not its `Http`
//! serenity 0.12.5's `Ratelimiter::perform` builds every request with no proxy, so with its rate
//! limiter on, `HttpBuilder::proxy` (our `discord.api_base`) is silently ignored and requests go
//! to discord.com; with the rate limiter off, a 429 comes back as an error whose body
//! (`retry_after`) and headers were thrown away. [`rest`] is a small client that keeps both,
//! sending serenity's builders (`CreateMessage`, `CreateThread`, `CreateCommand`, ...) as bodies.

pub mod announce;
pub mod commands;
pub mod interactions;
pub mod markup;
pub mod rest;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use denwa_chat::{ApiService, BridgeLine, Threads};
use secrecy::SecretString;

pub use commands::register_commands;
pub use rest::{Rest, RestError};
pub use verify::{InteractionVerifier, Rejected};

/// The name of this bridge, also [`denwa_chat::MessageOrigin::bridge`] for its messages.
pub const BRIDGE: &str = "discord";

/// What the bridge needs to know, from `[discord]` and `DENWA_DISCORD_*`.
#[derive(Debug, Clone)]
pub struct DiscordConfig {
    pub application_id: String,
    pub guild_id: String,
    /// The channel calls are announced in; each call's thread hangs off its announcement.
    pub channel_id: String,
    /// Each line's channel where it is not `channel_id` (`lines[].discord_channel`).
    pub line_channels: Vec<(denwa_chat::LineId, String)>,
    pub bot_token: SecretString,
    /// The application's Ed25519 public key, 64 hex digits.
    pub public_key: String,
    /// `https://discord.com` or a stand-in; the client appends `/api/v10/...`.
    pub api_base: String,
    /// Role ids allowed to use the commands; empty = anyone in the guild.
    pub allowed_roles: Vec<String>,
    /// Whether thread names and embeds may show the caller's number.
    pub show_numbers: bool,
    /// How long an interaction may take before it is answered "deferred" and edited later.
    /// Discord's deadline for the first answer is 3 s.
    pub defer_after: Duration,
}

impl DiscordConfig {
    /// The channel calls of `line` are announced in.
    pub fn channel_for(&self, line: &denwa_chat::LineId) -> String {
        denwa_chat::LineChannels::new(self.channel_id.as_str(), self.line_channels.clone())
            .for_line(line)
            .to_owned()
    }

    /// The default for [`DiscordConfig::defer_after`]: a second of margin under Discord's 3 s.
    pub const DEFER_AFTER: Duration = Duration::from_secs(2);
}

#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("discord.public_key: {0}")]
    PublicKey(String),
    #[error("{0}")]
    Rest(#[from] RestError),
}

/// The Discord bridge: a [`denwa_chat::ChatBridge`] and the `/discord/interactions` route.
pub struct DiscordBridge {
    config: DiscordConfig,
    rest: Rest,
    /// What the bridge may ask of the line, `/dial` and "Join by phone" included.
    line: Arc<dyn BridgeLine>,
    verifier: InteractionVerifier,
    /// Each call's thread, and the announcements that could not be posted.
    threads: Threads,
}

impl DiscordBridge {
    pub fn new(
        config: DiscordConfig,
        line: Arc<dyn BridgeLine>,
    ) -> Result<Arc<DiscordBridge>, DiscordError> {
        let verifier = InteractionVerifier::new(&config.public_key)
            .map_err(|e| DiscordError::PublicKey(e.to_string()))?;
        let rest = Rest::new(
            &config.api_base,
            &config.bot_token,
            line.api_meter(ApiService::Discord),
        )?;
        Ok(Arc::new(DiscordBridge {
            config,
            rest,
            threads: Threads::new(BRIDGE, line.clone()),
            line,
            verifier,
        }))
    }

    /// `POST /discord/interactions`, to merge into the application's router.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        interactions::router(self.clone())
    }

    pub fn config(&self) -> &DiscordConfig {
        &self.config
    }
}
