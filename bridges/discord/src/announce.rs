//! The line's events in Discord: each call is an embed in the channel with a thread on it
//! (thread id == message id) and, while it lasts, Hang up and Join by phone buttons, edited as
//! the call moves on; joins, leaves and the end are posted
//! in the thread; receipts go back to whoever typed `/say`, as an ephemeral follow-up while its
//! interaction token lasts, else as a post in the call's thread that mentions them.
//!
//! The thread <-> call link is stored through [`denwa_chat::LineControl::link_thread`], so any replica can
//! edit the embed or route a `/say`. Events are handled concurrently (the line spawns one task
//! per event), so a `CallConnected` may arrive while `CallStarted` is still posting: the later
//! events wait (bounded) for the link, and render the embed from the call as the line has it
//! now rather than from the event's snapshot, so a late edit never shows an older state.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use denwa_chat::{
    BoxFuture, BridgeError, BridgeStatus, CallId, CallState, CallSummary, ChatBridge, Direction,
    LineEvent, MessageOrigin, Note, Receipt,
};
use denwa_chat::{format_number, words};
use serenity::all::{
    AutoArchiveDuration, ButtonStyle, Colour, CreateActionRow, CreateAllowedMentions, CreateButton,
    CreateEmbed, CreateEmbedFooter, CreateInteractionResponseFollowup, CreateMessage, CreateThread,
    EditMessage, Timestamp, UserId,
};

use crate::commands::{HANGUP_BUTTON, JOIN_BUTTON};
use crate::{BRIDGE, DiscordBridge};

/// How long after its `/say` a receipt still goes out as a follow-up on the interaction token.
/// Discord keeps the token for 15 minutes; the minute of margin covers the follow-up's own
/// retries and rate-limit waits, and clock skew between replicas.
const TOKEN_USABLE: Duration = Duration::from_secs(14 * 60);
/// The most characters Discord takes in a message's `content`.
pub(crate) const CONTENT_CHARS: usize = 2000;

/// What a `/say` keeps for its receipt: the interaction token, and when it came, as JSON in
/// [`MessageOrigin::reference`], and the user who used it in [`MessageOrigin::who`]. The token
/// alone would do for 15 minutes; a message can wait longer than that in the queue, and then the
/// receipt needs to know whom to mention in the thread instead. (The origin is stored with the
/// message; API clients see only the bridge's name.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SayReference {
    /// When the interaction came, in Unix seconds; `None` for a reference from before it was
    /// kept (a bare token), whose age is unknown.
    pub issued: Option<u64>,
    /// The Discord user who used `/say`.
    pub user: Option<u64>,
    pub token: String,
}

/// How a [`SayReference`] is kept in [`MessageOrigin::reference`] (the user is
/// [`MessageOrigin::who`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    issued: u64,
    token: String,
}

impl SayReference {
    pub fn new(user_id: Option<&str>, token: &str) -> Self {
        SayReference {
            issued: Some(unix_now()),
            user: user_id.and_then(|u| u.parse().ok()).filter(|&u| u != 0),
            token: token.to_owned(),
        }
    }

    /// The origin the line keeps with the `/say`'s message.
    pub fn origin(&self) -> MessageOrigin {
        let stored = Stored {
            issued: self.issued.unwrap_or_else(unix_now),
            token: self.token.clone(),
        };
        // Always serializes; were it ever not so, the message is still spoken, and only its
        // receipt is lost (said here).
        let reference = serde_json::to_string(&stored)
            .inspect_err(|e| tracing::error!(error = %e, "a /say origin without a receipt"))
            .unwrap_or_default();
        let origin = MessageOrigin::new(BRIDGE, reference);
        match self.user {
            Some(user) => origin.by(user.to_string()),
            None => origin,
        }
    }

    /// Reads the origin of a `/say`'s message back, also as stored before origins were JSON.
    pub fn read(origin: &MessageOrigin) -> Self {
        match serde_json::from_str::<Stored>(&origin.reference) {
            Ok(stored) => SayReference {
                issued: Some(stored.issued),
                user: origin
                    .who
                    .as_deref()
                    .and_then(|u| u.parse().ok())
                    .filter(|&u| u != 0),
                token: stored.token,
            },
            Err(_) => Self::legacy(&origin.reference),
        }
    }

