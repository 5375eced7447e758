//! A strict TwiML parser.
//!
//! Real Twilio rejects documents it cannot parse (error 12100) or that break the TwiML schema
//! (error 12200); an emulator that accepted them would let bugs through to production. So this
//! parser knows every attribute Twilio documents for the verbs the emulator executes (taken from the
//! attribute lists of Twilio's own TwiML generators) and refuses anything else: unknown elements or
//! attributes, malformed values, text where none is allowed, a root other than `<Response>`.
//! Real verbs the emulator does not execute (`<Connect>`, `<Enqueue>`, ...) are refused too, with a
//! message saying so, rather than silently skipped.

use quick_xml::XmlVersion;
use quick_xml::events::Event;

use crate::realtime_transcription::{self, TranscriptionSettings};

/// Twilio error code for a document that is not well-formed XML.
pub const PARSE_FAILURE: u32 = 12100;
/// Twilio error code for a well-formed document that breaks the TwiML schema.
pub const SCHEMA_VIOLATION: u32 = 12200;

/// Why a TwiML document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TwimlError {
    /// [`PARSE_FAILURE`] or [`SCHEMA_VIOLATION`].
    pub code: u32,
    pub message: String,
}

fn parse_err(message: impl Into<String>) -> TwimlError {
    TwimlError {
        code: PARSE_FAILURE,
        message: message.into(),
    }
}

fn schema_err(message: impl Into<String>) -> TwimlError {
    TwimlError {
        code: SCHEMA_VIOLATION,
        message: message.into(),
    }
}

/// An HTTP method TwiML may name for a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

impl HttpMethod {
    /// Parses `GET`/`POST` (Twilio accepts either case).
    pub fn parse(s: &str) -> Option<HttpMethod> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Some(HttpMethod::Get),
            "POST" => Some(HttpMethod::Post),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// A parsed `<Response>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub verbs: Vec<Verb>,
}

/// One executable TwiML verb.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    Say(Say),
    Play(Play),
    /// `<Pause length>` in call-seconds.
    Pause {
        length: u32,
    },
    Gather(Gather),
    Dial(Dial),
    Redirect {
        url: String,
        method: HttpMethod,
    },
    Hangup,
    /// `<Reject reason>`: `busy` when `busy` is true, otherwise `rejected`.
    Reject {
        busy: bool,
    },
    Record(Record),
    /// `<Start><Transcription>`: a real-time transcription starts and the document goes on at
    /// once with the next verb.
    StartTranscription(TranscriptionSettings),
    /// `<Stop><Transcription name>`: stops the call's transcription of that name.
    StopTranscription {
        name: String,
    },
}

