//! Notes: what a line event posts in its call's thread, in words each bridge renders its own way.

use crate::{CallId, LineEvent};

/// A line in a call's thread that an event asks for. Every bridge posts the same notes; only the
/// wording and markup are its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note<'a> {
    /// Someone (a name from outside: escape it) joined the call.
    Joined(&'a str),
    Left(&'a str),
    /// The caller left a voicemail; its transcript follows when Twilio has it.
    Voicemail {
        recording_url: &'a str,
    },
    VoicemailTranscript(&'a str),
    /// What the caller said (from outside: escape it), in order; `name` when known.
    CallerSaid {
        name: Option<&'a str>,
        utterances: &'a [String],
    },
    /// Something the team should know about the call, in plain words.
    Notice(&'a str),
    /// A step of escalation, in plain words (responders' names from the config).
    Escalation(&'a str),
}

impl Note<'_> {
    /// Who the caller is in a [`Note::CallerSaid`]: their name, else "Caller".
    pub fn caller_label(name: Option<&str>) -> &str {
        name.filter(|n| !n.trim().is_empty()).unwrap_or("Caller")
    }

    /// A [`Note::CallerSaid`] as text: one line per utterance, written by `line(who, text)`
    /// after both went through the bridge's own `escape`, since the caller's name and words
    /// come from outside.
    pub fn caller_said(
        name: Option<&str>,
        utterances: &[String],
        escape: impl Fn(&str) -> String,
        line: impl Fn(&str, &str) -> String,
    ) -> String {
        let who = escape(Self::caller_label(name));
        utterances
            .iter()
            .map(|text| line(&who, &escape(text)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl LineEvent {
    /// The note this event posts in its call's thread, and the call; `None` for the events that
    /// are not notes (a call's announcement and its updates, receipts).
    pub fn note(&self) -> Option<(&CallId, Note<'_>)> {
        Some(match self {
            LineEvent::ParticipantJoined { call_id, name } => (call_id, Note::Joined(name)),
            LineEvent::ParticipantLeft { call_id, name } => (call_id, Note::Left(name)),
            LineEvent::Voicemail {
                call_id,
                recording_url,
                transcript,
            } => match transcript {
                Some(text) => (call_id, Note::VoicemailTranscript(text)),
                None => (call_id, Note::Voicemail { recording_url }),
            },
            LineEvent::Notice { call_id, text } => (call_id, Note::Notice(text)),
            LineEvent::Escalation { call_id, text } => (call_id, Note::Escalation(text)),
            LineEvent::CallerSaid {
                call_id,
                name,
                utterances,
            } => (
                call_id,
                Note::CallerSaid {
                    name: name.as_deref(),
                    utterances,
                },
            ),
            LineEvent::CallStarted { .. }
            | LineEvent::CallConnected { .. }
            | LineEvent::CallEnded { .. }
            | LineEvent::MessageSpoken { .. }
            | LineEvent::MessageFailed { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_leaves_voicemail_and_notices_are_notes() {
        let call = CallId::parse("c1").unwrap();
        let voicemail = |transcript: Option<&str>| LineEvent::Voicemail {
            call_id: call.clone(),
            recording_url: "https://x/r".into(),
            transcript: transcript.map(str::to_owned),
        };
        assert_eq!(
            voicemail(None).note(),
            Some((
                &call,
                Note::Voicemail {
                    recording_url: "https://x/r"
                }
            ))
        );
        assert_eq!(
            voicemail(Some("Call me back")).note(),
            Some((&call, Note::VoicemailTranscript("Call me back")))
        );
        let joined = LineEvent::ParticipantJoined {
            call_id: call.clone(),
            name: "Alice".into(),
        };
        assert_eq!(joined.note(), Some((&call, Note::Joined("Alice"))));
    }
}
