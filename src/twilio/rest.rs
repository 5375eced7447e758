//! The Twilio REST client: calls, conferences, participants and phone numbers.
//!
//! Every request goes to `{api_base}/2010-04-01/Accounts/{AccountSid}/...` with HTTP Basic auth
//! (account SID and auth token) and, for writes, a form body built from the typed parameters in
//! [`super::params`]. `api_base` comes from config, so tests and `denwa demo` point the same code
//! at a local server.
//!
//! Failures Twilio calls transient (429, 5xx) and network errors are retried with backoff (see
//! [`RetryPolicy`]) but only when a retry cannot do the work twice: requests that create something
//! or play an announcement are retried only when Twilio certainly did not act on them (a 429, or a
//! connection that was never made). A 500 or a timeout after `Calls.json` may well have placed the
//! call, and a second ringing phone or a message spoken twice is worse than an error the caller
//! can report.
//!
//! Logging: operation names, SIDs, status codes and Twilio error codes only. Never the auth token
//! (it lives in a `SecretString` and is exposed only to build the Authorization header), never a
//! phone number (they can appear in query strings, so URLs are stripped from transport errors).

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::params::{
    CallTarget, ConferenceStatus, CreateCall, CreateParticipant, FormBody, UpdateCall,
    UpdateConference, UpdateIncomingNumber, UpdateParticipant, encode_form,
};
use super::resources::{
    CallResource, ConferenceResource, IncomingNumberResource, Page, ParticipantResource,
};
use super::retry::{RetryPolicy, parse_retry_after};
use crate::domain::{CallSid, ConferenceSid, PhoneNumber};
use denwa_chat::{ApiMeter, ApiService};

/// The most pages a list follows; denwa's filtered lists hold a handful of items, so more pages
/// than this means a filter went wrong, not that there is more to read.
const MAX_PAGES: usize = 20;

/// Errors from the Twilio REST API.
#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// Twilio answered with an error status; `code` is Twilio's error code (e.g. 20404, 21211).
    #[error("Twilio answered {status}{}: {message}", code.map(|c| format!(" (error {c})")).unwrap_or_default())]
    Api {
        status: u16,
        code: Option<u32>,
        message: String,
        more_info: Option<String>,
        /// How long Twilio asked the client to wait (`Retry-After`, with a 429 or 503).
        retry_after: Option<Duration>,
    },
    /// No answer: connection refused or reset, timeout, TLS failure.
    #[error("could not reach Twilio: {}", ErrorChain(.0))]
    Transport(reqwest::Error),
    /// A success status with a body that is not the expected JSON.
    #[error("unexpected answer from Twilio: {0}")]
    Decode(serde_json::Error),
    /// A request denwa should not send (a malformed SID, TwiML over Twilio's size limit), caught
    /// before it reaches Twilio.
    #[error("invalid Twilio request: {0}")]
    InvalidRequest(String),
}

impl TwilioError {
    /// Whether trying again later may succeed: rate limiting (429), Twilio's server errors (5xx),
    /// and network failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            TwilioError::Api { status, .. } => *status == 429 || *status >= 500,
            TwilioError::Transport(e) => {
                e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
            }
            TwilioError::Decode(_) | TwilioError::InvalidRequest(_) => false,
        }
    }

    /// Whether Twilio certainly did not act on the request, so that even a request that is not
    /// idempotent can be sent again.
    fn certainly_not_processed(&self) -> bool {
        match self {
            TwilioError::Api { status, .. } => *status == 429,
            TwilioError::Transport(e) => e.is_connect(),
            TwilioError::Decode(_) | TwilioError::InvalidRequest(_) => false,
        }
    }

    /// The HTTP status Twilio answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            TwilioError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long Twilio asked to be left alone (`Retry-After`), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TwilioError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Hides all but the last four digits of every phone-number-like run (7 or more digits, with an
/// optional leading `+`) in `text`.
fn redact_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        let count = digits.chars().filter(char::is_ascii_digit).count();
        if count >= 7 {
            let keep = &digits[digits.len() - 4..];
            out.push_str(if digits.starts_with('+') { "+" } else { "" });
            out.extend(std::iter::repeat_n('*', count - 4));
            out.push_str(keep);
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (c == '+' && digits.is_empty()) {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// Displays an error with its causes (`reqwest::Error` alone says only "error sending request").
struct ErrorChain<'a>(&'a reqwest::Error);

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = std::error::Error::source(self.0);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Twilio's JSON error body: `{"code": 20404, "message": "...", "more_info": "...", "status": 404}`.
#[derive(Deserialize)]
struct ErrorBody {
    code: Option<u32>,
    message: Option<String>,
    more_info: Option<String>,
}

/// A client for one Twilio account. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    api_base: Url,
    account_sid: String,
    auth_token: SecretString,
    retry: RetryPolicy,
    meter: ApiMeter,
}

