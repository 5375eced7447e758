//! The speech pipeline: queued messages become words in the caller's conference.
//!
//! Messages wait in a per-call queue in the store. One speaker at a time per call (a lock in the
//! store) takes everything queued and says it, in order:
//! - [`self_dial`] (default): Twilio dials the line's own number; that leg proves itself with a
//!   one-time code, joins the conference, and its twin says the messages.
//! - [`announce`]: Twilio's conference announcement API plays the messages.
//!
//! [`split`] cuts long texts into pieces every `<Say>` accepts.

pub mod announce;
pub mod self_dial;
pub mod split;

use crate::config::SpeechStrategy;
use crate::domain::CallId;
use crate::line::Line;

/// Starts a speaker for call `id` if something is queued and nobody is speaking. Runs in the
/// background: dialling Twilio must not hold up the chat user or the webhook that triggered it.
pub fn kick(line: &Line, id: &CallId) {
    let line = line.clone();
    let id = id.clone();
    tokio::spawn(async move {
        match line.settings().speech.strategy {
            SpeechStrategy::SelfDial => self_dial::start(&line, &id).await,
            SpeechStrategy::Announce => announce::start(&line, &id).await,
        }
    });
}

/// Appends `<Say>`s for each text, split so that every piece meets Twilio's limits for the
/// configured voice.
pub(crate) fn say_all<'a>(
    line: &Line,
    mut response: crate::twiml::VoiceResponse,
    texts: impl IntoIterator<Item = &'a str>,
) -> crate::twiml::VoiceResponse {
    let limits = split::SayLimits::for_voice(line.settings().speech.voice.as_deref());
    for text in texts {
        for piece in split::split_for_say(text, limits) {
            response = response.say(line.say(&piece));
        }
    }
    response
}
