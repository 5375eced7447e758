//! A message to be spoken to a call.

use std::fmt;

use rand::RngExt as _;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    pub fn generate() -> Self {
        let n: u64 = rand::rng().random();
        Self(format!("m{n:016x}"))
    }

    pub fn parse(input: &str) -> Option<Self> {
        (input.len() == 17
            && input.starts_with('m')
            && input[1..].bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MessageId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
    /// The origin as stored, reference included, for routing the receipt back.
    #[serde(skip)]
    pub origin: String,
    pub attempts: u32,
    /// Unix milliseconds.
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
}
