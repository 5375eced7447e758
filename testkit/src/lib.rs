//! The far side that denwa's end-to-end tests (`tests/e2e`) and its benchmark (`bench/`) both
//! stand up: a fake Slack Web API, Slack's request signatures and a private `redis-server` on a free
//! port. Kept in one crate
//! so the two cannot drift apart. (The Twilio side is the `emulator` crate.)
//!
//! # Layout
//!
//! `fake_slack.rs` (the Web API methods denwa calls, recorded), `redis_server.rs` (a private
//! server that can be stopped and restarted), `slack_signature.rs` (requests signed as Slack signs
//! them).

pub mod fake_slack;
pub mod redis_server;
pub mod slack_signature;
