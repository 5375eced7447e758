//! denwa: answer a phone line from chat.
//!
//! # Layout
//! - [`domain`]: phone numbers, call ids, conference names: input turned into types at the edge.
//! - [`config`]: `config.toml` + `DENWA_<SECTION>_<KEY>` overrides, validated all at once.
//! - [`twiml`]: the TwiML writer; the only way text reaches Twilio's XML.
//! - [`twilio`]: webhook signatures, the REST client, webhook parameters.
//! - [`server`]: connections: the cap, header and body deadlines, a bounded drain on shutdown.
//! - [`demo`]: `denwa demo`, the line with the Twilio emulator and a web console, all local.

pub mod bridges;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod line;
pub mod routes;
pub mod server;
pub mod speech;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod twilio;
pub mod twiml;
