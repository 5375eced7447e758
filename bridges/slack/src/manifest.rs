//! The Slack app manifest `denwa slack manifest` prints: paste it at api.slack.com/apps ("Create
//! New App" -> "From an app manifest") and every URL, scope and event is already right.

use url::Url;

/// Bot scopes: post and update messages, react (receipts), read names (mentions spoken as
/// names), read user groups (`allowed_user_groups`), hear messages in public and private
/// channels, and the slash command.
pub const BOT_SCOPES: &[&str] = &[
    "chat:write",
    "reactions:write",
    "users:read",
    "usergroups:read",
    "channels:history",
    "groups:history",
    "commands",
];

/// The manifest (JSON) for an app named after the line, reaching denwa at `public_url`.
pub fn manifest(public_url: &Url, line_name: &str) -> String {
    let base = public_url.as_str().trim_end_matches('/');
    let url = |path: &str| format!("{base}{path}");
    let name: String = format!("denwa {line_name}").chars().take(35).collect();
    let value = serde_json::json!({
        "_metadata": { "major_version": 1, "minor_version": 1 },
        "display_information": {
            "name": name,
            "description": "Answer the phone line from Slack: replies in a call's thread are spoken to the caller.",
        },
        "features": {
            "bot_user": { "display_name": "denwa", "always_online": true },
            "slash_commands": [{
                "command": "/denwa",
                "url": url("/slack/commands"),
                "description": "List active calls, speak to a caller, or call a number",
                "usage_hint": "calls | say [call id] <text> | dial <number> | help",
                "should_escape": false,
            }],
        },
        "oauth_config": { "scopes": { "bot": BOT_SCOPES } },
        "settings": {
            "event_subscriptions": {
                "request_url": url("/slack/events"),
                "bot_events": ["message.channels", "message.groups"],
            },
            "interactivity": { "is_enabled": true, "request_url": url("/slack/interactions") },
            "org_deploy_enabled": false,
            "socket_mode_enabled": false,
            "token_rotation_enabled": false,
        },
    });
    serde_json::to_string_pretty(&value).expect("a JSON value always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_the_public_urls_path_prefix() {
        let m: serde_json::Value = serde_json::from_str(&manifest(
            &"https://example.com/phone/".parse().unwrap(),
            "Support",
        ))
        .unwrap();
        assert_eq!(
            m["settings"]["event_subscriptions"]["request_url"],
            "https://example.com/phone/slack/events"
        );
        assert_eq!(
            m["features"]["slash_commands"][0]["url"],
            "https://example.com/phone/slack/commands"
        );
        assert_eq!(
            m["oauth_config"]["scopes"]["bot"].as_array().unwrap().len(),
            7
        );
    }
}
