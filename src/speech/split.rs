//! Splitting text into pieces that each fit in one `<Say>`.
//!
//! Twilio rejects a `<Say>` (error 13521) whose text is longer than 4,096 characters, longer than
//! 3,000 UTF-8 bytes for Polly voices or 5,000 for Google voices, or longer than 4,500 characters once
//! URL-encoded. Japanese is 3 bytes and 9 URL-encoded characters a character, so a Japanese `<Say>`
//! holds about 500 characters; English about 4,000.
//!
//! Pieces are cut at the last sentence end that fits, else the last word or clause boundary
//! (whitespace, `、`, `，`), else the last character boundary that does not split a cheaply
//! recognisable cluster (combining marks, variation selectors, emoji ZWJ sequences and skin tones,
//! flag pairs). Whitespace is normalised first: trimmed, each run collapsed to one space. Joining the
//! pieces with the whitespace that separated them gives back the normalised text.

/// How much of Twilio's limits a piece may use. The margin covers counting differences we cannot
/// see (Twilio does not document whether "characters" are code points or UTF-16 units, nor exactly
/// which encoder it measures with), at the cost of a few more, slightly shorter `<Say>`s.
const HEADROOM_PERCENT: usize = 90;

/// Size limits for the text of one `<Say>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SayLimits {
    /// Unicode scalar values.
    pub max_chars: usize,
    /// UTF-8 bytes; only Polly and Google voices have a byte limit.
    pub max_utf8_bytes: Option<usize>,
    /// Characters once encoded as `application/x-www-form-urlencoded` ([`url_encoded_len`]).
    pub max_url_encoded_chars: usize,
}

impl SayLimits {
    /// Twilio's limit on a `<Say>`'s characters.
    pub const TWILIO_MAX_CHARS: usize = 4_096;
    /// Twilio's limit on a `<Say>`'s URL-encoded length.
    pub const TWILIO_MAX_URL_ENCODED_CHARS: usize = 4_500;
    /// Amazon Polly voices (`Polly.*`): UTF-8 bytes, SSML tags not counted.
    pub const POLLY_MAX_UTF8_BYTES: usize = 3_000;
    /// Google voices (`Google.*`): UTF-8 bytes.
    pub const GOOGLE_MAX_UTF8_BYTES: usize = 5_000;

    /// Twilio's own limits for `voice` (e.g. `Polly.Mizuki`, `Google.ja-JP-Standard-A`, `alice`,
    /// or `None` for Twilio's default voice): the line no piece may cross.
    pub fn twilio_max(voice: Option<&str>) -> Self {
        let voice = voice.unwrap_or_default().to_ascii_lowercase();
        let max_utf8_bytes = if voice.starts_with("polly.") {
            Some(Self::POLLY_MAX_UTF8_BYTES)
        } else if voice.starts_with("google.") {
            Some(Self::GOOGLE_MAX_UTF8_BYTES)
        } else {
            None
        };
        Self {
            max_chars: Self::TWILIO_MAX_CHARS,
            max_utf8_bytes,
            max_url_encoded_chars: Self::TWILIO_MAX_URL_ENCODED_CHARS,
        }
    }

    /// The limits to split for `voice`: Twilio's, less a safety margin.
    pub fn for_voice(voice: Option<&str>) -> Self {
        let max = Self::twilio_max(voice);
        let margin = |limit: usize| limit * HEADROOM_PERCENT / 100;
        Self {
            max_chars: margin(max.max_chars),
            max_utf8_bytes: max.max_utf8_bytes.map(margin),
            max_url_encoded_chars: margin(max.max_url_encoded_chars),
        }
    }

    /// The limits of both `self` and `other`: what fits them fits each.
    pub fn within(self, other: Self) -> Self {
        let max_utf8_bytes = match (self.max_utf8_bytes, other.max_utf8_bytes) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Self {
            max_chars: self.max_chars.min(other.max_chars),
            max_utf8_bytes,
            max_url_encoded_chars: self.max_url_encoded_chars.min(other.max_url_encoded_chars),
        }
    }

