//! The announcement message: what a call looks like in the channel, in Block Kit.
//!
//! The message is rendered from a [`CallSummary`] alone, so any event (on any replica) can
//! re-render it from the call's current state with `chat.update`. The caller's number appears in
//! the message's text only: never in a button value, an action or block id, or a log.

use denwa_chat::words::{self, call_tally, capitalized, sentence};
use denwa_chat::{CallState, CallSummary, Direction, Note};
use slack_morphism::prelude::*;

use denwa_chat::format_number;

/// The `action_id` of the Hang up button; its `value` is the call id.
pub const HANG_UP: &str = "hangup";
/// The `action_id` of the Join by phone button; its `value` is the call id.
pub const JOIN: &str = "join";

pub struct Rendered {
    /// The notification text (and what clients without blocks show).
    pub text: String,
    pub blocks: Vec<SlackBlock>,
}

/// The announcement of `call`, as it stands.
pub fn announcement(call: &CallSummary) -> Rendered {
    let who = caller(call);
    // `from` is the far end's number either way: the caller, or whom the line called.
    let kind = match call.direction {
        Direction::Outbound => "Call to",
        Direction::Inbound => "Call from",
    };
    let line = call.line_label();
    let text = format!("{kind} {who} on {}", escape(&line));
    let headline = format!(
        ":telephone_receiver: *{kind} {who}*\n*Line:* {}   *Started:* {}",
        escape(&line),
        slack_date(call.started_at / 1000),
    );
    let status = match call.state {
        CallState::Ringing => ":hourglass_flowing_sand: Answering…".to_owned(),
        CallState::Connected => {
            ":large_green_circle: Connected. Reply in this thread to speak to the caller."
                .to_owned()
        }
        CallState::Ended => format!(
            ":red_circle: Ended after {}. {}. {}. {}.",
            duration(call),
            capitalized(&call_tally(call)),
            joined(call),
            extra_legs(call)
        ),
    };
    let mut blocks = vec![
        SlackSectionBlock::new()
            .with_block_id("call".into())
            .with_text(md!(headline))
            .into(),
        SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
            SlackBlockMarkDownText::new(status),
        )])
        .with_block_id("status".into())
        .into(),
    ];
    let actions = buttons(call);
    if !actions.is_empty() {
        blocks.push(
            SlackActionsBlock::new(actions)
                .with_block_id("actions".into())
                .into(),
        );
    }
    Rendered { text, blocks }
}

/// The buttons a call offers while it lasts: Hang up, and Join by phone (rings the clicking
/// user's phone from the responder directory into the call). Further actions go here: give each
/// its own `action_id`, put only the call id in its `value`, and handle it in `interactions.rs`.
fn buttons(call: &CallSummary) -> Vec<SlackActionBlockElement> {
    if call.state == CallState::Ended {
        return Vec::new();
    }
    let hang_up = SlackBlockButtonElement::new(pt!("Hang up"))
        .with_action_id(HANG_UP.into())
        .with_value(call.id.to_string())
        .with_style(SlackBlockButtonStyle::Danger)
        // A confirmation dialog's `text` is plain_text only (at most 300 characters): Slack's
        // composition-objects/confirmation-dialog-object. mrkdwn there gets `invalid_blocks`.
        .with_confirm(SlackBlockConfirmItem::new(
            pt!("Hang up?"),
            pt!("This ends the call for the caller and everyone in it."),
            pt!("Hang up"),
            pt!("Cancel"),
        ));
    let join = SlackBlockButtonElement::new(pt!("Join by phone"))
        .with_action_id(JOIN.into())
        .with_value(call.id.to_string());
    vec![hang_up.into(), join.into()]
}

/// "*+1 415-555-0123* (Jane Doe)", escaped for mrkdwn.
pub fn caller(call: &CallSummary) -> String {
    let number = escape(&format_number(&call.from));
    match call
        .caller_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(name) => format!("{number} ({})", escape(name)),
        None => number,
    }
}

