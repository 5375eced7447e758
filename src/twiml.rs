//! The TwiML writer: the only way text reaches the XML we hand Twilio.
//!
//! Every verb and noun is a typed struct; [`VoiceResponse::to_xml`] writes them with quick-xml's
//! `Writer`, which escapes `<`, `>`, `&`, `'` and `"` in text and attributes. A chat message is data:
//! `</Say><Dial>+19005550000</Dial>` in a reply is spoken, not dialled. Only attributes that were set
//! are written, so Twilio's defaults apply to the rest.
//!
//! Characters that XML 1.0 forbids outright (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, U+FFFE,
//! U+FFFF) cannot be escaped either (`&#1;` is just as illegal), so they are dropped from text and
//! attribute values. Dropping was chosen over replacing them (with a space or U+FFFD) because they
//! carry nothing a speech engine could say, and over rejecting the message because a stray control
//! character pasted into chat should not cost the caller the whole reply. The document always parses.
//!
//! ```
//! use denwa::twiml::{Say, VoiceResponse};
//! let xml = VoiceResponse::new().say(Say::new("Hello").language("en-US")).pause(1).hangup().to_xml();
//! assert!(xml.ends_with(r#"<Response><Say language="en-US">Hello</Say><Pause length="1"/><Hangup/></Response>"#));
//! ```

use std::borrow::Cow;
use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::domain::{ConferenceName, ParticipantLabel, PhoneNumber};

/// The HTTP method Twilio uses for a callback URL (TwiML attributes and REST parameters alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// A `<Response>` for a voice call: a list of verbs Twilio executes in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoiceResponse {
    verbs: Vec<Verb>,
}

/// One verb of a [`VoiceResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Say(Say),
    Play(Play),
    Pause(Pause),
    Gather(Gather),
    Dial(Dial),
    Redirect(Redirect),
    Hangup,
    Reject(Reject),
    Record(Record),
    Start(Start),
}

impl VoiceResponse {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn verb(mut self, verb: Verb) -> Self {
        self.verbs.push(verb);
        self
    }

    pub fn say(self, say: impl Into<Say>) -> Self {
        self.verb(Verb::Say(say.into()))
    }

    pub fn play(self, play: impl Into<Play>) -> Self {
        self.verb(Verb::Play(play.into()))
    }

    /// `<Pause length="seconds"/>`.
    pub fn pause(self, seconds: u32) -> Self {
        self.verb(Verb::Pause(Pause::new(seconds)))
    }

    pub fn gather(self, gather: Gather) -> Self {
        self.verb(Verb::Gather(gather))
    }

    pub fn dial(self, dial: Dial) -> Self {
        self.verb(Verb::Dial(dial))
    }

    pub fn redirect(self, redirect: impl Into<Redirect>) -> Self {
        self.verb(Verb::Redirect(redirect.into()))
    }

    pub fn hangup(self) -> Self {
        self.verb(Verb::Hangup)
    }

    pub fn reject(self, reject: Reject) -> Self {
        self.verb(Verb::Reject(reject))
    }

    pub fn record(self, record: Record) -> Self {
        self.verb(Verb::Record(record))
    }

    pub fn start(self, start: Start) -> Self {
        self.verb(Verb::Start(start))
    }

    pub fn verbs(&self) -> &[Verb] {
        &self.verbs
    }

    /// The TwiML document, with its XML declaration.
    pub fn to_xml(&self) -> String {
        let mut writer = Writer::new(Vec::new());
        // Writing into a Vec<u8> has no I/O to fail; the Result only exists for other sinks.
        self.write(&mut writer)
            .expect("writing XML into memory cannot fail");
        // Every byte came from a &str or from quick-xml's ASCII markup, so this is always UTF-8;
        // the lossy conversion just avoids a panic path.
        String::from_utf8_lossy(&writer.into_inner()).into_owned()
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let element = w.create_element("Response");
        if self.verbs.is_empty() {
            element.write_empty()?;
        } else {
            element
                .write_inner_content(|w| self.verbs.iter().try_for_each(|verb| verb.write(w)))?;
        }
        Ok(())
    }
}

impl Verb {
    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        match self {
            Verb::Say(say) => say.write(w),
            Verb::Play(play) => play.write(w),
            Verb::Pause(pause) => pause.write(w),
            Verb::Gather(gather) => gather.write(w),
            Verb::Dial(dial) => dial.write(w),
            Verb::Redirect(redirect) => redirect.write(w),
            Verb::Hangup => Element::new("Hangup").write(w, Content::Empty),
            Verb::Reject(reject) => reject.write(w),
            Verb::Record(record) => record.write(w),
            Verb::Start(start) => start.write(w),
        }
    }
}

/// `<Say>`: text spoken by a text-to-speech voice. Twilio caps its length (error 13521); split long
/// text with [`crate::speech::split::split_for_say`] first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say {
    text: String,
    voice: Option<String>,
    language: Option<String>,
    loop_count: Option<u32>,
}

