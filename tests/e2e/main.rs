//! End-to-end tests: the real router on a free port, a real redis-server per test, the Twilio
//! emulator on the far side of real HTTP with real signatures. One binary, so it links once.

mod fake_discord;
mod helpers;
mod raw_http;
mod redis_cluster;
mod serve_process;
mod slow_link;

// The far side shared with the benchmark.
use denwa_testkit::{fake_slack, redis_server};

mod announce;
mod api;
mod bench_smoke;
mod body_limits;
mod calls;
mod chaos;
mod cli;
mod cluster;
mod conferences;
mod demo;
mod discord;
mod escalation;
mod ghost_calls;
mod guards;
mod hours;
mod line_speech;
mod lines;
mod oncall;
mod operations;
mod replicas;
mod resilience;
mod restarts;
mod round_trips;
mod schedule;
mod script_keys;
mod security;
mod slack;
mod slow_clients;
mod soak;
mod speaker_code;
mod speech;
mod speech_limits;
mod speech_size;
mod sweep;
mod tls;
mod transcription;
mod twilio_outage;
mod twilio_queue;
mod upgrade;
mod voicemail_transcripts;
