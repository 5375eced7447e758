//! Where the line may place calls, and which callers it turns away.
//!
//! Every call the line places costs money, and a few kinds of number cost a great deal: a
//! premium-rate number bills the caller per minute for the callee's profit, a shared-cost one
//! splits an inflated rate. Toll fraud works by getting a system to dial such numbers, so denwa
//! never does, whoever asks (`POST /api/calls`, `/denwa dial`, `/dial`, a responder's phone).
//! Which countries the line may call at all is configured (`line.dial_countries`).
//!
//! Judging a number needs each country's numbering plan, which changes every few months;
//! libphonenumber's metadata (through the `phonenumber` crate) is the maintained source.

use std::fmt;

use phonenumber::country;
use phonenumber::metadata::DATABASE;
use phonenumber::{PhoneNumber as Parsed, Type};

use super::PhoneNumber;

/// Countries the line may call, and the kinds of number it never calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialPolicy {
    countries: DialCountries,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DialCountries {
    /// `"*"`: any country.
    Any,
    /// The country of the line's own number. Worked out at the first dial, not when the
    /// configuration is read: libphonenumber's metadata takes tens of milliseconds to load, and
    /// `serve` answers `/readyz` before it is needed.
    LineCountry(PhoneNumber),
    /// ISO 3166-1 alpha-2 regions, as libphonenumber names them (`US`, `GB`, `JP`).
    Only(Vec<country::Id>),
}

/// Why the line will not call a number. The text is written for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialRefusal {
    #[error("{0} is a premium-rate number; denwa never calls those")]
    PremiumRate(PhoneNumber),
    #[error("{0} is a shared-cost number; denwa never calls those")]
    SharedCost(PhoneNumber),
    #[error("{number} is in {country}, which line.dial_countries does not include ({allowed})")]
    Country {
        number: PhoneNumber,
        country: String,
        allowed: String,
    },
    #[error(
        "{number} is not a number in any country libphonenumber knows, and line.dial_countries is {allowed}"
    )]
    UnknownCountry {
        number: PhoneNumber,
        allowed: String,
    },
}

/// A `line.dial_countries` entry that is not a region code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 3166-1 alpha-2 country code (e.g. \"US\", \"GB\", \"JP\") or \"*\"")]
pub struct UnknownCountry(pub String);

impl DialPolicy {
    /// Any country; still never premium-rate or shared-cost numbers.
    pub fn any_country() -> Self {
        Self {
            countries: DialCountries::Any,
        }
    }

    /// The countries in `codes` (`"*"` alone means any).
    pub fn countries<S: AsRef<str>>(codes: &[S]) -> Result<Self, UnknownCountry> {
        if codes.iter().any(|c| c.as_ref() == "*") {
            return Ok(Self::any_country());
        }
        let ids = codes
            .iter()
            .map(|c| {
                let code = c.as_ref().trim().to_ascii_uppercase();
                code.parse::<country::Id>()
                    .map_err(|_| UnknownCountry(c.as_ref().to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            countries: DialCountries::Only(ids),
        })
    }

    /// Only the country `number` belongs to: the default, the line's own country.
    pub fn country_of(number: &PhoneNumber) -> Self {
        Self {
            countries: DialCountries::LineCountry(number.clone()),
        }
    }

    /// Whether the line may call `number`.
    pub fn check(&self, number: &PhoneNumber) -> Result<(), DialRefusal> {
        let parsed = parse(number);
        if let Some(p) = &parsed {
            match p.number_type(&DATABASE) {
                Type::PremiumRate => return Err(DialRefusal::PremiumRate(number.clone())),
                Type::SharedCost => return Err(DialRefusal::SharedCost(number.clone())),
                _ => {}
            }
        }
        let allowed = match &self.countries {
            DialCountries::Any => return Ok(()),
            DialCountries::Only(ids) => ids.clone(),
            DialCountries::LineCountry(line) => match country(line) {
                Some(id) => vec![id],
                // A line number libphonenumber cannot place (a test range, a new allocation):
                // there is no country to default to, so only the kinds-of-number rule applies.
                None => return Ok(()),
            },
        };
        match parsed.and_then(|p| p.country().id()) {
            Some(id) if allowed.contains(&id) => Ok(()),
            Some(id) => Err(DialRefusal::Country {
                number: number.clone(),
                country: id.as_ref().to_owned(),
                allowed: self.to_string(),
            }),
            None => Err(DialRefusal::UnknownCountry {
                number: number.clone(),
                allowed: self.to_string(),
            }),
        }
    }
}

impl fmt::Display for DialPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.countries {
            DialCountries::Any => f.write_str("\"*\""),
            DialCountries::Only(ids) => {
                let codes: Vec<&str> = ids.iter().map(|id| id.as_ref()).collect();
                write!(f, "{codes:?}")
            }
            DialCountries::LineCountry(line) => match country(line) {
                Some(id) => write!(f, "the line's own country, {}", id.as_ref()),
                None => f.write_str("the line's own country"),
            },
        }
    }
}

