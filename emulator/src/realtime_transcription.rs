//! What a Real-Time Transcription is asked to do: the attributes of `<Start><Transcription>` and
//! the parameters of the Calls Transcriptions resource, which are the same settings spelt
//! camelCase in TwiML and PascalCase over REST.
//!
//! The names, values and defaults are Twilio's: https://www.twilio.com/docs/voice/twiml/transcription,
//! https://www.twilio.com/docs/voice/api/realtime-transcription-resource, and the attribute lists of
//! Twilio's helper libraries (twilio-python `twiml/voice_response.py` class `Transcription`,
//! `rest/api/v2010/account/call/transcription.py`). Anything else is refused (12200 in TwiML,
//! HTTP 400 over REST), as for every other verb.

use crate::twiml::HttpMethod;

/// Which audio a transcription hears, named from Twilio's side of the call: `inbound_track` is
/// what reaches Twilio from the call's far end (the caller's voice on an inbound call),
/// `outbound_track` what Twilio sends to it (`<Say>`, the conference mix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptionTrack {
    Inbound,
    Outbound,
    Both,
}

impl TranscriptionTrack {
    pub fn parse(s: &str) -> Option<TranscriptionTrack> {
        match s {
            "inbound_track" => Some(TranscriptionTrack::Inbound),
            "outbound_track" => Some(TranscriptionTrack::Outbound),
            "both_tracks" => Some(TranscriptionTrack::Both),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TranscriptionTrack::Inbound => "inbound_track",
            TranscriptionTrack::Outbound => "outbound_track",
            TranscriptionTrack::Both => "both_tracks",
        }
    }
}

/// The speech-to-text provider (`transcriptionEngine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptionEngine {
    Google,
    Deepgram,
}

impl TranscriptionEngine {
    pub fn parse(s: &str) -> Option<TranscriptionEngine> {
        match s {
            "google" => Some(TranscriptionEngine::Google),
            "deepgram" => Some(TranscriptionEngine::Deepgram),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TranscriptionEngine::Google => "google",
            TranscriptionEngine::Deepgram => "deepgram",
        }
    }

    /// The `ProviderName` callbacks carry.
    pub fn provider_name(self) -> &'static str {
        match self {
            TranscriptionEngine::Google => "Google",
            TranscriptionEngine::Deepgram => "Deepgram",
        }
    }
}

/// One transcription's settings, every one Twilio documents.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptionSettings {
    /// Names the transcription so that `<Stop><Transcription name>` or the REST update can stop
    /// it.
    pub name: Option<String>,
    /// Default `both_tracks` (see `emulator/README.md`: not confirmed, and the stricter choice).
    pub track: TranscriptionTrack,
    /// Where the events go; relative in TwiML (resolved against the document's URL). Without it
    /// the transcription runs and nobody is told.
    pub status_callback_url: Option<String>,
    pub status_callback_method: HttpMethod,
    /// BCP-47; default `en-US`.
    pub language_code: String,
    /// Default `google`.
    pub engine: TranscriptionEngine,
    pub speech_model: Option<String>,
    /// Default true.
    pub profanity_filter: bool,
    /// Interim results (`Final=false`) as well as finals; default false.
    pub partial_results: bool,
    pub hints: Option<String>,
    /// Default true.
    pub enable_automatic_punctuation: bool,
    pub inbound_track_label: Option<String>,
    pub outbound_track_label: Option<String>,
    pub intelligence_service: Option<String>,
}

/// The TwiML attributes of `<Transcription>` (twilio-python's `Start.transcription` arguments,
/// camelCase as written in TwiML).
pub(crate) const TWIML_ATTRIBUTES: &[&str] = &[
    "name",
    "track",
    "statusCallbackUrl",
    "statusCallbackMethod",
    "inboundTrackLabel",
    "outboundTrackLabel",
    "partialResults",
    "languageCode",
    "transcriptionEngine",
    "profanityFilter",
    "speechModel",
    "hints",
    "enableAutomaticPunctuation",
    "intelligenceService",
];

