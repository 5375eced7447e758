//! The announce speaker: Twilio plays the messages into the conference itself
//! (`POST Conferences/{sid}.json` with `AnnounceUrl`), no extra call leg.
//!
//! A batch is taken (turn T) when its announcement is requested, so the `AnnounceUrl` fetch only
//! reads what is in flight for turn T, and marks it served. Twilio's `announcement-end` names no
//! announcement: it is about the call's one announcement in flight (the store tells which, and
//! drops a repeat by its SequenceNumber). It settles turn T as spoken if T was served (Twilio
//! ends an announcement it could not fetch all the same) and requests turn T+1; otherwise, or
//! on `announcement-fail`, the batch is requeued (bounded) like a failed speaker leg's.
//!
//! Twilio takes announcements only into a conference that has started, and a caller waiting
//! alone is in one that has not: until it has, a self-dialled speaker leg says the messages, and
//! its join starts the conference.

use std::time::Duration;

use super::SpeechContext;
use crate::config::SpeechStrategy;
use crate::domain::{CallId, ConferenceSid, LegToken};
use crate::store::{AnnouncementEnd, SpeakerState, StoreError, Turn, TurnRequest};
use crate::twilio::UpdateConference;
use crate::twiml::{HttpMethod, VoiceResponse};

/// `speech.strategy = "auto"`: announce, unless Twilio refused an announcement for this call
/// before ([`refused`]): then self-dial, as every replica reads the same mark in the store.
pub async fn start_or_self_dial(speech: &SpeechContext, id: &CallId) {
    match speech.store().announcements_refused(id).await {
        Ok(false) => start(speech, id).await,
        Ok(true) => super::self_dial::start(speech, id).await,
        // The sweep tries again.
        Err(e) => tracing::warn!(call = %id, error = %e, "cannot tell how the call speaks"),
    }
}

/// Twilio refused an announcement: its batch goes back to the queue, in order (as any
/// speaker's that ended unheard), and under `auto` the call self-dials from now on.
async fn refused(speech: &SpeechContext, id: &CallId, leg: &str, reason: &str) {
    speech.metrics().announcement(false);
    if speech.line_speech().strategy == SpeechStrategy::Auto {
        match speech.store().refuse_announcements(id).await {
            Ok(()) => {
                tracing::warn!(call = %id, reason, "Twilio refused an announcement; the call speaks through a self-dialled leg from now on")
            }
            // The next announcement is refused too, and marks it then.
            Err(e) => tracing::warn!(call = %id, error = %e, "cannot mark the call to self-dial"),
        }
    }
    super::leg_ended(speech, id, leg, reason).await;
}

pub async fn start(speech: &SpeechContext, id: &CallId) {
    match speech.store().conference_started(id).await {
        Ok(true) => {}
        Ok(false) => return super::self_dial::start(speech, id).await,
        Err(e) => {
            // The sweep tries again.
            tracing::warn!(call = %id, error = %e, "cannot tell whether the conference started");
            return;
        }
    }
    let token = LegToken::generate();
    let leg = token.as_str();
    let store = speech.store();
    let max_attempts = speech.settings().max_attempts;
    // The store only hands out the lease once the caller is in the conference; the caller's
    // participant-join kicks the pipeline again.
    match store
        .acquire_speaker_as(
            id,
            leg,
            SpeakerState::Announcing,
            max_attempts,
            super::DIAL_LEASE,
        )
        .await
    {
        Ok((true, failed)) => {
            speech.publish_receipts(id, &[], &failed).await;
            next(speech, id, leg, 1).await;
        }
        Ok((false, failed)) => speech.publish_receipts(id, &[], &failed).await,
        Err(e) => tracing::warn!(call = %id, error = %e, "cannot take the speaker lease"),
    }
}

/// How long settling an announcement is retried while the store cannot be reached. The
/// announcement was heard: giving up would let the lease lapse and the sweep say it again.
const STORE_RETRY_FOR: Duration = Duration::from_secs(30);
const STORE_RETRY_EVERY: Duration = Duration::from_millis(500);

