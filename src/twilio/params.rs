//! The parameters of Twilio REST requests, as typed structs.
//!
//! Each struct serialises (serde, `PascalCase`, unset fields skipped) to exactly the form fields
//! Twilio documents. Twilio wants list-valued fields such as `StatusCallbackEvent` repeated once per
//! value, which `serde_urlencoded` cannot write, so those fields are skipped by serde and appended by
//! [`FormBody::repeated`], still from typed values. Fields are private and set through builder
//! methods, so a request cannot be built in a shape Twilio would reject (say, both `Url` and `Twiml`).

use serde::Serialize;

use crate::domain::{ParticipantLabel, PhoneNumber};
use crate::twiml::{Beep, ConferenceEvent, HttpMethod, VoiceResponse};

/// A request body sent as `application/x-www-form-urlencoded`.
pub(crate) trait FormBody: Serialize {
    /// The list-valued fields, one `(name, value)` pair per value, in order.
    fn repeated(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }
}

/// Encodes `params` as a form body: the serde fields, then the repeated ones.
pub(crate) fn encode_form<T: FormBody>(params: &T) -> Result<String, serde_urlencoded::ser::Error> {
    let flat = serde_urlencoded::to_string(params)?;
    // `for_suffix` appends to what serde wrote, adding `&` when it is not empty.
    let mut form = url::form_urlencoded::Serializer::for_suffix(flat, 0);
    for (name, value) in params.repeated() {
        form.append_pair(name, value);
    }
    Ok(form.finish())
}

/// The call progress events Twilio reports to a call's `StatusCallback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEvent {
    Initiated,
    Ringing,
    Answered,
    Completed,
}

impl CallEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            CallEvent::Initiated => "initiated",
            CallEvent::Ringing => "ringing",
            CallEvent::Answered => "answered",
            CallEvent::Completed => "completed",
        }
    }
}

/// Answering machine detection for an outbound call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MachineDetection {
    Enable,
    DetectMessageEnd,
}

/// What a call runs once answered: TwiML fetched from a URL, or TwiML given inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CallTarget {
    Url {
        #[serde(rename = "Url")]
        url: String,
        #[serde(rename = "Method", skip_serializing_if = "Option::is_none")]
        method: Option<HttpMethod>,
    },
    Twiml {
        #[serde(rename = "Twiml")]
        twiml: String,
    },
}

impl CallTarget {
    /// Twilio's limit on inline TwiML, in characters.
    pub const MAX_TWIML_CHARS: usize = 4_000;

    pub fn url(url: impl Into<String>, method: HttpMethod) -> Self {
        CallTarget::Url {
            url: url.into(),
            method: Some(method),
        }
    }

    /// Inline TwiML; Twilio accepts at most [`CallTarget::MAX_TWIML_CHARS`] characters.
    pub fn twiml(response: &VoiceResponse) -> Self {
        CallTarget::Twiml {
            twiml: response.to_xml(),
        }
    }

    pub(crate) fn too_long(&self) -> bool {
        matches!(self, CallTarget::Twiml { twiml } if twiml.chars().count() > Self::MAX_TWIML_CHARS)
    }
}

/// `POST /Accounts/{AccountSid}/Calls.json`: place an outbound call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateCall {
    to: PhoneNumber,
    from: PhoneNumber,
    #[serde(flatten)]
    target: CallTarget,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_callback_method: Option<HttpMethod>,
    #[serde(skip)]
    status_callback_event: Vec<CallEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_digits: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    machine_detection: Option<MachineDetection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_limit: Option<u32>,
}

impl CreateCall {
    pub fn new(to: PhoneNumber, from: PhoneNumber, target: CallTarget) -> Self {
        Self {
            to,
            from,
            target,
            status_callback: None,
            status_callback_method: None,
            status_callback_event: Vec::new(),
            timeout: None,
            send_digits: None,
            machine_detection: None,
            time_limit: None,
        }
    }

    pub fn status_callback(mut self, url: impl Into<String>, method: HttpMethod) -> Self {
        self.status_callback = Some(url.into());
        self.status_callback_method = Some(method);
        self
    }

    /// Which events Twilio reports to `status_callback` (only `completed` by default).
    pub fn status_callback_events(mut self, events: impl IntoIterator<Item = CallEvent>) -> Self {
        self.status_callback_event = events.into_iter().collect();
        self
    }

    /// Seconds to let the call ring (Twilio's default 60, at most 600).
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// DTMF digits to play once answered; each `w` waits half a second.
    pub fn send_digits(mut self, digits: impl Into<String>) -> Self {
        self.send_digits = Some(digits.into());
        self
    }

    pub fn machine_detection(mut self, detection: MachineDetection) -> Self {
        self.machine_detection = Some(detection);
        self
    }

