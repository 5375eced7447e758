//! Discord markup to plain speech: what a caller should hear when a responder types
//! `**Hi** <@80351110224678912>, see <#1234>! 🎉`.
//!
//! Two steps, because names come from Discord's REST API and the rest is pure text work:
//! [`mentions`] lists the ids a text mentions, the caller resolves them into [`Names`] (both
//! shared with every bridge, `denwa_chat::mentions`), then [`to_speech`] rewrites the text:
//! - user, role and channel mentions become names ("someone", "a role", "a channel" when unknown);
//!   `@everyone`/`@here` lose the `@`; command mentions `</name:id>` become `/name`;
//! - custom emoji `<:name:id>`/`<a:name:id>` are dropped;
//! - masked links `[label](url)` become their label, bare URLs "a link";
//! - bold, italics, underline, strike-through, spoilers, inline code, code fences, headings,
//!   quotes and list bullets lose their marks and keep their text; `\*` stays a `*`;
//! - timestamps `<t:1700000000:R>` become words ("in 5 minutes", "14 November 2023 at 22:13 UTC");
//! - what is left is plain text, spoken as every bridge speaks it
//!   ([`denwa_chat::speech::speakable`]): Unicode emoji dropped, whitespace collapsed, `""` when
//!   nothing a caller could hear is left. Japanese and Chinese characters count as word boundaries
//!   for the marks, as in every bridge ([`denwa_chat::speech::is_word`]).

use chrono::{DateTime, Utc};
use denwa_chat::speech::{self, GAP};
use denwa_chat::{MentionKind, Mentions, Names};

/// One `<...>` token.
enum Angle<'a> {
    /// A user (`<@id>`, `<@!id>`), a role (`<@&id>`, a [`MentionKind::Group`]) or a channel.
    Mention(MentionKind, &'a str),
    Emoji,
    Command(&'a str),
    Timestamp(i64, Option<char>),
    Link,
}

fn digits(s: &str) -> Option<&str> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

fn parse_angle(inner: &str) -> Option<Angle<'_>> {
    let mention = |kind, id| digits(id).map(|id| Angle::Mention(kind, id));
    if let Some(rest) = inner.strip_prefix("@&") {
        return mention(MentionKind::Group, rest);
    }
    if let Some(rest) = inner.strip_prefix("@!") {
        return mention(MentionKind::User, rest);
    }
    if let Some(rest) = inner.strip_prefix('@') {
        return mention(MentionKind::User, rest);
    }
    if let Some(rest) = inner.strip_prefix('#') {
        return mention(MentionKind::Channel, rest);
    }
    if let Some(rest) = inner.strip_prefix("t:") {
        let (ts, style) = match rest.split_once(':') {
            Some((ts, style)) => (ts, style.chars().next().filter(|_| style.len() == 1)),
            None => (rest, None),
        };
        let ts = ts.strip_prefix('-').map_or(ts, |t| t);
        let value: i64 = digits(ts)?.parse().ok()?;
        let value = if rest.starts_with('-') { -value } else { value };
        return Some(Angle::Timestamp(value, style));
    }
    if let Some(rest) = inner.strip_prefix("a:").or_else(|| inner.strip_prefix(':')) {
        let (name, id) = rest.split_once(':')?;
        return (!name.is_empty() && digits(id).is_some()).then_some(Angle::Emoji);
    }
    if let Some(rest) = inner.strip_prefix('/') {
        let (name, id) = rest.rsplit_once(':')?;
        return (!name.is_empty() && digits(id).is_some()).then_some(Angle::Command(name));
    }
    if (inner.starts_with("http://") || inner.starts_with("https://"))
        && !inner.contains(char::is_whitespace)
    {
        return Some(Angle::Link);
    }
    None
}

/// Every `<...>` token in `text` with its byte range.
fn angles(text: &str) -> Vec<(usize, usize, Angle<'_>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find('<').map(|i| i + from) {
        let Some(close) = text[open + 1..]
            .find(['>', '<', '\n'])
            .map(|i| i + open + 1)
        else {
            break;
        };
        if text.as_bytes()[close] != b'>' {
            from = close;
            continue;
        }
        if let Some(angle) = parse_angle(&text[open + 1..close]) {
            out.push((open, close + 1, angle));
        }
        from = close + 1;
    }
    out
}

