//! Callbacks delivered as Twilio may deliver them: late, out of order, twice.
//!
//! Twilio sends each status callback, conference event, recording status and transcription as a
//! request of its own and numbers them (`SequenceNumber`) because they may arrive in any order;
//! it retries a request that failed or timed out, so one that did reach the application can
//! arrive again. By default the emulator sends each callback once, at
//! once; with [`CallbackChaos`] every callback waits a random time first (so callbacks sent
//! close together overtake each other) and some are sent a second time. TwiML fetches (voice
//! URL, actions, redirects, announcement and wait documents) are requests Twilio waits on, and
//! are never touched.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

use crate::Emulator;

/// How callbacks are disordered. Seeded: the same seed makes the same decisions (delay, second
/// delivery) for the callbacks in the order they are sent.
#[derive(Debug)]
pub struct CallbackChaos {
    rng: StdRng,
    max_delay_secs: f64,
    duplicate_chance: f64,
}

/// When the deliveries of one callback leave, in call-seconds from the moment it is due.
#[derive(Debug, Clone, PartialEq)]
pub struct Deliveries(pub Vec<f64>);

impl CallbackChaos {
    /// Delays of up to 2 call-seconds and a second delivery for one callback in five: enough
    /// for callbacks sent within a second of each other to arrive in any order.
    pub fn seeded(seed: u64) -> Self {
        CallbackChaos {
            rng: StdRng::seed_from_u64(seed),
            max_delay_secs: 2.0,
            duplicate_chance: 0.2,
        }
    }

    /// The longest a delivery waits, in call-seconds.
    pub fn max_delay_secs(mut self, secs: f64) -> Self {
        self.max_delay_secs = secs.max(0.0);
        self
    }

    /// The chance (0 to 1) that a callback is delivered twice.
    pub fn duplicate_chance(mut self, chance: f64) -> Self {
        self.duplicate_chance = chance.clamp(0.0, 1.0);
        self
    }

    /// The decision for the next callback: each delivery's delay. Each delivery waits its own
    /// delay, so a second one may even arrive first.
    pub fn next_deliveries(&mut self) -> Deliveries {
        let max = self.max_delay_secs;
        let mut delays = vec![self.rng.random_range(0.0..=max)];
        if self.rng.random_bool(self.duplicate_chance) {
            delays.push(self.rng.random_range(0.0..=max));
        }
        Deliveries(delays)
    }
}

impl Emulator {
    /// Delivers every callback from now on as `chaos` decides (`None`: once each, at once).
    pub fn chaos_callbacks(&self, chaos: Option<CallbackChaos>) {
        *self.inner.chaos.lock().unwrap() = chaos;
    }

    /// The real delays of the deliveries of the next callback.
    pub(crate) fn callback_deliveries(&self) -> Vec<Duration> {
        match self.inner.chaos.lock().unwrap().as_mut() {
            Some(chaos) => chaos
                .next_deliveries()
                .0
                .into_iter()
                .map(|secs| self.inner.clock.dur(secs))
                .collect(),
            None => vec![Duration::ZERO],
        }
    }

    /// How long after a recording ends its transcription is sent. Twilio transcribes in the
    /// background and promises no order against the `<Record>` action; in chaos mode the
    /// transcription may even arrive first.
    pub(crate) fn transcription_delay(&self, usual_secs: f64) -> Duration {
        if self.inner.chaos.lock().unwrap().is_some() {
            Duration::ZERO
        } else {
            self.inner.clock.dur(usual_secs)
        }
    }
}