impl Verb {
    /// The element name, for logs and events.
    pub fn name(&self) -> &'static str {
        match self {
            Verb::Say(_) => "Say",
            Verb::Play(_) => "Play",
            Verb::Pause { .. } => "Pause",
            Verb::Gather(_) => "Gather",
            Verb::Dial(_) => "Dial",
            Verb::Redirect { .. } => "Redirect",
            Verb::Hangup => "Hangup",
            Verb::Reject { .. } => "Reject",
            Verb::Record(_) => "Record",
            Verb::StartTranscription(_) => "Start",
            Verb::StopTranscription { .. } => "Stop",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Say {
    /// The text to speak, entities decoded, SSML markup removed (its words kept).
    pub text: String,
    pub voice: Option<String>,
    pub language: Option<String>,
    /// Times to repeat; 0 means "until the call ends" (the emulator stops after 1000).
    pub loops: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Play {
    pub url: Option<String>,
    /// DTMF digits to play instead of a URL (`w` waits half a second).
    pub digits: Option<String>,
    pub loops: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gather {
    pub dtmf: bool,
    pub speech: bool,
    pub num_digits: Option<u32>,
    pub timeout: u32,
    /// `None`: `speechTimeout="auto"` or absent.
    pub speech_timeout: Option<u32>,
    pub action: Option<String>,
    pub method: HttpMethod,
    /// `None` when `finishOnKey=""` disables it.
    pub finish_on_key: Option<char>,
    pub action_on_empty_result: bool,
    /// Nested `<Say>`, `<Play>` and `<Pause>`.
    pub prompts: Vec<Verb>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dial {
    pub action: Option<String>,
    pub method: HttpMethod,
    pub timeout: u32,
    pub hangup_on_star: bool,
    pub time_limit: u32,
    pub caller_id: Option<String>,
    pub target: DialTarget,
}

/// What a `<Dial>` connects to.
#[derive(Debug, Clone, PartialEq)]
pub enum DialTarget {
    /// A phone number (`<Number>` or bare text), or a `client:` identity from `<Client>`.
    Number(NumberNoun),
    Conference(ConferenceNoun),
}

#[derive(Debug, Clone, PartialEq)]
pub struct NumberNoun {
    pub number: String,
    pub send_digits: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_method: HttpMethod,
    pub status_callback_event: Vec<String>,
}

/// `beep` attribute of `<Conference>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beep {
    Both,
    Never,
    OnEnter,
    OnExit,
}

impl Beep {
    pub fn parse(s: &str) -> Option<Beep> {
        match s {
            "true" => Some(Beep::Both),
            "false" => Some(Beep::Never),
            "onEnter" => Some(Beep::OnEnter),
            "onExit" => Some(Beep::OnExit),
            _ => None,
        }
    }
    pub fn on_enter(self) -> bool {
        matches!(self, Beep::Both | Beep::OnEnter)
    }
    pub fn on_exit(self) -> bool {
        matches!(self, Beep::Both | Beep::OnExit)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConferenceNoun {
    pub name: String,
    pub muted: bool,
    pub beep: Beep,
    pub start_conference_on_enter: bool,
    pub end_conference_on_exit: bool,
    /// `None`: Twilio's default hold music; `Some("")`: silence.
    pub wait_url: Option<String>,
    pub wait_method: HttpMethod,
    pub max_participants: u32,
    pub record: bool,
    pub status_callback: Option<String>,
    pub status_callback_method: HttpMethod,
    /// Event groups as written: start end join leave mute hold modify speaker announcement.
    pub status_callback_event: Vec<String>,
    pub participant_label: Option<String>,
    pub coach: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub action: Option<String>,
    pub method: HttpMethod,
    /// Seconds of silence that end the recording (0 disables).
    pub timeout: u32,
    pub finish_on_key: String,
    pub max_length: u32,
    pub play_beep: bool,
    pub transcribe: bool,
    pub transcribe_callback: Option<String>,
    pub recording_status_callback: Option<String>,
    pub recording_status_callback_method: HttpMethod,
}

/// A generic element tree; parsing and schema checking are separate passes so that the two
/// kinds of failure get their own error codes.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
}

/// Parses and validates a TwiML document.
pub fn parse(xml: &str) -> Result<Document, TwimlError> {
    let root = parse_tree(xml)?;
    if root.name != "Response" {
        return Err(parse_err(format!(
            "root element must be <Response>, found <{}>",
            root.name
        )));
    }
    if let Some((k, _)) = root.attrs.first() {
        return Err(schema_err(format!("<Response> has no attribute '{k}'")));
    }
    let mut verbs = Vec::new();
    for node in &root.children {
        match node {
            Node::Text(t) if t.trim().is_empty() => {}
            Node::Text(t) => {
                return Err(schema_err(format!(
                    "text not allowed in <Response>: {:?}",
                    t.trim()
                )));
            }
            Node::Element(e) => verbs.push(verb(e)?),
        }
    }
    Ok(Document { verbs })
}

/// Parses the subset of TwiML an `AnnounceUrl` may return: `<Say>`, `<Play>`, `<Pause>`, `<Redirect>`.
pub fn parse_announcement(xml: &str) -> Result<Document, TwimlError> {
    let doc = parse(xml)?;
    if let Some(v) = doc.verbs.iter().find(|v| {
        !matches!(
            v,
            Verb::Say(_) | Verb::Play(_) | Verb::Pause { .. } | Verb::Redirect { .. }
        )
    }) {
        return Err(schema_err(format!(
            "<{}> is not allowed in an announcement",
            v.name()
        )));
    }
    Ok(doc)
}

fn parse_tree(xml: &str) -> Result<Element, TwimlError> {
    // "There is a leading space, or an empty line, before the XML type header" is the first
    // cause Twilio lists for 12100 (https://www.twilio.com/docs/api/errors/12100). Stricter than
    // documented: leading whitespace fails a document without a declaration too.
    if xml.starts_with(|c: char| c.is_whitespace()) {
        return Err(parse_err(
            "whitespace before the XML declaration (or the root element)",
        ));
    }
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;

    let push_text = |stack: &mut Vec<Element>, text: &str| -> Result<(), TwimlError> {
        match stack.last_mut() {
            Some(el) => {
                if let Some(Node::Text(t)) = el.children.last_mut() {
                    t.push_str(text);
                } else {
                    el.children.push(Node::Text(text.to_string()));
                }
                Ok(())
            }
            None if text.trim().is_empty() => Ok(()),
            None => Err(parse_err("text outside the root element")),
        }
    };

    loop {
        let ev = reader.read_event().map_err(|e| {
            parse_err(format!(
                "malformed XML at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        match ev {
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(parse_err("DOCTYPE is not allowed in TwiML")),
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(parse_err("content after the root element"));
            }
            Event::Start(s) => {
                let el = element(&s)?;
                stack.push(el);
            }
            Event::Empty(s) => {
                let el = element(&s)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| parse_err("unexpected end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => push_text(&mut stack, &c.xml10_content())?,
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| parse_err(format!("bad character reference: {e}")))?
                        .ok_or_else(|| parse_err("bad character reference"))?
                } else {
                    match r.xml10_content().as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(parse_err(format!("undefined entity &{other};"))),
                    }
                };
                push_text(&mut stack, ch.encode_utf8(&mut [0; 4]))?;
            }
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(parse_err(format!("unclosed element <{}>", open.name)));
    }
    root.ok_or_else(|| parse_err("empty document"))
}

fn element(s: &quick_xml::events::BytesStart<'_>) -> Result<Element, TwimlError> {
    let name = s.name().as_ref().to_string();
    let mut attrs = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(|e| parse_err(format!("bad attribute in <{name}>: {e}")))?;
        let key = a.key.as_ref().to_string();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| parse_err(format!("bad value of {key} in <{name}>: {e}")))?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

/// Attribute access that remembers which attributes were consumed, so that anything left over is
/// reported as unknown.
struct Attrs<'a> {
    el: &'a Element,
    allowed: &'static [&'static str],
}

impl<'a> Attrs<'a> {
    fn new(el: &'a Element, allowed: &'static [&'static str]) -> Result<Self, TwimlError> {
        for (k, _) in &el.attrs {
            if !allowed.contains(&k.as_str()) {
                return Err(schema_err(format!("<{}> has no attribute '{k}'", el.name)));
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in &el.attrs {
            if seen.contains(&k.as_str()) {
                return Err(parse_err(format!(
                    "duplicate attribute '{k}' in <{}>",
                    el.name
                )));
            }
            seen.push(k);
        }
        Ok(Attrs { el, allowed })
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        debug_assert!(self.allowed.contains(&key), "{key} not declared");
        self.el
            .attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn bad(&self, key: &str, value: &str, expected: &str) -> TwimlError {
        schema_err(format!(
            "<{}> {key}={value:?} is invalid: expected {expected}",
            self.el.name
        ))
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, TwimlError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(self.bad(key, v, "true or false")),
            },
        }
    }

    fn uint(&self, key: &str, default: u32, min: u32, max: u32) -> Result<u32, TwimlError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(self.bad(key, v, &format!("an integer from {min} to {max}"))),
            },
        }
    }

    fn method(&self, key: &str) -> Result<HttpMethod, TwimlError> {
        match self.get(key) {
            None => Ok(HttpMethod::Post),
            Some(v) => HttpMethod::parse(v).ok_or_else(|| self.bad(key, v, "GET or POST")),
        }
    }

    /// A URL attribute: absolute http(s) or relative (resolved later against the document URL).
    fn url(&self, key: &str) -> Result<Option<String>, TwimlError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                check_url(v).map_err(|why| self.bad(key, v, why))?;
                Ok(Some(v.to_string()))
            }
        }
    }

