//! External phones: the people and machines at the far end of calls to numbers the account does
//! not own.

/// How an external phone reacts when the emulator calls it. Numbers never registered with
/// [`Emulator::add_phone`](crate::Emulator::add_phone) behave as [`PhoneBehaviour::Answer`].
#[derive(Debug, Clone, PartialEq)]
pub enum PhoneBehaviour {
    /// Rings for [`RING_SECS`], answers, listens silently.
    Answer,
    /// Answers, then presses `digits` `after_secs` call-seconds after answering.
    AnswerAndPress { digits: String, after_secs: f64 },
    /// An answering machine: answers, says [`VOICEMAIL_GREETING`], beeps, then listens forever and
    /// never presses anything.
    Voicemail,
    /// Rejects with a busy signal (status `busy`).
    Busy,
    /// Rings until the caller's timeout (status `no-answer`).
    NoAnswer,
    /// The call cannot be connected (status `failed`).
    Fail,
}

/// Call-seconds an outbound call rings before an answering phone picks up.
pub const RING_SECS: f64 = 1.0;

/// What a [`PhoneBehaviour::Voicemail`] phone says when it answers.
pub const VOICEMAIL_GREETING: &str =
    "Hello, you have reached my voicemail. Please leave a message after the tone.";

/// E.164: `+`, a non-zero digit, at most 15 digits in all.
pub(crate) fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A `To`/`From` the emulator can dial: E.164 or a `client:` identity.
pub(crate) fn is_dialable(s: &str) -> bool {
    is_e164(s) || s.strip_prefix("client:").is_some_and(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn e164() {
        assert!(super::is_e164("+14155550100"));
        assert!(super::is_e164("+81312345678"));
        assert!(!super::is_e164("14155550100"));
        assert!(!super::is_e164("+0123"));
        assert!(!super::is_e164("+1415555010012345"));
        assert!(!super::is_e164("+1-415"));
    }
}
