//! `/demo/phone/...`: the far side of the wire. These endpoints drive the Twilio emulator the way
//! people with phones would: dial the line, press keys, speak, hang up, and set how the
//! responders' phones answer. They never touch denwa's internals: denwa only ever sees the
//! emulator's signed webhooks, exactly as it would see Twilio's.

use std::sync::Mutex;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use denwa_twilio_emulator::{Emulator, PhoneBehaviour};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::DemoState;

/// Call-seconds after answering at which an accepting phone presses 1: once the prompt
/// ("Call for ... from ... Press 1 to accept.") has been heard, as a person would.
const ACCEPT_AFTER_SECS: f64 = 8.0;

/// How a phone answers when the line calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// Answers, listens to the prompt, presses 1.
    Accept,
    /// Answers and listens, never presses anything.
    Answer,
    /// An answering machine: answers with a greeting and a beep (and must never get in).
    Voicemail,
    Busy,
    NoAnswer,
}

impl Behaviour {
    fn emulated(self) -> PhoneBehaviour {
        match self {
            Behaviour::Accept => PhoneBehaviour::AnswerAndPress {
                digits: "1".into(),
                after_secs: ACCEPT_AFTER_SECS,
            },
            Behaviour::Answer => PhoneBehaviour::Answer,
            Behaviour::Voicemail => PhoneBehaviour::Voicemail,
            Behaviour::Busy => PhoneBehaviour::Busy,
            Behaviour::NoAnswer => PhoneBehaviour::NoAnswer,
        }
    }
}

/// A phone on the emulator's side, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phone {
    pub name: String,
    pub number: String,
    pub behaviour: Behaviour,
    /// In the line's `[[line.responders]]`: rung when a call comes in.
    pub responder: bool,
}

/// The phones the demo set up or the console added, in the order they were added.
pub struct Phones {
    emulator: Emulator,
    phones: Mutex<Vec<Phone>>,
}

impl Phones {
    pub fn new(emulator: Emulator) -> Phones {
        Phones {
            emulator,
            phones: Mutex::new(Vec::new()),
        }
    }

    /// Adds `phone` to the emulator, or changes how it answers.
    pub fn set(&self, phone: Phone) {
        self.emulator
            .add_phone(&phone.number, phone.behaviour.emulated());
        let mut phones = self.phones.lock().unwrap();
        match phones.iter_mut().find(|p| p.number == phone.number) {
            Some(known) => {
                known.behaviour = phone.behaviour;
                if !phone.name.is_empty() {
                    known.name = phone.name;
                }
            }
            None => phones.push(phone),
        }
    }

    pub fn list(&self) -> Vec<Phone> {
        self.phones.lock().unwrap().clone()
    }
}

pub fn routes() -> Router<DemoState> {
    Router::new()
        .route("/demo/phone/dial", post(dial))
        .route("/demo/phone/calls", get(calls))
        .route("/demo/phone/calls/{sid}/hangup", post(hangup))
        .route("/demo/phone/calls/{sid}/press", post(press))
        .route("/demo/phone/calls/{sid}/speak", post(speak))
        .route("/demo/phone/phones", get(phones))
        .route("/demo/phone/phones/{number}", put(set_phone))
}

fn refused(message: impl Into<String>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "message": message.into() })),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct Dial {
    from: String,
    /// Which line to call (its number); the default line's when absent.
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    caller_name: Option<String>,
}

/// Someone dials the line from `from` (any number: it is a pretend phone).
async fn dial(State(state): State<DemoState>, Json(body): Json<Dial>) -> Response {
    let name = body.caller_name.as_deref().filter(|n| !n.trim().is_empty());
    let to = body.to.as_deref().unwrap_or(&state.line);
    if !state.lines.iter().any(|(number, _)| number == to) {
        return refused("that is not one of the demo's lines");
    }
    match state.emulator.place_call(&body.from, to, name).await {
        Ok(call_sid) => {
            (StatusCode::CREATED, Json(json!({ "call_sid": call_sid }))).into_response()
        }
        Err(e) => refused(e.message),
    }
}

/// The emulator's view of every call leg and conference (the phone company's, not denwa's).
async fn calls(State(state): State<DemoState>) -> Json<serde_json::Value> {
    Json(json!({
        "calls": state.emulator.calls(),
        "conferences": state.emulator.conferences(),
    }))
}

async fn hangup(State(state): State<DemoState>, Path(sid): Path<String>) -> StatusCode {
    state.emulator.hangup(&sid).await;
    StatusCode::ACCEPTED
}

#[derive(Debug, Deserialize)]
struct Press {
    digits: String,
}

async fn press(
    State(state): State<DemoState>,
    Path(sid): Path<String>,
    Json(body): Json<Press>,
) -> Response {
    let valid = |c: char| c.is_ascii_digit() || matches!(c, '*' | '#' | 'w');
    if body.digits.is_empty() || body.digits.len() > 32 || !body.digits.chars().all(valid) {
        return refused("digits are 0-9, * and #");
    }
    // Keys take call time to send; the console need not wait for them.
    let emulator = state.emulator.clone();
    tokio::spawn(async move { emulator.press(&sid, &body.digits).await });
    StatusCode::ACCEPTED.into_response()
}

#[derive(Debug, Deserialize)]
struct Speak {
    text: String,
}

/// The person on the phone says something (heard by whoever the call's sound reaches).
async fn speak(
    State(state): State<DemoState>,
    Path(sid): Path<String>,
    Json(body): Json<Speak>,
) -> Response {
    if body.text.trim().is_empty() || body.text.chars().count() > 1000 {
        return refused("say something (at most 1000 characters)");
    }
    let emulator = state.emulator.clone();
    tokio::spawn(async move { emulator.speak(&sid, &body.text).await });
    StatusCode::ACCEPTED.into_response()
}

async fn phones(State(state): State<DemoState>) -> Json<Vec<Phone>> {
    Json(state.phones.list())
}

#[derive(Debug, Deserialize)]
struct SetPhone {
    #[serde(default)]
    name: String,
    behaviour: Behaviour,
}

/// Adds a phone (someone the line can call from the API) or changes how one answers.
async fn set_phone(
    State(state): State<DemoState>,
    Path(number): Path<String>,
    Json(body): Json<SetPhone>,
) -> Response {
    let digits = number.strip_prefix('+').unwrap_or_default();
    let e164 = (2..=15).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit());
    if !e164 {
        return refused("a phone number in E.164 form, like +14155550199");
    }
    if state.lines.iter().any(|(line, _)| *line == *number) {
        return refused("that is the line's own number");
    }
    let responder = state
        .phones
        .list()
        .iter()
        .any(|p| p.number == number && p.responder);
    let name = body.name.trim().chars().take(40).collect();
    state.phones.set(Phone {
        name,
        number,
        behaviour: body.behaviour,
        responder,
    });
    Json(state.phones.list()).into_response()
}