impl Say {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            voice: None,
            language: None,
            loop_count: None,
        }
    }

    /// E.g. `Polly.Mizuki`, `Google.ja-JP-Standard-A`, `alice`.
    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = Some(voice.into());
        self
    }

    /// E.g. `ja-JP`.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// How many times to say the text (`loop`; 0 repeats until the call ends).
    pub fn loop_count(mut self, times: u32) -> Self {
        self.loop_count = Some(times);
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        Element::new("Say")
            .attr("voice", self.voice.as_deref())
            .attr("language", self.language.as_deref())
            .num("loop", self.loop_count)
            .write(w, Content::Text(&self.text))
    }
}

impl From<&str> for Say {
    fn from(text: &str) -> Self {
        Say::new(text)
    }
}

impl From<String> for Say {
    fn from(text: String) -> Self {
        Say::new(text)
    }
}

/// `<Play>`: an audio file fetched from a URL, or DTMF tones ([`Play::digits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play {
    url: String,
    loop_count: Option<u32>,
    digits: Option<String>,
}

impl Play {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            loop_count: None,
            digits: None,
        }
    }

    /// `<Play digits="...">`: keys played as tones to the other end of the call (`0`-`9`, `*`,
    /// `#`; `w` waits half a second), no audio file.
    pub fn digits(digits: impl Into<String>) -> Self {
        Self {
            digits: Some(digits.into()),
            ..Self::new("")
        }
    }

    pub fn loop_count(mut self, times: u32) -> Self {
        self.loop_count = Some(times);
        self
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        let content = if self.url.is_empty() {
            Content::Empty
        } else {
            Content::Text(&self.url)
        };
        Element::new("Play")
            .num("loop", self.loop_count)
            .attr("digits", self.digits.as_deref())
            .write(w, content)
    }
}

impl From<&str> for Play {
    fn from(url: &str) -> Self {
        Play::new(url)
    }
}

/// `<Pause length="seconds"/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    length: u32,
}

impl Pause {
    pub fn new(seconds: u32) -> Self {
        Self { length: seconds }
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        Element::new("Pause")
            .num("length", Some(self.length))
            .write(w, Content::Empty)
    }
}

/// What `<Gather>` listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatherInput {
    Dtmf,
    Speech,
    DtmfAndSpeech,
}

impl GatherInput {
    fn as_str(self) -> &'static str {
        match self {
            GatherInput::Dtmf => "dtmf",
            GatherInput::Speech => "speech",
            GatherInput::DtmfAndSpeech => "dtmf speech",
        }
    }
}

/// What `<Gather>` may say or play while it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatherPrompt {
    Say(Say),
    Play(Play),
    Pause(Pause),
}

/// `<Gather>`: collects digits (or speech) and posts them to `action`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gather {
    input: Option<GatherInput>,
    num_digits: Option<u32>,
    timeout: Option<u32>,
    action: Option<String>,
    method: Option<HttpMethod>,
    finish_on_key: Option<String>,
    action_on_empty_result: Option<bool>,
    prompts: Vec<GatherPrompt>,
}

impl Gather {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn input(mut self, input: GatherInput) -> Self {
        self.input = Some(input);
        self
    }

    pub fn num_digits(mut self, digits: u32) -> Self {
        self.num_digits = Some(digits);
        self
    }

    /// Seconds of silence before Gather gives up.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    pub fn action(mut self, url: impl Into<String>) -> Self {
        self.action = Some(url.into());
        self
    }

    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// The key that ends input (`#` by default); `""` disables it.
    pub fn finish_on_key(mut self, key: impl Into<String>) -> Self {
        self.finish_on_key = Some(key.into());
        self
    }

    /// Call `action` even when nothing was entered (instead of moving on to the next verb).
    pub fn action_on_empty_result(mut self, yes: bool) -> Self {
        self.action_on_empty_result = Some(yes);
        self
    }

    pub fn say(mut self, say: impl Into<Say>) -> Self {
        self.prompts.push(GatherPrompt::Say(say.into()));
        self
    }

    pub fn play(mut self, play: impl Into<Play>) -> Self {
        self.prompts.push(GatherPrompt::Play(play.into()));
        self
    }

    pub fn pause(mut self, seconds: u32) -> Self {
        self.prompts.push(GatherPrompt::Pause(Pause::new(seconds)));
        self
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        let write_prompts = |w: &mut Writer<Vec<u8>>| {
            self.prompts.iter().try_for_each(|prompt| match prompt {
                GatherPrompt::Say(say) => say.write(w),
                GatherPrompt::Play(play) => play.write(w),
                GatherPrompt::Pause(pause) => pause.write(w),
            })
        };
        Element::new("Gather")
            .attr("input", self.input.map(GatherInput::as_str))
            .num("numDigits", self.num_digits)
            .num("timeout", self.timeout)
            .attr("action", self.action.as_deref())
            .attr("method", self.method.map(HttpMethod::as_str))
            .attr("finishOnKey", self.finish_on_key.as_deref())
            .flag("actionOnEmptyResult", self.action_on_empty_result)
            .write(
                w,
                if self.prompts.is_empty() {
                    Content::Empty
                } else {
                    Content::Children(&write_prompts)
                },
            )
    }
}

/// What `<Dial>` connects the call to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    Conference(Conference),
    Number(Number),
}

