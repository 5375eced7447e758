//! Slack's v0 request signatures, checked on the raw body before anything is parsed.
//!
//! Slack signs `v0:{X-Slack-Request-Timestamp}:{raw body}` with HMAC-SHA256 and the app's
//! signing secret. slack-morphism's [`SlackEventSignatureVerifier`] does the arithmetic, compares
//! in constant time and refuses timestamps more than 300 s from now (replays). During a rotation
//! the previous secret is accepted too.

use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::signature_verifier::{
    SlackEventSignatureVerifier, SlackEventSignatureVerifierError,
};

const TIMESTAMP: &str = "x-slack-request-timestamp";
const SIGNATURE: &str = "x-slack-signature";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error("the request is not signed")]
    Missing,
    #[error("the signature does not match")]
    Mismatch,
    #[error("the timestamp is more than 5 minutes away from now")]
    Stale,
}

#[derive(Clone)]
pub struct Verifier {
    secrets: Vec<SlackEventSignatureVerifier>,
}

impl Verifier {
    pub fn new(current: &SecretString, previous: Option<&SecretString>) -> Self {
        let secrets = std::iter::once(current)
            .chain(previous)
            .map(|s| SlackEventSignatureVerifier::new(&s.expose_secret().to_owned().into()))
            .collect();
        Self { secrets }
    }

    /// Accepts the request if any configured secret signed it within the last five minutes.
    pub fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejected> {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(timestamp), Some(signature)) = (header(TIMESTAMP), header(SIGNATURE)) else {
            return Err(Rejected::Missing);
        };
        // Slack's bodies are JSON or form-encoded, always UTF-8; anything else is not Slack's.
        let body = std::str::from_utf8(body).map_err(|_| Rejected::Mismatch)?;
        let mut rejected = Rejected::Mismatch;
        for verifier in &self.secrets {
            match verifier.verify(signature, body, timestamp) {
                Ok(()) => return Ok(()),
                // The verifier checks the signature first: this secret signed it, but long ago.
                Err(SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_)) => {
                    rejected = Rejected::Stale
                }
                Err(_) => {}
            }
        }
        Err(rejected)
    }
}

/// The signature of a request [`Verifier::check`] accepted, as the id of that one delivery.
///
/// Slash commands and button clicks carry no id of their own that Slack promises unique (events
/// have `event_id`), but Slack signs each request it sends anew: a fresh timestamp, and a body
/// with a fresh `trigger_id`. A replay must present the very same signature to pass the check,
/// since the verifier compares the exact string (lower-case hex) and any other timestamp or byte
/// of body changes it. So the signature names the request, whichever of its fields a command
/// happens to carry.
pub fn delivery_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(SIGNATURE).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example (docs/protocols.md). Its timestamp is from 2018, so a correct
    /// signature is refused as stale, and only as stale.
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers(ts: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP, ts.parse().unwrap());
        h.insert(super::SIGNATURE, signature.parse().unwrap());
        h
    }

    fn verifier(secret: &str, previous: Option<&str>) -> Verifier {
        Verifier::new(
            &SecretString::from(secret),
            previous.map(SecretString::from).as_ref(),
        )
    }

    #[test]
    fn slacks_example_matches_and_is_refused_only_for_its_age() {
        let v = verifier(SECRET, None);
        assert_eq!(
            v.check(&headers(TS, SIGNATURE), BODY.as_bytes()),
            Err(Rejected::Stale)
        );
        let tampered = BODY.replace("roadrunner", "coyote");
        assert_eq!(
            v.check(&headers(TS, SIGNATURE), tampered.as_bytes()),
            Err(Rejected::Mismatch)
        );
    }

    #[test]
    fn the_previous_secret_is_accepted_during_a_rotation() {
        let v = verifier("a-brand-new-secret", Some(SECRET));
        assert_eq!(
            v.check(&headers(TS, SIGNATURE), BODY.as_bytes()),
            Err(Rejected::Stale),
            "signed by the previous secret"
        );
        assert_eq!(
            verifier("a-brand-new-secret", None).check(&headers(TS, SIGNATURE), BODY.as_bytes()),
            Err(Rejected::Mismatch)
        );
    }

    #[test]
    fn unsigned_requests_are_refused() {
        let v = verifier(SECRET, None);
        assert_eq!(v.check(&HeaderMap::new(), b"{}"), Err(Rejected::Missing));
    }
}