    /// The longest the call may last, in seconds.
    pub fn time_limit(mut self, seconds: u32) -> Self {
        self.time_limit = Some(seconds);
        self
    }

    pub(crate) fn target(&self) -> &CallTarget {
        &self.target
    }
}

impl FormBody for CreateCall {
    fn repeated(&self) -> Vec<(&'static str, &'static str)> {
        self.status_callback_event
            .iter()
            .map(|e| ("StatusCallbackEvent", e.as_str()))
            .collect()
    }
}

/// The end states an update can put a live call in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallEnd {
    /// Hang up a call in progress.
    Completed,
    /// Cancel a call that is still queued or ringing.
    Canceled,
}

/// `POST /Accounts/{AccountSid}/Calls/{CallSid}.json`: end a call, or redirect it to new TwiML
/// (which takes it out of any conference unless the new TwiML dials back in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCall {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<CallEnd>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    target: Option<CallTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_callback_method: Option<HttpMethod>,
}

impl UpdateCall {
    /// `Status=completed` (or `canceled` for a call not yet answered).
    pub fn end(how: CallEnd) -> Self {
        Self {
            status: Some(how),
            target: None,
            status_callback: None,
            status_callback_method: None,
        }
    }

    /// Replace the call's TwiML with `target`.
    pub fn redirect(target: CallTarget) -> Self {
        Self {
            status: None,
            target: Some(target),
            status_callback: None,
            status_callback_method: None,
        }
    }

    pub fn status_callback(mut self, url: impl Into<String>, method: HttpMethod) -> Self {
        self.status_callback = Some(url.into());
        self.status_callback_method = Some(method);
        self
    }

    /// Ending a call twice ends it once; running new TwiML twice may say something twice.
    pub(crate) fn is_idempotent(&self) -> bool {
        self.target.is_none()
    }

    pub(crate) fn target(&self) -> Option<&CallTarget> {
        self.target.as_ref()
    }
}

impl FormBody for UpdateCall {}

/// A conference's state, as Twilio reports it and as list filters take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConferenceStatus {
    Init,
    InProgress,
    Completed,
    /// A state this code does not know yet (read from Twilio only; never sent).
    #[serde(other)]
    Unknown,
}

impl ConferenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConferenceStatus::Init => "init",
            ConferenceStatus::InProgress => "in-progress",
            ConferenceStatus::Completed => "completed",
            ConferenceStatus::Unknown => "unknown",
        }
    }
}

/// The one status an update can give a conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConferenceEnd {
    Completed,
}

/// `POST /Accounts/{AccountSid}/Conferences/{ConferenceSid}.json`: play an announcement to every
/// participant, or end the conference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConference {
    #[serde(skip_serializing_if = "Option::is_none")]
    announce_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    announce_method: Option<HttpMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<ConferenceEnd>,
}

impl UpdateConference {
    /// Twilio fetches TwiML (`<Say>`, `<Play>`, `<Pause>`, `<Redirect>`) from `url` and plays it to
    /// the whole conference.
    pub fn announce(url: impl Into<String>, method: HttpMethod) -> Self {
        Self {
            announce_url: Some(url.into()),
            announce_method: Some(method),
            status: None,
        }
    }

    /// `Status=completed`: hang up every participant.
    pub fn end() -> Self {
        Self {
            announce_url: None,
            announce_method: None,
            status: Some(ConferenceEnd::Completed),
        }
    }

    /// An announcement sent twice is heard twice.
    pub(crate) fn is_idempotent(&self) -> bool {
        self.announce_url.is_none()
    }
}

impl FormBody for UpdateConference {}

/// `POST /Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants.json`: dial a number into
/// a conference (Twilio creates the conference if it does not exist yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateParticipant {
    from: PhoneNumber,
    to: PhoneNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<ParticipantLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    beep: Option<Beep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_conference_on_enter: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_conference_on_exit: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wait_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_callback_method: Option<HttpMethod>,
    #[serde(skip)]
    status_callback_event: Vec<CallEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conference_status_callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conference_status_callback_method: Option<HttpMethod>,
    #[serde(skip)]
    conference_status_callback_event: Vec<ConferenceEvent>,
}

impl CreateParticipant {
    pub fn new(from: PhoneNumber, to: PhoneNumber) -> Self {
        Self {
            from,
            to,
            label: None,
            muted: None,
            beep: None,
            start_conference_on_enter: None,
            end_conference_on_exit: None,
            timeout: None,
            wait_url: None,
            status_callback: None,
            status_callback_method: None,
            status_callback_event: Vec::new(),
            conference_status_callback: None,
            conference_status_callback_method: None,
            conference_status_callback_event: Vec::new(),
        }
    }

