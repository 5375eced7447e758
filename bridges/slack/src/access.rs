//! Who may speak to the caller and hang up: `slack.allowed_users` and the members of
//! `slack.allowed_user_groups`; with both empty, anyone who can post in the channel.
//!
//! "Anyone in the channel" needs the channel to be checked: a slash command can be run from any
//! channel or DM of the workspace, and a click comes from wherever the message is. So without
//! allow-lists a command or click counts only from the configured channel ([`Access::permits`]);
//! allowed users may act from anywhere.

use denwa_chat::LineChannels;

use crate::api::SlackApi;

/// What someone who may not act is told (ephemerally).
pub const NOT_ALLOWED: &str = "Sorry, you are not allowed to speak on this line. \
     Ask whoever runs denwa to add you to `slack.allowed_users` (or to an allowed user group).";

/// What someone acting outside the configured channel is told when there are no allow-lists.
fn outside(home: &str) -> String {
    format!(
        "denwa's commands and buttons work in <#{home}>. To use them elsewhere, ask whoever runs \
         denwa to add you to `slack.allowed_users` (or to an allowed user group)."
    )
}

pub struct Access {
    users: Vec<String>,
    groups: Vec<String>,
}

impl Access {
    pub fn new(users: Vec<String>, groups: Vec<String>) -> Self {
        Self { users, groups }
    }

    /// Whether the lists are empty, i.e. membership of the configured channel is the only check.
    fn is_open(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Whether `user`, acting from `channel` (`None` if Slack did not say), may act; `Err` holds
    /// what they are told. Without allow-lists only the channels calls are announced in count.
    pub async fn permits(
        &self,
        api: &SlackApi,
        user: &str,
        channel: Option<&str>,
        home: &LineChannels,
    ) -> Result<(), String> {
        if self.is_open() {
            return if channel.is_some_and(|c| home.contains(c)) {
                Ok(())
            } else {
                Err(outside(home.home()))
            };
        }
        if self.allows(api, user).await {
            Ok(())
        } else {
            Err(NOT_ALLOWED.to_owned())
        }
    }

    /// Whether `user` may act. When Slack cannot tell us a group's members, the answer is no
    /// (and the reason is logged): an outage must not open the line to everyone.
    pub async fn allows(&self, api: &SlackApi, user: &str) -> bool {
        if self.is_open() {
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
