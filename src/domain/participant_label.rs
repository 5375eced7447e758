//! The labels denwa gives conference participants.
//!
//! A label comes back in every conference callback (`ParticipantLabel`), and tells denwa which
//! participant is a speaker leg. Twilio refuses a label that contains `/` or resembles a CallSid
//! (error 16023: the leg is then left out of the conference, so a speaker labelled with its SID
//! would never be heard), and does not say whether it looks for a CallSid inside a label. So a
//! label is made of denwa's own words and tokens only: never a Twilio SID, never a `/`.

use std::fmt;

use super::LegToken;

/// What denwa calls a participant in the caller's conference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct ParticipantLabel(String);

const SPEAKER: &str = "speaker-";

impl ParticipantLabel {
    /// The caller (on an outbound call, the person called).
    pub fn caller() -> Self {
        Self("caller".to_owned())
    }

    /// Responder `index` of the directory.
    pub fn responder(index: usize) -> Self {
        Self(["responder-", &index.to_string()].concat())
    }

    /// The speaker leg whose lease token is `leg` (a `LegToken` holds nothing Twilio refuses).
    pub fn speaker(leg: &LegToken) -> Self {
        Self([SPEAKER, leg.as_str()].concat())
    }

    /// Whether `label`, as a conference callback reports it, is a speaker leg's.
    pub fn is_speaker(label: &str) -> bool {
        label.starts_with(SPEAKER)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ParticipantLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{LegToken, ParticipantLabel};

    #[test]
    fn labels_are_denwas_words_and_tokens() {
        assert_eq!(ParticipantLabel::caller().as_str(), "caller");
        assert_eq!(ParticipantLabel::responder(2).as_str(), "responder-2");
        let speaker = ParticipantLabel::speaker(&LegToken::parse("k3j9x0q2m7pa").unwrap());
        assert_eq!(speaker.as_str(), "speaker-k3j9x0q2m7pa");
        assert!(ParticipantLabel::is_speaker(speaker.as_str()));
        assert!(!ParticipantLabel::is_speaker("caller"));
        assert!(!ParticipantLabel::is_speaker("responder-1"));
    }

    #[test]
    fn a_speaker_label_never_carries_a_sid_or_a_slash() {
        for leg in [
            "",
            "CA0123456789abcdef0123456789abcdef",
            "ca0123456789abcdef0123456789abcdef",
            "a/b",
            "a%2Fb",
            "UPPER",
        ] {
            assert_eq!(
                LegToken::parse(leg).map(|t| ParticipantLabel::speaker(&t)),
                None,
                "{leg:?}"
            );
        }
    }
}
