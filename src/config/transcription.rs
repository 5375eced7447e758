//! `[transcription]`: live transcription of the caller into the call's thread (Twilio Real-Time
//! Transcriptions, `<Start><Transcription>`; see docs/protocols.md).

use super::reader::Raw;

/// Said to every caller before transcription starts, unless `transcription.notice` says
/// otherwise: callers are told their words are written down (consent law in many places
/// requires it).
pub const DEFAULT_NOTICE: &str = "This call is transcribed so that our team can read along.";

/// The longest notice: one `<Say>` well within Twilio's limits (docs/protocols.md).
const MAX_NOTICE_CHARS: usize = 1_000;

/// The speech-to-text engine Twilio uses (`transcriptionEngine`); Twilio's default when unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptionEngine {
    Google,
    Deepgram,
}

impl TranscriptionEngine {
    pub fn as_str(self) -> &'static str {
        match self {
            TranscriptionEngine::Google => "google",
            TranscriptionEngine::Deepgram => "deepgram",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionSettings {
    pub enabled: bool,
    /// BCP-47, e.g. `en-US`: `transcription.language`, else `speech.language`, else `en-US`.
    pub language: String,
    pub engine: Option<TranscriptionEngine>,
    /// Said once before transcription starts; `None` when set to `""`.
    pub notice: Option<String>,
}

impl Raw {
    /// `speech_language` is `speech.language`, the default for `transcription.language`.
    pub(super) fn transcription(
        &mut self,
        speech_language: Option<&str>,
    ) -> Option<TranscriptionSettings> {
        let enabled = self.boolean("transcription", "enabled", false);
        let language = match self.string("transcription", "language") {
            Some(language) if is_language_tag(language.trim()) => language.trim().to_owned(),
            Some(language) => {
                self.problem(
                    "transcription.language",
                    format!("{language:?} is not a BCP-47 language code like \"en-US\""),
                );
                return None;
            }
            None => speech_language.unwrap_or("en-US").to_owned(),
        };
        let engine = match self.string("transcription", "engine").as_deref() {
            None | Some("") => None,
            Some("google") => Some(TranscriptionEngine::Google),
            Some("deepgram") => Some(TranscriptionEngine::Deepgram),
            Some(other) => {
                self.problem(
                    "transcription.engine",
                    format!("{other:?} is not one of \"google\", \"deepgram\""),
                );
                return None;
            }
        };
        let notice = match self.string("transcription", "notice") {
            None => Some(DEFAULT_NOTICE.to_owned()),
            Some(text) if text.trim().is_empty() => None,
            Some(text) if text.chars().count() > MAX_NOTICE_CHARS => {
                self.problem(
                    "transcription.notice",
                    format!("is longer than {MAX_NOTICE_CHARS} characters"),
                );
                return None;
            }
            Some(text) => Some(text.trim().to_owned()),
        };
        Some(TranscriptionSettings {
            enabled,
            language,
            engine,
            notice,
        })
    }
}

/// A BCP-47 tag's shape: subtags of 1-8 letters or digits joined by `-`, the first letters only.
/// Twilio checks the language itself; this catches typos and anything that is no tag at all.
pub(super) fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let first_ok = subtags
        .next()
        .is_some_and(|s| (2..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::is_language_tag;

    #[test]
    fn language_tags_are_checked_for_shape() {
        for good in ["en-US", "ja-JP", "en", "zh-Hant-TW", "es-419"] {
            assert!(is_language_tag(good), "{good}");
        }
        for bad in [
            "",
            "e",
            "en_US",
            "en-",
            "-US",
            "en US",
            "1a-US",
            "en-toolongsubtag",
        ] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