    /// Whether `text` fits in one `<Say>` under these limits.
    #[cfg(test)]
    pub fn fits(&self, text: &str) -> bool {
        self.fits_size(Size::of(text))
    }

    fn fits_size(&self, size: Size) -> bool {
        size.chars <= self.max_chars
            && self.max_utf8_bytes.is_none_or(|max| size.bytes <= max)
            && size.url_encoded <= self.max_url_encoded_chars
    }
}

/// The length of `text` encoded as `application/x-www-form-urlencoded`: ASCII letters, digits and
/// `*-._` stay as they are, a space becomes `+`, every other byte becomes `%XX`.
#[cfg(test)]
pub fn url_encoded_len(text: &str) -> usize {
    Size::of(text).url_encoded
}

/// Splits `text` into pieces that each fit in one `<Say>` under `limits`, in order, none empty.
///
/// A single cluster too big for `limits` on its own (impossible with Twilio's limits, which hold
/// hundreds of characters) is still emitted, as its own piece, so that no text is lost.
pub fn split_for_say(text: &str, limits: SayLimits) -> Vec<String> {
    let normalized = Normalized::new(text);
    let s = normalized.text.as_str();
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < s.len() {
        let end = next_cut(&normalized, start, limits);
        pieces.push(s[start..end].trim_end_matches(' ').to_owned());
        start = end + s[end..].len() - s[end..].trim_start_matches(' ').len();
    }
    pieces
}

/// The text with whitespace collapsed, and where its line breaks were (they end sentences even
/// without a full stop: chat messages are often a list of lines).
struct Normalized {
    /// Trimmed; words separated by exactly one ASCII space.
    text: String,
    /// Byte offsets (in `text`) of the spaces that replaced a run containing a line break.
    line_breaks: Vec<usize>,
}

impl Normalized {
    fn new(input: &str) -> Self {
        let mut text = String::with_capacity(input.len());
        let mut line_breaks = Vec::new();
        for (i, run) in input
            .split(char::is_whitespace)
            .filter(|w| !w.is_empty())
            .enumerate()
        {
            if i > 0 {
                // The whitespace between the previous word and this one, in the input.
                let word_start = run.as_ptr() as usize - input.as_ptr() as usize;
                let gap = &input[..word_start];
                let gap = &gap[gap.trim_end_matches(char::is_whitespace).len()..];
                if gap.contains(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}']) {
                    line_breaks.push(text.len());
                }
                text.push(' ');
            }
            text.push_str(run);
        }
        Self { text, line_breaks }
    }
}

/// Sizes of a piece of text, each measured as one of the limits counts it.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    chars: usize,
    bytes: usize,
    url_encoded: usize,
}

impl Size {
    #[cfg(test)]
    fn of(text: &str) -> Self {
        text.chars().fold(Self::default(), |size, c| size.plus(c))
    }

    fn plus(self, c: char) -> Self {
        let bytes = c.len_utf8();
        let url_encoded = if c.is_ascii_alphanumeric() || matches!(c, '*' | '-' | '.' | '_' | ' ') {
            1
        } else {
            3 * bytes
        };
        Self {
            chars: self.chars + 1,
            bytes: self.bytes + bytes,
            url_encoded: self.url_encoded + url_encoded,
        }
    }

    /// The size without one trailing ASCII space (1 character, 1 byte, `+`).
    fn minus_space(self) -> Self {
        Self {
            chars: self.chars - 1,
            bytes: self.bytes - 1,
            url_encoded: self.url_encoded - 1,
        }
    }
}

