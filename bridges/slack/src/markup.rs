//! Slack message markup to speakable text.
//!
//! Slack's Events API delivers a message's `text` in Slack's own markup ("mrkdwn" plus control
//! sequences): `<@U123>` mentions, `<#C123|general>` channels, `<!here>`, `<https://x|label>`
//! links, the entities `&amp; &lt; &gt;`, `*bold*`, `_italic_`, `~strike~`, `` `code` ``,
//! `&gt; quotes`, `:emoji:` shortcodes and Unicode emoji. [`to_speech`] turns that into the plain
//! text a text-to-speech engine should read to the caller.
//!
//! The conversion runs in this order, so that one step cannot manufacture input for another:
//! 1. control sequences `<...>` are replaced by what they stand for (a mention by a display name,
//!    a link by its label or "a link"). Slack escapes every literal `<`, `>` and `&` a user types,
//!    so only a raw `<` starts a control sequence; a link's label is converted recursively;
//! 2. the entities `&amp; &lt; &gt;` are decoded, once: `&amp;lt;` becomes the text `&lt;`, and a
//!    decoded `&lt;` is only ever text;
//! 3. line marks are dropped: block-quote markers (`> `, `>>>`; Slack sends them as `&gt;`) and
//!    list bullets (`•`, `◦`, `▪`, `・`, and `-` or `*` followed by a space) at a line's start;
//! 4. code fences and inline code lose their backticks; the text inside is kept verbatim (no
//!    formatting or shortcode removal happens inside code);
//! 5. `:shortcode:` emoji are dropped, but not `10:30`, `a:b`, `std::fmt` or `1:2:3`;
//! 6. `*`, `_` and `~` are dropped where Slack would treat them as formatting: in pairs, on one
//!    line, the opening mark after a word boundary and before a non-space, the closing mark after a
//!    non-space and before a word boundary. `2*3*4`, `snake_case_name` and `~/path` are kept. A
//!    lone `*` or `_` glued to one side of a word (`*their`, a correction or an unclosed mark)
//!    is dropped too; a lone `~` is kept, as it often means "about" (`~5 min`);
//! 7. what every bridge does with plain text, [`denwa_chat::speech::speakable`]: Unicode emoji are
//!    dropped and whitespace collapsed; where an emoji or a shortcode was removed, no space is
//!    left before closing punctuation (`Thanks :pray:!` reads "Thanks!"), a space is kept between
//!    two words, and brackets left empty go too (`ok (:smile:)` reads "ok").
//!
//! Text with no letter or digit left (only emoji, only punctuation, empty) converts to `""`:
//! the caller treats that as "nothing to say".
//!
//! Word boundaries treat Japanese and Chinese characters as boundaries, since those languages do
//! not put spaces around words: `これは*重要*です` reads "これは重要です"
//! ([`denwa_chat::speech::is_word`]).

use std::cell::RefCell;
use std::collections::BTreeSet;

use denwa_chat::speech::{GAP, is_word as is_spaced_word, speakable};
use denwa_chat::{MentionKind, Mentions};

/// The ids `text` mentions that [`to_speech`] asks its resolver about, each once, in order: every
/// user (`<@U123>`, or `W123` on Enterprise Grid: their display name), and the channels
/// (`<#C123>`) and user groups (`<!subteam^S123>`, a [`MentionKind::Group`]) that carry no
/// label. Only ids as Slack writes them (letters and digits) are listed: they are looked up.
pub fn mentions(text: &str) -> Mentions {
    let found = RefCell::new(Mentions::default());
    to_speech(text, &|kind, id| {
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            found.borrow_mut().add(kind, id);
        }
        None
    });
    found.into_inner()
}

/// A resolver that knows no names: every mention falls back to the label Slack put in the markup,
/// else to a generic word ("someone", "a channel", "a group").
pub fn no_names(_kind: MentionKind, _id: &str) -> Option<String> {
    None
}

