//! Placing calls: outbound legs (REST `Calls.json`, `<Dial><Number>`, the Participants API), the
//! inbound leg Twilio creates when a call reaches a number the account owns, and what emulated
//! phones do once they answer.

use tokio::sync::mpsc;
use url::Url;

use crate::Emulator;
use crate::audio::{Sound, TOKEN_SECS, Voice};
use crate::call::{CallRun, End, Stop};
use crate::call_status::{CallStatus, Direction};
use crate::control::{CallControl, OnAnswer, Outbound, TwimlSource};
use crate::dtmf;
use crate::events::CallEventKind;
use crate::phone::{PhoneBehaviour, RING_SECS, VOICEMAIL_GREETING};
use crate::state::FarEnd;
use crate::twiml::HttpMethod;
use crate::webhook::HookPurpose;

impl Emulator {
    /// Creates the call record (status `queued`) and starts its task; returns the SID.
    pub(crate) fn start_outbound(&self, outbound: Outbound) -> String {
        let (tx, rx) = mpsc::unbounded_channel();
        let (sid, start_at) = {
            let mut st = self.inner.state.lock().unwrap();
            let sid = st.new_call(
                &outbound.from,
                &outbound.to,
                outbound.direction,
                CallStatus::Queued,
                FarEnd::Phone(outbound.to.clone()),
                outbound.parent.clone(),
                outbound.callback.clone(),
                tx,
            );
            let now = st.clock.now();
            let start_at = if outbound.paced {
                let s = st.next_dequeue.max(now);
                st.next_dequeue = s + 1.0;
                s
            } else {
                now
            };
            (sid, start_at - now)
        };
        let emulator = self.clone();
        let sid2 = sid.clone();
        let handle = tokio::spawn(async move {
            let mut call = CallRun::new(emulator.clone(), sid2, rx);
            emulator.run_outbound(&mut call, outbound, start_at).await;
        });
        self.track(handle);
        sid
    }