/// Where the piece starting at `start` (never a space) should end: the byte offset just past its
/// last character (any separating space follows it). Scans forward only as far as the limits
/// allow, remembering the last fitting cut of each kind.
fn next_cut(normalized: &Normalized, start: usize, limits: SayLimits) -> usize {
    let s = normalized.text.as_str();
    let mut size = Size::default();
    let mut sentence = None;
    let mut phrase = None;
    let mut cluster = None;
    let mut any_char = None;
    // The character before the cut point, the last character before it that is not a closing
    // quote or bracket, and how many regional indicators (flag halves) end the text so far.
    let mut prev: Option<char> = None;
    let mut last_non_closer: Option<char> = None;
    let mut regional_run = 0usize;

    for (offset, c) in s[start..].char_indices() {
        let at = start + offset;
        if let Some(before) = prev {
            // Cutting here ends the piece at `at`, less a trailing space.
            let piece = if before == ' ' {
                size.minus_space()
            } else {
                size
            };
            if limits.fits_size(piece) {
                let end = if before == ' ' { at - 1 } else { at };
                any_char = Some(end);
                if !joins(before, c, regional_run) {
                    cluster = Some(end);
                }
                if before == ' ' || matches!(before, '、' | '，' | '､') {
                    phrase = Some(end);
                }
                if ends_sentence(normalized, at, before, last_non_closer, c) {
                    sentence = Some(end);
                }
            }
        }
        size = size.plus(c);
        if c != ' ' && !limits.fits_size(size) {
            // Every longer piece contains this character too, so none fits: pick the best cut.
            return sentence
                .or(phrase)
                .or(cluster)
                .or(any_char)
                .unwrap_or_else(|| {
                    // Not even the first character fits: a piece of its own beats losing it.
                    at.max(start + c.len_utf8())
                });
        }
        regional_run = if is_regional_indicator(c) {
            regional_run + 1
        } else {
            0
        };
        if !is_closer(c) {
            last_non_closer = Some(c);
        }
        prev = Some(c);
    }
    s.len()
}

/// Whether a sentence ends between `before` and `next` (at byte offset `at`).
fn ends_sentence(
    normalized: &Normalized,
    at: usize,
    before: char,
    last_non_closer: Option<char>,
    next: char,
) -> bool {
    if next == ' ' {
        // A line break, or a full stop (perhaps followed by closing quotes) and then a space.
        // ASCII marks count only before a space, so "3.14" and "e.g.x" stay whole.
        normalized.line_breaks.binary_search(&at).is_ok()
            || last_non_closer.is_some_and(|c| matches!(c, '.' | '!' | '?' | '。' | '！' | '？'))
    } else {
        // Japanese and Chinese marks end a sentence without a space, after any closing quotes
        // (`。」`), but not in the middle of a run of marks (`！？`).
        before != ' '
            && last_non_closer.is_some_and(|c| matches!(c, '。' | '！' | '？'))
            && !is_closer(next)
            && !matches!(next, '.' | '!' | '?' | '。' | '！' | '？')
    }
}

/// Closing quotes and brackets that belong to the sentence they end.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '”' | '’' | '」' | '』' | '）' | '】' | '〕' | '》' | '〉'
    )
}

fn is_regional_indicator(c: char) -> bool {
    matches!(c, '\u{1F1E6}'..='\u{1F1FF}')
}

