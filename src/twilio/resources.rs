//! The JSON resources Twilio's REST API answers with, and the statuses its callbacks carry.
//!
//! Only the fields denwa reads are declared; serde ignores the rest, so Twilio adding fields never
//! breaks decoding. Fields Twilio may send as `null` are `Option`s, and statuses have an `Unknown`
//! variant for values added after this was written. Callers' phone numbers are deliberately not
//! decoded from call resources: denwa already knows them, and a resource printed with `{:?}` in a
//! log line should not carry personal data.

use serde::Deserialize;

use crate::domain::{CallSid, ConferenceSid};

pub use super::params::ConferenceStatus;

/// A call's state (`status` of a call resource, `CallStatus` of webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
    #[serde(other)]
    Unknown,
}

impl CallStatus {
    /// The status as Twilio writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Initiated => "initiated",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Canceled => "canceled",
            CallStatus::Unknown => "unknown",
        }
    }

    /// Whether the call is over: nothing more will happen on it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CallStatus::Completed
                | CallStatus::Busy
                | CallStatus::Failed
                | CallStatus::NoAnswer
                | CallStatus::Canceled
        )
    }
}

/// What a conference status callback reports (its `StatusCallbackEvent`). Only the events denwa
/// acts on are named; any other (`participant-mute`, one Twilio adds later) is `Other`, so it
/// never fails the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConferenceStatusEvent {
    ConferenceStart,
    ConferenceEnd,
    ParticipantJoin,
    ParticipantLeave,
    AnnouncementEnd,
    AnnouncementFail,
    #[serde(other)]
    Other,
}

/// A call (`/Calls/{CallSid}.json`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CallResource {
    pub sid: CallSid,
    #[serde(default)]
    pub account_sid: Option<String>,
    pub status: CallStatus,
    /// `inbound`, `outbound-api` or `outbound-dial`.
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub parent_call_sid: Option<CallSid>,
    /// Seconds, as a string, once the call has ended.
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub answered_by: Option<String>,
}

/// A conference (`/Conferences/{ConferenceSid}.json`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConferenceResource {
    pub sid: ConferenceSid,
    pub friendly_name: String,
    pub status: ConferenceStatus,
    #[serde(default)]
    pub account_sid: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
}

/// A participant's call state in a conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParticipantStatus {
    Queued,
    Connecting,
    Ringing,
    Connected,
    Complete,
    Failed,
    #[serde(other)]
    Unknown,
}

/// A conference participant (`/Conferences/{ConferenceSid}/Participants/{CallSid}.json`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ParticipantResource {
    pub call_sid: CallSid,
    pub conference_sid: ConferenceSid,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub status: Option<ParticipantStatus>,
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub hold: bool,
    #[serde(default)]
    pub start_conference_on_enter: Option<bool>,
    #[serde(default)]
    pub end_conference_on_exit: Option<bool>,
}

/// One of the account's phone numbers (`/IncomingPhoneNumbers/{Sid}.json`). The number is the
/// line's own, not a caller's, so it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IncomingNumberResource {
    pub sid: String,
    pub phone_number: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub voice_url: Option<String>,
    #[serde(default)]
    pub voice_method: Option<String>,
    #[serde(default)]
    pub status_callback: Option<String>,
    #[serde(default)]
    pub status_callback_method: Option<String>,
}

/// One page of a list: the items under the list's own key, and where the next page is.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(
        alias = "conferences",
        alias = "incoming_phone_numbers",
        alias = "participants",
        alias = "calls"
    )]
    pub items: Vec<T>,
    /// A path and query relative to the API's host (`/2010-04-01/Accounts/...`), or null.
    #[serde(default)]
    pub next_page_uri: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_call_and_ignores_unknown_fields() {
        let json = r#"{
            "sid": "CA1234567890abcdef1234567890abcdef", "account_sid": "AC1", "status": "queued",
            "direction": "outbound-api", "parent_call_sid": null, "duration": null,
            "to": "+14155550100", "from": "+14155550199", "price": null, "subresource_uris": {"x": "/y"},
            "brand_new_field": [1, 2, 3]
        }"#;
        let call: CallResource = serde_json::from_str(json).unwrap();
        assert_eq!(call.sid.as_str(), "CA1234567890abcdef1234567890abcdef");
        assert_eq!(call.status, CallStatus::Queued);
        assert_eq!(call.direction.as_deref(), Some("outbound-api"));
        assert!(
            !format!("{call:?}").contains("+1415"),
            "phone numbers must not reach Debug output"
        );
    }

    #[test]
    fn unknown_statuses_decode() {
        let c: ConferenceResource = serde_json::from_str(
            r#"{"sid":"CF00000000000000000000000000000001","friendly_name":"denwa-x","status":"paused-forever"}"#,
        )
        .unwrap();
        assert_eq!(c.status, ConferenceStatus::Unknown);
        let c: ConferenceResource = serde_json::from_str(
            r#"{"sid":"CF00000000000000000000000000000001","friendly_name":"denwa-x","status":"in-progress"}"#,
        )
        .unwrap();
        assert_eq!(c.status, ConferenceStatus::InProgress);
        let call: CallResource = serde_json::from_str(
            r#"{"sid":"CA00000000000000000000000000000001","status":"no-answer"}"#,
        )
        .unwrap();
        assert_eq!(call.status, CallStatus::NoAnswer);
    }

    #[test]
    fn call_statuses_read_as_twilio_writes_them_and_know_when_a_call_is_over() {
        let finals = ["completed", "busy", "failed", "no-answer", "canceled"];
        for text in ["queued", "initiated", "ringing", "in-progress"]
            .into_iter()
            .chain(finals)
        {
            let status: CallStatus = serde_json::from_value(text.into()).unwrap();
            assert_eq!(status.as_str(), text);
            assert_eq!(status.is_final(), finals.contains(&text), "{text}");
        }
        let status: CallStatus = serde_json::from_value("on-the-moon".into()).unwrap();
        assert!(!status.is_final());
    }

    #[test]
    fn decodes_pages_under_their_list_key() {
        let page: Page<ConferenceResource> = serde_json::from_str(
            r#"{"conferences":[{"sid":"CF00000000000000000000000000000001","friendly_name":"denwa-a","status":"init"}],"next_page_uri":null,"page":0}"#,
        )
        .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.next_page_uri, None);
        let page: Page<IncomingNumberResource> = serde_json::from_str(
            r#"{"incoming_phone_numbers":[{"sid":"PN1","phone_number":"+14155550100","voice_url":null}],
                "next_page_uri":"/2010-04-01/Accounts/AC1/IncomingPhoneNumbers.json?Page=1"}"#,
        )
        .unwrap();
        assert_eq!(page.items[0].sid, "PN1");
        assert!(page.next_page_uri.is_some());
    }

    #[test]
    fn decodes_a_participant() {
        let p: ParticipantResource = serde_json::from_str(
            r#"{"call_sid":"CA00000000000000000000000000000001","conference_sid":"CF00000000000000000000000000000001","label":"responder","status":"connected","muted":true,
                "hold":false,"coaching":false,"start_conference_on_enter":true,"end_conference_on_exit":false}"#,
        )
        .unwrap();
        assert_eq!(p.status, Some(ParticipantStatus::Connected));
        assert!(p.muted);
    }
}