/// `<Dial>`: connects the call to a conference or another number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    target: DialTarget,
    action: Option<String>,
    method: Option<HttpMethod>,
    timeout: Option<u32>,
    caller_id: Option<PhoneNumber>,
    time_limit: Option<u32>,
}

impl Dial {
    pub fn new(target: DialTarget) -> Self {
        Self {
            target,
            action: None,
            method: None,
            timeout: None,
            caller_id: None,
            time_limit: None,
        }
    }

    pub fn conference(conference: Conference) -> Self {
        Self::new(DialTarget::Conference(conference))
    }

    pub fn number(number: Number) -> Self {
        Self::new(DialTarget::Number(number))
    }

    /// Where Twilio posts the outcome once the dialled party hangs up.
    pub fn action(mut self, url: impl Into<String>) -> Self {
        self.action = Some(url.into());
        self
    }

    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Seconds to let a number ring.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    pub fn caller_id(mut self, number: PhoneNumber) -> Self {
        self.caller_id = Some(number);
        self
    }

    /// The longest the dialled call may last, in seconds.
    pub fn time_limit(mut self, seconds: u32) -> Self {
        self.time_limit = Some(seconds);
        self
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        Element::new("Dial")
            .attr("action", self.action.as_deref())
            .attr("method", self.method.map(HttpMethod::as_str))
            .num("timeout", self.timeout)
            .attr("callerId", self.caller_id.as_ref().map(PhoneNumber::as_str))
            .num("timeLimit", self.time_limit)
            .write(
                w,
                Content::Children(&|w| match &self.target {
                    DialTarget::Conference(conference) => conference.write(w),
                    DialTarget::Number(number) => number.write(w),
                }),
            )
    }
}

/// `<Number>` inside `<Dial>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    number: PhoneNumber,
    send_digits: Option<String>,
    url: Option<String>,
    method: Option<HttpMethod>,
}

impl Number {
    pub fn new(number: PhoneNumber) -> Self {
        Self {
            number,
            send_digits: None,
            url: None,
            method: None,
        }
    }

    /// Digits played once the number answers (`w` waits half a second).
    pub fn send_digits(mut self, digits: impl Into<String>) -> Self {
        self.send_digits = Some(digits.into());
        self
    }

    /// TwiML run for the called party before the calls are connected (e.g. a whisper).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = Some(method);
        self
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        Element::new("Number")
            .attr("sendDigits", self.send_digits.as_deref())
            .attr("url", self.url.as_deref())
            .attr("method", self.method.map(HttpMethod::as_str))
            .write(w, Content::Text(self.number.as_str()))
    }
}

/// `<Conference beep>`, and the REST API's `Beep` participant parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Beep {
    #[serde(rename = "true")]
    True,
    #[serde(rename = "false")]
    False,
    #[serde(rename = "onEnter")]
    OnEnter,
    #[serde(rename = "onExit")]
    OnExit,
}

impl Beep {
    fn as_str(self) -> &'static str {
        match self {
            Beep::True => "true",
            Beep::False => "false",
            Beep::OnEnter => "onEnter",
            Beep::OnExit => "onExit",
        }
    }
}

/// `<Conference record>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConferenceRecord {
    DoNotRecord,
    RecordFromStart,
}

impl ConferenceRecord {
    fn as_str(self) -> &'static str {
        match self {
            ConferenceRecord::DoNotRecord => "do-not-record",
            ConferenceRecord::RecordFromStart => "record-from-start",
        }
    }
}

/// The conference events Twilio reports to `statusCallback` (`statusCallbackEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConferenceEvent {
    Start,
    End,
    Join,
    Leave,
    Mute,
    Hold,
    Modify,
    Speaker,
    Announcement,
}

impl ConferenceEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            ConferenceEvent::Start => "start",
            ConferenceEvent::End => "end",
            ConferenceEvent::Join => "join",
            ConferenceEvent::Leave => "leave",
            ConferenceEvent::Mute => "mute",
            ConferenceEvent::Hold => "hold",
            ConferenceEvent::Modify => "modify",
            ConferenceEvent::Speaker => "speaker",
            ConferenceEvent::Announcement => "announcement",
        }
    }
}

/// `<Conference>` inside `<Dial>`. Named by a [`ConferenceName`], so no phone number or person's
/// name can end up in a conference name (Twilio's guidance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conference {
    name: ConferenceName,
    muted: Option<bool>,
    beep: Option<Beep>,
    start_conference_on_enter: Option<bool>,
    end_conference_on_exit: Option<bool>,
    participant_label: Option<ParticipantLabel>,
    wait_url: Option<String>,
    wait_method: Option<HttpMethod>,
    max_participants: Option<u32>,
    record: Option<ConferenceRecord>,
    status_callback: Option<String>,
    status_callback_method: Option<HttpMethod>,
    status_callback_events: Vec<ConferenceEvent>,
}

