//! `POST /slack/events`: the Events API. A reply in a call's thread is spoken to the caller.
//!
//! Only the fields acted on are read, each optional, rather than slack-morphism's full event
//! model: a user's message carries rich-text blocks, files and attachments whose shapes keep
//! growing, and a shape the model does not know must not make us drop a reply.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use denwa_chat::{LineChannels, LineRefused};
use serde::Deserialize;

use crate::access::NOT_ALLOWED;
use crate::reference::{MessageRef, Origin};
use crate::{BRIDGE, Bridge};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Envelope {
    UrlVerification {
        challenge: String,
    },
    EventCallback {
        event_id: String,
        event: serde_json::Value,
    },
    #[serde(other)]
    Other,
}

/// The fields of a `message` event the bridge looks at.
#[derive(Debug, Default, Deserialize)]
struct MessageEvent {
    #[serde(rename = "type")]
    kind: String,
    channel: Option<String>,
    user: Option<String>,
    text: Option<String>,
    ts: Option<String>,
    thread_ts: Option<String>,
    bot_id: Option<String>,
    subtype: Option<String>,
}

/// A reply in some thread of the configured channel, by a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub message: MessageRef,
    pub thread_ts: String,
    pub user: String,
    pub text: String,
}

/// The message subtypes that are a person writing in the thread: a reply also sent to the
/// channel (`thread_broadcast`, docs.slack.dev/reference/events/message/thread_broadcast) and a
/// reply with files (`file_share`, whose text is the person's message). Both are spoken like a
/// plain reply; every other subtype (edits, deletions, joins, bots, ...) is not a new message.
const SPOKEN_SUBTYPES: &[&str] = &["thread_broadcast", "file_share"];

impl MessageEvent {
    /// A thread reply by a person in `channel`, or `None`: bot messages (ours included), edits
    /// (`message_changed`, also of a broadcast), deletions and every subtype but
    /// [`SPOKEN_SUBTYPES`], top-level messages, and other channels are not spoken.
    fn into_reply(self, channels: &LineChannels) -> Option<Reply> {
        let by_a_person = match self.subtype.as_deref() {
            None => true,
            Some(subtype) => SPOKEN_SUBTYPES.contains(&subtype),
        };
        if self.kind != "message" || !by_a_person || self.bot_id.is_some() {
            return None;
        }
        let channel = self.channel.filter(|c| channels.contains(c))?;
        let ts = self.ts?;
        let thread_ts = self.thread_ts.filter(|t| *t != ts)?;
        Some(Reply {
            message: MessageRef::new(&channel, ts),
            thread_ts,
            user: self.user?,
            text: self.text.unwrap_or_default(),
        })
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
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "a signed Slack event that is not one");
            return (StatusCode::BAD_REQUEST, "not a Slack event").into_response();
        }
    };
    match envelope {
        Envelope::UrlVerification { challenge } => {
            Json(serde_json::json!({ "challenge": challenge })).into_response()
        }
        Envelope::EventCallback { event_id, event } => {
            let reply = serde_json::from_value::<MessageEvent>(event)
                .ok()
                .and_then(|e| e.into_reply(&bridge.channels));
            if let Some(reply) = reply {
                if let Some(retry) = headers.get("x-slack-retry-num") {
                    tracing::debug!(event_id, retry = ?retry, "Slack retried an event");
                }
                // The turn is taken here, in arrival order; the work runs after Slack has its 200.
                let turn = bridge.turns.take(&format!(
                    "thread:{}:{}",
                    reply.message.channel, reply.thread_ts
                ));
                tokio::spawn(async move {
                    turn.ready().await;
                    bridge.take_reply(&event_id, reply).await;
                });
            }
            StatusCode::OK.into_response()
        }
        Envelope::Other => StatusCode::OK.into_response(),
    }
}

