//! Who may speak to the caller and hang up: `slack.allowed_users` and the members of
//! `slack.allowed_user_groups`; with both empty, anyone who can post in the channel.

use crate::api::SlackApi;

/// What someone who may not act is told (ephemerally).
pub const NOT_ALLOWED: &str = "Sorry, you are not allowed to speak on this line. \
     Ask whoever runs denwa to add you to `slack.allowed_users` (or to an allowed user group).";

pub struct Access {
    users: Vec<String>,
    groups: Vec<String>,
}

impl Access {
    pub fn new(users: Vec<String>, groups: Vec<String>) -> Self {
        Self { users, groups }
    }

    /// Whether `user` may act. When Slack cannot tell us a group's members, the answer is no
    /// (and the reason is logged): an outage must not open the line to everyone.
    pub async fn allows(&self, api: &SlackApi, user: &str) -> bool {
        if self.users.is_empty() && self.groups.is_empty() {
            return true;
        }
        if self.users.iter().any(|u| u == user) {
            return true;
        }
        for group in &self.groups {
            match api.group_members(group).await {
                Ok(members) if members.iter().any(|m| m == user) => return true,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(group, error = %e, "cannot read a user group's members")
                }
            }
        }
        false
    }
}
