//! denwa's own Twilio layer (no published crate escapes TwiML or checks signatures soundly).
//!
//! - [`signature`]: validating `X-Twilio-Signature` on webhooks, from the raw request bytes.
//! - [`rest`]: the REST client (calls, conferences, participants, phone numbers) with retries.
//! - [`params`]: the typed parameters of REST requests, sent as Twilio's form fields.
//! - [`resources`]: the JSON resources Twilio answers with.
//!
//! TwiML (what we answer webhooks with) lives in [`crate::twiml`].

pub mod params;
pub mod resources;
pub mod rest;
mod retry;
pub mod signature;

pub use params::{
    CallEvent, CallTarget, CreateCall, UpdateCall, UpdateConference, UpdateIncomingNumber,
};
pub use resources::{CallStatus, ConferenceStatusEvent};
pub use rest::{TwilioClient, TwilioError};
pub use retry::RetryPolicy;
pub use signature::SignatureValidator;
