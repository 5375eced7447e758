//! Checking that an interaction comes from Discord: Ed25519 over `X-Signature-Timestamp` + the
//! raw body, with the application's public key, and a timestamp that is recent. Done on the raw
//! bytes before anything is parsed; Discord sends bad signatures on purpose to check we refuse
//! them (401).
//!
//! serenity's `Verifier` checks the signature but not the timestamp's age; without that check a
//! captured request could be replayed for ever.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use serenity::interactions_endpoint::Verifier;

/// How old a signed timestamp may be.
pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// How far ahead of our clock a signed timestamp may be (clock skew, not a replay window).
pub const MAX_AHEAD: Duration = Duration::from_secs(60);

/// Why an interaction was refused. Logged, never shown to the sender beyond the 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("no X-Signature-Ed25519 or X-Signature-Timestamp header")]
    Missing,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is {0} s old")]
    Stale(u64),
    #[error("the timestamp is {0} s in the future")]
    Future(u64),
}

#[derive(Clone)]
pub struct InteractionVerifier {
    verifier: Verifier,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidKey(String);

impl InteractionVerifier {
    /// `public_key`: 64 hex digits, as the Developer Portal shows it.
    pub fn new(public_key: &str) -> Result<Self, InvalidKey> {
        let key = public_key.trim();
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidKey("must be 64 hex digits".into()));
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&key[2 * i..2 * i + 2], 16)
                .map_err(|e| InvalidKey(e.to_string()))?;
        }
        let verifier = Verifier::try_new(bytes).map_err(|e| InvalidKey(e.to_string()))?;
        Ok(Self { verifier })
    }

    /// Checks a request's headers and raw body, at `now`.
    pub fn check(&self, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Result<(), Rejected> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(signature), Some(timestamp)) = (
            header("x-signature-ed25519"),
            header("x-signature-timestamp"),
        ) else {
            return Err(Rejected::Missing);
        };
        self.check_parts(signature, timestamp, body, now)
    }

    pub fn check_parts(
        &self,
        signature: &str,
        timestamp: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejected> {
        self.verifier
            .verify(signature.trim(), timestamp, body)
            .map_err(|()| Rejected::BadSignature)?;
        // Only a signed timestamp is worth reading: checked after the signature.
        let signed: u64 = timestamp
            .trim()
            .parse()
            .map_err(|_| Rejected::BadTimestamp)?;
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if now > signed && now - signed > MAX_AGE.as_secs() {
            return Err(Rejected::Stale(now - signed));
        }
        if signed > now && signed - now > MAX_AHEAD.as_secs() {
            return Err(Rejected::Future(signed - now));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use ed25519_dalek::{Signer, SigningKey};

    /// A fixed vector, made once with ed25519-dalek from the seed `[7; 32]`.
    const PUBLIC_KEY: &str = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";
    const TIMESTAMP: &str = "1700000000";
    const BODY: &str = r#"{"type":1}"#;
    const SIGNATURE: &str = "f7caed702889e902c2cde4a4fb00f601284aa47ff4caf84588d7c8c3d8fe7183fd73e13e30d0c07d1515b6684f7b3cfaa231c421768d9667b104f760cf0da302";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn sign(timestamp: &str, body: &str) -> String {
        let signature = key().sign(&[timestamp.as_bytes(), body.as_bytes()].concat());
        signature
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn the_fixed_vector_verifies() {
        let public: String = key()
            .verifying_key()
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(public, PUBLIC_KEY);
        assert_eq!(sign(TIMESTAMP, BODY), SIGNATURE);
        let v = InteractionVerifier::new(PUBLIC_KEY).unwrap();
        assert_eq!(
            v.check_parts(SIGNATURE, TIMESTAMP, BODY.as_bytes(), at(1_700_000_010)),
            Ok(())
        );
    }

    #[test]
    fn anything_changed_is_refused() {
        let v = InteractionVerifier::new(PUBLIC_KEY).unwrap();
        let now = at(1_700_000_010);
        let bad = [
            (SIGNATURE, "1700000001", BODY),
            (SIGNATURE, TIMESTAMP, r#"{"type":2}"#),
            (SIGNATURE, TIMESTAMP, r#"{"type":1} "#),
            (&SIGNATURE[..126], TIMESTAMP, BODY),
            ("", TIMESTAMP, BODY),
            ("zz", TIMESTAMP, BODY),
        ];
        for (signature, timestamp, body) in bad {
            assert_eq!(
                v.check_parts(signature, timestamp, body.as_bytes(), now),
                Err(Rejected::BadSignature),
                "{signature} {timestamp} {body}"
            );
        }
        let other = InteractionVerifier::new(&"ab".repeat(32));
        if let Ok(other) = other {
            assert!(
                other
                    .check_parts(SIGNATURE, TIMESTAMP, BODY.as_bytes(), now)
                    .is_err()
            );
        }
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let v = InteractionVerifier::new(PUBLIC_KEY).unwrap();
        let check = |now| v.check_parts(SIGNATURE, TIMESTAMP, BODY.as_bytes(), at(now));
        assert_eq!(check(1_700_000_000 + 300), Ok(()));
        assert_eq!(check(1_700_000_000 + 600), Err(Rejected::Stale(600)));
        assert_eq!(check(1_700_000_000 - 30), Ok(()));
        assert_eq!(check(1_700_000_000 - 3600), Err(Rejected::Future(3600)));
        let odd = sign("soon", BODY);
        assert_eq!(
            v.check_parts(&odd, "soon", BODY.as_bytes(), at(1_700_000_000)),
            Err(Rejected::BadTimestamp)
        );
    }

    #[test]
    fn missing_headers_are_refused() {
        let v = InteractionVerifier::new(PUBLIC_KEY).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-signature-timestamp", TIMESTAMP.parse().unwrap());
        assert_eq!(
            v.check(&headers, BODY.as_bytes(), at(1_700_000_000)),
            Err(Rejected::Missing)
        );
        headers.insert("x-signature-ed25519", SIGNATURE.parse().unwrap());
        assert_eq!(
            v.check(&headers, BODY.as_bytes(), at(1_700_000_000)),
            Ok(())
        );
    }

    #[test]
    fn a_malformed_key_is_an_error() {
        assert!(InteractionVerifier::new("abc").is_err());
        assert!(InteractionVerifier::new(&"zz".repeat(32)).is_err());
    }
}
