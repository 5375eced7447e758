//! Words every bridge writes alike: a call's length, how many messages were spoken, a sentence
//! made of a refusal.

use crate::CallSummary;

/// "42 s", "3 min 12 s", "1 h 5 min".
pub fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// "no message was spoken", "1 message was spoken", "3 messages were spoken".
pub fn messages_spoken(n: u64) -> String {
    match n {
        0 => "no message was spoken".into(),
        1 => "1 message was spoken".into(),
        n => format!("{n} messages were spoken"),
    }
}

/// "the caller said nothing", "the caller said 1 thing", "the caller said 3 things".
pub fn caller_said(n: u64) -> String {
    match n {
        0 => "the caller said nothing".into(),
        n => format!("the caller said {}", count(n, "thing")),
    }
}

/// What a call's end posts about it: "3 messages were spoken" and, with live transcription,
/// "; the caller said 2 things".
pub fn call_tally(call: &CallSummary) -> String {
    let spoken = messages_spoken(call.messages_spoken);
    match call.caller_utterances {
        Some(n) => format!("{spoken}; {}", caller_said(n)),
        None => spoken,
    }
}

/// `n` of `unit`: "1 second", "12 seconds".
pub fn count(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `text` with a capital first letter: "no message was spoken" -> "No message was spoken".
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `text` as a sentence: "the call has already ended" -> "The call has already ended."
pub fn sentence(text: &str) -> String {
    let mut out = capitalized(text);
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl CallSummary {
    /// How long the call lasted, in milliseconds, once it has ended.
    pub fn duration_ms(&self) -> Option<u64> {
        self.ended_at.map(|end| end.saturating_sub(self.started_at))
    }

    /// The line's name as chat shows it, with what the caller did in its menu when it had one:
    /// "Billing (pressed 1)", "Support (no key pressed)". Plain text: each bridge escapes it.
    pub fn line_label(&self) -> String {
        match self.menu_choice.as_deref() {
            None => self.line.clone(),
            Some("none") => format!("{} (no key pressed)", self.line),
            Some(key) => format!("{} (pressed {key})", self.line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(42_999), "42 s");
        assert_eq!(duration(192_000), "3 min 12 s");
        assert_eq!(duration(133_000), "2 min 13 s");
        assert_eq!(duration(3_900_000), "1 h 5 min");
    }

    #[test]
    fn a_line_label_shows_the_menu_choice() {
        let mut call = CallSummary {
            id: crate::CallId::parse("c1").unwrap(),
            line: "Billing".into(),
            line_id: crate::LineId::parse("billing").unwrap(),
            menu_choice: None,
            from: String::new(),
            caller_name: None,
            state: crate::CallState::Ringing,
            started_at: 0,
            ended_at: None,
            messages_spoken: 0,
            caller_utterances: None,
            speaker_legs: 0,
            responder_legs: 0,
            joined: Vec::new(),
            direction: crate::Direction::Inbound,
        };
        assert_eq!(call.line_label(), "Billing");
        call.menu_choice = Some("1".into());
        assert_eq!(call.line_label(), "Billing (pressed 1)");
        call.menu_choice = Some("none".into());
        assert_eq!(call.line_label(), "Billing (no key pressed)");
    }

    #[test]
    fn counts_and_sentences() {
        assert_eq!(messages_spoken(0), "no message was spoken");
        assert_eq!(messages_spoken(1), "1 message was spoken");
        assert_eq!(messages_spoken(2), "2 messages were spoken");
        assert_eq!(count(1, "second"), "1 second");
        assert_eq!(count(12, "second"), "12 seconds");
        assert_eq!(
            sentence("the call has already ended"),
            "The call has already ended."
        );
        assert_eq!(sentence("is it?"), "Is it?");
        assert_eq!(sentence(""), ".");
        assert_eq!(capitalized("émile"), "Émile");
    }
}
