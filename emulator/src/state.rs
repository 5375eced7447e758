//! The emulator's shared state and the synchronous operations on it: call records, status
//! changes and their callbacks, and sound routing.
//!
//! Everything here runs under one `std::sync::Mutex` and never awaits: a token of speech must
//! reach every listener *at one instant*, which is easiest to guarantee when routing is a plain
//! function over a consistent snapshot of who is where. Async work (webhooks, timers) happens in
//! the call tasks (`call.rs`) and the webhook dispatcher (`webhook.rs`), outside the lock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{broadcast, mpsc};

use crate::audio::{Sound, Transcript, Utterance, Voice};
use crate::call_status::{CallStatus, Direction, StatusCallback};
use crate::clock::{Clock, new_sid};
use crate::control::CallControl;
use crate::error::EmulatorError;
use crate::events::{CallEvent, CallEventKind, EmulatorEvent};
use crate::live_transcription::{Side, Transcriptions};
use crate::phone::PhoneBehaviour;
use crate::twiml::HttpMethod;
use crate::webhook::{HookJob, HookPurpose};

/// An IncomingPhoneNumber the account owns.
#[derive(Debug, Clone)]
pub(crate) struct OwnedNumber {
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: String,
    pub voice_url: String,
    pub voice_method: HttpMethod,
    pub status_callback: Option<String>,
    pub status_callback_method: HttpMethod,
    pub date_created: SystemTime,
    pub date_updated: SystemTime,
}

/// What a call's far end is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FarEnd {
    /// An emulated phone (external number or `client:` identity).
    Phone(String),
    /// The Twilio side of another leg: the call went to a number this account owns.
    Leg(String),
}

/// What a call's Twilio side is doing with the sound arriving from its far end.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Activity {
    /// Playing, pausing, fetching: incoming sound is heard by no one.
    Idle,
    /// `<Gather>` or `<Record>`: incoming sound is forwarded to the call task (speech recognition,
    /// recording).
    Listening,
    Conference(String),
    Bridged(String),
}

pub(crate) struct CallRecord {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub direction: Direction,
    pub status: CallStatus,
    pub parent: Option<String>,
    pub caller_name: Option<String>,
    pub far: FarEnd,
    pub phone_number_sid: Option<String>,
    pub date_created: SystemTime,
    pub date_updated: SystemTime,
    pub start_time: Option<SystemTime>,
    pub end_time: Option<SystemTime>,
    /// Call-clock time of answer, for durations.
    pub answered_at: Option<f64>,
    pub duration: Option<u64>,
    pub answered_by: Option<String>,
    pub callback: Option<StatusCallback>,
    pub callback_seq: u32,
    pub activity: Activity,
    /// Set the instant the far end hangs up, before the call task has processed it, so no more
    /// sound crosses the line.
    pub far_gone: bool,
    pub control: Option<mpsc::UnboundedSender<CallControl>>,
    pub transcript: Transcript,
    pub events: Vec<CallEvent>,
}

#[derive(Clone)]
pub(crate) struct ParticipantRecord {
    pub call_sid: String,
    pub label: Option<String>,
    pub muted: bool,
    pub hold: bool,
    pub start_on_enter: bool,
    pub end_on_exit: bool,
    pub beep: crate::twiml::Beep,
    pub date_created: SystemTime,
    pub date_updated: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConferenceStatus {
    Init,
    InProgress,
    Completed,
}

impl ConferenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConferenceStatus::Init => "init",
            ConferenceStatus::InProgress => "in-progress",
            ConferenceStatus::Completed => "completed",
        }
    }
}

pub(crate) struct ConferenceCallback {
    pub url: String,
    pub method: HttpMethod,
    pub groups: Vec<String>,
}

pub(crate) struct ConferenceRecord {
    pub sid: String,
    pub friendly_name: String,
    pub status: ConferenceStatus,
    pub date_created: SystemTime,
    pub date_updated: SystemTime,
    pub participants: Vec<ParticipantRecord>,
    /// Set by the first participant; governs the whole conference.
    pub callback: Option<ConferenceCallback>,
    /// Whether the first participant's TwiML/API request has been seen (the callback decision is
    /// made once, even when that participant set no callback).
    pub configured: bool,
    pub seq: u32,
    pub max_participants: u32,
    pub reason_ended: Option<String>,
    pub call_sid_ending: Option<String>,
    pub record: bool,
    pub recording: Transcript,
    /// Participants dialled through the Participants API that have not joined yet: Twilio lists
    /// them (status `queued`, `connecting`, `ringing`) and reports their leaving if they never do.
    pub pending: Vec<ParticipantRecord>,
}