impl Conference {
    pub fn new(name: ConferenceName) -> Self {
        Self {
            name,
            muted: None,
            beep: None,
            start_conference_on_enter: None,
            end_conference_on_exit: None,
            participant_label: None,
            wait_url: None,
            wait_method: None,
            max_participants: None,
            record: None,
            status_callback: None,
            status_callback_method: None,
            status_callback_events: Vec::new(),
        }
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

    /// Unique within the conference; lets the REST API address the participant and comes back
    /// in status callbacks.
    pub fn participant_label(mut self, label: ParticipantLabel) -> Self {
        self.participant_label = Some(label);
        self
    }

    /// Hold music while the conference waits to start; `""` means silence.
    pub fn wait_url(mut self, url: impl Into<String>) -> Self {
        self.wait_url = Some(url.into());
        self
    }

    pub fn wait_method(mut self, method: HttpMethod) -> Self {
        self.wait_method = Some(method);
        self
    }

    /// At most 250.
    pub fn max_participants(mut self, max: u32) -> Self {
        self.max_participants = Some(max);
        self
    }

    pub fn record(mut self, record: ConferenceRecord) -> Self {
        self.record = Some(record);
        self
    }

    /// Only the first participant to join sets the conference's callback and events.
    pub fn status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }

    pub fn status_callback_method(mut self, method: HttpMethod) -> Self {
        self.status_callback_method = Some(method);
        self
    }

    pub fn status_callback_events(
        mut self,
        events: impl IntoIterator<Item = ConferenceEvent>,
    ) -> Self {
        self.status_callback_events = events.into_iter().collect();
        self
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        let events: Vec<&str> = self
            .status_callback_events
            .iter()
            .map(|e| e.as_str())
            .collect();
        let events = events.join(" ");
        Element::new("Conference")
            .flag("muted", self.muted)
            .attr("beep", self.beep.map(Beep::as_str))
            .flag("startConferenceOnEnter", self.start_conference_on_enter)
            .flag("endConferenceOnExit", self.end_conference_on_exit)
            .attr(
                "participantLabel",
                self.participant_label
                    .as_ref()
                    .map(ParticipantLabel::as_str),
            )
            .attr("waitUrl", self.wait_url.as_deref())
            .attr("waitMethod", self.wait_method.map(HttpMethod::as_str))
            .num("maxParticipants", self.max_participants)
            .attr("record", self.record.map(ConferenceRecord::as_str))
            .attr("statusCallback", self.status_callback.as_deref())
            .attr(
                "statusCallbackMethod",
                self.status_callback_method.map(HttpMethod::as_str),
            )
            .attr(
                "statusCallbackEvent",
                (!events.is_empty()).then_some(events.as_str()),
            )
            .write(w, Content::Text(self.name.as_str()))
    }
}

/// `<Redirect>`: continue with the TwiML at another URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    url: String,
    method: Option<HttpMethod>,
}

impl Redirect {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: None,
        }
    }

    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = Some(method);
        self
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        Element::new("Redirect")
            .attr("method", self.method.map(HttpMethod::as_str))
            .write(w, Content::Text(&self.url))
    }
}

impl From<&str> for Redirect {
    fn from(url: &str) -> Self {
        Redirect::new(url)
    }
}

impl From<String> for Redirect {
    fn from(url: String) -> Self {
        Redirect::new(url)
    }
}

/// Why `<Reject>` refuses a call: what the caller hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    Rejected,
    Busy,
}

/// `<Reject>`: refuse an incoming call without answering it (no charge for the call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reject {
    reason: Option<RejectReason>,
}

impl Reject {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn reason(mut self, reason: RejectReason) -> Self {
        self.reason = Some(reason);
        self
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        let reason = self.reason.map(|r| match r {
            RejectReason::Rejected => "rejected",
            RejectReason::Busy => "busy",
        });
        Element::new("Reject")
            .attr("reason", reason)
            .write(w, Content::Empty)
    }
}

/// `<Record trim>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    TrimSilence,
    DoNotTrim,
}

/// `<Record>`: records the caller (e.g. a name or a voicemail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    action: Option<String>,
    method: Option<HttpMethod>,
    max_length: Option<u32>,
    timeout: Option<u32>,
    play_beep: Option<bool>,
    finish_on_key: Option<String>,
    transcribe: Option<bool>,
    transcribe_callback: Option<String>,
    recording_status_callback: Option<String>,
    trim: Option<Trim>,
}

impl Record {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn action(mut self, url: impl Into<String>) -> Self {
        self.action = Some(url.into());
        self
    }

    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Seconds.
    pub fn max_length(mut self, seconds: u32) -> Self {
        self.max_length = Some(seconds);
        self
    }

    /// Seconds of silence that end the recording.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    pub fn play_beep(mut self, yes: bool) -> Self {
        self.play_beep = Some(yes);
        self
    }

    pub fn finish_on_key(mut self, keys: impl Into<String>) -> Self {
        self.finish_on_key = Some(keys.into());
        self
    }

    pub fn transcribe(mut self, yes: bool) -> Self {
        self.transcribe = Some(yes);
        self
    }

    pub fn transcribe_callback(mut self, url: impl Into<String>) -> Self {
        self.transcribe_callback = Some(url.into());
        self
    }

    pub fn recording_status_callback(mut self, url: impl Into<String>) -> Self {
        self.recording_status_callback = Some(url.into());
        self
    }

    pub fn trim(mut self, trim: Trim) -> Self {
        self.trim = Some(trim);
        self
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        let trim = self.trim.map(|t| match t {
            Trim::TrimSilence => "trim-silence",
            Trim::DoNotTrim => "do-not-trim",
        });
        Element::new("Record")
            .attr("action", self.action.as_deref())
            .attr("method", self.method.map(HttpMethod::as_str))
            .num("maxLength", self.max_length)
            .num("timeout", self.timeout)
            .flag("playBeep", self.play_beep)
            .attr("finishOnKey", self.finish_on_key.as_deref())
            .flag("transcribe", self.transcribe)
            .attr("transcribeCallback", self.transcribe_callback.as_deref())
            .attr(
                "recordingStatusCallback",
                self.recording_status_callback.as_deref(),
            )
            .attr("trim", trim)
            .write(w, Content::Empty)
    }
}

