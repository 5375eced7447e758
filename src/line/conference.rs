//! `/twilio/conference`: Twilio's conference status callbacks.

use denwa_chat::LineEvent;
use serde::Deserialize;

use super::Line;
use crate::domain::{CallId, CallSid, CallState, ConferenceName, ConferenceSid, ParticipantLabel};
use crate::speech;
use crate::store::LogFailure as _;
use crate::store::{ConferenceChange, ParticipantRole};
use crate::twilio::params::CallEnd;
use crate::twilio::{ConferenceStatusEvent, UpdateCall};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConferenceEventParams {
    pub conference_sid: ConferenceSid,
    pub friendly_name: String,
    pub status_callback_event: ConferenceStatusEvent,
    #[serde(default)]
    pub call_sid: Option<CallSid>,
    /// The label denwa gave the participant (`caller`, `responder-N`, `speaker-...`).
    #[serde(default)]
    pub participant_label: Option<String>,
    /// Twilio numbers a conference's callbacks; they may arrive out of order.
    #[serde(default)]
    pub sequence_number: Option<u64>,
    #[serde(default)]
    pub reason_announcement_failed: Option<String>,
    /// On participant events: whether the participant joined with startConferenceOnEnter.
    #[serde(default)]
    pub start_conference_on_enter: Option<bool>,
}

