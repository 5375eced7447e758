//! Conferences: membership, start and end rules, status callbacks, announcements and wait music.
//!
//! Rules (Twilio's): a conference is created, in status `init`, by its first participant, whose
//! `statusCallback`/`statusCallbackEvent` then govern it. It starts (`conference-start`) when at
//! least two participants are in and one has `startConferenceOnEnter=true`; until then everyone
//! hears the wait music and nobody hears anybody. It ends when a participant with
//! `endConferenceOnExit=true` leaves (the others are removed and carry on with their TwiML after
//! `<Dial>`), when the last participant leaves, or through the REST API.

use std::time::SystemTime;

use url::Url;

use crate::Emulator;
use crate::audio::{DEFAULT_HOLD_MUSIC, PLAY_SECS, Sound, TOKEN_SECS, Voice};
use crate::call::{Ctl, say_limit_violation};
use crate::clock::{new_sid, rfc2822};
use crate::error::{ApiError, EmulatorError};
use crate::events::{CallEventKind, EmulatorEvent};
use crate::state::{Activity, ConfCallback, ConfRec, ConfStatus, PartRec, State};
use crate::twiml::{self, ConferenceNoun, HttpMethod, Verb};
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

fn participant_params(p: &PartRec) -> Vec<(String, String)> {
    let mut v = vec![
        ("CallSid".to_string(), p.call_sid.clone()),
        ("Coaching".to_string(), "false".to_string()),
        ("EndConferenceOnExit".to_string(), tf(p.end_on_exit)),
        ("Hold".to_string(), tf(p.hold)),
        ("Muted".to_string(), tf(p.muted)),
        ("StartConferenceOnEnter".to_string(), tf(p.start_on_enter)),
    ];
    if let Some(l) = &p.label {
        v.push(("ParticipantLabel".to_string(), l.clone()));
    }
    v
}