/// Settles the announcement of turn `turn - 1` (if any) and requests turn `turn`.
async fn next(speech: &SpeechContext, id: &CallId, leg: &str, turn: u64) {
    let max_attempts = speech.settings().max_attempts;
    let request = TurnRequest {
        leg,
        turn,
        max_attempts,
        require_join: false,
        linger: false,
        lease: super::BASE_LEASE,
        budget_bytes: super::pieces::TURN_BUDGET_BYTES,
    };
    let started = tokio::time::Instant::now();
    let turn_result = loop {
        match speech.store().speaker_turn(id, &request).await {
            Ok(t) => break t,
            Err(e) if started.elapsed() < STORE_RETRY_FOR && !speech.is_stopping() => {
                tracing::warn!(call = %id, error = %e, "announce turn failed; trying again");
                tokio::time::sleep(STORE_RETRY_EVERY).await;
            }
            Err(e) => {
                // The lease lapses and the sweep starts over with whatever was in flight.
                tracing::warn!(call = %id, error = %e, "announce turn failed; giving up");
                return;
            }
        }
    };
    match turn_result {
        // A repeated announcement-end: that turn was settled already.
        Turn::Stale | Turn::Again { .. } | Turn::Unjoined { .. } => {}
        // Announcements do not linger (the script only lingers when asked to).
        Turn::Linger { spoken, failed } => speech.publish_receipts(id, &spoken, &failed).await,
        Turn::Done {
            spoken,
            failed,
            more,
        } => {
            speech.publish_receipts(id, &spoken, &failed).await;
            if more {
                super::kick(speech, id);
            }
        }
        Turn::Speak {
            spoken,
            failed,
            conference_sid,
            ..
        } => {
            speech.publish_receipts(id, &spoken, &failed).await;
            let Some(conference_sid) = conference_sid else {
                super::leg_ended(speech, id, leg, "the call's conference is not running").await;
                return;
            };
            let turn = turn.to_string();
            let url = speech.public_url(
                "/twilio/speak",
                &[
                    ("call", id.as_str()),
                    ("leg", leg),
                    ("turn", &turn),
                    ("mode", "announce"),
                    // The fetch says the batch in its line's voice without reading the call.
                    ("line", speech.line().id().as_str()),
                ],
            );
            let update = UpdateConference::announce(url.as_str(), HttpMethod::Post);
            if let Err(e) = speech
                .twilio()
                .update_conference(&conference_sid, &update)
                .await
            {
                let reason = format!("Twilio did not play the announcement: {e}");
                refused(speech, id, leg, &reason).await;
            } else {
                speech.metrics().announcement(true);
            }
        }
    }
}

/// The `AnnounceUrl` fetch for turn `turn`: says the batch in flight for that turn, once it is
/// marked served; a stale turn, or one the store cannot read, says nothing (and is not served,
/// so its end requeues the batch).
pub async fn script(speech: &SpeechContext, id: &CallId, leg: &str, turn: u64) -> VoiceResponse {
    let store = speech.store();
    let messages = async {
        let ids = store.inflight(id).await?;
        let messages = store.messages_by_id(id, &ids).await?;
        let served = store.announcement_served(id, leg, turn).await?;
        Ok::<_, StoreError>(served.then_some(messages))
    };
    match messages.await {
        Ok(Some(messages)) => {
            super::speech_starts(speech, &messages);
            super::say_all(speech, VoiceResponse::new(), &messages)
        }
        Ok(None) => VoiceResponse::new(),
        Err(e) => {
            tracing::warn!(call = %id, error = %e, "cannot read the announcement");
            VoiceResponse::new()
        }
    }
}

/// What Twilio said of an announcement in the call's conference (read from its callback by the
/// line).
pub struct AnnouncementFinished<'a> {
    pub conference_sid: &'a ConferenceSid,
    /// Orders the conference's callbacks: a repeat of an event already seen is dropped.
    pub sequence_number: Option<u64>,
    /// `announcement-end` (true) or `announcement-fail` (false).
    pub ended: bool,
    /// Twilio's reason, on `announcement-fail`.
    pub reason_failed: Option<&'a str>,
}

/// `announcement-end` / `announcement-fail` in the call's conference.
pub async fn finished(
    speech: &SpeechContext,
    id: &CallId,
    event: &AnnouncementFinished<'_>,
) -> Result<(), StoreError> {
    let ended = event.ended;
    let outcome = speech
        .store()
        .announcement_finished(id, event.conference_sid, event.sequence_number)
        .await?;
    // The callback names no line: the store answered with the call's.
    let speech = &speech.on_line(outcome.line());
    match outcome {
        AnnouncementEnd::Heard { leg, turn, .. } if ended => {
            // In the background: settling may wait out a store outage, and Twilio's callback
            // must be answered at once.
            let (task_speech, id) = (speech.clone(), id.clone());
            speech.spawn(async move { next(&task_speech, &id, &leg, turn + 1).await });
        }
        AnnouncementEnd::Heard { leg, .. } | AnnouncementEnd::Unheard { leg, .. } => {
            let reason = if ended {
                "Twilio ended the announcement without fetching it".to_owned()
            } else {
                let why = event.reason_failed.unwrap_or("no reason given");
                format!("Twilio could not play the announcement: {why}")
            };
            super::leg_ended(speech, id, &leg, &reason).await;
        }
        AnnouncementEnd::None => {}
    }
    Ok(())
}
