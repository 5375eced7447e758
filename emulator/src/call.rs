//! The TwiML executor: one task per call leg runs its documents verb by verb, on call time.
//!
//! A call task owns the receiving end of its control channel ([`CallControl`]); everything that happens to
//! the call from outside (the far end hangs up or presses a key, the REST API redirects it, its
//! conference ends, a child leg answers) arrives there, so a call's lifecycle has a single writer
//! and waits are always interruptible.

use std::sync::MutexGuard;

use tokio::sync::mpsc;
use tokio::time::Instant;
use url::Url;

use crate::Emulator;
use crate::audio::{PLAY_SECS, Sound, TOKEN_SECS, Transcript, Voice, tokenize};
use crate::call_status::{CallStatus, Direction, StatusCallback};
use crate::control::{CallControl, OnAnswer, Outbound, TwimlSource};
use crate::error::EmulatorError;
use crate::events::CallEventKind;
use crate::realtime_transcription::TranscriptionSettings;
use crate::state::{Activity, FarEnd, State};
use crate::twiml::{self, ConferenceNoun, Dial, DialTarget, Gather, HttpMethod, Record, Say, Verb};
use crate::webhook::{HookJob, HookPurpose, is_xml};

/// What the caller hears when the application fails (Twilio's own words).
pub const APPLICATION_ERROR_MESSAGE: &str =
    "We're sorry, an application error has occurred. Goodbye.";

/// Call-seconds between the end of a `<Record>` and its transcription callback.
const TRANSCRIPTION_SECS: f64 = 2.0;

/// Why a wait was cut short.
#[derive(Debug)]
pub(crate) enum Stop {
    FarHangup,
    Completed,
    Redirect(TwimlSource),
}

enum Flow {
    Next,
    Goto(TwimlSource),
    Hangup,
    Stop(Stop),
}

/// How a call's script ended.
pub(crate) enum End {
    /// TwiML ran out or said `<Hangup/>`.
    Hangup,
    /// `<Reject>` before answering.
    Rejected {
        busy: bool,
    },
    Stopped(Stop),
}

pub(crate) struct CallRun {
    pub emulator: Emulator,
    pub sid: String,
    pub rx: mpsc::UnboundedReceiver<CallControl>,
    /// The URL of the document being executed: relative URLs resolve against it.
    pub doc_url: Option<Url>,
}

