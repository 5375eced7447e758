//! Conferences: membership, start and end rules, status callbacks, announcements and wait music.
//!
//! Rules (Twilio's): a conference is created, in status `init`, by its first participant, whose
//! `statusCallback`/`statusCallbackEvent` then govern it. It starts (`conference-start`) when a
//! participant with `startConferenceOnEnter=true` joins it while someone is already in: the
//! strictest reading of Twilio's words (see [`State::join_conference`]). Until then everyone
//! hears the wait music and nobody hears anybody (a participant waiting is muted). It ends when a
//! participant with `endConferenceOnExit=true` leaves (the others are removed and carry on with
//! their TwiML after `<Dial>`), when the last participant leaves, or through the REST API.

use std::time::SystemTime;

use url::Url;

use crate::Emulator;
use crate::audio::{DEFAULT_HOLD_MUSIC, PLAY_SECS, Sound, TOKEN_SECS, Voice};
use crate::call::say_limit_violation;
use crate::call_status::CallStatus;
use crate::clock::{new_sid, rfc2822};
use crate::control::CallControl;
use crate::error::{ApiError, EmulatorError};
use crate::events::{CallEventKind, EmulatorEvent};
use crate::participant_label;
use crate::state::{
    Activity, ConferenceCallback, ConferenceRecord, ConferenceStatus, ParticipantRecord, State,
};
use crate::twiml::{self, Beep, ConferenceNoun, HttpMethod, Verb};
use crate::webhook::{HookJob, HookPurpose};

/// The `statusCallbackEvent` group an event belongs to.
fn group_of(event: &str) -> &'static str {
    match event {
        "conference-start" => "start",
        "conference-end" => "end",
        "participant-join" => "join",
        "participant-leave" => "leave",
        "participant-mute" | "participant-unmute" => "mute",
        "participant-hold" | "participant-unhold" => "hold",
        "participant-modify" => "modify",
        "participant-speech-start" | "participant-speech-stop" => "speaker",
        _ => "announcement",
    }
}

fn tf(b: bool) -> String {
    if b { "true".into() } else { "false".into() }
}

fn participant_params(participant: &ParticipantRecord) -> Vec<(String, String)> {
    let mut v = vec![
        ("CallSid".to_string(), participant.call_sid.clone()),
        ("Coaching".to_string(), "false".to_string()),
        (
            "EndConferenceOnExit".to_string(),
            tf(participant.end_on_exit),
        ),
        ("Hold".to_string(), tf(participant.hold)),
        ("Muted".to_string(), tf(participant.muted)),
        (
            "StartConferenceOnEnter".to_string(),
            tf(participant.start_on_enter),
        ),
    ];
    if let Some(l) = &participant.label {
        v.push(("ParticipantLabel".to_string(), l.clone()));
    }
    v
}

/// `beep` with its beep on exit turned on or off (`BeepOnExit`), its beep on entering kept.
fn beep_with_exit(beep: Beep, on_exit: bool) -> Beep {
    match (beep.on_enter(), on_exit) {
        (true, true) => Beep::Both,
        (true, false) => Beep::OnEnter,
        (false, true) => Beep::OnExit,
        (false, false) => Beep::Never,
    }
}

/// What a REST update of a participant changes (`None`: left as it is).
#[derive(Debug, Default)]
pub(crate) struct ParticipantUpdate {
    pub muted: Option<bool>,
    pub hold: Option<bool>,
    pub end_conference_on_exit: Option<bool>,
    pub beep_on_exit: Option<bool>,
}

impl ParticipantRecord {
    /// A participant as `noun` puts it in.
    pub(crate) fn joining(call_sid: &str, noun: &ConferenceNoun) -> ParticipantRecord {
        let now = SystemTime::now();
        ParticipantRecord {
            call_sid: call_sid.to_string(),
            label: noun.participant_label.clone(),
            muted: noun.muted,
            hold: false,
            start_on_enter: noun.start_conference_on_enter,
            end_on_exit: noun.end_conference_on_exit,
            beep: noun.beep,
            date_created: now,
            date_updated: now,
        }
    }
}