    async fn run_outbound(&self, call: &mut CallRun, outbound: Outbound, queued_for: f64) {
        let sid = call.sid.clone();
        let clock = self.inner.clock.clone();
        // Queued: the pacing delay plus a moment of setup.
        if wait_simple(call, queued_for + 0.05).await.is_err() {
            call.finish(CallStatus::Canceled);
            return;
        }
        self.inner
            .state
            .lock()
            .unwrap()
            .set_status(&sid, CallStatus::Initiated);
        if wait_simple(call, 0.1).await.is_err() {
            call.finish(CallStatus::Canceled);
            return;
        }
        self.inner
            .state
            .lock()
            .unwrap()
            .set_status(&sid, CallStatus::Ringing);
        let ring_deadline = clock.deadline(outbound.timeout as f64);

        let owned = self
            .inner
            .state
            .lock()
            .unwrap()
            .number(&outbound.to)
            .is_some();
        let outcome: Result<bool, CallStatus> = if owned {
            // The call reaches one of the account's numbers: Twilio creates the inbound leg and
            // runs that number's voice webhook; the two Twilio sides are each other's far end.
            let inbound =
                self.start_inbound(&outbound.from, &outbound.to, FarEnd::Leg(sid.clone()), None);
            if let Some(c) = self.inner.state.lock().unwrap().calls.get_mut(&sid) {
                c.far = FarEnd::Leg(inbound.clone());
            }
            loop {
                let control = tokio::select! {
                    _ = tokio::time::sleep_until(ring_deadline) => None,
                    c = call.rx.recv() => Some(c.unwrap_or(CallControl::Complete)),
                };
                match control {
                    None => {
                        self.inner
                            .state
                            .lock()
                            .unwrap()
                            .send_control(&inbound, CallControl::Complete);
                        break Err(CallStatus::NoAnswer);
                    }
                    Some(CallControl::FarAnswered { machine }) => break Ok(machine),
                    Some(CallControl::FarFailed(st)) => break Err(st),
                    Some(CallControl::Complete) | Some(CallControl::FarHangup) => {
                        self.inner
                            .state
                            .lock()
                            .unwrap()
                            .send_control(&inbound, CallControl::Complete);
                        break Err(CallStatus::Canceled);
                    }
                    Some(_) => {}
                }
            }
        } else {
            let behaviour = self
                .inner
                .state
                .lock()
                .unwrap()
                .phone_behaviour(&outbound.to);
            let (ring, result) = match &behaviour {
                PhoneBehaviour::Fail => (0.2, Err(CallStatus::Failed)),
                PhoneBehaviour::Busy => (0.5, Err(CallStatus::Busy)),
                PhoneBehaviour::NoAnswer => (f64::INFINITY, Err(CallStatus::NoAnswer)),
                PhoneBehaviour::Voicemail => (RING_SECS, Ok(true)),
                _ => (RING_SECS, Ok(false)),
            };
            let ring_end = if ring.is_finite() {
                clock.deadline(ring).min(ring_deadline)
            } else {
                ring_deadline
            };
            let answers_in_time = ring.is_finite() && clock.deadline(ring) <= ring_deadline;
            let stopped = loop {
                let control = tokio::select! {
                    _ = tokio::time::sleep_until(ring_end) => None,
                    c = call.rx.recv() => Some(c.unwrap_or(CallControl::Complete)),
                };
                match control {
                    None => break None,
                    // The caller gave up.
                    Some(CallControl::Complete) => break Some(CallStatus::Canceled),
                    // The phone declined the ringing call.
                    Some(CallControl::FarHangup) => break Some(CallStatus::Busy),
                    Some(_) => {}
                }
            };
            if let Some(status) = stopped {
                Err(status)
            } else if result.is_ok() && !answers_in_time {
                Err(CallStatus::NoAnswer)
            } else {
                result
            }
        };

        let machine = match outcome {
            Ok(m) => m,
            Err(status) => {
                call.finish(status);
                return;
            }
        };
        {
            let mut st = self.inner.state.lock().unwrap();
            if outbound.machine_detection
                && let Some(c) = st.calls.get_mut(&sid)
            {
                c.answered_by = Some(if machine { "machine_start" } else { "human" }.into());
            }
            st.set_status(&sid, CallStatus::InProgress);
        }
        self.spawn_phone_behaviour(&sid);
        if let Some(digits) = outbound.send_digits.clone().filter(|d| !d.is_empty()) {
            self.spawn_send_digits(&sid, digits);
        }
        let status = match outbound.on_answer {
            OnAnswer::Twiml(src) => match call.run_twiml(src).await {
                End::Rejected { .. } | End::Hangup => CallStatus::Completed,
                End::Stopped(_) => CallStatus::Completed,
            },
            OnAnswer::Bridge { parent } => {
                self.inner
                    .state
                    .lock()
                    .unwrap()
                    .send_control(&parent, CallControl::ChildAnswered(sid.clone()));
                call.wait_forever().await;
                CallStatus::Completed
            }
            OnAnswer::Conference { conf_sid, noun } => {
                call.conference(&conf_sid, &noun, None).await;
                CallStatus::Completed
            }
        };
        call.finish(status);
    }

    /// Creates an inbound leg to an owned number (status `ringing`) and runs its voice webhook.
    pub(crate) fn start_inbound(
        &self,
        from: &str,
        to: &str,
        far: FarEnd,
        caller_name: Option<&str>,
    ) -> String {
        let (tx, rx) = mpsc::unbounded_channel();
        let (sid, voice) = {
            let mut st = self.inner.state.lock().unwrap();
            let sid = st.new_call(
                from,
                to,
                Direction::Inbound,
                CallStatus::Ringing,
                far,
                None,
                None,
                tx,
            );
            if let Some(c) = st.calls.get_mut(&sid) {
                c.caller_name = caller_name.map(str::to_string);
            }
            let n = st.number(to).expect("inbound calls go to owned numbers");
            (sid, (n.voice_url.clone(), n.voice_method))
        };
        let emulator = self.clone();
        let sid2 = sid.clone();
        let handle = tokio::spawn(async move {
            let mut call = CallRun::new(emulator.clone(), sid2, rx);
            let status = match Url::parse(&voice.0) {
                Err(e) => {
                    call.error(crate::error::EmulatorError::new(
                        11100,
                        format!("the number's VoiceUrl {:?} is invalid: {e}", voice.0),
                    ));
                    CallStatus::Failed
                }
                Ok(url) => {
                    let src = TwimlSource::Fetch {
                        url,
                        method: voice.1,
                        extra: Vec::new(),
                        purpose: HookPurpose::Voice,
                    };
                    let end = call.run_twiml(src).await;
                    let answered = call
                        .state()
                        .calls
                        .get(&call.sid)
                        .is_some_and(|c| c.answered_at.is_some());
                    match end {
                        // Twilio: `busy` for reason="busy", `no-answer` for "rejected".
                        End::Rejected { busy: true } => CallStatus::Busy,
                        End::Rejected { busy: false } => CallStatus::NoAnswer,
                        End::Stopped(Stop::FarHangup | Stop::Completed) if !answered => {
                            CallStatus::Canceled
                        }
                        _ => CallStatus::Completed,
                    }
                }
            };
            call.finish(status);
        });
        self.track(handle);
        sid
    }

