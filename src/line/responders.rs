//! Ringing responders: dial them, let the first to press 1 take the call, cancel the rest.
//!
//! Every step is driven by Twilio's callbacks and kept in the store (who was dialled, who
//! accepted, the next responder in order), so any replica continues a call another one began.
//! A responder's own phone answering (voicemail box included) is not acceptance: only pressing 1
//! is, so a voicemail box never "takes" the call.

use denwa_chat::{LineEvent, LineRefused};

use super::Line;
use super::escalation::{Advance, StepLeg};
use crate::config::{LineConfig, LineSettings, RingCallerId, RingMode};
use crate::domain::{CallId, CallSid, CallState, Direction, LineId, ParticipantLabel, PhoneNumber};
use crate::store::LogFailure as _;
use crate::twilio::params::CallEnd;
use crate::twilio::{CallEvent, CallStatus, CallTarget, CreateCall, UpdateCall};
use crate::twiml::{Dial, Gather, GatherInput, HttpMethod, VoiceResponse};

/// How long a responder has to press 1 once they hear who is calling.
const ACCEPT_TIMEOUT_SECS: u32 = 10;

/// How long the sweep leaves the replica that answered a call to start ringing its responders
/// before it rings them itself.
pub(crate) const RING_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

impl Line {
    /// Starts ringing the responders for a new call (all at once, or the first in order).
    /// Once per call: the store records that ringing began, so the sweep can start it for a
    /// call whose answering replica stopped before it could.
    /// `line` is the call's (its caller knows it: no read of the call for it).
    pub(crate) async fn ring_responders(&self, id: &CallId, line: &LineId) {
        let config = self.lines().get_or_default(Some(line));
        let line = &config.settings;
        if line.responders.is_empty() {
            return;
        }
        if line.escalation.is_on() {
            // The schedule says who is on call (levels ring those of their members who are);
            // then the first step, which records that ringing began, as start_ringing does.
            if line.schedule.is_some() && !self.store().ringing_started(id).await.unwrap_or(true) {
                self.choose_whom_to_ring(id, line).await;
            }
            return self.escalate(id, config, None, Advance::Start).await;
        }
        match self.store().start_ringing(id).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "cannot start ringing responders");
                return;
            }
        }
        let ring = self.choose_whom_to_ring(id, line).await;
        match line.ring {
            RingMode::All => {
                for index in ring {
                    self.dial_responder(id, index, None).await;
                }
            }
            RingMode::InOrder => self.ring_next_responder(id, line).await,
        }
    }

    /// Who of the directory a new call rings (see `on_call.rs`): with a schedule, kept with the
    /// call and said in its thread.
    async fn choose_whom_to_ring(&self, id: &CallId, line: &LineSettings) -> Vec<usize> {
        let ring = self.who_to_ring(id, line).await;
        if line.schedule.is_some() {
            self.store()
                .set_ring_list(id, &ring.indices)
                .await
                .or_log("keep whom the schedule chose to ring");
        }
        if let Some(note) = ring.note {
            self.publish(LineEvent::Notice {
                call_id: id.clone(),
                text: note,
            });
        }
        ring.indices
    }

    /// In-order ringing: dials the next available responder of the call's list (with a
    /// schedule, the one chosen when ringing began; else `line`'s whole directory), if any
    /// remain. Only a line with a schedule reads the store for its list.
    async fn ring_next_responder(&self, id: &CallId, line: &LineSettings) {
        let list = match line.schedule {
            None => (0..line.responders.len()).collect(),
            Some(_) => match self.store().ring_list(id).await {
                Ok(Some(list)) => list,
                Ok(None) => (0..line.responders.len()).collect(),
                Err(e) => {
                    tracing::warn!(call = %id, error = %e, "cannot read whom to ring");
                    return;
                }
            },
        };
        loop {
            let position = match self.store().next_ring_index(id).await {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(call = %id, error = %e, "cannot pick the next responder");
                    return;
                }
            };
            let Some(&index) = list.get(position) else {
                tracing::info!(call = %id, "every responder was rung");
                return;
            };
            if self.dial_responder(id, index, None).await {
                return;
            }
        }
    }

    /// The sweep's check (after [`RING_GRACE`]): an inbound call whose responders were never rung (the replica that
    /// answered it stopped first) gets rung now.
    pub(crate) async fn ring_if_never_rung(&self, call: &crate::domain::Call) {
        if self.line_of(call).settings.responders.is_empty()
            || call.direction != Direction::Inbound
            || call.state == CallState::Ended
            || crate::domain::now_ms().saturating_sub(call.started_at)
                < RING_GRACE.as_millis() as u64
            || self.store().ringing_started(&call.id).await.unwrap_or(true)
        {
            return;
        }
        tracing::info!(call = %call.id, "responders were never rung: ringing them now");
        self.ring_responders(&call.id, self.line_of(call).id())
            .await;
    }

    /// Dials responder `index` unless they are busy on another denwa call. Returns whether a
    /// leg was placed. `step`: the escalation step they are rung for, if the line has levels
    /// (its ring policy and time rather than the line's).
    pub(super) async fn dial_responder(
        &self,
        id: &CallId,
        index: usize,
        step: Option<StepLeg>,
    ) -> bool {
        let store = self.store();
        let call = match store.call(id).await {
            Ok(Some(call)) if call.state != CallState::Ended => call,
            _ => return false,
        };
        // The call's own line: its people, its number, its ring policy.
        let line = self.line_of(&call);
        let Some(responder) = line.settings.responders.get(index) else {
            return false;
        };
        match store.claim_responder(responder.phone.as_str(), id).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(call = %id, responder = index, "responder is busy on another call: not rung");
                return false;
            }
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "cannot claim a responder");
                return false;
            }
        }
        let line_number = line.number.clone();
        let caller_id = match line.settings.ring_caller_id {
            RingCallerId::Caller => PhoneNumber::parse(&call.other_party).unwrap_or(line_number),
            RingCallerId::Line => line_number,
        };
        let index_text = index.to_string();
        let query = [("call", id.as_str()), ("responder", index_text.as_str())];
        let answer = self.public_url("/twilio/responder", &query);
        let status = self.public_url("/twilio/call-status", &query);
        let request = |from: PhoneNumber| {
            CreateCall::new(
                responder.phone.clone(),
                from,
                CallTarget::url(answer.as_str(), HttpMethod::Post),
            )
            .status_callback(status.as_str(), HttpMethod::Post)
            .status_callback_events([CallEvent::Completed])
            .timeout(step.map_or(line.settings.ring_timeout, |s| s.ring_secs))
        };
        let mut placed = self.twilio().create_call(&request(caller_id.clone())).await;
        // Twilio only lets a call show a number the account owns or has verified: a caller's
        // number usually is neither. Ringing from the line's own number beats not ringing.
        if placed.is_err() && caller_id != line.number {
            tracing::warn!(call = %id, "Twilio refused the caller's number as caller ID; ringing from the line's");
            placed = self
                .twilio()
                .create_call(&request(line.number.clone()))
                .await;
        }
        match placed {
            Ok(created) => {
                tracing::info!(call = %id, responder = index, leg = %created.sid, "ringing responder");
                store
                    .record_responder_leg(id, index, &created.sid)
                    .await
                    .or_log("record a responder's leg");
                if let Some(step) = step {
                    store
                        .set_responder_step(id, index, step.step)
                        .await
                        .or_log("record the step a responder was rung for");
                }
                if step.map_or(line.settings.ring == RingMode::InOrder, |s| s.in_order) {
                    store
                        .set_ring_current(id, &created.sid)
                        .await
                        .or_log("record whom in-order ringing is on");
                }
                store
                    .set_participant_name(id, &created.sid, &responder.name)
                    .await
                    .or_log("keep a responder's name for announcements");
                true
            }
            Err(e) => {
                tracing::warn!(call = %id, responder = index, error = %e, "Twilio did not ring the responder");
                store
                    .release_responder(responder.phone.as_str(), id)
                    .await
                    .or_log("release a responder");
                false
            }
        }
    }

    /// The directory entry of a chat user: (responder index, name).
    pub(crate) fn responder_of_user(
        &self,
        line: &LineConfig,
        bridge: &str,
        user: &str,
    ) -> Option<(usize, String)> {
        line.settings
            .responders
            .iter()
            .enumerate()
            .find_map(|(i, r)| {
                let id = match bridge {
                    "slack" => r.slack_user.as_deref(),
                    "discord" => r.discord_user.as_deref(),
                    _ => None,
                };
                (id == Some(user)).then(|| (i, r.name.clone()))
            })
    }

    /// "Join by phone": rings responder `index` into call `id`; pressing 1 joins them even if
    /// someone else accepted the call already (they asked to join).
    pub(crate) async fn join_responder_by_phone(
        &self,
        id: &CallId,
        index: usize,
    ) -> Result<(), LineRefused> {
        match self.store().call(id).await {
            Ok(Some(call)) if call.state != CallState::Ended => {}
            Ok(Some(_)) => return Err(LineRefused::CallEnded),
            Ok(None) => return Err(LineRefused::NoSuchCall),
            Err(_) => return Err(LineRefused::Unavailable),
        }
        self.store().request_join(id, index).await?;
        if self.dial_responder(id, index, None).await {
            Ok(())
        } else {
            Err(LineRefused::DialFailed(
                "you are on another call, or Twilio refused to call you".into(),
            ))
        }
    }

    /// A responder picked up: tell them who is calling and ask for 1.
    pub async fn responder_answered(&self, id: &CallId, index: usize) -> VoiceResponse {
        let call = match self.store().call(id).await {
            Ok(Some(call)) if call.state != CallState::Ended => call,
            read => {
                let line = match &read {
                    Ok(Some(call)) => self.line_of(call),
                    _ => self.lines().default_line(),
                };
                return VoiceResponse::new()
                    .say(self.say_verb(line, "The caller has already hung up. Goodbye."))
                    .hangup();
            }
        };
        let line = self.line_of(&call);
        if index >= line.settings.responders.len() {
            // Rung for a line whose responders have changed since.
            return VoiceResponse::new().hangup();
        }
        let asked = self
            .store()
            .join_requested(id, index)
            .await
            .unwrap_or(false);
        if !asked && let Ok(Some(_)) = self.store().accepted_by(id).await {
            return VoiceResponse::new()
                .say(self.say_verb(line, "Someone else has already taken this call. Goodbye."))
                .hangup();
        }
        let who = call
            .caller_name
            .clone()
            .unwrap_or_else(|| spoken_number(&call.other_party));
        let prompt = [
            "Call for ",
            line.settings.name.as_str(),
            " from ",
            who.as_str(),
            if line.settings.escalation.is_on() {
                ". Press 1 to accept, or 2 to pass it on."
            } else {
                ". Press 1 to accept."
            },
        ]
        .concat();
        let index_text = index.to_string();
        let action = self.public_url(
            "/twilio/responder-accept",
            &[("call", id.as_str()), ("responder", &index_text)],
        );
        VoiceResponse::new()
            .gather(
                Gather::new()
                    .input(GatherInput::Dtmf)
                    .num_digits(1)
                    .timeout(ACCEPT_TIMEOUT_SECS)
                    .action(action.as_str())
                    .method(HttpMethod::Post)
                    .say(self.say_verb(line, &prompt)),
            )
            .say(self.say_verb(line, "The call was not accepted. Goodbye."))
            .hangup()
    }

    /// A responder pressed a key: 1 takes the call (if nobody else did), 2 passes it on to the
    /// next escalation level (on a line with levels), anything else declines.
    pub async fn responder_pressed(
        &self,
        id: &CallId,
        index: usize,
        digits: &str,
    ) -> VoiceResponse {
        if digits != "1" {
            // Answered in the call's line's voice, from this one read.
            let config = self.line_of_id(id).await;
            if digits == "2" && config.settings.escalation.is_on() {
                let (line, line_id, id) = (self.clone(), config.id().clone(), id.clone());
                self.spawn(async move {
                    let config = line.lines().get_or_default(Some(&line_id));
                    line.pass_on(&id, config, index).await;
                });
                return VoiceResponse::new()
                    .say(self.say_verb(config, "Passed on to the next level. Goodbye."))
                    .hangup();
            }
            return VoiceResponse::new()
                .say(self.say_verb(config, "Declined. Goodbye."))
                .hangup();
        }
        // Someone who asked to join by phone joins (and, if nobody had accepted yet, counts as
        // accepting: the others stop ringing and voicemail is off); otherwise the first to accept
        // takes the call.
        let asked = self
            .store()
            .join_requested(id, index)
            .await
            .unwrap_or(false);
        let accepted = self
            .store()
            .accept_call(id, index)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(call = %id, error = %e, "cannot record an acceptance");
                false
            });
        // The call's line says whether responders listen only (read with the call, not apart).
        let (live, config) = match self.store().call(id).await {
            Ok(Some(call)) => (
                call.state != CallState::Ended
                    && !self.store().in_voicemail(id).await.unwrap_or(true),
                self.line_of(&call),
            ),
            _ => (false, self.lines().default_line()),
        };
        let muted = config.settings.responders_muted;
        let escalating = config.settings.escalation.is_on();
        if !(live && (accepted || asked)) {
            return VoiceResponse::new()
                .say(self.say_verb(
                    config,
                    "This call has already been taken or has ended. Goodbye.",
                ))
                .hangup();
        }
        tracing::info!(call = %id, responder = index, "responder joins the call");
        if accepted {
            let line = self.clone();
            let id_for_cancel = id.clone();
            self.spawn(async move {
                line.cancel_responder_legs(&id_for_cancel, Some(index))
                    .await
            });
            if escalating {
                self.escalation_accepted(id, config, index).await;
            }
        }
        let conference = self
            .conference(id)
            .participant_label(ParticipantLabel::responder(index))
            .muted(muted)
            .start_conference_on_enter(true)
            .end_conference_on_exit(false)
            .wait_url("");
        let mut response = VoiceResponse::new();
        if muted {
            response = response.say(self.say_verb(
                config,
                "You are listening. Reply from chat to speak to the caller.",
            ));
        }
        response.dial(Dial::conference(conference)).hangup()
    }

    /// Cancels the responder legs of a call, except `keep`'s (the one who accepted).
    pub(crate) async fn cancel_responder_legs(&self, id: &CallId, keep: Option<usize>) {
        let Ok(legs) = self.store().responder_legs(id).await else {
            return;
        };
        for (index, sid) in legs.into_iter().filter(|(i, _)| Some(*i) != keep) {
            // `completed` ends a leg in any live state (a ringing one is cancelled); `canceled`
            // would quietly leave an answered leg (deciding, a voicemail box) running. A leg that
            // has already ended answers an error, which is fine.
            if let Err(e) = self
                .twilio()
                .update_call(&sid, &UpdateCall::end(CallEnd::Completed))
                .await
            {
                // Its status callback, or the end of the call, frees the responder all the same.
                tracing::warn!(call = %id, responder = index, error = %e, "cannot cancel a responder leg");
            }
            tracing::debug!(call = %id, responder = index, "responder leg cancelled");
        }
    }

    /// A responder leg ended (status callback): free the responder, ring the next in order.
    pub(crate) async fn responder_leg_ended(
        &self,
        id: &CallId,
        index: usize,
        call_sid: &CallSid,
        status: CallStatus,
    ) {
        // Twilio may deliver a status callback more than once: each leg ends once, and only the
        // leg currently being rung moves in-order ringing on.
        match self.store().responder_leg_done(id, call_sid).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "cannot record a responder leg's end");
                return;
            }
        }
        let call = self.store().call(id).await.ok().flatten();
        let line = match &call {
            Some(call) => self.line_of(call),
            None => self.lines().default_line(),
        };
        if let Some(responder) = line.settings.responders.get(index) {
            self.store()
                .release_responder(responder.phone.as_str(), id)
                .await
                .or_log("release a responder");
        }
        let accepted = self.store().accepted_by(id).await.ok().flatten();
        let live = call.is_some_and(|c| c.state != CallState::Ended);
        let in_voicemail = self.store().in_voicemail(id).await.unwrap_or(false);
        tracing::info!(call = %id, responder = index, status = status.as_str(), "responder leg ended");
        let current = self.store().ring_current(id).await.ok().flatten();
        if accepted.is_none() && live && !in_voicemail && current.as_ref() == Some(call_sid) {
            if line.settings.escalation.is_on() {
                return self.escalation_leg_ended(id, line, index).await;
            }
            if line.settings.ring != RingMode::InOrder {
                return;
            }
            self.ring_next_responder(id, &line.settings).await;
        }
    }

    /// A responder's leg left the conference: if they were the one who accepted, the call is
    /// no longer taken (voicemail and Join by phone are open again).
    pub(crate) async fn responder_left(&self, id: &CallId, call_sid: &CallSid) {
        let Ok(legs) = self.store().responder_legs(id).await else {
            return;
        };
        if let Some((index, _)) = legs.iter().find(|(_, sid)| sid == call_sid) {
            self.store()
                .responder_left(id, *index)
                .await
                .or_log("record that a responder left");
        }
    }

    /// Publishes a participant's join or leave to the bridges and, if `aloud`, when configured
    /// and someone is there to hear it, announces it into the conference.
    pub(crate) async fn announce_participant(
        &self,
        id: &CallId,
        call_sid: &CallSid,
        joined: bool,
        aloud: bool,
    ) {
        let store = self.store();
        let name = store
            .participant_name(id, call_sid)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "Someone".into());
        let call = store.call(id).await.ok().flatten();
        let settings = match &call {
            Some(call) => &self.line_of(call).settings,
            None => &self.lines().default_line().settings,
        };
        let is_caller = call
            .as_ref()
            .is_some_and(|c| c.call_sid.as_ref() == Some(call_sid));
        if joined {
            // The call's list of who joined is about who joined the caller.
            let listed = if is_caller { "" } else { name.as_str() };
            let Ok(Some(before)) = store.human_joined(id, call_sid, listed).await else {
                return;
            };
            self.publish(LineEvent::ParticipantJoined {
                call_id: id.clone(),
                name: name.clone(),
            });
            if aloud && settings.announce_joins && before > 0 {
                // A caller who recorded their name is announced in their own voice.
                let recording = if is_caller {
                    store.call_field(id, "name_recording").await.ok().flatten()
                } else {
                    None
                };
                let origin = denwa_chat::MessageOrigin::line();
                let queued = match &recording {
                    Some(url) => {
                        self.queue_message_with_audio(id, Some(url), "joined the call.", origin)
                            .await
                    }
                    None => {
                        self.queue_message(
                            id,
                            &[name.as_str(), " joined the call."].concat(),
                            origin,
                        )
                        .await
                    }
                };
                if let Err(e) = queued {
                    tracing::warn!(call = %id, error = %e, "cannot queue a join announcement");
                }
                // A responder can be in before the caller (they accept during the greeting):
                // the caller is told who is already there.
                if is_caller {
                    for present in store.joined_names(id).await.unwrap_or_default() {
                        let text = [present.as_str(), " is on the call."].concat();
                        let origin = denwa_chat::MessageOrigin::line();
                        if let Err(e) = self.queue_message(id, &text, origin).await {
                            tracing::warn!(call = %id, error = %e, "cannot queue an announcement");
                        }
                    }
                }
            }
        } else {
            if !store.human_left(id, call_sid).await.unwrap_or(false) {
                return;
            }
            self.publish(LineEvent::ParticipantLeft {
                call_id: id.clone(),
                name: name.clone(),
            });
            if aloud && settings.announce_leaves {
                self.queue_notice(id, &[name.as_str(), " left the call."].concat())
                    .await;
            }
        }
    }

    /// Queues the line's own notice ("Alice left the call.") through the same pipeline as chat
    /// messages.
    async fn queue_notice(&self, id: &CallId, text: &str) {
        if let Err(e) = self
            .queue_message(id, text, denwa_chat::MessageOrigin::line())
            .await
        {
            tracing::warn!(call = %id, error = %e, "cannot queue an announcement");
        }
    }
}

/// A phone number as a voice reads it best: digit by digit, in groups.
fn spoken_number(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return "an unknown number".into();
    }
    let groups: Vec<String> = digits
        .chunks(3)
        .map(|g| {
            g.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    groups.join(", ")
}
