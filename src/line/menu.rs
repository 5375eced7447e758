//! A line's keypad menu: "for billing press 1". The caller's key picks the line (of those
//! sharing the menu line's number) the call is recorded on, announced in and rung for.
//!
//! Nothing is recorded while the caller is choosing: which menu and which try it is travel in
//! the Gather's action URL, which Twilio signs, so whichever replica gets the action can carry
//! on; the choice is then stored with the call in Redis (`line`, `menu_choice`), created once
//! per CallSid, so a repeated action gets the same answer.

use super::Line;
use super::incoming::VoiceParams;
use crate::config::{LineConfig, MenuSettings};
use crate::domain::LineId;
use crate::twiml::{Gather, GatherInput, HttpMethod, VoiceResponse};

/// Stored as the call's `menu_choice` when the caller pressed no key (or only wrong ones) and
/// was taken to the menu's default line.
pub const NO_CHOICE: &str = "none";

impl Line {
    /// The menu of `line`, offered for the `attempt`th time (0 first), after what `response`
    /// already says.
    pub(crate) fn offer_menu(
        &self,
        response: VoiceResponse,
        line: &LineConfig,
        menu: &MenuSettings,
        call: &VoiceParams,
        attempt: u32,
    ) -> VoiceResponse {
        tracing::info!(call_sid = %call.call_sid, line = %line.id(), attempt, "offering the menu");
        let attempt = attempt.to_string();
        let action = self.public_url(
            "/twilio/menu",
            &[("line", line.id().as_str()), ("attempt", attempt.as_str())],
        );
        response.gather(
            Gather::new()
                .input(GatherInput::Dtmf)
                .num_digits(1)
                .timeout(menu.timeout)
                .action(action.as_str())
                .method(HttpMethod::Post)
                // No key is an answer too: the default line.
                .action_on_empty_result(true)
                .say(self.say_verb(line, &menu.prompt)),
        )
    }

    /// The caller pressed `digits` (empty: no key within the timeout) at try `attempt` of the
    /// menu of line `menu_line`.
    pub async fn menu_chosen(
        &self,
        call: &VoiceParams,
        menu_line: &LineId,
        attempt: u32,
        digits: &str,
    ) -> VoiceResponse {
        let Some((line, menu)) = self
            .lines()
            .get(menu_line)
            .and_then(|l| Some((l, l.settings.menu.as_ref()?)))
        else {
            // The menu is gone (the configuration changed mid-call): the number's line now.
            tracing::info!(call_sid = %call.call_sid, "a menu choice for a menu no longer configured");
            return self.answer_call(call.clone()).await;
        };
        let (target, choice) = match menu.choice(digits) {
            Some(target) => (target, digits),
            None if !digits.is_empty() && attempt + 1 < menu.attempts => {
                tracing::info!(call_sid = %call.call_sid, "a key that is no choice: the menu again");
                let sorry = VoiceResponse::new()
                    .say(self.say_verb(line, "Sorry, that is not one of the choices."));
                return self.offer_menu(sorry, line, menu, call, attempt + 1);
            }
            None => (&menu.default, NO_CHOICE),
        };
        let Some(target) = self.lines().get(target) else {
            // `denwa check` makes sure a menu names lines that exist.
            return VoiceResponse::new().hangup();
        };
        tracing::info!(call_sid = %call.call_sid, line = %target.id(), "menu choice made");
        self.take_call(call, target, Some(choice)).await
    }
}