pub(crate) struct RecordingRecord {
    pub sid: String,
    pub call_sid: Option<String>,
    pub conference_sid: Option<String>,
    pub duration: u64,
    pub transcript: String,
    pub date_created: SystemTime,
    pub source: &'static str,
}

pub(crate) struct State {
    pub clock: Clock,
    pub account_sid: String,
    pub base_url: String,
    pub tx: broadcast::Sender<EmulatorEvent>,
    pub hooks: mpsc::UnboundedSender<HookJob>,
    pub numbers: Vec<OwnedNumber>,
    pub phones: HashMap<String, PhoneBehaviour>,
    pub calls: HashMap<String, CallRecord>,
    pub call_order: Vec<String>,
    pub confs: HashMap<String, ConferenceRecord>,
    pub conf_order: Vec<String>,
    pub recordings: HashMap<String, RecordingRecord>,
    pub errors: Vec<EmulatorError>,
    /// Call-clock time before which the next API-created call may not leave `queued` (Twilio paces
    /// outbound calls at one per second per account).
    pub next_dequeue: f64,
    next_utt: u64,
    /// Digits a test asked the line to lose ([`crate::Emulator::lose_digit`]).
    pub digit_loss: crate::dtmf::DigitLoss,
    /// Real-time transcriptions, running and stopped.
    pub transcriptions: Transcriptions,
}

impl State {
    pub(crate) fn new(
        clock: Clock,
        account_sid: String,
        base_url: String,
        tx: broadcast::Sender<EmulatorEvent>,
        hooks: mpsc::UnboundedSender<HookJob>,
    ) -> Self {
        State {
            clock,
            account_sid,
            base_url,
            tx,
            hooks,
            numbers: Vec::new(),
            phones: HashMap::new(),
            calls: HashMap::new(),
            call_order: Vec::new(),
            confs: HashMap::new(),
            conf_order: Vec::new(),
            recordings: HashMap::new(),
            errors: Vec::new(),
            next_dequeue: 0.0,
            next_utt: 0,
            digit_loss: Default::default(),
            transcriptions: Transcriptions::default(),
        }
    }

    pub(crate) fn utterance(&mut self, text: &str, voice: Voice) -> Arc<Utterance> {
        self.next_utt += 1;
        Utterance::new(self.next_utt, text, voice)
    }

    pub(crate) fn number(&self, e164: &str) -> Option<&OwnedNumber> {
        self.numbers.iter().find(|n| n.phone_number == e164)
    }

    pub(crate) fn phone_behaviour(&self, number: &str) -> PhoneBehaviour {
        self.phones
            .get(number)
            .cloned()
            .unwrap_or(PhoneBehaviour::Answer)
    }

