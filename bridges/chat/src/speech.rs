//! Speakable text: what every bridge does to a chat message once its platform's markup is
//! parsed, so that a caller hears the same of the same words whichever chat they came from.
//!
//! A bridge turns its platform's markup (Slack's `<@U123>` and `*bold*`, Discord's `<@123>` and
//! `**bold**`) into plain text, marking with [`GAP`] each place where markup stood for nothing
//! speakable (a custom emoji, a `:shortcode:`); [`speakable`] does the rest, the same for all:
//! 1. Unicode emoji are dropped: pictographs, ZWJ sequences, variation selectors, skin tones,
//!    keycaps, regional-indicator flags and tag sequences. Symbols that are text by default
//!    (`©`, `™`, `↔`) are dropped only when written with the emoji variation selector, and other
//!    symbols (`→`) are kept: a voice reads them;
//! 2. whitespace (including line breaks) is collapsed to single spaces and trimmed. Where an emoji
//!    or a gap was removed, no space is left before closing punctuation (`Thanks 🙏!` reads
//!    "Thanks!") and, between two words, a space is kept (`great🎉job` reads "great job");
//!    brackets left empty by a removal go too (`ok (🎉)` reads "ok").
//!
//! Text with no letter or digit left (only emoji, only punctuation, empty) becomes `""`: the line
//! treats that as "nothing to say".
//!
//! Japanese and Chinese do not put spaces around words, so their characters count as word
//! boundaries: for [`is_word`] (which the bridges use to tell formatting marks from characters
//! inside a word: `これは*重要*です` reads "これは重要です") and for the space kept at a gap.

/// Marks, in text given to [`speakable`], a place where markup stood for nothing speakable: no
/// space is left there before closing punctuation, one is kept between two words. Private use:
/// unspeakable, and never in what [`speakable`] returns.
pub const GAP: char = '\u{E001}';
const ZWJ: char = '\u{200D}';
const EMOJI_PRESENTATION: char = '\u{FE0F}';
const KEYCAP: char = '\u{20E3}';

/// `text`, cleaned of its platform's markup, as the caller should hear it; see the
/// [module documentation](self). `""` when nothing speakable is left. Linear in the input.
pub fn speakable(text: &str) -> String {
    let items: Vec<Item> = text.chars().map(Item::from_char).collect();
    finish(&drop_emoji(&items))
}

/// A letter or digit of a script that separates words with spaces. Japanese and Chinese
/// characters count as boundaries.
pub fn is_word(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Char(char),
    Space,
    Gap,
}

impl Item {
    fn from_char(c: char) -> Self {
        match c {
            GAP => Item::Gap,
            c if c.is_whitespace() => Item::Space,
            c => Item::Char(c),
        }
    }
}

/// Always an emoji or an unspeakable pictograph.
fn is_pictograph(c: char) -> bool {
    matches!(c,
        '\u{1F000}'..='\u{1FAFF}'   // mahjong .. symbols and pictographs extended-A, flags, skin tones
        | '\u{2600}'..='\u{2775}'   // miscellaneous symbols, dingbats
        | '\u{2794}'..='\u{27BF}'   // (dingbats, leaving out the circled digits between)
        | '\u{231A}' | '\u{231B}' | '\u{2328}' | '\u{23CF}'
        | '\u{23E9}'..='\u{23F3}'
        | '\u{23F8}'..='\u{23FA}'
        | '\u{2B05}'..='\u{2B07}'
        | '\u{2B1B}' | '\u{2B1C}' | '\u{2B50}' | '\u{2B55}'
    )
}

/// Text by default; an emoji only when followed by the emoji variation selector.
fn is_text_default(c: char) -> bool {
    matches!(c,
        '\u{A9}' | '\u{AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}' | '\u{2139}'
        | '\u{2194}'..='\u{2199}'
        | '\u{21A9}' | '\u{21AA}' | '\u{24C2}' | '\u{25AA}' | '\u{25AB}' | '\u{25B6}' | '\u{25C0}'
        | '\u{25FB}'..='\u{25FE}'
        | '\u{2934}' | '\u{2935}' | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}'
    )
}

/// Characters with no sound of their own: selectors, tags, zero-width marks, controls.
fn is_silent(c: char) -> bool {
    matches!(c,
        '\u{FE00}'..='\u{FE0F}'     // variation selectors
        | '\u{E0000}'..='\u{E007F}' // tags (subdivision flags)
        | KEYCAP
        | '\u{200B}' | '\u{2060}' | '\u{FEFF}'
    ) || (c.is_control() && !c.is_whitespace())
}

