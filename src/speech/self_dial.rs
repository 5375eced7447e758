//! The self-dial speaker: the 2015 trick, made safe and lossless.
//!
//! 1. [`start`] takes the call's speaker lock, issues a one-time code and asks Twilio for a call
//!    From = To = the line's number, whose `Url` is `/twilio/speak` and whose `SendDigits` carry
//!    the code.
//! 2. Twilio's inbound half of that call reaches `/twilio/voice` From == To and gets
//!    [`ask_for_code`]; with the right digits, [`admit`] dials it into the caller's conference.
//! 3. The outbound half fetches `/twilio/speak` ([`turn`]). It waits (`<Pause>` + `<Redirect>`)
//!    until the inbound half's participant-join has been seen, so no word is said into a line
//!    nobody hears; then says every queued message and comes back for more; hangs up when the
//!    queue is empty. A burst of messages costs one leg.
//! 4. When the leg ends ([`leg_ended`], from its status callback), whatever it had not confirmed
//!    is requeued (bounded) or failed, and a new leg is dialled if messages are still waiting.

use std::time::Duration;

use rand::RngExt as _;

use crate::domain::CallId;
use crate::line::{Line, Metrics};
use crate::store::{SpeakerState, Turn};
use crate::twilio::{CallEvent, CallTarget, CreateCall};
use crate::twiml::{Dial, Gather, GatherInput, HttpMethod, Redirect, VoiceResponse};

/// Digits in a one-time code: 10^8 possibilities for a code that lives two minutes and works once.
const CODE_DIGITS: usize = 8;

/// How long the inbound half may take to send its code. SendDigits starts two seconds in
/// (`wwww`) and takes about a second; ten seconds is ample and bounds a spoofed caller's stay.
const CODE_TIMEOUT_SECS: u32 = 10;

/// Ring time allowed for the self-dialled leg; it is answered by Twilio itself at once.
const SPEAKER_DIAL_TIMEOUT_SECS: u32 = 30;

/// Pause between redialling attempts, so a failing Twilio is not hammered.
const REDIAL_DELAY: Duration = Duration::from_millis(500);

fn random_token(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Dials a speaker leg for call `id` if it has queued messages and no leg is speaking.
pub async fn start(line: &Line, id: &CallId) {
    let leg = random_token(12, b"0123456789abcdefghijklmnopqrstuvwxyz");
    let max_attempts = line.settings().speech.max_attempts;
    let (acquired, failed) = match line.store().acquire_speaker(id, &leg, max_attempts).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(call = %id, error = %e, "cannot take the speaker lock");
            return;
        }
    };
    line.publish_receipts(id, &[], &failed).await;
    if !acquired {
        return;
    }
    let code = random_token(CODE_DIGITS, b"0123456789");
    if let Err(e) = line.store().store_speaker_code(&code, id, &leg).await {
        tracing::warn!(call = %id, error = %e, "cannot store the speaker code");
        Box::pin(leg_ended(
            line,
            id,
            &leg,
            "denwa could not prepare the speaker call",
        ))
        .await;
        return;
    }
    let number = line.settings().twilio.number.clone();
    let speak = line.public_url("/twilio/speak", &[("call", id.as_str()), ("leg", &leg)]);
    let status = line.public_url(
        "/twilio/call-status",
        &[("call", id.as_str()), ("leg", &leg)],
    );
    let request = CreateCall::new(
        number.clone(),
        number,
        CallTarget::url(speak.as_str(), HttpMethod::Post),
    )
    .status_callback(status.as_str(), HttpMethod::Post)
    .status_callback_events([CallEvent::Completed])
    // `w` is half a second: give the inbound half time to reach its <Gather>.
    .send_digits(["wwww", code.as_str()].concat())
    .timeout(SPEAKER_DIAL_TIMEOUT_SECS);
    match line.twilio().create_call(&request).await {
        Ok(created) => {
            Metrics::add(&line.metrics().speaker_legs, 1);
            tracing::info!(call = %id, speaker_sid = %created.sid, "speaker leg dialled");
            if let Err(e) = line
                .store()
                .set_speaker_outbound(id, &leg, &created.sid)
                .await
            {
                tracing::warn!(call = %id, error = %e, "cannot record the speaker leg");
            }
        }
        Err(e) => {
            Metrics::add(&line.metrics().speaker_dial_failures, 1);
            tracing::warn!(call = %id, error = %e, "Twilio did not place the speaker call");
            let reason = format!("Twilio did not place the speaker call: {e}");
            Box::pin(leg_ended(line, id, &leg, &reason)).await;
        }
    }
}