/// The ids `text` mentions, each once, in order.
pub fn mentions(text: &str) -> Mentions {
    let mut m = Mentions::default();
    for (_, _, angle) in angles(text) {
        if let Angle::Mention(kind, id) = angle {
            m.add(kind, id);
        }
    }
    m
}

/// `text` as plain speech, with mentions named from `names` and relative times counted from
/// `now`; `""` if nothing a caller could hear is left.
pub fn to_speech(text: &str, names: &Names, now: DateTime<Utc>) -> String {
    let text = unwrap_code(text);
    let text = replace_angles(&text, names, now);
    let text = replace_links(&text);
    let text = protect_escapes(&text);
    let text = strip_line_marks(&text);
    let mut text = text;
    for (mark, boundary) in [
        ("***", false),
        ("**", false),
        ("__", true),
        ("~~", false),
        ("||", false),
        ("*", true),
        ("_", true),
    ] {
        text = strip_pairs(&text, mark, boundary);
    }
    speech::speakable(&restore_escapes(&text))
}

/// Code fences and inline code: the marks go, the code stays (it is read out as written).
fn unwrap_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let Some(close) = after.find("```") else {
            break;
        };
        out.push_str(&rest[..open]);
        let mut code = &after[..close];
        // The language tag: a lone word on the fence's first line.
        if let Some((first, body)) = code.split_once('\n')
            && !first.is_empty()
            && first
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-_#.".contains(c))
        {
            code = body;
        }
        out.push(' ');
        out.push_str(code);
        out.push(' ');
        rest = &after[close + 3..];
    }
    out.push_str(rest);

    // Inline code: `x` or ``x``.
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    loop {
        let Some(open) = rest.find('`') else {
            result.push_str(rest);
            break;
        };
        let ticks = rest[open..].bytes().take_while(|b| *b == b'`').count();
        let fence = &rest[open..open + ticks];
        let after = &rest[open + ticks..];
        match after.find(fence) {
            Some(close) if close > 0 => {
                result.push_str(&rest[..open]);
                result.push_str(after[..close].trim());
                rest = &after[close + ticks..];
            }
            _ => {
                // An unmatched backtick says nothing.
                result.push_str(&rest[..open]);
                rest = after;
            }
        }
    }
    result
}

fn replace_angles(text: &str, names: &Names, now: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end, angle) in angles(text) {
        out.push_str(&text[last..start]);
        let spoken = match angle {
            Angle::Mention(kind, id) => names.get(kind, id).map_or_else(
                || match kind {
                    MentionKind::User => "someone".into(),
                    MentionKind::Group => "a role".into(),
                    MentionKind::Channel => "a channel".into(),
                },
                str::to_owned,
            ),
            Angle::Emoji => GAP.to_string(),
            Angle::Command(name) => format!("/{name}"),
            Angle::Timestamp(ts, style) => timestamp(ts, style, now),
            Angle::Link => "a link".into(),
        };
        // Names are data: a name that looks like markup must not be read as markup.
        out.push_str(&escape(&spoken));
        last = end;
    }
    out.push_str(&text[last..]);
    out.replace("@everyone", "everyone")
        .replace("@here", "here")
}

/// Escapes the characters the later steps treat as marks.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "*_~|`[]()\\<>".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn timestamp(ts: i64, style: Option<char>, now: DateTime<Utc>) -> String {
    let Some(at) = DateTime::<Utc>::from_timestamp(ts, 0) else {
        return String::new();
    };
    match style {
        Some('t') => at.format("%H:%M UTC").to_string(),
        Some('T') => at.format("%H:%M:%S UTC").to_string(),
        Some('d') | Some('D') => at.format("%-d %B %Y").to_string(),
        Some('F') => at.format("%A %-d %B %Y at %H:%M UTC").to_string(),
        Some('R') => relative(at - now),
        _ => at.format("%-d %B %Y at %H:%M UTC").to_string(),
    }
}

