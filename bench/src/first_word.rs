//! Chat reply -> the caller's first word: cold (no speaker leg yet: the leg is dialled, answered,
//! let in with its code and joins the conference before a word is said) and warm (the leg of the
//! previous message still lingers in the conference). Timed at the emulator's pace, so the
//! figure carries Twilio's dial, answer, digit and join times as the emulator models them.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::load::micros_histogram;
use crate::rig::{Caller, Rig};

/// Cold and warm first-word latencies, microseconds.
pub struct FirstWord {
    pub cold: Histogram<u64>,
    pub warm: Histogram<u64>,
    pub failures: u64,
}

/// Waits for the whole of the first message before the warm one, and for a word at all.
const HEARD_WITHIN: Duration = Duration::from_secs(60);

/// The pause between the first message ending and the warm reply: well inside the leg's
/// `speech.linger` (3 s by default), as a team member answering back would be.
const WARM_AFTER: Duration = Duration::from_millis(500);

/// Measures one cold and one warm first word on each caller, one caller at a time: Twilio
/// dequeues an account's outbound calls at 1 per second (the emulator too), so cold samples
/// taken together would measure that queue, not a dial.
pub async fn measure(rig: &Rig, callers: &[Caller], time_scale: f64) -> FirstWord {
    let mut result = FirstWord {
        cold: micros_histogram(),
        warm: micros_histogram(),
        failures: 0,
    };
    for caller in callers {
        let (cold, warm) = one(rig, caller, time_scale).await;
        match cold {
            Some(d) => result.cold.saturating_record(micros(d)),
            None => result.failures += 1,
        }
        match warm {
            Some(d) => result.warm.saturating_record(micros(d)),
            None => result.failures += 1,
        }
    }
    result
}

async fn one(rig: &Rig, caller: &Caller, time_scale: f64) -> (Option<Duration>, Option<Duration>) {
    let within = HEARD_WITHIN.mul_f64(time_scale.max(0.01));
    let cold = said(
        rig,
        caller,
        "Bravo, the engineer is on her way.",
        "Bravo",
        within,
    )
    .await;
    // Hear the first message out before the warm reply.
    let started = Instant::now();
    while !rig.heard_whole(caller, "Bravo") && started.elapsed() < within {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(WARM_AFTER.mul_f64(time_scale)).await;
    let warm = said(
        rig,
        caller,
        "Charlie, please stay on the line.",
        "Charlie",
        within,
    )
    .await;
    (cold, warm)
}

/// Replies `text` in the caller's thread; how long until the caller heard `first_word`.
async fn said(
    rig: &Rig,
    caller: &Caller,
    text: &str,
    first_word: &str,
    within: Duration,
) -> Option<Duration> {
    let sent = Instant::now();
    rig.reply(caller, text).await.ok()?;
    Some(rig.first_heard(caller, first_word, within).await? - sent)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Where a cold first word's time went, in call-seconds from the speaker dial: the speaker
/// legs' status changes, webhooks, verbs and conference joins as the emulator logged them
/// (for BENCHMARKS.md's account of each pause).
pub fn cold_timeline(rig: &Rig, caller: &Caller) -> String {
    use denwa_twilio_emulator::CallEventKind;
    let emulator = &rig.far.emulator;
    let legs: Vec<_> = emulator
        .calls()
        .into_iter()
        .filter(|c| c.from == crate::far_side::LINE && c.to == crate::far_side::LINE)
        .filter(|c| c.direction == "outbound-api" || c.far_end_call.is_some())
        .collect();
    // The first outbound speaker leg of this caller's conference, and its inbound half.
    let conference = format!("denwa-{}", caller.id);
    let Some(inbound) = legs.iter().find(|c| {
        emulator.events(&c.sid).iter().any(|e| {
            matches!(&e.kind, CallEventKind::ConferenceJoin { friendly_name, .. } if *friendly_name == conference)
        })
    }) else {
        return "no speaker leg joined".to_owned();
    };
    let Some(outbound) = inbound.far_end_call.clone() else {
        return "the speaker leg has no outbound half".to_owned();
    };
    let mut events: Vec<(f64, String)> = Vec::new();
    for (half, sid) in [("out", outbound.as_str()), ("in", inbound.sid.as_str())] {
        for event in emulator.events(sid) {
            let what = match event.kind {
                CallEventKind::Status { status } => status,
                CallEventKind::Webhook { purpose, url, .. } => {
                    let path = url::Url::parse(&url)
                        .map(|u| u.path().to_owned())
                        .unwrap_or(url);
                    format!("{purpose} {path}")
                }
                CallEventKind::Verb { verb } => format!("<{verb}>"),
                CallEventKind::DtmfSent { digit } | CallEventKind::DtmfReceived { digit } => {
                    format!("digit {digit}")
                }
                CallEventKind::ConferenceJoin { .. } => "joins the conference".to_owned(),
                _ => continue,
            };
            events.push((event.at, format!("{half}: {what}")));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let start = events.first().map_or(0.0, |e| e.0);
    events
        .iter()
        .map(|(at, what)| format!("{:.2} {what}", at - start))
        .collect::<Vec<_>>()
        .join("; ")
}