/// A setting whose value Twilio would refuse.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadSetting {
    /// The TwiML (camelCase) name.
    pub key: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl TranscriptionSettings {
    /// Reads the settings through `get`, which is asked for each TwiML (camelCase) name.
    pub(crate) fn read<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, BadSetting> {
        let bad = |key: &'static str, value: &str, expected: &'static str| BadSetting {
            key,
            value: value.to_string(),
            expected,
        };
        let text = |key: &'static str| -> Result<Option<String>, BadSetting> {
            match get(key) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Err(bad(key, v, "a non-empty value")),
                Some(v) => Ok(Some(v.to_string())),
            }
        };
        let flag = |key: &'static str, default: bool| -> Result<bool, BadSetting> {
            match get(key).map(|v| (v, v.to_ascii_lowercase())) {
                None => Ok(default),
                Some((_, l)) if l == "true" => Ok(true),
                Some((_, l)) if l == "false" => Ok(false),
                Some((v, _)) => Err(bad(key, v, "true or false")),
            }
        };
        let track = match get("track") {
            // Twilio's pages do not say; both tracks is what exposes an application that forgot
            // to pick its caller's track (its own speech would come back as transcripts).
            None => TranscriptionTrack::Both,
            Some(v) => TranscriptionTrack::parse(v)
                .ok_or_else(|| bad("track", v, "inbound_track, outbound_track or both_tracks"))?,
        };
        let engine = match get("transcriptionEngine") {
            None => TranscriptionEngine::Google,
            Some(v) => TranscriptionEngine::parse(v)
                .ok_or_else(|| bad("transcriptionEngine", v, "google or deepgram"))?,
        };
        let status_callback_method = match get("statusCallbackMethod") {
            None => HttpMethod::Post,
            Some(v) => {
                HttpMethod::parse(v).ok_or_else(|| bad("statusCallbackMethod", v, "GET or POST"))?
            }
        };
        let status_callback_url = match get("statusCallbackUrl") {
            None => None,
            Some(v) if is_url(v) => Some(v.to_string()),
            Some(v) => return Err(bad("statusCallbackUrl", v, "an http or https URL")),
        };
        let language_code = match get("languageCode") {
            None => "en-US".to_string(),
            Some(v) if is_language_tag(v) => v.to_string(),
            Some(v) => {
                return Err(bad(
                    "languageCode",
                    v,
                    "a BCP-47 language tag such as en-US",
                ));
            }
        };
        let speech_model = match get("speechModel") {
            None => None,
            Some(v) if is_model_name(v) => Some(v.to_string()),
            Some(v) => return Err(bad("speechModel", v, "a model name such as telephony")),
        };
        Ok(TranscriptionSettings {
            name: text("name")?,
            track,
            status_callback_url,
            status_callback_method,
            language_code,
            engine,
            speech_model,
            profanity_filter: flag("profanityFilter", true)?,
            partial_results: flag("partialResults", false)?,
            hints: text("hints")?,
            enable_automatic_punctuation: flag("enableAutomaticPunctuation", true)?,
            inbound_track_label: text("inboundTrackLabel")?,
            outbound_track_label: text("outboundTrackLabel")?,
            intelligence_service: text("intelligenceService")?,
        })
    }
}

/// An absolute http(s) URL, or a relative one (TwiML resolves it against the document's URL).
fn is_url(v: &str) -> bool {
    if v.trim().is_empty() || v.contains(char::is_whitespace) {
        return false;
    }
    match url::Url::parse(v) {
        Ok(u) => matches!(u.scheme(), "http" | "https"),
        Err(url::ParseError::RelativeUrlWithoutBase) => true,
        Err(_) => false,
    }
}

/// BCP-47 in shape: a language subtag of 2 to 8 letters (`multi` included), then subtags of
/// 1 to 8 letters or digits. Twilio does not list the tags each engine takes; the emulator checks
/// the shape only.
fn is_language_tag(v: &str) -> bool {
    let mut parts = v.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    lang_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// A provider's model name (`telephony`, `long`, `nova-2`, `nova-3-general`...): the models
/// depend on the engine and change; the emulator checks the shape only.
fn is_model_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