/// Whether `next` belongs to the same user-perceived character as `before`: a cheap approximation
/// of Unicode's grapheme clusters covering what chat text actually contains, rather than a
/// dependency for the full rules. `regional_run` counts the regional indicators ending at `before`.
fn joins(before: char, next: char, regional_run: usize) -> bool {
    let extends = matches!(next,
        '\u{0300}'..='\u{036F}'     // combining diacritics
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'   // combining marks for symbols, keycap U+20E3
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{3099}'..='\u{309A}'   // combining kana voicing marks
        | '\u{1160}'..='\u{11FF}'   // Hangul medial vowels and final consonants
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors (emoji presentation)
        | '\u{E0100}'..='\u{E01EF}'
        | '\u{1F3FB}'..='\u{1F3FF}' // skin tones
        | '\u{E0020}'..='\u{E007F}' // tag sequences (subdivision flags)
        | '\u{200D}'); // zero-width joiner
    // A flag is a pair of regional indicators: cut only after an even number of them.
    let splits_flag =
        is_regional_indicator(before) && is_regional_indicator(next) && regional_run % 2 == 1;
    extends || before == '\u{200D}' || splits_flag
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOICES: [Option<&str>; 4] = [
        None,
        Some("Polly.Mizuki"),
        Some("Google.ja-JP-Standard-A"),
        Some("alice"),
    ];

    /// Checks `piece` against every Twilio limit for `voice`, measured independently of the code
    /// under test (the URL-encoded length with the `url` crate's form encoder), and against the
    /// headroom budget the splitter aims at.
    fn meets_all_limits(piece: &str, voice: Option<&str>) -> bool {
        let chars = piece.chars().count();
        let bytes = piece.len();
        let url_encoded: usize = url::form_urlencoded::byte_serialize(piece.as_bytes())
            .map(str::len)
            .sum();
        let byte_limit = match voice {
            Some(v) if v.starts_with("Polly.") => 3_000,
            Some(v) if v.starts_with("Google.") => 5_000,
            _ => usize::MAX,
        };
        let twilio_ok = chars <= 4_096 && bytes <= byte_limit && url_encoded <= 4_500;
        let budget = SayLimits::for_voice(voice);
        let budget_ok = chars <= budget.max_chars
            && budget.max_utf8_bytes.is_none_or(|max| bytes <= max)
            && url_encoded <= budget.max_url_encoded_chars;
        let well_formed = !piece.is_empty()
            && piece.trim() == piece
            && !piece.contains("  ")
            && !piece.contains(['\n', '\t']);
        twilio_ok && budget_ok && well_formed
    }

    fn split_all_voices(text: &str) -> Vec<(Option<&'static str>, Vec<String>)> {
        VOICES
            .iter()
            .map(|&voice| {
                let pieces = split_for_say(text, SayLimits::for_voice(voice));
                for piece in &pieces {
                    assert!(
                        meets_all_limits(piece, voice),
                        "{voice:?}: piece over a limit: {piece:?}"
                    );
                }
                (voice, pieces)
            })
            .collect()
    }

    fn without_whitespace(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn japanese_message(chars: usize) -> String {
        let sentences = [
            "お電話ありがとうございます。",
            "ただいま担当者が確認しておりますので、少々お待ちください。",
            "折り返しのご連絡は本日中を予定しています！",
            "ご不明な点はございますか？",
            "「承知しました。」と担当者が申しております。",
        ];
        sentences
            .iter()
            .cycle()
            .flat_map(|s| s.chars())
            .take(chars)
            .collect()
    }

    #[test]
    fn twilio_limits_per_voice() {
        assert_eq!(
            SayLimits::twilio_max(Some("Polly.Mizuki")),
            SayLimits {
                max_chars: 4_096,
                max_utf8_bytes: Some(3_000),
                max_url_encoded_chars: 4_500
            }
        );
        assert_eq!(
            SayLimits::twilio_max(Some("Google.en-US-Standard-C")).max_utf8_bytes,
            Some(5_000)
        );
        assert_eq!(SayLimits::twilio_max(Some("alice")).max_utf8_bytes, None);
        assert_eq!(SayLimits::twilio_max(None).max_utf8_bytes, None);
        assert_eq!(
            SayLimits::for_voice(Some("Polly.Joanna")),
            SayLimits {
                max_chars: 3_686,
                max_utf8_bytes: Some(2_700),
                max_url_encoded_chars: 4_050
            }
        );
    }

    #[test]
    fn url_encoded_len_matches_the_form_encoder() {
        for s in [
            "",
            "abc XYZ 019",
            "*-._~!'()",
            "a+b=c&d",
            "日本語",
            "👨‍👩‍👧",
            "é\u{301}\n\t%",
        ] {
            let expected: usize = url::form_urlencoded::byte_serialize(s.as_bytes())
                .map(str::len)
                .sum();
            assert_eq!(url_encoded_len(s), expected, "{s:?}");
        }
    }

    #[test]
    fn normalises_whitespace() {
        let limits = SayLimits::for_voice(None);
        assert_eq!(
            split_for_say("  hello \t\n\n world\u{3000}again  ", limits),
            ["hello world again"]
        );
        assert!(split_for_say("", limits).is_empty());
        assert!(split_for_say(" \n\t\u{3000} ", limits).is_empty());
    }

    #[test]
    fn a_2000_character_japanese_message() {
        let text = japanese_message(2_000);
        assert_eq!(text.chars().count(), 2_000);
        for (voice, pieces) in split_all_voices(&text) {
            assert!(
                pieces.len() >= 5,
                "{voice:?}: 2,000 Japanese characters need 5+ pieces"
            );
            assert_eq!(pieces.concat(), text, "{voice:?}");
            // Every piece but the last ends a sentence, perhaps with its closing quote.
            for piece in &pieces[..pieces.len() - 1] {
                let last = piece.trim_end_matches(is_closer).chars().last().unwrap();
                assert!(matches!(last, '。' | '！' | '？'), "{voice:?}: {piece:?}");
            }
        }
    }

    #[test]
    fn japanese_without_sentence_ends_cuts_after_commas_then_anywhere() {
        let clauses: String = "担当者が確認しております、".repeat(100);
        for (voice, pieces) in split_all_voices(&clauses) {
            assert_eq!(pieces.concat(), clauses, "{voice:?}");
            assert!(pieces.iter().all(|p| p.ends_with('、')), "{voice:?}");
        }
        let unbroken: String = "あいうえおかきくけこ".repeat(200);
        for (voice, pieces) in split_all_voices(&unbroken) {
            assert!(pieces.len() >= 4);
            assert_eq!(pieces.concat(), unbroken, "{voice:?}");
        }
    }

    #[test]
    fn long_english_splits_at_sentences() {
        let sentences = [
            "Thanks for calling, we'll be with you in a moment.",
            "Is this about the invoice from March?",
            "Yes! Please hold on.",
            "Our office is open from 9.30 to 5 (e.g. weekdays).",
        ];
        let text: String = sentences
            .iter()
            .cycle()
            .take(400)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(text.len() > 15_000);
        for (voice, pieces) in split_all_voices(&text) {
            assert!(pieces.len() >= 4, "{voice:?}");
            assert_eq!(pieces.join(" "), text, "{voice:?}");
            for piece in &pieces[..pieces.len() - 1] {
                assert!(
                    piece.ends_with(['.', '?', '!']),
                    "{voice:?}: ends mid-sentence: {piece:?}"
                );
                assert!(!piece.ends_with("e.g."), "{voice:?}");
            }
        }
    }

    #[test]
    fn a_single_10000_character_word() {
        let word = "a".repeat(10_000);
        for (voice, pieces) in split_all_voices(&word) {
            // ASCII letters are one character, one byte and one URL-encoded character each, so
            // every piece but the last is as long as the tightest limit allows.
            let limits = SayLimits::for_voice(voice);
            let tightest = limits
                .max_chars
                .min(limits.max_url_encoded_chars)
                .min(limits.max_utf8_bytes.unwrap_or(usize::MAX));
            assert_eq!(pieces.len(), word.len().div_ceil(tightest), "{voice:?}");
            assert_eq!(pieces.concat(), word, "{voice:?}");
        }
        // Between spaced words, the long one still falls apart at character boundaries.
        let text = format!("before {word} after");
        for (voice, pieces) in split_all_voices(&text) {
            assert_eq!(
                without_whitespace(&pieces.concat()),
                without_whitespace(&text),
                "{voice:?}"
            );
            assert_eq!(
                pieces.first().map(String::as_str),
                Some("before"),
                "{voice:?}"
            );
        }
    }

    #[test]
    fn emoji_clusters_stay_whole() {
        let clusters = [
            "👍🏽",
            "👨\u{200D}👩\u{200D}👧\u{200D}👦",
            "🇯🇵",
            "🇺🇸",
            "❤\u{FE0F}",
            "1\u{FE0F}\u{20E3}",
            "é",
            "が",
        ];
        let text: String = clusters.iter().cycle().take(3_000).copied().collect();
        let starts_cluster = |piece: &str| clusters.iter().any(|c| piece.starts_with(c));
        for (voice, pieces) in split_all_voices(&text) {
            assert!(pieces.len() > 5, "{voice:?}");
            assert_eq!(pieces.concat(), text, "{voice:?}");
            for piece in &pieces {
                assert!(
                    starts_cluster(piece),
                    "{voice:?}: piece starts mid-cluster: {:?}",
                    &piece[..8]
                );
                let flag_halves = piece.chars().filter(|&c| is_regional_indicator(c)).count();
                assert_eq!(flag_halves % 2, 0, "{voice:?}: a flag was cut in half");
            }
        }
    }

    #[test]
    fn line_breaks_end_sentences() {
        let limits = SayLimits {
            max_chars: 30,
            max_utf8_bytes: None,
            max_url_encoded_chars: 100,
        };
        let pieces = split_for_say(
            "first line without a stop\nsecond line here and more words",
            limits,
        );
        assert_eq!(
            pieces,
            [
                "first line without a stop",
                "second line here and more",
                "words"
            ]
        );
    }

    #[test]
    fn sentences_win_over_words_and_words_over_characters() {
        let limits = SayLimits {
            max_chars: 20,
            max_utf8_bytes: None,
            max_url_encoded_chars: 100,
        };
        assert_eq!(
            split_for_say("One two. Three four five six", limits),
            ["One two.", "Three four five six"]
        );
        assert_eq!(
            split_for_say("alpha beta gamma delta", limits),
            ["alpha beta gamma", "delta"]
        );
        assert_eq!(
            split_for_say("abcdefghijklmnopqrstuvwxyz", limits),
            ["abcdefghijklmnopqrst", "uvwxyz"]
        );
        // Closing quotes stay with their sentence.
        assert_eq!(
            split_for_say(r#"He said "yes." Then left quickly"#, limits),
            [r#"He said "yes.""#, "Then left quickly"]
        );
        assert_eq!(
            split_for_say("「はい。」と言った。次へ", limits),
            ["「はい。」と言った。", "次へ"]
        );
    }

    #[test]
    fn words_come_out_in_order_under_any_limits() {
        let texts = [
            japanese_message(700),
            "mixed 日本語 and English. 文です。Then more, and more!".repeat(40),
            "x".repeat(500) + " y z " + &"w ".repeat(300),
        ];
        for max in [9, 10, 13, 50, 333] {
            let limits = SayLimits {
                max_chars: max,
                max_utf8_bytes: Some(max * 2),
                max_url_encoded_chars: max * 3,
            };
            for text in &texts {
                let pieces = split_for_say(text, limits);
                assert_eq!(
                    without_whitespace(&pieces.concat()),
                    without_whitespace(text),
                    "max {max}"
                );
                for piece in &pieces {
                    assert!(limits.fits(piece), "max {max}: {piece:?}");
                    assert!(!piece.is_empty() && piece.trim() == piece);
                }
            }
        }
    }

    #[test]
    fn a_cluster_too_big_for_tiny_limits_is_kept_not_lost() {
        let limits = SayLimits {
            max_chars: 1,
            max_utf8_bytes: None,
            max_url_encoded_chars: 3,
        };
        assert_eq!(split_for_say("a日b", limits), ["a", "日", "b"]);
    }
}