/// `<Start>`: begins something that runs alongside the call's next verbs, until the call ends
/// (here: a real-time transcription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    transcription: Transcription,
}

impl Start {
    pub fn transcription(transcription: Transcription) -> Self {
        Self { transcription }
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        Element::new("Start").write(w, Content::Children(&|w| self.transcription.write(w)))
    }
}

/// `<Transcription track>`: whose audio is transcribed, from the call's side (`inbound_track`:
/// what the call's own party says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptionTrack {
    Inbound,
    Outbound,
    Both,
}

impl TranscriptionTrack {
    pub fn as_str(self) -> &'static str {
        match self {
            TranscriptionTrack::Inbound => "inbound_track",
            TranscriptionTrack::Outbound => "outbound_track",
            TranscriptionTrack::Both => "both_tracks",
        }
    }
}

/// `<Transcription>` (inside `<Start>`): Twilio Real-Time Transcriptions, whose results Twilio
/// posts to `statusCallbackUrl` (docs/protocols.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcription {
    name: Option<String>,
    track: Option<TranscriptionTrack>,
    status_callback_url: Option<String>,
    status_callback_method: Option<HttpMethod>,
    language_code: Option<String>,
    transcription_engine: Option<String>,
    partial_results: Option<bool>,
}

impl Transcription {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn track(mut self, track: TranscriptionTrack) -> Self {
        self.track = Some(track);
        self
    }

    pub fn status_callback_url(mut self, url: impl Into<String>) -> Self {
        self.status_callback_url = Some(url.into());
        self
    }

    pub fn status_callback_method(mut self, method: HttpMethod) -> Self {
        self.status_callback_method = Some(method);
        self
    }

    /// BCP-47, e.g. `en-US`.
    pub fn language_code(mut self, code: impl Into<String>) -> Self {
        self.language_code = Some(code.into());
        self
    }

    /// `google` or `deepgram`.
    pub fn transcription_engine(mut self, engine: impl Into<String>) -> Self {
        self.transcription_engine = Some(engine.into());
        self
    }

    pub fn partial_results(mut self, yes: bool) -> Self {
        self.partial_results = Some(yes);
        self
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        Element::new("Transcription")
            .attr("name", self.name.as_deref())
            .attr("track", self.track.map(TranscriptionTrack::as_str))
            .attr("statusCallbackUrl", self.status_callback_url.as_deref())
            .attr(
                "statusCallbackMethod",
                self.status_callback_method.map(HttpMethod::as_str),
            )
            .attr("languageCode", self.language_code.as_deref())
            .attr("transcriptionEngine", self.transcription_engine.as_deref())
            .flag("partialResults", self.partial_results)
            .write(w, Content::Empty)
    }
}

/// What goes inside an element.
enum Content<'a> {
    Empty,
    Text(&'a str),
    Children(&'a dyn Fn(&mut Writer<Vec<u8>>) -> io::Result<()>),
}

/// One element being written: its name and the attributes that were set, values already cleaned
/// of forbidden characters. quick-xml escapes them when writing.
struct Element<'a> {
    name: &'static str,
    attrs: Vec<(&'static str, Cow<'a, str>)>,
}

impl<'a> Element<'a> {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            attrs: Vec::new(),
        }
    }

    fn attr(mut self, key: &'static str, value: Option<&'a str>) -> Self {
        if let Some(value) = value {
            self.attrs.push((key, xml_safe(value)));
        }
        self
    }

    fn num(mut self, key: &'static str, value: Option<u32>) -> Self {
        if let Some(value) = value {
            self.attrs.push((key, Cow::Owned(value.to_string())));
        }
        self
    }

    fn flag(self, key: &'static str, value: Option<bool>) -> Self {
        self.attr(key, value.map(|v| if v { "true" } else { "false" }))
    }

    fn write(self, w: &mut Writer<Vec<u8>>, content: Content<'_>) -> io::Result<()> {
        let element = w
            .create_element(self.name)
            .with_attributes(self.attrs.iter().map(|(key, value)| (*key, value.as_ref())));
        match content {
            Content::Empty => element.write_empty()?,
            Content::Text(text) => element.write_text_content(BytesText::new(&xml_safe(text)))?,
            Content::Children(write_children) => element.write_inner_content(write_children)?,
        };
        Ok(())
    }
}

