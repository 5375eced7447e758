//! Phone numbers as people read them in chat.
//!
//! Twilio hands us E.164 (`+14155550123`); each country writes its numbers its own way
//! (`+1 415-555-0123`, `+44 20 7946 0958`, `+81 3-1234-5678`). libphonenumber's metadata (the
//! `phonenumber` crate) knows those conventions, so both bridges show a number the same way.
//! Anything that is not a number libphonenumber recognises (`Anonymous`, `client:alice`, a SIP
//! URI, a number in no country's plan) is shown as it came.

use phonenumber::Mode;

/// `+14155550123` -> `+1 415-555-0123`; see the module documentation.
pub fn format_number(raw: &str) -> String {
    let raw = raw.trim();
    if raw.is_empty() {
        return "an unknown number".into();
    }
    if !raw.starts_with('+') {
        return raw.into();
    }
    match phonenumber::parse(None, raw) {
        Ok(number) if number.is_valid() => number.format().mode(Mode::International).to_string(),
        _ => raw.into(),
    }
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
    fn other_numbers_are_written_as_in_their_country() {
        assert_eq!(format_number("+442079460958"), "+44 20 7946 0958");
        assert_eq!(format_number("+81312345678"), "+81 3-1234-5678");
        assert_eq!(format_number("+819012345678"), "+81 90-1234-5678");
        assert_eq!(format_number("+4930123456"), "+49 30 123456");
        assert_eq!(format_number("+79161234567"), "+7 916 123-45-67");
    }

    #[test]
    fn anything_else_is_shown_as_is() {
        assert_eq!(format_number("Anonymous"), "Anonymous");
        assert_eq!(format_number("client:alice"), "client:alice");
        assert_eq!(format_number("+1abc"), "+1abc");
        assert_eq!(format_number(""), "an unknown number");
    }
}