    /// A reference stored before origins were JSON: `<issued unix secs>:<user id>:<token>`, or a
    /// bare token before the user and time were kept. A bare token cannot be mistaken for the
    /// longer form: tokens are base64-like, never two all-digit fields before a colon.
    fn legacy(reference: &str) -> Self {
        let parsed = reference.split_once(':').and_then(|(issued, rest)| {
            let (user, token) = rest.split_once(':')?;
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            if !(digits(issued) && digits(user)) {
                return None;
            }
            Some(SayReference {
                issued: Some(issued.parse().ok()?),
                user: Some(user.parse().ok().filter(|&u| u != 0)?),
                token: token.to_owned(),
            })
        });
        parsed.unwrap_or_else(|| SayReference {
            issued: None,
            user: None,
            token: reference.to_owned(),
        })
    }

    /// Whether the interaction token is still good for a follow-up. Unknown age: try it.
    fn token_usable(&self, now: u64) -> bool {
        self.issued
            .is_none_or(|issued| now.saturating_sub(issued) < TOKEN_USABLE.as_secs())
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `text` cut to what Discord takes in a message's `content` (longer is refused with a 400,
/// and then nothing at all is shown).
pub(crate) fn fit_content(text: String) -> String {
    if text.chars().count() <= CONTENT_CHARS {
        return text;
    }
    text.chars().take(CONTENT_CHARS - 1).collect::<String>() + "…"
}

/// `text` as one or more messages of at most [`CONTENT_CHARS`], cut at a space or a line
/// break where there is one: a voicemail transcript is worth all its words.
pub(crate) fn content_chunks(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > CONTENT_CHARS {
        let mut cut = rest[..CONTENT_CHARS]
            .iter()
            .rposition(|c| c.is_whitespace())
            .filter(|&i| i > 0)
            .unwrap_or(CONTENT_CHARS);
        // Never split `plain`'s escape from the character it escapes: an odd run of
        // backslashes before the cut ends with an escape.
        let run = rest[..cut].iter().rev().take_while(|&&c| c == '\\').count();
        if run % 2 == 1 && cut > 1 {
            cut -= 1;
        }
        chunks.push(rest[..cut].iter().collect::<String>().trim_end().to_owned());
        rest.drain(..cut);
        while rest.first().is_some_and(|c| c.is_whitespace()) {
            rest.remove(0);
        }
    }
    if !rest.is_empty() || chunks.is_empty() {
        chunks.push(rest.into_iter().collect());
    }
    chunks
}

/// An embed field's value: Discord refuses an empty one (and with it the whole message) and
/// one over 1024 characters.
fn field_value(value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        return "-".into();
    }
    if value.chars().count() > 1024 {
        return value.chars().take(1023).collect::<String>() + "…";
    }
    value.to_owned()
}

/// What Discord answers for a message or a channel: we only need its id.
#[derive(serde::Deserialize)]
struct Created {
    id: String,
}

fn err(message: impl std::fmt::Display) -> BridgeError {
    BridgeError {
        bridge: BRIDGE.into(),
        message: message.to_string(),
    }
}

/// No mention in anything denwa posts pings anyone: names come from callers and Twilio.
pub(crate) fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .all_users(false)
        .all_roles(false)
        .everyone(false)
}

/// Who called, as the team may see it: the number only with `show_numbers`.
pub fn caller_label(call: &CallSummary, show_numbers: bool) -> String {
    let name = call
        .caller_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    match (show_numbers, name) {
        (true, Some(name)) => format!("{name} ({})", format_number(&call.from)),
        (true, None) => format_number(&call.from),
        (false, Some(name)) => name.to_owned(),
        (false, None) => "a caller".to_owned(),
    }
}

/// The thread's name: who and when, 1-100 characters, no number unless `show_numbers`.
pub fn thread_name(call: &CallSummary, show_numbers: bool) -> String {
    let when = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(call.started_at as i64)
        .map(|t| t.format(" · %H:%M UTC").to_string())
        .unwrap_or_default();
    let mut who = caller_label(call, show_numbers);
    // Keep the time: cut the name instead.
    let room = 100 - "Call from ".len() - when.chars().count();
    if who.chars().count() > room {
        who = who.chars().take(room.saturating_sub(1)).collect::<String>() + "…";
    }
    format!("Call from {who}{when}")
}

