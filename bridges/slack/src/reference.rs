//! How the bridge names Slack things in the line's store.
//!
//! - A message, and so a thread, is `<channel>:<ts>` ([`MessageRef`]): the form thread links are
//!   kept and looked up by ([`denwa_chat::LineControl::link_thread`],
//!   [`denwa_chat::LineControl::call_of_thread`]).
//! - A message the bridge hands to the line carries its [`Origin`] as JSON in
//!   [`MessageOrigin::reference`], and the Slack user who sent it in [`MessageOrigin::who`]: the
//!   receipt of a thread reply is a reaction on it, that of a `/denwa say` an ephemeral note to
//!   its sender.
//!
//! Origins stored before they were JSON (`<channel>:<ts>`, `<channel>:@<user>`, followed by
//! `|<response_url>` when the command had one) are still read: their messages may be in flight
//! across an upgrade.

use denwa_chat::MessageOrigin;
use serde::{Deserialize, Serialize};

use crate::BRIDGE;

/// A message in a channel; a thread is named by its parent message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    pub channel: String,
    pub ts: String,
}

impl MessageRef {
    pub fn new(channel: impl Into<String>, ts: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            ts: ts.into(),
        }
    }

    pub fn encode(&self) -> String {
        format!("{}:{}", self.channel, self.ts)
    }

    pub fn decode(stored: &str) -> Option<Self> {
        let (channel, ts) = stored.split_once(':')?;
        (!channel.is_empty() && !ts.is_empty() && !ts.starts_with('@'))
            .then(|| Self::new(channel, ts))
    }
}

/// Where a message the bridge handed to the line came from, so its receipt finds its way back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case")]
pub enum Origin {
    /// A reply in a call's thread: the receipt is a reaction on it.
    Reply(MessageRef),
    /// `/denwa say` in `channel`: the receipt is an ephemeral note to its sender, through the
    /// command's `response_url` (valid for 30 minutes) when there is one.
    Command {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response_url: Option<String>,
    },
}

/// The longest `response_url` kept in an origin. Slack's are about 90 characters
/// (`https://hooks.slack.com/commands/T.../.../...`); the origin is stored beside every message in
/// Redis, so something far longer is not kept and the receipt falls back to `chat.postEphemeral`.
const MAX_RESPONSE_URL: usize = 256;

impl Origin {
    /// The origin the line keeps with a message Slack user `user` sent from here.
    pub fn sent_by(&self, user: &str) -> MessageOrigin {
        let kept = match self {
            Origin::Command {
                channel,
                response_url: Some(url),
            } if url.len() > MAX_RESPONSE_URL => Origin::Command {
                channel: channel.clone(),
                response_url: None,
            },
            origin => origin.clone(),
        };
        // Strings and an enum always serialize; were it ever not so, the message is still
        // spoken, and only its receipt is lost (said here).
        let reference = serde_json::to_string(&kept)
            .inspect_err(|e| tracing::error!(error = %e, "a message origin without a receipt"))
            .unwrap_or_default();
        MessageOrigin::new(BRIDGE, reference).by(user)
    }

    /// The origin of a message the bridge sent, and who sent it; `None` if it is not one of
    /// ours.
    pub fn read(origin: &MessageOrigin) -> Option<(Origin, Option<String>)> {
        if origin.bridge != BRIDGE {
            return None;
        }
        if origin.reference.starts_with('{') {
            let read = serde_json::from_str(&origin.reference)
                .inspect_err(|e| tracing::warn!(error = %e, "a Slack origin that does not read"))
                .ok()?;
            return Some((read, origin.who.clone()));
        }
        legacy(&origin.reference)
    }
}

/// An origin stored before origins were JSON: `<channel>:<ts>` for a reply, `<channel>:@<user>`
/// for a command, followed by `|<response_url>` when it had one (a `ts` always has a dot and never
/// an `@`; user ids never hold a `|`).
fn legacy(stored: &str) -> Option<(Origin, Option<String>)> {
    let (channel, rest) = stored.split_once(':')?;
    match rest.strip_prefix('@') {
        Some(rest) if !channel.is_empty() => {
            let (user, response_url) = match rest.split_once('|') {
                Some((user, url)) => (user, (!url.is_empty()).then(|| url.to_owned())),
                None => (rest, None),
            };
            (!user.is_empty()).then(|| {
                let command = Origin::Command {
                    channel: channel.into(),
                    response_url,
                };
                (command, Some(user.to_owned()))
            })
        }
        Some(_) => None,
        None => MessageRef::decode(stored).map(|m| (Origin::Reply(m), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_round_trip() {
        let reply = Origin::Reply(MessageRef::new("C1", "1503435956.000247"));
        let command = Origin::Command {
            channel: "C1".into(),
            response_url: None,
        };
        let with_url = Origin::Command {
            channel: "D1".into(),
            response_url: Some("https://hooks.slack.com/commands/T1/2/a:b|c".into()),
        };
        for origin in [reply, command, with_url] {
            let stored = origin.sent_by("U2");
            assert_eq!(stored.who.as_deref(), Some("U2"));
            assert_eq!(Origin::read(&stored), Some((origin, Some("U2".into()))));
        }
        // A response_url too long to store is dropped, not the origin.
        let long = Origin::Command {
            channel: "C1".into(),
            response_url: Some(format!("https://x/{}", "a".repeat(MAX_RESPONSE_URL))),
        };
        assert_eq!(
            Origin::read(&long.sent_by("U2")),
            Some((
                Origin::Command {
                    channel: "C1".into(),
                    response_url: None,
                },
                Some("U2".into())
            ))
        );
        assert_eq!(
            Origin::read(&MessageOrigin::new("discord", "{}")),
            None,
            "another bridge's"
        );
    }

    #[test]
    fn origins_stored_before_they_were_json_are_read() {
        let old = |reference: &str| Origin::read(&MessageOrigin::new(BRIDGE, reference));
        assert_eq!(
            old("C1:1503435956.000247"),
            Some((
                Origin::Reply(MessageRef::new("C1", "1503435956.000247")),
                None
            ))
        );
        assert_eq!(
            old("D1:@U2|https://hooks.slack.com/commands/T1/2/a:b|c"),
            Some((
                Origin::Command {
                    channel: "D1".into(),
                    response_url: Some("https://hooks.slack.com/commands/T1/2/a:b|c".into()),
                },
                Some("U2".into())
            ))
        );
        // Origins stored before response_url was kept still decode.
        assert!(matches!(
            old("C1:@U2"),
            Some((
                Origin::Command {
                    response_url: None,
                    ..
                },
                Some(_)
            ))
        ));
        assert_eq!(old("C1:@|https://x"), None);
        assert_eq!(MessageRef::decode("C1:@U2"), None);
        assert_eq!(old("nonsense"), None);
    }
}