impl ConferenceRecord {
    /// Whether another participant, in or still being dialled, has `label`: labels are unique
    /// across both (https://www.twilio.com/docs/api/errors/16025,
    /// https://www.twilio.com/docs/api/errors/16026).
    pub(crate) fn label_in_use(&self, label: &str, except: &str) -> bool {
        self.participants
            .iter()
            .chain(&self.pending)
            .any(|p| p.call_sid != except && p.label.as_deref() == Some(label))
    }
}

impl State {
    /// The live conference called `name`, created (status `init`, no participants) if needed.
    pub(crate) fn conference_for(&mut self, name: &str) -> String {
        if let Some(sid) = self.conf_order.iter().find(|s| {
            self.confs[*s].friendly_name == name
                && self.confs[*s].status != ConferenceStatus::Completed
        }) {
            return sid.clone();
        }
        let sid = new_sid("CF");
        let now = SystemTime::now();
        self.confs.insert(
            sid.clone(),
            ConferenceRecord {
                sid: sid.clone(),
                friendly_name: name.to_string(),
                status: ConferenceStatus::Init,
                date_created: now,
                date_updated: now,
                participants: Vec::new(),
                callback: None,
                configured: false,
                seq: 0,
                max_participants: 250,
                reason_ended: None,
                call_sid_ending: None,
                record: false,
                recording: Default::default(),
                pending: Vec::new(),
            },
        );
        self.conf_order.push(sid.clone());
        sid
    }

    /// Reports a conference event to the live feed and, if subscribed, to the status callback.
    pub(crate) fn conf_event(
        &mut self,
        conf_sid: &str,
        event: &str,
        participant: Option<&ParticipantRecord>,
        extra: Vec<(String, String)>,
    ) {
        let account = self.account_sid.clone();
        let Some(conf) = self.confs.get_mut(conf_sid) else {
            return;
        };
        let _ = self.tx.send(EmulatorEvent::Conference {
            conference_sid: conf_sid.to_string(),
            friendly_name: conf.friendly_name.clone(),
            event: event.to_string(),
            call_sid: participant.map(|p| p.call_sid.clone()),
        });
        let Some(cb) = &conf.callback else { return };
        if !cb.groups.iter().any(|g| g == group_of(event)) {
            return;
        }
        let mut params = vec![
            ("AccountSid".to_string(), account),
            ("ConferenceSid".to_string(), conf.sid.clone()),
            ("FriendlyName".to_string(), conf.friendly_name.clone()),
            ("SequenceNumber".to_string(), conf.seq.to_string()),
            ("StatusCallbackEvent".to_string(), event.to_string()),
            ("Timestamp".to_string(), rfc2822(SystemTime::now())),
        ];
        conf.seq += 1;
        if let Some(p) = participant {
            params.extend(participant_params(p));
        }
        params.extend(extra);
        let job = HookJob {
            purpose: HookPurpose::ConferenceStatus,
            call_sid: participant.map(|p| p.call_sid.clone()),
            url: cb.url.clone(),
            method: cb.method,
            params,
        };
        let _ = self.hooks.send(job);
    }

