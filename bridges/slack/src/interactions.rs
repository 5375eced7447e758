//! `POST /slack/interactions`: buttons on the announcement (Hang up, Join by phone). Slack posts a
//! form whose `payload` field is JSON (`block_actions`); it wants a 200 within 3 s, so the work
//! runs in a task. What only the clicking user should see is a `chat.postEphemeral`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use denwa_chat::{CallId, LineRefused};
use serde::Deserialize;

use crate::blocks::{HANG_UP, JOIN, escape, refusal};
use crate::reference::MessageRef;
use crate::{BRIDGE, Bridge};

#[derive(Deserialize)]
struct Form {
    payload: String,
}

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: Option<Id>,
    #[serde(default)]
    actions: Vec<Action>,
    channel: Option<Id>,
    container: Option<Container>,
}

#[derive(Debug, Deserialize)]
struct Id {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Action {
    action_id: String,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Container {
    message_ts: Option<String>,
    channel_id: Option<String>,
}

/// A click on a button of ours.
struct Click {
    action: String,
    /// The button's value: the call it is for; `None` if the value is not a call id (not a
    /// button denwa rendered).
    call_id: Option<CallId>,
    user: String,
    /// The message the button is on, when Slack says.
    message: Option<MessageRef>,
}

impl Payload {
    fn clicks(self) -> Vec<Click> {
        if self.kind != "block_actions" {
            return Vec::new();
        }
        let Some(user) = self.user.map(|u| u.id) else {
            return Vec::new();
        };
        let container = self.container;
        let channel = container
            .as_ref()
            .and_then(|c| c.channel_id.clone())
            .or(self.channel.map(|c| c.id));
        let message = channel
            .zip(container.and_then(|c| c.message_ts))
            .map(|(channel, ts)| MessageRef::new(channel, ts));
        self.actions
            .into_iter()
            .filter_map(|a| {
                Some(Click {
                    action: a.action_id,
                    call_id: CallId::parse(&a.value?),
                    user: user.clone(),
                    message: message.clone(),
                })
            })
            .collect()
    }
}

pub(crate) async fn handle(
    State(bridge): State<Arc<Bridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !bridge.verified(&headers, &body) {
        return crate::unauthorized();
    }
    let payload = serde_urlencoded::from_bytes::<Form>(&body)
        .ok()
        .and_then(|f| serde_json::from_str::<Payload>(&f.payload).ok());
    let Some(payload) = payload else {
        tracing::warn!("a signed Slack interaction without a readable payload");
        return (StatusCode::BAD_REQUEST, "no interaction payload").into_response();
    };
    if !bridge.first_delivery(&headers).await {
        // A second Join by phone would ring the phone again. The 200 keeps Slack quiet.
        tracing::warn!("a button click was replayed; it acted once");
        return StatusCode::OK.into_response();
    }
    for click in payload.clicks() {
        let bridge = bridge.clone();
        tokio::spawn(async move { bridge.clicked(click).await });
    }
    StatusCode::OK.into_response()
}

impl Bridge {
    async fn clicked(&self, click: Click) {
        match click.action.as_str() {
            HANG_UP => self.hang_up_clicked(click).await,
            JOIN => self.join_clicked(click).await,
            other => tracing::debug!(action = other, "an interaction this bridge does not offer"),
        }
    }

    /// Whether the clicking user may act; `Err` holds what they are told. The buttons are only
    /// on announcements in the configured channel, so without allow-lists a click must come
    /// from a message there (an announcement shared or forwarded elsewhere does not count).
    async fn click_permitted(&self, click: &Click) -> Result<(), String> {
        let from = click.message.as_ref().map(|m| m.channel.as_str());
        self.access
            .permits(&self.api, &click.user, from, &self.channels)
            .await
    }

    async fn hang_up_clicked(&self, click: Click) {
        let channel = click
            .message
            .as_ref()
            .map_or(self.channels.home().to_owned(), |m| m.channel.clone());
        if let Err(refusal) = self.click_permitted(&click).await {
            // A failed post is logged by `SlackApi`; there is no one else to tell.
            let _ = self
                .api
                .post_ephemeral(&channel, &click.user, &refusal, None)
                .await;
            return;
        }
        let could_not = |refused: LineRefused| {
            let text = format!("Could not hang up: {}.", escape(&refused.to_string()));
            let (channel, user) = (channel.clone(), click.user.clone());
            async move {
                // Logged by `SlackApi` if it fails; there is no one else to tell.
                let _ = self.api.post_ephemeral(&channel, &user, &text, None).await;
            }
        };
        let Some(call_id) = &click.call_id else {
            could_not(LineRefused::NoSuchCall).await;
            return;
        };
        let result = self.line.hang_up(call_id).await;
        let thread = match click.message.clone() {
            Some(m) => Some(m),
            None => self.thread_of(call_id).await,
        };
        match result {
            Ok(()) => {
                tracing::info!(call = %call_id, "hung up from Slack");
                if let Some(thread) = &thread {
                    let note = format!(":no_entry: <@{}> hung up the call.", click.user);
                    let _ = self.api.reply(&thread.channel, &thread.ts, &note).await;
                }
            }
            Err(refused) => could_not(refused).await,
        }
        // Either way the message should show the call as it is (and lose a stale button).
        if let Some(thread) = thread
            && let Err(e) = self.refresh(call_id, &thread).await
        {
            tracing::warn!(call = %call_id, bridge = BRIDGE, error = %e, "could not update the announcement");
        }
    }

    /// Join by phone: rings the clicking user's phone (from `[[line.responders]]`, matched by
    /// their Slack user id) into the call; they press 1 to join. Every answer is ephemeral.
    async fn join_clicked(&self, click: Click) {
        let channel = click
            .message
            .as_ref()
            .map_or(self.channels.home().to_owned(), |m| m.channel.clone());
        let tell = |text: String| {
            let (channel, user) = (channel.clone(), click.user.clone());
            async move {
                if let Err(e) = self.api.post_ephemeral(&channel, &user, &text, None).await {
                    tracing::warn!(error = %e, "could not answer a Join by phone click");
                }
            }
        };
        if let Err(refusal) = self.click_permitted(&click).await {
            tell(refusal).await;
            return;
        }
        if self.line.responder_name(BRIDGE, &click.user).is_none() {
            tracing::info!(user = %click.user, "Join by phone from a user not in the responder directory");
            tell(refusal(&LineRefused::NotAResponder)).await;
            return;
        }
        let Some(call_id) = &click.call_id else {
            tell(refusal(&LineRefused::NoSuchCall)).await;
            return;
        };
        let answer = match self.line.join_by_phone(call_id, BRIDGE, &click.user).await {
            Ok(name) => {
                tracing::info!(call = %call_id, "joining a responder by phone from Slack");
                format!("Calling your phone, {}: press 1 to join.", escape(&name))
            }
            Err(refused) => refusal(&refused),
        };
        tell(answer).await;
    }
}