/// Who joined the caller, for an embed field (at most 1024 characters, never empty).
fn joined(call: &CallSummary) -> String {
    if call.joined.is_empty() {
        return "nobody".into();
    }
    let names = call
        .joined
        .iter()
        .map(|n| plain(n))
        .collect::<Vec<_>>()
        .join(", ");
    if names.chars().count() > 1024 {
        names.chars().take(1023).collect::<String>() + "…"
    } else {
        names
    }
}

/// The call's embed and its components (Hang up and Join by phone while the call lasts).
pub fn call_embed(call: &CallSummary, show_numbers: bool) -> (CreateEmbed, Vec<CreateActionRow>) {
    let (title, colour) = match (call.state, call.direction) {
        (CallState::Ringing, Direction::Outbound) => ("📞 Outgoing call", Colour::GOLD),
        (CallState::Ringing, Direction::Inbound) => ("📞 Incoming call", Colour::GOLD),
        (CallState::Connected, _) => ("📞 Call in progress", Colour::DARK_GREEN),
        (CallState::Ended, _) => ("Call ended", Colour::LIGHT_GREY),
    };
    let started = call.started_at / 1000;
    let mut embed = CreateEmbed::new()
        .title(title)
        .colour(colour)
        .field(
            "Caller",
            field_value(&caller_label(call, show_numbers)),
            true,
        )
        .field("Line", field_value(&call.line_label()), true)
        .field("State", call.state.as_str(), true)
        .field("Started", format!("<t:{started}:f>"), true)
        .footer(CreateEmbedFooter::new(format!("call {}", call.id)));
    if let Ok(t) = Timestamp::from_unix_timestamp(started as i64) {
        embed = embed.timestamp(t);
    }
    let ended = call.state == CallState::Ended;
    if ended {
        if let Some(ms) = call.duration_ms() {
            embed = embed.field("Duration", words::duration(ms), true);
        }
        embed = embed
            .field("Messages spoken", call.messages_spoken.to_string(), true)
            .field("Joined", joined(call), true)
            .field(
                "Extra call legs",
                (call.speaker_legs + call.responder_legs).to_string(),
                true,
            );
    } else {
        embed = embed.description("Reply with `/say` in this call's thread: the caller hears it.");
    }
    let components = if ended {
        Vec::new()
    } else {
        vec![CreateActionRow::Buttons(vec![
            CreateButton::new(format!("{HANGUP_BUTTON}{}", call.id))
                .label("Hang up")
                .style(ButtonStyle::Danger),
            CreateButton::new(format!("{JOIN_BUTTON}{}", call.id))
                .label("Join by phone")
                .style(ButtonStyle::Primary),
        ])]
    };
    (embed, components)
}