    /// Puts `call_sid` into the conference, or says why Twilio would not.
    pub(crate) fn join_conference(
        &mut self,
        conf_sid: &str,
        call_sid: &str,
        noun: &ConferenceNoun,
    ) -> Result<(), EmulatorError> {
        let refused = |code, why: String| Err(EmulatorError::new(code, why));
        let Some(conf) = self.confs.get_mut(conf_sid) else {
            return refused(16001, "conference not found".into());
        };
        if conf.status == ConferenceStatus::Completed {
            return refused(
                16001,
                format!("conference {} has ended", conf.friendly_name),
            );
        }
        if let Some(label) = &noun.participant_label {
            // 16023: "Dial->Conference: Invalid participant label".
            if let Some(why) = participant_label::violation(label) {
                return refused(16023, why);
            }
            // 16025: the call is not added and goes on with its next verb.
            if conf.label_in_use(label, call_sid) {
                return refused(
                    16025,
                    format!("participantLabel {label:?} is already in use"),
                );
            }
        }
        if !conf.configured {
            conf.configured = true;
            conf.max_participants = noun.max_participants;
            conf.record = noun.record;
            conf.callback = noun.status_callback.as_ref().map(|url| ConferenceCallback {
                url: url.clone(),
                method: noun.status_callback_method,
                groups: noun.status_callback_event.clone(),
            });
        }
        if conf.participants.len() as u32 >= conf.max_participants {
            return refused(16001, format!("conference {} is full", conf.friendly_name));
        }
        let mut part = ParticipantRecord::joining(call_sid, noun);
        if let Some(dialled) = conf.pending.iter().find(|p| p.call_sid == call_sid) {
            part.date_created = dialled.date_created;
        }
        let beep_others = noun.beep.on_enter() && conf.status == ConferenceStatus::InProgress;
        let others: Vec<String> = conf
            .participants
            .iter()
            .map(|p| p.call_sid.clone())
            .collect();
        conf.participants.push(part);
        conf.pending.retain(|p| p.call_sid != call_sid);
        conf.date_updated = SystemTime::now();
        let name = conf.friendly_name.clone();
        // Twilio: the start event "occurs when there are at least two participants in the
        // conference, and at least one of the participants has startConferenceOnEnter=true", but
        // startConferenceOnEnter "tells a conference to start when this participant joins", and
        // one joining with false waits "until a participant joins where startConferenceOnEnter
        // is true". The strictest reading satisfies all three: only the join of a participant
        // with true starts a conference, and only if someone is already in it.
        let starts = conf.status == ConferenceStatus::Init
            && noun.start_conference_on_enter
            && !others.is_empty();
        if let Some(c) = self.calls.get_mut(call_sid) {
            c.activity = Activity::Conference(conf_sid.to_string());
        }
        self.call_event(
            call_sid,
            CallEventKind::ConferenceJoin {
                conference_sid: conf_sid.into(),
                friendly_name: name,
            },
        );
        let snapshot = self.part_snapshot(conf_sid, call_sid);
        self.conf_event(conf_sid, "participant-join", snapshot.as_ref(), Vec::new());
        if beep_others {
            for o in &others {
                self.send_to_far_end(o, &Sound::Beep);
            }
        }
        if starts {
            if let Some(conf) = self.confs.get_mut(conf_sid) {
                conf.status = ConferenceStatus::InProgress;
                conf.date_updated = SystemTime::now();
            }
            self.conf_event(conf_sid, "conference-start", None, Vec::new());
        } else if self.confs[conf_sid].status == ConferenceStatus::Init {
            // Waiting for the conference to start: the default wait music (a custom waitUrl is
            // fetched and played by its own task, see `spawn_wait_music`).
            if noun.wait_url.is_none() {
                self.send_to_far_end(
                    call_sid,
                    &Sound::Play {
                        url: DEFAULT_HOLD_MUSIC.to_string(),
                    },
                );
            }
        }
        Ok(())
    }

    fn part_snapshot(&self, conf_sid: &str, call_sid: &str) -> Option<ParticipantRecord> {
        self.confs
            .get(conf_sid)?
            .participants
            .iter()
            .find(|p| p.call_sid == call_sid)
            .cloned()
    }

    /// The conference `call_sid` is in, if any.
    pub(crate) fn conference_of(&self, call_sid: &str) -> Option<String> {
        match &self.calls.get(call_sid)?.activity {
            Activity::Conference(c) => Some(c.clone()),
            _ => None,
        }
    }

    /// Removes `call_sid` from its conference, which may end the conference.
    pub(crate) fn leave_conference(&mut self, call_sid: &str, reason: &str) {
        let Some(conf_sid) = self.conference_of(call_sid) else {
            return;
        };
        let Some(part) = self.remove_participant(&conf_sid, call_sid, reason) else {
            return;
        };
        let conf = &self.confs[&conf_sid];
        if part.beep.on_exit() && conf.status == ConferenceStatus::InProgress {
            let others: Vec<String> = conf
                .participants
                .iter()
                .map(|p| p.call_sid.clone())
                .collect();
            for o in others {
                self.send_to_far_end(&o, &Sound::Beep);
            }
        }
        let conf = &self.confs[&conf_sid];
        if conf.status != ConferenceStatus::Completed {
            if part.end_on_exit {
                self.end_conference(
                    &conf_sid,
                    "participant-with-end-conference-on-exit-left",
                    Some(call_sid),
                );
            } else if conf.participants.is_empty() && conf.pending.is_empty() {
                self.end_conference(&conf_sid, "last-participant-left", Some(call_sid));
            }
        }
    }

