//! A message as the speaker says it: `<Say>`-sized pieces, each with its cost in TwiML bytes.
//!
//! Twilio refuses a TwiML response over 64 kB (error 11750), and a message may be up to
//! `speech.max_message_chars` (100,000 at most) characters, escaped in XML (`&quot;` is six bytes
//! for one character). So a speaker's turn is not "a batch of messages" but "the pieces that fit
//! [`TURN_BUDGET_BYTES`]": a long message is said over several turns, a piece at a time, and a
//! burst of long messages waits for the next turn rather than breaking the document.
//!
//! The pieces are cut once, when the message is stored, and kept beside it as byte ranges of its
//! text with their costs: the store's turn script adds costs up without knowing TwiML, and a
//! change of voice (and so of `<Say>` limits) between storing and speaking cannot shift a range
//! that is half said.
//!
//! They are cut before the store says which line the message's call is on (it answers in the
//! round trip that stores them), so for every line's voice at once: within the strictest of
//! their limits, each costed as the widest of their `<Say>`s. With one voice for all lines
//! (the usual), that is exactly that voice's.

use super::SpeechContext;
use super::split::{SayLimits, split_for_say};
use crate::config::LineSpeech;
use crate::domain::Piece;
use crate::twiml::{Play, VoiceResponse};

/// The most TwiML bytes of `<Say>`/`<Play>` one turn says: a quarter of Twilio's 64 kB limit,
/// far from it whatever Twilio counts that we do not. Not more, because a turn's lease lasts as
/// long as its speech (a leg lost mid-turn holds the call that long), and the `<Redirect>` between
/// turns costs nothing the caller hears. One piece costs at most about 9 kB (1,500 characters of
/// `"`, each `&quot;`), and a turn always takes at least one.
pub const TURN_BUDGET_BYTES: usize = 16 * 1024;

/// Cuts `text` (already normalised: single spaces) into pieces for every line's voice.
pub fn plan(speech: &SpeechContext, text: &str, audio_url: Option<&str>) -> Vec<Piece> {
    let mut voices: Vec<&LineSpeech> = Vec::new();
    for line in speech.lines().all() {
        if !voices
            .iter()
            .any(|v| v.voice == line.speech.voice && v.language == line.speech.language)
        {
            voices.push(&line.speech);
        }
    }
    let limits = voices
        .iter()
        .map(|v| SayLimits::for_voice(v.voice.as_deref()))
        .reduce(SayLimits::within)
        .unwrap_or_else(|| SayLimits::for_voice(None));
    let empty = VoiceResponse::new().to_xml().len();
    let cost = |piece: &str, audio: Option<&str>| {
        voices
            .iter()
            .map(|v| {
                let mut response = VoiceResponse::new().say(super::say_verb(v, piece));
                if let Some(url) = audio {
                    response = response.play(Play::new(url));
                }
                response.to_xml().len().saturating_sub(empty)
            })
            .max()
            .unwrap_or_default()
    };
    let mut start = 0;
    let mut pieces = Vec::new();
    for (i, piece) in split_for_say(text, limits).into_iter().enumerate() {
        // `split_for_say` keeps the text's order and drops only the single spaces between
        // pieces, so each piece is found at or just after where the previous one ended.
        let at = text[start..]
            .find(piece.as_str())
            .map_or(start, |o| start + o);
        let end = at + piece.len();
        let audio = audio_url.filter(|_| i == 0);
        pieces.push(Piece {
            start: at,
            end,
            cost: cost(&piece, audio),
        });
        start = end;
    }
    pieces
}
