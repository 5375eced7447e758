//! The console bridge: a chat bridge like Slack's or Discord's, whose "chat service" is the demo
//! page. It turns the line's events into chat items (an announcement per call, which is also the
//! call's thread; joins, leaves, the end, voicemail; receipts) and publishes them on the feed
//! the page reads (`GET /demo/events`).
//!
//! Replies do not come through this bridge: the page sends them through the public API
//! (`POST /api/calls/{id}/say` with a `reference`), as any API client would. So the receipts it
//! shows are those of messages with origin `api`: in the demo, the console *is* the API client.

use std::sync::Arc;

use denwa_chat::{BoxFuture, BridgeError, CallId, CallSummary, ChatBridge, LineEvent, MessageId};
use serde::Serialize;
use serde_json::json;

use super::events::Feed;

/// Where the receipts the console shows come from (see the module's documentation).
const OWN_ORIGINS: &[&str] = &["api", "console"];

pub struct ConsoleBridge {
    feed: Arc<Feed>,
}

/// One thing the console's chat shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatItem {
    /// A call came in (or went out): the channel message that starts its thread.
    Announcement {
        call: CallSummary,
    },
    /// The call's state changed (the caller is in the conference): the announcement is edited.
    CallUpdated {
        call: CallSummary,
    },
    Joined {
        call_id: CallId,
        name: String,
    },
    Left {
        call_id: CallId,
        name: String,
    },
    /// A message the console sent was spoken (or will never be).
    Receipt {
        call_id: CallId,
        message_id: MessageId,
        /// The `reference` the console gave the message.
        reference: String,
        spoken: bool,
        reason: Option<String>,
    },
    CallEnded {
        call: CallSummary,
    },
    Voicemail {
        call_id: CallId,
        recording_url: String,
        transcript: Option<String>,
    },
    /// What the caller said (live transcription): one chat item per utterance, by the caller.
    CallerSaid {
        call_id: CallId,
        name: Option<String>,
        utterances: Vec<String>,
    },
    /// Something the team should know about a call.
    Notice {
        call_id: CallId,
        text: String,
    },
    /// A step of escalation: a level rung, a pass, the next level.
    Escalation {
        call_id: CallId,
        text: String,
    },
}

impl ConsoleBridge {
    pub fn new(feed: Arc<Feed>) -> Arc<ConsoleBridge> {
        Arc::new(ConsoleBridge { feed })
    }
}

/// What the console shows for `event`, if anything.
pub fn chat_item(event: &LineEvent) -> Option<ChatItem> {
    let own = |bridge: &str| OWN_ORIGINS.contains(&bridge);
    Some(match event.clone() {
        LineEvent::CallStarted { call } => ChatItem::Announcement { call },
        LineEvent::CallConnected { call } => ChatItem::CallUpdated { call },
        LineEvent::CallEnded { call } => ChatItem::CallEnded { call },
        LineEvent::ParticipantJoined { call_id, name } => ChatItem::Joined { call_id, name },
        LineEvent::ParticipantLeft { call_id, name } => ChatItem::Left { call_id, name },
        LineEvent::MessageSpoken {
            call_id,
            message_id,
            origin,
        } if own(&origin.bridge) => ChatItem::Receipt {
            call_id,
            message_id,
            reference: origin.reference,
            spoken: true,
            reason: None,
        },
        LineEvent::MessageFailed {
            call_id,
            message_id,
            origin,
            reason,
        } if own(&origin.bridge) => ChatItem::Receipt {
            call_id,
            message_id,
            reference: origin.reference,
            spoken: false,
            reason: Some(reason),
        },
        LineEvent::Voicemail {
            call_id,
            recording_url,
            transcript,
        } => ChatItem::Voicemail {
            call_id,
            recording_url,
            transcript,
        },
        LineEvent::Notice { call_id, text } => ChatItem::Notice { call_id, text },
        LineEvent::Escalation { call_id, text } => ChatItem::Escalation { call_id, text },
        LineEvent::CallerSaid {
            call_id,
            name,
            utterances,
        } => ChatItem::CallerSaid {
            call_id,
            name,
            utterances,
        },
        // Receipts of other bridges' messages, and of the line's own announcements.
        LineEvent::MessageSpoken { .. } | LineEvent::MessageFailed { .. } => return None,
    })
}

impl ChatBridge for ConsoleBridge {
    fn name(&self) -> &'static str {
        "console"
    }

    fn on_event<'a>(&'a self, event: &'a LineEvent) -> BoxFuture<'a, Result<(), BridgeError>> {
        Box::pin(async move {
            if let Some(item) = chat_item(event) {
                self.feed.publish(json!({ "source": "chat", "item": item }));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use denwa_chat::MessageOrigin;

    #[test]
    fn receipts_of_api_messages_are_the_consoles_own() {
        let call = CallId::parse("c1").unwrap();
        let message = MessageId::parse("m0000000000000001").unwrap();
        let spoken = |bridge: &str| LineEvent::MessageSpoken {
            call_id: call.clone(),
            message_id: message.clone(),
            origin: MessageOrigin::new(bridge, "r1"),
        };
        assert_eq!(
            chat_item(&spoken("api")),
            Some(ChatItem::Receipt {
                call_id: call.clone(),
                message_id: message.clone(),
                reference: "r1".into(),
                spoken: true,
                reason: None,
            })
        );
        assert_eq!(chat_item(&spoken("slack")), None);
        assert_eq!(chat_item(&spoken("line")), None);
    }
}
