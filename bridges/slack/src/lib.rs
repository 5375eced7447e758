//! Slack bridge for denwa: a call to the line is announced in a channel, every reply in the
//! announcement's thread is spoken to the caller, and what happens on the line comes back into
//! the thread.
//!
//! # What a user sees
//! - A call comes in: a message in `slack.channel` says who is calling (number and caller name),
//!   on which line, since when, with Hang up and Join by phone buttons ([`blocks`]). It is
//!   updated as the call is connected and when it ends; joins, leaves and the end are posted in
//!   its thread.
//! - A reply in that thread by an allowed user is cleaned of Slack markup ([`to_speech`]) and
//!   queued on the line; a ✅ reaction follows once the caller has heard it, an ❌ and a reply
//!   with the reason if it could not be spoken or was refused ([`events`], [`announce`]).
//! - `/denwa calls`, `/denwa say [call id] <text>`, `/denwa dial <number>`, `/denwa help`
//!   ([`commands`]). Join by phone rings the clicking user's phone from the line's responder
//!   directory into the call ([`interactions`]).
//!
//! # How it holds
//! - Every request to `/slack/events`, `/slack/interactions` and `/slack/commands` is verified
//!   (v0 signature, 5-minute window, the previous secret during a rotation) on its raw bytes
//!   before anything is parsed ([`verify`]); a bad one gets 401 and changes nothing.
//! - Slack wants an answer within 3 s: handlers answer at once and the work runs in a task,
//!   in arrival order per thread ([`turns`]). The user-facing acknowledgement is the reaction,
//!   which follows the message being stored on the line.
//! - Slack retries an event it thinks was lost; [`denwa_chat::LineControl::first_delivery`] (in Redis, so
//!   across replicas) makes sure a retried `event_id` is spoken once, and a command or click
//!   replayed within the signature's five minutes runs once ([`verify::delivery_id`]).
//! - The thread <-> call mapping is kept by the line ([`denwa_chat::LineControl::link_thread`]) in Redis, as
//!   `<channel>:<ts>` ([`mod@reference`]): it survives restarts and is shared by replicas.
//! - The Web API is slack-morphism's client with bounded retries ([`api`]); an announcement that
//!   cannot be posted is logged and shows in [`ChatBridge::status`] (`/readyz`, `/metrics`).
//!
//! The bridge depends only on `bridges/chat`: it never calls Twilio or Redis itself.

pub mod access;
pub mod announce;
pub mod api;
pub mod blocks;
pub mod commands;
pub mod events;
pub mod interactions;
pub mod manifest;
pub mod markup;
pub mod reference;
pub mod turns;
pub mod verify;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use denwa_chat::{ApiService, BridgeLine, ChatBridge, MentionKind, Names, Threads};
use secrecy::SecretString;
use url::Url;

pub use manifest::manifest;
pub use markup::{no_names, to_speech};

use access::Access;
use api::SlackApi;
use turns::Turns;
use verify::Verifier;

/// The bridge's name on the line, in [`denwa_chat::MessageOrigin::bridge`] and thread links.
pub const BRIDGE: &str = "slack";

/// What the bridge needs from `[slack]` (see the README's configuration table).
#[derive(Clone, Debug)]
pub struct SlackConfig {
    /// The channel ID (C... or G...) calls are announced in; replies elsewhere are ignored.
    pub channel: String,
    /// Each line's channel where it is not `channel` (`lines[].slack_channel`); replies count
    /// in any of them.
    pub line_channels: Vec<(denwa_chat::LineId, String)>,
    /// Bot User OAuth Token, `xoxb-...`.
    pub bot_token: SecretString,
    pub signing_secret: SecretString,
    /// Still accepted while the signing secret is rotated.
    pub previous_signing_secret: Option<SecretString>,
    /// The Web API's base; the client appends `/chat.postMessage` etc.
    pub api_base: Url,
    /// Slack user IDs who may speak and hang up; with `allowed_user_groups` both empty, anyone
    /// in the channel may.
    pub allowed_users: Vec<String>,
    /// User group IDs (S...) whose members may speak.
    pub allowed_user_groups: Vec<String>,
}