/// Converts Slack message markup (as the Events API delivers a message's `text`) into plain text
/// to be spoken; see the [module documentation](self) for the rules.
///
/// `names` resolves a mention's id (`U024BE7LH`, `C024BE7LR`, `S0614TZR7`) to a name; it is called
/// once per mention, and returning `None` (or only emoji or blanks) falls back as follows:
///
/// | markup | order of preference |
/// |---|---|
/// | `<@U123>`, `<@U123\|name>` | resolver, the label, "someone" |
/// | `<#C123\|general>`, `<#C123>` | the label, resolver, "a channel" |
/// | `<!subteam^S123\|@oncall>` | the label (without `@`), resolver, "a group" |
/// | `<!here>`, `<!channel>`, `<!everyone>` | "everyone" |
/// | `<https://x\|label>`, `<https://x>` | the label, "a link" |
/// | `<mailto:a@b.c\|a@b.c>`, `<mailto:a@b.c>` | the label, the address |
/// | `<!date^1392734382^{date}\|Feb 18>` | the label, "a date" |
///
/// A user mention prefers the resolver because its label, when present, is the legacy user name;
/// a channel's or group's label is the current name Slack rendered when the message was sent.
///
/// Returns `""` when nothing speakable is left. Never panics; linear in the input's length.
pub fn to_speech(text: &str, names: &dyn Fn(MentionKind, &str) -> Option<String>) -> String {
    convert(text, names, 0)
}

type Names<'a> = &'a dyn Fn(MentionKind, &str) -> Option<String>;

/// Labels are converted recursively; deeper nesting than this is not Slack's, so it is flattened.
const MAX_DEPTH: usize = 4;
/// Stands for the next replacement (a mention's name, a link's label) while the text around it is
/// cleaned, so that a replacement is never itself taken for markup. Private use: unspeakable, and
/// removed from the input first.
const SENTINEL: char = '\u{E000}';

fn convert(text: &str, names: Names<'_>, depth: usize) -> String {
    let (chars, replacements) = replace_control_sequences(text, names, depth);
    let mut doc = Doc::new(decode_entities(&chars));
    doc.strip_line_marks();
    doc.strip_code();
    doc.strip_shortcodes();
    for mark in ['*', '_', '~'] {
        doc.strip_emphasis(mark);
    }
    speakable(&doc.into_text(&replacements))
}

/// Cleans a name from the resolver, which is plain text (no markup): emoji and blanks only.
fn clean_name(name: &str) -> String {
    speakable(&name.replace([SENTINEL, GAP], ""))
}

// ---------------------------------------------------------------------------------------------
// Step 1: control sequences

/// Replaces every `<...>` control sequence by [`SENTINEL`] (its text goes to the returned list, in
/// order) or by [`GAP`] when it stands for nothing speakable.
fn replace_control_sequences(
    text: &str,
    names: Names<'_>,
    depth: usize,
) -> (Vec<char>, Vec<String>) {
    let src: Vec<char> = text
        .chars()
        .filter(|&c| c != SENTINEL && c != GAP)
        .collect();
    if depth >= MAX_DEPTH {
        let flat = src
            .iter()
            .map(|&c| if c == '<' || c == '>' { GAP } else { c })
            .collect();
        return (flat, Vec::new());
    }

    // Match brackets with a stack, so nested markup pairs up properly; count line breaks so
    // "does this sequence span lines" is O(1). Every scan below stops at the next `<`, so the
    // whole pass is linear however the brackets are arranged.
    let mut close_of = vec![usize::MAX; src.len()];
    let mut open = Vec::new();
    let mut breaks_before = Vec::with_capacity(src.len() + 1);
    breaks_before.push(0usize);
    for (i, &c) in src.iter().enumerate() {
        match c {
            '<' => open.push(i),
            '>' => {
                if let Some(o) = open.pop() {
                    close_of[o] = i;
                }
            }
            _ => {}
        }
        breaks_before.push(breaks_before[i] + usize::from(c == '\n'));
    }

    let mut out = Vec::with_capacity(src.len());
    let mut replacements = Vec::new();
    let mut i = 0;
    while i < src.len() {
        if src[i] != '<' {
            out.push(src[i]);
            i += 1;
            continue;
        }
        // The target: up to `|`, `>`, a blank or another `<`.
        let target_end = (i + 1..src.len())
            .find(|&k| matches!(src[k], '|' | '<' | '>') || src[k].is_whitespace())
            .unwrap_or(src.len());
        if !looks_like_control_sequence(&src[i + 1..target_end]) {
            out.push('<');
            i += 1;
            continue;
        }
        let close = close_of[i];
        let terminated = close != usize::MAX
            && matches!(src.get(target_end), Some('|' | '>'))
            && breaks_before[close] == breaks_before[i];
        let (end, resume) = if terminated {
            (close, close + 1)
        } else {
            // Unterminated (or spanning lines): take what follows up to the next blank.
            let end = (target_end..src.len())
                .find(|&k| matches!(src[k], '<' | '>') || src[k].is_whitespace())
                .unwrap_or(src.len());
            (end, end)
        };
        let content: String = src[i + 1..end].iter().collect();
        let spoken = speak_control_sequence(&content, names, depth);
        if spoken.is_empty() {
            out.push(GAP);
        } else {
            out.push(SENTINEL);
            replacements.push(spoken);
        }
        i = resume;
    }
    (out, replacements)
}

