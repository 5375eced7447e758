//! The speech pipeline: queued messages become words in the caller's conference.
//!
//! Messages wait in a per-call queue in the store. One speaker at a time per call (a lease in the
//! store) takes everything queued and says it, in order, in numbered turns:
//! - [`self_dial`] (default): Twilio dials the line's own number; that leg proves itself with a
//!   one-time code, joins the conference, and its twin says the messages.
//! - [`announce`]: Twilio's conference announcement API plays the messages.
//!
//! The line's sweep (`line::sweep`) restarts any call whose pipeline lost its kick (a
//! crash, a webhook answered while Redis was down) through [`kick`]. `dial_backoff` spaces and bounds the dials while Twilio will not place a
//! speaker. [`split`] cuts long texts into pieces every `<Say>` accepts.

pub mod announce;
mod context;
mod dial_backoff;
pub mod pieces;
pub mod self_dial;
pub mod split;

use std::time::Duration;

use crate::config::{LineSpeech, SpeechStrategy};
use crate::domain::CallId;
use crate::domain::Message;
use crate::store::{UnansweredSpeaker, UnansweredVerdict};
use crate::twilio::params::CallEnd;
use crate::twilio::{CallStatus, UpdateCall};
use crate::twiml::{Play, Say, VoiceResponse};

pub use context::{SpeechContext, SpeechParts};

/// Pause before a new speaker follows a failed one, so a failing Twilio is not hammered.
const RESTART_DELAY: Duration = Duration::from_millis(500);

/// The lease a speaker holds while it is being dialled, renewed every [`DIAL_HEARTBEAT`] for as
/// long as the dial takes. Short, because a process that dies mid-dial (SIGKILL, a crash) must
/// not keep the call silent: within this long another replica's sweep (or the restarted
/// process's) sees the lease free and dials anew.
pub(crate) const DIAL_LEASE: Duration = Duration::from_secs(5);
const DIAL_HEARTBEAT: Duration = Duration::from_secs(2);

/// The base lease of a speaker once dialled: the most time expected between two of its turns
/// while it waits to be heard or lingers (each wait is a one-second `<Pause>`, and every turn
/// renews it; a turn that speaks adds its batch's speaking time). Long enough for Twilio to answer
/// the self-dialled call and fetch the first turn, short enough that a leg lost without a status
/// callback frees the call within seconds.
pub(crate) const BASE_LEASE: Duration = Duration::from_secs(15);

/// The sweep found call `id` without a speaker because `leg`, which Twilio accepted, never
/// reached the gate within its lease. Twilio places an account's calls at its calls-per-second
/// rate and holds the rest queued, so in a flood (many speakers at once, responders being rung)
/// a leg can wait longer than its lease; dialling another would only add a billed call to the
/// back of the same queue. So Twilio is asked: a leg it still holds queued or ringing keeps the
/// call for another lease, as long as its one-time code will still let it in. A Twilio that
/// cannot be asked (an outage, a 429 in a flood) could not place another leg either: the leg is
/// taken as still placing, within the same bound. Otherwise the leg is forgotten (and cancelled,
/// if Twilio still holds it past its code's life) and a new speaker is started. Nothing is done
/// when another replica's sweep, or the leg's own first turn, got there first.
pub(crate) async fn judge_unanswered_leg(
    speech: &SpeechContext,
    id: &CallId,
    leg: &UnansweredSpeaker,
) {
    let still_placing = match leg.sid() {
        None => false,
        Some(sid) => match speech.twilio().fetch_call(&sid).await {
            Ok(call) => matches!(
                call.status,
                CallStatus::Queued | CallStatus::Initiated | CallStatus::Ringing
            ),
            Err(e) => {
                tracing::warn!(call = %id, speaker_sid = %sid, error = %e, "cannot ask Twilio about an unanswered speaker leg; waiting for it");
                true
            }
        },
    };
    let verdict = speech
        .store()
        .judge_unanswered_speaker(id, leg, still_placing, BASE_LEASE)
        .await;
    match verdict {
        Ok(UnansweredVerdict::Kept) => {
            tracing::info!(call = %id, speaker_sid = %leg.call_sid, "speaker leg still queued at Twilio: waiting for it");
        }
        Ok(UnansweredVerdict::Forgotten) => {
            if let (true, Some(sid)) = (still_placing, leg.sid()) {
                // Its code would have expired before it dialled in. Twilio is told not to place it.
                let cancel = UpdateCall::end(CallEnd::Canceled);
                if let Err(e) = speech.twilio().update_call(&sid, &cancel).await {
                    tracing::warn!(call = %id, speaker_sid = %sid, error = %e, "cannot cancel a speaker leg queued too long");
                }
            }
            tracing::info!(call = %id, "messages waiting with no speaker: starting one");
            kick(speech, id);
        }
        Ok(UnansweredVerdict::NotJudged) => {}
        Err(e) => {
            tracing::warn!(call = %id, error = %e, "cannot judge an unanswered speaker leg; the next sweep will");
        }
    }
}

/// Starts a speaker for call `id` if something is queued and nobody is speaking. Runs in the
/// background: dialling Twilio must not hold up the chat user or the webhook that triggered it.
pub fn kick(speech: &SpeechContext, id: &CallId) {
    kick_after(speech, id, Duration::ZERO);
}

