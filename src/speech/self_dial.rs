//! The self-dial speaker: the 2015 trick, made safe and lossless.
//!
//! 1. [`start`] takes the call's speaker lease, issues a one-time code and asks Twilio for a call
//!    From = To = the line's number, whose `Url` is `/twilio/speak` and whose `SendDigits` carry
//!    the code.
//! 2. Twilio's inbound half of that call reaches `/twilio/voice` From == To and gets
//!    [`ask_for_code`]; with the right digits, [`admit`] dials it into the caller's conference.
//!    DTMF can be lost on the line: an inbound half that did not get the whole code is asked
//!    once more, and the outbound half, not let in after `CODE_AGAIN_AFTER_SECS`, sends the
//!    code once more. A lost digit costs the leg ten seconds, not the message an attempt.
//! 3. The outbound half fetches `/twilio/speak` ([`turn`]). It waits (`<Pause>` + `<Redirect>`)
//!    until the inbound half's participant-join has been seen, so no word is said into a line
//!    nobody hears; then says every queued message and comes back for more (the next turn);
//!    hangs up once the queue has stayed empty for `speech.linger` seconds. A burst of messages
//!    costs one leg.
//! 4. When the leg ends ([`super::leg_ended`], from its status callback), whatever it had not
//!    confirmed is requeued (bounded) or failed, and another speaker starts if messages wait.

use std::time::Duration;

use rand::RngExt as _;

use super::SpeechContext;
use crate::domain::{
    CallId, CallSid, CallState, LegToken, LineId, ParticipantLabel, PhoneNumber, now_ms,
};
use crate::store::{SpeakerState, Turn, TurnRequest};
use crate::twilio::{CallEvent, CallTarget, CreateCall};
use crate::twiml::{Dial, Gather, GatherInput, HttpMethod, Play, Redirect, VoiceResponse};

/// Digits in a one-time code: 10^8 possibilities for a code that lives two minutes and works once.
/// Each digit is a tenth of a second of DTMF (the emulator's timing, and Twilio's tone plus gap),
/// so the code costs 0.8 s of every cold first word; six digits would save 0.2 s and make a
/// guess a hundred times likelier: not worth it.
const CODE_DIGITS: usize = 8;

/// The pause before the outbound half plays the code (`w` is half a second). Its answer and the
/// inbound half's `<Gather>` happen together: the inbound half is answered as its first verb,
/// that `<Gather>`, begins, and SendDigits starts at the outbound half's answer. Half a second
/// keeps the first digit from racing the `<Gather>` (a lost digit costs the ten seconds of the
/// second chance); the two seconds used before (`wwww`) bought nothing more and delayed the
/// join by 1.5 s: a cold first word came at 3.2 s instead of 2.2 s (BENCHMARKS.md, "First word";
/// the rest is the one-second grid of the outbound half's `<Pause>`).
const DIGITS_AFTER: &str = "w";

/// How long the inbound half's first `<Gather>` waits for a digit (the first, or the next).
/// SendDigits starts half a second in ([`DIGITS_AFTER`]) and takes 0.8 s: five seconds is
/// ample, and a code missing a digit is given up on five seconds after its last digit.
const CODE_TIMEOUT_SECS: u32 = 5;

/// Seconds into its wait to be heard at which the outbound half, if its inbound half has not
/// been let in, sends the code again (`<Play digits>`). By then the first `<Gather>` has given
/// up (the code ends about 1.3 s in, plus [`CODE_TIMEOUT_SECS`]) and the second one listens. Once
/// only: the gate asks twice, no more. (A `speech.join_timeout` under this gives up first.)
const CODE_AGAIN_AFTER_SECS: u32 = 10;

/// How long the inbound half's second `<Gather>` waits: from the first one's end (5 to 8 s in)
/// past the code sent again (10 s in, or later: every turn fetched adds Twilio's and denwa's
/// latency to its second). Generous, because it costs nothing: a real leg's inbound half ends
/// with its outbound half (which gives up after `speech.join_timeout`); only a spoofed caller
/// sits it out, in silence, and is hung up.
const CODE_AGAIN_TIMEOUT_SECS: u32 = 30;

/// Ring time allowed for the self-dialled leg; it is answered by Twilio itself at once.
const SPEAKER_DIAL_TIMEOUT_SECS: u32 = 30;

fn random_token(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// How long a speaker leg keeps asking again when the store cannot be reached (a Redis restart,
/// a failover) before it gives up and hangs up. The leg holds its place meanwhile: once Redis is
/// back, its next request settles what it said and goes on, so nothing is said twice and speech
/// resumes within a second. Longer outages outlast the lease; then the leg hangs up and the
/// sweep starts over with what it held.
const STORE_RETRY_FOR: Duration = Duration::from_secs(60);

/// Where a speaker leg is, carried in its `/twilio/speak` URL (signed by Twilio, so trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub turn: u64,
    /// Seconds spent waiting to be heard, or (once heard) idling with nothing to say.
    pub waited: u32,
    /// Unix ms of the first of a run of requests the store could not answer.
    pub stalled_since: Option<u64>,
}

