//! `[twilio]`: the account and the line's number.

use secrecy::SecretString;
use url::Url;

use super::reader::Raw;
use crate::domain::PhoneNumber;

#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The token being rotated out: webhooks signed with it are still accepted.
    pub previous_auth_token: Option<SecretString>,
    /// The line: the Twilio number callers dial, and the number the speaker legs dial.
    pub number: PhoneNumber,
    pub api_base: Url,
}

impl Raw {
    pub(super) fn twilio(&mut self) -> Option<TwilioSettings> {
        let account_sid = self.required("twilio", "account_sid", "your Twilio Account SID (AC...)");
        if let Some(sid) = &account_sid
            && !(sid.starts_with("AC")
                && sid.len() == 34
                && sid[2..].bytes().all(|b| b.is_ascii_hexdigit()))
        {
            self.problem(
                "twilio.account_sid",
                format!("{sid:?} is not an Account SID (AC + 32 hex digits)"),
            );
        }
        let auth_token = self.secret("twilio", "auth_token", "the account's Auth Token");
        let previous_auth_token = self
            .string("twilio", "previous_auth_token")
            .filter(|v| !v.is_empty())
            .map(SecretString::from);
        let number = self.required("twilio", "number", "the line's Twilio number in E.164 form");
        let number = number.and_then(|n| match PhoneNumber::parse(n.trim()) {
            Ok(n) => Some(n),
            Err(e) => {
                self.problem("twilio.number", e.to_string());
                None
            }
        });
        let api_base = self
            .string("twilio", "api_base")
            .or_else(|| Some("https://api.twilio.com".into()));
        let api_base = self.url("twilio", "api_base", api_base);
        Some(TwilioSettings {
            account_sid: account_sid?,
            auth_token: auth_token?,
            previous_auth_token,
            number: number?,
            api_base: api_base?,
        })
    }
}
