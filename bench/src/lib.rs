//! denwa's benchmark: a `denwa serve` process (the release build) driven through real HTTP with
//! real signatures, against the Twilio emulator (in this process), a fake Slack Web API and a
//! real redis-server, printing one table (BENCHMARKS.md records it and how to reproduce it).
//!
//! # Layout
//!
//! `run` (this file: the order of the measures and the table's rows), `far_side.rs` (redis,
//! emulator, fake Slack, the shared secrets), `serve.rs` (the `denwa serve` process: ready time,
//! pid), `rig.rs` (callers, Slack replies, API says, what the emulator saw), `load.rs` (the
//! closed-loop HTTP load generator), `webhooks.rs` (signed incoming-call webhooks, `/healthz`),
//! `seed.rs` (the seed design under gunicorn), `first_word.rs`, `bursts.rs`,
//! `reply_latency.rs`, `memory.rs` (the scenarios), `rss.rs` and `cpu.rs` (a process's memory and
//! CPU, from `/proc`), `table.rs`.

pub mod bursts;
pub mod cpu;
pub mod far_side;
pub mod first_word;
pub mod load;
pub mod memory;
pub mod reply_latency;
pub mod rig;
pub mod rss;
pub mod seed;
pub mod serve;
pub mod table;
pub mod webhooks;

use std::path::PathBuf;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::reply_latency::Replies;
use crate::rig::Rig;
use crate::serve::{Chat, Strategy};
use crate::table::Table;

/// What to run, and how hard.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `denwa` binary to run as `denwa serve`.
    pub denwa: PathBuf,
    /// The seed design's Flask app (`app.py`); `None` skips its row.
    pub seed: Option<PathBuf>,
    /// Where the seed's virtualenv is (made if missing).
    pub venv: PathBuf,
    /// Connections of the throughput rows.
    pub connections: usize,
    /// Length of each throughput run.
    pub duration: Duration,
    /// The emulator's real seconds per call-second for the speech rows (1.0: Twilio's pace).
    pub time_scale: f64,
    /// Callers whose cold and warm first words are timed, per strategy.
    pub first_word_samples: usize,
    pub burst_sizes: Vec<usize>,
    /// Calls that get a Slack reply at the same moment.
    pub concurrent_replies: usize,
    /// The emulator's time scale for the rows with many calls (reply latency, memory): Twilio
    /// dials an account's calls at 1 per second, so a hundred speakers take a hundred
    /// call-seconds to be dialled; a faster clock keeps the run short, and neither row's figure
    /// is a duration in call time.
    pub load_time_scale: f64,
    /// Active calls, and how many of them speak, for the memory row.
    pub active_calls: usize,
    pub speaking_calls: usize,
    /// Runs one part of the table only (`--only`); `None`: every row.
    pub only: Option<Part>,
}

/// A part of the table that can be run alone (`--only`): chasing one row need not cost the
/// five minutes of the whole table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Start-up, idle memory and the throughput rows.
    Webhooks,
    /// First words and bursts, both strategies.
    Speech,
    /// Slack reply -> Twilio REST dial with many calls at once (a few seconds).
    Reply,
    /// Resident memory with many active calls (runs the reply row first: it shares its calls).
    Memory,
}

impl Options {
    /// The loads.
    pub fn full(denwa: PathBuf, seed: Option<PathBuf>, venv: PathBuf) -> Options {
        Options {
            denwa,
            seed,
            venv,
            connections: 32,
            duration: Duration::from_secs(10),
            time_scale: 1.0,
            first_word_samples: 5,
            burst_sizes: vec![1, 5, 20],
            concurrent_replies: 100,
            load_time_scale: 0.1,
            active_calls: 1000,
            speaking_calls: 100,
            only: None,
        }
    }

    /// A tiny load that only proves every row can be measured (CI, debug build): seconds.
    pub fn smoke(denwa: PathBuf) -> Options {
        Options {
            denwa,
            seed: None,
            venv: PathBuf::new(),
            connections: 4,
            duration: Duration::from_millis(300),
            time_scale: 0.05,
            first_word_samples: 1,
            burst_sizes: vec![1, 3],
            concurrent_replies: 3,
            load_time_scale: 0.05,
            active_calls: 6,
            speaking_calls: 2,
            only: None,
        }
    }
}

