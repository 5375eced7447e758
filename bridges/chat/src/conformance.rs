//! What every bridge must make of the same words: one table, run by this crate's tests against
//! [`crate::speech::speakable`] and by each bridge's tests against its own markup-to-speech
//! converter (feature `conformance`, for tests only).
//!
//! The texts carry no markup of either platform but the emphasis both render alike (`*word*`),
//! so whatever a bridge parses first, the caller must hear the same.

/// Texts without markup, as a chat user types them, and what the caller hears.
pub const PLAIN: &[(&str, &str)] = &[
    ("Hello there", "Hello there"),
    // Whitespace.
    ("  lots   of\n\n space\t", "lots of space"),
    ("zero\u{200B}width", "zerowidth"),
    // Emoji: dropped, with no space left before punctuation and one kept between words.
    ("great🎉job", "great job"),
    ("Thanks 🙏!", "Thanks!"),
    ("Great 🎉🎉 news 👍🏽!", "Great news!"),
    ("👍🏽 on my way 👩‍💻", "on my way"),
    ("Greetings from 🇯🇵!", "Greetings from!"),
    ("Family 👨‍👩‍👧 and flag 🇯🇵 done ✅", "Family and flag done"),
    ("Step 1️⃣ done ✅.", "Step done."),
    ("ok (👋) see you (soon 😉)", "ok see you (soon)"),
    // Symbols that are text by default stay, unless written as emoji; other symbols stay.
    ("❤️ you all, © 2024 Acme™", "you all, © 2024 Acme™"),
    ("from A ↔ B, not A ↔️ B", "from A ↔ B, not A B"),
    ("next → step", "next → step"),
    // Japanese: no spaces around words, and none added where an emoji was.
    ("お電話ありがとうございます😊", "お電話ありがとうございます"),
    ("会議は🎉明日です", "会議は明日です"),
    (
        "了解です！🙇‍♂️ 明日話しましょう",
        "了解です！ 明日話しましょう",
    ),
    // Marks inside words are not formatting.
    ("2*3*4 = 24", "2*3*4 = 24"),
    (
        "don't rename snake_case_name",
        "don't rename snake_case_name",
    ),
    ("it's $5 or ~$6", "it's $5 or ~$6"),
    ("meet at 10:30, ratio 1:2:3", "meet at 10:30, ratio 1:2:3"),
    // Nothing a caller could hear.
    ("", ""),
    ("   \n\t ", ""),
    ("🎉", ""),
    ("👍🏽 🇯🇵 👨‍👩‍👧", ""),
    ("...", ""),
    ("!?", ""),
];

/// Emphasis Slack and Discord both render, and what the caller hears: the marks go, the words
/// stay. Japanese and Chinese characters are word boundaries ([`crate::speech::is_word`]).
pub const EMPHASIS: &[(&str, &str)] = &[
    ("これは*重要*です", "これは重要です"),
    ("this is *really* important", "this is really important"),
    ("*Update:* done", "Update: done"),
    ("_quietly_ please", "quietly please"),
];

/// Runs [`PLAIN`] and [`EMPHASIS`] through a bridge's `to_speech`; the cases it gets wrong, one
/// line each.
pub fn check_speech(to_speech: impl Fn(&str) -> String) -> Vec<String> {
    check(&[PLAIN, EMPHASIS].concat(), to_speech)
}

/// The `cases` that `to_speech` gets wrong, one line each.
pub fn check(cases: &[(&str, &str)], to_speech: impl Fn(&str) -> String) -> Vec<String> {
    cases
        .iter()
        .filter_map(|(text, expected)| {
            let got = to_speech(text);
            (got != *expected).then(|| format!("{text:?}\n   got {got:?}\n  want {expected:?}"))
        })
        .collect()
}
