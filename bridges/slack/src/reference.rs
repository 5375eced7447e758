//! How the bridge names Slack things in the line's store: a message (and so a thread) is
//! `<channel>:<ts>`, the form [`denwa_chat::LineControl::link_thread`] and
//! [`denwa_chat::MessageOrigin`] carry; a `/denwa say` has no message of its own, so its origin is
//! `<channel>:@<user>` (a `ts` always has a dot and never an `@`), followed by `|<response_url>`
//! when the command had one (user ids never hold a `|`; origins stored without it still decode).

/// A message in a channel; a thread is named by its parent message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A reply in a call's thread: the receipt is a reaction on it.
    Reply(MessageRef),
    /// `/denwa say` by `user` in `channel`: the receipt is an ephemeral note to that user,
    /// through the command's `response_url` (valid for 30 minutes) when there is one.
    Command {
        channel: String,
        user: String,
        response_url: Option<String>,
    },
}

/// The longest `response_url` kept in an origin. Slack's are about 90 characters
/// (`https://hooks.slack.com/commands/T.../.../...`); the origin is stored beside every message in
/// Redis, so something far longer is not kept and the receipt falls back to `chat.postEphemeral`.
const MAX_RESPONSE_URL: usize = 256;

impl Origin {
    pub fn encode(&self) -> String {
        match self {
            Origin::Reply(m) => m.encode(),
            Origin::Command {
                channel,
                user,
                response_url,
            } => match response_url {
                Some(url) if url.len() <= MAX_RESPONSE_URL => format!("{channel}:@{user}|{url}"),
                _ => format!("{channel}:@{user}"),
            },
        }
    }

    pub fn decode(stored: &str) -> Option<Self> {
        let (channel, rest) = stored.split_once(':')?;
        match rest.strip_prefix('@') {
            Some(rest) if !channel.is_empty() => {
                let (user, response_url) = match rest.split_once('|') {
                    Some((user, url)) => (user, (!url.is_empty()).then(|| url.to_owned())),
                    None => (rest, None),
                };
                (!user.is_empty()).then(|| Origin::Command {
                    channel: channel.into(),
                    user: user.into(),
                    response_url,
                })
            }
            Some(_) => None,
            None => MessageRef::decode(stored).map(Origin::Reply),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip() {
        let reply = Origin::Reply(MessageRef::new("C1", "1503435956.000247"));
        let command = Origin::Command {
            channel: "C1".into(),
            user: "U2".into(),
            response_url: None,
        };
        let with_url = Origin::Command {
            channel: "D1".into(),
            user: "U2".into(),
            response_url: Some("https://hooks.slack.com/commands/T1/2/a:b|c".into()),
        };
        for origin in [reply, command, with_url] {
            assert_eq!(Origin::decode(&origin.encode()), Some(origin));
        }
        // Origins stored before response_url was kept still decode.
        assert!(matches!(
            Origin::decode("C1:@U2"),
            Some(Origin::Command {
                response_url: None,
                ..
            })
        ));
        // A response_url too long to store is dropped, not the origin.
        let long = Origin::Command {
            channel: "C1".into(),
            user: "U2".into(),
            response_url: Some(format!("https://x/{}", "a".repeat(MAX_RESPONSE_URL))),
        };
        assert_eq!(long.encode(), "C1:@U2");
        assert_eq!(Origin::decode("C1:@|https://x"), None);
        assert_eq!(MessageRef::decode("C1:@U2"), None);
        assert_eq!(Origin::decode("nonsense"), None);
    }
}