    fn one_of(&self, key: &str, values: &[&str]) -> Result<Option<&'a str>, TwimlError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if values.contains(&v) => Ok(Some(v)),
            Some(v) => Err(self.bad(key, v, &format!("one of {}", values.join(", ")))),
        }
    }

    /// A space-separated list of words from `values`.
    fn words(&self, key: &str, values: &[&str]) -> Result<Vec<String>, TwimlError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) => v
                .split([' ', ','])
                .filter(|w| !w.is_empty())
                .map(|w| {
                    if values.contains(&w) {
                        Ok(w.to_string())
                    } else {
                        Err(self.bad(key, v, &format!("words from {}", values.join(" "))))
                    }
                })
                .collect(),
        }
    }
}

fn check_url(v: &str) -> Result<(), &'static str> {
    if v.trim().is_empty() {
        return Err("a URL");
    }
    if v.contains(char::is_whitespace) {
        return Err("a URL without spaces");
    }
    if let Ok(u) = url::Url::parse(v)
        && !matches!(u.scheme(), "http" | "https")
    {
        return Err("an http or https URL");
    }
    Ok(())
}

/// The text content of an element that must contain only text.
fn text_only(el: &Element) -> Result<String, TwimlError> {
    let mut out = String::new();
    for c in &el.children {
        match c {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                return Err(schema_err(format!(
                    "<{}> is not allowed inside <{}>",
                    e.name, el.name
                )));
            }
        }
    }
    Ok(out)
}

fn no_content(el: &Element) -> Result<(), TwimlError> {
    let t = text_only(el)?;
    if !t.trim().is_empty() {
        return Err(schema_err(format!("<{}> takes no text", el.name)));
    }
    Ok(())
}

/// Twilio verbs the emulator knows exist but does not execute.
const UNSUPPORTED_VERBS: &[&str] = &[
    "Connect", "Echo", "Enqueue", "Leave", "Pay", "Prompt", "Queue", "Refer", "Sms", "Message",
];

/// What `<Start>` and `<Stop>` may hold besides `<Transcription>`: real Twilio nouns the emulator
/// does not execute.
const UNSUPPORTED_START_NOUNS: &[&str] = &["Stream", "Siprec", "Recording", "ConversationRelay"];

