//! A local, strict emulator of Twilio Programmable Voice, for testing an application end to end
//! without Twilio.
//!
//! It serves Twilio's REST API (`/2010-04-01/Accounts/{AccountSid}/...`: Calls, Conferences,
//! Participants, IncomingPhoneNumbers) on `127.0.0.1`, calls the application's webhooks exactly
//! as Twilio does (form POSTs signed with `X-Twilio-Signature`, Twilio's headers and parameters),
//! executes the TwiML it gets back, and emulates the phones at the far end of every call, so a
//! test can place a call, press keys, speak, hang up, and then check what every party *heard*.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use denwa_twilio_emulator::{Emulator, EmulatorConfig, Heard};
//! use std::time::Duration;
//!
//! let em = Emulator::start(EmulatorConfig::default()).await?;
//! em.add_number("+15005550006", "http://127.0.0.1:8080/twilio/voice", None);
//! // Point the application's Twilio client at em.base_url(), with em.account_sid()/auth_token().
//! let call = em.place_call("+14155550100", "+15005550006", None).await.unwrap();
//! em.wait_until(Duration::from_secs(5), |em| !em.transcript(&call).is_empty()).await;
//! assert!(matches!(&em.transcript(&call)[0], Heard::Say { complete: true, .. }));
//! assert!(em.errors().is_empty());
//! # Ok(()) }
//! ```
//!
//! # The audio model
//!
//! Every call leg has a *Twilio side*, which executes TwiML, and a *far end*: an emulated phone,
//! or, when the call went to a number the account owns, the Twilio side of the other leg. Sound
//! flows as on a real line:
//!
//! * A `<Say>` on call X is heard by X's far end. If that far end is another leg Y (the
//!   "self-dial" case), the sound *enters* Y: if Y is in a started conference and not muted or on
//!   hold, every other participant's far end hears it; if Y is in `<Record>` it is recorded; if Y is
//!   in `<Gather input="speech">` it is recognised; otherwise nobody hears it.
//! * Speech is timed. A text is cut into tokens (whitespace-separated words; each CJK character
//!   is a token) of [`TOKEN_SECS`] call-seconds each, and every token reaches whoever is listening
//!   *at that moment*. [`Heard::Say::text`](Heard::Say) is the exact substring covering the tokens
//!   heard: byte for byte the original for a listener present throughout, a suffix marked
//!   `complete: false` for one who joined late. This is what makes "speaking before the second leg
//!   is in the conference loses words" observable.
//! * In a conference, participants hear each other's far end (never their own), muted
//!   participants are not heard, participants on hold hear hold music and nobody, and before the
//!   conference starts everyone hears the wait music ([`Heard::Play`] with [`DEFAULT_HOLD_MUSIC`],
//!   or the `waitUrl` document, then silence; `waitUrl=""` is silence) and nobody else. A
//!   conference starts only when a participant with `startConferenceOnEnter=true` joins someone
//!   already in it (emulator/README.md says why).
//! * DTMF: `SendDigits` on an outbound call is played after answer (`w` = 0.5 s, `W` = 1 s, each
//!   digit 0.1 s), concurrently with the leg's TwiML; for a self-dial it reaches the inbound
//!   leg's `<Gather>`. Digits arriving when no `<Gather>`/`<Record>` listens are lost, and so is
//!   any digit a test asks the line to lose ([`Emulator::lose_digit`]).
//!
//! # Time
//!
//! Calls run on *call time*, scaled by [`EmulatorConfig::time_scale`] (real seconds per
//! call-second, default 0.02: a 5 s `<Gather>` timeout takes 100 ms). Durations: a token 0.3 s, a
//! `<Play>` 1 s per loop, `<Pause>` its length, outbound ringing [`RING_SECS`] before an answering
//! phone picks up, `Timeout`/`<Dial timeout>` for no-answer. Webhook HTTP requests are real-time
//! (deadline [`WEBHOOK_TIMEOUT`], 15 s like Twilio).
//!
//! # Callbacks
//!
//! Status callbacks, conference events, recording status callbacks and transcriptions are each
//! sent in a request of their own, so they may arrive in any order (as at Twilio). With
//! [`Emulator::chaos_callbacks`] and a seeded [`CallbackChaos`] they are also late, overtake each
//! other and arrive twice, as Twilio's may; TwiML fetches never are.
//!
//! # Real-time transcriptions
//!
//! `<Start><Transcription>` (or `POST .../Calls/{CallSid}/Transcriptions.json`) taps a call's
//! line: `inbound_track` hears what its far end says ([`Emulator::speak`]), `outbound_track` what
//! the far end hears. Each utterance (up to a sentence's end, or the end of what was said) is
//! posted to `statusCallbackUrl` as a `transcription-content` event with `Final=true`, after
//! partial results when `partialResults` is on; `transcription-started` and
//! `transcription-stopped` (at `<Stop>`, the REST update, or the call's end) frame them, and
//! [`Emulator::fail_transcription`] injects a `transcription-error`. Every event is a callback,
//! numbered by `SequenceId`. [`Emulator::realtime_transcriptions`] lists them all.
//!
//! # Strictness
//!
//! REST requests are authenticated (HTTP Basic `AccountSid:AuthToken`, 401/20003 otherwise) and
//! validated (missing or malformed `To`/`From`/`Url`... give Twilio's error codes). TwiML is parsed
//! strictly (unknown verbs or attributes, bad values, malformed XML: 12100/12200). A webhook that
//! answers non-2xx, times out, or returns something that is not TwiML is logged (11200, 11205,
//! 12100, 12200, 12300) and the caller hears [`APPLICATION_ERROR_MESSAGE`] before the call ends.
//! `<Say>` text over Twilio's limits is never spoken (13521). Every such problem is in
//! [`Emulator::errors`]; a test of a well-behaved application asserts it is empty.
//!
//! Numbers not registered with [`Emulator::add_phone`] answer calls ([`PhoneBehaviour::Answer`]).
//!
//! Twilio failing: [`Emulator::fail_rest`] makes chosen REST requests answer 429, 500 or 503, or
//! not at all ([`FaultPlan`], [`RestFault`]), as Twilio's error pages describe.
//!
//! The parser is public ([`twiml::parse`]) so an application's TwiML writer can be checked
//! against it directly, and so is the signing code ([`signature`]) for test stand-ins that must
//! verify webhooks.
//!
//! # What the emulator leaves out
//!
//! No media: `<Play>` URLs are never fetched (each loop lasts [`PLAY_SECS`]), recordings hold
//! only what was said. Not executed (refused with 12200 rather than skipped): `<Connect>`,
//! `<Enqueue>`, `<Queue>`, `<Pay>`, `<Sip>`, `<Sim>`, `<Start>`/`<Stop>` of anything but
//! `<Transcription>`, simultaneous
//! `<Dial>` of several nouns, `<Number url>` whispers. Not emulated: fallback URLs,
//! `ApplicationSid`, conference coaching, `participant-speech-*` events, recording status
//! callbacks of conferences, caller geography parameters (`CallerCity`...), list paging beyond
//! one page, DTMF buffering (keys pressed when no `<Gather>` listens are lost), a participant's
//! `HoldUrl`, `WaitUrl` and `Coaching` updates (ignored), an empty `<Redirect/>` looping a wait
//! document (refused: give its URL), `<Record trim>` (silence counts toward a recording's length,
//! and so toward what Twilio will transcribe).
//!
//! # Layout
//!
//! `lib.rs` (this API), `rest.rs` (REST server) + `faults.rs` (its fault plans), `twiml.rs`
//! (strict parser), `call_status.rs` (a call's direction, status and status callback),
//! `control.rs` (what a leg's task is told: `CallControl`, where its TwiML comes from,
//! a leg to place), `state.rs` (shared state and sound routing), `call.rs` (TwiML executor:
//! `CallRun`), `outbound.rs` (placing calls, phones), `conference.rs`, `dtmf.rs` (keys,
//! pauses, lost digits), `participant_label.rs` (the labels Twilio accepts), `audio.rs` (tokens
//! and transcripts), `webhook.rs` + `signature.rs` (requests to the application), `chaos.rs`
//! (callbacks late, out of order, twice), `recording.rs`, `clock.rs`, `error.rs`, `events.rs`,
//! `phone.rs`; real-time transcriptions: `realtime_transcription.rs` (the settings, from TwiML
//! or REST), `live_transcription.rs` (running ones: utterances and events, fed by `state.rs`'s
//! sound routing), `rest_transcriptions.rs` (the REST resource).
//!
//! Imports go one way: `call_status` <- `control` <- `state` <- `call` <- `outbound`,
//! `conference`, `rest`. A call can dial a call (`<Dial><Number>`), so running TwiML and placing
//! calls recurse; the executor asks for a leg through [`Emulator`]'s crate-wide methods with a
//! `Outbound`, and never imports `outbound.rs`.

