//! `/twilio/voice`: a call reaches the line.

use denwa_chat::LineEvent;
use serde::Deserialize;

use super::Line;
use super::after_hours::closed_now;
use crate::config::{Greeting, LineConfig};
use crate::domain::{
    Call, CallId, CallSid, CallState, Direction, ParticipantLabel, incoming_call_id,
};
use crate::speech::self_dial;
use crate::store::LogFailure as _;
use crate::store::{CreateOutcome, NewCall};
use crate::twiml::{
    Conference, Dial, HttpMethod, Play, Record, Reject, RejectReason, Say, VoiceResponse,
};

/// The parameters of Twilio's voice webhook that denwa uses (Twilio sends more; they are ignored).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VoiceParams {
    pub call_sid: CallSid,
    pub account_sid: String,
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub caller_name: Option<String>,
}

impl Line {
    /// Answers a call to the line. The self-dialled speaker leg arrives here too (From == To ==
    /// the line's number) and is only asked for its one-time code: a caller ID is trivially
    /// spoofed, the code is not.
    ///
    /// The number dialled (`To`) picks the line; a number no line has is refused, unrecorded.
    pub async fn answer_call(&self, call: VoiceParams) -> VoiceResponse {
        let Some(line) = self.lines().answering(&call.to) else {
            // Twilio sent a call for a number of the account no line is configured for (a
            // number pointed here by hand, or a line removed): say so rather than ring nobody.
            // Only the call's SID is logged: the numbers stay out of the log.
            tracing::warn!(call_sid = %call.call_sid, "a call to a number no line has: refused");
            return VoiceResponse::new()
                .say(self.say_verb(
                    self.lines().default_line(),
                    "Sorry, this number is not in service. Goodbye.",
                ))
                .hangup();
        };
        if call.from == call.to {
            // The self-dialled speaker calls a line's number from that same number.
            return self_dial::ask_for_code(self.speech());
        }
        if line.settings.blocked_callers.blocks(&call.from) {
            // Refused unanswered, before a call record or a conference exists: the caller is
            // not billed, and nobody is rung or told. The number itself stays out of the log.
            self.metrics().calls_blocked.inc();
            tracing::info!(call_sid = %call.call_sid, "call from a blocked number refused");
            return VoiceResponse::new().reject(Reject::new().reason(RejectReason::Rejected));
        }
        if let Some(menu) = &line.settings.menu {
            // Nothing is recorded until the caller has chosen: the choice picks the line.
            return self.offer_menu(VoiceResponse::new(), line, menu, &call, 0);
        }
        self.take_call(&call, line, None).await
    }

    /// Records an incoming call on `line` (chosen in a menu by `menu_choice`), announces it, rings
    /// the line's responders and answers the caller's TwiML.
    pub(crate) async fn take_call(
        &self,
        call: &VoiceParams,
        line: &LineConfig,
        menu_choice: Option<&str>,
    ) -> VoiceResponse {
        // Outside its hours a line may pass its calls to another (`after_hours = "<line id>"`):
        // the call is recorded, announced and rung on the line that takes it.
        let line = self.after_hours_line(line);
        let id = incoming_call_id(call.call_sid.as_str());
        let caller_name = call.caller_name.as_deref().filter(|n| !n.trim().is_empty());
        // How the caller is announced: a responder calling in by name, else the name Twilio
        // looked up, else (later) their own recorded voice, else "The caller".
        let name = self
            .known_name(line, &call.from, caller_name)
            .unwrap_or_else(|| "The caller".into());
        let stored = self
            .store()
            .create_call(NewCall {
                id: &id,
                call_sid: Some(&call.call_sid),
                other_party: &call.from,
                line_number: &call.to,
                caller_name,
                announced_as: Some(&name),
                direction: Direction::Inbound,
                line: line.id(),
                menu_choice,
                first_look: super::sweep::first_look(line, Direction::Inbound),
            })
            .await;
        let record = match stored {
            Ok(CreateOutcome::Created(record)) => record,
            Ok(CreateOutcome::Exists(record)) => return self.answer_again(&record, call).await,
            Err(e) => {
                // Without the store nobody could see or answer the call: say so and let the
                // caller try again, rather than leave them in a conference nobody will ever join.
                self.metrics().calls_refused_store_down.inc();
                tracing::error!(call_sid = %call.call_sid, error = %e, "cannot record an incoming call; turning it away");
                return self.unavailable(line);
            }
        };
        self.metrics().calls_answered.inc();
        if let Some(hours) = closed_now(&line.settings) {
            return self.answer_after_hours(&record, line, hours).await;
        }
        tracing::info!(call = %id, call_sid = %call.call_sid, line = %line.id(), "incoming call");
        self.publish(LineEvent::CallStarted {
            call: self.summary(&record),
        });
        let this = self.clone();
        let ring_id = id.clone();
        let line_id = line.id().clone();
        self.spawn(async move { this.ring_responders(&ring_id, &line_id).await });
        self.welcome(line, &id, call)
    }