fn verb(el: &Element) -> Result<Verb, TwimlError> {
    match el.name.as_str() {
        "Say" => say(el).map(Verb::Say),
        "Play" => play(el).map(Verb::Play),
        "Pause" => {
            let a = Attrs::new(el, &["length"])?;
            no_content(el)?;
            Ok(Verb::Pause {
                length: a.uint("length", 1, 0, 3600)?,
            })
        }
        "Gather" => gather(el).map(Verb::Gather),
        "Dial" => dial(el).map(Verb::Dial),
        "Redirect" => {
            let a = Attrs::new(el, &["method"])?;
            let url = text_only(el)?.trim().to_string();
            check_url(&url).map_err(|why| schema_err(format!("<Redirect> needs {why}")))?;
            Ok(Verb::Redirect {
                url,
                method: a.method("method")?,
            })
        }
        "Hangup" => {
            Attrs::new(el, &[])?;
            no_content(el)?;
            Ok(Verb::Hangup)
        }
        "Reject" => {
            let a = Attrs::new(el, &["reason"])?;
            no_content(el)?;
            let busy = a.one_of("reason", &["rejected", "busy"])? == Some("busy");
            Ok(Verb::Reject { busy })
        }
        "Record" => record(el).map(Verb::Record),
        "Start" => transcription(start_or_stop_noun(el)?).map(Verb::StartTranscription),
        "Stop" => stop_transcription(start_or_stop_noun(el)?),
        other if UNSUPPORTED_VERBS.contains(&other) => Err(schema_err(format!(
            "<{other}> is a Twilio verb this emulator does not execute"
        ))),
        other => Err(schema_err(format!("<{other}> is not a TwiML voice verb"))),
    }
}

/// The one noun inside `<Start>` or `<Stop>`, which must be a `<Transcription>`. `<Start>` has
/// `action` and `method` (twilio-python's `VoiceResponse.start`): real, and not executed, so
/// refused rather than ignored; `<Stop>` has no attributes.
fn start_or_stop_noun(el: &Element) -> Result<&Element, TwimlError> {
    let a = Attrs::new(
        el,
        if el.name == "Start" {
            &["action", "method"]
        } else {
            &[]
        },
    )?;
    if el.name == "Start" && (a.get("action").is_some() || a.get("method").is_some()) {
        return Err(schema_err(
            "<Start action|method> is Twilio TwiML this emulator does not execute",
        ));
    }
    let mut nouns = Vec::new();
    for c in &el.children {
        match c {
            Node::Element(e) => nouns.push(e),
            Node::Text(t) if t.trim().is_empty() => {}
            Node::Text(_) => return Err(schema_err(format!("<{}> takes no text", el.name))),
        }
    }
    let [noun] = nouns.as_slice() else {
        return Err(schema_err(format!(
            "<{}> must hold exactly one noun, not {}",
            el.name,
            nouns.len()
        )));
    };
    match noun.name.as_str() {
        "Transcription" => Ok(noun),
        other if UNSUPPORTED_START_NOUNS.contains(&other) => Err(schema_err(format!(
            "<{}><{other}> is a Twilio noun this emulator does not execute",
            el.name
        ))),
        other => Err(schema_err(format!(
            "<{other}> is not allowed inside <{}>",
            el.name
        ))),
    }
}

/// `<Transcription>` inside `<Start>`: every attribute Twilio documents, each value checked.
/// Its `<Config>`/`<Parameter>` children are not modelled: refused.
fn transcription(el: &Element) -> Result<TranscriptionSettings, TwimlError> {
    let a = Attrs::new(el, realtime_transcription::TWIML_ATTRIBUTES)?;
    no_content(el)?;
    TranscriptionSettings::read(|k| a.get(k))
        .map_err(|bad| a.bad(bad.key, &bad.value, bad.expected))
}

/// `<Transcription name>` inside `<Stop>`: the name says which transcription to stop. Stricter
/// than documented: the emulator wants the name and nothing else.
fn stop_transcription(el: &Element) -> Result<Verb, TwimlError> {
    let a = Attrs::new(el, &["name"])?;
    no_content(el)?;
    match a.get("name") {
        Some(name) if !name.trim().is_empty() => Ok(Verb::StopTranscription {
            name: name.to_string(),
        }),
        _ => Err(schema_err(
            "<Stop><Transcription> needs the name of the transcription to stop",
        )),
    }
}

/// SSML elements Twilio allows inside `<Say>`; their text is spoken, the markup is not.
const SSML: &[&str] = &[
    "break",
    "emphasis",
    "lang",
    "p",
    "phoneme",
    "prosody",
    "s",
    "say-as",
    "sub",
    "w",
    "amazon:domain",
    "amazon:effect",
];