mod audio;
mod call;
mod call_status;
mod chaos;
mod clock;
mod conference;
mod control;
mod dtmf;
mod error;
mod events;
mod faults;
mod live_transcription;
mod outbound;
mod participant_label;
mod phone;
mod realtime_transcription;
mod recording;
mod rest;
mod rest_transcriptions;
pub mod signature;
mod state;
pub mod twiml;
mod webhook;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

pub use audio::{DEFAULT_HOLD_MUSIC, Heard, PLAY_SECS, TOKEN_SECS};
pub use call::APPLICATION_ERROR_MESSAGE;
pub use chaos::{CallbackChaos, Deliveries};
pub use error::EmulatorError;
pub use events::{CallEvent, CallEventKind, EmulatorEvent};
pub use faults::{FaultPlan, RestFault};
pub use live_transcription::TRANSCRIPTION_CONFIDENCE;
pub use phone::{PhoneBehaviour, RING_SECS, VOICEMAIL_GREETING};
pub use realtime_transcription::{TranscriptionEngine, TranscriptionSettings, TranscriptionTrack};
pub use signature::sign;

use clock::Clock;
use state::{Activity, FarEnd, OwnedNumber, State};
use twiml::HttpMethod;

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The account's SID (`AC` + 32 hex digits); REST paths must use it.
    pub account_sid: String,
    /// Signs webhooks and authenticates REST requests.
    pub auth_token: String,
    /// Real seconds per call-second (default 0.02).
    pub time_scale: f64,
}

