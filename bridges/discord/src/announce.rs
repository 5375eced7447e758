//! The line's events in Discord: each call is an embed in the channel with a thread on it
//! (thread id == message id) and, while it lasts, Hang up and Join by phone buttons, edited as
//! the call moves on; joins, leaves and the end are posted
//! in the thread; receipts go back to whoever typed `/say`, as an ephemeral follow-up.
//!
//! The thread <-> call link is stored through [`LineControl::link_thread`], so any replica can
//! edit the embed or route a `/say`. Events are handled concurrently (the line spawns one task
//! per event), so a `CallConnected` may arrive while `CallStarted` is still posting: the later
//! events wait (bounded) for the link, and render the embed from the call as the line has it
//! now rather than from the event's snapshot, so a late edit never shows an older state.

use std::time::Duration;

use denwa_chat::{BoxFuture, BridgeError, BridgeStatus, CallSummary, ChatBridge, LineEvent};
use serenity::all::{
    AutoArchiveDuration, ButtonStyle, Colour, CreateActionRow, CreateAllowedMentions, CreateButton,
    CreateEmbed, CreateEmbedFooter, CreateInteractionResponseFollowup, CreateMessage, CreateThread,
    EditMessage, Timestamp,
};

use crate::commands::{HANGUP_BUTTON, JOIN_BUTTON};
use crate::{BRIDGE, DiscordBridge};

/// How long a later event waits for the call's announcement to be linked.
const LINK_WAIT: Duration = Duration::from_secs(30);
const LINK_POLL: Duration = Duration::from_millis(200);

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
        (true, Some(name)) => format!("{name} ({})", call.from),
        (true, None) => call.from.clone(),
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

