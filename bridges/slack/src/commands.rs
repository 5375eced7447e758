//! `POST /slack/commands`: `/denwa calls`, `/denwa say [call id] <text>`, `/denwa dial <number>`,
//! `/denwa help`.
//!
//! Slack wants the answer within 3 s. The command runs in a task; if it is done within
//! [`INLINE_WINDOW`] its answer is the HTTP response, otherwise the response says "working on
//! it" and the answer follows through the command's `response_url`. Answers are ephemeral.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use denwa_chat::{CallId, CallSummary};
use serde::Deserialize;
use tokio::sync::oneshot;
use url::Url;

use crate::Bridge;
use crate::blocks::{caller, escape, refusal, slack_date};
use crate::reference::Origin;
use denwa_chat::format_number;

const INLINE_WINDOW: Duration = Duration::from_millis(2000);

pub const HELP: &str = "*denwa* answers the phone line from Slack.\n\
• Reply in a call's thread to speak to the caller.\n\
• `/denwa calls`: the active calls.\n\
• `/denwa say <text>`: speak into the active call (`/denwa say <call id> <text>` when there are several).\n\
• `/denwa dial <number>`: the line calls that number (E.164, e.g. `+14155550123`); the call gets its thread here like any other.\n\
• *Join by phone* on a call: denwa rings your phone (from the line's responder directory); press 1 to join.\n\
• `/denwa help`: this help.";

#[derive(Debug, Deserialize)]
struct CommandForm {
    #[serde(default)]
    text: String,
    user_id: String,
    channel_id: String,
    response_url: Option<String>,
}

pub(crate) async fn handle(
    State(bridge): State<Arc<Bridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Slack checks a command URL's certificate with an unsigned `ssl_check=1` POST and wants a
    // 200 (Bolt's SslCheck middleware answers it before verifying signatures). It asks for
    // nothing: an empty 200, and nothing is done.
    if is_ssl_check(&body) {
        return StatusCode::OK.into_response();
    }
    if !bridge.verified(&headers, &body) {
        return crate::unauthorized();
    }
    let form: CommandForm = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "a signed slash command without its fields");
            return (StatusCode::BAD_REQUEST, "not a slash command").into_response();
        }
    };
    if !bridge.first_delivery(&headers).await {
        tracing::warn!("a slash command was replayed; it ran once");
        return ephemeral(ALREADY_DONE);
    }
    let (tx, mut rx) = oneshot::channel();
    let task_bridge = bridge.clone();
    tokio::spawn(async move {
        let response_url = form
            .response_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok());
        let answer = task_bridge.command(&form).await;
        if let Err(answer) = tx.send(answer) {
            // The HTTP response has gone ("working on it"): answer through Slack's response_url.
            match response_url {
                Some(url) => {
                    if let Err(e) = task_bridge.api.respond(&url, &answer).await {
                        tracing::warn!(error = %e, "could not answer a slash command late");
                    }
                }
                None => tracing::warn!("a slow slash command had no response_url to answer on"),
            }
        }
    });
    let answer = match tokio::time::timeout(INLINE_WINDOW, &mut rx).await {
        Ok(Ok(answer)) => answer,
        _ => {
            rx.close();
            // An answer that arrived as the window closed is still answered inline.
            rx.try_recv()
                .unwrap_or_else(|_| "Working on it…".to_owned())
        }
    };
    ephemeral(&answer)
}

/// The answer to a command delivered a second time.
const ALREADY_DONE: &str = "That was already done.";

/// An answer only the user who ran the command sees.
fn ephemeral(text: &str) -> Response {
    Json(serde_json::json!({ "response_type": "ephemeral", "text": text })).into_response()
}

/// Whether the form is Slack's `ssl_check=1` probe.
fn is_ssl_check(body: &[u8]) -> bool {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .is_ok_and(|fields| fields.iter().any(|(k, v)| k == "ssl_check" && v == "1"))
}