/// How long a webhook may take to answer, in real time, as at Twilio.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            account_sid: "AC00000000000000000000000000000000".into(),
            auth_token: "emulator-auth-token".into(),
            time_scale: 0.02,
        }
    }
}

/// A running emulator. Cheap to clone (all clones share one emulator).
#[derive(Clone)]
pub struct Emulator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub cfg: EmulatorConfig,
    pub clock: Clock,
    pub state: Mutex<State>,
    pub http: reqwest::Client,
    pub base_url: String,
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
    pub tx: broadcast::Sender<EmulatorEvent>,
    /// Fault injection: the REST API's planned misbehaviour.
    pub faults: Mutex<faults::Faults>,
    /// The latest REST requests, at most [`REST_LOG_LEN`].
    pub rest_log: Mutex<VecDeque<RestRequest>>,
    /// How callbacks are delivered (see [`Emulator::chaos_callbacks`]); `None`: once, at once.
    pub chaos: Mutex<Option<CallbackChaos>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

/// A call, as [`Emulator::calls`] reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallSnapshot {
    pub sid: String,
    pub from: String,
    pub to: String,
    /// `inbound`, `outbound-api` or `outbound-dial`.
    pub direction: String,
    pub status: String,
    pub parent_call_sid: Option<String>,
    /// The conference the call is in right now.
    pub conference_sid: Option<String>,
    pub caller_name: Option<String>,
    /// `human`/`machine_start`, only when `MachineDetection` was requested.
    pub answered_by: Option<String>,
    /// The other leg, when this call reached a number the account owns (or came from one).
    pub far_end_call: Option<String>,
    /// The emulated phone at the far end, otherwise.
    pub far_end_phone: Option<String>,
    pub date_created: SystemTime,
    pub start_time: Option<SystemTime>,
    pub end_time: Option<SystemTime>,
    /// Seconds from answer to end (call time), once ended.
    pub duration: Option<u64>,
}

