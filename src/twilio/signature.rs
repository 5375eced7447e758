//! Checking Twilio's `X-Twilio-Signature` on webhook requests.
//!
//! Twilio signs the URL it requested plus, for form POSTs, every parameter (name then value, names
//! sorted, a repeated name's values sorted) with HMAC-SHA1 keyed by the account's auth token. JSON
//! bodies are covered instead by a `bodySHA256` query parameter, so only the URL is signed.
//!
//! Twilio is inconsistent about ports: the URL it signs may or may not carry the scheme's default
//! port, and behind some load balancers an explicit port disappears. Like Twilio's own SDKs we try the
//! URL as given, with its port removed, and with the default port added; an attacker gains nothing
//! from this, because every variant still needs the auth token to sign.
//!
//! Everything here works on the raw request bytes, before the body is parsed into anything else
//! (a parser that drops or merges fields would change what we verify).

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The query parameter that carries the body's hash when Twilio sends JSON.
const BODY_HASH_PARAM: &str = "bodySHA256";

/// Computes Twilio's signature of a request: base64(HMAC-SHA1(token, url + sorted name/value pairs)).
///
/// `params` are the decoded form parameters (empty for GET and JSON requests); their order does not
/// matter. Exposed for tests and for signing our own URLs in the emulator and end-to-end suite.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // Sorting the pairs sorts by name, then a repeated name's values, which is Twilio's order.
    // `String`'s order is byte order, as in Twilio's SDKs.
    sorted.sort();

    // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Validates `X-Twilio-Signature` against the account's auth token, and during a token rotation
/// against the previous one too (Twilio signs with whichever is primary at the time it sends, so
/// requests in flight during the switch carry the old token's signature).
#[derive(Debug, Clone)]
pub struct SignatureValidator {
    tokens: Vec<SecretString>,
}

impl SignatureValidator {
    pub fn new(auth_token: SecretString) -> Self {
        Self {
            tokens: vec![auth_token],
        }
    }

    /// Also accepts signatures made with `previous` (the secondary token while rotating).
    pub fn with_previous_token(mut self, previous: SecretString) -> Self {
        self.tokens.push(previous);
        self
    }

    /// Validates a form POST (`application/x-www-form-urlencoded`) from its raw body bytes.
    ///
    /// `url` is the URL Twilio requested, as Twilio saw it (the public URL, path and query).
    pub fn validate_form(&self, url: &str, raw_body: &[u8], signature: &str) -> bool {
        // `form_urlencoded::parse` decodes `+` and `%XX` and keeps repeated names as separate pairs.
        let params: Vec<(String, String)> = url::form_urlencoded::parse(raw_body)
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        self.matches(url, &params, signature)
    }

    /// Validates a GET request: only the URL (with its query string) is signed.
    pub fn validate_get(&self, url: &str, signature: &str) -> bool {
        self.matches(url, &[], signature)
    }

    /// Validates a JSON POST: the URL's `bodySHA256` parameter must be the hex SHA-256 of the body,
    /// and the URL alone is signed (so the hash binds the body to the signature).
    pub fn validate_json(&self, url: &str, raw_body: &[u8], signature: &str) -> bool {
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        let mut hashes = parsed
            .query_pairs()
            .filter(|(name, _)| name == BODY_HASH_PARAM)
            .map(|(_, value)| value.into_owned());
        let (Some(claimed), None) = (hashes.next(), hashes.next()) else {
            // Missing, or ambiguous: two hashes would let one of them go unchecked.
            return false;
        };
        let actual = hex_lower(&Sha256::digest(raw_body));
        let hash_ok: bool = actual
            .as_bytes()
            .ct_eq(claimed.to_ascii_lowercase().as_bytes())
            .into();
        // Check the signature regardless, so the time taken does not reveal which check failed.
        let signature_ok = self.matches(url, &[], signature);
        hash_ok && signature_ok
    }

    fn matches(&self, url: &str, params: &[(String, String)], signature: &str) -> bool {
        if signature.is_empty() {
            return false;
        }
        let signed = |candidate: &str| {
            self.tokens.iter().any(|token| {
                let expected = compute(token.expose_secret(), candidate, params);
                expected.as_bytes().ct_eq(signature.as_bytes()).into()
            })
        };
        // Twilio requests the configured URL, so the URL as given is nearly always the one it
        // signed: the port variant (a new string) is only built when that fails.
        signed(url) || port_variant(url).is_some_and(|variant| signed(&variant))
    }
}

/// The URLs Twilio may have signed for a request to `url`: as given, and its [`port_variant`].
#[cfg(test)]
fn url_variants(url: &str) -> Vec<String> {
    std::iter::once(url.to_owned())
        .chain(port_variant(url))
        .collect()
}