    /// Unique within the conference; status callbacks carry it as `ParticipantLabel`.
    pub fn label(mut self, label: ParticipantLabel) -> Self {
        self.label = Some(label);
        self
    }

    pub fn muted(mut self, muted: bool) -> Self {
        self.muted = Some(muted);
        self
    }

    pub fn beep(mut self, beep: Beep) -> Self {
        self.beep = Some(beep);
        self
    }

    pub fn start_conference_on_enter(mut self, yes: bool) -> Self {
        self.start_conference_on_enter = Some(yes);
        self
    }

    pub fn end_conference_on_exit(mut self, yes: bool) -> Self {
        self.end_conference_on_exit = Some(yes);
        self
    }

    /// Seconds to let the participant's phone ring.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Hold music until the conference starts; `""` means silence.
    pub fn wait_url(mut self, url: impl Into<String>) -> Self {
        self.wait_url = Some(url.into());
        self
    }

    /// Call progress of the participant's own leg.
    pub fn status_callback(
        mut self,
        url: impl Into<String>,
        method: HttpMethod,
        events: impl IntoIterator<Item = CallEvent>,
    ) -> Self {
        self.status_callback = Some(url.into());
        self.status_callback_method = Some(method);
        self.status_callback_event = events.into_iter().collect();
        self
    }

    /// Conference events; only the first participant's setting counts for a conference.
    pub fn conference_status_callback(
        mut self,
        url: impl Into<String>,
        method: HttpMethod,
        events: impl IntoIterator<Item = ConferenceEvent>,
    ) -> Self {
        self.conference_status_callback = Some(url.into());
        self.conference_status_callback_method = Some(method);
        self.conference_status_callback_event = events.into_iter().collect();
        self
    }
}

impl FormBody for CreateParticipant {
    fn repeated(&self) -> Vec<(&'static str, &'static str)> {
        let call = self
            .status_callback_event
            .iter()
            .map(|e| ("StatusCallbackEvent", e.as_str()));
        let conference = self
            .conference_status_callback_event
            .iter()
            .map(|e| ("ConferenceStatusCallbackEvent", e.as_str()));
        call.chain(conference).collect()
    }
}

/// `POST .../Conferences/{ConferenceSid}/Participants/{CallSid}.json`: mute, hold, or play an
/// announcement to one participant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateParticipant {
    #[serde(skip_serializing_if = "Option::is_none")]
    muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hold: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    announce_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    announce_method: Option<HttpMethod>,
}

impl UpdateParticipant {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn muted(mut self, muted: bool) -> Self {
        self.muted = Some(muted);
        self
    }

    pub fn hold(mut self, hold: bool) -> Self {
        self.hold = Some(hold);
        self
    }

    pub fn announce(mut self, url: impl Into<String>, method: HttpMethod) -> Self {
        self.announce_url = Some(url.into());
        self.announce_method = Some(method);
        self
    }

    /// An announcement sent twice is heard twice.
    pub(crate) fn is_idempotent(&self) -> bool {
        self.announce_url.is_none()
    }
}

impl FormBody for UpdateParticipant {}

/// `POST /Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json`: point a number's voice webhooks
/// at denwa (`denwa twilio configure`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateIncomingNumber {
    #[serde(skip_serializing_if = "Option::is_none")]
    voice_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    voice_method: Option<HttpMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_callback_method: Option<HttpMethod>,
}

impl UpdateIncomingNumber {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn voice_url(mut self, url: impl Into<String>, method: HttpMethod) -> Self {
        self.voice_url = Some(url.into());
        self.voice_method = Some(method);
        self
    }

    pub fn status_callback(mut self, url: impl Into<String>, method: HttpMethod) -> Self {
        self.status_callback = Some(url.into());
        self.status_callback_method = Some(method);
        self
    }
}