    fn remove_participant(
        &mut self,
        conf_sid: &str,
        call_sid: &str,
        reason: &str,
    ) -> Option<ParticipantRecord> {
        let conf = self.confs.get_mut(conf_sid)?;
        let idx = conf
            .participants
            .iter()
            .position(|p| p.call_sid == call_sid)?;
        let part = conf.participants.remove(idx);
        conf.date_updated = SystemTime::now();
        let call_status = match self.calls.get_mut(call_sid) {
            Some(c) => {
                c.activity = Activity::Idle;
                // A participant leaving because its call ended reports the call as completed.
                if reason == "participant_hung_up" {
                    "completed"
                } else {
                    c.status.as_str()
                }
            }
            None => "completed",
        };
        self.call_event(
            call_sid,
            CallEventKind::ConferenceLeave {
                conference_sid: conf_sid.into(),
                reason: reason.into(),
            },
        );
        self.conf_event(
            conf_sid,
            "participant-leave",
            Some(&part),
            vec![
                ("ReasonParticipantLeft".to_string(), reason.to_string()),
                ("ParticipantCallStatus".to_string(), call_status.to_string()),
            ],
        );
        Some(part)
    }

    /// Ends a conference: everyone still in is removed and continues after their `<Dial>`.
    pub(crate) fn end_conference(
        &mut self,
        conf_sid: &str,
        reason: &str,
        ending_call: Option<&str>,
    ) {
        let Some(conf) = self.confs.get_mut(conf_sid) else {
            return;
        };
        if conf.status == ConferenceStatus::Completed {
            return;
        }
        conf.status = ConferenceStatus::Completed;
        conf.reason_ended = Some(reason.to_string());
        conf.call_sid_ending = ending_call.map(str::to_string);
        conf.date_updated = SystemTime::now();
        let remaining: Vec<String> = conf
            .participants
            .iter()
            .map(|p| p.call_sid.clone())
            .collect();
        let pending = std::mem::take(&mut conf.pending);
        let record = conf.record.then(|| conf.recording.text());
        let leave_reason = match reason {
            "conference-ended-via-api" => "conference_ended_via_api",
            "participant-with-end-conference-on-exit-left" => {
                "participant_with_end_conference_on_exit_left"
            }
            _ => "conference_ended",
        };
        for call in &remaining {
            self.remove_participant(conf_sid, call, leave_reason);
            self.send_control(call, CallControl::Kicked);
        }
        // Participants still being dialled never join: their calls are canceled, and each is
        // reported leaving, as one that never answered is.
        for part in &pending {
            self.never_joined(conf_sid, part, CallStatus::Canceled);
            self.send_control(&part.call_sid, CallControl::Complete);
        }
        let mut extra = vec![("ReasonConferenceEnded".to_string(), reason.to_string())];
        if let Some(c) = ending_call {
            extra.push(("CallSidEndingConference".to_string(), c.to_string()));
        }
        self.conf_event(conf_sid, "conference-end", None, extra);
        if let Some(text) = record {
            self.new_recording(None, Some(conf_sid), 0, text, "DialVerb");
        }
    }

    /// A Participants-API call ended (`status`) before it joined: it is reported leaving, and no
    /// longer holds its conference open.
    pub(crate) fn drop_pending_participant(&mut self, call_sid: &str, status: CallStatus) {
        let Some((conf_sid, part)) = self.confs.values_mut().find_map(|c| {
            let i = c.pending.iter().position(|p| p.call_sid == call_sid)?;
            Some((c.sid.clone(), c.pending.remove(i)))
        }) else {
            return;
        };
        self.never_joined(&conf_sid, &part, status);
        let conf = self.confs.get_mut(&conf_sid).expect("found above");
        if conf.participants.is_empty() && conf.pending.is_empty() {
            if conf.configured {
                self.end_conference(&conf_sid, "last-participant-left", None);
            } else {
                // Nobody ever joined: for Twilio the conference never existed.
                conf.status = ConferenceStatus::Completed;
            }
        }
    }

