//! Twilio's identifiers for calls and conferences, checked where they enter: a signed webhook's
//! form, a REST response, a field read back from the store. Past that edge a `CallSid` is known to
//! be one, and nothing checks it again.
//!
//! Every Twilio SID is 34 characters: a two-letter prefix naming the resource (`CA` a call, `CF` a
//! conference) and 32 hexadecimal digits (docs/protocols.md, "Twilio SIDs"). The shape also rules
//! out anything that could escape a REST path or a store key (`/`, `..`, `?`, `{`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

const HEX_DIGITS: usize = 32;

/// Whether `input` is a SID of the resource with two-letter `prefix`.
fn is_sid(prefix: &str, input: &str) -> bool {
    input
        .strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == HEX_DIGITS && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A SID type: a checked string with the resource's prefix.
macro_rules! sid {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// `input` if it has the shape of this SID.
            pub fn parse(input: &str) -> Option<Self> {
                is_sid($prefix, input).then(|| Self(input.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let input = String::deserialize(deserializer)?;
                Self::parse(&input).ok_or_else(|| {
                    serde::de::Error::custom(concat!(
                        "not a Twilio ",
                        $what,
                        " SID (",
                        $prefix,
                        " and 32 hexadecimal digits)"
                    ))
                })
            }
        }
    };
}

sid!(
    /// A call's SID (`CA…`): the caller's leg, a responder's, a speaker's.
    CallSid,
    "CA",
    "call"
);

sid!(
    /// A conference's SID (`CF…`). Each time a conference of the same name starts anew it has a
    /// new one: it tells an old conference's events from the current one's.
    ConferenceSid,
    "CF",
    "conference"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_have_their_prefix_and_32_hex_digits() {
        let call = "CA0123456789abcdef0123456789ABCDEF";
        assert_eq!(CallSid::parse(call).unwrap().as_str(), call);
        assert!(ConferenceSid::parse("CF00000000000000000000000000000000").is_some());
        for bad in [
            "",
            "CA1",
            "CA0123456789abcdef0123456789abcde",
            "CA0123456789abcdef0123456789abcdef0",
            "CA0123456789abcdef0123456789abcdeg",
            "CF0123456789abcdef0123456789abcdef",
            "ca0123456789abcdef0123456789abcdef",
            "CA0123456789abcdef/123456789abcdef",
        ] {
            assert!(CallSid::parse(bad).is_none(), "{bad:?}");
        }
        assert!(ConferenceSid::parse("CA0123456789abcdef0123456789abcdef").is_none());
    }

    #[test]
    fn a_malformed_sid_fails_deserializing_with_a_clear_message() {
        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Form {
            #[allow(dead_code)]
            call_sid: CallSid,
        }
        let e = serde_urlencoded::from_str::<Form>("CallSid=CA..%2F").unwrap_err();
        assert!(e.to_string().contains("not a Twilio call SID"), "{e}");
        assert!(
            serde_urlencoded::from_str::<Form>("CallSid=CA0123456789abcdef0123456789abcdef")
                .is_ok()
        );
    }
}