impl State {
    /// The live conference called `name`, created (status `init`, no participants) if needed.
    pub(crate) fn conference_for(&mut self, name: &str) -> String {
        if let Some(sid) = self.conf_order.iter().find(|s| {
            self.confs[*s].friendly_name == name && self.confs[*s].status != ConfStatus::Completed
        }) {
            return sid.clone();
        }
        let sid = new_sid("CF");
        let now = SystemTime::now();
        self.confs.insert(
            sid.clone(),
            ConfRec {
                sid: sid.clone(),
                friendly_name: name.to_string(),
                status: ConfStatus::Init,
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
        participant: Option<&PartRec>,
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

    /// Puts `call_sid` into the conference.
    pub(crate) fn join_conference(
        &mut self,
        conf_sid: &str,
        call_sid: &str,
        noun: &ConferenceNoun,
    ) -> Result<(), String> {
        let Some(conf) = self.confs.get_mut(conf_sid) else {
            return Err("conference not found".into());
        };
        if conf.status == ConfStatus::Completed {
            return Err(format!("conference {} has ended", conf.friendly_name));
        }
        if !conf.configured {
            conf.configured = true;
            conf.max_participants = noun.max_participants;
            conf.record = noun.record;
            conf.callback = noun.status_callback.as_ref().map(|url| ConfCallback {
                url: url.clone(),
                method: noun.status_callback_method,
                groups: noun.status_callback_event.clone(),
            });
        }
        if conf.participants.len() as u32 >= conf.max_participants {
            return Err(format!("conference {} is full", conf.friendly_name));
        }
        if let Some(label) = &noun.participant_label
            && conf
                .participants
                .iter()
                .any(|p| p.label.as_ref() == Some(label))
        {
            return Err(format!("participantLabel {label:?} is already in use"));
        }
        let now = SystemTime::now();
        let part = PartRec {
            call_sid: call_sid.to_string(),
            label: noun.participant_label.clone(),
            muted: noun.muted,
            hold: false,
            start_on_enter: noun.start_conference_on_enter,
            end_on_exit: noun.end_conference_on_exit,
            beep: noun.beep,
            date_created: now,
            date_updated: now,
        };
        let beep_others = noun.beep.on_enter() && conf.status == ConfStatus::InProgress;
        let others: Vec<String> = conf
            .participants
            .iter()
            .map(|p| p.call_sid.clone())
            .collect();
        conf.participants.push(part);
        conf.pending.retain(|c| c != call_sid);
        conf.date_updated = now;
        let name = conf.friendly_name.clone();
        let starts = conf.status == ConfStatus::Init
            && conf.participants.len() >= 2
            && conf.participants.iter().any(|p| p.start_on_enter);
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
                conf.status = ConfStatus::InProgress;
                conf.date_updated = SystemTime::now();
            }
            self.conf_event(conf_sid, "conference-start", None, Vec::new());
        } else if self.confs[conf_sid].status == ConfStatus::Init {
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

    fn part_snapshot(&self, conf_sid: &str, call_sid: &str) -> Option<PartRec> {
        self.confs
            .get(conf_sid)?
            .participants
            .iter()
            .find(|p| p.call_sid == call_sid)
            .map(|p| PartRec {
                call_sid: p.call_sid.clone(),
                label: p.label.clone(),
                muted: p.muted,
                hold: p.hold,
                start_on_enter: p.start_on_enter,
                end_on_exit: p.end_on_exit,
                beep: p.beep,
                date_created: p.date_created,
                date_updated: p.date_updated,
            })
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
        if part.beep.on_exit() && conf.status == ConfStatus::InProgress {
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
        if conf.status != ConfStatus::Completed {
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
    ) -> Option<PartRec> {
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
        if conf.status == ConfStatus::Completed {
            return;
        }
        conf.status = ConfStatus::Completed;
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
            self.send_ctl(call, Ctl::Kicked);
        }
        for call in &pending {
            self.send_ctl(call, Ctl::Complete);
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

    /// A Participants-API call ended before answering: it no longer holds its conference open.
    pub(crate) fn drop_pending_participant(&mut self, call_sid: &str) {
        let Some(conf_sid) = self
            .confs
            .values()
            .find(|c| c.pending.iter().any(|p| p == call_sid))
            .map(|c| c.sid.clone())
        else {
            return;
        };
        let conf = self.confs.get_mut(&conf_sid).expect("found above");
        conf.pending.retain(|p| p != call_sid);
        if conf.participants.is_empty() && conf.pending.is_empty() {
            if conf.configured {
                self.end_conference(&conf_sid, "last-participant-left", None);
            } else {
                // Nobody ever joined: for Twilio the conference never existed.
                conf.status = ConfStatus::Completed;
            }
        }
    }

    /// Mutes/unmutes or holds/unholds a participant (REST).
    pub(crate) fn update_participant(
        &mut self,
        conf_sid: &str,
        call_sid: &str,
        muted: Option<bool>,
        hold: Option<bool>,
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
        if let Some(m) = muted
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
        if let Some(h) = hold
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
            Some(ConfStatus::InProgress) => Ok(()),
            Some(ConfStatus::Init) => Err(ApiError::bad_request(
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
        let em = self.clone();
        tokio::spawn(async move {
            let result = em
                .announce(&conf_sid, target.as_deref(), url.clone(), method)
                .await;
            let mut st = em.inner.state.lock().unwrap();
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
                if self.inner.state.lock().unwrap().confs[conf_sid].status == ConfStatus::Completed
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
    /// played to the waiting participant, looping, until the conference starts or they leave.
    pub(crate) fn spawn_wait_music(
        &self,
        call_sid: &str,
        conf_sid: &str,
        url: Url,
        method: HttpMethod,
    ) {
        let em = self.clone();
        let call_sid = call_sid.to_string();
        let conf_sid = conf_sid.to_string();
        tokio::spawn(async move {
            let clock = em.inner.clock.clone();
            let waiting = |em: &Emulator| {
                let st = em.inner.state.lock().unwrap();
                st.confs
                    .get(&conf_sid)
                    .is_some_and(|c| c.status == ConfStatus::Init)
                    && st.conference_of(&call_sid).as_deref() == Some(conf_sid.as_str())
            };
            let (mut url, mut method) = (url, method);
            for _round in 0..100 {
                if !waiting(&em) {
                    return;
                }
                let params = {
                    let st = em.inner.state.lock().unwrap();
                    let mut p = st.call_params(&call_sid);
                    p.push(("ConferenceSid".to_string(), conf_sid.clone()));
                    p.push((
                        "FriendlyName".to_string(),
                        st.confs[&conf_sid].friendly_name.clone(),
                    ));
                    p
                };
                let answer = match em
                    .request(HookPurpose::Wait, Some(&call_sid), &url, method, params)
                    .await
                {
                    Ok(a) => a,
                    Err(e) => {
                        em.inner.state.lock().unwrap().record_error(e);
                        return;
                    }
                };
                let doc = match twiml::parse_announcement(&answer.body) {
                    Ok(d) => d,
                    Err(e) => {
                        em.inner.state.lock().unwrap().record_error(
                            EmulatorError::new(e.code, format!("waitUrl: {}", e.message))
                                .at_url(url.as_str())
                                .on_call(&call_sid),
                        );
                        return;
                    }
                };
                let mut redirected = false;
                for verb in &doc.verbs {
                    if !waiting(&em) {
                        return;
                    }
                    match verb {
                        Verb::Say(s) => {
                            let utt = em.inner.state.lock().unwrap().utterance(
                                &s.text,
                                Voice::Say {
                                    voice: s.voice.clone(),
                                    language: s.language.clone(),
                                },
                            );
                            for idx in 0..utt.spans.len() {
                                if !waiting(&em) {
                                    return;
                                }
                                em.inner.state.lock().unwrap().send_to_far_end(
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
                                em.inner
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
                    // Twilio loops the wait document while the participant waits.
                    tokio::time::sleep(clock.dur(PLAY_SECS)).await;
                }
            }
        });
    }
}