impl FormBody for UpdateIncomingNumber {}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[test]
    fn create_call_with_url_and_repeated_events() {
        let call = CreateCall::new(
            number("+14155550100"),
            number("+14155550199"),
            CallTarget::url(
                "https://denwa.example/twilio/speak?c=a b&d=1",
                HttpMethod::Post,
            ),
        )
        .status_callback("https://denwa.example/twilio/call-status", HttpMethod::Post)
        .status_callback_events([
            CallEvent::Initiated,
            CallEvent::Answered,
            CallEvent::Completed,
        ])
        .timeout(30)
        .send_digits("wwww123456")
        .machine_detection(MachineDetection::Enable)
        .time_limit(600);
        assert_eq!(
            encode_form(&call).unwrap(),
            "To=%2B14155550100&From=%2B14155550199\
             &Url=https%3A%2F%2Fdenwa.example%2Ftwilio%2Fspeak%3Fc%3Da+b%26d%3D1&Method=POST\
             &StatusCallback=https%3A%2F%2Fdenwa.example%2Ftwilio%2Fcall-status&StatusCallbackMethod=POST\
             &Timeout=30&SendDigits=wwww123456&MachineDetection=Enable&TimeLimit=600\
             &StatusCallbackEvent=initiated&StatusCallbackEvent=answered&StatusCallbackEvent=completed"
        );
    }

    #[test]
    fn create_call_with_inline_twiml_and_nothing_else() {
        let twiml = VoiceResponse::new().say("<hi & bye>");
        let call = CreateCall::new(
            number("+14155550100"),
            number("+14155550199"),
            CallTarget::twiml(&twiml),
        );
        let form = encode_form(&call).unwrap();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("To".to_owned(), "+14155550100".to_owned()),
                ("From".to_owned(), "+14155550199".to_owned()),
                ("Twiml".to_owned(), twiml.to_xml()),
            ]
        );
    }

    #[test]
    fn updates_write_only_what_was_set() {
        assert_eq!(
            encode_form(&UpdateCall::end(CallEnd::Completed)).unwrap(),
            "Status=completed"
        );
        assert_eq!(
            encode_form(&UpdateCall::end(CallEnd::Canceled)).unwrap(),
            "Status=canceled"
        );
        assert_eq!(
            encode_form(&UpdateCall::redirect(CallTarget::url(
                "https://d.example/x",
                HttpMethod::Get
            )))
            .unwrap(),
            "Url=https%3A%2F%2Fd.example%2Fx&Method=GET"
        );
        assert_eq!(
            encode_form(&UpdateConference::end()).unwrap(),
            "Status=completed"
        );
        assert_eq!(
            encode_form(&UpdateConference::announce(
                "https://d.example/speak",
                HttpMethod::Post
            ))
            .unwrap(),
            "AnnounceUrl=https%3A%2F%2Fd.example%2Fspeak&AnnounceMethod=POST"
        );
        assert_eq!(
            encode_form(&UpdateParticipant::new().muted(false).hold(true)).unwrap(),
            "Muted=false&Hold=true"
        );
        assert_eq!(
            encode_form(
                &UpdateIncomingNumber::new()
                    .voice_url("https://d.example/twilio/voice", HttpMethod::Post)
                    .status_callback("https://d.example/twilio/call-status", HttpMethod::Post)
            )
            .unwrap(),
            "VoiceUrl=https%3A%2F%2Fd.example%2Ftwilio%2Fvoice&VoiceMethod=POST\
             &StatusCallback=https%3A%2F%2Fd.example%2Ftwilio%2Fcall-status&StatusCallbackMethod=POST"
        );
        assert_eq!(encode_form(&UpdateParticipant::new()).unwrap(), "");
    }

    #[test]
    fn create_participant_repeats_both_event_lists() {
        let p = CreateParticipant::new(number("+14155550199"), number("+14155550123"))
            .label(ParticipantLabel::responder(1))
            .muted(true)
            .beep(Beep::OnEnter)
            .start_conference_on_enter(false)
            .end_conference_on_exit(false)
            .timeout(20)
            .wait_url("")
            .status_callback(
                "https://d.example/cs",
                HttpMethod::Post,
                [CallEvent::Answered, CallEvent::Completed],
            )
            .conference_status_callback(
                "https://d.example/conf",
                HttpMethod::Post,
                [ConferenceEvent::Join, ConferenceEvent::Leave],
            );
        assert_eq!(
            encode_form(&p).unwrap(),
            "From=%2B14155550199&To=%2B14155550123&Label=responder-1&Muted=true&Beep=onEnter\
             &StartConferenceOnEnter=false&EndConferenceOnExit=false&Timeout=20&WaitUrl=\
             &StatusCallback=https%3A%2F%2Fd.example%2Fcs&StatusCallbackMethod=POST\
             &ConferenceStatusCallback=https%3A%2F%2Fd.example%2Fconf&ConferenceStatusCallbackMethod=POST\
             &StatusCallbackEvent=answered&StatusCallbackEvent=completed\
             &ConferenceStatusCallbackEvent=join&ConferenceStatusCallbackEvent=leave"
        );
    }

    #[test]
    fn idempotency_follows_the_fields() {
        assert!(UpdateCall::end(CallEnd::Completed).is_idempotent());
        assert!(
            !UpdateCall::redirect(CallTarget::url("https://d.example", HttpMethod::Post))
                .is_idempotent()
        );
        assert!(UpdateConference::end().is_idempotent());
        assert!(!UpdateConference::announce("https://d.example", HttpMethod::Post).is_idempotent());
        assert!(UpdateParticipant::new().muted(true).is_idempotent());
        assert!(
            !UpdateParticipant::new()
                .announce("https://d.example", HttpMethod::Post)
                .is_idempotent()
        );
    }
}