/// A conference participant.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParticipantSnapshot {
    pub call_sid: String,
    pub label: Option<String>,
    pub muted: bool,
    pub hold: bool,
    pub start_conference_on_enter: bool,
    pub end_conference_on_exit: bool,
}

/// A conference, as [`Emulator::conferences`] reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConferenceSnapshot {
    pub sid: String,
    pub friendly_name: String,
    /// `init`, `in-progress` or `completed`.
    pub status: String,
    pub participants: Vec<ParticipantSnapshot>,
    pub date_created: SystemTime,
    pub reason_conference_ended: Option<String>,
    pub call_sid_ending_conference: Option<String>,
}

/// An IncomingPhoneNumber, as [`Emulator::number`] reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NumberSnapshot {
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: String,
    pub voice_url: String,
    /// `GET` or `POST`.
    pub voice_method: String,
    pub status_callback: Option<String>,
    pub status_callback_method: String,
}

/// A recording made by `<Record>` or a recorded conference.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordingSnapshot {
    pub sid: String,
    pub call_sid: Option<String>,
    pub conference_sid: Option<String>,
    pub duration: u64,
    /// What was said while recording (the transcription text).
    pub transcript: String,
}

/// A real-time transcription (`<Start><Transcription>` or the Calls Transcriptions resource), as
/// [`Emulator::realtime_transcriptions`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct RealtimeTranscriptionSnapshot {
    /// `GT...`
    pub sid: String,
    pub call_sid: String,
    /// `in-progress` or `stopped`.
    pub status: String,
    pub settings: TranscriptionSettings,
    /// The absolute URL events go to, if any.
    pub status_callback_url: Option<String>,
}

/// A request to the REST API and the status it got, as [`Emulator::rest_requests`] reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RestRequest {
    pub at: SystemTime,
    pub method: String,
    /// The path, e.g. `/2010-04-01/Accounts/AC.../Calls/CA....json`.
    pub path: String,
    /// The form parameters of the body, in order.
    pub params: Vec<(String, String)>,
    /// The HTTP status answered; 0 for a request held unanswered ([`RestFault::NoAnswer`]).
    pub status: u16,
}

/// How many REST requests the emulator remembers (the oldest are forgotten first): `denwa demo`
/// runs an emulator for hours.
pub const REST_LOG_LEN: usize = 4096;

