//! `POST /discord/interactions`: every slash command (`/say`, `/hangup`, `/calls`, `/dial`),
//! button press (Hang up, Join by phone) and autocomplete.
//!
//! The signature is checked on the raw body before anything is parsed; then the interaction is
//! read into the few fields denwa uses. (Our own types rather than serenity's `Interaction`:
//! serenity's model requires every field Discord documents and fails on any it does not know
//! yet, and a bridge that refuses a command because Discord added a field is worse than one
//! that reads only what it needs.)
//!
//! Discord wants a first answer within 3 s. Commands run in their own task; if one is not done
//! after [`crate::DiscordConfig::defer_after`], the answer is "deferred" (type 5, ephemeral) and
//! the original response is edited when the task ends. Nothing is said to the user before the
//! line has stored the message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use denwa_chat::{
    CallId, CallSummary, LineRefused, MentionKind, Mentions, Names, format_number, words,
};
use serde::Deserialize;
use serde_json::Value;
use serenity::all::{
    AutocompleteChoice, CreateAutocompleteResponse, CreateInteractionResponse,
    CreateInteractionResponseMessage, EditInteractionResponse,
};

use crate::announce::{CONTENT_CHARS, SayReference, caller_label, fit_content, no_pings, plain};
use crate::commands::{
    CALLS, DIAL, HANGUP, HANGUP_BUTTON, JOIN_BUTTON, OPT_CALL, OPT_NUMBER, OPT_TEXT, SAY,
};
use crate::markup;
use crate::{BRIDGE, DiscordBridge};

/// How long the names of mentioned users, roles and channels may take to look up before the
/// generic words are used: the 3 s deadline matters more than a name.
const NAME_LOOKUP: Duration = Duration::from_millis(800);
/// Room kept in `/calls` for a last line "… and N more".
const MORE_ROOM: usize = 24;
/// The longest text echoed back in "Queued: ...".
const ECHO_CHARS: usize = 1800;

pub fn router(bridge: Arc<DiscordBridge>) -> Router {
    Router::new()
        .route("/discord/interactions", post(interactions))
        .with_state(bridge)
}

/// An interaction, as far as denwa reads it.
#[derive(Debug, Deserialize)]
pub struct Interaction {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub token: String,
    pub data: Option<InteractionData>,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    /// Present in a guild.
    pub member: Option<Member>,
}

#[derive(Debug, Deserialize)]
pub struct InteractionData {
    /// The command's name (commands and autocomplete).
    pub name: Option<String>,
    #[serde(default)]
    pub options: Vec<CommandOption>,
    /// The component's id (buttons).
    pub custom_id: Option<String>,
    pub resolved: Option<Resolved>,
}

#[derive(Debug, Deserialize)]
pub struct CommandOption {
    pub name: String,
    pub value: Option<Value>,
    #[serde(default)]
    pub focused: bool,
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub user: Option<User>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub nick: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub global_name: Option<String>,
}

/// Users and members Discord resolved for the interaction.
#[derive(Debug, Default, Deserialize)]
pub struct Resolved {
    #[serde(default)]
    pub users: HashMap<String, User>,
    #[serde(default)]
    pub members: HashMap<String, ResolvedMember>,
}

#[derive(Debug, Deserialize)]
pub struct ResolvedMember {
    pub nick: Option<String>,
}

impl Interaction {
    fn option(&self, name: &str) -> Option<&CommandOption> {
        self.data.as_ref()?.options.iter().find(|o| o.name == name)
    }

    fn string_option(&self, name: &str) -> Option<String> {
        self.option(name)?
            .value
            .as_ref()?
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }
}

/// The name Discord shows for a member: server nickname, then display name, then username.
fn display_name(nick: Option<&str>, user: &User) -> String {
    nick.or(user.global_name.as_deref())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(&user.username)
        .to_owned()
}

/// A reply to the person who used a command: shown only to them.
struct Reply(String);

impl Reply {
    fn new(text: impl Into<String>) -> Self {
        Reply(text.into())
    }

