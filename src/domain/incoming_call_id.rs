//! The id of an incoming call, derived from its caller leg's CallSid.

use sha2::{Digest as _, Sha256};

use super::CallId;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Twilio retries its voice webhook (and a signed webhook can be replayed), and one CallSid must
/// stay one call. With the id a function of the CallSid, every repeat names the same call, so
/// recording it is a create-if-absent on the call's own keys: no lookup of the CallSid has to be
/// read first, in another hash slot, before the call's keys can be written (one round trip, and
/// a Redis Cluster needs no cross-slot step). The id reveals nothing about the caller: it is a
/// hash of Twilio's opaque CallSid, in the same 20 characters `CallId::generate` uses.
pub fn incoming_call_id(call_sid: &str) -> CallId {
    let digest = Sha256::digest(call_sid.as_bytes());
    let id: String = digest
        .iter()
        .take(20)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    // Only ALPHABET's characters, 20 of them: what CallId::parse accepts.
    CallId::parse(&id).unwrap_or_else(CallId::generate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_call_sid_is_one_call_and_two_are_two() {
        let a = "CA0123456789abcdef0123456789abcdef";
        let b = "CA0123456789abcdef0123456789abcdee";
        assert_eq!(incoming_call_id(a), incoming_call_id(a));
        assert_ne!(incoming_call_id(a), incoming_call_id(b));
        assert_eq!(incoming_call_id(a).as_str().len(), 20);
    }
}
