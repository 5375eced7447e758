//! Resident memory with many active calls, some of them speaking: `calls` callers connected,
//! a long message said to the first `speaking`, the peak RSS sampled while they speak.

use std::time::{Duration, Instant};

use crate::rig::{Caller, Rig};
use crate::rss::resident_mib;

/// About twenty seconds of speech at Twilio's pace (0.3 s a word), said [`REPEATS`] times in
/// one message: Twilio dials an account's calls at 1 per second, so the speakers start a second
/// apart and only a message lasting about as long as the dials keeps most of them speaking at
/// once.
const REPEATS: usize = 3;
const LONG_MESSAGE: &str = "Echo. We have paged the on-call engineer and the database team. \
    The outage began at nine forty and affects logins in Europe. We will call you back within \
    the hour with an update, and you can stay on the line if you prefer. Thank you for your \
    patience while we work on it.";

/// How long to sample once speech has started, in call-seconds.
const SAMPLE_FOR_SECS: f64 = 10.0;

/// What the memory measure saw.
pub struct UnderLoad {
    /// Peak RSS (MiB) while the speakers spoke.
    pub peak: Option<f64>,
    /// Speaking calls whose caller heard the message begin.
    pub heard: usize,
    /// The first refusal of a say, if any was refused.
    pub refused: Option<String>,
}

/// Peak RSS while `speaking` of `callers` are spoken to, `dials_ahead` speaker legs having
/// been dialled before (Twilio dials them in turn, so these speakers' legs wait behind them).
pub async fn with_speakers(
    rig: &Rig,
    callers: &[Caller],
    speaking: usize,
    dials_ahead: usize,
    time_scale: f64,
) -> UnderLoad {
    let speakers = &callers[..speaking.min(callers.len())];
    let message = [LONG_MESSAGE; REPEATS].join(" ");
    let says = speakers.iter().map(|caller| rig.say(caller, &message));
    let refused = futures::future::join_all(says)
        .await
        .into_iter()
        .find_map(Result::err);
    let mut peak: Option<f64> = None;
    let mut heard = 0;
    let started = Instant::now();
    // Dials at 1 a second, behind those dialled before, and a minute to spare.
    let call_secs = 2.0 * (dials_ahead + speakers.len()) as f64 + 60.0 + SAMPLE_FOR_SECS;
    let within = Duration::from_secs_f64(call_secs * time_scale.max(0.01));
    let mut speaking_since: Option<Instant> = None;
    while started.elapsed() < within {
        if let Some(rss) = resident_mib(rig.serve.pid()) {
            peak = Some(peak.map_or(rss, |p: f64| p.max(rss)));
        }
        heard = speakers
            .iter()
            .filter(|c| {
                rig.far
                    .emulator
                    .transcript(&c.sid)
                    .iter()
                    .any(|h| h.text().is_some_and(|t| t.starts_with("Echo")))
            })
            .count();
        if heard == speakers.len() && speaking_since.is_none() {
            speaking_since = Some(Instant::now());
        }
        if speaking_since.is_some_and(|s| s.elapsed().as_secs_f64() > SAMPLE_FOR_SECS * time_scale)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    UnderLoad {
        peak,
        heard,
        refused,
    }
}
