//! An E.164 telephone number.

use std::fmt;

/// A telephone number in E.164 form: `+`, a country code that does not start with 0, and up to
/// 15 digits in all. Twilio sends and accepts numbers in this form only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    #[error(
        "{0:?} is not an E.164 phone number (expected + and 8 to 15 digits, e.g. +14155550100)"
    )]
    NotE164(String),
}

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        let bad = || PhoneNumberError::NotE164(input.to_owned());
        let digits = input.strip_prefix('+').ok_or_else(bad)?;
        // 8 digits is the shortest number Twilio will place a call to in practice; E.164 caps at 15.
        if !(8..=15).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(bad());
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PhoneNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164() {
        for ok in ["+14155550100", "+819012345678", "+442071838750"] {
            assert_eq!(PhoneNumber::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "+",
            "14155550100",
            "+1 415 555 0100",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "+1415555010a",
            "tel:+14155550100",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