/// Settings for a [`TwilioClient`]; see [`TwilioClient::builder`].
#[derive(Debug)]
pub struct TwilioClientBuilder {
    api_base: Url,
    account_sid: String,
    auth_token: SecretString,
    timeout: Duration,
    retry: RetryPolicy,
    meter: ApiMeter,
}

impl TwilioClientBuilder {
    /// Where the API lives (default `https://api.twilio.com`); `/2010-04-01/...` is appended.
    pub fn api_base(mut self, api_base: Url) -> Self {
        self.api_base = api_base;
        self
    }

    /// How long one attempt may take, from connecting to the last byte (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Where each request's time and outcome (retries included) is reported (default: nowhere).
    pub fn meter(mut self, meter: ApiMeter) -> Self {
        self.meter = meter;
        self
    }

    /// Builds the client. Needs a rustls crypto provider installed for the process
    /// (`rustls::crypto::ring::default_provider().install_default()`).
    pub fn build(self) -> Result<TwilioClient, TwilioError> {
        check_sid("account SID", &self.account_sid)?;
        if self.api_base.cannot_be_a_base() {
            return Err(TwilioError::InvalidRequest(format!(
                "api_base {} cannot hold a path",
                self.api_base
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("denwa/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(TwilioError::Transport)?;
        Ok(TwilioClient {
            http,
            api_base: self.api_base,
            account_sid: self.account_sid,
            auth_token: self.auth_token,
            retry: RetryPolicy {
                max_attempts: self.retry.max_attempts.max(1),
                ..self.retry
            },
            meter: self.meter,
        })
    }
}

/// One request, as the retry loop sees it.
struct Request {
    /// For logs, e.g. `update_call`.
    operation: &'static str,
    /// The SID the request is about, for logs.
    sid: Option<String>,
    method: Method,
    url: Url,
    form: Option<String>,
    /// Whether sending it twice has the same effect as sending it once.
    idempotent: bool,
}

impl TwilioClient {
    pub const DEFAULT_API_BASE: &'static str = "https://api.twilio.com";
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    pub fn builder(
        account_sid: impl Into<String>,
        auth_token: SecretString,
    ) -> TwilioClientBuilder {
        TwilioClientBuilder {
            api_base: Url::parse(Self::DEFAULT_API_BASE)
                .expect("the default API base is a valid URL"),
            account_sid: account_sid.into(),
            auth_token,
            timeout: Self::DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            meter: ApiMeter::unobserved(ApiService::Twilio),
        }
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// Places an outbound call. Retried only when Twilio certainly did not place it.
    pub async fn create_call(&self, params: &CreateCall) -> Result<CallResource, TwilioError> {
        if params.target().too_long() {
            return Err(too_long_twiml());
        }
        let request = self.write("create_call", None, &["Calls.json"], params, false)?;
        self.send(request).await
    }

    /// Ends a live call or redirects it to new TwiML.
    pub async fn update_call(
        &self,
        call_sid: &CallSid,
        params: &UpdateCall,
    ) -> Result<CallResource, TwilioError> {
        if params.target().is_some_and(CallTarget::too_long) {
            return Err(too_long_twiml());
        }
        let path = ["Calls", &resource_json(call_sid.as_str())];
        let request = self.write(
            "update_call",
            Some(call_sid.as_str()),
            &path,
            params,
            params.is_idempotent(),
        )?;
        self.send(request).await
    }

    pub async fn fetch_call(&self, call_sid: &CallSid) -> Result<CallResource, TwilioError> {
        let url = self.endpoint(&["Calls", &resource_json(call_sid.as_str())])?;
        self.send(self.read("fetch_call", Some(call_sid.as_str()), url))
            .await
    }

    /// The conferences named `friendly_name`, optionally only those in `status`.
    pub async fn list_conferences(
        &self,
        friendly_name: &str,
        status: Option<ConferenceStatus>,
    ) -> Result<Vec<ConferenceResource>, TwilioError> {
        let mut url = self.endpoint(&["Conferences.json"])?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("FriendlyName", friendly_name);
            if let Some(status) = status {
                query.append_pair("Status", status.as_str());
            }
        }
        self.list("list_conferences", url).await
    }

    /// Announces to a conference (`AnnounceUrl`) or ends it (`Status=completed`).
    pub async fn update_conference(
        &self,
        conference_sid: &ConferenceSid,
        params: &UpdateConference,
    ) -> Result<ConferenceResource, TwilioError> {
        let path = ["Conferences", &resource_json(conference_sid.as_str())];
        let request = self.write(
            "update_conference",
            Some(conference_sid.as_str()),
            &path,
            params,
            params.is_idempotent(),
        )?;
        self.send(request).await
    }

    /// Dials a number into a conference. Retried only when Twilio certainly did not dial.
    pub async fn create_participant(
        &self,
        conference_sid: &ConferenceSid,
        params: &CreateParticipant,
    ) -> Result<ParticipantResource, TwilioError> {
        let path = ["Conferences", conference_sid.as_str(), "Participants.json"];
        let request = self.write(
            "create_participant",
            Some(conference_sid.as_str()),
            &path,
            params,
            false,
        )?;
        self.send(request).await
    }

    /// Mutes, holds, or announces to one participant.
    pub async fn update_participant(
        &self,
        conference_sid: &ConferenceSid,
        call_sid: &CallSid,
        params: &UpdateParticipant,
    ) -> Result<ParticipantResource, TwilioError> {
        let path = [
            "Conferences",
            conference_sid.as_str(),
            "Participants",
            &resource_json(call_sid.as_str()),
        ];
        let request = self.write(
            "update_participant",
            Some(call_sid.as_str()),
            &path,
            params,
            params.is_idempotent(),
        )?;
        self.send(request).await
    }

    /// The account's numbers equal to `phone_number` (zero or one).
    pub async fn list_incoming_numbers(
        &self,
        phone_number: &PhoneNumber,
    ) -> Result<Vec<IncomingNumberResource>, TwilioError> {
        let mut url = self.endpoint(&["IncomingPhoneNumbers.json"])?;
        url.query_pairs_mut()
            .append_pair("PhoneNumber", phone_number.as_str());
        self.list("list_incoming_numbers", url).await
    }

    /// Points a number's voice webhooks somewhere (`denwa twilio configure`).
    pub async fn update_incoming_number(
        &self,
        number_sid: &str,
        params: &UpdateIncomingNumber,
    ) -> Result<IncomingNumberResource, TwilioError> {
        let path = [
            "IncomingPhoneNumbers",
            &sid_json("phone number SID", number_sid)?,
        ];
        let request = self.write(
            "update_incoming_number",
            Some(number_sid),
            &path,
            params,
            true,
        )?;
        self.send(request).await
    }

    /// `{api_base}/2010-04-01/Accounts/{AccountSid}/{segments...}`. Segments are percent-encoded
    /// as path segments, and SIDs are checked first, so no input can change the path's shape.
    fn endpoint(&self, segments: &[&str]) -> Result<Url, TwilioError> {
        let mut url = self.api_base.clone();
        url.path_segments_mut()
            .map_err(|()| TwilioError::InvalidRequest("api_base cannot hold a path".into()))?
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", &self.account_sid])
            .extend(segments);
        Ok(url)
    }

    fn read(&self, operation: &'static str, sid: Option<&str>, url: Url) -> Request {
        Request {
            operation,
            sid: sid.map(str::to_owned),
            method: Method::GET,
            url,
            form: None,
            idempotent: true,
        }
    }

    fn write(
        &self,
        operation: &'static str,
        sid: Option<&str>,
        segments: &[&str],
        params: &impl FormBody,
        idempotent: bool,
    ) -> Result<Request, TwilioError> {
        let form = encode_form(params)
            .map_err(|e| TwilioError::InvalidRequest(format!("{operation} parameters: {e}")))?;
        Ok(Request {
            operation,
            sid: sid.map(str::to_owned),
            method: Method::POST,
            url: self.endpoint(segments)?,
            form: Some(form),
            idempotent,
        })
    }

    /// Reads every page of a list, following `next_page_uri` up to [`MAX_PAGES`].
    async fn list<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        first: Url,
    ) -> Result<Vec<T>, TwilioError> {
        let mut items = Vec::new();
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let page: Page<T> = self.send(self.read(operation, None, url)).await?;
            items.extend(page.items);
            match page.next_page_uri {
                Some(next) => url = self.resolve_page_uri(&next)?,
                None => return Ok(items),
            }
        }
        tracing::warn!(
            operation,
            pages = MAX_PAGES,
            "Twilio list has more pages than expected; stopped reading"
        );
        Ok(items)
    }

    /// Twilio's `next_page_uri` is a path from the host (`/2010-04-01/...`); keep any path prefix
    /// of `api_base` (a Twilio-compatible provider may live under one).
    fn resolve_page_uri(&self, next: &str) -> Result<Url, TwilioError> {
        let relative = next
            .strip_prefix('/')
            .ok_or_else(|| TwilioError::InvalidRequest("next_page_uri is not a path".into()))?;
        let mut base = self.api_base.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        base.join(relative)
            .map_err(|e| TwilioError::InvalidRequest(format!("next_page_uri: {e}")))
    }

    /// Sends `request`, retrying as [`RetryPolicy`] and idempotency allow; the last error surfaces.
    async fn send<T: DeserializeOwned>(&self, request: Request) -> Result<T, TwilioError> {
        self.meter.time(self.attempts(request)).await
    }

    async fn attempts<T: DeserializeOwned>(&self, request: Request) -> Result<T, TwilioError> {
        let mut attempt = 1;
        loop {
            let (error, retry_after) = match self.send_once(&request).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let may_retry = attempt < self.retry.max_attempts
                && error.is_retryable()
                && (request.idempotent || error.certainly_not_processed());
            let delay = may_retry
                .then(|| self.retry.delay_after(attempt, retry_after))
                .flatten();
            let Some(delay) = delay else {
                tracing::warn!(
                    operation = request.operation,
                    sid = request.sid.as_deref(),
                    attempt,
                    status = error.status(),
                    error = %error,
                    "Twilio request failed"
                );
                return Err(error);
            };
            tracing::info!(
                operation = request.operation,
                sid = request.sid.as_deref(),
                attempt,
                status = error.status(),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "Twilio request failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        request: &Request,
    ) -> Result<T, (TwilioError, Option<Duration>)> {
        // URLs may carry phone numbers (list filters): keep them out of errors, which get logged.
        let transport = |e: reqwest::Error| (TwilioError::Transport(e.without_url()), None);
        let mut builder = self
            .http
            .request(request.method.clone(), request.url.clone())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .header(ACCEPT, "application/json");
        if let Some(form) = &request.form {
            builder = builder
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.clone());
        }
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(parse_retry_after);
        let body = response.bytes().await.map_err(transport)?;
        tracing::debug!(
            operation = request.operation,
            sid = request.sid.as_deref(),
            status = status.as_u16(),
            "Twilio answered"
        );
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| (TwilioError::Decode(e), None));
        }
        // Twilio's errors are JSON; a proxy in between may answer with anything else.
        let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        let error = TwilioError::Api {
            status: status.as_u16(),
            code: parsed.as_ref().and_then(|b| b.code),
            // Twilio quotes the numbers it refuses ("The 'To' number +1415... is not valid"); the
            // message ends up in logs and chat replies, which carry no phone numbers.
            message: parsed
                .as_ref()
                .and_then(|b| b.message.as_deref().map(redact_numbers))
                .unwrap_or_else(|| {
                    status
                        .canonical_reason()
                        .unwrap_or("no reason given")
                        .to_owned()
                }),
            more_info: parsed.and_then(|b| b.more_info),
            retry_after,
        };
        Err((error, retry_after))
    }
}

/// Twilio would refuse inline TwiML over its limit after a round trip; say why before sending.
fn too_long_twiml() -> TwilioError {
    TwilioError::InvalidRequest(format!(
        "inline TwiML longer than {} characters",
        CallTarget::MAX_TWIML_CHARS
    ))
}

/// The SIDs without a type of their own (the account's, a phone number's) are two letters and 32
/// hex digits; accepting any short alphanumeric string keeps test fakes free to use readable ones,
/// while still ruling out `/`, `..`, `?`. Call and conference SIDs are typed, checked where they
/// enter (`domain::CallSid`).
fn check_sid(kind: &str, sid: &str) -> Result<(), TwilioError> {
    if sid.is_empty() || sid.len() > 64 || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TwilioError::InvalidRequest(format!(
            "{kind} is not a Twilio SID"
        )));
    }
    Ok(())
}