    /// What an emulated phone does once its call is answered.
    pub(crate) fn spawn_phone_behaviour(&self, sid: &str) {
        let (number, behaviour) = {
            let st = self.inner.state.lock().unwrap();
            let Some(c) = st.calls.get(sid) else { return };
            let FarEnd::Phone(number) = &c.far else {
                return;
            };
            (number.clone(), st.phones.get(number).cloned())
        };
        let emulator = self.clone();
        let sid = sid.to_string();
        match behaviour {
            Some(PhoneBehaviour::AnswerAndPress { digits, after_secs }) => {
                tokio::spawn(async move {
                    tokio::time::sleep(emulator.inner.clock.dur(after_secs)).await;
                    emulator.far_end_press(&sid, &digits).await;
                });
            }
            Some(PhoneBehaviour::Voicemail) => {
                tokio::spawn(async move {
                    tokio::time::sleep(emulator.inner.clock.dur(0.3)).await;
                    emulator
                        .far_end_speak(&sid, &number, VOICEMAIL_GREETING)
                        .await;
                    emulator
                        .inner
                        .state
                        .lock()
                        .unwrap()
                        .enter_twilio_side(&sid, &Sound::Beep);
                });
            }
            _ => {}
        }
    }

    fn spawn_send_digits(&self, sid: &str, digits: String) {
        let emulator = self.clone();
        let sid = sid.to_string();
        tokio::spawn(async move {
            let clock = emulator.inner.clock.clone();
            for c in digits.chars() {
                if let Some(pause) = dtmf::pause_secs(c) {
                    tokio::time::sleep(clock.dur(pause)).await;
                } else {
                    emulator
                        .inner
                        .state
                        .lock()
                        .unwrap()
                        .send_dtmf_to_far_end(&sid, c);
                    tokio::time::sleep(clock.dur(dtmf::KEY_SECS)).await;
                }
            }
        });
    }

    /// The far end of `sid` presses keys (a tenth of a second each; `w` waits half a second,
    /// `W` a second).
    pub(crate) async fn far_end_press(&self, sid: &str, digits: &str) {
        let clock = self.inner.clock.clone();
        for c in digits.chars() {
            if let Some(pause) = dtmf::pause_secs(c) {
                tokio::time::sleep(clock.dur(pause)).await;
            } else {
                self.inner
                    .state
                    .lock()
                    .unwrap()
                    .dtmf_enters_twilio_side(sid, c);
                tokio::time::sleep(clock.dur(dtmf::KEY_SECS)).await;
            }
        }
    }

    /// The far end of `sid` speaks `text`, token by token, into the call's Twilio side.
    pub(crate) async fn far_end_speak(&self, sid: &str, speaker: &str, text: &str) {
        let clock = self.inner.clock.clone();
        let utt = {
            let mut st = self.inner.state.lock().unwrap();
            st.call_event(
                sid,
                CallEventKind::FarEndSpoke {
                    text: text.to_string(),
                },
            );
            st.utterance(
                text,
                Voice::Speech {
                    speaker: speaker.to_string(),
                },
            )
        };
        let start = tokio::time::Instant::now();
        for idx in 0..utt.spans.len() {
            self.inner.state.lock().unwrap().enter_twilio_side(
                sid,
                &Sound::Token {
                    utt: utt.clone(),
                    idx,
                },
            );
            tokio::time::sleep_until(start + clock.dur(TOKEN_SECS * (idx + 1) as f64)).await;
        }
    }
}

/// A wait during which only cancellation matters.
async fn wait_simple(call: &mut CallRun, secs: f64) -> Result<(), Stop> {
    let deadline = call.emulator.inner.clock.deadline(secs);
    loop {
        let control = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            c = call.rx.recv() => c.unwrap_or(CallControl::Complete),
        };
        match control {
            CallControl::Complete | CallControl::FarHangup => return Err(Stop::Completed),
            _ => {}
        }
    }
}

/// `HttpMethod` from an optional REST parameter (default POST).
pub(crate) fn method_param(v: Option<&str>) -> Option<HttpMethod> {
    match v {
        None | Some("") => Some(HttpMethod::Post),
        Some(m) => HttpMethod::parse(m),
    }
}