impl Bridge {
    /// Speaks a thread reply into the thread's call, once per `event_id`, and answers visibly
    /// when it cannot.
    async fn take_reply(&self, event_id: &str, reply: Reply) {
        let channel = &reply.message.channel;
        let thread = MessageRef::new(channel, &reply.thread_ts).encode();
        // Asked together (one round trip to the store, not two): the thread's call is needed
        // only for a first delivery, but asking costs nothing more than waiting.
        let (first, call_id) = tokio::join!(
            self.line.first_delivery(BRIDGE, event_id),
            self.line.call_of_thread(BRIDGE, &thread)
        );
        match first {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(event_id, "a retried Slack event was already handled");
                return;
            }
            // Better to risk a repeat than to drop a reply; `say` will tell if the store is down.
            Err(e) => tracing::warn!(event_id, error = %e, "cannot check whether an event is new"),
        }
        let call_id = match call_id {
            Ok(Some(call_id)) => call_id,
            Ok(None) => return, // a thread that is not a call's
            Err(refused) => {
                self.answer_refusal(&reply, &refused).await;
                return;
            }
        };
        if !self.access.allows(&self.api, &reply.user).await {
            tracing::info!(call = %call_id, "a reply from a user who may not speak was not spoken");
            if let Err(e) = self
                .api
                .post_ephemeral(channel, &reply.user, NOT_ALLOWED, Some(&reply.thread_ts))
                .await
            {
                tracing::warn!(error = %e, "could not tell a user they may not speak");
            }
            return;
        }
        let text = self.speakable(&reply.text).await;
        if text.is_empty() {
            self.answer_refusal(&reply, &LineRefused::NothingToSay)
                .await;
            return;
        }
        let origin = Origin::Reply(reply.message.clone()).sent_by(&reply.user);
        match self.line.say(&call_id, &text, origin).await {
            Ok(accepted) => {
                tracing::info!(call = %call_id, message = %accepted.message_id, "queued a Slack reply")
            }
            Err(refused) => self.answer_refusal(&reply, &refused).await,
        }
    }

    async fn answer_refusal(&self, reply: &Reply, refused: &LineRefused) {
        if let Err(e) = self
            .refuse(&reply.message, &reply.thread_ts, &refused.to_string())
            .await
        {
            tracing::warn!(error = %e, reason = %refused, "could not tell the thread a reply was refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Option<Reply> {
        serde_json::from_value::<MessageEvent>(json)
            .unwrap()
            .into_reply(&LineChannels::new("C1", Vec::new()))
    }

    #[test]
    fn only_thread_replies_by_people_in_the_channel_are_replies() {
        let reply = serde_json::json!({"type": "message", "channel": "C1", "user": "U1",
            "text": "hi", "ts": "2.0", "thread_ts": "1.0", "blocks": [{"type": "rich_text_v9"}]});
        assert_eq!(
            event(reply.clone()),
            Some(Reply {
                message: MessageRef::new("C1", "2.0"),
                thread_ts: "1.0".into(),
                user: "U1".into(),
                text: "hi".into(),
            })
        );
        let with = |k: &str, v: serde_json::Value| {
            let mut e = reply.clone();
            e[k] = v;
            e
        };
        assert_eq!(event(with("bot_id", "B1".into())), None);
        assert_eq!(event(with("subtype", "message_changed".into())), None);
        // "Also send to channel" and a reply with a file are a person's replies.
        for subtype in ["thread_broadcast", "file_share"] {
            assert_eq!(
                event(with("subtype", subtype.into())).map(|r| r.text),
                Some("hi".into()),
                "{subtype}"
            );
        }
        assert_eq!(event(with("subtype", "message_deleted".into())), None);
        assert_eq!(event(with("subtype", "channel_join".into())), None);
        assert_eq!(event(with("channel", "C2".into())), None);
        assert_eq!(event(with("thread_ts", "2.0".into())), None, "a parent");
        assert_eq!(event(with("thread_ts", serde_json::Value::Null)), None);
        assert_eq!(event(with("type", "reaction_added".into())), None);
    }
}