impl Emulator {
    /// Starts the emulator on a free port of 127.0.0.1 and serves the REST API.
    pub async fn start(cfg: EmulatorConfig) -> std::io::Result<Emulator> {
        Self::start_on(cfg, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the emulator listening on `addr` (for a demo that needs a known port).
    pub async fn start_on(cfg: EmulatorConfig, addr: SocketAddr) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let (hook_tx, hook_rx) = mpsc::unbounded_channel();
        let (tx, _) = broadcast::channel(4096);
        let clock = Clock::new(cfg.time_scale);
        let state = State::new(
            clock.clone(),
            cfg.account_sid.clone(),
            base_url.clone(),
            tx.clone(),
            hook_tx,
        );
        let inner = Arc::new(Inner {
            http: webhook::client(WEBHOOK_TIMEOUT),
            cfg,
            clock,
            state: Mutex::new(state),
            base_url,
            tasks: Mutex::new(Vec::new()),
            tx,
            faults: Mutex::new(faults::Faults::default()),
            rest_log: Mutex::new(VecDeque::new()),
            chaos: Mutex::new(None),
        });
        let emulator = Emulator { inner };
        let dispatcher = emulator.spawn_dispatcher(hook_rx);
        let app = rest::router(emulator.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("emulator REST server stopped: {e}");
            }
        });
        emulator
            .inner
            .tasks
            .lock()
            .unwrap()
            .extend([dispatcher, server]);
        Ok(emulator)
    }

    /// Remembers a call task so that [`Emulator::shutdown`] can stop it.
    pub(crate) fn track(&self, handle: JoinHandle<()>) {
        let mut tasks = self.inner.tasks.lock().unwrap();
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    /// Stops the REST server and every call task.
    pub fn shutdown(&self) {
        for t in self.inner.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// `http://127.0.0.1:PORT`; the REST API is under `/2010-04-01/...` (use it as Twilio's API
    /// base URL).
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    pub fn account_sid(&self) -> &str {
        &self.inner.cfg.account_sid
    }

    pub fn auth_token(&self) -> &str {
        &self.inner.cfg.auth_token
    }

    /// The real duration of `secs` call-seconds.
    pub fn call_secs(&self, secs: f64) -> Duration {
        self.inner.clock.dur(secs)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap()
    }

    /// Gives the account an IncomingPhoneNumber whose voice webhook is `voice_url` (POST) and whose
    /// status callback (end of inbound calls) is `status_callback`. Returns its `PN` SID.
    /// Re-adding a number replaces its configuration.
    pub fn add_number(&self, e164: &str, voice_url: &str, status_callback: Option<&str>) -> String {
        let mut st = self.state();
        let now = SystemTime::now();
        if let Some(n) = st.numbers.iter_mut().find(|n| n.phone_number == e164) {
            n.voice_url = voice_url.to_string();
            n.status_callback = status_callback.map(str::to_string);
            n.date_updated = now;
            return n.sid.clone();
        }
        let sid = clock::new_sid("PN");
        st.numbers.push(OwnedNumber {
            sid: sid.clone(),
            phone_number: e164.to_string(),
            friendly_name: e164.to_string(),
            voice_url: voice_url.to_string(),
            voice_method: HttpMethod::Post,
            status_callback: status_callback.map(str::to_string),
            status_callback_method: HttpMethod::Post,
            date_created: now,
            date_updated: now,
        });
        sid
    }

    /// The configuration of an owned number (as the IncomingPhoneNumbers API may have changed it).
    pub fn number(&self, e164: &str) -> Option<NumberSnapshot> {
        self.state().number(e164).map(|n| NumberSnapshot {
            sid: n.sid.clone(),
            phone_number: n.phone_number.clone(),
            friendly_name: n.friendly_name.clone(),
            voice_url: n.voice_url.clone(),
            voice_method: n.voice_method.as_str().into(),
            status_callback: n.status_callback.clone(),
            status_callback_method: n.status_callback_method.as_str().into(),
        })
    }

    /// Registers how an external phone (a number the account does not own, or `client:name`)
    /// behaves when called.
    pub fn add_phone(&self, e164: &str, behaviour: PhoneBehaviour) {
        self.state().phones.insert(e164.to_string(), behaviour);
    }

    /// An external phone `from` (any number: it may be spoofed, even equal to `to`) calls the
    /// owned number `to`. Returns the inbound call's SID at once; the voice webhook runs in the
    /// background. `caller_name` is sent as `CallerName` (as with caller-name lookup).
    pub async fn place_call(
        &self,
        from: &str,
        to: &str,
        caller_name: Option<&str>,
    ) -> Result<String, EmulatorError> {
        if !(phone::is_dialable(from) || from == "anonymous") {
            return Err(EmulatorError::new(
                21212,
                format!("invalid caller {from:?}"),
            ));
        }
        if self.state().number(to).is_none() {
            return Err(EmulatorError::new(
                21211,
                format!("{to} is not a number of account {}", self.account_sid()),
            ));
        }
        Ok(self.start_inbound(from, to, FarEnd::Phone(from.to_string()), caller_name))
    }

    /// The far end of `call_sid` hangs up.
    pub async fn hangup(&self, call_sid: &str) {
        let mut st = self.state();
        if st.calls.get(call_sid).is_none_or(|c| c.status.is_final()) {
            return;
        }
        if let Some(c) = st.calls.get_mut(call_sid) {
            c.far_gone = true;
        }
        st.call_event(call_sid, CallEventKind::FarEndHungUp);
        st.send_control(call_sid, control::CallControl::FarHangup);
    }

    /// The far end of `call_sid` presses `digits` (0.1 call-seconds each; `w` waits 0.5, `W`
    /// 1). Returns when the last key has been sent.
    pub async fn press(&self, call_sid: &str, digits: &str) {
        self.far_end_press(call_sid, digits).await;
    }

    /// Fault injection: the line loses a DTMF digit, the one after the next `after` digits that
    /// reach any call's Twilio side (pressed by a phone, or sent by another leg's `SendDigits`
    /// or `<Play digits>`). The call's log shows it as [`CallEventKind::DtmfLost`].
    pub fn lose_digit(&self, after: u64) {
        self.state().digit_loss.plan(after);
    }

    /// The far end of `call_sid` says `text`, token by token, into the call: heard by whoever its
    /// Twilio side forwards sound to at each moment (conference, recording, speech gather).
    /// Returns when the last token has been spoken.
    pub async fn speak(&self, call_sid: &str, text: &str) {
        let speaker = {
            let st = self.state();
            match st
                .calls
                .get(call_sid)
                .map(|c| (&c.far, c.direction, &c.from, &c.to))
            {
                Some((FarEnd::Phone(p), ..)) => p.clone(),
                Some((_, call_status::Direction::Inbound, from, _)) => from.clone(),
                Some((_, _, _, to)) => to.clone(),
                None => return,
            }
        };
        self.far_end_speak(call_sid, &speaker, text).await;
    }

    /// What the far end of `call_sid` heard, in order.
    pub fn transcript(&self, call_sid: &str) -> Vec<Heard> {
        self.state()
            .calls
            .get(call_sid)
            .map(|c| c.transcript.entries.clone())
            .unwrap_or_default()
    }

    /// The `text` of every [`Heard::Say`] and [`Heard::Speech`] in the transcript of `call_sid`.
    pub fn heard_texts(&self, call_sid: &str) -> Vec<String> {
        self.transcript(call_sid)
            .iter()
            .filter_map(|h| h.text().map(str::to_string))
            .collect()
    }

    /// The log of `call_sid`: status changes, requests and answers, verbs, DTMF, conference
    /// joins and leaves, errors.
    pub fn events(&self, call_sid: &str) -> Vec<CallEvent> {
        self.state()
            .calls
            .get(call_sid)
            .map(|c| c.events.clone())
            .unwrap_or_default()
    }

    /// Every call, oldest first.
    pub fn calls(&self) -> Vec<CallSnapshot> {
        let st = self.state();
        st.call_order
            .iter()
            .filter_map(|sid| snapshot_call(&st, sid))
            .collect()
    }

    pub fn call(&self, sid: &str) -> Option<CallSnapshot> {
        snapshot_call(&self.state(), sid)
    }

    /// Every conference, oldest first.
    pub fn conferences(&self) -> Vec<ConferenceSnapshot> {
        let st = self.state();
        st.conf_order
            .iter()
            .filter_map(|sid| snapshot_conf(&st, sid))
            .collect()
    }

    /// A conference by SID, or the most recent one with that friendly name.
    pub fn conference(&self, sid_or_name: &str) -> Option<ConferenceSnapshot> {
        let st = self.state();
        if let Some(c) = snapshot_conf(&st, sid_or_name) {
            return Some(c);
        }
        st.conf_order
            .iter()
            .rev()
            .find(|s| st.confs[*s].friendly_name == sid_or_name)
            .and_then(|s| snapshot_conf(&st, s))
    }

    pub fn recordings(&self) -> Vec<RecordingSnapshot> {
        let st = self.state();
        let mut v: Vec<_> = st
            .recordings
            .values()
            .map(|r| RecordingSnapshot {
                sid: r.sid.clone(),
                call_sid: r.call_sid.clone(),
                conference_sid: r.conference_sid.clone(),
                duration: r.duration,
                transcript: r.transcript.clone(),
            })
            .collect();
        v.sort_by(|a, b| a.sid.cmp(&b.sid));
        v
    }

    /// Every real-time transcription started so far, oldest first.
    pub fn realtime_transcriptions(&self) -> Vec<RealtimeTranscriptionSnapshot> {
        self.state()
            .transcriptions
            .all()
            .map(|t| RealtimeTranscriptionSnapshot {
                sid: t.sid.clone(),
                call_sid: t.call_sid.clone(),
                status: t.status.as_str().into(),
                settings: t.settings.clone(),
                status_callback_url: t.callback.as_ref().map(|(url, _)| url.clone()),
            })
            .collect()
    }

    /// Fault injection: the speech-to-text engine of every running real-time transcription of
    /// `call_sid` fails: each posts `transcription-error` (`TranscriptionError` = `reason`), then
    /// `transcription-stopped`. The call goes on.
    pub fn fail_transcription(&self, call_sid: &str, reason: &str) {
        let mut st = self.state();
        let jobs = st.transcriptions.fail(call_sid, reason);
        st.send_hooks(jobs);
    }

    /// Fault injection: every REST request from now on waits `delay` (real time) before it is
    /// handled, as during a slow moment at Twilio's edge. A client that gives up meanwhile gets
    /// nothing done (the request is dropped with its connection). `Duration::ZERO` ends it.
    pub fn delay_rest(&self, delay: Duration) {
        self.inner.faults.lock().unwrap().set_delay(delay);
    }

    /// Fault injection: the REST requests `plan` picks get its fault (429, 500, 503, no answer,
    /// a delay) instead of their normal answer, from now on. Plans add up; the first one made
    /// that picks a request decides its fault (delays add to it).
    pub fn fail_rest(&self, plan: FaultPlan) {
        self.inner.faults.lock().unwrap().add(plan);
    }

    /// Ends every fault plan (delays included): Twilio has recovered.
    pub fn clear_rest_faults(&self) {
        self.inner.faults.lock().unwrap().clear();
    }

    /// The latest REST requests (at most [`REST_LOG_LEN`]), oldest first: what the application
    /// asked Twilio, including what Twilio refused.
    pub fn rest_requests(&self) -> Vec<RestRequest> {
        self.inner
            .rest_log
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect()
    }

    /// Every error and strictness violation so far.
    pub fn errors(&self) -> Vec<EmulatorError> {
        self.state().errors.clone()
    }

    /// The live event feed.
    pub fn subscribe(&self) -> broadcast::Receiver<EmulatorEvent> {
        self.inner.tx.subscribe()
    }

    /// Polls `f` every few milliseconds until it holds (true) or `timeout` passes (false).
    pub async fn wait_until<F: Fn(&Emulator) -> bool>(&self, timeout: Duration, f: F) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if f(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn snapshot_call(st: &State, sid: &str) -> Option<CallSnapshot> {
    let c = st.calls.get(sid)?;
    Some(CallSnapshot {
        sid: c.sid.clone(),
        from: c.from.clone(),
        to: c.to.clone(),
        direction: c.direction.as_str().into(),
        status: c.status.as_str().into(),
        parent_call_sid: c.parent.clone(),
        conference_sid: match &c.activity {
            Activity::Conference(s) => Some(s.clone()),
            _ => None,
        },
        caller_name: c.caller_name.clone(),
        answered_by: c.answered_by.clone(),
        far_end_call: match &c.far {
            FarEnd::Leg(l) => Some(l.clone()),
            _ => None,
        },
        far_end_phone: match &c.far {
            FarEnd::Phone(p) => Some(p.clone()),
            _ => None,
        },
        date_created: c.date_created,
        start_time: c.start_time,
        end_time: c.end_time,
        duration: c.duration,
    })
}

fn snapshot_conf(st: &State, sid: &str) -> Option<ConferenceSnapshot> {
    let c = st.confs.get(sid)?;
    Some(ConferenceSnapshot {
        sid: c.sid.clone(),
        friendly_name: c.friendly_name.clone(),
        status: c.status.as_str().into(),
        participants: c
            .participants
            .iter()
            .map(|p| ParticipantSnapshot {
                call_sid: p.call_sid.clone(),
                label: p.label.clone(),
                muted: p.muted,
                hold: p.hold,
                start_conference_on_enter: p.start_on_enter,
                end_conference_on_exit: p.end_on_exit,
            })
            .collect(),
        date_created: c.date_created,
        reason_conference_ended: c.reason_ended.clone(),
        call_sid_ending_conference: c.call_sid_ending.clone(),
    })
}
