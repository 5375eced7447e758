//! Participant labels, checked as Twilio checks them: error 16023 for `<Conference
//! participantLabel>`, 16024 for the Participants API's `Label`.
//!
//! Twilio's rule (https://www.twilio.com/docs/api/errors/16023): at most 128 characters, no `/`
//! (not even as `%2F`), and not a CallSid ("CA" followed by 32 lowercase hex digits). Twilio does
//! not say whether a label that merely *contains* a CallSid is refused, so the emulator takes the
//! stricter reading: any run of two letters and 32 hex digits, in either case, anywhere in the
//! label (a SID of any kind, `CA`, `CF`, `PA`...), refuses it. So does an empty label.

/// The longest label Twilio accepts, in characters.
const MAX_CHARS: usize = 128;

/// Why Twilio would refuse `label` as a participant label, if it would.
pub(crate) fn violation(label: &str) -> Option<String> {
    if label.is_empty() {
        return Some("the participant label is empty".into());
    }
    let chars = label.chars().count();
    if chars > MAX_CHARS {
        return Some(format!(
            "the participant label has {chars} characters (at most {MAX_CHARS})"
        ));
    }
    if label.contains('/') || label.to_ascii_lowercase().contains("%2f") {
        return Some(format!("the participant label {label:?} contains '/'"));
    }
    if let Some(sid) = sid_shaped_run(label) {
        return Some(format!(
            "the participant label {label:?} contains {sid:?}, which resembles a CallSid"
        ));
    }
    None
}

/// The first run of two ASCII letters followed by 32 hex digits: the shape of a Twilio SID.
fn sid_shaped_run(label: &str) -> Option<&str> {
    const SID_LEN: usize = 34;
    let bytes = label.as_bytes();
    (0..bytes.len().saturating_sub(SID_LEN - 1))
        .find(|&i| {
            bytes[i].is_ascii_alphabetic()
                && bytes[i + 1].is_ascii_alphabetic()
                && bytes[i + 2..i + SID_LEN].iter().all(u8::is_ascii_hexdigit)
        })
        .map(|i| &label[i..i + SID_LEN])
}

#[cfg(test)]
mod tests {
    use super::violation;

    #[test]
    fn documented_rules_and_the_stricter_sid_reading() {
        let sid = "CA0123456789abcdef0123456789abcdef";
        for refused in [
            "",
            &"x".repeat(129),
            "a/b",
            "a%2Fb",
            "a%2fb",
            sid,
            &["speaker-", sid].concat(),
            &[sid, "-x"].concat(),
            "CF0123456789ABCDEF0123456789ABCDEF",
            "xxab0123456789abcdef0123456789abcdefyy",
        ] {
            assert!(violation(refused).is_some(), "{refused:?} must be refused");
        }
        for accepted in [
            "caller",
            "responder-1",
            "speaker-k3j9x0q2m7pa",
            &"é".repeat(128),
            // 31 hex digits after the letters: not a SID.
            "CA0123456789abcdef0123456789abcde",
            "speaker-CA0123456789abcdef0123456789abcdeg",
        ] {
            assert_eq!(violation(accepted), None, "{accepted:?}");
        }
    }
}
