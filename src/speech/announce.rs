//! The announce speaker: Twilio plays the messages into the conference itself
//! (`POST Conferences/{sid}.json` with `AnnounceUrl`), no extra call leg.
//!
//! The batch is taken when the announcement is requested, so the `AnnounceUrl` fetch only reads
//! what is in flight; `announcement-end` settles it as spoken and requests the next one,
//! `announcement-fail` requeues it (bounded) like a failed speaker leg.

use rand::RngExt as _;

use crate::domain::{CallId, CallState};
use crate::line::{ConferenceEventParams, Line};
use crate::store::Turn;
use crate::twilio::UpdateConference;
use crate::twiml::{HttpMethod, VoiceResponse};

pub async fn start(line: &Line, id: &CallId) {
    let store = line.store();
    // An announcement needs a running conference: until the caller is in, wait for the
    // participant-join that kicks the pipeline again.
    let ready = match store.call(id).await {
        Ok(Some(call)) => call.state == CallState::Connected,
        _ => false,
    };
    if !ready {
        return;
    }
    let leg = format!("a{:012x}", rand::rng().random::<u64>() >> 16);
    match store
        .acquire_speaker(id, &leg, line.settings().speech.max_attempts)
        .await
    {
        Ok((true, failed)) => {
            line.publish_receipts(id, &[], &failed).await;
            next(line, id, &leg).await;
        }
        Ok((false, failed)) => line.publish_receipts(id, &[], &failed).await,
        Err(e) => tracing::warn!(call = %id, error = %e, "cannot take the speaker lock"),
    }
}

/// Settles the announcement just played (if any) and requests the next one.
async fn next(line: &Line, id: &CallId, leg: &str) {
    let max_attempts = line.settings().speech.max_attempts;
    let turn = match line
        .store()
        .speaker_turn(id, leg, max_attempts, false)
        .await
    {
        Ok(turn) => turn,
        Err(e) => {
            tracing::warn!(call = %id, error = %e, "announce turn failed");
            return;
        }
    };
    match turn {
        Turn::Stale => {}
        Turn::Done { spoken, failed } => line.publish_receipts(id, &spoken, &failed).await,
        Turn::Speak { spoken, failed, .. } => {
            line.publish_receipts(id, &spoken, &failed).await;
            let conference_sid = line
                .store()
                .call_field(id, "conference_sid")
                .await
                .ok()
                .flatten();
            let Some(conference_sid) = conference_sid else {
                super::self_dial::leg_ended(line, id, leg, "the call's conference is not running")
                    .await;
                return;
            };
            let url = line.public_url(
                "/twilio/speak",
                &[("call", id.as_str()), ("leg", leg), ("mode", "announce")],
            );
            let update = UpdateConference::announce(url.as_str(), HttpMethod::Post);
            if let Err(e) = line
                .twilio()
                .update_conference(&conference_sid, &update)
                .await
            {
                let reason = format!("Twilio did not play the announcement: {e}");
                super::self_dial::leg_ended(line, id, leg, &reason).await;
            }
        }
    }
}

/// The `AnnounceUrl` fetch: says the batch in flight.
pub async fn script(line: &Line, id: &CallId, leg: &str) -> VoiceResponse {
    let store = line.store();
    let messages = async {
        if !store.holds_speaker(id, leg).await? {
            return Ok(Vec::new());
        }
        let ids = store.inflight(id).await?;
        store.messages_by_id(id, &ids).await
    };
    match messages.await {
        Ok(messages) => super::say_all(
            line,
            VoiceResponse::new(),
            messages.iter().map(|m| m.text.as_str()),
        ),
        Err(e) => {
            let e: crate::store::StoreError = e;
            tracing::warn!(call = %id, error = %e, "cannot read the announcement");
            VoiceResponse::new()
        }
    }
}

/// `announcement-end` / `announcement-fail` for one of our announcements.
pub async fn finished(line: &Line, id: &CallId, event: &ConferenceEventParams) {
    let leg = event
        .announce_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "leg")
                .map(|(_, v)| v.into_owned())
        });
    let Some(leg) = leg else { return };
    if event.status_callback_event == "announcement-end" {
        next(line, id, &leg).await;
    } else {
        let why = event
            .reason_announcement_failed
            .as_deref()
            .unwrap_or("no reason given");
        let reason = format!("Twilio could not play the announcement: {why}");
        super::self_dial::leg_ended(line, id, &leg, &reason).await;
    }
}