impl Step {
    fn first() -> Self {
        Step {
            turn: 1,
            waited: 0,
            stalled_since: None,
        }
    }

    fn next_turn(self) -> Self {
        Step {
            turn: self.turn + 1,
            waited: 0,
            stalled_since: None,
        }
    }

    fn waited_another_second(self) -> Self {
        Step {
            waited: self.waited + 1,
            stalled_since: None,
            ..self
        }
    }
}

/// The URL of leg `leg` at `step`.
fn speak_url(speech: &SpeechContext, id: &CallId, leg: &str, step: Step) -> String {
    let turn = step.turn.to_string();
    let waited = step.waited.to_string();
    let stalled = step.stalled_since.map(|t| t.to_string());
    // The line too: each turn says its batch in the line's voice without reading the call.
    let mut query = vec![
        ("call", id.as_str()),
        ("leg", leg),
        ("turn", turn.as_str()),
        ("line", speech.line().id().as_str()),
    ];
    if step.waited != 0 {
        query.push(("waited", waited.as_str()));
    }
    if let Some(stalled) = &stalled {
        query.push(("stalled", stalled.as_str()));
    }
    speech.public_url("/twilio/speak", &query).to_string()
}

/// A `<Pause>` of a second, then `step` again.
fn pause_then(speech: &SpeechContext, id: &CallId, leg: &str, step: Step) -> VoiceResponse {
    VoiceResponse::new()
        .pause(1)
        .redirect(Redirect::new(speak_url(speech, id, leg, step)).method(HttpMethod::Post))
}

/// A speaker leg about to be: its token and one-time code, made before the lease is asked for,
/// so that the lease can be taken in the same round trip as the message that needs it (see
/// `Line::queue_message`).
pub struct Claim {
    token: LegToken,
    code: String,
    /// The number the leg dials: the call's own line's (its `to`), read by [`Claim::take`].
    number: Option<PhoneNumber>,
    /// The call's line, read with its number: the leg speaks in that line's voice.
    line: Option<LineId>,
}

impl Claim {
    pub fn new() -> Self {
        Claim {
            token: LegToken::generate(),
            code: random_token(CODE_DIGITS, b"0123456789"),
            number: None,
            line: None,
        }
    }

    /// Takes the call's speaker lease for this leg, with its code (one round trip): true if it
    /// is this leg's to dial. Messages a lost leg left in flight that have no attempts left are
    /// reported failed.
    pub async fn take(&mut self, speech: &SpeechContext, id: &CallId) -> bool {
        let max_attempts = speech.settings().max_attempts;
        // The call's own line's number (its `to`): each line's speaker dials that line, so the
        // inbound half reaches a number Twilio routes to denwa and the caller ID is that line's.
        // Read in the same round trip as the lease: no round trip is added before the dial.
        let (taken, fields) = futures::join!(
            speech.store().acquire_speaker(
                id,
                self.token.as_str(),
                &self.code,
                max_attempts,
                super::DIAL_LEASE,
            ),
            speech.store().call_fields(id, ["to", "line"])
        );
        let [to, line] = fields.unwrap_or_default();
        self.number = to.and_then(|n| PhoneNumber::parse(&n).ok());
        self.line = line.and_then(|l| LineId::parse(&l));
        let (acquired, failed) = match taken {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "cannot take the speaker lease");
                return false;
            }
        };
        speech.publish_receipts(id, &[], &failed).await;
        acquired
    }
}

/// Dials a speaker leg for call `id` if it has queued messages and no leg is speaking.
pub async fn start(speech: &SpeechContext, id: &CallId) {
    let mut claim = Claim::new();
    if claim.take(speech, id).await {
        dial(speech, id, claim).await;
    }
}

