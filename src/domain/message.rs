//! A message to be spoken to a call.

use denwa_chat::MessageOrigin;
use serde::Serialize;

use super::MessageId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    Queued,
    Speaking,
    Spoken,
    Failed,
}

impl MessageState {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => MessageState::Queued,
            "speaking" => MessageState::Speaking,
            "spoken" => MessageState::Spoken,
            "failed" => MessageState::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: MessageId,
    pub text: String,
    /// A recording played before the text (a caller's recorded name in an announcement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_url: Option<String>,
    pub state: MessageState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who sent it: "api" (with the client's reference: `api:<reference>`), "slack", "discord",
    /// "line" (announcements). Other bridges' references are not shown: they can be credentials
    /// (a Discord interaction token, a Slack response URL).
    pub source: String,
    /// Who sent it, reference included, for routing the receipt back.
    #[serde(skip)]
    pub origin: MessageOrigin,
    pub attempts: u32,
    /// Unix milliseconds.
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
    /// How the text is said, as cut when it was stored (empty for a message stored before pieces
    /// were kept: the speaker cuts it then).
    #[serde(skip)]
    pub pieces: Vec<Piece>,
    /// Pieces already heard by the caller (a long message is said over several turns).
    #[serde(skip)]
    pub pieces_heard: usize,
    /// The pieces the current turn says, while the message is in flight.
    #[serde(skip)]
    pub saying: Option<std::ops::Range<usize>>,
}

/// One `<Say>` of a message: `text[start..end]`, costing `cost` bytes of TwiML (its `<Play>` too
/// for the first piece of a message with a recording). See `speech::pieces`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub start: usize,
    pub end: usize,
    pub cost: usize,
}

impl Piece {
    /// The stored form: `start:end:cost` for each piece, comma separated (the turn script reads the
    /// costs with one pattern).
    pub fn encode_all(pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|p| [p.start, p.end, p.cost].map(|n| n.to_string()).join(":"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The stored form read back; `None` if it is malformed or does not fit `text`.
    pub fn decode_all(stored: &str, text: &str) -> Option<Vec<Piece>> {
        stored
            .split(',')
            .map(|p| {
                let mut numbers = p.split(':').map(|n| n.parse::<usize>().ok());
                let (start, end, cost) = (numbers.next()??, numbers.next()??, numbers.next()??);
                (start <= end && text.get(start..end).is_some()).then_some(Piece {
                    start,
                    end,
                    cost,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_pieces_round_trip_and_must_fit_the_text() {
        let pieces = vec![
            Piece {
                start: 0,
                end: 5,
                cost: 60,
            },
            Piece {
                start: 6,
                end: 11,
                cost: 61,
            },
        ];
        let stored = Piece::encode_all(&pieces);
        assert_eq!(stored, "0:5:60,6:11:61");
        assert_eq!(
            Piece::decode_all(&stored, "hello world"),
            Some(pieces.clone())
        );
        assert_eq!(&"hello world"[pieces[1].start..pieces[1].end], "world");
        assert_eq!(
            Piece::decode_all(&stored, "hello"),
            None,
            "a range past the text"
        );
        assert_eq!(Piece::decode_all("0:5", "hello"), None);
        assert_eq!(Piece::decode_all("x:1:2", "hello"), None);
    }
}