    fn refused(refused: &LineRefused) -> Self {
        Reply(words::sentence(&refused.to_string()))
    }
}

fn ephemeral(text: impl Into<String>) -> Response {
    let message = CreateInteractionResponseMessage::new()
        .content(fit_content(text.into()))
        .ephemeral(true)
        .allowed_mentions(no_pings());
    axum::Json(CreateInteractionResponse::Message(message)).into_response()
}

async fn interactions(
    State(bridge): State<Arc<DiscordBridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = bridge.verifier.check(&headers, &body, SystemTime::now()) {
        tracing::warn!(reason = %e, "refused a Discord interaction");
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let interaction: Interaction = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "a signed Discord interaction we cannot read");
            return (StatusCode::BAD_REQUEST, "unreadable interaction").into_response();
        }
    };
    match interaction.kind {
        // PING: Discord checking the endpoint.
        1 => axum::Json(serde_json::json!({ "type": 1 })).into_response(),
        2 | 3 => bridge.clone().act(interaction).await,
        4 => bridge.autocomplete(&interaction).await,
        kind => {
            tracing::debug!(kind, "an interaction type denwa does not use");
            ephemeral("denwa does not handle that.")
        }
    }
}

impl DiscordBridge {
    /// Whether the member may use denwa: in the configured guild, and holding an allowed role
    /// when `allowed_roles` is set.
    fn allowed(&self, interaction: &Interaction) -> bool {
        if interaction.guild_id.as_deref() != Some(self.config.guild_id.as_str()) {
            return false;
        }
        let Some(member) = &interaction.member else {
            return false;
        };
        self.config.allowed_roles.is_empty()
            || member
                .roles
                .iter()
                .any(|r| self.config.allowed_roles.contains(r))
    }