/// Whether XML 1.0 allows `c` in a document at all (its `Char` production, escaped or not).
fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// `s` without the characters XML 1.0 forbids (see the module docs for why they are dropped).
fn xml_safe(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CallId;
    use quick_xml::{Reader, XmlVersion};

    /// A parsed element: name, attributes in document order, children.
    #[derive(Debug, PartialEq)]
    enum Node {
        Element {
            name: String,
            attrs: Vec<(String, String)>,
            children: Vec<Node>,
        },
        Text(String),
    }

    fn el(name: &str, attrs: &[(&str, &str)], children: Vec<Node>) -> Node {
        Node::Element {
            name: name.to_owned(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            children,
        }
    }

    fn text(s: &str) -> Node {
        Node::Text(s.to_owned())
    }

    /// Parses `xml` strictly with quick-xml's reader into the `<Response>` tree, failing on anything
    /// that is not an element, text, reference or the XML declaration.
    fn parse(xml: &str) -> Node {
        assert!(
            xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#),
            "{xml}"
        );
        assert!(
            !xml.chars().any(|c| !is_xml_char(c)),
            "forbidden character in {xml:?}"
        );
        let mut reader = Reader::from_str(xml);
        let mut stack: Vec<Node> = vec![el("#document", &[], vec![])];
        let push_child = |stack: &mut Vec<Node>, node: Node| {
            let Some(Node::Element { children, .. }) = stack.last_mut() else {
                unreachable!()
            };
            // Adjacent text and references form one text node.
            match (children.last_mut(), node) {
                (Some(Node::Text(prev)), Node::Text(more)) => prev.push_str(&more),
                (_, node) => children.push(node),
            }
        };
        let element = |e: &quick_xml::events::BytesStart<'_>| {
            let name = e.name().as_ref().to_owned();
            let attrs = e
                .attributes()
                .map(|a| {
                    let a = a.expect("well-formed attribute");
                    let key = a.key.as_ref().to_owned();
                    (
                        key,
                        a.normalized_value(XmlVersion::Explicit1_0)
                            .expect("escaped attribute")
                            .into_owned(),
                    )
                })
                .collect();
            Node::Element {
                name,
                attrs,
                children: vec![],
            }
        };
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Decl(_) => {}
                Event::Start(e) => {
                    let node = element(&e);
                    stack.push(node);
                }
                Event::Empty(e) => {
                    let node = element(&e);
                    push_child(&mut stack, node);
                }
                Event::End(_) => {
                    let node = stack.pop().unwrap();
                    push_child(&mut stack, node);
                }
                Event::Text(t) => {
                    push_child(&mut stack, Node::Text(t.xml10_content().into_owned()))
                }
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref().expect("valid char ref") {
                        Some(c) => c.to_string(),
                        None => quick_xml::escape::resolve_predefined_entity(&r)
                            .expect("predefined entity")
                            .to_owned(),
                    };
                    push_child(&mut stack, Node::Text(c));
                }
                Event::Eof => break,
                other => panic!("unexpected event {other:?} in {xml}"),
            }
        }
        assert_eq!(stack.len(), 1, "unclosed elements in {xml}");
        let Some(Node::Element { mut children, .. }) = stack.pop() else {
            unreachable!()
        };
        assert_eq!(children.len(), 1, "one root element expected in {xml}");
        children.remove(0)
    }

    fn conference_name() -> ConferenceName {
        ConferenceName::of(&CallId::parse("abc123").unwrap())
    }

    const HOSTILE: &[&str] = &[
        "</Say><Dial>+19005550000</Dial>",
        r#""'&<>"#,
        "]]>",
        "<![CDATA[x]]>",
        "&amp; &#60; &lt;",
        "<?xml version=\"1.0\"?><!-- -->",
        "tab\tnewline\nend\r\ncarriage\rreturn",
        "日本語のテキスト 🎉",
        r#"a" onload="x"#,
    ];

    #[test]
    fn start_transcription_writes_its_attributes_inside_start() {
        let xml = VoiceResponse::new()
            .start(Start::transcription(
                Transcription::new()
                    .track(TranscriptionTrack::Inbound)
                    .status_callback_url("https://d.example/twilio/transcription?a=1&b=2")
                    .language_code("en-US")
                    .transcription_engine("google"),
            ))
            .to_xml();
        assert_eq!(
            parse(&xml),
            el(
                "Response",
                &[],
                vec![el(
                    "Start",
                    &[],
                    vec![el(
                        "Transcription",
                        &[
                            ("track", "inbound_track"),
                            (
                                "statusCallbackUrl",
                                "https://d.example/twilio/transcription?a=1&b=2"
                            ),
                            ("languageCode", "en-US"),
                            ("transcriptionEngine", "google"),
                        ],
                        vec![]
                    )]
                )]
            ),
            "{xml}"
        );
    }

    #[test]
    fn empty_response() {
        assert_eq!(
            parse(&VoiceResponse::new().to_xml()),
            el("Response", &[], vec![])
        );
    }

    #[test]
    fn hostile_say_text_is_spoken_literally() {
        for &hostile in HOSTILE {
            let xml = VoiceResponse::new().say(Say::new(hostile)).to_xml();
            assert_eq!(
                parse(&xml),
                el("Response", &[], vec![el("Say", &[], vec![text(hostile)])]),
                "{hostile:?} -> {xml}"
            );
        }
    }

    #[test]
    fn hostile_attribute_values_stay_one_attribute() {
        for &hostile in HOSTILE {
            // quick-xml writes tabs and newlines in attribute values as `&#9;` and `&#10;`, so the
            // parser's attribute-value normalisation (XML 1.0, 3.3.3) leaves them as they were.
            let expected = hostile;
            let xml = VoiceResponse::new()
                .say(Say::new("hi").voice(hostile).language(hostile))
                .redirect(Redirect::new(hostile).method(HttpMethod::Post))
                .to_xml();
            assert_eq!(
                parse(&xml),
                el(
                    "Response",
                    &[],
                    vec![
                        el(
                            "Say",
                            &[("voice", expected), ("language", expected)],
                            vec![text("hi")]
                        ),
                        el("Redirect", &[("method", "POST")], vec![text(hostile)]),
                    ]
                ),
                "{hostile:?} -> {xml}"
            );
        }
    }

    #[test]
    fn forbidden_control_characters_are_dropped() {
        let nasty = "a\u{0}b\u{1}c\u{8}d\u{B}e\u{C}f\u{E}g\u{1F}h\u{FFFE}i\u{FFFF}j\u{7F}k";
        let xml = VoiceResponse::new()
            .say(Say::new(nasty).voice(nasty))
            .gather(Gather::new().action(nasty).say(nasty))
            .to_xml();
        // U+007F (DEL) is allowed by XML 1.0, so it stays.
        let clean = "abcdefghij\u{7F}k";
        assert_eq!(
            parse(&xml),
            el(
                "Response",
                &[],
                vec![
                    el("Say", &[("voice", clean)], vec![text(clean)]),
                    el(
                        "Gather",
                        &[("action", clean)],
                        vec![el("Say", &[], vec![text(clean)])]
                    ),
                ]
            )
        );
    }

    #[test]
    fn only_set_attributes_are_written() {
        let xml = VoiceResponse::new()
            .say("plain")
            .play("https://x.example/a.mp3")
            .gather(Gather::new())
            .record(Record::new())
            .reject(Reject::new())
            .to_xml();
        assert!(xml.ends_with(
            "<Response><Say>plain</Say><Play>https://x.example/a.mp3</Play><Gather/><Record/><Reject/></Response>"
        ), "{xml}");
    }

    #[test]
    fn play_digits_has_no_url() {
        let xml = VoiceResponse::new().play(Play::digits("w12#")).to_xml();
        assert!(
            xml.ends_with(r#"<Response><Play digits="w12#"/></Response>"#),
            "{xml}"
        );
    }

    #[test]
    fn every_verb_and_attribute() {
        let caller = PhoneNumber::parse("+14155550100").unwrap();
        let xml = VoiceResponse::new()
            .say(
                Say::new("こんにちは")
                    .voice("Polly.Mizuki")
                    .language("ja-JP")
                    .loop_count(2),
            )
            .play(Play::new("https://x.example/a.mp3?x=1&y=2").loop_count(0))
            .pause(3)
            .gather(
                Gather::new()
                    .input(GatherInput::Dtmf)
                    .num_digits(6)
                    .timeout(10)
                    .action("https://denwa.example/twilio/gather?c=1&d=2")
                    .method(HttpMethod::Post)
                    .finish_on_key("")
                    .action_on_empty_result(true)
                    .say(Say::new("Enter the code"))
                    .play("https://x.example/b.mp3")
                    .pause(1),
            )
            .dial(
                Dial::conference(
                    Conference::new(conference_name())
                        .muted(true)
                        .beep(Beep::OnEnter)
                        .start_conference_on_enter(false)
                        .end_conference_on_exit(true)
                        .participant_label(ParticipantLabel::caller())
                        .wait_url("")
                        .wait_method(HttpMethod::Get)
                        .max_participants(250)
                        .record(ConferenceRecord::DoNotRecord)
                        .status_callback("https://denwa.example/twilio/conference")
                        .status_callback_method(HttpMethod::Post)
                        .status_callback_events([
                            ConferenceEvent::Start,
                            ConferenceEvent::End,
                            ConferenceEvent::Join,
                            ConferenceEvent::Leave,
                            ConferenceEvent::Mute,
                            ConferenceEvent::Hold,
                            ConferenceEvent::Modify,
                            ConferenceEvent::Speaker,
                            ConferenceEvent::Announcement,
                        ]),
                )
                .action("https://denwa.example/twilio/dial-done")
                .method(HttpMethod::Post)
                .timeout(20)
                .caller_id(caller.clone())
                .time_limit(3600),
            )
            .dial(Dial::number(
                Number::new(caller.clone())
                    .send_digits("ww123")
                    .url("https://denwa.example/w")
                    .method(HttpMethod::Get),
            ))
            .redirect(Redirect::new("https://denwa.example/twilio/speak").method(HttpMethod::Post))
            .record(
                Record::new()
                    .action("https://denwa.example/rec")
                    .method(HttpMethod::Post)
                    .max_length(5)
                    .timeout(2)
                    .play_beep(false)
                    .finish_on_key("#")
                    .transcribe(true)
                    .transcribe_callback("https://denwa.example/tr")
                    .recording_status_callback("https://denwa.example/rs")
                    .trim(Trim::TrimSilence),
            )
            .reject(Reject::new().reason(RejectReason::Busy))
            .hangup()
            .to_xml();

        let expected = el(
            "Response",
            &[],
            vec![
                el(
                    "Say",
                    &[
                        ("voice", "Polly.Mizuki"),
                        ("language", "ja-JP"),
                        ("loop", "2"),
                    ],
                    vec![text("こんにちは")],
                ),
                el(
                    "Play",
                    &[("loop", "0")],
                    vec![text("https://x.example/a.mp3?x=1&y=2")],
                ),
                el("Pause", &[("length", "3")], vec![]),
                el(
                    "Gather",
                    &[
                        ("input", "dtmf"),
                        ("numDigits", "6"),
                        ("timeout", "10"),
                        ("action", "https://denwa.example/twilio/gather?c=1&d=2"),
                        ("method", "POST"),
                        ("finishOnKey", ""),
                        ("actionOnEmptyResult", "true"),
                    ],
                    vec![
                        el("Say", &[], vec![text("Enter the code")]),
                        el("Play", &[], vec![text("https://x.example/b.mp3")]),
                        el("Pause", &[("length", "1")], vec![]),
                    ],
                ),
                el(
                    "Dial",
                    &[
                        ("action", "https://denwa.example/twilio/dial-done"),
                        ("method", "POST"),
                        ("timeout", "20"),
                        ("callerId", "+14155550100"),
                        ("timeLimit", "3600"),
                    ],
                    vec![el(
                        "Conference",
                        &[
                            ("muted", "true"),
                            ("beep", "onEnter"),
                            ("startConferenceOnEnter", "false"),
                            ("endConferenceOnExit", "true"),
                            ("participantLabel", "caller"),
                            ("waitUrl", ""),
                            ("waitMethod", "GET"),
                            ("maxParticipants", "250"),
                            ("record", "do-not-record"),
                            ("statusCallback", "https://denwa.example/twilio/conference"),
                            ("statusCallbackMethod", "POST"),
                            (
                                "statusCallbackEvent",
                                "start end join leave mute hold modify speaker announcement",
                            ),
                        ],
                        vec![text("denwa-abc123")],
                    )],
                ),
                el(
                    "Dial",
                    &[],
                    vec![el(
                        "Number",
                        &[
                            ("sendDigits", "ww123"),
                            ("url", "https://denwa.example/w"),
                            ("method", "GET"),
                        ],
                        vec![text("+14155550100")],
                    )],
                ),
                el(
                    "Redirect",
                    &[("method", "POST")],
                    vec![text("https://denwa.example/twilio/speak")],
                ),
                el(
                    "Record",
                    &[
                        ("action", "https://denwa.example/rec"),
                        ("method", "POST"),
                        ("maxLength", "5"),
                        ("timeout", "2"),
                        ("playBeep", "false"),
                        ("finishOnKey", "#"),
                        ("transcribe", "true"),
                        ("transcribeCallback", "https://denwa.example/tr"),
                        ("recordingStatusCallback", "https://denwa.example/rs"),
                        ("trim", "trim-silence"),
                    ],
                    vec![],
                ),
                el("Reject", &[("reason", "busy")], vec![]),
                el("Hangup", &[], vec![]),
            ],
        );
        assert_eq!(parse(&xml), expected, "{xml}");
    }

    #[test]
    fn wait_url_none_is_absent_and_empty_is_silence() {
        let xml = VoiceResponse::new()
            .dial(Dial::conference(Conference::new(conference_name())))
            .to_xml();
        assert_eq!(
            parse(&xml),
            el(
                "Response",
                &[],
                vec![el(
                    "Dial",
                    &[],
                    vec![el("Conference", &[], vec![text("denwa-abc123")])]
                )]
            )
        );
        let silent = VoiceResponse::new()
            .dial(Dial::conference(
                Conference::new(conference_name()).wait_url(""),
            ))
            .to_xml();
        assert!(
            silent.contains(r#"<Conference waitUrl="">denwa-abc123</Conference>"#),
            "{silent}"
        );
    }

    #[test]
    fn beep_values() {
        for (beep, value) in [
            (Beep::True, "true"),
            (Beep::False, "false"),
            (Beep::OnEnter, "onEnter"),
            (Beep::OnExit, "onExit"),
        ] {
            let xml = VoiceResponse::new()
                .dial(Dial::conference(
                    Conference::new(conference_name()).beep(beep),
                ))
                .to_xml();
            assert!(
                xml.contains(&format!(r#"<Conference beep="{value}">"#)),
                "{xml}"
            );
        }
    }

    #[test]
    fn gather_input_values() {
        for (input, value) in [
            (GatherInput::Dtmf, "dtmf"),
            (GatherInput::Speech, "speech"),
            (GatherInput::DtmfAndSpeech, "dtmf speech"),
        ] {
            let xml = VoiceResponse::new()
                .gather(Gather::new().input(input))
                .to_xml();
            assert_eq!(
                parse(&xml),
                el(
                    "Response",
                    &[],
                    vec![el("Gather", &[("input", value)], vec![])]
                )
            );
        }
    }
}