fn parse(number: &PhoneNumber) -> Option<Parsed> {
    phonenumber::parse(None, number.as_str()).ok()
}

fn country(number: &PhoneNumber) -> Option<country::Id> {
    parse(number).and_then(|p| p.country().id())
}

/// Callers the line turns away before a conference or a call record exists: a list of E.164
/// numbers or prefixes of them (`+1900`, `+447700900123`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockedCallers(Vec<String>);

/// A `line.blocked_callers` entry that is not `+` and digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a phone number or prefix (expected + and 1 to 15 digits, e.g. \"+1900\")")]
pub struct BadPrefix(pub String);

impl BlockedCallers {
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadPrefix> {
        entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                let digits = e.strip_prefix('+').unwrap_or_default();
                if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(e.to_owned())
                } else {
                    Err(BadPrefix(e.to_owned()))
                }
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether a call from `from` (as Twilio sent it: E.164, or `Anonymous` and the like, which
    /// no prefix matches) is turned away.
    pub fn blocks(&self, from: &str) -> bool {
        self.0
            .iter()
            .any(|prefix| from.starts_with(prefix.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).expect("test number")
    }

    #[test]
    fn premium_rate_and_shared_cost_are_refused_whatever_the_countries() {
        let any = DialPolicy::any_country();
        for premium in ["+19005550123", "+448712345678", "+33899123456"] {
            assert!(
                matches!(any.check(&n(premium)), Err(DialRefusal::PremiumRate(_))),
                "{premium}"
            );
        }
        assert!(matches!(
            any.check(&n("+33810123456")),
            Err(DialRefusal::SharedCost(_))
        ));
        assert_eq!(any.check(&n("+819012345678")), Ok(()));
    }

    #[test]
    fn only_the_listed_countries_are_called() {
        let policy = DialPolicy::countries(&["us", "GB"]).expect("codes");
        assert_eq!(policy.check(&n("+14155550123")), Ok(()));
        assert_eq!(policy.check(&n("+442079460958")), Ok(()));
        let refused = policy.check(&n("+819012345678")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "+819012345678 is in JP, which line.dial_countries does not include ([\"US\", \"GB\"])"
        );
    }

    #[test]
    fn the_default_is_the_line_numbers_own_country() {
        let policy = DialPolicy::country_of(&n("+442079460958"));
        assert_eq!(policy.check(&n("+442071838750")), Ok(()));
        assert!(policy.check(&n("+14155550123")).is_err());
    }

    #[test]
    fn bad_country_codes_and_prefixes_are_named() {
        assert_eq!(
            DialPolicy::countries(&["US", "Narnia"]),
            Err(UnknownCountry("Narnia".into()))
        );
        assert_eq!(DialPolicy::countries(&["*"]), Ok(DialPolicy::any_country()));
        assert_eq!(
            BlockedCallers::new(&["+1900", "1900"]),
            Err(BadPrefix("1900".into()))
        );
    }

    #[test]
    fn blocked_prefixes_match_the_start_of_the_callers_number() {
        let blocked = BlockedCallers::new(&["+1900", "+447700900123"]).expect("prefixes");
        assert!(blocked.blocks("+19005550123"));
        assert!(blocked.blocks("+447700900123"));
        assert!(!blocked.blocks("+447700900124"));
        assert!(!blocked.blocks("+14155550123"));
        assert!(!blocked.blocks("Anonymous"));
    }
}
