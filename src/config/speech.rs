//! `[speech]`: how messages are spoken, and the limits on them.

use std::time::Duration;

use super::reader::Raw;
use super::transcription::is_language_tag;

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

impl SpeechStrategy {
    /// The value of `speech.strategy` that names it.
    pub fn as_str(self) -> &'static str {
        match self {
            SpeechStrategy::SelfDial => "self-dial",
            SpeechStrategy::Announce => "announce",
            SpeechStrategy::Auto => "auto",
        }
    }
}

/// How a line speaks: the keys of `[speech]` a `[[lines]]` table may set for itself in its
/// `speech` table (the rest of `[speech]` bounds the process, so it stays one for all lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSpeech {
    pub strategy: SpeechStrategy,
    /// Twilio's `<Say voice>`: `man`, `woman`, `alice`, `Polly.Mizuki`, ...; Twilio's default
    /// when unset.
    pub voice: Option<String>,
    /// Twilio's `<Say language>` (BCP-47); Twilio's default when unset. Also the default of the
    /// line's `transcription.language`.
    pub language: Option<String>,
}

/// The longest voice name accepted: Twilio's are under 40 characters (`Google.cmn-CN-Wavenet-A`).
const MAX_VOICE_CHARS: usize = 64;

#[derive(Debug, Clone)]
pub struct SpeechSettings {
    /// The default line's, and every other line's where its `speech` table does not say.
    pub line: LineSpeech,
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
        let line = self.line_speech();
        let max_attempts = self.integer("speech", "max_attempts", 3, (1, 10)) as u32;
        let join_timeout =
            Duration::from_secs(self.integer("speech", "join_timeout", 30, (5, 300)));
        let max_message_chars =
            self.integer("speech", "max_message_chars", 10_000, (1, 100_000)) as usize;
        let linger = Duration::from_secs(self.integer("speech", "linger", 3, (0, 30)));
        let max_queued = self.integer("speech", "max_queued", 100, (1, 10_000)) as usize;
        let max_per_minute = self.integer("speech", "max_per_minute", 60, (1, 10_000)) as usize;
        Some(SpeechSettings {
            line: line?,
            max_attempts,
            join_timeout,
            max_message_chars,
            linger,
            max_queued,
            max_per_minute,
        })
    }

    /// The per-line keys of the `speech` section of this `Raw`: `[speech]`, or a line's
    /// `speech` table overlaid on it (see `config/lines.rs`).
    pub(super) fn line_speech(&mut self) -> Option<LineSpeech> {
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
        // Every key is read (and so checked) before a bad one makes the whole `None`.
        let mut ok = true;
        let voice = match self.string("speech", "voice").map(|v| v.trim().to_owned()) {
            Some(v) if v.is_empty() => None,
            Some(v) if !is_voice_name(&v) => {
                self.problem(
                    "speech.voice",
                    format!(
                        "{v:?} is not a Twilio voice name like \"alice\" or \"Polly.Mizuki\" (letters, digits, '.', '-', '_'; at most {MAX_VOICE_CHARS})"
                    ),
                );
                ok = false;
                None
            }
            v => v,
        };
        let language = match self
            .string("speech", "language")
            .map(|l| l.trim().to_owned())
        {
            Some(l) if l.is_empty() => None,
            Some(l) if !is_language_tag(&l) => {
                self.problem(
                    "speech.language",
                    format!("{l:?} is not a BCP-47 language code like \"en-US\""),
                );
                ok = false;
                None
            }
            l => l,
        };
        ok.then_some(LineSpeech {
            strategy: strategy?,
            voice,
            language,
        })
    }
}

/// A voice name's shape: Twilio checks the voice itself; this catches typos and anything that
/// is no name at all (a sentence pasted in the wrong key).
fn is_voice_name(voice: &str) -> bool {
    voice.len() <= MAX_VOICE_CHARS
        && voice
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
