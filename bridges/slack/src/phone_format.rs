//! Phone numbers formatted for people reading a Slack message.
//!
//! Twilio hands us E.164 (`+14155550123`). North American numbers (country code 1) are written
//! the way people there write them: `+1 415-555-0123`. Every other number gets its country code
//! split off (ITU country codes are 1 to 3 digits; the 1- and 2-digit ones are listed below) and
//! the rest grouped by three, ending with a group of two to four digits: `+44 207 946 0958`.
//! That is not each country's own convention, but it is readable and never wrong about the
//! digits. Anything that is not E.164 (`Anonymous`, `client:alice`, a SIP URI) is shown as is.

/// Country codes with one or two digits; every other code has three (ITU-T E.164 assignments).
const SHORT_COUNTRY_CODES: &[&str] = &[
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// `+14155550123` -> `+1 415-555-0123`; see the module documentation.
pub fn format_number(raw: &str) -> String {
    let raw = raw.trim();
    let Some(digits) = raw.strip_prefix('+') else {
        return if raw.is_empty() {
            "an unknown number".into()
        } else {
            raw.into()
        };
    };
    if digits.len() < 4 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return raw.into();
    }
    if let Some(national) = digits.strip_prefix('1')
        && national.len() == 10
    {
        return format!(
            "+1 {}-{}-{}",
            &national[..3],
            &national[3..6],
            &national[6..]
        );
    }
    let code_len = [1, 2]
        .into_iter()
        .find(|&n| SHORT_COUNTRY_CODES.contains(&&digits[..n]))
        .unwrap_or(3);
    let (code, mut rest) = digits.split_at(code_len);
    let mut groups = Vec::new();
    while rest.len() > 4 {
        let (group, tail) = rest.split_at(3);
        groups.push(group);
        rest = tail;
    }
    if !rest.is_empty() {
        groups.push(rest);
    }
    format!("+{code} {}", groups.join(" "))
}

#[cfg(test)]
mod tests {
    use super::format_number;

    #[test]
    fn north_american_numbers_read_as_written_there() {
        assert_eq!(format_number("+14155550123"), "+1 415-555-0123");
        assert_eq!(format_number(" +12125551212 "), "+1 212-555-1212");
    }

    #[test]
    fn other_numbers_split_the_country_code_and_group_the_rest() {
        assert_eq!(format_number("+442079460958"), "+44 207 946 0958");
        assert_eq!(format_number("+81312345678"), "+81 312 345 678");
        assert_eq!(format_number("+4930123456"), "+49 301 234 56");
        assert_eq!(format_number("+35312345678"), "+353 123 456 78");
        assert_eq!(format_number("+79161234567"), "+7 916 123 4567");
    }

    #[test]
    fn anything_else_is_shown_as_is() {
        assert_eq!(format_number("Anonymous"), "Anonymous");
        assert_eq!(format_number("client:alice"), "client:alice");
        assert_eq!(format_number("+1abc"), "+1abc");
        assert_eq!(format_number(""), "an unknown number");
    }
}