/// Runs every measure; the table, or why the bench could not run.
pub async fn run(options: &Options) -> Result<Table, String> {
    // reqwest (here and in the emulator) uses rustls, which needs a provider chosen once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut table = Table::default();
    let runs = |part: Part| options.only.is_none_or(|only| only == part);
    if runs(Part::Webhooks) {
        webhook_rows(options, &mut table).await?;
    }
    if runs(Part::Speech) {
        for strategy in [Strategy::SelfDial, Strategy::Announce] {
            speech_rows(options, strategy, &mut table).await?;
        }
    }
    if runs(Part::Reply) || runs(Part::Memory) {
        load_rows(options, runs(Part::Memory), &mut table).await?;
    }
    Ok(table)
}

/// Start-up, idle memory, and the throughput rows (`/healthz`, `/twilio/voice`, the seed).
async fn webhook_rows(options: &Options, table: &mut Table) -> Result<(), String> {
    let rig = Rig::start(&options.denwa, Strategy::SelfDial, Chat::None, 1.0).await?;
    let ready_ms = rig.serve.ready_after.as_secs_f64() * 1000.0;
    table.row(
        "start-up to ready (`/readyz` 200)",
        format!("{ready_ms:.0} ms"),
        "< 100 ms",
        Some(ready_ms < 100.0),
    );
    // A moment for start-up work to settle before idle memory is read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss::resident_mib(rig.serve.pid());
    if idle.is_none() {
        table.problem("the resident memory of denwa serve cannot be read");
    }
    table.row(
        "RSS idle",
        mib(idle),
        "< 30 MB",
        idle.map(|m| m * 1.048_576 < 30.0),
    );

    let parts = rig.cpu_parts("load generator");
    let cores = cores();

    let reading = parts.read();
    let healthz = load::run(
        rig.serve.addr,
        options.connections,
        options.duration,
        webhooks::healthz(&rig.serve.base),
    )
    .await;
    let healthz_cpu = reading.split(healthz.requests);
    table.note("throughput rows: no chat bridge configured (the seed announces nothing either)");
    table.row(
        format!("`GET /healthz`, {} connections", options.connections),
        throughput(&healthz),
        "ceiling",
        None,
    );
    let reading = parts.read();
    let voice = load::run(
        rig.serve.addr,
        options.connections,
        options.duration,
        webhooks::incoming_calls(&rig.serve.base, "/twilio/voice", 1),
    )
    .await;
    let voice_cpu = reading.split(voice.requests);
    for (what, report) in [("/healthz", &healthz), ("/twilio/voice", &voice)] {
        if report.errors > 0 || report.requests == 0 {
            table.problem(format!(
                "{what}: {} requests, {} errors",
                report.requests, report.errors
            ));
        }
    }
    let share = voice.per_second() / healthz.per_second().max(1e-9);
    table.row(
        format!(
            "`POST /twilio/voice` (signed, distinct CallSids), {} connections",
            options.connections
        ),
        format!("{} ({:.0}% of /healthz)", throughput(&voice), share * 100.0),
        "≥ 50% of /healthz, p99 < 3 ms",
        Some(share >= 0.5 && voice.percentile_ms(0.99) < 3.0 && voice.errors == 0),
    );
    for (what, split) in [("/healthz", &healthz_cpu), ("/twilio/voice", &voice_cpu)] {
        table.note(format!(
            "CPU per request, {what}: {}{}",
            split.describe(),
            ceiling(split, cores)
        ));
    }
    let after_load = rss::resident_mib(rig.serve.pid());
    table.note(format!(
        "RSS after the throughput runs ({} calls created): {}",
        voice.requests,
        mib(after_load)
    ));
    match &options.seed {
        None => table.note("seed design: skipped (not asked for)"),
        Some(dir) => match seed::Seed::start(dir, &options.venv, &rig.far).await {
            Err(why) => table.note(format!("seed design: skipped: {why}")),
            Ok(seed) => {
                let seed_pid = seed.pid();
                let redis_pid = rig.far.redis.pid();
                let parts = cpu::Parts::default()
                    .with("seed (gunicorn)", move || cpu::tree_seconds(seed_pid))
                    .with("redis", move || redis_pid.and_then(cpu::seconds))
                    .with("load generator", || cpu::seconds(std::process::id()));
                let reading = parts.read();
                let report = load::run(
                    seed.addr,
                    options.connections,
                    options.duration,
                    webhooks::incoming_calls(&seed.base, "/", 2),
                )
                .await;
                let split = reading.split(report.requests);
                table.note(format!(
                    "CPU per request, seed: {}{}",
                    split.describe(),
                    ceiling(&split, cores)
                ));
                let ratio = voice.per_second() / report.per_second().max(1e-9);
                table.row(
                    format!(
                        "seed design `POST /` (Flask, gunicorn 2 workers), {} connections",
                        options.connections
                    ),
                    format!("{} (denwa: {ratio:.1}x)", throughput(&report)),
                    "denwa ≥ 30x",
                    Some(ratio >= 30.0),
                );
            }
        },
    }
    Ok(())
}

