//! `[speech]`: how messages are spoken, and the limits on them.

use std::time::Duration;

use super::reader::Raw;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechStrategy {
    /// Twilio dials the line's own number; that second leg joins the conference and speaks.
    SelfDial,
    /// Twilio's conference announce API (no extra call leg).
    Announce,
    /// Announce, and for a call whose announcement Twilio refuses (a REST error: an account or
    /// region without the API, a conference Twilio will not announce into), self-dial from then
    /// on.
    Auto,
}

#[derive(Debug, Clone)]
pub struct SpeechSettings {
    pub strategy: SpeechStrategy,
    pub voice: Option<String>,
    pub language: Option<String>,
    /// How often an unspoken message is tried again before it is reported failed.
    pub max_attempts: u32,
    /// How long a speaker leg waits for its inbound half to join the conference.
    pub join_timeout: Duration,
    /// The longest message accepted, in characters.
    pub max_message_chars: usize,
    /// How long a speaker leg with nothing left to say waits for more before hanging up: people
    /// type in bursts, and a few idle seconds cost less than another leg.
    pub linger: Duration,
    /// The most messages one call may have waiting (queued or being spoken); beyond it a say is
    /// refused. Every message costs money, and a queue nobody can hear to the end helps no one.
    pub max_queued: usize,
    /// The most messages one call accepts per rolling minute.
    pub max_per_minute: usize,
}

impl Raw {
    pub(super) fn speech(&mut self) -> Option<SpeechSettings> {
        let strategy = match self.string("speech", "strategy").as_deref() {
            None | Some("self-dial") => Some(SpeechStrategy::SelfDial),
            Some("announce") => Some(SpeechStrategy::Announce),
            Some("auto") => Some(SpeechStrategy::Auto),
            Some(other) => {
                self.problem(
                    "speech.strategy",
                    format!("{other:?} is not one of \"self-dial\", \"announce\", \"auto\""),
                );
                None
            }
        };
        let voice = self.string("speech", "voice").filter(|v| !v.is_empty());
        let language = self.string("speech", "language").filter(|v| !v.is_empty());
        let max_attempts = self.integer("speech", "max_attempts", 3, (1, 10)) as u32;
        let join_timeout =
            Duration::from_secs(self.integer("speech", "join_timeout", 30, (5, 300)));
        let max_message_chars =
            self.integer("speech", "max_message_chars", 10_000, (1, 100_000)) as usize;
        let linger = Duration::from_secs(self.integer("speech", "linger", 3, (0, 30)));
        let max_queued = self.integer("speech", "max_queued", 100, (1, 10_000)) as usize;
        let max_per_minute = self.integer("speech", "max_per_minute", 60, (1, 10_000)) as usize;
        Some(SpeechSettings {
            strategy: strategy?,
            voice,
            language,
            max_attempts,
            join_timeout,
            max_message_chars,
            linger,
            max_queued,
            max_per_minute,
        })
    }
}