fn duration_words(ms: u64) -> String {
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
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
    let (title, colour) = match call.state.as_str() {
        "ringing" if call.direction == "outbound" => ("📞 Outgoing call", Colour::GOLD),
        "ringing" => ("📞 Incoming call", Colour::GOLD),
        "connected" => ("📞 Call in progress", Colour::DARK_GREEN),
        _ => ("Call ended", Colour::LIGHT_GREY),
    };
    let started = call.started_at / 1000;
    let mut embed = CreateEmbed::new()
        .title(title)
        .colour(colour)
        .field("Caller", caller_label(call, show_numbers), true)
        .field("Line", call.line.clone(), true)
        .field("State", call.state.clone(), true)
        .field("Started", format!("<t:{started}:f>"), true)
        .footer(CreateEmbedFooter::new(format!("call {}", call.id)));
    if let Ok(t) = Timestamp::from_unix_timestamp(started as i64) {
        embed = embed.timestamp(t);
    }
    let ended = call.state == "ended";
    if ended {
        if let Some(end) = call.ended_at {
            embed = embed.field(
                "Duration",
                duration_words(end.saturating_sub(call.started_at)),
                true,
            );
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
        let channel = &self.config.channel_id;
        let posted: Created = match self
            .rest
            .post(&format!("/channels/{channel}/messages"), &message)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(call = %call.id, error = %e, "could not announce a call in Discord");
                self.health
                    .announcement_failed(format!("call {} was not announced: {e}", call.id));
                return Err(err(e));
            }
        };
        self.health.announcement_posted();
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
        let linked = self.line.link_thread(BRIDGE, &call.id, &posted.id).await;
        if let Err(e) = opened {
            tracing::warn!(call = %call.id, error = %e, "could not open the call's thread");
            return Err(err(format!("thread for call {}: {e}", call.id)));
        }
        linked.map_err(|e| err(format!("linking call {}: {e}", call.id)))
    }

    /// The call's thread (== its announcement's id), waiting a bounded time for the
    /// announcement to be posted.
    async fn thread_of(&self, call_id: &str) -> Option<String> {
        let deadline = tokio::time::Instant::now() + LINK_WAIT;
        loop {
            match self.line.thread_of_call(BRIDGE, call_id).await {
                Ok(Some(thread)) => return Some(thread),
                Ok(None) | Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(LINK_POLL).await;
                }
                _ => {
                    tracing::debug!(call = call_id, "no Discord thread for the call");
                    return None;
                }
            }
        }
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
                &format!("/channels/{}/messages/{message}", self.config.channel_id),
                &edit,
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Posts `text` in the call's thread.
    async fn post_in_thread(&self, call_id: &str, text: String) -> Result<(), BridgeError> {
        let Some(thread) = self.thread_of(call_id).await else {
            return Ok(());
        };
        let message = CreateMessage::new()
            .content(text)
            .allowed_mentions(no_pings());
        self.rest
            .post::<serde::de::IgnoredAny>(&format!("/channels/{thread}/messages"), &message)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// The receipt: an ephemeral follow-up to the `/say` (its interaction token is the origin's
    /// reference; Discord keeps it valid for 15 minutes).
    async fn receipt(&self, token: &str, text: String) -> Result<(), BridgeError> {
        if token.is_empty() {
            return Ok(());
        }
        let followup = CreateInteractionResponseFollowup::new()
            .content(text)
            .ephemeral(true)
            .allowed_mentions(no_pings());
        self.rest
            .post::<serde::de::IgnoredAny>(
                &format!("/webhooks/{}/{token}", self.config.application_id),
                &followup,
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn handle(&self, event: &LineEvent) -> Result<(), BridgeError> {
        match event {
            LineEvent::CallStarted { call } => self.announce(call).await,
            LineEvent::CallConnected { call } => self.refresh(call).await,
            LineEvent::CallEnded { call } => {
                let refreshed = self.refresh(call).await;
                let spoken = match call.messages_spoken {
                    0 => "no message was spoken".to_owned(),
                    1 => "1 message was spoken".to_owned(),
                    n => format!("{n} messages were spoken"),
                };
                let text = match call.ended_at {
                    Some(end) => format!(
                        "The call ended after {}; {spoken}.",
                        duration_words(end.saturating_sub(call.started_at))
                    ),
                    None => format!("The call ended; {spoken}."),
                };
                let posted = self.post_in_thread(&call.id, text).await;
                refreshed.and(posted)
            }
            LineEvent::ParticipantJoined { call_id, name } => {
                self.post_in_thread(call_id, format!("{} joined the call.", plain(name)))
                    .await
            }
            LineEvent::ParticipantLeft { call_id, name } => {
                self.post_in_thread(call_id, format!("{} left the call.", plain(name)))
                    .await
            }
            LineEvent::MessageSpoken { origin, .. } if origin.bridge == BRIDGE => {
                self.receipt(&origin.reference, "Spoken ✓".into()).await
            }
            LineEvent::MessageFailed { origin, reason, .. } if origin.bridge == BRIDGE => {
                self.receipt(&origin.reference, format!("Not spoken: {reason}"))
                    .await
            }
            LineEvent::MessageSpoken { .. } | LineEvent::MessageFailed { .. } => Ok(()),
            LineEvent::Voicemail {
                call_id,
                recording_url,
                transcript,
            } => {
                let text = match transcript {
                    Some(t) => format!("Voicemail transcript: {}", plain(t)),
                    None => format!("The caller left a voicemail: {recording_url}"),
                };
                self.post_in_thread(call_id, text).await
            }
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
        self.health.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> CallSummary {
        CallSummary {
            id: "c123".into(),
            line: "Support".into(),
            from: "+14155550123".into(),
            caller_name: None,
            state: "ringing".into(),
            started_at: 1_700_000_000_000,
            ended_at: None,
            messages_spoken: 0,
            speaker_legs: 0,
            responder_legs: 0,
            joined: Vec::new(),
            direction: "inbound".into(),
        }
    }

    #[test]
    fn numbers_show_only_when_allowed() {
        let mut c = call();
        assert_eq!(thread_name(&c, false), "Call from a caller · 22:13 UTC");
        assert_eq!(thread_name(&c, true), "Call from +14155550123 · 22:13 UTC");
        c.caller_name = Some("ALICE SMITH".into());
        assert_eq!(thread_name(&c, false), "Call from ALICE SMITH · 22:13 UTC");
        let embed = serde_json::to_string(&call_embed(&c, false).0).unwrap();
        assert!(!embed.contains("4155550123"), "{embed}");
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
        c.state = "ended".into();
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
}
