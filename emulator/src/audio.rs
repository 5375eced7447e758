//! The audio model: what is said, how it is cut into timed tokens, and how a listener's
//! transcript records the tokens it actually heard.
//!
//! A `<Say>` (or a far-end phone speaking) becomes an [`Utterance`]: its text cut into tokens
//! (whitespace-separated words; every CJK character is a token of its own, since those scripts do
//! not separate words with spaces). Tokens are emitted one at a time, [`TOKEN_SECS`] call-seconds
//! apart, and each is delivered to whoever is listening at that instant (routing lives in
//! `state.rs`). A listener's [`Transcript`] turns the tokens it heard back into text: a run of
//! consecutive tokens is the exact substring of the original covering them, so a listener present
//! throughout gets the text byte for byte and one who came late gets a suffix marked incomplete.

use std::collections::HashMap;
use std::sync::Arc;

/// Call-seconds one spoken token takes.
pub const TOKEN_SECS: f64 = 0.3;
/// Call-seconds one loop of a `<Play>` takes (the emulator never downloads media, so every clip
/// is assumed to be this long).
pub const PLAY_SECS: f64 = 1.0;
/// The URL recorded as heard while waiting in a conference with the default `waitUrl`.
pub const DEFAULT_HOLD_MUSIC: &str =
    "http://twimlets.com/holdmusic?Bucket=com.twilio.music.classical";

/// Something a call's far end heard, in the order it began to hear it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Heard {
    /// Text-to-speech from a `<Say>` (of this call, or of another leg or participant that reached
    /// this far end). `text` is the exact substring of the `<Say>` text (trimmed of surrounding
    /// whitespace) covering the tokens heard; `complete` is true when every token was heard.
    Say {
        text: String,
        voice: Option<String>,
        language: Option<String>,
        complete: bool,
    },
    /// Another party's far end speaking (see [`Emulator::speak`](crate::Emulator::speak)).
    Speech {
        speaker: String,
        text: String,
        complete: bool,
    },
    /// A `<Play>` (or the conference hold music, see [`DEFAULT_HOLD_MUSIC`]).
    Play { url: String },
    /// A conference entry/exit beep or the `<Record>` beep.
    Beep,
}