/// The other URL Twilio may have signed for a request to `url`: without its port (when it has
/// one) or with the scheme's default port added (when it has none).
fn port_variant(url: &str) -> Option<String> {
    let parts = split_authority(url)?;
    match parts.port {
        Some(_) => Some(format!("{}{}", parts.before_port, parts.after_port)),
        None => {
            let port = match parts.scheme.to_ascii_lowercase().as_str() {
                "https" => ":443",
                "http" => ":80",
                _ => return None,
            };
            Some(format!("{}{}{}", parts.before_port, port, parts.after_port))
        }
    }
}

/// A URL cut around its port, as plain string slices: `url::Url` would normalise the URL (drop a
/// default port, re-encode the path), and the signature is over the exact string Twilio used.
struct UrlParts<'a> {
    scheme: &'a str,
    /// Everything up to the end of the host (scheme, `://`, userinfo, host).
    before_port: &'a str,
    /// The port, without its colon.
    port: Option<&'a str>,
    /// Path, query and fragment.
    after_port: &'a str,
}

fn split_authority(url: &str) -> Option<UrlParts<'_>> {
    let scheme_end = url.find("://")?;
    let authority_start = scheme_end + "://".len();
    let authority_len = url[authority_start..]
        .find(['/', '?', '#'])
        .unwrap_or(url.len() - authority_start);
    let authority_end = authority_start + authority_len;
    let authority = &url[authority_start..authority_end];
    // The host starts after any userinfo; an IPv6 literal's colons sit inside brackets.
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host_and_port = &authority[host_start..];
    let after_brackets = host_and_port.rfind(']').map_or(0, |b| b + 1);
    let port_colon = host_and_port[after_brackets..]
        .find(':')
        .map(|i| authority_start + host_start + after_brackets + i);
    let (before_port, port) = match port_colon {
        Some(colon) => (&url[..colon], Some(&url[colon + 1..authority_end])),
        None => (&url[..authority_end], None),
    };
    Some(UrlParts {
        scheme: &url[..scheme_end],
        before_port,
        port,
        after_port: &url[authority_end..],
    })
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| {
            [
                DIGITS[usize::from(b >> 4)] as char,
                DIGITS[usize::from(b & 0x0f)] as char,
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    /// The parameters of rows 1-4 of docs/protocols.md's table (twilio-python's test vectors).
    fn call_params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn form_body(params: &[(String, String)]) -> Vec<u8> {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, v);
        }
        ser.finish().into_bytes()
    }

    fn validator() -> SignatureValidator {
        SignatureValidator::new(SecretString::from(TOKEN))
    }

    #[test]
    fn the_signed_string_of_row_1_is_url_then_sorted_pairs() {
        let signed = "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212";
        let mut mac = Hmac::<Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        let direct = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(direct, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(compute(TOKEN, URL, &call_params()), direct);
    }

    #[test]
    fn every_vector_of_the_table_computes_and_validates() {
        let rows = [
            (URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
            (
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                "kvajT1Ptam85bY51eRf/AJRuM3w=",
            ),
            (
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                "0ZXoZLH/DfblKGATFgpif+LLRf4=",
            ),
            (
                "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            ),
        ];
        let params = call_params();
        let body = form_body(&params);
        for (url, signature) in rows {
            assert_eq!(compute(TOKEN, url, &params), signature, "{url}");
            assert!(validator().validate_form(url, &body, signature), "{url}");
        }
    }

    #[test]
    fn row_5_repeated_names_sort_their_values() {
        let params: Vec<(String, String)> = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(compute(TOKEN, URL, &params), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        let body = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234";
        assert!(validator().validate_form(URL, body, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
        // Merging or dropping a repeated value must break the signature.
        assert!(!validator().validate_form(
            URL,
            b"Sid=CA123&SidAccount=AC123&Digits=5678",
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ));
    }

    #[test]
    fn ports_are_tried_removed_and_defaulted() {
        let body = form_body(&call_params());
        let v = validator();
        // Signed without a port; requested with the default port or an explicit other port.
        for url in [
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
        ] {
            assert!(
                v.validate_form(url, &body, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
                "{url}"
            );
        }
        // Signed with the default port, requested without it.
        assert!(v.validate_form(URL, &body, "kvajT1Ptam85bY51eRf/AJRuM3w="));
        assert!(v.validate_form(
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &body,
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
        // An explicit non-default port is never invented: a portless request doesn't match row 4.
        assert!(!v.validate_form(
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &body,
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        ));
        // The scheme is part of the signed string.
        assert!(!v.validate_form(
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &body,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn url_variants_cut_at_the_port_only() {
        assert_eq!(
            url_variants("https://a.example:8443/p?x=1:2"),
            [
                "https://a.example:8443/p?x=1:2",
                "https://a.example/p?x=1:2"
            ]
        );
        assert_eq!(
            url_variants("http://[::1]/p"),
            ["http://[::1]/p", "http://[::1]:80/p"]
        );
        assert_eq!(
            url_variants("http://[::1]:8080"),
            ["http://[::1]:8080", "http://[::1]"]
        );
        assert_eq!(
            url_variants("https://u:pw@h/x"),
            ["https://u:pw@h/x", "https://u:pw@h:443/x"]
        );
        assert_eq!(url_variants("not a url"), ["not a url"]);
    }

    #[test]
    fn query_strings_are_signed_as_given() {
        let url = "https://denwa.example/twilio/speak?call=abc123&token=a%2Fb";
        let params = vec![("CallSid".to_owned(), "CA1".to_owned())];
        let sig = compute(TOKEN, url, &params);
        let v = validator();
        assert!(v.validate_form(url, b"CallSid=CA1", &sig));
        assert!(!v.validate_form(
            "https://denwa.example/twilio/speak?call=abc124&token=a%2Fb",
            b"CallSid=CA1",
            &sig
        ));
        assert!(!v.validate_form(
            "https://denwa.example/twilio/speak?call=abc123&token=a/b",
            b"CallSid=CA1",
            &sig
        ));
    }

    #[test]
    fn form_bodies_are_decoded_before_signing() {
        let params = vec![
            ("SpeechResult".to_owned(), "hello world & more".to_owned()),
            ("From".to_owned(), "+14158675309".to_owned()),
            ("Name".to_owned(), "日本".to_owned()),
        ];
        let sig = compute(TOKEN, URL, &params);
        // `+` is a space in a form body, `%2B` a plus, `%XX` any byte; names may be encoded too.
        let body =
            b"SpeechResult=hello+world+%26+more&From=%2B14158675309&N%61me=%E6%97%A5%E6%9C%AC";
        assert!(validator().validate_form(URL, body, &sig));
        // An undecoded `+` in From would be a space: a different value.
        let wrong = b"SpeechResult=hello+world+%26+more&From=+14158675309&Name=%E6%97%A5%E6%9C%AC";
        assert!(!validator().validate_form(URL, wrong, &sig));
    }

    #[test]
    fn get_requests_sign_the_url_alone() {
        let url = "https://denwa.example/twilio/voice?CallSid=CA1&From=%2B14155550100";
        let sig = compute(TOKEN, url, &[]);
        assert!(validator().validate_get(url, &sig));
        assert!(!validator().validate_get(
            "https://denwa.example/twilio/voice?CallSid=CA2&From=%2B14155550100",
            &sig
        ));
    }

    #[test]
    fn json_bodies_are_bound_by_their_hash() {
        let body = br#"{"CallSid":"CA1","Status":"completed"}"#;
        let hash = hex_lower(&Sha256::digest(body));
        let url = format!("https://denwa.example/twilio/events?bodySHA256={hash}");
        let sig = compute(TOKEN, &url, &[]);
        let v = validator();
        assert!(v.validate_json(&url, body, &sig));
        // An upper-case hex hash is the same hash.
        let upper = format!(
            "https://denwa.example/twilio/events?bodySHA256={}",
            hash.to_uppercase()
        );
        assert!(v.validate_json(&upper, body, &compute(TOKEN, &upper, &[])));
        // A different body, a missing hash, or a duplicated hash parameter fail.
        assert!(!v.validate_json(&url, br#"{"CallSid":"CA2","Status":"completed"}"#, &sig));
        let bare = "https://denwa.example/twilio/events";
        assert!(!v.validate_json(bare, body, &compute(TOKEN, bare, &[])));
        let twice = format!("{url}&bodySHA256=00");
        assert!(!v.validate_json(&twice, body, &compute(TOKEN, &twice, &[])));
        // The known test value of an empty body's hash.
        assert_eq!(
            hex_lower(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn wrong_token_empty_or_garbled_signatures_fail() {
        let body = form_body(&call_params());
        let other = SignatureValidator::new(SecretString::from("54321"));
        assert!(!other.validate_form(URL, &body, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!validator().validate_form(URL, &body, ""));
        assert!(!validator().validate_form(URL, &body, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
        assert!(!validator().validate_form(URL, &body, "rsoydt4t1cutdk1pdd93/vvr8b8="));
        assert!(!validator().validate_get(URL, ""));
    }

    #[test]
    fn a_previous_token_is_accepted_during_rotation() {
        let body = form_body(&call_params());
        let rotating = SignatureValidator::new(SecretString::from("new-token"))
            .with_previous_token(SecretString::from(TOKEN));
        assert!(rotating.validate_form(URL, &body, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        let new_sig = compute("new-token", URL, &call_params());
        assert!(rotating.validate_form(URL, &body, &new_sig));
        assert!(!validator().validate_form(URL, &body, &new_sig));
    }

    #[test]
    fn debug_output_hides_the_tokens() {
        let printed = format!("{:?}", validator());
        assert!(!printed.contains(TOKEN), "{printed}");
    }
}