/// Whether a control sequence's target (before any `|`) is one Slack writes: `@U123`, `#C123`,
/// `!here`, or a URI with a scheme (`https://...`, `mailto:...`). A raw `<` that does not start
/// one (`a < b` from a client that did not escape it) stays text.
fn looks_like_control_sequence(target: &[char]) -> bool {
    if target.iter().any(|c| c.is_whitespace()) {
        return false;
    }
    match target {
        ['@' | '#' | '!', _, ..] => true,
        [first, ..] if first.is_ascii_alphabetic() => {
            let scheme = target
                .iter()
                .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
                .count();
            target.get(scheme) == Some(&':') && target.len() > scheme + 1
        }
        _ => false,
    }
}

/// The speech for one control sequence's content (between `<` and `>`), already cleaned.
fn speak_control_sequence(content: &str, names: Names<'_>, depth: usize) -> String {
    let (target, label) = match content.split_once('|') {
        Some((target, label)) => (target.trim(), Some(label)),
        None => (content.trim(), None),
    };
    // The label is Slack markup too (entities, formatting, even a nested mention).
    let label = |strip: char| {
        label
            .map(|label| convert(label, names, depth + 1))
            .map(|label| label.trim_start_matches(strip).trim().to_owned())
            .filter(|label| label.chars().any(char::is_alphanumeric))
    };
    let resolve = |kind: MentionKind, id: &str| {
        names(kind, id.trim())
            .map(|name| clean_name(&name))
            .filter(|name| !name.is_empty())
    };

    if let Some(id) = target.strip_prefix('@') {
        return resolve(MentionKind::User, id)
            .or_else(|| label('@'))
            .unwrap_or_else(|| "someone".into());
    }
    if let Some(id) = target.strip_prefix('#') {
        return label('#')
            .or_else(|| resolve(MentionKind::Channel, id))
            .unwrap_or_else(|| "a channel".into());
    }
    if let Some(command) = target.strip_prefix('!') {
        let (name, argument) = command.split_once('^').unwrap_or((command, ""));
        return match name {
            "here" | "channel" | "everyone" => "everyone".into(),
            "subteam" => {
                let id = argument.split('^').next().unwrap_or_default();
                label('@')
                    .or_else(|| resolve(MentionKind::Group, id))
                    .unwrap_or_else(|| "a group".into())
            }
            "date" => label(' ').unwrap_or_else(|| "a date".into()),
            _ => label(' ').unwrap_or_default(),
        };
    }
    let address = target
        .strip_prefix("mailto:")
        .or_else(|| target.strip_prefix("tel:"));
    if let Some(address) = address {
        let address = address.split('?').next().unwrap_or_default();
        return label(' ').unwrap_or_else(|| {
            let plain: String = decode_entities(&address.chars().collect::<Vec<_>>())
                .into_iter()
                .collect();
            clean_name(&plain)
        });
    }
    label(' ').unwrap_or_else(|| "a link".into())
}

