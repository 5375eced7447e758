//! denwa: answer a phone line from chat.
//!
//! # Layout
//! What other crates (the binary, the end-to-end tests) use is public; the rest is the crate's own,
//! so the compiler reports what nothing uses.
//! - [`cli`]: `serve`, `check`, `demo` and the setup helpers; [`telemetry`]: logging (text or JSON);
//!   `shutdown`: Ctrl-C or SIGTERM.
//! - [`config`]: `config.toml` + `DENWA_<SECTION>_<KEY>` overrides, validated all at once;
//!   the lines (`[line]` and each `[[lines]]`), read by one parser.
//! - [`startup`]: builds the store, the Twilio client, the line and the router; runs them.
//! - [`server`]: connections: the cap, header and body deadlines, a bounded drain on shutdown.
//! - [`demo`]: `denwa demo`, the line with the Twilio emulator and a web console, all local.
//! - `domain`: phone numbers, conference names, calls, messages, Twilio's call and conference
//!   SIDs: input turned into types at the edge. Call and message ids, call states and directions
//!   are the chat contract's (`denwa_chat`).
//! - `line`: the flows (answer a call on the line its number or menu picks, take a message,
//!   ring responders, voicemail, events) and the sweep that looks at every active call every few
//!   seconds; each call's settings are its line's.
//! - `metrics`: what `/metrics` shows, in a registry of each app instance's own; `background`:
//!   the tasks started off the request path, tracked for shutdown; `chat_events`: what the line
//!   and its speakers tell the bridges.
//! - `speech`: the speakers (self-dial, announce), the pieces a turn says; given a
//!   `SpeechContext`, never the line.
//! - `schedule`: on-call schedules: an iCalendar feed read (bounded) by one replica under a lease,
//!   kept in the store as shifts naming the line's responders, judged fresh or stale.
//! - `store`: all state, in Redis; only it builds keys; a Lua script per atomic step.
//! - `routes`: HTTP: Twilio webhooks (signed), `/api`, health; `bridges`: the chat bridges.
//! - `twiml`: the TwiML writer, the only way text reaches Twilio's XML; `twilio`: webhook
//!   signatures, the REST client, its parameters and resources.

mod background;
mod bridges;
mod chat_events;
pub mod cli;
pub mod config;
pub mod demo;
mod domain;
mod line;
mod metrics;
mod routes;
mod schedule;
pub mod server;
mod shutdown;
mod speech;
pub mod startup;
mod store;
pub mod telemetry;
mod twilio;
mod twiml;