impl Bridge {
    async fn command(&self, form: &CommandForm) -> String {
        let text = form.text.trim();
        let (word, rest) = text
            .split_once(char::is_whitespace)
            .map_or((text, ""), |(w, r)| (w, r.trim()));
        let command = word.to_lowercase();
        if matches!(command.as_str(), "calls" | "say" | "dial") {
            // A slash command runs from any channel or DM: without allow-lists "anyone in the
            // channel" means the command must come from the configured channel.
            if let Err(refusal) = self
                .access
                .permits(
                    &self.api,
                    &form.user_id,
                    Some(&form.channel_id),
                    &self.channels,
                )
                .await
            {
                tracing::info!(%command, "a slash command from someone who may not act here was refused");
                return refusal;
            }
        }
        match command.as_str() {
            "" | "help" => HELP.to_owned(),
            "calls" => match self.line.active_calls().await {
                Ok(calls) if calls.is_empty() => "No call is active right now.".to_owned(),
                Ok(calls) => format!("Active calls:\n{}", list(&calls)),
                Err(e) => format!("Cannot list the calls: {e}."),
            },
            "say" => self.say_command(form, rest).await,
            "dial" => self.dial_command(rest).await,
            _ => format!("I don't know `{}`.\n{HELP}", escape(word)),
        }
    }

    async fn say_command(&self, form: &CommandForm, rest: &str) -> String {
        if rest.is_empty() {
            return "Say what? `/denwa say <text>`".to_owned();
        }
        let calls = match self.line.active_calls().await {
            Ok(calls) => calls,
            Err(e) => return format!("Cannot list the calls: {e}."),
        };
        let (first, after_first) = rest
            .split_once(char::is_whitespace)
            .map_or((rest, ""), |(w, r)| (w, r.trim()));
        let (call, text) = if let Some(call) = calls.iter().find(|c| c.id.as_str() == first) {
            (call, after_first)
        } else if let Some(id) = CallId::parse(first)
            && let Ok(Some(ended)) = self.line.call(&id).await
        {
            return format!("The call from {} has already ended.", caller(&ended));
        } else {
            match calls.as_slice() {
                [] => return "No call is active right now.".to_owned(),
                [only] => (only, rest),
                several => {
                    return format!(
                        "{} calls are active; say which one: `/denwa say <call id> <text>`\n{}",
                        several.len(),
                        list(several)
                    );
                }
            }
        };
        if text.is_empty() {
            return "Say what? `/denwa say <call id> <text>`".to_owned();
        }
        let speech = self.speakable(text).await;
        if speech.is_empty() {
            return format!("Not spoken: {}.", denwa_chat::LineRefused::NothingToSay);
        }
        // The receipt goes to the command's response_url: chat.postEphemeral to the command's
        // channel fails from a DM or a channel the bot is not in.
        let origin = Origin::Command {
            channel: form.channel_id.clone(),
            response_url: form.response_url.clone(),
        };
        match self
            .line
            .say(&call.id, &speech, origin.sent_by(&form.user_id))
            .await
        {
            Ok(_) => {
                // The thread keeps the record of what the caller was told, whoever said it.
                if let Some(thread) = self.thread_of_now(&call.id).await {
                    let note = format!("<@{}> via `/denwa say`: {}", form.user_id, escape(&speech));
                    // A failed post is logged by `SlackApi` (after its retries); the message is
                    // queued all the same, so the command still answers that it was.
                    let _ = self.api.reply(&thread.channel, &thread.ts, &note).await;
                }
                format!(
                    "Queued for the call from {}: “{}”. You will hear back once it has been spoken.",
                    caller(call),
                    escape(&speech)
                )
            }
            Err(refused) => format!("Not spoken: {refused}."),
        }
    }

    /// `/denwa dial <number>`: the line calls the number; the call is announced, with its thread,
    /// like any other (the line's `CallStarted` event).
    async fn dial_command(&self, rest: &str) -> String {
        if rest.is_empty() {
            return "Whom should denwa call? `/denwa dial <number>`, e.g. `/denwa dial +14155550123`"
                .to_owned();
        }
        match self.line.dial(rest).await {
            Ok(call) => {
                tracing::info!(call = %call.id, "dialled out from Slack");
                format!(
                    "Calling {}… The call (`{}`) gets its thread in <#{}>.",
                    escape(&format_number(&call.from)),
                    call.id,
                    self.channels.for_line(&call.line_id)
                )
            }
            Err(refused) => refusal(&refused),
        }
    }

    /// The call's thread if it is already known (no waiting: a command answers now).
    async fn thread_of_now(&self, call_id: &CallId) -> Option<crate::reference::MessageRef> {
        let thread = self.threads.now(call_id).await?;
        crate::reference::MessageRef::decode(&thread)
    }
}

/// One line per call: id, caller, state, since when.
fn list(calls: &[CallSummary]) -> String {
    calls
        .iter()
        .map(|c| {
            format!(
                "• `{}` from {} on {}, {} since {}",
                c.id,
                caller(c),
                escape(&c.line_label()),
                c.state,
                slack_date(c.started_at / 1000)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