/// First word, bursts, and for self-dial the reply latency and memory with many calls.
async fn speech_rows(
    options: &Options,
    strategy: Strategy,
    table: &mut Table,
) -> Result<(), String> {
    let name = strategy.config_value();
    let rig = Rig::start(&options.denwa, strategy, Chat::Slack, options.time_scale).await?;
    let scale = options.time_scale;
    let callers = rig.call_in(0, options.first_word_samples, 50).await?;
    let next = callers.len();
    let words = first_word::measure(&rig, &callers, scale).await;
    let cold = seconds_p50_p99(&words.cold, scale);
    let warm_p99 = call_seconds(&words.warm, 0.99, scale);
    table.row(
        format!(
            "{name}: chat reply -> first word, cold (n={})",
            words.cold.len()
        ),
        cold,
        "as soon as Twilio allows",
        None,
    );
    table.row(
        format!(
            "{name}: chat reply -> first word, warm (n={})",
            words.warm.len()
        ),
        seconds_p50_p99(&words.warm, scale),
        "< 1 s",
        (!words.warm.is_empty()).then_some(warm_p99 < 1.0),
    );
    if let Some(first) = callers.first() {
        table.note(format!(
            "{name}: a cold first word, the speaker leg's timeline (call-seconds): {}",
            first_word::cold_timeline(&rig, first)
        ));
    }
    if words.failures > 0 {
        table.problem(format!(
            "{name}: {} first words never heard",
            words.failures
        ));
    }

    // Announce speaks into a started conference only; a caller alone gets a speaker leg, as
    // with self-dial. Its bursts are measured both ways.
    let conferences: &[bursts::Conference] = match strategy {
        Strategy::SelfDial => &[bursts::Conference::CallerAlone],
        Strategy::Announce => &[bursts::Conference::CallerAlone, bursts::Conference::Started],
    };
    for (i, &conference) in conferences.iter().enumerate() {
        let first = next + i * options.burst_sizes.len();
        burst_rows(options, &rig, strategy, conference, first, table).await?;
    }

    Ok(())
}

/// The pace of the reply row's steady flood: a hundred replies a second, each to another call
/// (a team typing into every call of a flood at once, far above one person's pace).
const REPLY_PACE: Duration = Duration::from_millis(10);

/// One row of reply latency.
fn reply_row(table: &mut Table, replies: &reply_latency::ReplyLatency, measure: String) {
    let p99 = replies.latency.value_at_quantile(0.99) as f64 / 1000.0;
    if replies.missing > 0 {
        table.problem(format!(
            "{} Slack replies never led to a dial",
            replies.missing
        ));
    }
    table.row(
        measure,
        format!(
            "p50 {:.1} ms, p99 {p99:.1} ms{}",
            replies.latency.value_at_quantile(0.5) as f64 / 1000.0,
            if replies.missing > 0 {
                format!(" ({} never dialled)", replies.missing)
            } else {
                String::new()
            }
        ),
        "p99 < 5 ms",
        Some(p99 < 5.0 && replies.missing == 0),
    );
}