impl CallRun {
    pub(crate) fn new(
        emulator: Emulator,
        sid: String,
        rx: mpsc::UnboundedReceiver<CallControl>,
    ) -> Self {
        CallRun {
            emulator,
            sid,
            rx,
            doc_url: None,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.emulator.inner.state.lock().unwrap()
    }

    fn event(&self, kind: CallEventKind) {
        self.state().call_event(&self.sid, kind);
    }

    pub(crate) fn error(&self, e: EmulatorError) {
        self.state().record_error(e.on_call(&self.sid));
    }

    fn status(&self) -> CallStatus {
        self.state()
            .calls
            .get(&self.sid)
            .map(|c| c.status)
            .unwrap_or(CallStatus::Completed)
    }

    fn set_activity(&self, a: Activity) {
        if let Some(c) = self.state().calls.get_mut(&self.sid) {
            c.activity = a;
        }
    }

    /// Answers an inbound leg: Twilio answers when it starts executing the leg's TwiML.
    pub(crate) fn answer(&self) {
        let mut st = self.state();
        if st
            .calls
            .get(&self.sid)
            .is_none_or(|c| c.status != CallStatus::Ringing)
        {
            return;
        }
        st.set_status(&self.sid, CallStatus::InProgress);
        if let Some(FarEnd::Leg(o)) = st.calls.get(&self.sid).map(|c| c.far.clone()) {
            st.send_control(&o, CallControl::FarAnswered { machine: false });
        }
        drop(st);
        self.emulator.spawn_phone_behaviour(&self.sid);
    }

    // ----- waiting -----

    async fn recv_until(&mut self, deadline: Option<Instant>) -> Option<CallControl> {
        match deadline {
            Some(d) => tokio::select! {
                _ = tokio::time::sleep_until(d) => None,
                c = self.rx.recv() => Some(c.unwrap_or(CallControl::FarHangup)),
            },
            None => Some(self.rx.recv().await.unwrap_or(CallControl::FarHangup)),
        }
    }

    /// Handles the messages every state reacts to the same way. `Ok(Some)` hands back the ones
    /// the caller must interpret.
    fn common(&mut self, control: CallControl) -> Result<Option<CallControl>, Stop> {
        match control {
            // A far leg that failed before answering is, for an answered call, a hang-up.
            CallControl::FarHangup | CallControl::FarFailed(_) => Err(Stop::FarHangup),
            CallControl::Complete => Err(Stop::Completed),
            CallControl::Redirect(s) => Err(Stop::Redirect(s)),
            other => Ok(Some(other)),
        }
    }

    /// Drains pending messages without waiting. With `barge_in`, caller input is handed back
    /// (otherwise it is dropped: nobody is listening for it).
    fn poll_input(&mut self, barge_in: bool) -> Result<Option<CallControl>, Stop> {
        while let Ok(control) = self.rx.try_recv() {
            match self.common(control)? {
                Some(input @ (CallControl::Dtmf(_) | CallControl::Heard(_))) if barge_in => {
                    return Ok(Some(input));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    fn poll(&mut self) -> Result<(), Stop> {
        self.poll_input(false).map(|_| ())
    }

    /// Waits until `deadline`; with `barge_in`, caller input (a key, or speech while a speech
    /// `<Gather>` listens) ends the wait early and is returned.
    async fn wait_until(
        &mut self,
        deadline: Instant,
        barge_in: bool,
    ) -> Result<Option<CallControl>, Stop> {
        loop {
            match self.recv_until(Some(deadline)).await {
                None => return Ok(None),
                Some(control) => match self.common(control)? {
                    Some(input @ (CallControl::Dtmf(_) | CallControl::Heard(_))) if barge_in => {
                        return Ok(Some(input));
                    }
                    _ => {}
                },
            }
        }
    }

    async fn wait(&mut self, secs: f64, barge_in: bool) -> Result<Option<CallControl>, Stop> {
        let deadline = self.emulator.inner.clock.deadline(secs);
        self.wait_until(deadline, barge_in).await
    }

    /// Waits for the far end to hang up or the call to be stopped; nothing else matters.
    pub(crate) async fn wait_forever(&mut self) -> Stop {
        loop {
            let control = self
                .recv_until(None)
                .await
                .unwrap_or(CallControl::FarHangup);
            if let Err(stop) = self.common(control) {
                return stop;
            }
        }
    }

    // ----- documents -----

    fn resolve(&self, url: &str) -> Result<Url, EmulatorError> {
        let parsed = match &self.doc_url {
            Some(base) => base.join(url),
            None => Url::parse(url),
        };
        parsed.map_err(|e| EmulatorError::new(11100, format!("invalid URL {url:?}: {e}")))
    }

    /// Fetches (or takes inline) and parses a document. `Err(None)` means the call was stopped
    /// meanwhile; `Err(Some(e))` is an application error.
    async fn load(&mut self, src: TwimlSource) -> Result<twiml::Document, Option<EmulatorError>> {
        match src {
            TwimlSource::Inline(xml) => {
                self.doc_url = None;
                twiml::parse(&xml).map_err(|e| {
                    Some(EmulatorError::new(
                        e.code,
                        format!("inline TwiML: {}", e.message),
                    ))
                })
            }
            TwimlSource::Fetch {
                url,
                method,
                extra,
                purpose,
            } => {
                let mut params = self.state().call_params(&self.sid);
                params.extend(extra);
                let answer = self
                    .emulator
                    .request(purpose, Some(&self.sid), &url, method, params)
                    .await
                    .map_err(Some)?;
                if self.status().is_final() {
                    return Err(None);
                }
                if !is_xml(&answer.content_type) {
                    return Err(Some(
                        EmulatorError::new(
                            12300,
                            format!("Invalid Content-Type {:?} for TwiML", answer.content_type),
                        )
                        .at_url(url.as_str()),
                    ));
                }
                self.doc_url = Some(url.clone());
                twiml::parse(&answer.body)
                    .map_err(|e| Some(EmulatorError::new(e.code, e.message).at_url(url.as_str())))
            }
        }
    }

    /// Runs documents starting at `first` until the call ends.
    pub(crate) async fn run_twiml(&mut self, first: TwimlSource) -> End {
        let mut src = first;
        loop {
            let doc = match self.load(src).await {
                Ok(doc) => doc,
                Err(None) => return End::Stopped(Stop::Completed),
                Err(Some(e)) => {
                    self.error(e);
                    return self.application_error().await;
                }
            };
            if self.status() == CallStatus::Ringing {
                // A cancel that arrived while the webhook was being fetched wins over answering.
                if let Err(stop) = self.poll() {
                    return End::Stopped(stop);
                }
                if let Some(Verb::Reject { busy }) = doc.verbs.first() {
                    return End::Rejected { busy: *busy };
                }
                self.answer();
            }
            match self.exec_verbs(&doc.verbs).await {
                Flow::Goto(s) | Flow::Stop(Stop::Redirect(s)) => src = s,
                Flow::Next | Flow::Hangup => return End::Hangup,
                Flow::Stop(stop) => return End::Stopped(stop),
            }
        }
    }

    /// Twilio's reaction to a broken application: apologise and hang up.
    async fn application_error(&mut self) -> End {
        self.answer();
        let say = Say {
            text: APPLICATION_ERROR_MESSAGE.into(),
            voice: None,
            language: None,
            loops: 1,
        };
        match self.say(&say, false).await {
            Ok(_) => End::Hangup,
            Err(stop) => End::Stopped(stop),
        }
    }

    async fn exec_verbs(&mut self, verbs: &[Verb]) -> Flow {
        for verb in verbs {
            if let Err(stop) = self.poll() {
                return Flow::Stop(stop);
            }
            self.event(CallEventKind::Verb {
                verb: verb.name().into(),
            });
            let flow = match verb {
                Verb::Say(s) => self.say(s, false).await.map(|_| Flow::Next),
                Verb::Play(p) => self.play(p, false).await.map(|_| Flow::Next),
                Verb::Pause { length } => {
                    self.wait(*length as f64, false).await.map(|_| Flow::Next)
                }
                Verb::Gather(g) => self.gather(g).await,
                Verb::Dial(d) => self.dial(d).await,
                Verb::Record(r) => self.record(r).await,
                Verb::Redirect { url, method } => match self.resolve(url) {
                    Ok(url) => Ok(Flow::Goto(TwimlSource::Fetch {
                        url,
                        method: *method,
                        extra: Vec::new(),
                        purpose: HookPurpose::Redirect,
                    })),
                    Err(e) => {
                        self.error(e);
                        Ok(Flow::Hangup)
                    }
                },
                Verb::Hangup | Verb::Reject { .. } => Ok(Flow::Hangup),
                Verb::StartTranscription(settings) => {
                    self.start_transcription(settings);
                    Ok(Flow::Next)
                }
                Verb::StopTranscription { name } => {
                    self.stop_transcription(name);
                    Ok(Flow::Next)
                }
            };
            match flow {
                Ok(Flow::Next) => {}
                Ok(other) => return other,
                Err(stop) => return Flow::Stop(stop),
            }
        }
        Flow::Hangup
    }

    // ----- Start / Stop a real-time transcription -----

    /// `<Start><Transcription>`: does not block; a relative `statusCallbackUrl` resolves against
    /// the document's URL.
    fn start_transcription(&self, settings: &TranscriptionSettings) {
        let callback = match settings
            .status_callback_url
            .as_deref()
            .map(|u| self.resolve(u))
        {
            None => None,
            Some(Ok(url)) => Some((url.to_string(), settings.status_callback_method)),
            Some(Err(e)) => {
                self.error(e);
                return;
            }
        };
        let mut st = self.state();
        let account = st.account_sid.clone();
        let (_, jobs) = st
            .transcriptions
            .start(&account, &self.sid, settings.clone(), callback);
        st.send_hooks(jobs);
    }

    /// `<Stop><Transcription name>`: a name no running transcription has stops nothing.
    fn stop_transcription(&self, name: &str) {
        let mut st = self.state();
        if let Some(sid) = st.transcriptions.find(&self.sid, name) {
            let jobs = st.transcriptions.stop(&sid);
            st.send_hooks(jobs);
        }
    }

    // ----- Say / Play -----

    /// Speaks a `<Say>` token by token to the far end. With `barge_in`, caller input stops it and
    /// is returned.
    pub(crate) async fn say(
        &mut self,
        say: &Say,
        barge_in: bool,
    ) -> Result<Option<CallControl>, Stop> {
        if let Some(why) = say_limit_violation(&say.text, say.voice.as_deref()) {
            // Twilio logs warning 13521 and skips the verb: nothing of the text is spoken.
            self.error(EmulatorError::new(13521, why));
            return Ok(None);
        }
        if tokenize(say.text.trim()).is_empty() {
            self.error(EmulatorError::new(13520, "Say: Invalid text (empty)"));
            return Ok(None);
        }
        let loops = if say.loops == 0 { 1000 } else { say.loops };
        for _ in 0..loops {
            let utt = self.state().utterance(
                &say.text,
                Voice::Say {
                    voice: say.voice.clone(),
                    language: say.language.clone(),
                },
            );
            let start = Instant::now();
            for idx in 0..utt.spans.len() {
                if let Some(input) = self.poll_input(barge_in)? {
                    return Ok(Some(input));
                }
                self.state().send_to_far_end(
                    &self.sid,
                    &Sound::Token {
                        utt: utt.clone(),
                        idx,
                    },
                );
                let deadline = start + self.emulator.inner.clock.dur(TOKEN_SECS * (idx + 1) as f64);
                if let Some(d) = self.wait_until(deadline, barge_in).await? {
                    return Ok(Some(d));
                }
            }
        }
        Ok(None)
    }

    async fn play(
        &mut self,
        play: &twiml::Play,
        barge_in: bool,
    ) -> Result<Option<CallControl>, Stop> {
        let loops = if play.loops == 0 { 1000 } else { play.loops };
        if let Some(digits) = &play.digits {
            self.send_digits(digits).await?;
        }
        let Some(url) = &play.url else {
            return Ok(None);
        };
        let url = match self.resolve(url) {
            Ok(u) => u.to_string(),
            Err(e) => {
                self.error(e);
                return Ok(None);
            }
        };
        for _ in 0..loops {
            if let Some(input) = self.poll_input(barge_in)? {
                return Ok(Some(input));
            }
            self.state()
                .send_to_far_end(&self.sid, &Sound::Play { url: url.clone() });
            if let Some(d) = self.wait(PLAY_SECS, barge_in).await? {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }

    /// Plays DTMF to the far end: `w` waits half a second, `W` a second, each digit takes a
    /// tenth.
    pub(crate) async fn send_digits(&mut self, digits: &str) -> Result<(), Stop> {
        for c in digits.chars() {
            if let Some(pause) = crate::dtmf::pause_secs(c) {
                self.wait(pause, false).await?;
            } else {
                self.state().send_dtmf_to_far_end(&self.sid, c);
                self.wait(crate::dtmf::KEY_SECS, false).await?;
            }
        }
        Ok(())
    }

    // ----- Gather -----

    async fn gather(&mut self, gather: &Gather) -> Result<Flow, Stop> {
        let mut digits = String::new();
        let mut finished_on_key = String::new();
        let mut speech = Transcript::default();
        if gather.speech {
            self.set_activity(Activity::Listening);
        }
        let result = self
            .gather_inner(gather, &mut digits, &mut finished_on_key, &mut speech)
            .await;
        self.set_activity(Activity::Idle);
        result?;
        let speech_text = speech.text();
        if digits.is_empty() && speech_text.is_empty() && !gather.action_on_empty_result {
            // Nothing gathered: Twilio falls through to the next verb.
            return Ok(Flow::Next);
        }
        let url = match &gather.action {
            Some(a) => self.resolve(a),
            None => self.doc_url.clone().ok_or_else(|| {
                EmulatorError::new(11100, "<Gather> without action in inline TwiML")
            }),
        };
        let url = match url {
            Ok(u) => u,
            Err(e) => {
                self.error(e);
                return Ok(Flow::Hangup);
            }
        };
        let mut extra = Vec::new();
        if gather.dtmf {
            extra.push(("Digits".to_string(), digits));
            extra.push(("FinishedOnKey".to_string(), finished_on_key));
        }
        if gather.speech && !speech_text.is_empty() {
            extra.push(("SpeechResult".to_string(), speech_text));
            extra.push(("Confidence".to_string(), "0.9".to_string()));
        }
        extra.push(("msg".to_string(), "Gather End".to_string()));
        Ok(Flow::Goto(TwimlSource::Fetch {
            url,
            method: gather.method,
            extra,
            purpose: HookPurpose::Action,
        }))
    }

    async fn gather_inner(
        &mut self,
        gather: &Gather,
        digits: &mut String,
        finished_on_key: &mut String,
        speech: &mut Transcript,
    ) -> Result<(), Stop> {
        // Returns true when the key completes the gather.
        let take = |d: char, digits: &mut String, fok: &mut String| -> bool {
            if gather.finish_on_key == Some(d) {
                fok.push(d);
                return true;
            }
            digits.push(d);
            gather
                .num_digits
                .is_some_and(|n| digits.chars().count() as u32 >= n)
        };
        let clock = self.emulator.inner.clock.clone();
        // After speech, silence of speechTimeout (auto: about a second) ends the gather.
        let after_speech = gather
            .speech_timeout
            .map(f64::from)
            .unwrap_or(1.0)
            .max(TOKEN_SECS * 2.0);
        let mut deadline = None;
        // Prompts: caller input interrupts them (barge-in) and counts.
        for prompt in &gather.prompts {
            let input = match prompt {
                Verb::Say(s) => self.say(s, true).await?,
                Verb::Play(p) => self.play(p, true).await?,
                Verb::Pause { length } => self.wait(*length as f64, true).await?,
                _ => None,
            };
            match input {
                Some(CallControl::Dtmf(d)) if gather.dtmf => {
                    if take(d, digits, finished_on_key) {
                        return Ok(());
                    }
                    break;
                }
                Some(CallControl::Heard(sound)) if gather.speech => {
                    speech.hear(&sound);
                    deadline = Some(clock.deadline(after_speech));
                    break;
                }
                _ => {}
            }
        }
        let mut deadline = deadline.unwrap_or_else(|| clock.deadline(gather.timeout as f64));
        loop {
            let Some(control) = self.recv_until(Some(deadline)).await else {
                return Ok(());
            };
            match self.common(control)? {
                Some(CallControl::Dtmf(d)) if gather.dtmf => {
                    if take(d, digits, finished_on_key) {
                        return Ok(());
                    }
                    deadline = clock.deadline(gather.timeout as f64);
                }
                Some(CallControl::Heard(sound)) if gather.speech => {
                    speech.hear(&sound);
                    deadline = clock.deadline(after_speech);
                }
                _ => {}
            }
        }
    }

    // ----- Record -----

    async fn record(&mut self, record: &Record) -> Result<Flow, Stop> {
        if record.play_beep {
            self.state().send_to_far_end(&self.sid, &Sound::Beep);
            self.wait(0.5, false).await?;
        }
        let clock = self.emulator.inner.clock.clone();
        let started = clock.now();
        let max_deadline = clock.deadline(record.max_length as f64);
        let mut transcript = Transcript::default();
        let mut pressed = String::new();
        let mut stop = None;
        self.set_activity(Activity::Listening);
        let mut silence_deadline =
            (record.timeout > 0).then(|| clock.deadline(record.timeout as f64));
        loop {
            let deadline = match silence_deadline {
                Some(s) => s.min(max_deadline),
                None => max_deadline,
            };
            let Some(control) = self.recv_until(Some(deadline)).await else {
                break;
            };
            match self.common(control) {
                Err(s) => {
                    if matches!(s, Stop::FarHangup) {
                        pressed = "hangup".into();
                    }
                    stop = Some(s);
                    break;
                }
                Ok(Some(CallControl::Heard(sound))) => {
                    transcript.hear(&sound);
                    if record.timeout > 0 {
                        silence_deadline = Some(clock.deadline(record.timeout as f64));
                    }
                }
                Ok(Some(CallControl::Dtmf(d))) if record.finish_on_key.contains(d) => {
                    pressed.push(d);
                    break;
                }
                Ok(_) => {}
            }
        }
        self.set_activity(Activity::Idle);
        let length = (clock.now() - started).max(0.0);
        let duration = length.round() as u64;
        let text = transcript.text();
        if text.is_empty() {
            // Twilio does not request the action URL for an empty recording; the document goes on.
            return match stop {
                Some(s) => Err(s),
                None => Ok(Flow::Next),
            };
        }
        let (rec_sid, rec_url) =
            self.state()
                .new_recording(Some(&self.sid), None, duration, text.clone(), "RecordVerb");
        let action_url = match &record.action {
            Some(a) => self.resolve(a).ok(),
            None => self.doc_url.clone(),
        };
        let extra = vec![
            ("RecordingUrl".to_string(), rec_url.clone()),
            ("RecordingSid".to_string(), rec_sid.clone()),
            ("RecordingDuration".to_string(), duration.to_string()),
            ("Digits".to_string(), pressed),
        ];
        {
            let st = self.state();
            let base = st.call_params(&self.sid);
            if let Some(cb) = &record.recording_status_callback
                && let Ok(url) = self.resolve(cb)
            {
                let mut p = base.clone();
                p.extend([
                    ("RecordingSid".to_string(), rec_sid.clone()),
                    ("RecordingUrl".to_string(), rec_url.clone()),
                    ("RecordingStatus".to_string(), "completed".to_string()),
                    ("RecordingDuration".to_string(), duration.to_string()),
                    ("RecordingChannels".to_string(), "1".to_string()),
                    ("RecordingSource".to_string(), "RecordVerb".to_string()),
                    ("ErrorCode".to_string(), "0".to_string()),
                ]);
                let _ = st.hooks.send(HookJob {
                    purpose: HookPurpose::RecordingStatus,
                    call_sid: Some(self.sid.clone()),
                    url: url.to_string(),
                    method: record.recording_status_callback_method,
                    params: p,
                });
            }
            if (record.transcribe || record.transcribe_callback.is_some())
                && let Some(Ok(url)) = record.transcribe_callback.as_ref().map(|u| self.resolve(u))
            {
                let transcribed = crate::recording::transcribable(length);
                let mut p = base.clone();
                p.push(("TranscriptionSid".to_string(), crate::clock::new_sid("TR")));
                if transcribed {
                    p.push(("TranscriptionText".to_string(), text.clone()));
                }
                p.extend([
                    (
                        "TranscriptionStatus".to_string(),
                        if transcribed { "completed" } else { "failed" }.to_string(),
                    ),
                    ("TranscriptionType".to_string(), "fast".to_string()),
                    ("RecordingSid".to_string(), rec_sid.clone()),
                    ("RecordingUrl".to_string(), rec_url.clone()),
                    ("url".to_string(), url.to_string()),
                ]);
                let job = HookJob {
                    purpose: HookPurpose::Transcription,
                    call_sid: Some(self.sid.clone()),
                    url: url.to_string(),
                    method: HttpMethod::Post,
                    params: p,
                };
                // Transcription is asynchronous at Twilio: it arrives after the action request.
                let hooks = st.hooks.clone();
                let delay = self.emulator.transcription_delay(TRANSCRIPTION_SECS);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = hooks.send(job);
                });
            }
        }
        if (record.transcribe || record.transcribe_callback.is_some())
            && !crate::recording::transcribable(length)
        {
            self.error(EmulatorError::new(
                13617,
                format!(
                    "Record: recording length {length:.1} s is out of range for transcription (more than {} and less than {} seconds)",
                    crate::recording::TRANSCRIBABLE_SECS.start,
                    crate::recording::TRANSCRIBABLE_SECS.end
                ),
            ));
        }
        let Some(url) = action_url else {
            return match stop {
                Some(s) => Err(s),
                None => Ok(Flow::Next),
            };
        };
        let src = TwimlSource::Fetch {
            url,
            method: record.method,
            extra,
            purpose: HookPurpose::Action,
        };
        match stop {
            // Twilio still reports a recording the caller hung up on; the TwiML it gets back is
            // not executed because there is no call left to execute it on.
            Some(s) => {
                if let TwimlSource::Fetch {
                    url,
                    method,
                    extra,
                    purpose,
                } = src
                {
                    let mut params = self.state().call_params(&self.sid);
                    params.extend(extra);
                    if let Err(e) = self
                        .emulator
                        .request(purpose, Some(&self.sid), &url, method, params)
                        .await
                    {
                        self.error(e);
                    }
                }
                Err(s)
            }
            None => Ok(Flow::Goto(src)),
        }
    }

    // ----- Dial -----

    async fn dial(&mut self, dial: &Dial) -> Result<Flow, Stop> {
        let clock = self.emulator.inner.clock.clone();
        let started = clock.now();
        let (mut extra, stop) = match &dial.target {
            DialTarget::Conference(noun) => {
                // Callback URLs are resolved now, against this document, like every other URL.
                let mut noun = noun.clone();
                if let Some(cb) = &noun.status_callback {
                    match self.resolve(cb) {
                        Ok(u) => noun.status_callback = Some(u.to_string()),
                        Err(e) => {
                            self.error(e);
                            noun.status_callback = None;
                        }
                    }
                }
                let conf_sid = self.state().conference_for(&noun.name);
                let stop = self.conference(&conf_sid, &noun, Some(dial)).await;
                (
                    vec![("DialCallStatus".to_string(), "completed".to_string())],
                    stop,
                )
            }
            DialTarget::Number(n) => self.dial_number(dial, n).await,
        };
        if !extra.iter().any(|(k, _)| k == "DialCallDuration") {
            extra.push((
                "DialCallDuration".to_string(),
                ((clock.now() - started).max(0.0).round() as u64).to_string(),
            ));
        }
        if let Some(stop) = stop {
            return Err(stop);
        }
        match &dial.action {
            None => Ok(Flow::Next),
            Some(a) => match self.resolve(a) {
                Ok(url) => Ok(Flow::Goto(TwimlSource::Fetch {
                    url,
                    method: dial.method,
                    extra,
                    purpose: HookPurpose::Action,
                })),
                Err(e) => {
                    self.error(e);
                    Ok(Flow::Hangup)
                }
            },
        }
    }

    /// Sits in a conference until leaving it. Returns the stop that ended the call, if any.
    pub(crate) async fn conference(
        &mut self,
        conf_sid: &str,
        noun: &ConferenceNoun,
        dial: Option<&Dial>,
    ) -> Option<Stop> {
        // A refused join is logged and the call goes on with its next verb, as Twilio documents
        // for a label in use (https://www.twilio.com/docs/api/errors/16025).
        let joined = self.state().join_conference(conf_sid, &self.sid, noun);
        if let Err(e) = joined {
            self.error(e);
            return None;
        }
        if let Some(url) = noun.wait_url.as_deref().filter(|u| !u.is_empty())
            && let Ok(u) = self.resolve(url)
        {
            self.emulator
                .spawn_wait_music(&self.sid, conf_sid, u, noun.wait_method);
        }
        let time_limit = dial.map(|d| self.emulator.inner.clock.deadline(d.time_limit as f64));
        let hangup_on_star = dial.is_some_and(|d| d.hangup_on_star);
        loop {
            let Some(control) = self.recv_until(time_limit).await else {
                self.state()
                    .leave_conference(&self.sid, "participant_hung_up");
                return None;
            };
            match self.common(control) {
                Err(stop) => {
                    let reason = match stop {
                        // The call ended (either side hung up, or the API completed it).
                        Stop::FarHangup | Stop::Completed => "participant_hung_up",
                        Stop::Redirect(_) => "participant_updated_via_api",
                    };
                    self.state().leave_conference(&self.sid, reason);
                    return Some(stop);
                }
                Ok(Some(CallControl::Kicked)) => return None,
                Ok(Some(CallControl::Dtmf('*'))) if hangup_on_star => {
                    self.state()
                        .leave_conference(&self.sid, "participant_hung_up");
                    return None;
                }
                Ok(_) => {}
            }
        }
    }

    async fn dial_number(
        &mut self,
        dial: &Dial,
        number: &twiml::NumberNoun,
    ) -> (Vec<(String, String)>, Option<Stop>) {
        let from = dial.caller_id.clone().unwrap_or_else(|| {
            let st = self.state();
            let c = &st.calls[&self.sid];
            if c.direction == Direction::Inbound {
                c.from.clone()
            } else {
                c.to.clone()
            }
        });
        let callback = number
            .status_callback
            .as_ref()
            .and_then(|u| self.resolve(u).ok())
            .map(|url| StatusCallback {
                url: url.to_string(),
                method: number.status_callback_method,
                events: if number.status_callback_event.is_empty() {
                    vec!["completed".into()]
                } else {
                    number.status_callback_event.clone()
                },
            });
        let child = self.emulator.start_outbound(Outbound {
            from,
            to: number.number.clone(),
            direction: Direction::OutboundDial,
            parent: Some(self.sid.clone()),
            timeout: dial.timeout,
            send_digits: number.send_digits.clone(),
            machine_detection: false,
            callback,
            on_answer: OnAnswer::Bridge {
                parent: self.sid.clone(),
            },
            paced: false,
        });
        let clock = self.emulator.inner.clock.clone();
        let mut answered_at: Option<f64> = None;
        let mut limit: Option<Instant> = None;
        let mut stop = None;
        let status = loop {
            let Some(control) = self.recv_until(limit).await else {
                // timeLimit reached: Twilio hangs up the dialled party.
                self.state().send_control(&child, CallControl::Complete);
                limit = None;
                continue;
            };
            match self.common(control) {
                Err(s) => {
                    self.state().send_control(&child, CallControl::Complete);
                    stop = Some(s);
                    break CallStatus::Completed;
                }
                Ok(Some(CallControl::ChildAnswered(c))) if c == child => {
                    answered_at = Some(clock.now());
                    limit = Some(clock.deadline(dial.time_limit as f64));
                    let mut st = self.state();
                    if let Some(me) = st.calls.get_mut(&self.sid) {
                        me.activity = Activity::Bridged(child.clone());
                    }
                    if let Some(ch) = st.calls.get_mut(&child) {
                        ch.activity = Activity::Bridged(self.sid.clone());
                    }
                }
                Ok(Some(CallControl::ChildEnded(c, status))) if c == child => break status,
                Ok(Some(CallControl::Dtmf('*')))
                    if dial.hangup_on_star && answered_at.is_some() =>
                {
                    self.state().send_control(&child, CallControl::Complete);
                }
                Ok(_) => {}
            }
        };
        self.set_activity(Activity::Idle);
        let duration = answered_at
            .map(|a| (clock.now() - a).max(0.0).round() as u64)
            .unwrap_or(0);
        let dial_status = if answered_at.is_some() {
            CallStatus::Completed
        } else {
            status
        };
        (
            vec![
                (
                    "DialCallStatus".to_string(),
                    dial_status.as_str().to_string(),
                ),
                ("DialCallSid".to_string(), child),
                ("DialCallDuration".to_string(), duration.to_string()),
            ],
            stop,
        )
    }

    /// Ends the call: leaves any conference, sets the final status, tells the far end.
    pub(crate) fn finish(&mut self, status: CallStatus) {
        let mut st = self.state();
        let Some(c) = st.calls.get(&self.sid) else {
            return;
        };
        if c.status.is_final() {
            return;
        }
        let activity = c.activity.clone();
        let answered = c.answered_at.is_some();
        let far = c.far.clone();
        let parent = c.parent.clone();
        match activity {
            Activity::Conference(_) => st.leave_conference(&self.sid, "participant_hung_up"),
            Activity::Bridged(other) => {
                if let Some(o) = st.calls.get_mut(&other) {
                    o.activity = Activity::Idle;
                }
            }
            _ => {}
        }
        st.drop_pending_participant(&self.sid, status);
        st.set_status(&self.sid, status);
        if let FarEnd::Leg(other) = far {
            if let Some(o) = st.calls.get_mut(&other) {
                o.far_gone = true;
            }
            st.send_control(
                &other,
                if answered {
                    CallControl::FarHangup
                } else {
                    CallControl::FarFailed(status)
                },
            );
        }
        if let Some(p) = parent {
            st.send_control(&p, CallControl::ChildEnded(self.sid.clone(), status));
        }
    }
}

/// Twilio's `<Say>` length limits (warning 13521): 4,096 characters; the text URL-encoded at
/// most 4,500 characters; Polly voices at most 3,000 UTF-8 bytes, Google voices 5,000.
pub(crate) fn say_limit_violation(text: &str, voice: Option<&str>) -> Option<String> {
    let chars = text.chars().count();
    if chars > 4096 {
        return Some(format!(
            "<Say> text has {chars} characters, over the limit of 4096"
        ));
    }
    let encoded: usize = text
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                1
            } else {
                3
            }
        })
        .sum();
    if encoded > 4500 {
        return Some(format!(
            "<Say> text is {encoded} characters URL-encoded, over the limit of 4500"
        ));
    }
    let bytes = text.len();
    match voice {
        Some(v) if v.starts_with("Polly.") && bytes > 3000 => Some(format!(
            "<Say> text is {bytes} UTF-8 bytes, over the Polly limit of 3000"
        )),
        Some(v) if v.starts_with("Google.") && bytes > 5000 => Some(format!(
            "<Say> text is {bytes} UTF-8 bytes, over the Google limit of 5000"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::say_limit_violation;

    #[test]
    fn say_limits() {
        assert!(say_limit_violation("hello", None).is_none());
        assert!(say_limit_violation(&"a".repeat(4096), None).is_none());
        assert!(say_limit_violation(&"a".repeat(4097), None).is_some());
        // 500 Japanese characters: 1,500 bytes, 4,500 URL-encoded: just fits.
        let ja = "あ".repeat(500);
        assert!(say_limit_violation(&ja, Some("Polly.Mizuki")).is_none());
        assert!(say_limit_violation(&"あ".repeat(501), Some("Polly.Mizuki")).is_some());
        // Polly's byte limit bites before the character limit for plain ASCII with spaces.
        assert!(say_limit_violation(&"ab ".repeat(1001), Some("Polly.Joanna")).is_some());
    }
}
