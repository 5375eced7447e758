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

/// One burst of `sizes[i]` messages on `callers[i]`, all bursts at once.
pub async fn measure(rig: &Rig, callers: &[Caller], sizes: &[usize], time_scale: f64) -> Vec<BurstCost> {
    let runs = callers
        .iter()
        .zip(sizes)
        .map(|(caller, &size)| one(rig, caller, size, time_scale));
    futures::future::join_all(runs).await
}

async fn one(rig: &Rig, caller: &Caller, size: usize, time_scale: f64) -> BurstCost {
    for n in 1..=size {
        // Short messages, a few words each: the burst, not the speech, is measured.
        let _ = rig.say(caller, &format!("Update number {n}.")).await;
    }
    let within = Duration::from_secs_f64((SECS_TO_START + SECS_PER_MESSAGE * size as f64) * time_scale.max(0.01));
    let started = Instant::now();
    let mut spoken = false;
    while started.elapsed() < within {
        if rig.all_spoken(caller, size).await.unwrap_or(false) {
            spoken = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    BurstCost {
        messages: size,
        legs: rig.speaker_dials(caller).len(),
        announcements: rig.announcements(caller),
        spoken,
    }
}
