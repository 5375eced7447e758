//! Slack thread reply -> the Twilio REST request that starts speaking it, with many calls at
//! once: every caller's thread gets a reply, all at the same moment or one after another at a
//! steady pace ([`Replies`]), and each reply's time is taken
//! from its sending (bench side) to the emulator's receipt of the call's speaker dial. Both
//! clocks are this process's, so the figure is denwa's work plus two loopback hops.
//!
//! The replies go out on connections opened beforehand: the issue asks for the time inside
//! denwa, and a hundred connections opened at the moment of sending put this process's
//! connecting and denwa's accepting into the figure (about 15 ms of it at 100 replies on the
//! 2-core machine; BENCHMARKS.md, "Reply latency").

use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

use crate::cpu;
use crate::load::micros_histogram;
use crate::rig::{Caller, Rig};

pub struct ReplyLatency {
    pub latency: Histogram<u64>,
    pub missing: u64,
    /// The CPU each reply cost, from the first sent to the last dial seen: with every reply at
    /// once, the last waits for about the others' CPU spread over the cores.
    pub cpu: cpu::Split,
}

/// How long to wait for every dial.
const DIALS_WITHIN: Duration = Duration::from_secs(30);

/// When the replies go out.
#[derive(Debug, Clone, Copy)]
pub enum Replies {
    /// Every caller's reply at the same moment: the worst a flood can do.
    AtOnce,
    /// One reply every `Duration`, each to another call: a steady flood, each reply measured
    /// with the others' work going on around it but not all of it queued ahead.
    Paced(Duration),
}

pub async fn measure(rig: &Rig, callers: &[Caller], when: Replies) -> ReplyLatency {
    if let Err(e) = rig.open_connections(callers.len()).await {
        // Measured all the same, over connections opened as the replies go.
        eprintln!("reply latency: connections not opened beforehand: {e}");
    }
    let parts = rig.cpu_parts("bench (Slack's side, the emulator)");
    let reading = parts.read();
    let first = tokio::time::Instant::now();
    let replies = callers.iter().enumerate().map(|(i, caller)| async move {
        if let Replies::Paced(every) = when {
            tokio::time::sleep_until(first + every * i as u32).await;
        }
        rig.reply(caller, "Delta, we are looking into it now.")
            .await
    });
    let sent: Vec<Option<SystemTime>> = futures::future::join_all(replies)
        .await
        .into_iter()
        .map(Result::ok)
        .collect();
    let started = Instant::now();
    let mut latency = micros_histogram();
    let mut missing = 0;
    let mut pending: Vec<(&Caller, SystemTime)> = callers
        .iter()
        .zip(sent)
        .filter_map(|(caller, sent)| match sent {
            Some(sent) => Some((caller, sent)),
            None => {
                missing += 1;
                None
            }
        })
        .collect();
    while !pending.is_empty() && started.elapsed() < DIALS_WITHIN {
        let dials = rig.speaker_dials_by_call();
        pending.retain(|(caller, sent)| {
            let Some(dialled) = dials
                .get(&caller.id)
                .and_then(|at| at.iter().find(|at| *at >= sent))
            else {
                return true;
            };
            let took = dialled.duration_since(*sent).unwrap_or_default();
            latency.saturating_record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
            false
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    missing += pending.len() as u64;
    ReplyLatency {
        latency,
        missing,
        cpu: reading.split(callers.len() as u64),
    }
}