fn say(el: &Element) -> Result<Say, TwimlError> {
    let a = Attrs::new(el, &["voice", "language", "loop"])?;
    let mut text = String::new();
    ssml_text(el, &mut text)?;
    if let Some(v) = a.get("voice") {
        let ok = matches!(v, "man" | "woman" | "alice")
            || v.strip_prefix("Polly.").is_some_and(|n| !n.is_empty())
            || v.strip_prefix("Google.").is_some_and(|n| !n.is_empty());
        if !ok {
            return Err(a.bad(
                "voice",
                v,
                "man, woman, alice, Polly.<name> or Google.<name>",
            ));
        }
    }
    if let Some(l) = a.get("language") {
        let ok = l
            .split('-')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
            && (2..=10).contains(&l.len());
        if !ok {
            return Err(a.bad("language", l, "a language tag such as en-US"));
        }
    }
    Ok(Say {
        text,
        voice: a.get("voice").map(str::to_string),
        language: a.get("language").map(str::to_string),
        loops: a.uint("loop", 1, 0, 1000)?,
    })
}

fn ssml_text(el: &Element, out: &mut String) -> Result<(), TwimlError> {
    for c in &el.children {
        match c {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) if SSML.contains(&e.name.as_str()) => {
                if e.name == "sub" {
                    // <sub alias="..."> is spoken as its alias.
                    if let Some((_, alias)) = e.attrs.iter().find(|(k, _)| k == "alias") {
                        out.push_str(alias);
                        continue;
                    }
                }
                ssml_text(e, out)?;
                // Paragraphs, sentences and breaks separate words even when written back to back.
                if matches!(e.name.as_str(), "p" | "s" | "break") {
                    out.push(' ');
                }
            }
            Node::Element(e) => {
                return Err(schema_err(format!(
                    "<{}> is not allowed inside <Say>",
                    e.name
                )));
            }
        }
    }
    Ok(())
}

fn play(el: &Element) -> Result<Play, TwimlError> {
    let a = Attrs::new(el, &["loop", "digits"])?;
    let url = text_only(el)?.trim().to_string();
    let digits = a.get("digits").map(str::to_string);
    if let Some(d) = &digits
        && (d.is_empty() || !d.chars().all(|c| "0123456789*#wW".contains(c)))
    {
        return Err(a.bad("digits", d, "DTMF digits 0-9 * # and w"));
    }
    let url = if url.is_empty() {
        if digits.is_none() {
            return Err(schema_err("<Play> needs a URL or digits"));
        }
        None
    } else {
        check_url(&url).map_err(|why| schema_err(format!("<Play> needs {why}")))?;
        Some(url)
    };
    Ok(Play {
        url,
        digits,
        loops: a.uint("loop", 1, 0, 1000)?,
    })
}

fn gather(el: &Element) -> Result<Gather, TwimlError> {
    let a = Attrs::new(
        el,
        &[
            "input",
            "action",
            "method",
            "timeout",
            "speechTimeout",
            "maxSpeechTime",
            "profanityFilter",
            "finishOnKey",
            "numDigits",
            "partialResultCallback",
            "partialResultCallbackMethod",
            "language",
            "hints",
            "bargeIn",
            "debug",
            "actionOnEmptyResult",
            "speechModel",
            "enhanced",
        ],
    )?;
    let input = a.words("input", &["dtmf", "speech"])?;
    let (dtmf, speech) = if input.is_empty() {
        (true, false)
    } else {
        (
            input.iter().any(|w| w == "dtmf"),
            input.iter().any(|w| w == "speech"),
        )
    };
    let finish_on_key = match a.get("finishOnKey") {
        None => Some('#'),
        Some("") => None,
        Some(k) if k.chars().count() == 1 && "0123456789*#".contains(k) => k.chars().next(),
        Some(k) => return Err(a.bad("finishOnKey", k, "one of 0-9 * # or empty")),
    };
    let speech_timeout = match a.get("speechTimeout") {
        None | Some("auto") => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| a.bad("speechTimeout", v, "auto or seconds"))?,
        ),
    };
    a.bool("profanityFilter", true)?;
    a.bool("bargeIn", true)?;
    a.bool("debug", false)?;
    a.bool("enhanced", false)?;
    a.uint("maxSpeechTime", 60, 1, 60)?;
    a.url("partialResultCallback")?;
    a.method("partialResultCallbackMethod")?;
    let mut prompts = Vec::new();
    for c in &el.children {
        match c {
            Node::Text(t) if t.trim().is_empty() => {}
            Node::Text(_) => return Err(schema_err("text not allowed in <Gather>")),
            Node::Element(e) => match e.name.as_str() {
                "Say" | "Play" | "Pause" => prompts.push(verb(e)?),
                other => {
                    return Err(schema_err(format!(
                        "<{other}> is not allowed inside <Gather>"
                    )));
                }
            },
        }
    }
    Ok(Gather {
        dtmf,
        speech,
        num_digits: match a.get("numDigits") {
            None => None,
            Some(_) => Some(a.uint("numDigits", 1, 1, 1000)?),
        },
        timeout: a.uint("timeout", 5, 0, 600)?,
        speech_timeout,
        action: a.url("action")?,
        method: a.method("method")?,
        finish_on_key,
        action_on_empty_result: a.bool("actionOnEmptyResult", false)?,
        prompts,
    })
}