impl Heard {
    /// The words of a `Say` or `Speech`, `None` for other sounds.
    pub fn text(&self) -> Option<&str> {
        match self {
            Heard::Say { text, .. } | Heard::Speech { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether the whole utterance was heard (always true for `Play` and `Beep`).
    pub fn is_complete(&self) -> bool {
        match self {
            Heard::Say { complete, .. } | Heard::Speech { complete, .. } => *complete,
            _ => true,
        }
    }
}

/// Who produced an utterance.
#[derive(Debug, Clone)]
pub(crate) enum Voice {
    Say {
        voice: Option<String>,
        language: Option<String>,
    },
    Speech {
        speaker: String,
    },
}

/// One spoken text, cut into tokens. Every `<Say>` loop iteration is a new utterance, so each
/// repetition is its own transcript entry.
#[derive(Debug)]
pub(crate) struct Utterance {
    pub id: u64,
    pub text: String,
    pub spans: Vec<(usize, usize)>,
    pub voice: Voice,
}

impl Utterance {
    pub(crate) fn new(id: u64, text: &str, voice: Voice) -> Arc<Self> {
        let text = text.trim().to_string();
        let spans = tokenize(&text);
        Arc::new(Utterance {
            id,
            text,
            spans,
            voice,
        })
    }

    fn heard(&self, first: usize, last: usize) -> Heard {
        let text = self.text[self.spans[first].0..self.spans[last].1].to_string();
        let complete = first == 0 && last + 1 == self.spans.len();
        match &self.voice {
            Voice::Say { voice, language } => Heard::Say {
                text,
                voice: voice.clone(),
                language: language.clone(),
                complete,
            },
            Voice::Speech { speaker } => Heard::Speech {
                speaker: speaker.clone(),
                text,
                complete,
            },
        }
    }
}

/// A unit of sound travelling through the emulated network at one instant.
#[derive(Debug, Clone)]
pub(crate) enum Sound {
    Token { utt: Arc<Utterance>, idx: usize },
    Play { url: String },
    Beep,
}

/// Scripts written without spaces between words: each character is spoken as its own token.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F   // CJK symbols and punctuation
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3100..=0x312F // Bopomofo
        | 0x31F0..=0x31FF // Katakana phonetic extensions
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xFF00..=0xFFEF // Half/full-width forms
        | 0x20000..=0x3FFFF)
}

/// Byte spans of the tokens of `text`.
pub(crate) fn tokenize(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() || is_cjk(c) {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
            if is_cjk(c) {
                out.push((i, i + c.len_utf8()));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// What one listener heard, built token by token.
#[derive(Debug, Default, Clone)]
pub(crate) struct Transcript {
    pub entries: Vec<Heard>,
    /// Utterance id -> (first token, last token, entry index) of the run being extended.
    runs: HashMap<u64, (usize, usize, usize)>,
}

impl Transcript {
    /// Records a sound; returns the index and new value of the entry it created or extended.
    pub(crate) fn hear(&mut self, sound: &Sound) -> (usize, Heard) {
        match sound {
            Sound::Token { utt, idx } => {
                let idx = *idx;
                match self.runs.get(&utt.id).copied() {
                    // Consecutive token: the run grows.
                    Some((first, last, entry)) if idx == last + 1 => {
                        let h = utt.heard(first, idx);
                        self.entries[entry] = h.clone();
                        self.runs.insert(utt.id, (first, idx, entry));
                        (entry, h)
                    }
                    // First token heard, or a gap (muted, on hold, left and came back): a new entry.
                    _ => {
                        let h = utt.heard(idx, idx);
                        self.entries.push(h.clone());
                        let entry = self.entries.len() - 1;
                        self.runs.insert(utt.id, (idx, idx, entry));
                        (entry, h)
                    }
                }
            }
            Sound::Play { url } => {
                self.entries.push(Heard::Play { url: url.clone() });
                (
                    self.entries.len() - 1,
                    self.entries[self.entries.len() - 1].clone(),
                )
            }
            Sound::Beep => {
                self.entries.push(Heard::Beep);
                (self.entries.len() - 1, Heard::Beep)
            }
        }
    }

    /// The words heard, entries joined by a space (used for transcriptions and speech results).
    pub(crate) fn text(&self) -> String {
        self.entries
            .iter()
            .filter_map(Heard::text)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text)
            .into_iter()
            .map(|(a, b)| &text[a..b])
            .collect()
    }

    #[test]
    fn tokenizes_words_and_cjk() {
        assert_eq!(words("  Hello,  world "), vec!["Hello,", "world"]);
        assert_eq!(
            words("こんにちは世界"),
            vec!["こ", "ん", "に", "ち", "は", "世", "界"]
        );
        assert_eq!(
            words("call 田中さん now"),
            vec!["call", "田", "中", "さ", "ん", "now"]
        );
        assert!(words("   ").is_empty());
    }

    #[test]
    fn transcript_keeps_exact_substrings() {
        let utt = Utterance::new(
            1,
            " one  two three ",
            Voice::Speech {
                speaker: "x".into(),
            },
        );
        let mut t = Transcript::default();
        for idx in 0..3 {
            t.hear(&Sound::Token {
                utt: utt.clone(),
                idx,
            });
        }
        assert_eq!(
            t.entries,
            vec![Heard::Speech {
                speaker: "x".into(),
                text: "one  two three".into(),
                complete: true
            }]
        );

        let mut late = Transcript::default();
        late.hear(&Sound::Token {
            utt: utt.clone(),
            idx: 1,
        });
        late.hear(&Sound::Token {
            utt: utt.clone(),
            idx: 2,
        });
        assert_eq!(late.entries[0].text(), Some("two three"));
        assert!(!late.entries[0].is_complete());

        let mut gap = Transcript::default();
        gap.hear(&Sound::Token {
            utt: utt.clone(),
            idx: 0,
        });
        gap.hear(&Sound::Token { utt, idx: 2 });
        assert_eq!(gap.entries.len(), 2);
        assert_eq!(gap.text(), "one three");
    }
}