/// Dials the leg of a claim that took the lease ([`Claim::take`]).
pub async fn dial(speech: &SpeechContext, id: &CallId, claim: Claim) {
    let Claim {
        token,
        code,
        number,
        line,
    } = claim;
    let leg = token.as_str();
    // A claim taken without reading the call's line (it could not be read): the context's.
    let speech = &match &line {
        Some(line) => speech.on_line(Some(line)),
        None => speech.clone(),
    };
    let number = number.unwrap_or_else(|| speech.line_number().clone());
    let speak = speak_url(speech, id, leg, Step::first());
    // The line too: a leg that ends with messages waiting starts the next in its line's way.
    let status = speech.public_url(
        "/twilio/call-status",
        &[
            ("call", id.as_str()),
            ("leg", leg),
            ("line", speech.line().id().as_str()),
        ],
    );
    let request = CreateCall::new(
        number.clone(),
        number,
        CallTarget::url(speak, HttpMethod::Post),
    )
    .status_callback(status.as_str(), HttpMethod::Post)
    .status_callback_events([CallEvent::Completed])
    .send_digits([DIGITS_AFTER, code.as_str()].concat())
    .timeout(SPEAKER_DIAL_TIMEOUT_SECS);
    let dial = speech.twilio().create_call(&request);
    let Some(outcome) = super::while_dialling(speech, id, leg, dial).await else {
        return;
    };
    match outcome {
        Ok(created) => {
            speech.metrics().speaker_legs.inc();
            tracing::info!(call = %id, speaker_sid = %created.sid, "speaker leg dialled");
            match speech
                .store()
                .speaker_dialled(id, leg, &created.sid, super::BASE_LEASE)
                .await
            {
                Ok(true) => {}
                // Its first turn will find it stale and hang it up.
                Ok(false) => {
                    tracing::info!(call = %id, "a slow dial was overtaken by another speaker")
                }
                // The dial lease lapses and its first turn renews the lease, if still its own.
                Err(e) => tracing::warn!(call = %id, error = %e, "cannot record the speaker leg"),
            }
        }
        Err(e) => super::dial_backoff::dial_failed(speech, id, leg, &e).await,
    }
}

/// The inbound half of a self-dialled leg (From == To == the line): nothing but prompt-less
/// `<Gather>`s for the code, the second for a code the first did not get at all; silence and a
/// hang-up for anyone without it.
pub fn ask_for_code(speech: &SpeechContext) -> VoiceResponse {
    VoiceResponse::new()
        .gather(code_gather(speech, CodeAttempt::First))
        .gather(code_gather(speech, CodeAttempt::Again))
        .hangup()
}

/// Which of its two chances an inbound half is presenting its code at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeAttempt {
    First,
    /// The code sent again by the outbound half, after the first try missed digits.
    Again,
}

impl CodeAttempt {
    /// From the gate's `attempt` query parameter (signed by Twilio with the action URL).
    pub fn from_query(attempt: Option<&str>) -> Self {
        match attempt {
            Some("2") => CodeAttempt::Again,
            _ => CodeAttempt::First,
        }
    }
}

fn code_gather(speech: &SpeechContext, attempt: CodeAttempt) -> Gather {
    let (query, timeout): (&[(&str, &str)], _) = match attempt {
        CodeAttempt::First => (&[], CODE_TIMEOUT_SECS),
        CodeAttempt::Again => (&[("attempt", "2")], CODE_AGAIN_TIMEOUT_SECS),
    };
    Gather::new()
        .input(GatherInput::Dtmf)
        .num_digits(CODE_DIGITS as u32)
        .timeout(timeout)
        .action(speech.public_url("/twilio/speaker-gate", query).as_str())
        .method(HttpMethod::Post)
}

/// The code the inbound half entered: a live code admits it, once, to its call's conference.
/// Any other answer to the first chance gets the second (a digit may have been lost on the
/// line; the outbound half sends the code again); after the second, a hang-up.
pub async fn admit(
    speech: &SpeechContext,
    digits: &str,
    inbound_sid: &CallSid,
    attempt: CodeAttempt,
) -> VoiceResponse {
    let valid_shape = digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit());
    let admitted = if valid_shape {
        speech
            .store()
            .redeem_speaker_code(digits, inbound_sid)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot check a speaker code");
                None
            })
    } else {
        None
    };
    let Some((id, leg)) = admitted else {
        if attempt == CodeAttempt::First {
            tracing::info!(call_sid = %inbound_sid, "call from the line's own number without a valid code: asking again");
            return VoiceResponse::new()
                .gather(code_gather(speech, CodeAttempt::Again))
                .hangup();
        }
        tracing::warn!(call_sid = %inbound_sid, "call from the line's own number without a valid code: hung up");
        return VoiceResponse::new().hangup();
    };
    // Labelled with the leg's own token: a label holding its CallSid is one Twilio refuses.
    let Some(label) = LegToken::parse(&leg).map(|token| ParticipantLabel::speaker(&token)) else {
        tracing::error!(call = %id, "a speaker leg token unfit for a participant label: hung up");
        return VoiceResponse::new().hangup();
    };
    let conference = speech
        .conference(&id)
        .participant_label(label)
        // The speaker is heard however Twilio reads its start rule: with the caller waiting alone
        // (a conference takes two to start), its own join starts the conference. It never keeps
        // one going without the caller: the caller's endConferenceOnExit ends the conference,
        // speaker included; and a speaker that gets in after the caller has gone sits alone in a
        // new conference of the same name, which cannot start and ends when its next turn finds
        // the call over and hangs up.
        .start_conference_on_enter(true)
        .end_conference_on_exit(false)
        .wait_url("");
    VoiceResponse::new()
        .dial(Dial::conference(conference))
        .hangup()
}