fn dial(el: &Element) -> Result<Dial, TwimlError> {
    let a = Attrs::new(
        el,
        &[
            "action",
            "method",
            "timeout",
            "hangupOnStar",
            "timeLimit",
            "callerId",
            "record",
            "trim",
            "recordingStatusCallback",
            "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent",
            "answerOnBridge",
            "ringTone",
            "recordingTrack",
            "sequential",
            "referUrl",
            "referMethod",
            "events",
        ],
    )?;
    a.one_of(
        "record",
        &[
            "do-not-record",
            "record-from-answer",
            "record-from-ringing",
            "record-from-answer-dual",
            "record-from-ringing-dual",
            "true",
            "false",
        ],
    )?;
    a.one_of("trim", &["trim-silence", "do-not-trim"])?;
    a.one_of("recordingTrack", &["both", "inbound", "outbound"])?;
    a.bool("answerOnBridge", false)?;
    a.bool("sequential", false)?;
    a.url("recordingStatusCallback")?;
    a.method("recordingStatusCallbackMethod")?;
    a.url("referUrl")?;
    a.method("referMethod")?;

    let mut targets = Vec::new();
    let mut bare = String::new();
    for c in &el.children {
        match c {
            Node::Text(t) => bare.push_str(t),
            Node::Element(e) => match e.name.as_str() {
                "Number" => targets.push(DialTarget::Number(number(e)?)),
                "Client" => targets.push(DialTarget::Number(client(e)?)),
                "Conference" => targets.push(DialTarget::Conference(conference(e)?)),
                "Sip" | "Sim" | "Queue" | "Application" | "WhatsApp" => {
                    return Err(schema_err(format!(
                        "<Dial><{}> is a Twilio noun this emulator does not execute",
                        e.name
                    )));
                }
                other => {
                    return Err(schema_err(format!(
                        "<{other}> is not allowed inside <Dial>"
                    )));
                }
            },
        }
    }
    let bare = bare.trim();
    if !bare.is_empty() {
        if !targets.is_empty() {
            return Err(schema_err("<Dial> mixes a bare number with nouns"));
        }
        targets.push(DialTarget::Number(NumberNoun {
            number: bare.to_string(),
            send_digits: None,
            status_callback: None,
            status_callback_method: HttpMethod::Post,
            status_callback_event: Vec::new(),
        }));
    }
    if targets.len() != 1 {
        return Err(schema_err(if targets.is_empty() {
            "<Dial> has nothing to dial".to_string()
        } else {
            "<Dial> with several nouns (simultaneous dialing) is not executed by this emulator"
                .to_string()
        }));
    }
    Ok(Dial {
        action: a.url("action")?,
        method: a.method("method")?,
        timeout: a.uint("timeout", 30, 1, 600)?,
        hangup_on_star: a.bool("hangupOnStar", false)?,
        time_limit: a.uint("timeLimit", 14_400, 1, 86_400)?,
        caller_id: a.get("callerId").map(str::to_string),
        target: targets.pop().expect("one target"),
    })
}

const CALL_EVENTS: &[&str] = &["initiated", "ringing", "answered", "completed"];

fn number(el: &Element) -> Result<NumberNoun, TwimlError> {
    let a = Attrs::new(
        el,
        &[
            "sendDigits",
            "url",
            "method",
            "statusCallbackEvent",
            "statusCallback",
            "statusCallbackMethod",
            "byoc",
            "machineDetection",
            "amdStatusCallbackMethod",
            "amdStatusCallback",
            "machineDetectionTimeout",
            "machineDetectionSpeechThreshold",
            "machineDetectionSpeechEndThreshold",
            "machineDetectionSilenceTimeout",
        ],
    )?;
    let number = text_only(el)?.trim().to_string();
    if number.is_empty() {
        return Err(schema_err("<Number> needs a phone number"));
    }
    if let Some(d) = a.get("sendDigits")
        && !d.chars().all(|c| "0123456789*#wW".contains(c))
    {
        return Err(a.bad("sendDigits", d, "DTMF digits 0-9 * # and w"));
    }
    if a.get("url").is_some() {
        return Err(schema_err(
            "<Number url> (whisper) is not executed by this emulator",
        ));
    }
    a.method("method")?;
    a.one_of("machineDetection", &["Enable", "DetectMessageEnd"])?;
    Ok(NumberNoun {
        number,
        send_digits: a.get("sendDigits").map(str::to_string),
        status_callback: a.url("statusCallback")?,
        status_callback_method: a.method("statusCallbackMethod")?,
        status_callback_event: a.words("statusCallbackEvent", CALL_EVENTS)?,
    })
}