fn kick_after(speech: &SpeechContext, id: &CallId, delay: Duration) {
    // A process on its way out dials nothing new: the message is in the store, and a live
    // replica's sweep (or this process, restarted) starts its speaker.
    if speech.is_stopping() {
        return;
    }
    let task_speech = speech.clone();
    let id = id.clone();
    speech.spawn(async move {
        let speech = task_speech;
        if !delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = speech.stopping() => return,
            }
        }
        match speech.line_speech().strategy {
            SpeechStrategy::SelfDial => self_dial::start(&speech, &id).await,
            SpeechStrategy::Announce => announce::start(&speech, &id).await,
            SpeechStrategy::Auto => announce::start_or_self_dial(&speech, &id).await,
        }
    });
}

/// The speaker claim to send with a message (see `Line::queue_message`), so that the lease and
/// the one-time code cost no round trip of their own: a self-dialled leg's. The message's call
/// is not read before it is stored, so its line (and strategy) is not known yet: the claim is
/// sent only when every line self-dials. Otherwise (and for the other strategies) the speaker
/// starts through [`kick`], on the line the store answers with: a first word one round trip
/// later on a self-dialling line of a deployment whose lines speak in different ways.
pub fn claim_with_message(speech: &SpeechContext) -> Option<self_dial::Claim> {
    let every_line_self_dials = speech
        .lines()
        .all()
        .iter()
        .all(|l| l.speech.strategy == SpeechStrategy::SelfDial);
    every_line_self_dials.then(self_dial::Claim::new)
}

/// Dials the leg of `claim`, which took the call's lease ([`self_dial::Claim::take`]). Runs in
/// the background, like [`kick`]. A process on its way out dials nothing: the lease lapses
/// within [`DIAL_LEASE`] and a live replica's sweep starts the speaker.
pub fn dial_claimed(speech: &SpeechContext, id: &CallId, claim: self_dial::Claim) {
    if speech.is_stopping() {
        return;
    }
    let task_speech = speech.clone();
    let id = id.clone();
    speech.spawn(async move { self_dial::dial(&task_speech, &id, claim).await });
}

/// Runs `dial` (a request to Twilio that starts speaker `leg`) while holding the short
/// [`DIAL_LEASE`], renewed every [`DIAL_HEARTBEAT`]. `None` if shutdown began first: the lease is
/// then released, so the next process dials at once; should Twilio have placed the call all the
/// same, that leg finds itself stale at its first turn and hangs up.
pub(crate) async fn while_dialling<T>(
    speech: &SpeechContext,
    id: &CallId,
    leg: &str,
    dial: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::pin!(dial);
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + DIAL_HEARTBEAT, DIAL_HEARTBEAT);
    loop {
        tokio::select! {
            outcome = &mut dial => return Some(outcome),
            () = speech.stopping() => {
                if let Err(e) = speech.store().release_dialling_speaker(id, leg).await {
                    tracing::warn!(call = %id, error = %e, "shutdown: cannot release the speaker lease; it lapses by itself");
                }
                tracing::info!(call = %id, "shutdown: speaker dial abandoned, lease released");
                return None;
            }
            _ = heartbeat.tick() => {
                if let Err(e) = speech.store().renew_speaker(id, leg, DIAL_LEASE).await {
                    tracing::warn!(call = %id, error = %e, "cannot renew the speaker's dial lease");
                }
            }
        }
    }
}

/// Speaker `leg` of call `id` is over: settle what it held and start another speaker (of the
/// configured strategy) if messages wait.
pub(crate) async fn leg_ended(speech: &SpeechContext, id: &CallId, leg: &str, reason: &str) {
    let max_attempts = speech.settings().max_attempts;
    match speech
        .store()
        .speaker_leg_ended(id, leg, max_attempts, reason)
        .await
    {
        Ok(end) => {
            speech.publish_receipts(id, &[], &end.failed).await;
            if end.more_to_say {
                kick_after(speech, id, RESTART_DELAY);
            }
        }
        Err(e) => tracing::warn!(call = %id, error = %e, "cannot settle an ended speaker"),
    }
}

/// Appends what each message of a turn says: the pieces in flight (all of them for a message
/// stored before pieces were kept), its recording first as `<Play>` when the turn starts the
/// message.
/// Counts, for `/metrics`, how long each message of a batch about to be said for the first time
/// waited since it was accepted. A batch said again (a repeated turn, a retry) is not counted.
pub(crate) fn speech_starts(speech: &SpeechContext, messages: &[Message]) {
    let now = crate::domain::now_ms();
    for message in messages {
        let first = message.attempts <= 1 && message.saying.as_ref().is_none_or(|r| r.start == 0);
        if first {
            let waited = now.saturating_sub(message.created_at);
            speech
                .metrics()
                .speech_started(Duration::from_millis(waited));
        }
    }
}

pub(crate) fn say_all(
    speech: &SpeechContext,
    mut response: VoiceResponse,
    messages: &[Message],
) -> VoiceResponse {
    for message in messages {
        let pieces = if message.pieces.is_empty() {
            pieces::plan(speech, &message.text, message.audio_url.as_deref())
        } else {
            message.pieces.clone()
        };
        let range = message.saying.clone().unwrap_or(0..pieces.len());
        if range.start == 0
            && let Some(url) = &message.audio_url
        {
            response = response.play(Play::new(url.as_str()));
        }
        for piece in pieces.get(range).unwrap_or_default() {
            if let Some(text) = message.text.get(piece.start..piece.end) {
                response = response.say(speech.say_verb(text));
            }
        }
    }
    response
}

/// A `<Say>` of `text` in a line's voice and language: how the line and its speakers say
/// anything.
pub fn say_verb(settings: &LineSpeech, text: &str) -> Say {
    let mut say = Say::new(text);
    if let Some(voice) = &settings.voice {
        say = say.voice(voice.as_str());
    }
    if let Some(language) = &settings.language {
        say = say.language(language.as_str());
    }
    say
}
