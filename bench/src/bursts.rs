//! Extra call legs (and conference announcements) per spoken message, for bursts of messages:
//! each burst on a fresh call, posted back to back through the API, counted once every message
//! of it is spoken.

use std::time::{Duration, Instant};

use crate::rig::{Caller, Rig};

/// What one burst cost.
#[derive(Debug, Clone, Copy)]
pub struct BurstCost {
    pub messages: usize,
    pub legs: usize,
    pub announcements: usize,
    pub spoken: bool,
}

impl BurstCost {
    pub fn legs_per_message(&self) -> f64 {
        self.legs as f64 / self.messages.max(1) as f64
    }

    pub fn announcements_per_message(&self) -> f64 {
        self.announcements as f64 / self.messages.max(1) as f64
    }
}

/// Call-seconds a burst may take to be spoken, per message, plus a minute for the dial.
const SECS_PER_MESSAGE: f64 = 5.0;
const SECS_TO_START: f64 = 60.0;

/// Whether the caller's conference has already started when the burst comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conference {
    /// The caller waits alone: a conference that has not started (Twilio takes no announcement
    /// into it).
    CallerAlone,
    /// A first message was spoken and its speaker leg has gone: the conference has started.
    Started,
}

/// One burst of `sizes[i]` messages on `callers[i]`, all bursts at once.
pub async fn measure(
    rig: &Rig,
    callers: &[Caller],
    sizes: &[usize],
    conference: Conference,
    time_scale: f64,
) -> Vec<BurstCost> {
    let runs = callers
        .iter()
        .zip(sizes)
        .map(|(caller, &size)| one(rig, caller, size, conference, time_scale));
    futures::future::join_all(runs).await
}

async fn one(
    rig: &Rig,
    caller: &Caller,
    size: usize,
    conference: Conference,
    time_scale: f64,
) -> BurstCost {
    let (legs_before, announcements_before, mut spoken_before) = match conference {
        Conference::CallerAlone => (0, 0, 0),
        Conference::Started => {
            let _ = rig.say(caller, "Prologue.").await;
            wait_spoken(rig, caller, 1, time_scale).await;
            rig.wait_speakers_gone(
                caller,
                Duration::from_secs_f64(SECS_TO_START * time_scale.max(0.01)),
            )
            .await;
            (
                rig.speaker_dials(caller).len(),
                rig.announcements(caller),
                1,
            )
        }
    };
    for n in 1..=size {
        // Short messages, a few words each: the burst, not the speech, is measured.
        let _ = rig.say(caller, &format!("Update number {n}.")).await;
    }
    spoken_before += size;
    let spoken = wait_spoken(rig, caller, spoken_before, time_scale).await;
    BurstCost {
        messages: size,
        legs: rig.speaker_dials(caller).len() - legs_before,
        announcements: rig.announcements(caller) - announcements_before,
        spoken,
    }
}

/// Waits until the call's `count` messages are spoken; whether they were in time.
async fn wait_spoken(rig: &Rig, caller: &Caller, count: usize, time_scale: f64) -> bool {
    let within = Duration::from_secs_f64(
        (SECS_TO_START + SECS_PER_MESSAGE * count as f64) * time_scale.max(0.01),
    );
    let started = Instant::now();
    while started.elapsed() < within {
        if rig.all_spoken(caller, count).await.unwrap_or(false) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
