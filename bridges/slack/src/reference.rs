//! How the bridge names Slack things in the line's store: a message (and so a thread) is
//! `<channel>:<ts>`, the form [`denwa_chat::LineControl::link_thread`] and
//! [`denwa_chat::MessageOrigin`] carry; a `/denwa say` has no message of its own, so its origin is
//! `<channel>:@<user>` (a `ts` always has a dot and never an `@`).

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
    /// `/denwa say` by `user` in `channel`: the receipt is an ephemeral note to that user.
    Command { channel: String, user: String },
}

impl Origin {
    pub fn encode(&self) -> String {
        match self {
            Origin::Reply(m) => m.encode(),
            Origin::Command { channel, user } => format!("{channel}:@{user}"),
        }
    }

    pub fn decode(stored: &str) -> Option<Self> {
        let (channel, rest) = stored.split_once(':')?;
        match rest.strip_prefix('@') {
            Some(user) if !channel.is_empty() && !user.is_empty() => Some(Origin::Command {
                channel: channel.into(),
                user: user.into(),
            }),
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
        };
        for origin in [reply, command] {
            assert_eq!(Origin::decode(&origin.encode()), Some(origin));
        }
        assert_eq!(MessageRef::decode("C1:@U2"), None);
        assert_eq!(Origin::decode("nonsense"), None);
    }
}