// ---------------------------------------------------------------------------------------------
// Step 2: entities

/// Decodes the three entities Slack escapes (`&amp; &lt; &gt;`) in one pass; any other `&` is text.
fn decode_entities(chars: &[char]) -> Vec<char> {
    const ENTITIES: [(&[char], char); 3] = [
        (&['a', 'm', 'p', ';'], '&'),
        (&['l', 't', ';'], '<'),
        (&['g', 't', ';'], '>'),
    ];
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '&' {
            let rest = &chars[i + 1..];
            if let Some((name, decoded)) = ENTITIES.iter().find(|(name, _)| rest.starts_with(name))
            {
                out.push(*decoded);
                i += 1 + name.len();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Steps 3 to 6: marks, on a character array with a fate per character

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Keep,
    /// Removed without a trace (a formatting mark glued to its word).
    Drop,
    /// Removed; a space may be needed in its place (an emoji between two words).
    DropGap,
}

struct Doc {
    chars: Vec<char>,
    fate: Vec<Fate>,
    /// Inside code: kept verbatim.
    code: Vec<bool>,
    /// For each index, the index of the end of its line (the `\n` or the length).
    line_end: Vec<usize>,
}

impl Doc {
    fn new(chars: Vec<char>) -> Self {
        let n = chars.len();
        let mut line_end = vec![n; n];
        let mut end = n;
        for i in (0..n).rev() {
            if chars[i] == '\n' {
                end = i;
            }
            line_end[i] = end;
        }
        Self {
            fate: vec![Fate::Keep; n],
            code: vec![false; n],
            chars,
            line_end,
        }
    }

    fn len(&self) -> usize {
        self.chars.len()
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn before(&self, i: usize) -> Option<char> {
        i.checked_sub(1).and_then(|i| self.at(i))
    }

    /// Still there and not inside code: markup may apply.
    fn free(&self, i: usize) -> bool {
        self.fate[i] == Fate::Keep && !self.code[i]
    }

    fn remove(&mut self, range: std::ops::Range<usize>, fate: Fate) {
        for i in range {
            self.fate[i] = fate;
        }
    }

    fn skip_blanks(&self, mut i: usize, end: usize) -> usize {
        while i < end && self.chars[i].is_whitespace() {
            i += 1;
        }
        i
    }

    /// Block-quote markers and list bullets at the start of each line.
    fn strip_line_marks(&mut self) {
        let mut start = 0;
        while start < self.len() {
            let end = self.line_end[start];
            let mut i = self.skip_blanks(start, end);
            if self.chars[i..end].starts_with(&['>', '>', '>']) {
                self.remove(i..i + 3, Fate::Drop);
                i = self.skip_blanks(i + 3, end);
            } else if self.at(i) == Some('>') && (i + 1 == end || self.chars[i + 1].is_whitespace())
            {
                self.remove(i..i + 1, Fate::Drop);
                i = self.skip_blanks(i + 1, end);
            }
            if i < end {
                let spaced = i + 1 < end && self.chars[i + 1].is_whitespace();
                match self.chars[i] {
                    '•' | '◦' | '▪' | '▫' | '‣' | '・' => {
                        self.remove(i..i + 1, Fate::Drop)
                    }
                    '-' | '*' | '–' if spaced => self.remove(i..i + 1, Fate::Drop),
                    _ => {}
                }
            }
            start = end + 1;
        }
    }

    /// Code fences, then inline code: backticks go, the text inside is protected.
    fn strip_code(&mut self) {
        let mut fences = Vec::new();
        let mut i = 0;
        while i + 3 <= self.len() {
            if self.chars[i..i + 3] == ['`', '`', '`'] {
                fences.push(i);
                i += 3;
            } else {
                i += 1;
            }
        }
        for pair in fences.chunks(2) {
            self.remove(pair[0]..pair[0] + 3, Fate::DropGap);
            if let [open, close] = *pair {
                self.remove(close..close + 3, Fate::DropGap);
                self.code[open + 3..close].fill(true);
            }
        }

        let mut open: Option<usize> = None;
        for i in 0..self.len() {
            if !self.free(i) {
                continue;
            }
            match self.chars[i] {
                '\n' => {
                    if let Some(lone) = open.take() {
                        self.remove(lone..lone + 1, Fate::Drop);
                    }
                }
                '`' => match open.take() {
                    None => open = Some(i),
                    Some(start) => {
                        self.remove(start..start + 1, Fate::DropGap);
                        self.remove(i..i + 1, Fate::DropGap);
                        self.code[start + 1..i].fill(true);
                    }
                },
                _ => {}
            }
        }
        if let Some(lone) = open {
            self.remove(lone..lone + 1, Fate::Drop);
        }
    }

    /// `:emoji_name:` and `:skin-tone-2:` shortcodes.
    fn strip_shortcodes(&mut self) {
        const MAX_NAME: usize = 100;
        let mut last_close = None;
        let mut i = 0;
        while i < self.len() {
            if self.chars[i] != ':' || !self.free(i) {
                i += 1;
                continue;
            }
            // The opening colon follows a boundary, or closes the previous shortcode
            // (`:+1::skin-tone-2:`); after a word (`Thanks:pray:`) the name needs a letter and
            // the closing colon a boundary, so `10:30:00` stays.
            let after_word = match self.before(i) {
                None => false,
                Some(':') if last_close == Some(i - 1) => false,
                Some(':') => {
                    i += 1;
                    continue;
                }
                Some(prev) => is_word(prev),
            };
            let mut j = i + 1;
            while j < self.len()
                && j - i <= MAX_NAME
                && self.free(j)
                && is_shortcode_char(self.chars[j])
            {
                j += 1;
            }
            let name = &self.chars[i + 1..j];
            let closed = j < self.len() && self.chars[j] == ':' && self.free(j);
            let boundary_after = self.at(j + 1).is_none_or(|c| !is_word(c));
            let has_alnum = name.iter().any(char::is_ascii_alphanumeric);
            let has_letter = name.iter().any(char::is_ascii_alphabetic);
            if closed && boundary_after && has_alnum && (!after_word || has_letter) {
                self.remove(i..j + 1, Fate::DropGap);
                last_close = Some(j);
                i = j + 1;
            } else {
                i += 1;
            }
        }
    }

    /// Pairs of `mark` that Slack renders as formatting, and lone marks glued to a word.
    fn strip_emphasis(&mut self, mark: char) {
        let candidate = |doc: &Self, i: usize| doc.chars[i] == mark && doc.free(i);
        let opens = |doc: &Self, i: usize| {
            doc.before(i).is_none_or(|c| !is_word(c))
                && doc.at(i + 1).is_some_and(|c| !c.is_whitespace())
        };
        let closes = |doc: &Self, i: usize| {
            doc.before(i).is_some_and(|c| !c.is_whitespace())
                && doc.at(i + 1).is_none_or(|c| !is_word(c))
        };

        let mut closers: BTreeSet<usize> = (0..self.len())
            .filter(|&i| candidate(self, i) && closes(self, i))
            .collect();
        for i in 0..self.len() {
            if !candidate(self, i) || !opens(self, i) {
                continue;
            }
            // The nearest closing mark on the same line, with something in between.
            if let Some(&j) = closers.range(i + 2..self.line_end[i]).next() {
                closers.remove(&j);
                closers.remove(&i);
                self.remove(i..i + 1, Fate::Drop);
                self.remove(j..j + 1, Fate::Drop);
            }
        }

        if mark == '~' {
            return;
        }
        for i in 0..self.len() {
            if candidate(self, i) {
                let word_before = self.before(i).is_some_and(is_word);
                let word_after = self.at(i + 1).is_some_and(is_word);
                if word_before != word_after {
                    self.remove(i..i + 1, Fate::Drop);
                }
            }
        }
    }

    /// What is left, with the replacements in place and a [`GAP`] where something was removed.
    fn into_text(self, replacements: &[String]) -> String {
        let mut replacements = replacements.iter();
        let mut text = String::with_capacity(self.chars.len());
        for (c, fate) in self.chars.into_iter().zip(self.fate) {
            match fate {
                Fate::Drop => {}
                Fate::DropGap => text.push(GAP),
                Fate::Keep if c == SENTINEL => match replacements.next() {
                    Some(replacement) => text.push_str(replacement),
                    None => text.push(GAP),
                },
                Fate::Keep => text.push(c),
            }
        }
        text
    }
}

/// A letter or digit of a script that separates words with spaces, or a replacement (mention).
fn is_word(c: char) -> bool {
    c == SENTINEL || is_spaced_word(c)
}

fn is_shortcode_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '+' | '\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory like the bridge's: some ids resolve, others do not.
    fn directory(kind: MentionKind, id: &str) -> Option<String> {
        let name = match (kind, id) {
            (MentionKind::User, "U024BE7LH") => "Ana Lima",
            (MentionKind::User, "U0G9QF9C6") => "Kenji 🌸",
            (MentionKind::User, "W012A3CDE") => "Sam",
            (MentionKind::User, "U0EMOJI00") => "🎉🎉",
            (MentionKind::Channel, "C024BE7LR") => "support",
            (MentionKind::Group, "S0614TZR7") => "on-call team",
            _ => return None,
        };
        Some(name.to_owned())
    }

    fn speak(text: &str) -> String {
        to_speech(text, &directory)
    }

    /// Texts as Slack's Events API delivers them, and what the caller should hear.
    const CASES: &[(&str, &str)] = &[
        // Mentions.
        (
            "Hi <@U024BE7LH>, see <https://example.com/x|the docs> :wave:",
            "Hi Ana Lima, see the docs",
        ),
        ("<@U0G9QF9C6> is joining now", "Kenji is joining now"),
        (
            "<@W012A3CDE|sam.k> can you take this?",
            "Sam can you take this?",
        ),
        ("thanks <@U999UNKWN|jdoe>!", "thanks jdoe!"),
        ("ask <@U999UNKWN> about it", "ask someone about it"),
        ("ping <@U0EMOJI00>", "ping someone"),
        (
            "moved to <#C024BE7LR|customer-support>",
            "moved to customer-support",
        ),
        ("see <#C024BE7LR> for details", "see support for details"),
        ("see <#C999UNKWN|> please", "see a channel please"),
        (
            "<!subteam^S0614TZR7|@oncall> can someone pick up?",
            "oncall can someone pick up?",
        ),
        ("paging <!subteam^S0614TZR7>", "paging on-call team"),
        ("paging <!subteam^S0000000>", "paging a group"),
        (
            "<!here> the caller is on hold",
            "everyone the caller is on hold",
        ),
        ("<!channel|@channel> heads up", "everyone heads up"),
        ("<!everyone> thanks all", "everyone thanks all"),
        (
            "Posted <!date^1392734382^{date_short}|Feb 18, 2014 PST>",
            "Posted Feb 18, 2014 PST",
        ),
        // Links.
        ("check <https://example.com/a?b=1&amp;c=2>", "check a link"),
        (
            "the form is at <https://forms.example.com/x|forms.example.com>.",
            "the form is at forms.example.com.",
        ),
        ("mail <mailto:a@b.c|a@b.c> today", "mail a@b.c today"),
        (
            "mail <mailto:help@example.com?subject=Hi>",
            "mail help@example.com",
        ),
        (
            "call <tel:+15551234567|+1 555 123 4567>",
            "call +1 555 123 4567",
        ),
        (
            "<https://example.com|*Release notes* :memo:> are out",
            "Release notes are out",
        ),
        // Entities.
        ("Q&amp;A at 3, R&amp;D after", "Q&A at 3, R&D after"),
        ("I &lt;3 this", "I <3 this"),
        ("if x &gt; 5 &amp;&amp; y &lt; 2", "if x > 5 && y < 2"),
        (
            "&lt;@U024BE7LH&gt; is not a mention",
            "<@U024BE7LH> is not a mention",
        ),
        ("literally &amp;lt; here", "literally &lt; here"),
        // Formatting.
        (
            "*Update:* the deploy is _done_ ~not yet~",
            "Update: the deploy is done not yet",
        ),
        ("this is *really* important", "this is really important"),
        ("*bold _and italic_*", "bold and italic"),
        ("**markdown bold** too", "markdown bold too"),
        (
            "Run `cargo test -p denwa-slack` now",
            "Run cargo test -p denwa-slack now",
        ),
        (
            "Try this:\n```\nlet x = a*b*c; // :smile:\n```\nthen reply",
            "Try this: let x = a*b*c; // :smile: then reply",
        ),
        (
            "```npm install &amp;&amp; npm test```",
            "npm install && npm test",
        ),
        (
            "&gt; the caller asked about billing\nI'll handle it",
            "the caller asked about billing I'll handle it",
        ),
        ("&gt;&gt;&gt; quoted\nacross lines", "quoted across lines"),
        (
            "Agenda:\n• budget\n• hiring\n- offsite\n* lunch\n  ◦ nested",
            "Agenda: budget hiring offsite lunch nested",
        ),
        (
            "&gt;5 errors in the last hour",
            ">5 errors in the last hour",
        ),
        ("I meant *their", "I meant their"),
        // Emoji.
        (":+1::skin-tone-2: sounds good", "sounds good"),
        ("Thanks :pray:!", "Thanks!"),
        ("Thanks:pray:", "Thanks"),
        ("great🎉job", "great job"),
        ("ok (:smile:) see you (soon :wink:)", "ok see you (soon)"),
        ("👍🏽 on my way 👩‍💻", "on my way"),
        ("Greetings from 🇯🇵!", "Greetings from!"),
        ("Step 1️⃣ done ✅.", "Step done."),
        ("❤️ you all, © 2024 Acme™", "you all, © 2024 Acme™"),
        (":white_check_mark: done :100:", "done"),
        // Must not be mangled.
        (
            "meet at 10:30, ratio 1:2:3, see a:b",
            "meet at 10:30, ratio 1:2:3, see a:b",
        ),
        (
            "use std::fmt::Display; 10:30:00",
            "use std::fmt::Display; 10:30:00",
        ),
        ("2*3*4 = 24 and 5 * 3 = 15", "2*3*4 = 24 and 5 * 3 = 15"),
        (
            "don't rename snake_case_name",
            "don't rename snake_case_name",
        ),
        ("it's $5 or ~$6", "it's $5 or ~$6"),
        (
            "edit ~/projects/denwa.toml and ~/bin",
            "edit ~/projects/denwa.toml and ~/bin",
        ),
        ("about ~5 min, ~10 max", "about ~5 min, ~10 max"),
        ("AT&T & Tom & Jerry", "AT&T & Tom & Jerry"),
        // Japanese.
        (
            "お疲れ様です。<@U0G9QF9C6> さん、明日の会議は10:30からです :pray:",
            "お疲れ様です。Kenji さん、明日の会議は10:30からです",
        ),
        (
            "了解です！:ok_hand: <#C024BE7LR|営業>で話しましょう🙇‍♂️",
            "了解です！ 営業で話しましょう",
        ),
        ("これは*重要*です", "これは重要です"),
        ("・資料\n・議事録", "資料 議事録"),
        // Whitespace.
        ("  lots   of\n\n space\t", "lots of space"),
        ("zero\u{200B}width", "zerowidth"),
    ];

    #[test]
    fn slack_texts_become_speech() {
        let mut failures = Vec::new();
        for (text, expected) in CASES {
            let got = speak(text);
            if got != *expected {
                failures.push(format!("{text:?}\n   got {got:?}\n  want {expected:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(CASES.len() >= 35);
    }

    /// The texts every bridge must speak alike (`denwa_chat::conformance`).
    #[test]
    fn texts_every_bridge_speaks_alike() {
        let failures = denwa_chat::conformance::check_speech(|text| to_speech(text, &no_names));
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn mentions_are_found_once_each() {
        let m = mentions("hi <@U1>, <@U2|bob> and <@U1> <#C1> <#C2|general> <@> <@U/x>");
        assert_eq!(m.users, ["U1", "U2"]);
        assert_eq!(m.channels, ["C1"], "a labelled channel needs no look-up");
        assert!(m.groups.is_empty());
    }

    #[test]
    fn nothing_speakable_is_empty() {
        for text in [
            "",
            "   \n\t ",
            ":wave:",
            ":+1::skin-tone-3: 👋🏽 🇯🇵 👨‍👩‍👧",
            "&amp;",
            "*",
            "```\n```",
            "&gt;",
            "<!foo>",
            "• ",
        ] {
            assert_eq!(speak(text), "", "{text:?}");
        }
    }

    #[test]
    fn unterminated_and_nested_markup() {
        assert_eq!(speak("<@U024BE7LH"), "Ana Lima");
        assert_eq!(speak("hey <@U1 are you there"), "hey someone are you there");
        assert_eq!(speak("<@U1 <@U024BE7LH>"), "someone Ana Lima");
        assert_eq!(speak("<https://x.com|see <@U024BE7LH>>"), "see Ana Lima");
        assert_eq!(speak("a < b and c > d"), "a < b and c > d");
        assert_eq!(speak("x <"), "x <");
        assert_eq!(speak("stray > here"), "stray > here");
        assert_eq!(speak("<https://x.com\n|split>"), "a link |split>");
        assert_eq!(speak("*unclosed"), "unclosed");
        assert_eq!(speak("_unclosed and `code"), "unclosed and code");
        assert_eq!(speak("~unclosed"), "~unclosed");
        assert_eq!(speak("```unclosed fence"), "unclosed fence");
        assert_eq!(speak("*a\nb*"), "a b");
        assert_eq!(speak(":unclosed shortcode"), ":unclosed shortcode");
    }

    #[test]
    fn lone_ampersands_and_unknown_entities_stay() {
        assert_eq!(speak("&"), "");
        assert_eq!(speak("salt & pepper"), "salt & pepper");
        assert_eq!(
            speak("&amp &nbsp; &quot;hi&quot;"),
            "&amp &nbsp; &quot;hi&quot;"
        );
        assert_eq!(speak("&amp;amp;"), "&amp;");
    }

    #[test]
    fn resolver_precedence() {
        let calls = std::cell::RefCell::new(Vec::new());
        let names = |kind: MentionKind, id: &str| {
            calls.borrow_mut().push((kind, id.to_owned()));
            Some(format!("{kind:?}"))
        };
        assert_eq!(
            to_speech(
                "<@U1|legacy> <#C1|general> <!subteam^S1|@ops> <#C2> <!subteam^S2>",
                &names
            ),
            "User general ops Channel Group"
        );
        assert_eq!(
            *calls.borrow(),
            [
                (MentionKind::User, "U1".to_owned()),
                (MentionKind::Channel, "C2".to_owned()),
                (MentionKind::Group, "S2".to_owned()),
            ]
        );
        assert_eq!(
            to_speech("<@U1|legacy> <#C1>", &no_names),
            "legacy a channel"
        );
    }

    #[test]
    fn replacements_are_not_reparsed() {
        let names = |_: MentionKind, _: &str| Some("*star* &amp; :smile: <@U2>".to_owned());
        assert_eq!(
            to_speech("hi <@U1>", &names),
            "hi *star* &amp; :smile: <@U2>"
        );
        // The private-use characters used internally are stripped from the input.
        assert_eq!(speak("a\u{E000}b\u{E001}c <@U024BE7LH>"), "abc Ana Lima");
    }

    #[test]
    fn pathological_input_is_fast_and_safe() {
        let inputs = [
            "<".repeat(50_000),
            ">".repeat(50_000),
            "<a|".repeat(20_000) + &">".repeat(20_000),
            "<@U1|".repeat(20_000) + &">".repeat(20_000),
            "<https://x|\n".repeat(20_000) + &">".repeat(20_000),
            "<!here ".repeat(20_000),
            "*a ".repeat(20_000),
            ":a".repeat(30_000),
            "`".repeat(50_000),
            "&amp;".repeat(20_000),
            "🎉\u{200D}".repeat(20_000),
        ];
        for input in inputs {
            let out = speak(&input);
            assert!(!out.contains(SENTINEL) && !out.contains(GAP));
        }
    }
}