impl DiscordBridge {
    /// Posts the call's embed, opens its thread and links it to the call.
    async fn announce(&self, call: &CallSummary) -> Result<(), BridgeError> {
        let show = self.config.show_numbers;
        let (embed, components) = call_embed(call, show);
        let message = CreateMessage::new()
            .embed(embed)
            .components(components)
            .allowed_mentions(no_pings());
        let channel = self.config.channel_for(&call.line_id);
        let posted: Created = match self
            .rest
            .post(&format!("/channels/{channel}/messages"), &message)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(call = %call.id, error = %e, "could not announce a call in Discord");
                self.threads
                    .unannounced(&call.id, format!("call {} was not announced: {e}", call.id));
                return Err(err(e));
            }
        };
        self.threads.announced();
        let thread = CreateThread::new(thread_name(call, show))
            .auto_archive_duration(AutoArchiveDuration::OneDay);
        let opened = self
            .rest
            .post::<Created>(
                &format!("/channels/{channel}/messages/{}/threads", posted.id),
                &thread,
            )
            .await;
        // Linked either way: the message id is the thread's id, and edits need it even if the
        // thread could not be opened.
        let linked = self.threads.link(&call.id, &posted.id).await;
        if let Err(e) = opened {
            tracing::warn!(call = %call.id, error = %e, "could not open the call's thread");
            return Err(err(format!("thread for call {}: {e}", call.id)));
        }
        linked.map_err(|e| err(format!("linking call {}: {e}", call.id)))
    }

    /// The call's thread (== its announcement's id), waiting a bounded time for the
    /// announcement to be posted.
    async fn thread_of(&self, call_id: &CallId) -> Option<String> {
        self.threads.wait_for(call_id).await
    }

    /// Re-renders the call's embed from the line's current view of the call.
    async fn refresh(&self, call: &CallSummary) -> Result<(), BridgeError> {
        let Some(message) = self.thread_of(&call.id).await else {
            return Ok(());
        };
        let current = match self.line.call(&call.id).await {
            Ok(Some(c)) => c,
            _ => call.clone(),
        };
        let (embed, components) = call_embed(&current, self.config.show_numbers);
        let edit = EditMessage::new().embed(embed).components(components);
        self.rest
            .patch::<serde::de::IgnoredAny>(
                &format!(
                    "/channels/{}/messages/{message}",
                    self.config.channel_for(&current.line_id)
                ),
                &edit,
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Posts `text` in the call's thread, as several messages if it is longer than Discord
    /// takes in one.
    async fn post_in_thread(&self, call_id: &CallId, text: String) -> Result<(), BridgeError> {
        let Some(thread) = self.thread_of(call_id).await else {
            return Ok(());
        };
        for chunk in content_chunks(&text)
            .into_iter()
            .filter(|c| !c.trim().is_empty())
        {
            let message = CreateMessage::new()
                .content(chunk)
                .allowed_mentions(no_pings());
            self.rest
                .post::<serde::de::IgnoredAny>(&format!("/channels/{thread}/messages"), &message)
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    /// The receipt for a `/say` (`origin` holds its [`SayReference`]): an ephemeral follow-up
    /// on the interaction token while Discord still takes it (15 minutes), else a post in the
    /// call's thread that mentions the user, so a message that waited long in the queue is
    /// still receipted rather than failing silently.
    async fn receipt(&self, receipt: Receipt<'_>) -> Result<(), BridgeError> {
        let (call_id, origin) = (receipt.call, receipt.origin);
        if origin.reference.is_empty() {
            return Ok(());
        }
        let text = match receipt.failure {
            None => "Spoken ✓".to_owned(),
            Some(reason) => format!("Not spoken: {reason}"),
        };
        let say = SayReference::read(origin);
        if say.token_usable(unix_now()) {
            let followup = CreateInteractionResponseFollowup::new()
                .content(fit_content(text.clone()))
                .ephemeral(true)
                .allowed_mentions(no_pings());
            let sent = self
                .rest
                .post::<serde::de::IgnoredAny>(
                    &format!("/webhooks/{}/{}", self.config.application_id, say.token),
                    &followup,
                )
                .await;
            match sent {
                Ok(_) => return Ok(()),
                // 401 Invalid Webhook Token / 404 Unknown Webhook: the token expired or was
                // revoked sooner than we counted (clock skew, a long retry): use the thread.
                Err(e) if matches!(e.status(), Some(401 | 404)) && say.user.is_some() => {
                    tracing::info!(call = %call_id, error = %e, "the /say's interaction token no longer works; receipting in the thread");
                }
                Err(e) => return Err(err(e)),
            }
        }
        let Some(user) = say.user else {
            // A reference from before the user was kept: nobody to mention.
            tracing::debug!(
                call = %call_id,
                "a receipt whose interaction token has expired"
            );
            return Ok(());
        };
        let Some(thread) = self.thread_of(call_id).await else {
            return Ok(());
        };
        // Public, unlike the follow-up: it mentions the user so they see it is theirs, and
        // pings only them (`allowed_mentions.users`; nothing is parsed from the text).
        let message = CreateMessage::new()
            .content(fit_content(format!("<@{user}> {text}")))
            .allowed_mentions(CreateAllowedMentions::new().users([UserId::new(user)]));
        self.rest
            .post::<serde::de::IgnoredAny>(&format!("/channels/{thread}/messages"), &message)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn handle(&self, event: &LineEvent) -> Result<(), BridgeError> {
        if let Some(receipt) = event.receipt_for(BRIDGE) {
            return self.receipt(receipt).await;
        }
        if let Some((call, note)) = event.note() {
            return self.post_in_thread(call, note_text(note)).await;
        }
        match event {
            LineEvent::CallStarted { call } => self.announce(call).await,
            LineEvent::CallConnected { call } => self.refresh(call).await,
            LineEvent::CallEnded { call } => {
                let refreshed = self.refresh(call).await;
                let spoken = words::call_tally(call);
                let text = match call.duration_ms() {
                    Some(ms) => {
                        format!("The call ended after {}; {spoken}.", words::duration(ms))
                    }
                    None => format!("The call ended; {spoken}."),
                };
                let posted = self.post_in_thread(&call.id, text).await;
                refreshed.and(posted)
            }
            // Notes and receipts are handled above; other bridges' receipts are theirs.
            _ => Ok(()),
        }
    }
}

/// A note in a call's thread, as Discord shows it.
fn note_text(note: Note<'_>) -> String {
    match note {
        Note::Joined(name) => format!("{} joined the call.", plain(name)),
        Note::Left(name) => format!("{} left the call.", plain(name)),
        Note::Voicemail { recording_url } => {
            format!("The caller left a voicemail: {recording_url}")
        }
        Note::VoicemailTranscript(text) => format!("Voicemail transcript: {}", plain(text)),
        Note::Notice(text) => format!("⚠️ {}", plain(text)),
        // The caller's words: markdown escaped, and posted with no pings allowed
        // (`post_in_thread`), so `@everyone` spoken is text.
        Note::CallerSaid { name, utterances } => {
            Note::caller_said(name, utterances, plain, |who, text| {
                format!("🗣️ **{who}:** {text}")
            })
        }
    }
}

/// A name from outside (a caller's CNAM, a responder directory) shown as plain text in Discord.
pub(crate) fn plain(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "*_~|`<>[]()#\\@".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl ChatBridge for DiscordBridge {
    fn name(&self) -> &'static str {
        BRIDGE
    }

    fn on_event<'a>(&'a self, event: &'a LineEvent) -> BoxFuture<'a, Result<(), BridgeError>> {
        Box::pin(self.handle(event))
    }

    fn status(&self) -> BridgeStatus {
        self.threads.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> CallSummary {
        CallSummary {
            id: CallId::parse("c123").unwrap(),
            line: "Support".into(),
            line_id: denwa_chat::LineId::parse("main").unwrap(),
            menu_choice: None,
            from: "+14155550123".into(),
            caller_name: None,
            state: CallState::Ringing,
            started_at: 1_700_000_000_000,
            ended_at: None,
            messages_spoken: 0,
            speaker_legs: 0,
            responder_legs: 0,
            caller_utterances: None,
            joined: Vec::new(),
            direction: Direction::Inbound,
        }
    }

    #[test]
    fn numbers_show_only_when_allowed() {
        let mut c = call();
        assert_eq!(thread_name(&c, false), "Call from a caller · 22:13 UTC");
        assert_eq!(
            thread_name(&c, true),
            "Call from +1 415-555-0123 · 22:13 UTC"
        );
        c.caller_name = Some("ALICE SMITH".into());
        assert_eq!(thread_name(&c, false), "Call from ALICE SMITH · 22:13 UTC");
        let embed = serde_json::to_string(&call_embed(&c, false).0).unwrap();
        // Neither as Twilio sent it nor as it is shown.
        assert!(!embed.contains("4155550123"), "{embed}");
        assert!(!embed.contains("555-0123"), "{embed}");
        c.caller_name = Some("x".repeat(300));
        let long = thread_name(&c, false);
        assert!(
            long.chars().count() <= 100 && long.ends_with("22:13 UTC"),
            "{long}"
        );
    }

    #[test]
    fn the_buttons_go_when_the_call_ends() {
        let mut c = call();
        let json = serde_json::to_value(call_embed(&c, false).1).unwrap();
        assert_eq!(json[0]["components"][0]["custom_id"], "hangup:c123");
        assert_eq!(json[0]["components"][1]["custom_id"], "join:c123");
        assert_eq!(json[0]["components"][1]["label"], "Join by phone");
        c.state = CallState::Ended;
        c.ended_at = Some(c.started_at + 133_000);
        c.messages_spoken = 3;
        let (embed, components) = call_embed(&c, false);
        assert!(components.is_empty());
        let embed = serde_json::to_value(&embed).unwrap();
        assert!(embed.to_string().contains("2 min 13 s"), "{embed}");
        let field = |name: &str| {
            embed["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == name)
                .map(|f| f["value"].clone())
        };
        assert_eq!(field("Joined"), Some("nobody".into()), "{embed}");
        assert_eq!(field("Extra call legs"), Some("0".into()), "{embed}");
        c.joined = vec!["Alice".into(), "*Bob*".into()];
        c.speaker_legs = 2;
        c.responder_legs = 3;
        let embed = serde_json::to_value(call_embed(&c, false).0).unwrap();
        let fields = embed["fields"].as_array().unwrap();
        assert!(
            fields
                .iter()
                .any(|f| f["name"] == "Joined" && f["value"] == "Alice, \\*Bob\\*"),
            "{embed}"
        );
        assert!(
            fields
                .iter()
                .any(|f| f["name"] == "Extra call legs" && f["value"] == "5"),
            "{embed}"
        );
    }

    #[test]
    fn a_say_reference_keeps_the_user_and_the_time_and_reads_the_old_form() {
        let r = SayReference::new(Some("1150000000000000001"), "aW50:dGVz");
        let origin = r.origin();
        assert_eq!(origin.bridge, BRIDGE);
        assert_eq!(origin.who.as_deref(), Some("1150000000000000001"));
        assert_eq!(SayReference::read(&origin), r);
        let old = |reference: &str| SayReference::read(&MessageOrigin::new(BRIDGE, reference));
        // As stored before origins were JSON, with the user and the time.
        let issued = r.issued.unwrap();
        assert_eq!(old(&format!("{issued}:1150000000000000001:aW50:dGVz")), r);
        // A bare token, as stored before the user and time were kept; colons and all.
        let old = old("aW50ZXJhY3Rpb246:dGVzdA-token");
        assert_eq!(old.token, "aW50ZXJhY3Rpb246:dGVzdA-token");
        assert_eq!((old.issued, old.user), (None, None));
        assert!(
            old.token_usable(u64::MAX),
            "unknown age: the token is tried"
        );
        // No user to mention: the token (and its time) are kept.
        let anonymous = SayReference::new(None, "tok");
        assert_eq!(anonymous.origin().who, None);
        assert_eq!(SayReference::read(&anonymous.origin()), anonymous);

        assert!(r.token_usable(issued + 13 * 60));
        assert!(!r.token_usable(issued + 14 * 60));
    }

    #[test]
    fn long_posts_are_split_and_field_values_are_never_empty() {
        assert_eq!(content_chunks("short"), ["short"]);
        let words = "word ".repeat(900);
        let chunks = content_chunks(words.trim());
        assert_eq!(chunks.len(), 3, "{chunks:?}");
        assert!(chunks.iter().all(|c| c.chars().count() <= CONTENT_CHARS));
        assert!(
            chunks
                .iter()
                .all(|c| c.starts_with("word") && c.ends_with("word"))
        );
        assert_eq!(chunks.join(" "), words.trim());
        // No space to cut at, and an escape at the limit: it stays with its character.
        let escaped = "a".repeat(CONTENT_CHARS - 1) + "\\*b";
        let chunks = content_chunks(&escaped);
        assert_eq!(chunks[0].chars().count(), CONTENT_CHARS - 1);
        assert_eq!(chunks[1], "\\*b");
        assert_eq!(fit_content("x".repeat(2500)).chars().count(), CONTENT_CHARS);

        let mut c = call();
        c.line = " ".into();
        let embed = serde_json::to_value(call_embed(&c, false).0).unwrap();
        assert!(
            embed["fields"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| !f["value"].as_str().unwrap().is_empty()),
            "{embed}"
        );
    }

    #[test]
    fn what_the_caller_said_is_plain_text() {
        let utterances = vec!["@everyone look at **this** <@123>".to_owned()];
        assert_eq!(
            note_text(Note::CallerSaid {
                name: None,
                utterances: &utterances
            }),
            "🗣️ **Caller:** \\@everyone look at \\*\\*this\\*\\* \\<\\@123\\>"
        );
    }
}