/// The inbound half of a self-dialled leg (From == To == the line): nothing but a prompt-less
/// `<Gather>` for the code; silence and a hang-up for anyone without it.
pub fn ask_for_code(line: &Line) -> VoiceResponse {
    VoiceResponse::new()
        .gather(
            Gather::new()
                .input(GatherInput::Dtmf)
                .num_digits(CODE_DIGITS as u32)
                .timeout(CODE_TIMEOUT_SECS)
                .action(line.public_url("/twilio/speaker-gate", &[]).as_str())
                .method(HttpMethod::Post),
        )
        .hangup()
}

/// The code the inbound half entered: a live code admits it, once, to its call's conference.
pub async fn admit(line: &Line, digits: &str, inbound_sid: &str) -> VoiceResponse {
    let valid_shape = digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit());
    let admitted = if valid_shape {
        line.store()
            .redeem_speaker_code(digits, inbound_sid)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot check a speaker code");
                None
            })
    } else {
        None
    };
    let Some(id) = admitted else {
        tracing::warn!(call_sid = %inbound_sid, "call from the line's own number without a valid code: hung up");
        return VoiceResponse::new().hangup();
    };
    let conference = line
        .conference(&id)
        .participant_label(["speaker-", inbound_sid].concat())
        // The speaker never starts a conference alone (if the caller has gone, it must not sit
        // in a new empty one) and never ends the caller's.
        .start_conference_on_enter(false)
        .end_conference_on_exit(false)
        .wait_url("");
    VoiceResponse::new()
        .dial(Dial::conference(conference))
        .hangup()
}

/// One fetch of `/twilio/speak` by the outbound half of leg `leg`.
pub async fn turn(line: &Line, id: &CallId, leg: &str, waited: u32) -> VoiceResponse {
    match try_turn(line, id, leg, waited).await {
        Ok(response) => response,
        Err(e) => {
            // The lock lapses and the next leg takes over whatever this one held.
            tracing::warn!(call = %id, error = %e, "speaker turn failed; hanging up the leg");
            VoiceResponse::new().hangup()
        }
    }
}

async fn try_turn(
    line: &Line,
    id: &CallId,
    leg: &str,
    waited: u32,
) -> Result<VoiceResponse, crate::store::StoreError> {
    let store = line.store();
    if !store.holds_speaker(id, leg).await? {
        return Ok(VoiceResponse::new().hangup());
    }
    let caller_in =
        matches!(store.call(id).await?, Some(c) if c.state == crate::domain::CallState::Connected);
    let speaker = store.speaker_state(id).await?;
    if !(caller_in && speaker == Some(SpeakerState::Joined)) {
        if speaker == Some(SpeakerState::Left)
            || u64::from(waited) >= line.settings().speech.join_timeout.as_secs()
        {
            return Ok(VoiceResponse::new().hangup());
        }
        // Not heard yet: wait a second and ask again rather than speak into the void.
        let again = line.public_url(
            "/twilio/speak",
            &[
                ("call", id.as_str()),
                ("leg", leg),
                ("waited", &(waited + 1).to_string()),
            ],
        );
        return Ok(VoiceResponse::new()
            .pause(1)
            .redirect(Redirect::new(again.as_str()).method(HttpMethod::Post)));
    }
    let max_attempts = line.settings().speech.max_attempts;
    match store.speaker_turn(id, leg, max_attempts, true).await? {
        Turn::Stale => Ok(VoiceResponse::new().hangup()),
        Turn::Done { spoken, failed } => {
            line.publish_receipts(id, &spoken, &failed).await;
            Ok(VoiceResponse::new().hangup())
        }
        Turn::Speak {
            spoken,
            failed,
            batch,
        } => {
            line.publish_receipts(id, &spoken, &failed).await;
            let messages = store
                .messages_by_id(id, &batch.iter().map(|m| m.as_str()).collect::<Vec<_>>())
                .await?;
            let again = line.public_url("/twilio/speak", &[("call", id.as_str()), ("leg", leg)]);
            let response = super::say_all(
                line,
                VoiceResponse::new(),
                messages.iter().map(|m| m.text.as_str()),
            );
            Ok(response.redirect(Redirect::new(again.as_str()).method(HttpMethod::Post)))
        }
    }
}

/// Leg `leg` of call `id` is over: settle what it held and dial again if messages wait.
pub async fn leg_ended(line: &Line, id: &CallId, leg: &str, reason: &str) {
    let max_attempts = line.settings().speech.max_attempts;
    match line
        .store()
        .speaker_leg_ended(id, leg, max_attempts, reason)
        .await
    {
        Ok(end) => {
            line.publish_receipts(id, &[], &end.failed).await;
            if end.more_to_say {
                tokio::time::sleep(REDIAL_DELAY).await;
                Box::pin(start(line, id)).await;
            }
        }
        Err(e) => tracing::warn!(call = %id, error = %e, "cannot settle an ended speaker leg"),
    }
}
