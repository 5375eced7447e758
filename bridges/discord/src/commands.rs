//! The slash commands and their registration (`denwa discord register`).
//!
//! Guild commands, not global ones: they appear at once (global commands take up to an hour)
//! and only in the team's server. Registration is a bulk overwrite, so running it again is
//! harmless and removes commands an older denwa defined.

use denwa_chat::{ApiMeter, ApiService};
use serenity::all::{CommandOptionType, CommandType, CreateCommand, CreateCommandOption};

use crate::DiscordConfig;
use crate::rest::{Rest, RestError};

pub const SAY: &str = "say";
pub const HANGUP: &str = "hangup";
pub const CALLS: &str = "calls";
pub const DIAL: &str = "dial";
/// The option naming a call (autocompleted over the active calls).
pub const OPT_CALL: &str = "call";
pub const OPT_TEXT: &str = "text";
/// `/dial`'s number, E.164.
pub const OPT_NUMBER: &str = "number";
/// The Hang up button's `custom_id` is this prefix followed by the call id.
pub const HANGUP_BUTTON: &str = "hangup:";
/// The Join by phone button's `custom_id` is this prefix followed by the call id.
pub const JOIN_BUTTON: &str = "join:";

fn call_option(what: &str) -> CreateCommandOption {
    CreateCommandOption::new(
        CommandOptionType::String,
        OPT_CALL,
        format!("The call to {what} (not needed in a call's thread or with one call)"),
    )
    .set_autocomplete(true)
    .required(false)
}

/// The command definitions, as `PUT /applications/{app}/guilds/{guild}/commands` takes them.
pub fn definitions() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new(SAY)
            .kind(CommandType::ChatInput)
            .description("Say something to the caller")
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    OPT_TEXT,
                    "What the caller will hear",
                )
                .required(true)
                .max_length(4000),
            )
            .add_option(call_option("speak into")),
        CreateCommand::new(HANGUP)
            .kind(CommandType::ChatInput)
            .description("End a call for everyone")
            .add_option(call_option("end")),
        CreateCommand::new(CALLS)
            .kind(CommandType::ChatInput)
            .description("List the active calls"),
        CreateCommand::new(DIAL)
            .kind(CommandType::ChatInput)
            .description("Call a number from the line; the call gets a thread")
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    OPT_NUMBER,
                    "The number to call, in E.164 form (+14155550123)",
                )
                .required(true)
                .max_length(32),
            ),
    ]
}

/// A registered command, as Discord answers it.
#[derive(Debug, serde::Deserialize)]
pub struct Registered {
    pub id: String,
    pub name: String,
}

/// Registers (overwrites) the guild's commands; returns what Discord now has.
pub async fn register_commands(config: &DiscordConfig) -> Result<Vec<Registered>, RestError> {
    let rest = Rest::new(
        &config.api_base,
        &config.bot_token,
        ApiMeter::unobserved(ApiService::Discord),
    )?;
    rest.put(
        &format!(
            "/applications/{}/guilds/{}/commands",
            config.application_id, config.guild_id
        ),
        &definitions(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_have_discords_shape() {
        let json = serde_json::to_value(definitions()).unwrap();
        let say = &json[0];
        assert_eq!(say["name"], "say");
        assert_eq!(say["type"], 1);
        assert_eq!(say["options"][0]["name"], "text");
        assert_eq!(say["options"][0]["type"], 3);
        assert_eq!(say["options"][0]["required"], true);
        assert_eq!(say["options"][1]["name"], "call");
        assert_eq!(say["options"][1]["autocomplete"], true);
        let dial = &json[3];
        assert_eq!(dial["name"], "dial");
        assert_eq!(dial["options"][0]["name"], "number");
        assert_eq!(dial["options"][0]["type"], 3);
        assert_eq!(dial["options"][0]["required"], true);
        for c in json.as_array().unwrap() {
            let d = c["description"].as_str().unwrap();
            assert!((1..=100).contains(&d.chars().count()), "{d}");
            for o in c["options"].as_array().into_iter().flatten() {
                let d = o["description"].as_str().unwrap();
                assert!((1..=100).contains(&d.chars().count()), "{d}");
            }
        }
    }
}