fn relative(delta: chrono::TimeDelta) -> String {
    let secs = delta.num_seconds();
    let abs = secs.unsigned_abs();
    let (n, unit) = match abs {
        0..45 => return "now".into(),
        45..3_600 => (abs.div_ceil(60).max(1), "minute"),
        3_600..86_400 => (abs / 3_600, "hour"),
        86_400..2_592_000 => (abs / 86_400, "day"),
        2_592_000..31_536_000 => (abs / 2_592_000, "month"),
        _ => (abs / 31_536_000, "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if secs > 0 {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// Masked links to their label, bare URLs to "a link".
fn replace_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let masked = after.find("](").and_then(|mid| {
            let label = &after[..mid];
            let url_part = &after[mid + 2..];
            let close = url_part.find(')')?;
            let url = url_part[..close].trim();
            (!label.contains('[')
                && (url.starts_with("http://")
                    || url.starts_with("https://")
                    || url.starts_with("<http")))
            .then_some((label, mid + 2 + close + 1))
        });
        match masked {
            Some((label, consumed)) => {
                out.push_str(&rest[..open]);
                out.push_str(label);
                rest = &after[consumed..];
            }
            None => {
                out.push_str(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    out.push_str(rest);

    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    loop {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(start) = next else {
            result.push_str(rest);
            break;
        };
        result.push_str(&rest[..start]);
        let len = rest[start..]
            .find(|c: char| c.is_whitespace() || c == '>')
            .unwrap_or(rest.len() - start);
        let url = &rest[start..start + len];
        // Sentence punctuation after a URL belongs to the sentence.
        let trailing = url.len()
            - url
                .trim_end_matches(['.', ',', '!', '?', ')', ';', ':'])
                .len();
        result.push_str("a link");
        rest = &rest[start + len - trailing..];
    }
    result
}

/// `\*` and friends are literal characters: park them out of the way of the mark stripping.
const ESCAPED_BASE: u32 = 0xF0000;

fn protect_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && next.is_ascii_punctuation()
        {
            chars.next();
            out.push(char::from_u32(ESCAPED_BASE + next as u32).unwrap_or(next));
            continue;
        }
        out.push(c);
    }
    out
}

fn restore_escapes(text: &str) -> String {
    text.chars()
        .map(|c| {
            let v = c as u32;
            if (ESCAPED_BASE..ESCAPED_BASE + 128).contains(&v) {
                char::from_u32(v - ESCAPED_BASE).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Headings, subtext, quotes and bullets at the start of a line.
fn strip_line_marks(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            let mut l = line.trim_start();
            loop {
                let before = l;
                for mark in [">>> ", "> ", "### ", "## ", "# ", "-# ", "- ", "* ", "+ "] {
                    if let Some(rest) = l.strip_prefix(mark) {
                        l = rest.trim_start();
                    }
                }
                if l == before {
                    break;
                }
            }
            l
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Removes pairs of `mark` around text. With `boundary`, a mark inside a word is not a mark
/// (`snake_case_name`, `2*3*4`), as in Discord's own rendering.
fn strip_pairs(text: &str, mark: &str, boundary: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let m: Vec<char> = mark.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let is_mark = |i: usize| chars.get(i..i + m.len()) == Some(&m[..]);
    let word = |c: Option<char>| c.is_some_and(speech::is_word);
    let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
    // Runs longer than the mark (`***`) are handled by the longer mark first; a lone `*` next
    // to another `*` is not an opener here.
    let same = m[0];
    let opener = |i: usize| {
        is_mark(i)
            && at(i + m.len()) != Some(same)
            && (i == 0 || at(i - 1) != Some(same))
            && !space(at(i + m.len()))
            && !(boundary && i > 0 && word(at(i - 1)))
    };
    let closer = |j: usize| {
        is_mark(j)
            && at(j + m.len()) != Some(same)
            && (j == 0 || at(j - 1) != Some(same))
            && j > 0
            && !space(at(j - 1))
            && !(boundary && word(at(j + m.len())))
    };
    let mut remove = vec![false; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        if opener(i)
            && let Some(j) = (i + m.len()..chars.len()).find(|&j| j > i + m.len() - 1 && closer(j))
            && j > i + m.len() - 1
        {
            for k in 0..m.len() {
                remove[i + k] = true;
                remove[j + k] = true;
            }
            i = j + m.len();
            continue;
        }
        i += 1;
    }
    chars
        .iter()
        .zip(remove)
        .filter(|(_, r)| !r)
        .map(|(c, _)| *c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut n = Names::default();
        n.insert(MentionKind::User, "80351110224678912", "Nelly");
        n.insert(MentionKind::User, "111", "Ms *Star*");
        n.insert(MentionKind::Group, "165511591545143296", "Support");
        n.insert(MentionKind::Channel, "1234", "general");
        n
    }

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn real_discord_texts_become_speech() {
        let table: &[(&str, &str)] = &[
            ("Hello there", "Hello there"),
            (
                "**Hi** <@80351110224678912>, welcome!",
                "Hi Nelly, welcome!",
            ),
            (
                "<@!80351110224678912> will call you back",
                "Nelly will call you back",
            ),
            ("<@999> is on it", "someone is on it"),
            (
                "Ask <@&165511591545143296> in <#1234>",
                "Ask Support in general",
            ),
            ("<@&5> and <#6>", "a role and a channel"),
            (
                "Thanks <:blobwave:426522346367369216> bye <a:party_blob:39485>",
                "Thanks bye",
            ),
            ("Great 🎉🎉 news 👍🏽!", "Great news!"),
            ("Family 👨‍👩‍👧 and flag 🇯🇵 done ✅", "Family and flag done"),
            (
                "See [our docs](https://example.com/docs?a_b=c) please",
                "See our docs please",
            ),
            ("Go to https://example.com/a_b_c.", "Go to a link."),
            ("Link <https://example.com/x> here", "Link a link here"),
            (
                "*italic* and _also italic_ and __underlined__",
                "italic and also italic and underlined",
            ),
            ("~~old~~ new ||secret||", "old new secret"),
            ("***very*** important", "very important"),
            ("use `my_function()` now", "use my_function() now"),
            ("```rust\nlet x = 1;\n```", "let x = 1;"),
            ("```\nplain code\n```", "plain code"),
            ("snake_case_name stays", "snake_case_name stays"),
            ("2*3*4 = 24", "2*3*4 = 24"),
            (r"a \*literal\* star", "a *literal* star"),
            (
                "# Heading\n> quoted\n- item one\n- item two",
                "Heading quoted item one item two",
            ),
            ("-# small print", "small print"),
            ("@everyone the line is busy", "everyone the line is busy"),
            ("Meeting <t:1700003600:R>", "Meeting in 1 hour"),
            ("Was <t:1699999700:R>", "Was 5 minutes ago"),
            ("At <t:1700000000:t>", "At 22:13 UTC"),
            ("On <t:1700000000:D>", "On 14 November 2023"),
            ("On <t:1700000000>", "On 14 November 2023 at 22:13 UTC"),
            ("Try </say:123456789>", "Try /say"),
            ("a < b and c > d", "a < b and c > d"),
            ("お電話ありがとうございます😊", "お電話ありがとうございます"),
            ("Hi <@111>", "Hi Ms *Star*"),
            ("**unclosed bold", "**unclosed bold"),
        ];
        for (input, expected) in table {
            assert_eq!(&to_speech(input, &names(), now()), expected, "{input:?}");
        }
    }

    #[test]
    fn nothing_speakable_is_recognised() {
        for text in ["🎉", "<:blob:1>", "** **", "||  ||", "👍🏽 <a:x:2>", "..."] {
            let spoken = to_speech(text, &names(), now());
            assert!(spoken.is_empty(), "{text:?} -> {spoken:?}");
        }
        assert!(!to_speech("ok 👍", &names(), now()).is_empty());
    }

    /// The texts every bridge must speak alike (`denwa_chat::conformance`).
    #[test]
    fn texts_every_bridge_speaks_alike() {
        let failures =
            denwa_chat::conformance::check_speech(|text| to_speech(text, &Names::default(), now()));
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn mentions_are_listed_once_each() {
        let m = mentions("<@1> <@!1> <@2> <@&3> <#4> <#4> <:e:5> <t:6:R>");
        assert_eq!(m.users, ["1", "2"]);
        assert_eq!(m.groups, ["3"]);
        assert_eq!(m.channels, ["4"]);
    }
}