    /// `participant-leave` for a participant dialled in through the API that never joined. Twilio
    /// sends it so that an application need not match the call's own status callbacks
    /// (https://www.twilio.com/en-us/changelog/participantcallstatus-and-reasonparticipantleft-attributes-added);
    /// `participant_add_failed` is the documented reason that fits.
    fn never_joined(&mut self, conf_sid: &str, part: &ParticipantRecord, status: CallStatus) {
        self.conf_event(
            conf_sid,
            "participant-leave",
            Some(part),
            vec![
                (
                    "ReasonParticipantLeft".to_string(),
                    "participant_add_failed".to_string(),
                ),
                (
                    "ParticipantCallStatus".to_string(),
                    status.as_str().to_string(),
                ),
            ],
        );
    }

    /// Applies a REST update to a participant in the conference; false if it is not in it.
    pub(crate) fn update_participant(
        &mut self,
        conf_sid: &str,
        call_sid: &str,
        update: &ParticipantUpdate,
    ) -> bool {
        let Some(conf) = self.confs.get_mut(conf_sid) else {
            return false;
        };
        let Some(p) = conf
            .participants
            .iter_mut()
            .find(|p| p.call_sid == call_sid)
        else {
            return false;
        };
        let mut events = Vec::new();
        if let Some(m) = update.muted
            && p.muted != m
        {
            p.muted = m;
            events.push(if m {
                "participant-mute"
            } else {
                "participant-unmute"
            });
        }
        let mut now_on_hold = false;
        if let Some(h) = update.hold
            && p.hold != h
        {
            p.hold = h;
            now_on_hold = h;
            events.push(if h {
                "participant-hold"
            } else {
                "participant-unhold"
            });
        }
        // `modify` reports a change of "BeepOnExit, EndConferenceOnExit, Coaching, WaitUrl"
        // (https://www.twilio.com/docs/voice/twiml/conference#attributes-status-callback-event).
        let mut modified = false;
        if let Some(end) = update.end_conference_on_exit
            && p.end_on_exit != end
        {
            p.end_on_exit = end;
            modified = true;
        }
        if let Some(beep) = update.beep_on_exit
            && p.beep.on_exit() != beep
        {
            p.beep = beep_with_exit(p.beep, beep);
            modified = true;
        }
        if modified {
            events.push("participant-modify");
        }
        p.date_updated = SystemTime::now();
        for e in events {
            let snap = self.part_snapshot(conf_sid, call_sid);
            self.conf_event(conf_sid, e, snap.as_ref(), Vec::new());
        }
        if now_on_hold {
            self.send_to_far_end(
                call_sid,
                &Sound::Play {
                    url: DEFAULT_HOLD_MUSIC.to_string(),
                },
            );
        }
        true
    }

    /// Whether the REST API may play an announcement into `conf_sid` now. Twilio documents
    /// announcements into a live conference and says nothing of one that has not started
    /// (nobody hears anybody yet); the emulator refuses those with 16099 ("the requested
    /// conference is in an unexpected state for the desired operation"), the stricter reading.
    pub(crate) fn check_announceable(&self, conf_sid: &str) -> Result<(), ApiError> {
        match self.confs.get(conf_sid).map(|c| c.status) {
            Some(ConferenceStatus::InProgress) => Ok(()),
            Some(ConferenceStatus::Init) => Err(ApiError::bad_request(
                16099,
                "Conference has not started: cannot announce",
            )),
            _ => Err(ApiError::bad_request(
                20001,
                "Conference is not active: cannot announce",
            )),
        }
    }

    /// Sound played into a conference by the REST API: every participant not on hold hears it.
    fn announce_sound(&mut self, conf_sid: &str, target: Option<&str>, sound: &Sound) {
        let Some(conf) = self.confs.get(conf_sid) else {
            return;
        };
        let listeners: Vec<String> = conf
            .participants
            .iter()
            .filter(|p| !p.hold && target.is_none_or(|t| t == p.call_sid))
            .map(|p| p.call_sid.clone())
            .collect();
        for l in listeners {
            self.send_to_far_end(&l, sound);
        }
    }
}