/// The Slack bridge: a [`ChatBridge`] for the line, and the three routes Slack calls.
pub struct SlackBridge(Arc<Bridge>);

/// The state every handler and task shares.
pub(crate) struct Bridge {
    /// Where each line's calls are announced: `channel` and the lines' own.
    channels: denwa_chat::LineChannels,
    api: SlackApi,
    verifier: Verifier,
    /// What the bridge may ask of the line, `/denwa dial` and "Join by phone" included.
    line: Arc<dyn BridgeLine>,
    access: Access,
    turns: Turns,
    /// Each call's thread, and the announcements that could not be posted.
    threads: Threads,
}

impl SlackBridge {
    pub fn new(config: SlackConfig, line: Arc<dyn BridgeLine>) -> Arc<SlackBridge> {
        Arc::new(SlackBridge(Arc::new(Bridge {
            api: SlackApi::new(
                &config.api_base,
                &config.bot_token,
                line.api_meter(ApiService::Slack),
            ),
            verifier: Verifier::new(
                &config.signing_secret,
                config.previous_signing_secret.as_ref(),
            ),
            access: Access::new(config.allowed_users, config.allowed_user_groups),
            channels: denwa_chat::LineChannels::new(config.channel, config.line_channels),
            threads: Threads::new(BRIDGE, line.clone()),
            line,
            turns: Turns::default(),
        })))
    }

    /// `POST /slack/events`, `POST /slack/interactions`, `POST /slack/commands`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/slack/events", post(events::handle))
            .route("/slack/interactions", post(interactions::handle))
            .route("/slack/commands", post(commands::handle))
            .with_state(self.0.clone())
    }
}

impl Bridge {
    /// Whether Slack signed the request (see [`verify`]); a refusal is logged.
    fn verified(&self, headers: &axum::http::HeaderMap, body: &[u8]) -> bool {
        match self.verifier.check(headers, body) {
            Ok(()) => true,
            Err(rejected) => {
                tracing::warn!(reason = %rejected, "refused a request that Slack did not sign");
                false
            }
        }
    }

    /// Whether a verified command or click is seen for the first time, across replicas: a
    /// request captured and replayed within the signature's five minutes must not act twice.
    /// Events are told apart by their `event_id` instead (Slack retries them with new
    /// signatures).
    async fn first_delivery(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(id) = verify::delivery_id(headers) else {
            return true;
        };
        match self.line.first_delivery(BRIDGE, id).await {
            Ok(first) => first,
            // Better to risk a repeat than to drop a command; the store being down shows anyway.
            Err(e) => {
                tracing::warn!(error = %e, "cannot check a request for a replay");
                true
            }
        }
    }

    /// `text` in Slack markup as the caller should hear it; user mentions become display names.
    async fn speakable(&self, text: &str) -> String {
        let mut names = Names::default();
        for id in markup::mentions(text).users {
            if let Some(name) = self.api.user_name(&id).await {
                names.insert(MentionKind::User, id, name);
            }
        }
        to_speech(text, &|kind, id| names.get(kind, id).map(str::to_owned))
    }
}

/// The answer to a request Slack did not sign.
fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, "invalid Slack signature").into_response()
}

impl ChatBridge for SlackBridge {
    fn name(&self) -> &'static str {
        BRIDGE
    }

    fn on_event<'a>(
        &'a self,
        event: &'a denwa_chat::LineEvent,
    ) -> denwa_chat::BoxFuture<'a, Result<(), denwa_chat::BridgeError>> {
        Box::pin(self.0.on_event(event))
    }

    fn status(&self) -> denwa_chat::BridgeStatus {
        self.0.threads.status()
    }
}
