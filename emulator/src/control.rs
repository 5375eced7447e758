//! What the rest of the emulator tells a call leg's task: the messages it takes while it runs
//! ([`CallControl`]), where its TwiML documents come from ([`TwimlSource`]), and, for a leg to be
//! placed, what it is and what it does once answered ([`Outbound`], [`OnAnswer`]).
//!
//! These sit below the shared state (which holds each leg's sender) and the executor, so that
//! `state.rs`, `call.rs` and `outbound.rs` depend on them and never on each other backwards.

use url::Url;

use crate::audio::Sound;
use crate::call_status::{CallStatus, Direction, StatusCallback};
use crate::twiml::{ConferenceNoun, HttpMethod};
use crate::webhook::HookPurpose;

/// Messages to a call task.
#[derive(Debug)]
pub(crate) enum CallControl {
    /// DTMF from the far end reached the Twilio side.
    Dtmf(char),
    /// Far-end sound while the call is `<Gather>`ing speech or `<Record>`ing.
    Heard(Sound),
    /// The far end hung up.
    FarHangup,
    /// REST `Status=completed|canceled`, or the leg that dialled this one went away.
    Complete,
    /// REST `Url`/`Twiml` update.
    Redirect(TwimlSource),
    /// Removed from its conference (the conference ended or the participant was kicked).
    Kicked,
    /// Outbound: the far end answered.
    FarAnswered {
        machine: bool,
    },
    /// Outbound: the far end never answered.
    FarFailed(CallStatus),
    /// `<Dial><Number>`: the child leg answered / ended.
    ChildAnswered(String),
    ChildEnded(String, CallStatus),
}

/// Where the next TwiML document comes from.
#[derive(Debug, Clone)]
pub(crate) enum TwimlSource {
    Fetch {
        url: Url,
        method: HttpMethod,
        extra: Vec<(String, String)>,
        purpose: HookPurpose,
    },
    Inline(String),
}

/// What an outbound leg does once answered.
pub(crate) enum OnAnswer {
    /// Execute TwiML (REST `Url`/`Twiml`).
    Twiml(TwimlSource),
    /// Be bridged to the leg that `<Dial>`ed it.
    Bridge { parent: String },
    /// Join a conference directly (Participants API).
    Conference {
        conf_sid: String,
        noun: Box<ConferenceNoun>,
    },
}

pub(crate) struct Outbound {
    pub from: String,
    pub to: String,
    pub direction: Direction,
    pub parent: Option<String>,
    /// Seconds to ring before giving up (`no-answer`).
    pub timeout: u32,
    pub send_digits: Option<String>,
    pub machine_detection: bool,
    pub callback: Option<StatusCallback>,
    pub on_answer: OnAnswer,
    /// API-created calls wait for the account's pacing (one per second).
    pub paced: bool,
}