/// `{sid}.json`, the path segment of one resource.
fn sid_json(kind: &str, sid: &str) -> Result<String, TwilioError> {
    check_sid(kind, sid)?;
    Ok(resource_json(sid))
}

/// `{sid}.json` for a SID already checked.
fn resource_json(sid: &str) -> String {
    [sid, ".json"].concat()
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_numbers;

    #[test]
    fn phone_numbers_in_twilio_messages_are_hidden() {
        assert_eq!(
            redact_numbers("The 'To' number +14155550123 is not a valid phone number."),
            "The 'To' number +*******0123 is not a valid phone number."
        );
        assert_eq!(
            redact_numbers("Error 21211 on call CA123"),
            "Error 21211 on call CA123"
        );
        assert_eq!(redact_numbers("+ 5"), "+ 5");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use base64::Engine as _;

    use super::*;
    use crate::domain::{CallSid, ConferenceSid};
    use crate::twilio::params::{CallEnd, CallEvent};
    use crate::twilio::resources::CallStatus;
    use crate::twiml::HttpMethod;

    fn call_sid(sid: &str) -> CallSid {
        CallSid::parse(sid).unwrap()
    }

    fn conference_sid(sid: &str) -> ConferenceSid {
        ConferenceSid::parse(sid).unwrap()
    }

    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
    const TOKEN: &str = "test-auth-token";

    /// What the fake Twilio saw.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        path: String,
        query: Option<String>,
        authorization: Option<String>,
        content_type: Option<String>,
        body: String,
        at: Instant,
    }

    /// A canned answer.
    struct Answer {
        status: u16,
        retry_after: Option<&'static str>,
        body: String,
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.to_owned(),
        }
    }

    #[derive(Clone, Default)]
    struct FakeState {
        seen: Arc<Mutex<Vec<Seen>>>,
        answers: Arc<Mutex<VecDeque<Answer>>>,
    }

    /// A stand-in for api.twilio.com on 127.0.0.1: records every request and replays `answers`
    /// in order (a 599 once they run out, so a test expecting fewer requests fails loudly).
    struct FakeTwilio {
        base: Url,
        state: FakeState,
    }

    impl FakeTwilio {
        async fn start(answers: Vec<Answer>) -> Self {
            let state = FakeState::default();
            state.answers.lock().unwrap().extend(answers);
            let app = axum::Router::new()
                .fallback(record)
                .with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Self {
                base: Url::parse(&format!("http://{addr}")).unwrap(),
                state,
            }
        }

        fn seen(&self) -> Vec<Seen> {
            self.state.seen.lock().unwrap().clone()
        }
    }

    async fn record(
        State(state): State<FakeState>,
        method: axum::http::Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        state.seen.lock().unwrap().push(Seen {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            authorization: header("authorization"),
            content_type: header("content-type"),
            body: String::from_utf8(body.to_vec()).unwrap(),
            at: Instant::now(),
        });
        let Some(answer) = state.answers.lock().unwrap().pop_front() else {
            return (StatusCode::from_u16(599).unwrap(), "no canned answer left").into_response();
        };
        let mut response = (
            StatusCode::from_u16(answer.status).unwrap(),
            [("content-type", "application/json")],
            answer.body,
        )
            .into_response();
        if let Some(seconds) = answer.retry_after {
            response
                .headers_mut()
                .insert("retry-after", seconds.parse().unwrap());
        }
        response
    }

    fn fast_retries(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(2),
        }
    }

    fn client(base: &Url, retry: RetryPolicy) -> TwilioClient {
        let _ = rustls::crypto::ring::default_provider().install_default();
        TwilioClient::builder(ACCOUNT, SecretString::from(TOKEN))
            .api_base(base.clone())
            .timeout(Duration::from_secs(5))
            .retry_policy(retry)
            .build()
            .unwrap()
    }

    fn number(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    const CALL_201: &str = r#"{"sid":"CA11111111111111111111111111111111","status":"queued","account_sid":"AC0123456789abcdef0123456789abcdef","direction":"outbound-api","to":"+14155550100","from":"+14155550100","uri":"/2010-04-01/..."}"#;
    const ERROR_21211: &str = r#"{"code":21211,"message":"The 'To' number +1415555 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#;

    fn self_dial() -> CreateCall {
        CreateCall::new(
            number("+14155550100"),
            number("+14155550100"),
            CallTarget::url(
                "https://denwa.example/twilio/speak?conf=abc",
                HttpMethod::Post,
            ),
        )
        .status_callback("https://denwa.example/twilio/call-status", HttpMethod::Post)
        .status_callback_events([
            CallEvent::Initiated,
            CallEvent::Ringing,
            CallEvent::Answered,
            CallEvent::Completed,
        ])
        .send_digits("wwww123456")
    }

    #[tokio::test]
    async fn create_call_sends_basic_auth_and_twilios_form_and_parses_201() {
        let fake = FakeTwilio::start(vec![answer(201, CALL_201)]).await;
        let call = client(&fake.base, fast_retries(4))
            .create_call(&self_dial())
            .await
            .unwrap();
        assert_eq!(call.sid.as_str(), "CA11111111111111111111111111111111");
        assert_eq!(call.status, CallStatus::Queued);

        let seen = fake.seen();
        assert_eq!(seen.len(), 1);
        let request = &seen[0];
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.path,
            format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json")
        );
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"));
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Basic {credentials}").as_str())
        );
        assert_eq!(
            request.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            request.body,
            "To=%2B14155550100&From=%2B14155550100\
             &Url=https%3A%2F%2Fdenwa.example%2Ftwilio%2Fspeak%3Fconf%3Dabc&Method=POST\
             &StatusCallback=https%3A%2F%2Fdenwa.example%2Ftwilio%2Fcall-status&StatusCallbackMethod=POST\
             &SendDigits=wwww123456\
             &StatusCallbackEvent=initiated&StatusCallbackEvent=ringing\
             &StatusCallbackEvent=answered&StatusCallbackEvent=completed"
        );
    }

    #[tokio::test]
    async fn twilio_error_json_surfaces_as_api_error_without_retry() {
        let fake = FakeTwilio::start(vec![answer(400, ERROR_21211)]).await;
        let err = client(&fake.base, fast_retries(4))
            .create_call(&self_dial())
            .await
            .unwrap_err();
        match &err {
            TwilioError::Api {
                status,
                code,
                message,
                more_info,
                ..
            } => {
                assert_eq!(*status, 400);
                assert_eq!(*code, Some(21211));
                assert!(message.contains("not a valid phone number"));
                assert_eq!(
                    more_info.as_deref(),
                    Some("https://www.twilio.com/docs/errors/21211")
                );
            }
            other => panic!("expected an API error, got {other:?}"),
        }
        assert!(!err.is_retryable());
        assert_eq!(fake.seen().len(), 1);
        assert!(
            err.to_string()
                .starts_with("Twilio answered 400 (error 21211): "),
            "{err}"
        );
    }

    #[tokio::test]
    async fn rate_limited_then_created_honours_retry_after() {
        let limited = Answer {
            status: 429,
            retry_after: Some("1"),
            body: r#"{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}"#.into(),
        };
        let fake = FakeTwilio::start(vec![limited, answer(201, CALL_201)]).await;
        // A 429 means Twilio did not act, so even a call creation is retried.
        let call = client(&fake.base, fast_retries(4))
            .create_call(&self_dial())
            .await
            .unwrap();
        assert_eq!(call.sid.as_str(), "CA11111111111111111111111111111111");
        let seen = fake.seen();
        assert_eq!(seen.len(), 2);
        let waited = seen[1].at - seen[0].at;
        assert!(
            waited >= Duration::from_secs(1),
            "retried after {waited:?}, before Retry-After"
        );
        assert_eq!(seen[0].body, seen[1].body);
    }

    #[tokio::test]
    async fn a_retry_after_beyond_max_delay_ends_the_retries() {
        let limited = Answer {
            status: 429,
            retry_after: Some("60"),
            body: r#"{"code":20429,"message":"Too Many Requests"}"#.into(),
        };
        let fake = FakeTwilio::start(vec![limited]).await;
        let err = client(&fake.base, fast_retries(4))
            .fetch_call(&call_sid("CA00000000000000000000000000000001"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(429));
        assert_eq!(fake.seen().len(), 1);
    }

    #[tokio::test]
    async fn server_errors_give_up_after_max_attempts_with_the_last_error() {
        let answers = (1..=3)
            .map(|i| {
                answer(
                    500,
                    &format!(r#"{{"code":{i},"message":"failure {i}","status":500}}"#),
                )
            })
            .collect();
        let fake = FakeTwilio::start(answers).await;
        let err = client(&fake.base, fast_retries(3))
            .update_call(
                &call_sid("CA11111111111111111111111111111111"),
                &UpdateCall::end(CallEnd::Completed),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TwilioError::Api { status: 500, code: Some(3), message, .. } if message == "failure 3"),
            "{err:?}"
        );
        assert!(err.is_retryable());
        let seen = fake.seen();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|s| s.body == "Status=completed"));
    }

    #[tokio::test]
    async fn a_server_error_on_call_creation_is_not_retried() {
        // Twilio may have placed the call before failing: a retry could ring the phone twice.
        let fake = FakeTwilio::start(vec![answer(
            500,
            r#"{"code":20500,"message":"Internal Server Error"}"#,
        )])
        .await;
        let err = client(&fake.base, fast_retries(4))
            .create_call(&self_dial())
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(500));
        assert_eq!(fake.seen().len(), 1);
    }

    #[tokio::test]
    async fn connection_refused_is_retried_and_surfaces() {
        // A port that was free a moment ago: nothing listens there now.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let started = Instant::now();
        let retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        let err = client(&base, retry)
            .create_call(&self_dial())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TwilioError::Transport(e) if e.is_connect()),
            "{err:?}"
        );
        assert!(err.is_retryable());
        // Two backoffs of at least 50 ms and 100 ms: the connection was tried three times.
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
        assert!(
            err.to_string().starts_with("could not reach Twilio: "),
            "{err}"
        );
        assert!(
            !err.to_string().contains("127.0.0.1"),
            "URLs stay out of errors: {err}"
        );
    }

    #[tokio::test]
    async fn lists_filter_by_query_and_follow_pages() {
        let page_1 = r#"{"conferences":[{"sid":"CF00000000000000000000000000000001","friendly_name":"denwa-abc","status":"in-progress"}],
            "next_page_uri":"/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Conferences.json?FriendlyName=denwa-abc&Status=in-progress&PageSize=1&Page=1&PageToken=PA1"}"#;
        let page_2 = r#"{"conferences":[{"sid":"CF00000000000000000000000000000002","friendly_name":"denwa-abc","status":"in-progress"}],"next_page_uri":null}"#;
        let fake = FakeTwilio::start(vec![answer(200, page_1), answer(200, page_2)]).await;
        let conferences = client(&fake.base, fast_retries(1))
            .list_conferences("denwa-abc", Some(ConferenceStatus::InProgress))
            .await
            .unwrap();
        assert_eq!(
            conferences
                .iter()
                .map(|c| c.sid.as_str())
                .collect::<Vec<_>>(),
            [
                "CF00000000000000000000000000000001",
                "CF00000000000000000000000000000002"
            ]
        );
        let seen = fake.seen();
        assert_eq!(seen[0].method, "GET");
        assert_eq!(
            seen[0].path,
            format!("/2010-04-01/Accounts/{ACCOUNT}/Conferences.json")
        );
        assert_eq!(
            seen[0].query.as_deref(),
            Some("FriendlyName=denwa-abc&Status=in-progress")
        );
        assert_eq!(
            seen[1].query.as_deref(),
            Some("FriendlyName=denwa-abc&Status=in-progress&PageSize=1&Page=1&PageToken=PA1")
        );
        assert!(
            seen.iter()
                .all(|s| s.authorization.is_some() && s.body.is_empty())
        );
    }

    #[tokio::test]
    async fn every_endpoint_hits_its_path() {
        let conference = r#"{"sid":"CF00000000000000000000000000000001","friendly_name":"denwa-abc","status":"in-progress"}"#;
        let participant = r#"{"call_sid":"CA00000000000000000000000000000002","conference_sid":"CF00000000000000000000000000000001","muted":true,"hold":false}"#;
        let number_json = r#"{"sid":"PN1","phone_number":"+14155550100","voice_url":"https://d.example/twilio/voice"}"#;
        let fake = FakeTwilio::start(vec![
            answer(200, CALL_201),
            answer(200, conference),
            answer(201, participant),
            answer(200, participant),
            answer(
                200,
                &format!(r#"{{"incoming_phone_numbers":[{number_json}],"next_page_uri":null}}"#),
            ),
            answer(200, number_json),
        ])
        .await;
        let twilio = client(&fake.base, fast_retries(1));
        twilio
            .fetch_call(&call_sid("CA00000000000000000000000000000001"))
            .await
            .unwrap();
        twilio
            .update_conference(
                &conference_sid("CF00000000000000000000000000000001"),
                &UpdateConference::announce("https://d.example/speak", HttpMethod::Post),
            )
            .await
            .unwrap();
        let p = twilio
            .create_participant(
                &conference_sid("CF00000000000000000000000000000001"),
                &CreateParticipant::new(number("+14155550100"), number("+14155550123")).muted(true),
            )
            .await
            .unwrap();
        assert!(p.muted);
        twilio
            .update_participant(
                &conference_sid("CF00000000000000000000000000000001"),
                &call_sid("CA00000000000000000000000000000002"),
                &UpdateParticipant::new().muted(false),
            )
            .await
            .unwrap();
        let numbers = twilio
            .list_incoming_numbers(&number("+14155550100"))
            .await
            .unwrap();
        assert_eq!(numbers[0].sid, "PN1");
        twilio
            .update_incoming_number(
                "PN1",
                &UpdateIncomingNumber::new()
                    .voice_url("https://d.example/twilio/voice", HttpMethod::Post),
            )
            .await
            .unwrap();

        let base = format!("/2010-04-01/Accounts/{ACCOUNT}");
        let seen: Vec<(String, String, Option<String>, String)> = fake
            .seen()
            .into_iter()
            .map(|s| (s.method, s.path, s.query, s.body))
            .collect();
        let expected = [
            (
                "GET",
                format!("{base}/Calls/CA00000000000000000000000000000001.json"),
                None,
                "",
            ),
            (
                "POST",
                format!("{base}/Conferences/CF00000000000000000000000000000001.json"),
                None,
                "AnnounceUrl=https%3A%2F%2Fd.example%2Fspeak&AnnounceMethod=POST",
            ),
            (
                "POST",
                format!("{base}/Conferences/CF00000000000000000000000000000001/Participants.json"),
                None,
                "From=%2B14155550100&To=%2B14155550123&Muted=true",
            ),
            (
                "POST",
                format!(
                    "{base}/Conferences/CF00000000000000000000000000000001/Participants/CA00000000000000000000000000000002.json"
                ),
                None,
                "Muted=false",
            ),
            (
                "GET",
                format!("{base}/IncomingPhoneNumbers.json"),
                Some("PhoneNumber=%2B14155550100"),
                "",
            ),
            (
                "POST",
                format!("{base}/IncomingPhoneNumbers/PN1.json"),
                None,
                "VoiceUrl=https%3A%2F%2Fd.example%2Ftwilio%2Fvoice&VoiceMethod=POST",
            ),
        ];
        assert_eq!(seen.len(), expected.len());
        for (got, (method, path, query, body)) in seen.iter().zip(expected) {
            assert_eq!(
                got,
                &(
                    method.to_owned(),
                    path,
                    query.map(str::to_owned),
                    body.to_owned()
                )
            );
        }
    }

    #[tokio::test]
    async fn an_api_base_with_a_path_prefix_is_kept() {
        let fake = FakeTwilio::start(vec![answer(200, CALL_201)]).await;
        let prefixed = fake.base.join("/provider/twilio/").unwrap();
        client(&prefixed, fast_retries(1))
            .fetch_call(&call_sid("CA00000000000000000000000000000001"))
            .await
            .unwrap();
        assert_eq!(
            fake.seen()[0].path,
            format!(
                "/provider/twilio/2010-04-01/Accounts/{ACCOUNT}/Calls/CA00000000000000000000000000000001.json"
            )
        );
    }

    #[tokio::test]
    async fn malformed_sids_never_reach_the_wire() {
        // A call's or conference's SID is typed: what could escape a path is no `CallSid`, so
        // no request can be built with one.
        for bad in ["", "../Calls", "CA1/x", "CA1?x=1", "CA 1"] {
            assert!(CallSid::parse(bad).is_none(), "{bad:?}");
            assert!(ConferenceSid::parse(bad).is_none(), "{bad:?}");
        }
        let fake = FakeTwilio::start(vec![]).await;
        let twilio = client(&fake.base, fast_retries(1));
        let err = twilio
            .update_incoming_number("PN1/../x", &UpdateIncomingNumber::default())
            .await
            .unwrap_err();
        assert!(matches!(err, TwilioError::InvalidRequest(_)), "{err:?}");
        assert!(fake.seen().is_empty());
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bad_account = TwilioClient::builder("AC/../x", SecretString::from(TOKEN)).build();
        assert!(matches!(bad_account, Err(TwilioError::InvalidRequest(_))));
    }

    #[tokio::test]
    async fn a_success_with_a_body_that_is_not_json_is_a_decode_error() {
        let fake = FakeTwilio::start(vec![answer(200, "<html>captive portal</html>")]).await;
        let err = client(&fake.base, fast_retries(3))
            .fetch_call(&call_sid("CA00000000000000000000000000000001"))
            .await
            .unwrap_err();
        assert!(matches!(err, TwilioError::Decode(_)), "{err:?}");
        assert_eq!(fake.seen().len(), 1);
    }

    #[test]
    fn debug_output_hides_the_auth_token() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let twilio = TwilioClient::builder(ACCOUNT, SecretString::from(TOKEN))
            .build()
            .unwrap();
        assert!(!format!("{twilio:?}").contains(TOKEN));
    }
}