    /// A command or a button: answered at once if it is quick, deferred otherwise.
    async fn act(self: Arc<Self>, interaction: Interaction) -> Response {
        if !self.allowed(&interaction) {
            tracing::info!(
                user = interaction
                    .member
                    .as_ref()
                    .and_then(|m| m.user.as_ref())
                    .map(|u| u.id.as_str()),
                "refused a Discord interaction from a member without an allowed role"
            );
            return ephemeral("Sorry, you are not allowed to use denwa here.");
        }
        let token = interaction.token.clone();
        let bridge = self.clone();
        let mut work = tokio::spawn(async move { bridge.run(&interaction).await });
        match tokio::time::timeout(self.config.defer_after, &mut work).await {
            Ok(Ok(Reply(text))) => ephemeral(text),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "a Discord command failed");
                ephemeral("Something went wrong; please try again.")
            }
            Err(_) => {
                let bridge = self.clone();
                tokio::spawn(async move {
                    let text = match work.await {
                        Ok(Reply(text)) => text,
                        Err(_) => "Something went wrong; please try again.".into(),
                    };
                    bridge.edit_original(&token, text).await;
                });
                let defer = CreateInteractionResponseMessage::new().ephemeral(true);
                axum::Json(CreateInteractionResponse::Defer(defer)).into_response()
            }
        }
    }

    /// Replaces a deferred answer with the real one.
    async fn edit_original(&self, token: &str, text: String) {
        let edit = EditInteractionResponse::new()
            .content(fit_content(text))
            .allowed_mentions(no_pings());
        let path = format!(
            "/webhooks/{}/{token}/messages/@original",
            self.config.application_id
        );
        if let Err(e) = self.rest.patch::<serde::de::IgnoredAny>(&path, &edit).await {
            tracing::warn!(error = %e, "could not edit a deferred Discord answer");
        }
    }

    async fn run(&self, interaction: &Interaction) -> Reply {
        // Discord does not resend interactions, but a captured one could be replayed within
        // the signature's five minutes: run each once. The thread's call, which the check does
        // not change, is asked for at the same time: one round trip to the store, not two.
        let (first, in_thread) = tokio::join!(
            self.line.first_delivery(BRIDGE, &interaction.id),
            self.call_of_thread(interaction)
        );
        match first {
            Ok(false) => return Reply::new("That was already done."),
            Ok(true) => {}
            Err(e) => tracing::warn!(error = %e, "cannot check an interaction for a replay"),
        }
        let data = interaction.data.as_ref();
        if interaction.kind == 3 {
            let custom_id = data.and_then(|d| d.custom_id.as_deref()).unwrap_or("");
            // Our buttons carry the call id after their prefix (see `announce::call_embed`).
            let button = |prefix: &str| custom_id.strip_prefix(prefix).map(CallId::parse);
            return match (button(HANGUP_BUTTON), button(JOIN_BUTTON)) {
                (Some(Some(call)), _) => self.hang_up(&call).await,
                (_, Some(Some(call))) => self.join_by_phone(interaction, &call).await,
                (Some(None), _) | (_, Some(None)) => Reply::refused(&LineRefused::NoSuchCall),
                (None, None) => Reply::new("denwa does not know that button."),
            };
        }
        match data.and_then(|d| d.name.as_deref()) {
            Some(SAY) => self.say(interaction, in_thread).await,
            Some(HANGUP) => match self.target_call(interaction, in_thread).await {
                Ok(call_id) => self.hang_up(&call_id).await,
                Err(reply) => reply,
            },
            Some(CALLS) => self.list_calls().await,
            Some(DIAL) => self.dial(interaction).await,
            _ => Reply::new("denwa does not know that command."),
        }
    }

    /// The call of the thread a command that acts on a call was used in, when its `call` option
    /// does not name one; `Ok(None)` without asking the store for anything else.
    async fn call_of_thread(
        &self,
        interaction: &Interaction,
    ) -> Result<Option<CallId>, LineRefused> {
        // An application command (type 2) of those that act on a call.
        let acts_on_a_call = interaction.kind == 2
            && matches!(
                interaction.data.as_ref().and_then(|d| d.name.as_deref()),
                Some(SAY | HANGUP)
            );
        match &interaction.channel_id {
            Some(channel) if acts_on_a_call && interaction.string_option(OPT_CALL).is_none() => {
                self.line.call_of_thread(BRIDGE, channel).await
            }
            _ => Ok(None),
        }
    }

    /// The call a command is about: its `call` option, else the thread it was used in
    /// (`in_thread`, from [`Self::call_of_thread`]), else the only active call.
    async fn target_call(
        &self,
        interaction: &Interaction,
        in_thread: Result<Option<CallId>, LineRefused>,
    ) -> Result<CallId, Reply> {
        if let Some(call) = interaction.string_option(OPT_CALL) {
            return CallId::parse(&call).ok_or_else(|| Reply::refused(&LineRefused::NoSuchCall));
        }
        if let Some(call) = in_thread.map_err(|e| Reply::refused(&e))? {
            return Ok(call);
        }
        let calls = self
            .line
            .active_calls()
            .await
            .map_err(|e| Reply::refused(&e))?;
        match calls.as_slice() {
            [] => Err(Reply::new("There is no active call.")),
            [only] => Ok(only.id.clone()),
            _ => Err(Reply::new(
                "Several calls are active: use this in the call's thread, or pick one with the `call` option.",
            )),
        }
    }

    async fn say(
        &self,
        interaction: &Interaction,
        in_thread: Result<Option<CallId>, LineRefused>,
    ) -> Reply {
        let Some(text) = interaction.string_option(OPT_TEXT) else {
            return Reply::new("There is nothing to say: `/say text:` needs some words.");
        };
        let call_id = match self.target_call(interaction, in_thread).await {
            Ok(c) => c,
            Err(reply) => return reply,
        };
        let names = self.names(interaction, &markup::mentions(&text)).await;
        let spoken = markup::to_speech(&text, &names, chrono::Utc::now());
        if spoken.is_empty() {
            return Reply::new(
                "There is nothing the caller could hear in that message (only emoji, links or formatting). Nothing was queued.",
            );
        }
        // The user and the time too, not just the token: the receipt may come after the token's
        // 15 minutes, and then goes to the call's thread mentioning the user.
        let user = interaction
            .member
            .as_ref()
            .and_then(|m| m.user.as_ref())
            .map(|u| u.id.as_str());
        let origin = SayReference::new(user, &interaction.token).origin();
        match self.line.say(&call_id, &spoken, origin).await {
            Ok(_) => {
                let mut echo: String = spoken.chars().take(ECHO_CHARS).collect();
                if echo.len() < spoken.len() {
                    echo.push('…');
                }
                Reply::new(format!("Queued: {echo}"))
            }
            Err(refused) => Reply::refused(&refused),
        }
    }

    async fn hang_up(&self, call_id: &CallId) -> Reply {
        match self.line.hang_up(call_id).await {
            Ok(()) => Reply::new("Hung up: the call has ended."),
            Err(refused) => Reply::refused(&refused),
        }
    }

    /// `/dial number:`: the line calls the number; the call is announced like any other.
    async fn dial(&self, interaction: &Interaction) -> Reply {
        let Some(number) = interaction.string_option(OPT_NUMBER) else {
            return Reply::new(
                "Whom should denwa call? `/dial number:` needs a number (+14155550123).",
            );
        };
        match self.line.dial(&number).await {
            Ok(call) => Reply::new(format!(
                "Calling {}… The call (`{}`) gets its thread in <#{}>.",
                format_number(&call.from),
                call.id,
                self.config.channel_for(&call.line_id)
            )),
            Err(refused) => Reply::refused(&refused),
        }
    }

    /// The Join by phone button: rings the member's phone from the responder directory into the
    /// call; they press 1 to join.
    async fn join_by_phone(&self, interaction: &Interaction, call_id: &CallId) -> Reply {
        let Some(user) = interaction.member.as_ref().and_then(|m| m.user.as_ref()) else {
            return Reply::refused(&LineRefused::NotAResponder);
        };
        if self.line.responder_name(BRIDGE, &user.id).is_none() {
            tracing::info!(user = %user.id, "Join by phone from a member not in the responder directory");
            return Reply::refused(&LineRefused::NotAResponder);
        }
        match self.line.join_by_phone(call_id, BRIDGE, &user.id).await {
            Ok(name) => Reply::new(format!(
                "Calling your phone, {}: press 1 to join.",
                plain(&name)
            )),
            Err(refused) => Reply::refused(&refused),
        }
    }

    async fn list_calls(&self) -> Reply {
        let calls = match self.line.active_calls().await {
            Ok(c) => c,
            Err(e) => return Reply::refused(&e),
        };
        if calls.is_empty() {
            return Reply::new("No active calls.");
        }
        let mut lines = vec![format!("Active calls ({}):", calls.len())];
        let mut used = lines[0].chars().count();
        for (i, call) in calls.iter().enumerate() {
            let thread = match self.threads.now(&call.id).await {
                Some(t) => format!(" in <#{t}>"),
                None => String::new(),
            };
            let line = format!(
                "• {} · {} · {} since <t:{}:R>{thread} (`{}`)",
                caller_label(call, self.config.show_numbers),
                call.line_label(),
                call.state,
                call.started_at / 1000,
                call.id
            );
            // Whole lines only, within Discord's 2000 characters (a longer answer is refused
            // and the user sees nothing), keeping room to say how many did not fit.
            let after = used + 1 + line.chars().count();
            let reserve = if i + 1 == calls.len() { 0 } else { MORE_ROOM };
            if after + reserve > CONTENT_CHARS {
                lines.push(format!("… and {} more", calls.len() - i));
                break;
            }
            used = after;
            lines.push(line);
        }
        Reply::new(lines.join("\n"))
    }

    /// Names for the mentions in a `/say`, each looked up once, all within [`NAME_LOOKUP`].
    async fn names(&self, interaction: &Interaction, mentions: &Mentions) -> Names {
        let mut names = Names::default();
        if mentions.is_empty() {
            return names;
        }
        let resolved = interaction.data.as_ref().and_then(|d| d.resolved.as_ref());
        let me = interaction.member.as_ref();
        let mut lookups = Vec::new();
        for id in &mentions.users {
            if let Some(user) = resolved.and_then(|r| r.users.get(id)) {
                let nick = resolved
                    .and_then(|r| r.members.get(id))
                    .and_then(|m| m.nick.as_deref());
                names.insert(MentionKind::User, id, display_name(nick, user));
            } else if let Some(m) = me
                && let Some(user) = m.user.as_ref().filter(|u| &u.id == id)
            {
                names.insert(MentionKind::User, id, display_name(m.nick.as_deref(), user));
            } else {
                lookups.push(id.clone());
            }
        }
        let guild = &self.config.guild_id;
        let users = futures::future::join_all(lookups.into_iter().map(|id| async move {
            let member: Result<MemberObject, _> = self
                .rest
                .get(&format!("/guilds/{guild}/members/{id}"))
                .await;
            (
                id,
                member
                    .ok()
                    .map(|m| display_name(m.nick.as_deref(), &m.user)),
            )
        }));
        let roles = async {
            if mentions.groups.is_empty() {
                return Vec::new();
            }
            self.rest
                .get::<Vec<Named>>(&format!("/guilds/{guild}/roles"))
                .await
                .unwrap_or_default()
        };
        let channels = futures::future::join_all(mentions.channels.iter().map(|id| async move {
            let channel: Result<Named, _> = self.rest.get(&format!("/channels/{id}")).await;
            (id.clone(), channel.ok().map(|c| c.name))
        }));
        let looked_up =
            tokio::time::timeout(NAME_LOOKUP, async { tokio::join!(users, roles, channels) }).await;
        if let Ok((users, roles, channels)) = looked_up {
            for (id, name) in users {
                if let Some(name) = name {
                    names.insert(MentionKind::User, id, name);
                }
            }
            for role in roles {
                if mentions.groups.contains(&role.id) {
                    names.insert(MentionKind::Group, role.id, role.name);
                }
            }
            for (id, name) in channels {
                if let Some(name) = name {
                    names.insert(MentionKind::Channel, id, name);
                }
            }
        } else {
            tracing::debug!("Discord name look-ups took too long; using generic words");
        }
        names
    }

    /// Choices for the `call` option: the active calls matching what was typed.
    async fn autocomplete(&self, interaction: &Interaction) -> Response {
        let mut response = CreateAutocompleteResponse::new();
        if self.allowed(interaction) {
            let typed = interaction
                .data
                .as_ref()
                .and_then(|d| d.options.iter().find(|o| o.focused))
                .and_then(|o| o.value.as_ref())
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_lowercase();
            // Autocomplete has the same 3 s deadline and no deferred form: no choices beat none
            // at all.
            let calls = tokio::time::timeout(self.config.defer_after, self.line.active_calls())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let choices: Vec<AutocompleteChoice> = calls
                .iter()
                .map(|c| (self.choice_label(c), c))
                .filter(|(label, c)| {
                    typed.is_empty()
                        || label.to_lowercase().contains(&typed)
                        || c.id.as_str().contains(&typed)
                })
                .take(25)
                .map(|(label, c)| AutocompleteChoice::new(label, c.id.as_str()))
                .collect();
            response = response.set_choices(choices);
        }
        axum::Json(CreateInteractionResponse::Autocomplete(response)).into_response()
    }

    fn choice_label(&self, call: &CallSummary) -> String {
        let when = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(call.started_at as i64)
            .map(|t| t.format("%H:%M UTC").to_string())
            .unwrap_or_default();
        let label = format!(
            "{} · {} · since {when}",
            caller_label(call, self.config.show_numbers),
            call.state
        );
        // Discord's limit for a choice's name.
        label.chars().take(100).collect()
    }
}