impl Line {
    pub async fn conference_event(
        &self,
        event: ConferenceEventParams,
    ) -> Result<(), crate::store::StoreError> {
        // Conferences that are not denwa's (another app on the same account) are none of ours.
        let Some(id) = ConferenceName::parse(&event.friendly_name).map(|c| c.call_id()) else {
            return Ok(());
        };
        tracing::debug!(call = %id, event = ?event.status_callback_event, "conference event");
        let change = match (event.status_callback_event, event.call_sid.as_ref()) {
            (ConferenceStatusEvent::ConferenceStart, _) => Some(ConferenceChange::Started),
            (ConferenceStatusEvent::ParticipantJoin, Some(sid)) => {
                Some(ConferenceChange::Joined(sid))
            }
            (ConferenceStatusEvent::ParticipantLeave, Some(sid)) => {
                Some(ConferenceChange::Left(sid))
            }
            _ => None,
        };
        if let Some(change) = change {
            let role = self
                .store()
                .conference_event(
                    &id,
                    change,
                    &event.conference_sid,
                    event.sequence_number,
                    event.start_conference_on_enter == Some(true),
                )
                .await?;
            match (role, change) {
                (
                    ParticipantRole::Caller,
                    ConferenceChange::Joined(_) | ConferenceChange::Started,
                ) => {
                    let call = self.store().call(&id).await?;
                    if let Some(call) = &call {
                        self.publish(LineEvent::CallConnected {
                            call: self.summary(call),
                        });
                    }
                    if let ConferenceChange::Joined(sid) = change {
                        self.announce_participant(&id, sid, true, true).await;
                    }
                    // Messages may have arrived while the caller heard the greeting.
                    let speech = match &call {
                        Some(call) => self.speech_of(call),
                        None => self.speech().clone(),
                    };
                    speech::kick(&speech, &id);
                }
                // Sent to voicemail, the caller leaves the conference but not the call (and is
                // not announced as leaving: they are recording).
                (ParticipantRole::Caller, ConferenceChange::Left(_))
                    if !self.store().in_voicemail(&id).await? =>
                {
                    self.end_call(&id, "the caller hung up", Some(&event.conference_sid))
                        .await;
                }
                // A speaker leg whose turn has passed is still a speaker: never announced.
                (ParticipantRole::Other | ParticipantRole::CameAndWent, _)
                    if event
                        .participant_label
                        .as_deref()
                        .is_some_and(ParticipantLabel::is_speaker) => {}
                (ParticipantRole::Other, ConferenceChange::Joined(sid)) => {
                    self.announce_participant(&id, sid, true, true).await;
                }
                (ParticipantRole::Other, ConferenceChange::Left(sid)) => {
                    self.responder_left(&id, sid).await;
                    self.announce_participant(&id, sid, false, true).await;
                }
                // Their leave came first (and, nobody having joined, said nothing): the bridges
                // hear of both now, in order; nothing is said aloud of someone who is gone.
                (ParticipantRole::CameAndWent, ConferenceChange::Joined(sid)) => {
                    self.announce_participant(&id, sid, true, false).await;
                    self.announce_participant(&id, sid, false, false).await;
                }
                // Someone joined the conference of a call that is over (a responder who pressed 1
                // as the caller hung up): hang them up rather than leave them alone in silence.
                (ParticipantRole::Ignored, ConferenceChange::Joined(sid)) => {
                    if matches!(self.store().call(&id).await?, Some(c) if c.state == CallState::Ended)
                        && let Err(e) = self
                            .twilio()
                            .update_call(sid, &UpdateCall::end(CallEnd::Completed))
                            .await
                    {
                        tracing::warn!(call = %id, error = %e, "cannot hang up a leg that joined an ended call");
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        match event.status_callback_event {
            // Sent to voicemail, the caller's conference ends but the call goes on.
            ConferenceStatusEvent::ConferenceEnd if !self.store().in_voicemail(&id).await? => {
                self.end_call(&id, "the call ended", Some(&event.conference_sid))
                    .await
            }
            ConferenceStatusEvent::AnnouncementEnd | ConferenceStatusEvent::AnnouncementFail => {
                let finished = speech::announce::AnnouncementFinished {
                    conference_sid: &event.conference_sid,
                    sequence_number: event.sequence_number,
                    ended: event.status_callback_event == ConferenceStatusEvent::AnnouncementEnd,
                    reason_failed: event.reason_announcement_failed.as_deref(),
                };
                speech::announce::finished(self.speech(), &id, &finished).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Ends call `id` once: its unspoken messages fail with `reason`, bridges hear of it. With
    /// `conference`, only if that is the call's conference.
    pub(crate) async fn end_call(
        &self,
        id: &CallId,
        reason: &str,
        conference: Option<&ConferenceSid>,
    ) {
        match self.store().end_call(id, reason, conference).await {
            Ok((true, failed)) => {
                tracing::info!(call = %id, reason, "call ended");
                let call = self.store().call(id).await.ok().flatten();
                // Responders still ringing for a call that is over must stop ringing. Its
                // status callbacks release each of them too; this covers a lost callback, for
                // the directory of the call's own line (the default line's if the call cannot
                // be read).
                let phones: Vec<String> = match &call {
                    Some(call) => self.line_of(call).settings.responders.iter(),
                    None => self.settings().line.responders.iter(),
                }
                .map(|r| r.phone.as_str().to_owned())
                .collect();
                let line = self.clone();
                let cancel_id = id.clone();
                self.spawn(async move {
                    line.cancel_responder_legs(&cancel_id, None).await;
                    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
                    line.store()
                        .release_responders(&phones, &cancel_id)
                        .await
                        .or_log("release the call's responders");
                });
                self.publish_receipts(id, &[], &failed).await;
                if let Some(call) = call {
                    self.publish(LineEvent::CallEnded {
                        call: self.summary(&call),
                    });
                }
            }
            Ok((false, _)) => {}
            Err(e) => tracing::error!(call = %id, error = %e, "cannot record the end of a call"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConferenceEventParams;
    use crate::twilio::ConferenceStatusEvent;

    fn event(name: &str) -> ConferenceEventParams {
        let form = format!(
            "ConferenceSid=CF00000000000000000000000000000001&FriendlyName=denwa-a&StatusCallbackEvent={name}"
        );
        serde_urlencoded::from_str(&form).unwrap()
    }

    #[test]
    fn events_read_as_twilio_writes_them_and_others_do_not_fail_the_webhook() {
        for (text, expected) in [
            ("conference-start", ConferenceStatusEvent::ConferenceStart),
            ("conference-end", ConferenceStatusEvent::ConferenceEnd),
            ("participant-join", ConferenceStatusEvent::ParticipantJoin),
            ("participant-leave", ConferenceStatusEvent::ParticipantLeave),
            ("announcement-end", ConferenceStatusEvent::AnnouncementEnd),
            ("announcement-fail", ConferenceStatusEvent::AnnouncementFail),
            ("participant-mute", ConferenceStatusEvent::Other),
            ("participant-speech-start", ConferenceStatusEvent::Other),
            ("something-new", ConferenceStatusEvent::Other),
        ] {
            assert_eq!(event(text).status_callback_event, expected, "{text}");
        }
    }
}