/// Many calls at once, self-dial: Slack reply -> REST dial with every call replied to at the
/// same moment, then (if `memory`) memory with many active calls, some speaking.
async fn load_rows(options: &Options, memory: bool, table: &mut Table) -> Result<(), String> {
    let rig = Rig::start(
        &options.denwa,
        Strategy::SelfDial,
        Chat::Slack,
        options.load_time_scale,
    )
    .await?;
    let scale = options.load_time_scale;
    let callers = rig.call_in(0, options.concurrent_replies, 50).await?;
    let replies = reply_latency::measure(&rig, &callers, Replies::AtOnce).await;
    // Only here: the paced row's second also holds the speaker legs these replies dialled.
    table.note(format!(
        "CPU per reply, every reply at once: {}; {} replies on {} cores take at least {:.1} ms",
        replies.cpu.describe(),
        callers.len(),
        cores(),
        replies.cpu.total_us().unwrap_or(0.0) * callers.len() as f64 / cores() as f64 / 1000.0
    ));
    reply_row(
        table,
        &replies,
        format!(
            "Slack reply -> Twilio REST dial, {} calls, every reply at once",
            callers.len()
        ),
    );
    // Fresh calls (those above have a speaker leg now, so a reply would dial nothing).
    let mut paced = rig
        .call_in(callers.len(), options.concurrent_replies, 50)
        .await?;
    let replies = reply_latency::measure(&rig, &paced, Replies::Paced(REPLY_PACE)).await;
    reply_row(
        table,
        &replies,
        format!(
            "Slack reply -> Twilio REST dial, {} calls, a reply every {} ms",
            paced.len(),
            REPLY_PACE.as_millis()
        ),
    );
    let mut callers = callers;
    callers.append(&mut paced);
    let next = callers.len();
    if !memory {
        return Ok(());
    }
    let more = options.active_calls.saturating_sub(next);
    let mut active = rig.call_in(next, more, 100).await?;
    active.extend(callers);
    // Each reply above dialled a speaker leg; the new speakers' legs are dialled after them.
    let memory::UnderLoad {
        peak,
        heard,
        refused,
    } = memory::with_speakers(&rig, &active, options.speaking_calls, next, scale).await;
    if heard < options.speaking_calls {
        table.problem(format!(
            "{heard} of {} speaking calls were heard{}",
            options.speaking_calls,
            refused
                .map(|r| format!(" (a say was refused: {r})"))
                .unwrap_or_default()
        ));
    }
    table.row(
        format!(
            "RSS, {} active calls, {} speaking ({heard} heard)",
            next + more,
            options.speaking_calls
        ),
        mib(peak),
        "< 100 MB",
        peak.map(|m| m * 1.048_576 < 100.0),
    );
    Ok(())
}

/// One row per burst size, each burst on a fresh caller (numbered from `first`).
async fn burst_rows(
    options: &Options,
    rig: &Rig,
    strategy: Strategy,
    conference: bursts::Conference,
    first: usize,
    table: &mut Table,
) -> Result<(), String> {
    let name = strategy.config_value();
    let callers = rig.call_in(first, options.burst_sizes.len(), 50).await?;
    let when = match conference {
        bursts::Conference::CallerAlone => "caller alone",
        bursts::Conference::Started => "conference started",
    };
    let costs = bursts::measure(
        rig,
        &callers,
        &options.burst_sizes,
        conference,
        options.time_scale,
    )
    .await;
    for cost in costs {
        if !cost.spoken {
            table.problem(format!(
                "{name}: a burst of {} was not all spoken in time",
                cost.messages
            ));
        }
        let (target, met) = match (strategy, cost.messages >= 5) {
            (Strategy::SelfDial, true) => {
                ("≤ 0.2 legs/message", Some(cost.legs_per_message() <= 0.2))
            }
            (Strategy::Announce, true) => ("0 legs/message", Some(cost.legs == 0)),
            (_, false) => ("", None),
        };
        table.row(
            format!("{name}: burst of {} ({when})", cost.messages),
            format!(
                "{:.2} legs/message, {:.2} announcements/message{}",
                cost.legs_per_message(),
                cost.announcements_per_message(),
                if cost.spoken {
                    ""
                } else {
                    " (not all spoken in time)"
                }
            ),
            target,
            met.map(|m| m && cost.spoken),
        );
    }

    Ok(())
}

/// The machine's cores, which denwa, Redis and the bench share.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `: at most 25000 req/s on 2 cores`, what the CPU split allows the machine.
fn ceiling(split: &cpu::Split, cores: usize) -> String {
    match split.ceiling_per_second(cores) {
        Some(most) => format!(": at most {most:.0} req/s on {cores} cores"),
        None => String::new(),
    }
}

fn throughput(report: &load::LoadReport) -> String {
    format!(
        "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms{}",
        report.per_second(),
        report.percentile_ms(0.5),
        report.percentile_ms(0.99),
        if report.errors > 0 {
            format!(", {} errors", report.errors)
        } else {
            String::new()
        }
    )
}

fn mib(value: Option<f64>) -> String {
    value.map_or_else(|| "unreadable".to_owned(), |m| format!("{m:.1} MiB"))
}

/// A latency histogram (real µs) in call-seconds: real time divided by the time scale.
fn call_seconds(h: &Histogram<u64>, q: f64, scale: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1e6 / scale.max(1e-9)
}

fn seconds_p50_p99(h: &Histogram<u64>, scale: f64) -> String {
    if h.is_empty() {
        return "not measured".to_owned();
    }
    format!(
        "p50 {:.2} s, p99 {:.2} s",
        call_seconds(h, 0.5, scale),
        call_seconds(h, 0.99, scale)
    )
}
