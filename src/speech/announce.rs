//! The announce speaker: Twilio plays the messages into the conference itself
//! (`POST Conferences/{sid}.json` with `AnnounceUrl`), no extra call leg.
//!
//! A batch is taken (turn T) when its announcement is requested, so the `AnnounceUrl` fetch only
//! reads what is in flight for turn T; `announcement-end` for turn T settles it as spoken and
//! requests turn T+1; `announcement-fail` requeues it (bounded) like a failed speaker leg.

use std::time::Duration;

use rand::RngExt as _;

use crate::domain::CallId;
use crate::line::{ConferenceEventParams, Line};
use crate::store::{Turn, TurnRequest};
use crate::twilio::UpdateConference;
use crate::twiml::{HttpMethod, VoiceResponse};

pub async fn start(line: &Line, id: &CallId) {
    let leg = format!("a{:012x}", rand::rng().random::<u64>() >> 16);
    let store = line.store();
    let max_attempts = line.settings().speech.max_attempts;
    // The store only hands out the lease once the caller is in the conference; the caller's
    // participant-join kicks the pipeline again.
    match store
        .acquire_speaker(id, &leg, max_attempts, super::DIAL_LEASE)
        .await
    {
        Ok((true, failed)) => {
            line.publish_receipts(id, &[], &failed).await;
            next(line, id, &leg, 1).await;
        }
        Ok((false, failed)) => line.publish_receipts(id, &[], &failed).await,
        Err(e) => tracing::warn!(call = %id, error = %e, "cannot take the speaker lease"),
    }
}

/// How long settling an announcement is retried while the store cannot be reached. The
/// announcement was heard: giving up would let the lease lapse and the sweep say it again.
const STORE_RETRY_FOR: Duration = Duration::from_secs(30);
const STORE_RETRY_EVERY: Duration = Duration::from_millis(500);

/// Settles the announcement of turn `turn - 1` (if any) and requests turn `turn`.
async fn next(line: &Line, id: &CallId, leg: &str, turn: u64) {
    let max_attempts = line.settings().speech.max_attempts;
    let request = TurnRequest {
        leg,
        turn,
        max_attempts,
        require_join: false,
        linger: false,
        lease: super::BASE_LEASE,
    };
    let started = tokio::time::Instant::now();
    let turn_result = loop {
        match line.store().speaker_turn(id, &request).await {
            Ok(t) => break t,
            Err(e) if started.elapsed() < STORE_RETRY_FOR && !line.is_stopping() => {
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
        Turn::Stale | Turn::Again { .. } => {}
        // Announcements do not linger (the script only lingers when asked to).
        Turn::Linger { spoken, failed } => line.publish_receipts(id, &spoken, &failed).await,
        Turn::Done {
            spoken,
            failed,
            more,
        } => {
            line.publish_receipts(id, &spoken, &failed).await;
            if more {
                super::kick(line, id);
            }
        }
        Turn::Speak { spoken, failed, .. } => {
            line.publish_receipts(id, &spoken, &failed).await;
            let conference_sid = line
                .store()
                .call_field(id, "conference_sid")
                .await
                .ok()
                .flatten();
            let Some(conference_sid) = conference_sid else {
                super::leg_ended(line, id, leg, "the call's conference is not running").await;
                return;
            };
            let turn = turn.to_string();
            let url = line.public_url(
                "/twilio/speak",
                &[
                    ("call", id.as_str()),
                    ("leg", leg),
                    ("turn", &turn),
                    ("mode", "announce"),
                ],
            );
            let update = UpdateConference::announce(url.as_str(), HttpMethod::Post);
            if let Err(e) = line
                .twilio()
                .update_conference(&conference_sid, &update)
                .await
            {
                let reason = format!("Twilio did not play the announcement: {e}");
                super::leg_ended(line, id, leg, &reason).await;
            }
        }
    }
}

/// The `AnnounceUrl` fetch for turn `turn`: says the batch in flight for that turn.
pub async fn script(line: &Line, id: &CallId, leg: &str, turn: u64) -> VoiceResponse {
    let store = line.store();
    let messages = async {
        if !store.is_speaker(id, leg).await? || store.speaker_turn_number(id).await? != turn {
            return Ok(Vec::new());
        }
        let ids = store.inflight(id).await?;
        store.messages_by_id(id, &ids).await
    };
    let messages: Result<_, crate::store::StoreError> = messages.await;
    match messages {
        Ok(messages) => super::say_all(line, VoiceResponse::new(), &messages),
        Err(e) => {
            tracing::warn!(call = %id, error = %e, "cannot read the announcement");
            VoiceResponse::new()
        }
    }
}

/// `announcement-end` / `announcement-fail` for one of our announcements.
pub async fn finished(line: &Line, id: &CallId, event: &ConferenceEventParams) {
    let Some(url) = event
        .announce_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
    else {
        return;
    };
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let (Some(leg), Some(turn)) = (
        param("leg"),
        param("turn").and_then(|t| t.parse::<u64>().ok()),
    ) else {
        return;
    };
    if event.status_callback_event == "announcement-end" {
        // In the background: settling may wait out a store outage, and Twilio's callback must
        // be answered at once.
        let (task_line, id) = (line.clone(), id.clone());
        line.spawn(async move { next(&task_line, &id, &leg, turn + 1).await });
    } else {
        let why = event
            .reason_announcement_failed
            .as_deref()
            .unwrap_or("no reason given");
        let reason = format!("Twilio could not play the announcement: {why}");
        super::leg_ended(line, id, &leg, &reason).await;
    }
}