fn client(el: &Element) -> Result<NumberNoun, TwimlError> {
    let a = Attrs::new(
        el,
        &[
            "url",
            "method",
            "statusCallbackEvent",
            "statusCallback",
            "statusCallbackMethod",
        ],
    )?;
    let mut identity = String::new();
    for c in &el.children {
        match c {
            Node::Text(t) => identity.push_str(t),
            Node::Element(e) if e.name == "Identity" => identity.push_str(&text_only(e)?),
            Node::Element(e) if e.name == "Parameter" => {
                Attrs::new(e, &["name", "value"])?;
            }
            Node::Element(e) => {
                return Err(schema_err(format!(
                    "<{}> is not allowed inside <Client>",
                    e.name
                )));
            }
        }
    }
    let identity = identity.trim();
    if identity.is_empty() {
        return Err(schema_err("<Client> needs an identity"));
    }
    if a.get("url").is_some() {
        return Err(schema_err("<Client url> is not executed by this emulator"));
    }
    a.method("method")?;
    Ok(NumberNoun {
        number: format!("client:{identity}"),
        send_digits: None,
        status_callback: a.url("statusCallback")?,
        status_callback_method: a.method("statusCallbackMethod")?,
        status_callback_event: a.words("statusCallbackEvent", CALL_EVENTS)?,
    })
}

/// Event groups `<Conference statusCallbackEvent>` accepts.
pub const CONFERENCE_EVENT_GROUPS: &[&str] = &[
    "start",
    "end",
    "join",
    "leave",
    "mute",
    "hold",
    "modify",
    "speaker",
    "announcement",
];

fn conference(el: &Element) -> Result<ConferenceNoun, TwimlError> {
    let a = Attrs::new(
        el,
        &[
            "muted",
            "beep",
            "startConferenceOnEnter",
            "endConferenceOnExit",
            "waitUrl",
            "waitMethod",
            "maxParticipants",
            "record",
            "region",
            "coach",
            "trim",
            "statusCallbackEvent",
            "statusCallback",
            "statusCallbackMethod",
            "recordingStatusCallback",
            "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent",
            "eventCallbackUrl",
            "jitterBufferSize",
            "participantLabel",
        ],
    )?;
    let name = text_only(el)?.trim().to_string();
    if name.is_empty() {
        return Err(schema_err("<Conference> needs a name"));
    }
    let beep = match a.get("beep") {
        None => Beep::Both,
        Some(v) => {
            Beep::parse(v).ok_or_else(|| a.bad("beep", v, "true, false, onEnter or onExit"))?
        }
    };
    let wait_url = match a.get("waitUrl") {
        None => None,
        Some("") => Some(String::new()),
        Some(_) => a.url("waitUrl")?,
    };
    let record =
        a.one_of("record", &["do-not-record", "record-from-start"])? == Some("record-from-start");
    a.one_of("trim", &["trim-silence", "do-not-trim"])?;
    a.one_of("jitterBufferSize", &["small", "medium", "large", "off"])?;
    a.one_of(
        "region",
        &["us1", "us2", "ie1", "de1", "sg1", "br1", "au1", "jp1"],
    )?;
    a.url("recordingStatusCallback")?;
    a.method("recordingStatusCallbackMethod")?;
    a.words(
        "recordingStatusCallbackEvent",
        &["in-progress", "completed", "absent", "failed"],
    )?;
    a.url("eventCallbackUrl")?;
    // participantLabel is checked when the call joins (16023, `participant_label.rs`).
    Ok(ConferenceNoun {
        name,
        muted: a.bool("muted", false)?,
        beep,
        start_conference_on_enter: a.bool("startConferenceOnEnter", true)?,
        end_conference_on_exit: a.bool("endConferenceOnExit", false)?,
        wait_url,
        wait_method: a.method("waitMethod")?,
        max_participants: a.uint("maxParticipants", 250, 2, 250)?,
        record,
        status_callback: a.url("statusCallback")?,
        status_callback_method: a.method("statusCallbackMethod")?,
        status_callback_event: a.words("statusCallbackEvent", CONFERENCE_EVENT_GROUPS)?,
        participant_label: a.get("participantLabel").map(str::to_string),
        coach: a.get("coach").map(str::to_string),
    })
}