/// Leg `leg` at `step`: one fetch of `/twilio/speak` by the outbound half.
pub async fn turn(speech: &SpeechContext, id: &CallId, leg: &str, step: Step) -> VoiceResponse {
    match try_turn(speech, id, leg, step).await {
        Ok(response) => response,
        Err(e) => {
            let since = step.stalled_since.unwrap_or_else(now_ms);
            let stalled = Duration::from_millis(now_ms().saturating_sub(since));
            if stalled >= STORE_RETRY_FOR {
                // The lease lapses and the next speaker (or the sweep) takes over what it held.
                tracing::warn!(call = %id, error = %e, "speaker turn failed for a minute; hanging up the leg");
                return VoiceResponse::new().hangup();
            }
            // Ask again in a second, for the same step: a turn is idempotent (a repeat of turn
            // N says its batch again, unsettled), and hanging up would lose track of what this
            // leg already said.
            tracing::warn!(call = %id, error = %e, "speaker turn failed; asking again in a second");
            let again = Step {
                stalled_since: Some(since),
                ..step
            };
            pause_then(speech, id, leg, again)
        }
    }
}

async fn try_turn(
    speech: &SpeechContext,
    id: &CallId,
    leg: &str,
    step: Step,
) -> Result<VoiceResponse, crate::store::StoreError> {
    let Step { turn, waited, .. } = step;
    let store = speech.store();
    let max_attempts = speech.settings().max_attempts;
    let lease = super::BASE_LEASE;
    let next = speak_url(speech, id, leg, step.next_turn());
    // Once in the conference, `waited` counts the seconds the leg has idled with nothing to say.
    let linger = u64::from(waited) < speech.settings().linger.as_secs();
    match store
        .speaker_turn(
            id,
            &TurnRequest {
                leg,
                turn,
                max_attempts,
                require_join: true,
                linger,
                lease,
                budget_bytes: super::pieces::TURN_BUDGET_BYTES,
            },
        )
        .await?
    {
        Turn::Unjoined {
            call: None | Some(CallState::Ended),
            ..
        } => Ok(VoiceResponse::new().hangup()),
        Turn::Unjoined { speaker, code, .. } => {
            let gave_up = u64::from(waited) >= speech.settings().join_timeout.as_secs();
            if speaker == Some(SpeakerState::Left) || gave_up {
                return Ok(VoiceResponse::new().hangup());
            }
            if speaker == Some(SpeakerState::Dialing)
                && waited == CODE_AGAIN_AFTER_SECS
                && let Some(code) = code
            {
                // The inbound half has not presented the code: a digit was lost on the line
                // (or all of them). Its second `<Gather>` listens now.
                let again = speak_url(speech, id, leg, step.waited_another_second());
                return Ok(VoiceResponse::new()
                    .play(Play::digits(code))
                    .redirect(Redirect::new(again).method(HttpMethod::Post)));
            }
            // Not heard yet (the turn renewed the lease): wait a second and ask again rather
            // than speak into the void.
            Ok(pause_then(speech, id, leg, step.waited_another_second()))
        }
        Turn::Stale => Ok(VoiceResponse::new().hangup()),
        Turn::Linger { spoken, failed } => {
            speech.publish_receipts(id, &spoken, &failed).await;
            let idle = Step {
                turn: turn + 1,
                ..step.waited_another_second()
            };
            Ok(pause_then(speech, id, leg, idle))
        }
        Turn::Done {
            spoken,
            failed,
            more,
        } => {
            speech.publish_receipts(id, &spoken, &failed).await;
            if more {
                super::kick(speech, id);
            }
            Ok(VoiceResponse::new().hangup())
        }
        Turn::Again { batch } | Turn::Speak { batch, .. } if batch.is_empty() => {
            Ok(VoiceResponse::new().hangup())
        }
        Turn::Again { batch } => {
            let response = super::say_all(speech, VoiceResponse::new(), &batch);
            Ok(response.redirect(Redirect::new(next).method(HttpMethod::Post)))
        }
        Turn::Speak {
            spoken,
            failed,
            batch,
            ..
        } => {
            speech.publish_receipts(id, &spoken, &failed).await;
            super::speech_starts(speech, &batch);
            let response = super::say_all(speech, VoiceResponse::new(), &batch);
            Ok(response.redirect(Redirect::new(next).method(HttpMethod::Post)))
        }
    }
}