impl Emulator {
    /// Plays an `AnnounceUrl` to a conference (or to one participant when `target` is set), then
    /// reports `announcement-end` or `announcement-fail`.
    pub(crate) fn spawn_announcement(
        &self,
        conf_sid: String,
        target: Option<String>,
        url: Url,
        method: HttpMethod,
    ) {
        let emulator = self.clone();
        tokio::spawn(async move {
            let result = emulator
                .announce(&conf_sid, target.as_deref(), url.clone(), method)
                .await;
            let mut st = emulator.inner.state.lock().unwrap();
            let part = target
                .as_deref()
                .and_then(|t| st.part_snapshot(&conf_sid, t));
            // Twilio sends announcement-fail "only if there is an internal Twilio error": a
            // document it could not fetch or run (the application's error, logged as such) ends
            // the announcement like any other, so `announcement-end` does not mean it was heard.
            if let Err(e) = result {
                st.record_error(e);
            }
            let extra = vec![("AnnounceUrl".to_string(), url.to_string())];
            st.conf_event(&conf_sid, "announcement-end", part.as_ref(), extra);
        });
    }

    async fn announce(
        &self,
        conf_sid: &str,
        target: Option<&str>,
        mut url: Url,
        mut method: HttpMethod,
    ) -> Result<(), EmulatorError> {
        let clock = self.inner.clock.clone();
        for _redirect in 0..10 {
            let params = {
                let st = self.inner.state.lock().unwrap();
                let conf = &st.confs[conf_sid];
                let mut p = vec![
                    ("AccountSid".to_string(), st.account_sid.clone()),
                    ("ApiVersion".to_string(), "2010-04-01".to_string()),
                    ("ConferenceSid".to_string(), conf_sid.to_string()),
                    ("FriendlyName".to_string(), conf.friendly_name.clone()),
                ];
                if let Some(t) = target {
                    p.push(("CallSid".to_string(), t.to_string()));
                }
                p
            };
            let answer = self
                .request(HookPurpose::Announce, target, &url, method, params)
                .await?;
            if !crate::webhook::is_xml(&answer.content_type) {
                return Err(EmulatorError::new(
                    12300,
                    format!(
                        "Invalid Content-Type {:?} for announcement TwiML",
                        answer.content_type
                    ),
                )
                .at_url(url.as_str()));
            }
            let doc = twiml::parse_announcement(&answer.body)
                .map_err(|e| EmulatorError::new(e.code, e.message).at_url(url.as_str()))?;
            let mut next = None;
            for verb in &doc.verbs {
                if self.inner.state.lock().unwrap().confs[conf_sid].status
                    == ConferenceStatus::Completed
                {
                    return Ok(());
                }
                match verb {
                    Verb::Say(s) => {
                        if let Some(why) = say_limit_violation(&s.text, s.voice.as_deref()) {
                            self.inner
                                .state
                                .lock()
                                .unwrap()
                                .record_error(EmulatorError::new(13521, why));
                            continue;
                        }
                        let loops = if s.loops == 0 { 1000 } else { s.loops };
                        for _ in 0..loops {
                            let utt = self.inner.state.lock().unwrap().utterance(
                                &s.text,
                                Voice::Say {
                                    voice: s.voice.clone(),
                                    language: s.language.clone(),
                                },
                            );
                            let start = tokio::time::Instant::now();
                            for idx in 0..utt.spans.len() {
                                self.inner.state.lock().unwrap().announce_sound(
                                    conf_sid,
                                    target,
                                    &Sound::Token {
                                        utt: utt.clone(),
                                        idx,
                                    },
                                );
                                tokio::time::sleep_until(
                                    start + clock.dur(TOKEN_SECS * (idx + 1) as f64),
                                )
                                .await;
                            }
                        }
                    }
                    Verb::Play(p) => {
                        let loops = if p.loops == 0 { 1000 } else { p.loops };
                        if let Some(u) = &p.url {
                            let u = url
                                .join(u)
                                .map(|u| u.to_string())
                                .unwrap_or_else(|_| u.clone());
                            for _ in 0..loops {
                                self.inner.state.lock().unwrap().announce_sound(
                                    conf_sid,
                                    target,
                                    &Sound::Play { url: u.clone() },
                                );
                                tokio::time::sleep(clock.dur(PLAY_SECS)).await;
                            }
                        }
                    }
                    Verb::Pause { length } => tokio::time::sleep(clock.dur(*length as f64)).await,
                    Verb::Redirect { url: u, method: m } => {
                        next = Some((
                            url.join(u)
                                .map_err(|e| EmulatorError::new(11100, e.to_string()))?,
                            *m,
                        ));
                        break;
                    }
                    _ => {}
                }
            }
            match next {
                Some((u, m)) => {
                    url = u;
                    method = m;
                }
                None => return Ok(()),
            }
        }
        Err(EmulatorError::new(
            12400,
            "announcement redirected too many times",
        ))
    }