fn record(el: &Element) -> Result<Record, TwimlError> {
    let a = Attrs::new(
        el,
        &[
            "action",
            "method",
            "timeout",
            "finishOnKey",
            "maxLength",
            "playBeep",
            "trim",
            "recordingStatusCallback",
            "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent",
            "transcribe",
            "transcribeCallback",
            "storageUrl",
            "storageUrlMethod",
        ],
    )?;
    no_content(el)?;
    let finish_on_key = a.get("finishOnKey").unwrap_or("1234567890*#").to_string();
    if !finish_on_key.chars().all(|c| "0123456789*#".contains(c)) {
        return Err(a.bad("finishOnKey", &finish_on_key, "keys from 0-9 * #"));
    }
    a.one_of("trim", &["trim-silence", "do-not-trim"])?;
    a.words(
        "recordingStatusCallbackEvent",
        &["in-progress", "completed", "absent"],
    )?;
    a.url("storageUrl")?;
    a.method("storageUrlMethod")?;
    Ok(Record {
        action: a.url("action")?,
        method: a.method("method")?,
        timeout: a.uint("timeout", 5, 0, 3600)?,
        finish_on_key,
        max_length: a.uint("maxLength", 3600, 1, 14_400)?,
        play_beep: a.bool("playBeep", true)?,
        transcribe: a.bool("transcribe", false)?,
        transcribe_callback: a.url("transcribeCallback")?,
        recording_status_callback: a.url("recordingStatusCallback")?,
        recording_status_callback_method: a.method("recordingStatusCallbackMethod")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_denwa_shapes() {
        let doc = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <Response>
              <Say voice="Polly.Mizuki" language="ja-JP">こんにちは &lt;/Say&gt; &amp; bye</Say>
              <Gather numDigits="6" timeout="10" action="/twilio/gather?x=1&amp;y=2"><Pause length="2"/></Gather>
              <Dial><Conference muted="true" beep="false" startConferenceOnEnter="true"
                  endConferenceOnExit="false" waitUrl="" participantLabel="speaker"
                  statusCallback="https://x.example/twilio/conference"
                  statusCallbackEvent="start end join leave">denwa-abc</Conference></Dial>
              <Redirect method="POST">/twilio/speak</Redirect>
              <Hangup/>
            </Response>"#,
        )
        .unwrap();
        assert_eq!(doc.verbs.len(), 5);
        match &doc.verbs[0] {
            Verb::Say(s) => assert_eq!(s.text, "こんにちは </Say> & bye"),
            v => panic!("{v:?}"),
        }
        match &doc.verbs[1] {
            Verb::Gather(g) => {
                assert_eq!(g.num_digits, Some(6));
                assert_eq!(g.action.as_deref(), Some("/twilio/gather?x=1&y=2"));
                assert_eq!(g.prompts, vec![Verb::Pause { length: 2 }]);
            }
            v => panic!("{v:?}"),
        }
        match &doc.verbs[2] {
            Verb::Dial(Dial {
                target: DialTarget::Conference(c),
                ..
            }) => {
                assert_eq!(c.name, "denwa-abc");
                assert!(c.muted);
                assert_eq!(c.wait_url.as_deref(), Some(""));
                assert_eq!(
                    c.status_callback_event,
                    vec!["start", "end", "join", "leave"]
                );
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn refuses_what_twilio_refuses() {
        let cases = [
            ("<Response><Say>hi</Say>", PARSE_FAILURE),
            ("<Response><Say>hi</Sai></Response>", PARSE_FAILURE),
            ("not xml", PARSE_FAILURE),
            ("", PARSE_FAILURE),
            ("<Reply><Say>hi</Say></Reply>", PARSE_FAILURE),
            ("<Response><Speak>hi</Speak></Response>", SCHEMA_VIOLATION),
            (
                "<Response><Say colour=\"red\">hi</Say></Response>",
                SCHEMA_VIOLATION,
            ),
            (
                "<Response><Say loop=\"-1\">hi</Say></Response>",
                SCHEMA_VIOLATION,
            ),
            (
                "<Response><Say voice=\"robot\">hi</Say></Response>",
                SCHEMA_VIOLATION,
            ),
            (
                "<Response><Pause length=\"x\"/></Response>",
                SCHEMA_VIOLATION,
            ),
            (
                "<Response><Gather finishOnKey=\"ab\"/></Response>",
                SCHEMA_VIOLATION,
            ),
            (
                "<Response><Gather><Dial>+1</Dial></Gather></Response>",
                SCHEMA_VIOLATION,
            ),
            (
                "<Response><Dial><Conference beep=\"loud\">x</Conference></Dial></Response>",
                SCHEMA_VIOLATION,
            ),
            ("<Response><Dial></Dial></Response>", SCHEMA_VIOLATION),
            ("<Response>hello</Response>", SCHEMA_VIOLATION),
            (
                "<Response><Hangup>now</Hangup></Response>",
                SCHEMA_VIOLATION,
            ),
            (
                "<Response><Enqueue>q</Enqueue></Response>",
                SCHEMA_VIOLATION,
            ),
            ("<Response><Say>&nbsp;</Say></Response>", PARSE_FAILURE),
        ];
        for (xml, code) in cases {
            let err = parse(xml).expect_err(xml);
            assert_eq!(err.code, code, "{xml}: {err}");
        }
    }

    #[test]
    fn announcement_subset() {
        assert!(parse_announcement("<Response><Say>a</Say><Pause/></Response>").is_ok());
        let err = parse_announcement("<Response><Hangup/></Response>").unwrap_err();
        assert_eq!(err.code, SCHEMA_VIOLATION);
    }
}