    /// Twilio asked again about a call it already told denwa of (a retried webhook, or a replayed
    /// one): the caller gets the same answer, into the same conference, and nothing is recorded,
    /// announced or rung twice (the store counted it as news of the call). A call that is over
    /// is not started again, and one sent to voicemail after hours is sent there again.
    async fn answer_again(&self, record: &Call, call: &VoiceParams) -> VoiceResponse {
        if record.state == CallState::Ended {
            tracing::info!(call = %record.id, call_sid = %call.call_sid, "Twilio asked about a call that is over");
            return VoiceResponse::new().hangup();
        }
        let line = self.line_of(record);
        if let Some(hours) = closed_now(&line.settings)
            && self.store().in_voicemail(&record.id).await.unwrap_or(false)
        {
            return self.after_hours_voicemail(record, line, hours);
        }
        tracing::info!(call = %record.id, call_sid = %call.call_sid, "Twilio asked again about a call: same answer");
        self.welcome(line, &record.id, call)
    }

    /// Said before hanging up on a caller denwa cannot take (its store is unreachable).
    fn unavailable(&self, line: &LineConfig) -> VoiceResponse {
        VoiceResponse::new()
            .say(self.say_verb(line, &line.settings.unavailable_message))
            .hangup()
    }

    /// What a caller hears first: the greeting, then (with `record_names`, for callers nobody
    /// knows by name) the recording of their name, else straight into the call's conference.
    fn welcome(&self, line: &LineConfig, id: &CallId, call: &VoiceParams) -> VoiceResponse {
        let greeting = match &line.settings.greeting {
            Greeting::Say(text) => VoiceResponse::new().say(self.say_verb(line, text)),
            Greeting::Play(url) => VoiceResponse::new().play(Play::new(url.as_str())),
        };
        let mut greeting = self.start_transcription(line, greeting);
        let unknown = self
            .known_name(line, &call.from, call.caller_name.as_deref())
            .is_none();
        if line.settings.record_names && unknown {
            // With a recording, Twilio fetches the action (which puts the caller in); without one
            // (the caller said nothing) it skips the action and goes on with the next verb, so
            // the conference follows here too: a silent caller is not hung up.
            greeting = greeting
                .say(self.say_verb(
                    line,
                    "After the tone, please say your name, then press the pound key.",
                ))
                .record(
                    Record::new()
                        .action(
                            self.public_url("/twilio/caller-name", &[("call", id.as_str())])
                                .as_str(),
                        )
                        .method(HttpMethod::Post)
                        .max_length(5)
                        .timeout(3)
                        .play_beep(true)
                        .finish_on_key("#"),
                );
        }
        greeting.dial(Dial::conference(self.caller_conference(line, id)))
    }

    /// The caller's place in the conference: it starts it, and its leaving ends it.
    pub(crate) fn caller_conference(&self, line: &LineConfig, id: &CallId) -> Conference {
        let mut conference = self
            .conference(id)
            .participant_label(ParticipantLabel::caller())
            .start_conference_on_enter(true)
            // The caller leaving ends the call for everyone, speaker legs included.
            .end_conference_on_exit(true);
        if let Some(url) = &line.settings.hold_music_url {
            conference = conference.wait_url(url.as_str());
        }
        conference
    }

    /// The caller recorded their name: keep it for announcements, then into the conference.
    pub async fn caller_named(&self, id: &CallId, recording_url: Option<&str>) -> VoiceResponse {
        if let Some(url) = recording_url.filter(|u| !u.is_empty()) {
            self.store()
                .set_name_recording(id, url)
                .await
                .or_log("keep the caller's name recording");
        }
        match self.store().call(id).await {
            Ok(Some(call)) if call.state != CallState::Ended => VoiceResponse::new().dial(
                Dial::conference(self.caller_conference(self.line_of(&call), id)),
            ),
            _ => VoiceResponse::new().hangup(),
        }
    }

    /// The conference of call `id`, with the status callbacks denwa follows (see
    /// [`crate::speech::SpeechContext::conference`]).
    pub(crate) fn conference(&self, id: &CallId) -> Conference {
        self.speech().conference(id)
    }

    /// The name of whoever is at `phone`, when known: a responder in the directory, else the
    /// name Twilio looked up (`caller_name`), if not blank.
    pub(crate) fn known_name(
        &self,
        line: &LineConfig,
        phone: &str,
        caller_name: Option<&str>,
    ) -> Option<String> {
        line.settings
            .responder_by_phone(phone)
            .map(|(_, r)| r.name.clone())
            .or_else(|| {
                caller_name
                    .filter(|n| !n.trim().is_empty())
                    .map(str::to_owned)
            })
    }

    /// A `<Say>` in `line`'s voice and language.
    pub(crate) fn say_verb(&self, line: &LineConfig, text: &str) -> Say {
        crate::speech::say_verb(&line.speech, text)
    }
}