/// What the end of a call says in its thread.
pub fn ended_note(call: &CallSummary) -> String {
    format!(
        ":red_circle: The call ended after {}. {}.",
        duration(call),
        capitalized(&call_tally(call))
    )
}

/// A note in a call's thread, escaped for mrkdwn.
pub fn note(note: Note<'_>) -> String {
    match note {
        Note::Joined(name) => format!(":inbox_tray: {} joined the call.", escape(name)),
        Note::Left(name) => format!(":outbox_tray: {} left the call.", escape(name)),
        Note::Voicemail { recording_url } => format!(
            ":mailbox_with_mail: The caller left a <{}|voicemail>.",
            escape(recording_url)
        ),
        Note::VoicemailTranscript(text) => {
            format!(":memo: Voicemail transcript: “{}”", escape(text))
        }
        Note::Notice(text) => format!(":warning: {}", escape(text)),
        // The caller's words are data: escaped, no mention, channel ping or link can be spoken
        // into being.
        Note::CallerSaid { name, utterances } => {
            Note::caller_said(name, utterances, escape, |who, text| {
                format!(":speech_balloon: *{who}:* {text}")
            })
        }
    }
}

/// The most characters denwa puts in one Slack message: Slack advises 4,000 at most in `text`
/// (https://api.slack.com/methods/chat.postMessage, "Truncating content") and cuts longer ones.
pub const MAX_MESSAGE_CHARS: usize = 3_500;

/// `text` as messages of at most [`MAX_MESSAGE_CHARS`], cut between lines (a line longer than
/// that alone is cut at a character). Never cuts inside an escape such as `&amp;` unless a
/// single line is that long.
pub fn message_parts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.chars().count() > MAX_MESSAGE_CHARS {
        let limit = rest
            .char_indices()
            .nth(MAX_MESSAGE_CHARS)
            .map_or(rest.len(), |(i, _)| i);
        let cut = rest[..limit]
            .rfind('\n')
            .filter(|&i| i > 0)
            .unwrap_or(limit);
        parts.push(&rest[..cut]);
        rest = rest[cut..].strip_prefix('\n').unwrap_or(&rest[cut..]);
    }
    parts.push(rest);
    parts
}

/// "Joined: Alice, Bob", escaped for mrkdwn.
fn joined(call: &CallSummary) -> String {
    if call.joined.is_empty() {
        "Nobody joined".into()
    } else {
        format!("Joined: {}", escape(&call.joined.join(", ")))
    }
}

/// What the call cost beyond the caller's own leg: speaker and responder legs.
fn extra_legs(call: &CallSummary) -> String {
    match call.speaker_legs + call.responder_legs {
        0 => "No extra call legs".into(),
        1 => "1 extra call leg".into(),
        n => format!("{n} extra call legs"),
    }
}

/// "3 min 12 s", from the call's start to its end ("0 s" while it lasts).
fn duration(call: &CallSummary) -> String {
    words::duration(call.duration_ms().unwrap_or(0))
}

/// Slack's date token: every reader sees their own time zone; the fallback is UTC.
pub fn slack_date(unix_secs: u64) -> String {
    format!(
        "<!date^{unix_secs}^{{date_short_pretty}} at {{time}}|{}>",
        utc(unix_secs)
    )
}

