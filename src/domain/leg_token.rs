//! The token that names a speaker leg: its speaker lease, its URLs, its participant label.

use rand::RngExt as _;

/// A speaker leg's token: lowercase letters and digits, denwa's own. Both speech strategies make
/// theirs here, so a token read back (from the store, a URL) is checked against one shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LegToken(String);

/// The length of a token denwa makes: 36^12 (about 2^62) leaves no room for a guess.
const GENERATED_LEN: usize = 12;

/// The longest token `parse` takes: 32 letters and digits cannot hold a SID (two letters and 32
/// hex digits), and keep a participant label far under Twilio's 128 characters.
const MAX_LEN: usize = 32;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

impl LegToken {
    /// A new random token.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        Self(
            (0..GENERATED_LEN)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    /// `text` as a token, if it is one denwa makes (lowercase letters and digits, at most 32):
    /// anything else could carry what Twilio refuses in a label.
    pub fn parse(text: &str) -> Option<Self> {
        let denwas = !text.is_empty()
            && text.len() <= MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        denwas.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::LegToken;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = LegToken::generate();
        let b = LegToken::generate();
        assert_eq!(a.as_str().len(), 12);
        assert_eq!(LegToken::parse(a.as_str()), Some(a.clone()));
        assert_ne!(a, b);
    }
}
