//! Where each line's calls are announced on one chat platform: a bridge's channel per line,
//! several lines possibly sharing one.

use crate::LineId;

/// A bridge's channels: `home` (its configured channel, the default line's) and each line's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineChannels {
    home: String,
    by_line: Vec<(LineId, String)>,
}

impl LineChannels {
    /// `by_line` may be empty (one line): every call goes to `home`.
    pub fn new(home: impl Into<String>, by_line: Vec<(LineId, String)>) -> Self {
        Self {
            home: home.into(),
            by_line,
        }
    }

    /// The channel calls of `line` are announced in; `home` for a line it does not know.
    pub fn for_line(&self, line: &LineId) -> &str {
        self.by_line
            .iter()
            .find(|(id, _)| id == line)
            .map_or(self.home.as_str(), |(_, channel)| channel.as_str())
    }

    /// The configured channel (the default line's).
    pub fn home(&self) -> &str {
        &self.home
    }

    /// Whether calls of some line are announced in `channel`: where replies and commands count.
    pub fn contains(&self, channel: &str) -> bool {
        self.home == channel || self.by_line.iter().any(|(_, c)| c == channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_has_its_channel_and_unknown_lines_go_home() {
        let id = |s: &str| LineId::parse(s).unwrap();
        let channels = LineChannels::new(
            "C1",
            vec![(id("main"), "C1".into()), (id("billing"), "C2".into())],
        );
        assert_eq!(channels.for_line(&id("billing")), "C2");
        assert_eq!(channels.for_line(&id("main")), "C1");
        assert_eq!(channels.for_line(&id("gone")), "C1");
        assert!(channels.contains("C2") && channels.contains("C1") && !channels.contains("C3"));
    }
}