/// "2023-11-14 22:13 UTC" (civil-from-days, Howard Hinnant's algorithm).
fn utc(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let (hour, minute) = (unix_secs / 3600 % 24, unix_secs / 60 % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// Escapes text for Slack's mrkdwn: `&`, `<` and `>` are the only control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A refusal as a sentence for Slack: "the call has already ended" -> "The call has already
/// ended.", escaped for mrkdwn.
pub fn refusal(refused: &denwa_chat::LineRefused) -> String {
    escape(&sentence(&refused.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(state: CallState) -> CallSummary {
        CallSummary {
            id: denwa_chat::CallId::parse("c123").unwrap(),
            line: "Support & Sales".into(),
            line_id: denwa_chat::LineId::parse("main").unwrap(),
            menu_choice: None,
            from: "+14155550123".into(),
            caller_name: Some("<Jane>".into()),
            state,
            started_at: 1_700_000_000_000,
            ended_at: (state == CallState::Ended).then_some(1_700_000_192_000),
            messages_spoken: 2,
            speaker_legs: 1,
            responder_legs: 0,
            caller_utterances: None,
            joined: Vec::new(),
            direction: Direction::Inbound,
        }
    }

    #[test]
    fn a_ringing_call_shows_who_where_when_and_its_buttons() {
        let r = announcement(&call(CallState::Ringing));
        assert_eq!(
            r.text,
            "Call from +1 415-555-0123 (&lt;Jane&gt;) on Support &amp; Sales"
        );
        let json = serde_json::to_value(&r.blocks).unwrap();
        let headline = json[0]["text"]["text"].as_str().unwrap();
        assert!(headline.contains("+1 415-555-0123"), "{headline}");
        assert!(
            headline
                .contains("<!date^1700000000^{date_short_pretty} at {time}|2023-11-14 22:13 UTC>"),
            "{headline}"
        );
        let button = &json[2]["elements"][0];
        assert_eq!(button["action_id"], HANG_UP);
        assert_eq!(button["value"], "c123");
        assert_eq!(button["type"], "button");
        assert_eq!(button["confirm"]["text"]["type"], "plain_text");
        let join = &json[2]["elements"][1];
        assert_eq!(join["action_id"], JOIN);
        assert_eq!(join["value"], "c123");
        assert_eq!(join["text"]["text"], "Join by phone");
    }

    #[test]
    fn an_ended_call_shows_its_duration_and_has_no_buttons() {
        let r = announcement(&call(CallState::Ended));
        let json = serde_json::to_value(&r.blocks).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        assert!(json[1]["elements"][0]["text"].as_str().unwrap().contains(
            "Ended after 3 min 12 s. 2 messages were spoken. Nobody joined. 1 extra call leg."
        ));
        let mut c = call(CallState::Ended);
        c.joined = vec!["Alice".into(), "<Bob>".into()];
        c.responder_legs = 2;
        let json = serde_json::to_value(announcement(&c).blocks).unwrap();
        let status = json[1]["elements"][0]["text"].as_str().unwrap();
        assert!(
            status.ends_with("Joined: Alice, &lt;Bob&gt;. 3 extra call legs."),
            "{status}"
        );
    }

    #[test]
    fn dates_fall_back_to_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn what_the_caller_said_is_escaped_and_labelled() {
        let utterances = vec![
            "<!channel> @everyone".to_owned(),
            "<https://x|y> & <@U123>".to_owned(),
        ];
        assert_eq!(
            note(Note::CallerSaid {
                name: Some("<Jane>"),
                utterances: &utterances
            }),
            ":speech_balloon: *&lt;Jane&gt;:* &lt;!channel&gt; @everyone\n:speech_balloon: *&lt;Jane&gt;:* &lt;https://x|y&gt; &amp; &lt;@U123&gt;"
        );
        assert!(
            note(Note::CallerSaid {
                name: None,
                utterances: &utterances[..1]
            })
            .starts_with(":speech_balloon: *Caller:* ")
        );
    }

    #[test]
    fn the_end_counts_what_the_caller_said_when_transcribed() {
        let mut c = call(CallState::Ended);
        assert!(!ended_note(&c).contains("caller said"));
        c.caller_utterances = Some(3);
        assert!(
            ended_note(&c).contains("2 messages were spoken; the caller said 3 things."),
            "{}",
            ended_note(&c)
        );
    }

    #[test]
    fn long_notes_are_cut_between_lines() {
        let line = "x".repeat(1_000);
        let text = [line.as_str(); 8].join("\n");
        let parts = message_parts(&text);
        assert_eq!(
            parts.len(),
            3,
            "{:?}",
            parts.iter().map(|p| p.len()).collect::<Vec<_>>()
        );
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
        assert_eq!(parts.join("\n"), text);
        assert_eq!(message_parts("short"), ["short"]);
        let one_long_line = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let parts = message_parts(&one_long_line);
        assert_eq!(parts.concat(), one_long_line);
    }
}