    /// Creates a call record in its initial status.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_call(
        &mut self,
        from: &str,
        to: &str,
        direction: Direction,
        status: CallStatus,
        far: FarEnd,
        parent: Option<String>,
        callback: Option<StatusCallback>,
        control: mpsc::UnboundedSender<CallControl>,
    ) -> String {
        let sid = new_sid("CA");
        let now = SystemTime::now();
        let phone_number_sid = match direction {
            Direction::Inbound => self.number(to).map(|n| n.sid.clone()),
            _ => None,
        };
        self.calls.insert(
            sid.clone(),
            CallRecord {
                sid: sid.clone(),
                from: from.to_string(),
                to: to.to_string(),
                direction,
                status,
                parent,
                caller_name: None,
                far,
                phone_number_sid,
                date_created: now,
                date_updated: now,
                start_time: None,
                end_time: None,
                answered_at: None,
                duration: None,
                answered_by: None,
                callback,
                callback_seq: 0,
                activity: Activity::Idle,
                far_gone: false,
                control: Some(control),
                transcript: Transcript::default(),
                events: Vec::new(),
            },
        );
        self.call_order.push(sid.clone());
        self.call_event(
            &sid,
            CallEventKind::Status {
                status: status.as_str().into(),
            },
        );
        sid
    }

    pub(crate) fn call_event(&mut self, sid: &str, kind: CallEventKind) {
        let at = self.clock.now();
        if let Some(c) = self.calls.get_mut(sid) {
            let event = CallEvent { at, kind };
            c.events.push(event.clone());
            let _ = self.tx.send(EmulatorEvent::Call {
                call_sid: sid.to_string(),
                event,
            });
        }
    }

    pub(crate) fn record_error(&mut self, err: EmulatorError) {
        tracing::warn!(code = err.code, call = ?err.call_sid, url = ?err.url, "{}", err.message);
        if let Some(sid) = err.call_sid.clone() {
            self.call_event(
                &sid,
                CallEventKind::Error {
                    code: err.code,
                    message: err.message.clone(),
                },
            );
        }
        let _ = self.tx.send(EmulatorEvent::Error(err.clone()));
        self.errors.push(err);
    }

    pub(crate) fn send_control(&self, sid: &str, control: CallControl) {
        if let Some(tx) = self.calls.get(sid).and_then(|c| c.control.as_ref()) {
            let _ = tx.send(control);
        }
    }

    /// The parameters Twilio sends with every request about a call.
    pub(crate) fn call_params(&self, sid: &str) -> Vec<(String, String)> {
        let Some(c) = self.calls.get(sid) else {
            return Vec::new();
        };
        let mut p = vec![
            ("AccountSid".to_string(), self.account_sid.clone()),
            ("ApiVersion".into(), "2010-04-01".into()),
            ("CallSid".into(), c.sid.clone()),
            ("CallStatus".into(), c.status.as_str().into()),
            ("Called".into(), c.to.clone()),
            ("Caller".into(), c.from.clone()),
            ("Direction".into(), c.direction.as_str().into()),
            ("From".into(), c.from.clone()),
            ("To".into(), c.to.clone()),
        ];
        if let Some(n) = &c.caller_name {
            p.push(("CallerName".into(), n.clone()));
        }
        if let Some(parent) = &c.parent {
            p.push(("ParentCallSid".into(), parent.clone()));
        }
        if let Some(a) = &c.answered_by {
            p.push(("AnsweredBy".into(), a.clone()));
        }
        p
    }

    /// Moves a call to `status`, stamps times, and sends the status callbacks subscribed to it.
    pub(crate) fn set_status(&mut self, sid: &str, status: CallStatus) {
        let now = self.clock.now();
        let Some(c) = self.calls.get_mut(sid) else {
            return;
        };
        if c.status == status || c.status.is_final() {
            return;
        }
        c.status = status;
        c.date_updated = SystemTime::now();
        if status == CallStatus::InProgress {
            c.start_time = Some(SystemTime::now());
            c.answered_at = Some(now);
        }
        if status.is_final() {
            c.end_time = Some(SystemTime::now());
            c.duration = Some(
                c.answered_at
                    .map(|a| (now - a).max(0.0).round() as u64)
                    .unwrap_or(0),
            );
            c.control = None;
            c.activity = Activity::Idle;
        }
        if status.is_final() {
            let jobs = self.transcriptions.call_ended(sid);
            self.send_hooks(jobs);
        }
        self.call_event(
            sid,
            CallEventKind::Status {
                status: status.as_str().into(),
            },
        );
        self.status_callbacks(sid, status);
    }

    fn status_callbacks(&mut self, sid: &str, status: CallStatus) {
        let Some(event) = status.callback_event() else {
            return;
        };
        let mut params = self.call_params(sid);
        let Some(c) = self.calls.get_mut(sid) else {
            return;
        };
        let mut jobs = Vec::new();
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        params.push(("Timestamp".into(), crate::clock::rfc2822(SystemTime::now())));
        if status.is_final() {
            params.push(("CallDuration".into(), c.duration.unwrap_or(0).to_string()));
            params.push((
                "Duration".into(),
                c.duration.unwrap_or(0).div_ceil(60).to_string(),
            ));
        }
        if let Some(cb) = &c.callback
            && cb.events.iter().any(|e| e == event)
        {
            let mut p = params.clone();
            p.push(("SequenceNumber".into(), c.callback_seq.to_string()));
            c.callback_seq += 1;
            jobs.push(HookJob {
                purpose: HookPurpose::StatusCallback,
                call_sid: Some(sid.to_string()),
                url: cb.url.clone(),
                method: cb.method,
                params: p,
            });
        }
        // A number's own StatusCallback reports only the end of inbound calls.
        if status.is_final() && c.direction == Direction::Inbound {
            let number = c.to.clone();
            if let Some(n) = self.number(&number)
                && let Some(url) = &n.status_callback
            {
                let mut p = params.clone();
                p.push(("SequenceNumber".into(), "0".into()));
                jobs.push(HookJob {
                    purpose: HookPurpose::StatusCallback,
                    call_sid: Some(sid.to_string()),
                    url: url.clone(),
                    method: n.status_callback_method,
                    params: p,
                });
            }
        }
        self.send_hooks(jobs);
    }

    /// Queues callbacks for the dispatcher.
    pub(crate) fn send_hooks(&self, jobs: Vec<HookJob>) {
        for job in jobs {
            let _ = self.hooks.send(job);
        }
    }

    /// Sound crossing the line of `sid` reaches the call's real-time transcriptions: Twilio forks
    /// the raw audio, whatever the call is doing with it.
    fn transcribe(&mut self, sid: &str, side: Side, sound: &Sound) {
        let jobs = self.transcriptions.hear(sid, side, sound);
        self.send_hooks(jobs);
    }

    /// Whether sound can cross this call's line right now.
    fn carries_audio(&self, sid: &str) -> bool {
        self.calls
            .get(sid)
            .is_some_and(|c| c.status == CallStatus::InProgress && !c.far_gone)
    }

    /// Sound produced by the Twilio side of `sid` (a `<Say>`, an announcement, a conference mix)
    /// travels to its far end: an emulated phone hears it; another leg's Twilio side receives it.
    pub(crate) fn send_to_far_end(&mut self, sid: &str, sound: &Sound) {
        let mut visited = Vec::new();
        self.send_to_far_end_inner(sid, sound, &mut visited);
    }

    fn send_to_far_end_inner(&mut self, sid: &str, sound: &Sound, visited: &mut Vec<String>) {
        // A self-dial leg whose other leg is in the same conference would otherwise echo forever.
        if visited.iter().any(|v| v == sid) || !self.carries_audio(sid) {
            return;
        }
        visited.push(sid.to_string());
        self.transcribe(sid, Side::Outbound, sound);
        let Some(c) = self.calls.get_mut(sid) else {
            return;
        };
        let (index, heard) = c.transcript.hear(sound);
        let far = c.far.clone();
        let _ = self.tx.send(EmulatorEvent::Heard {
            call_sid: sid.to_string(),
            index,
            heard,
        });
        if let FarEnd::Leg(other) = far {
            self.enter_twilio_side_inner(&other, sound, visited);
        }
    }

    /// Sound from the far end of `sid` enters its Twilio side.
    pub(crate) fn enter_twilio_side(&mut self, sid: &str, sound: &Sound) {
        let mut visited = Vec::new();
        self.enter_twilio_side_inner(sid, sound, &mut visited);
    }

    fn enter_twilio_side_inner(&mut self, sid: &str, sound: &Sound, visited: &mut Vec<String>) {
        if !self.carries_audio(sid) {
            return;
        }
        self.transcribe(sid, Side::Inbound, sound);
        let Some(c) = self.calls.get(sid) else { return };
        match c.activity.clone() {
            Activity::Idle => {}
            Activity::Listening => self.send_control(sid, CallControl::Heard(sound.clone())),
            Activity::Bridged(other) => self.send_to_far_end_inner(&other, sound, visited),
            Activity::Conference(conf_sid) => {
                let Some(conf) = self.confs.get_mut(&conf_sid) else {
                    return;
                };
                if conf.status != ConferenceStatus::InProgress {
                    return;
                }
                let Some(me) = conf.participants.iter().find(|p| p.call_sid == sid) else {
                    return;
                };
                if me.muted || me.hold {
                    return;
                }
                if conf.record {
                    conf.recording.hear(sound);
                }
                let others: Vec<String> = conf
                    .participants
                    .iter()
                    .filter(|p| p.call_sid != sid && !p.hold)
                    .map(|p| p.call_sid.clone())
                    .collect();
                for other in others {
                    self.send_to_far_end_inner(&other, sound, visited);
                }
            }
        }
    }

    /// DTMF from the far end of `sid` reaches its Twilio side.
    pub(crate) fn dtmf_enters_twilio_side(&mut self, sid: &str, digit: char) {
        if !self.carries_audio(sid) {
            return;
        }
        if self.digit_loss.loses_next() {
            self.call_event(sid, CallEventKind::DtmfLost { digit });
            return;
        }
        self.call_event(sid, CallEventKind::DtmfReceived { digit });
        self.send_control(sid, CallControl::Dtmf(digit));
    }

    /// DTMF sent by the Twilio side of `sid` towards its far end.
    pub(crate) fn send_dtmf_to_far_end(&mut self, sid: &str, digit: char) {
        if !self.carries_audio(sid) {
            return;
        }
        self.call_event(sid, CallEventKind::DtmfSent { digit });
        if let Some(FarEnd::Leg(other)) = self.calls.get(sid).map(|c| c.far.clone()) {
            self.dtmf_enters_twilio_side(&other, digit);
        }
    }
}