fn drop_emoji(items: &[Item]) -> Vec<Item> {
    let char_at = |i: usize| match items.get(i) {
        Some(Item::Char(c)) => Some(*c),
        _ => None,
    };
    let mut out = Vec::with_capacity(items.len());
    let mut i = 0;
    while i < items.len() {
        let Item::Char(c) = items[i] else {
            out.push(items[i]);
            i += 1;
            continue;
        };
        if is_pictograph(c) {
            out.push(Item::Gap);
            i += 1;
            continue;
        }
        let keycap_base = c.is_ascii_digit() || c == '#' || c == '*';
        if keycap_base || is_text_default(c) {
            let mut j = i + 1;
            let selected = char_at(j) == Some(EMOJI_PRESENTATION);
            if selected {
                j += 1;
            }
            let keycap = keycap_base && char_at(j) == Some(KEYCAP);
            if keycap {
                j += 1;
            }
            if keycap || (!keycap_base && selected) {
                out.push(Item::Gap);
                i = j;
                continue;
            }
        }
        let joins_emoji = c == ZWJ
            && (out.last() == Some(&Item::Gap) || char_at(i + 1).is_some_and(is_pictograph));
        if !joins_emoji && !is_silent(c) {
            out.push(items[i]);
        }
        i += 1;
    }
    out
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        ',' | '.'
            | '!'
            | '?'
            | ';'
            | ':'
            | ')'
            | ']'
            | '}'
            | '…'
            | '、'
            | '。'
            | '，'
            | '！'
            | '？'
            | '）'
            | '」'
            | '』'
    )
}

fn is_opening(c: char) -> bool {
    matches!(c, '(' | '[' | '{' | '「' | '『' | '（')
}

/// Collapses spaces and gaps; returns `""` if no letter or digit is left.
fn finish(items: &[Item]) -> String {
    let mut out = String::new();
    let (mut space, mut gap) = (false, false);
    for item in items {
        match *item {
            Item::Space => space = true,
            Item::Gap => gap = true,
            Item::Char(c) => {
                // Brackets left empty by a removal (`(:smile:)`) go too.
                let opener = match c {
                    ')' => Some('('),
                    ']' => Some('['),
                    '）' => Some('（'),
                    '」' => Some('「'),
                    '』' => Some('『'),
                    _ => None,
                };
                if let Some(open) = opener
                    && gap
                    && !space
                    && out.ends_with(open)
                {
                    out.pop();
                    out.truncate(out.trim_end().len());
                    continue;
                }
                if let Some(prev) = out.chars().next_back() {
                    let separate = if gap && is_closing(c) {
                        false
                    } else if space {
                        true
                    } else if gap {
                        !is_cjk(prev) && !is_cjk(c) && !is_opening(prev)
                    } else {
                        false
                    };
                    if separate {
                        out.push(' ');
                    }
                }
                out.push(c);
                (space, gap) = (false, false);
            }
        }
    }
    if !out.chars().any(char::is_alphanumeric) {
        out.clear();
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{303F}'     // CJK symbols and punctuation
        | '\u{3040}'..='\u{30FF}'   // hiragana, katakana
        | '\u{31F0}'..='\u{31FF}'   // katakana phonetic extensions
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{FF00}'..='\u{FFEF}'   // half- and full-width forms
        | '\u{20000}'..='\u{3FFFF}' // CJK extensions B and later
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_become_speech() {
        let failures = crate::conformance::check(crate::conformance::PLAIN, speakable);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn gaps_act_as_removed_emoji() {
        assert_eq!(speakable("Thanks \u{E001}!"), "Thanks!");
        assert_eq!(speakable("great\u{E001}job"), "great job");
        assert_eq!(speakable("ok (\u{E001}) see you"), "ok see you");
        assert_eq!(speakable("会議は\u{E001}明日"), "会議は明日");
        assert_eq!(speakable("\u{E001}"), "");
    }

    #[test]
    fn cjk_is_a_word_boundary() {
        assert!(is_word('a') && is_word('7') && is_word('é'));
        assert!(!is_word('重') && !is_word('す') && !is_word('*') && !is_word(' '));
    }

    #[test]
    fn pathological_input_is_fast_and_safe() {
        for input in ["🎉\u{200D}".repeat(20_000), "\u{E001} ".repeat(20_000)] {
            assert!(!speakable(&input).contains(GAP));
        }
    }
}
