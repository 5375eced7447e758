//! Mentions: the people, channels and groups a chat message names by id, and the names a bridge
//! found for them, so the caller hears "Alice" rather than an id.
//!
//! Each bridge parses its own mention markup (Slack's `<@U123>`, Discord's `<@123>`) and looks
//! names up in its own directory; what they share is this: every id once, in the order first
//! mentioned, looked up once, and a name or nothing for each.

use std::collections::HashMap;

/// What a mentioned id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MentionKind {
    User,
    Channel,
    /// A group of people: a Slack user group, a Discord role.
    Group,
}

/// The ids a message mentions, each once, in the order first mentioned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mentions {
    pub users: Vec<String>,
    pub channels: Vec<String>,
    pub groups: Vec<String>,
}

impl Mentions {
    /// Adds `id`, unless it is already listed.
    pub fn add(&mut self, kind: MentionKind, id: &str) {
        let list = match kind {
            MentionKind::User => &mut self.users,
            MentionKind::Channel => &mut self.channels,
            MentionKind::Group => &mut self.groups,
        };
        if !list.iter().any(|known| known == id) {
            list.push(id.to_owned());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.channels.is_empty() && self.groups.is_empty()
    }
}

/// Names a bridge found for mentioned ids; a mention without one is spoken with the bridge's
/// generic word ("someone", "a channel").
#[derive(Debug, Default, Clone)]
pub struct Names(HashMap<(MentionKind, String), String>);

impl Names {
    pub fn insert(&mut self, kind: MentionKind, id: impl Into<String>, name: impl Into<String>) {
        self.0.insert((kind, id.into()), name.into());
    }

    pub fn get(&self, kind: MentionKind, id: &str) -> Option<&str> {
        self.0.get(&(kind, id.to_owned())).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_id_is_listed_once_in_order() {
        let mut m = Mentions::default();
        assert!(m.is_empty());
        for (kind, id) in [
            (MentionKind::User, "2"),
            (MentionKind::User, "1"),
            (MentionKind::User, "2"),
            (MentionKind::Group, "3"),
            (MentionKind::Channel, "2"),
        ] {
            m.add(kind, id);
        }
        assert_eq!(m.users, ["2", "1"]);
        assert_eq!(m.groups, ["3"]);
        assert_eq!(m.channels, ["2"]);
    }

    #[test]
    fn names_are_kept_per_kind() {
        let mut names = Names::default();
        names.insert(MentionKind::User, "1", "Nelly");
        assert_eq!(names.get(MentionKind::User, "1"), Some("Nelly"));
        assert_eq!(names.get(MentionKind::Channel, "1"), None);
    }
}
