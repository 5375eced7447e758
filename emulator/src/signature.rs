//! `X-Twilio-Signature`: how Twilio signs every webhook, written independently of denwa's own
//! validator so that the two can check each other.
//!
//! The signed string is the full URL Twilio requested followed, for form POSTs, by every parameter
//! name and value concatenated with no separators, sorted by name (a repeated name by value). The
//! signature is `base64(HMAC-SHA1(auth_token, signed string))`.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// The string Twilio signs for a request to `url` with form `params` (empty for GET).
pub fn signed_string(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut out = String::from(url);
    for (k, v) in sorted {
        out.push_str(k);
        out.push_str(v);
    }
    out
}

/// The `X-Twilio-Signature` value for a request to `url` with form `params`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(signed_string(url, params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a signature the way a careful receiver does: against the URL as given, the URL with its
/// default port removed, and the URL with the scheme's default port added (Twilio is inconsistent
/// about ports). Compares in constant time.
pub fn validate(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    url_variants(url)
        .iter()
        .any(|u| constant_time_eq(sign(auth_token, u, params).as_bytes(), signature.as_bytes()))
}

fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    if let Ok(parsed) = url::Url::parse(url) {
        let default = match parsed.scheme() {
            "https" => 443,
            "http" => 80,
            _ => return out,
        };
        // `Url` drops a default port when parsing, so rebuild both spellings by hand.
        let authority_end = url.find("://").map(|i| i + 3).unwrap_or(0);
        let rest = &url[authority_end..];
        let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let host_port = &rest[..host_end];
        let tail = &rest[host_end..];
        let head = &url[..authority_end];
        let default_suffix = format!(":{default}");
        if let Some(host) = host_port.strip_suffix(&default_suffix) {
            out.push(format!("{head}{host}{tail}"));
        } else if !host_port.contains(':') || host_port.ends_with(']') {
            out.push(format!("{head}{host_port}{default_suffix}{tail}"));
        } else if let Some((host, _port)) = host_port.rsplit_once(':') {
            // An explicit non-default port: also accept the port stripped (Twilio sometimes signs so).
            out.push(format!("{head}{host}{tail}"));
        }
    }
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn vector_params() -> Vec<(String, String)> {
        p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    // Vectors from twilio-python's unit tests, as recorded in docs/protocols.md.
    #[test]
    fn official_vectors() {
        let params = vector_params();
        let base = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            signed_string(base, &params),
            "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"
        );
        assert_eq!(sign("12345", base, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            sign(
                "12345",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &params
            ),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        assert_eq!(
            sign(
                "12345",
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                &params
            ),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        );
        assert_eq!(
            sign(
                "12345",
                "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                &params
            ),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        );
        let repeated = p(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            sign("12345", base, &repeated),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn validation_tolerates_ports() {
        let params = vector_params();
        let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(validate(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            sig
        ));
        assert!(validate(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &params,
            sig
        ));
        assert!(validate(
            "12345",
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &params,
            sig
        ));
        assert!(!validate(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params,
            sig
        ));
        assert!(!validate(
            "54321",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            sig
        ));
    }
}