    /// A custom `waitUrl`: fetched like Twilio does and its `<Say>`/`<Play>`/`<Pause>`/`<Redirect>`
    /// played to the waiting participant until the conference starts or they leave; silence once
    /// the document runs out (https://www.twilio.com/docs/voice/twiml/conference#attributes-waiturl).
    pub(crate) fn spawn_wait_music(
        &self,
        call_sid: &str,
        conf_sid: &str,
        url: Url,
        method: HttpMethod,
    ) {
        let emulator = self.clone();
        let call_sid = call_sid.to_string();
        let conf_sid = conf_sid.to_string();
        tokio::spawn(async move {
            let clock = emulator.inner.clock.clone();
            let waiting = |emulator: &Emulator| {
                let st = emulator.inner.state.lock().unwrap();
                st.confs
                    .get(&conf_sid)
                    .is_some_and(|c| c.status == ConferenceStatus::Init)
                    && st.conference_of(&call_sid).as_deref() == Some(conf_sid.as_str())
            };
            let (mut url, mut method) = (url, method);
            for _round in 0..100 {
                if !waiting(&emulator) {
                    return;
                }
                let params = {
                    let st = emulator.inner.state.lock().unwrap();
                    let mut p = st.call_params(&call_sid);
                    p.push(("ConferenceSid".to_string(), conf_sid.clone()));
                    p.push((
                        "FriendlyName".to_string(),
                        st.confs[&conf_sid].friendly_name.clone(),
                    ));
                    p
                };
                let answer = match emulator
                    .request(HookPurpose::Wait, Some(&call_sid), &url, method, params)
                    .await
                {
                    Ok(a) => a,
                    Err(e) => {
                        emulator.inner.state.lock().unwrap().record_error(e);
                        return;
                    }
                };
                let doc = match twiml::parse_announcement(&answer.body) {
                    Ok(d) => d,
                    Err(e) => {
                        emulator.inner.state.lock().unwrap().record_error(
                            EmulatorError::new(e.code, format!("waitUrl: {}", e.message))
                                .at_url(url.as_str())
                                .on_call(&call_sid),
                        );
                        return;
                    }
                };
                let mut redirected = false;
                for verb in &doc.verbs {
                    if !waiting(&emulator) {
                        return;
                    }
                    match verb {
                        Verb::Say(s) => {
                            let utt = emulator.inner.state.lock().unwrap().utterance(
                                &s.text,
                                Voice::Say {
                                    voice: s.voice.clone(),
                                    language: s.language.clone(),
                                },
                            );
                            for idx in 0..utt.spans.len() {
                                if !waiting(&emulator) {
                                    return;
                                }
                                emulator.inner.state.lock().unwrap().send_to_far_end(
                                    &call_sid,
                                    &Sound::Token {
                                        utt: utt.clone(),
                                        idx,
                                    },
                                );
                                tokio::time::sleep(clock.dur(TOKEN_SECS)).await;
                            }
                        }
                        Verb::Play(p) => {
                            if let Some(u) = &p.url {
                                let u = url
                                    .join(u)
                                    .map(|u| u.to_string())
                                    .unwrap_or_else(|_| u.clone());
                                emulator
                                    .inner
                                    .state
                                    .lock()
                                    .unwrap()
                                    .send_to_far_end(&call_sid, &Sound::Play { url: u });
                                tokio::time::sleep(clock.dur(PLAY_SECS)).await;
                            }
                        }
                        Verb::Pause { length } => {
                            tokio::time::sleep(clock.dur(*length as f64)).await
                        }
                        Verb::Redirect { url: u, method: m } => {
                            if let Ok(u) = url.join(u) {
                                url = u;
                                method = *m;
                                redirected = true;
                            }
                            break;
                        }
                        _ => {}
                    }
                }
                if !redirected {
                    // "Once the TwiML document located at the waitUrl runs out of verbs to
                    // execute, silence will be played" (a `<Redirect>` loops it).
                    return;
                }
            }
        });
    }
}