/// A guild member, as `GET /guilds/{guild}/members/{user}` answers.
#[derive(Deserialize)]
struct MemberObject {
    nick: Option<String>,
    user: User,
}

/// Anything with an id and a name (roles, channels).
#[derive(Deserialize)]
struct Named {
    id: String,
    #[serde(default)]
    name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use denwa_chat::MessageOrigin;

    #[test]
    fn refusals_read_as_sentences() {
        assert_eq!(
            Reply::refused(&LineRefused::CallEnded).0,
            "The call has already ended."
        );
        assert_eq!(
            Reply::refused(&LineRefused::TooLong {
                chars: 12000,
                limit: 10000
            })
            .0,
            "The message is too long (12000 characters; the limit is 10000)."
        );
    }

    /// A line that takes `delay` to store a message: stands in for a slow store, to see the
    /// 3 s deadline kept. (The end-to-end suite covers the real line; only time is faked here.)
    struct SlowLine {
        delay: Duration,
        /// Every call's thread.
        thread: Option<String>,
    }

    impl denwa_chat::LineControl for SlowLine {
        fn say<'a>(
            &'a self,
            _call_id: &'a CallId,
            _text: &'a str,
            _origin: MessageOrigin,
        ) -> denwa_chat::BoxFuture<'a, Result<denwa_chat::Accepted, LineRefused>> {
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                Ok(denwa_chat::Accepted {
                    message_id: denwa_chat::MessageId::parse("m0000000000000001").unwrap(),
                })
            })
        }
        fn hang_up<'a>(
            &'a self,
            _: &'a CallId,
        ) -> denwa_chat::BoxFuture<'a, Result<(), LineRefused>> {
            Box::pin(async { Ok(()) })
        }
        fn active_calls(&self) -> denwa_chat::BoxFuture<'_, Result<Vec<CallSummary>, LineRefused>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn call<'a>(
            &'a self,
            _: &'a CallId,
        ) -> denwa_chat::BoxFuture<'a, Result<Option<CallSummary>, LineRefused>> {
            Box::pin(async { Ok(None) })
        }
        fn link_thread<'a>(
            &'a self,
            _: &'a str,
            _: &'a CallId,
            _: &'a str,
        ) -> denwa_chat::BoxFuture<'a, Result<(), LineRefused>> {
            Box::pin(async { Ok(()) })
        }
        fn thread_of_call<'a>(
            &'a self,
            _: &'a str,
            _: &'a CallId,
        ) -> denwa_chat::BoxFuture<'a, Result<Option<String>, LineRefused>> {
            Box::pin(async { Ok(self.thread.clone()) })
        }
        fn call_of_thread<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> denwa_chat::BoxFuture<'a, Result<Option<CallId>, LineRefused>> {
            Box::pin(async { Ok(None) })
        }
        fn first_delivery<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> denwa_chat::BoxFuture<'a, Result<bool, LineRefused>> {
            Box::pin(async { Ok(true) })
        }
    }

    impl denwa_chat::LineDialing for SlowLine {
        fn dial<'a>(
            &'a self,
            _: &'a str,
        ) -> denwa_chat::BoxFuture<'a, Result<CallSummary, LineRefused>> {
            Box::pin(async { Err(LineRefused::Unavailable) })
        }
        fn join_by_phone<'a>(
            &'a self,
            _: &'a CallId,
            _: &'a str,
            _: &'a str,
        ) -> denwa_chat::BoxFuture<'a, Result<String, LineRefused>> {
            Box::pin(async { Err(LineRefused::NotAResponder) })
        }
        fn responder_name(&self, _: &str, _: &str) -> Option<String> {
            None
        }
    }

    type Recorded = Arc<std::sync::Mutex<Vec<(String, Value)>>>;

    /// A stand-in for Discord's REST API that records every request's path and JSON body.
    async fn recording_server() -> (String, Recorded) {
        let records: Recorded = Arc::default();
        let recorder = records.clone();
        let app = Router::new().fallback(
            move |uri: axum::http::Uri, axum::Json(body): axum::Json<Value>| {
                let recorder = recorder.clone();
                async move {
                    recorder.lock().unwrap().push((uri.path().to_owned(), body));
                    axum::Json(serde_json::json!({"id": "1"}))
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, records)
    }

    fn test_config(base: String) -> crate::DiscordConfig {
        crate::DiscordConfig {
            application_id: "10".into(),
            guild_id: "20".into(),
            channel_id: "30".into(),
            line_channels: Vec::new(),
            bot_token: "token".to_owned().into(),
            public_key: "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c".into(),
            api_base: base,
            allowed_roles: Vec::new(),
            show_numbers: false,
            defer_after: Duration::from_millis(50),
        }
    }

    #[tokio::test]
    async fn a_slow_say_is_deferred_then_the_original_is_edited() {
        // A stand-in for Discord's webhook endpoint that records the edit.
        let (base, edits) = recording_server().await;
        let config = test_config(base);
        let line = Arc::new(SlowLine {
            delay: Duration::from_millis(400),
            thread: None,
        });
        let bridge = DiscordBridge::new(config, line).unwrap();
        let interaction: Interaction = serde_json::from_value(serde_json::json!({
            "id": "1", "type": 2, "token": "tok", "guild_id": "20", "channel_id": "30",
            "member": {"user": {"id": "5", "username": "kenji"}, "roles": []},
            "data": {"name": "say", "options": [
                {"name": "text", "type": 3, "value": "Hello"},
                {"name": "call", "type": 3, "value": "c1"}
            ]}
        }))
        .unwrap();

        let started = std::time::Instant::now();
        let response = bridge.clone().act(interaction).await;
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "answered in time"
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(answer["type"], 5, "{answer}");
        assert_eq!(answer["data"]["flags"], 64, "{answer}");
        assert!(
            edits.lock().unwrap().is_empty(),
            "nothing said before it is stored"
        );

        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while edits.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let edits = edits.lock().unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].0, "/api/v10/webhooks/10/tok/messages/@original");
        assert_eq!(edits[0].1["content"], "Queued: Hello");
    }

    /// A receipt for a `/say` older than the token's 15 minutes goes to the call's thread,
    /// mentioning (and pinging) only the user; the token is not tried.
    #[tokio::test]
    async fn a_receipt_after_the_tokens_lifetime_is_posted_in_the_thread() {
        use denwa_chat::{ChatBridge, LineEvent};
        let (base, posts) = recording_server().await;
        let config = test_config(base);
        let line = Arc::new(SlowLine {
            delay: Duration::ZERO,
            thread: Some("40".into()),
        });
        let bridge = DiscordBridge::new(config, line).unwrap();
        let mut reference = SayReference::new(Some("5"), "tok");
        reference.issued = reference.issued.map(|t| t - 15 * 60);
        let event = LineEvent::MessageSpoken {
            call_id: CallId::parse("c1").unwrap(),
            message_id: denwa_chat::MessageId::parse("m0000000000000001").unwrap(),
            origin: reference.origin(),
        };
        bridge.on_event(&event).await.unwrap();
        let posts = posts.lock().unwrap();
        assert_eq!(posts.len(), 1, "{posts:?}");
        assert_eq!(posts[0].0, "/api/v10/channels/40/messages");
        assert_eq!(posts[0].1["content"], "<@5> Spoken ✓");
        assert_eq!(
            posts[0].1["allowed_mentions"]["users"],
            serde_json::json!(["5"])
        );
        assert_eq!(
            posts[0].1["allowed_mentions"]["parse"],
            serde_json::json!([])
        );
    }

    #[test]
    fn an_interaction_reads_from_discords_json() {
        let json = r#"{
            "id": "1", "application_id": "2", "type": 2, "token": "tok", "version": 1,
            "guild_id": "3", "channel_id": "4", "locale": "en-US", "app_permissions": "0",
            "entitlements": [], "authorizing_integration_owners": {"0": "3"}, "context": 0,
            "member": {"user": {"id": "5", "username": "nelly", "global_name": "Nelly",
                                "discriminator": "0", "avatar": null},
                       "roles": ["6"], "nick": null, "joined_at": "2024-01-01T00:00:00Z",
                       "deaf": false, "mute": false, "flags": 0, "permissions": "0"},
            "data": {"id": "7", "name": "say", "type": 1,
                     "options": [{"name": "text", "type": 3, "value": "hi"}]}
        }"#;
        let i: Interaction = serde_json::from_str(json).unwrap();
        assert_eq!(i.string_option("text").as_deref(), Some("hi"));
        assert_eq!(i.member.unwrap().roles, ["6"]);
    }
}
