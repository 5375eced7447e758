//! The Slack Web API, through slack-morphism, with bounded retries.
//!
//! Every method goes to `slack.api_base` (default `https://slack.com/api`), so tests point the
//! real client at a local fake. The connector is built with `https_or_http()`: Slack itself is
//! https, a local stand-in is plain http. rustls uses ring, the provider the whole process agrees
//! on (docs/protocols.md).
//!
//! Retries: a 429 waits for its `Retry-After` (a wait over 30 s is not cut short: the call gives
//! up, since retrying early only earns another 429); a refused connection (the request never
//! left), a 5xx, a request without an answer in 10 s or one of Slack's transient error codes backs
//! off from 250 ms; at most [`MAX_ATTEMPTS`] tries. Methods that are not idempotent
//! ([`NOT_IDEMPOTENT`]: `chat.postMessage`) are retried only when Slack surely did nothing (a 429
//! or `ratelimited`, a refused connection): after a timeout, a 5xx or a broken connection the
//! message may have been posted, and a retry would announce a call twice. Other `ok:false`
//! answers (`channel_not_found`, `not_in_channel`, `invalid_auth`, ...) are configuration
//! problems a retry cannot fix. Every failed try is logged with Slack's error.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use denwa_chat::ApiMeter;
use hyper_rustls::HttpsConnectorBuilder;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::api::*;
use slack_morphism::errors::SlackClientError;
use slack_morphism::hyper_tokio::{SlackClientHyperConnector, SlackClientHyperHttpsConnector};
use slack_morphism::prelude::*;
use url::Url;

pub const MAX_ATTEMPTS: u32 = 4;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Names change rarely; group membership a little more often. Minutes are fine for both.
const NAME_TTL: Duration = Duration::from_secs(600);
const GROUP_TTL: Duration = Duration::from_secs(60);
/// Methods whose retry after an unknown outcome could repeat what Slack already did.
const NOT_IDEMPOTENT: &[&str] = &["chat.postMessage"];
/// Slack's error codes that mean "try again later", not "you asked wrongly".
const TRANSIENT: &[&str] = &[
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// HTTP 200 with `{"ok":false,"error":code}`.
    #[error("Slack answered {code}")]
    Refused { code: String },
    #[error("rate limited by Slack")]
    RateLimited { retry_after: Option<Duration> },
    #[error("Slack answered HTTP {0}")]
    Http(u16),
    /// The connection was refused: the request was never sent, so any method may be retried.
    #[error("cannot connect to Slack: {0}")]
    Unreachable(String),
    /// No answer (a timeout, a broken connection): Slack may or may not have acted.
    #[error("cannot reach Slack: {0}")]
    Transport(String),
}

impl ApiError {
    fn is_code(&self, code: &str) -> bool {
        matches!(self, ApiError::Refused { code: c } if c == code)
    }

    /// How long to wait before try `tries + 1`, or `None` if a retry cannot help (or, for a
    /// method that is not `idempotent`, could do twice what Slack may already have done).
    fn retry_delay(&self, tries: u32, idempotent: bool) -> Option<Duration> {
        let backoff = Duration::from_millis(250 * 2u64.pow(tries.saturating_sub(1)));
        match self {
            // A rate-limited request was not acted on. Retrying before Retry-After only earns
            // another 429, so a wait beyond the cap is a give-up, not a shorter wait.
            ApiError::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                (wait <= MAX_RETRY_AFTER).then_some(wait)
            }
            ApiError::Refused { code } if code == "ratelimited" => Some(backoff),
            ApiError::Unreachable(_) => Some(backoff),
            _ if !idempotent => None,
            ApiError::Http(status) if *status >= 500 => Some(backoff),
            ApiError::Transport(_) => Some(backoff),
            ApiError::Refused { code } if TRANSIENT.contains(&code.as_str()) => Some(backoff),
            _ => None,
        }
    }
}

/// Whether `error` (a hyper client error, in slack-morphism's wrapper) is a refused connection:
/// the request was never sent.
fn connection_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        source = e.source();
    }
    false
}

impl From<SlackClientError> for ApiError {
    fn from(e: SlackClientError) -> Self {
        match e {
            SlackClientError::ApiError(e) => ApiError::Refused { code: e.code },
            SlackClientError::RateLimitError(e) => ApiError::RateLimited {
                retry_after: e.retry_after,
            },
            SlackClientError::HttpError(e) => ApiError::Http(e.status_code.as_u16()),
            SlackClientError::HttpProtocolError(ref protocol)
                if protocol
                    .cause
                    .as_deref()
                    .is_some_and(|cause| connection_refused(cause)) =>
            {
                ApiError::Unreachable(e.to_string())
            }
            other => ApiError::Transport(other.to_string()),
        }
    }
}

type Cache<T> = Mutex<HashMap<String, (Instant, T)>>;

pub struct SlackApi {
    client: SlackClient<SlackClientHyperHttpsConnector>,
    token: SlackApiToken,
    names: Cache<Option<String>>,
    groups: Cache<Arc<Vec<String>>>,
    meter: ApiMeter,
}

impl SlackApi {
    pub fn new(api_base: &Url, bot_token: &SecretString, meter: ApiMeter) -> Self {
        let provider = rustls::crypto::ring::default_provider();
        let builder = match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider) {
            Ok(builder) => builder,
            Err(e) => {
                // Without CA certificates https cannot work, but a local http stand-in still can;
                // say why Slack will be unreachable rather than refuse to start.
                tracing::error!(error = %e, "no CA certificates found: https requests to Slack will fail");
                HttpsConnectorBuilder::new().with_tls_config(
                    rustls::ClientConfig::builder_with_provider(Arc::new(
                        rustls::crypto::ring::default_provider(),
                    ))
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default protocol versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
                )
            }
        };
        let https = builder
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let connector = SlackClientHyperConnector::with_connector(https)
            .with_slack_api_url(api_base.as_str().trim_end_matches('/'));
        Self {
            client: SlackClient::new(connector),
            token: SlackApiToken::new(SlackApiTokenValue::new(
                bot_token.expose_secret().to_owned(),
            )),
            names: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            meter,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or [`MAX_ATTEMPTS`] are spent.
    async fn call<T, F, Fut>(&self, method: &'static str, attempt: F) -> Result<T, ApiError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SlackClientError>>,
    {
        self.meter.time(self.attempts(method, attempt)).await
    }

    async fn attempts<T, F, Fut>(&self, method: &'static str, attempt: F) -> Result<T, ApiError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SlackClientError>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let error = match tokio::time::timeout(REQUEST_TIMEOUT, attempt()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => ApiError::from(e),
                Err(_) => ApiError::Transport(format!("no answer within {REQUEST_TIMEOUT:?}")),
            };
            match error.retry_delay(tries, !NOT_IDEMPOTENT.contains(&method)) {
                Some(delay) if tries < MAX_ATTEMPTS => {
                    tracing::warn!(method, attempt = tries, error = %error, retry_in = ?delay, "Slack API call failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                _ => {
                    tracing::warn!(method, attempts = tries, error = %error, "Slack API call failed");
                    return Err(error);
                }
            }
        }
    }

    /// `chat.postMessage`; returns the new message's `ts`.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<Vec<SlackBlock>>,
        thread_ts: Option<&str>,
    ) -> Result<String, ApiError> {
        let request = SlackApiChatPostMessageRequest::new(
            channel.into(),
            SlackMessageContent::new()
                .with_text(text.into())
                .opt_blocks(blocks),
        )
        .opt_thread_ts(thread_ts.map(Into::into))
        .with_unfurl_links(false);
        let response = self
            .call("chat.postMessage", || async {
                self.client
                    .open_session(&self.token)
                    .chat_post_message(&request)
                    .await
            })
            .await?;
        Ok(response.ts.0)
    }

    /// A short plain reply in a thread.
    pub async fn reply(&self, channel: &str, thread_ts: &str, text: &str) -> Result<(), ApiError> {
        self.post_message(channel, text, None, Some(thread_ts))
            .await
            .map(drop)
    }

    /// `chat.update`.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Vec<SlackBlock>,
    ) -> Result<(), ApiError> {
        let request = SlackApiChatUpdateRequest::new(
            channel.into(),
            SlackMessageContent::new()
                .with_text(text.into())
                .with_blocks(blocks),
            ts.into(),
        );
        self.call("chat.update", || async {
            self.client
                .open_session(&self.token)
                .chat_update(&request)
                .await
        })
        .await
        .map(drop)
    }

    /// `chat.postEphemeral`: a message only `user` sees.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> Result<(), ApiError> {
        let request = SlackApiChatPostEphemeralRequest::new(
            channel.into(),
            user.into(),
            SlackMessageContent::new().with_text(text.into()),
        )
        .opt_thread_ts(thread_ts.map(Into::into));
        self.call("chat.postEphemeral", || async {
            self.client
                .open_session(&self.token)
                .chat_post_ephemeral(&request)
                .await
        })
        .await
        .map(drop)
    }

    /// `reactions.add`; a reaction that is already there is not a failure.
    pub async fn add_reaction(&self, channel: &str, ts: &str, name: &str) -> Result<(), ApiError> {
        let request =
            SlackApiReactionsAddRequest::new(channel.into(), name.to_owned().into(), ts.into());
        match self
            .call("reactions.add", || async {
                self.client
                    .open_session(&self.token)
                    .reactions_add(&request)
                    .await
            })
            .await
        {
            Err(e) if e.is_code("already_reacted") => Ok(()),
            other => other.map(drop),
        }
    }

    /// The name to speak for a user: display name, else real name (`users.info`, cached).
    /// `None` when Slack does not know the user or cannot be asked.
    pub async fn user_name(&self, user: &str) -> Option<String> {
        if let Some((at, name)) = lock(&self.names).get(user)
            && at.elapsed() < NAME_TTL
        {
            return name.clone();
        }
        let request = SlackApiUsersInfoRequest::new(user.into());
        let result = self
            .call("users.info", || async {
                self.client
                    .open_session(&self.token)
                    .users_info(&request)
                    .await
            })
            .await;
        let name = match result {
            Ok(response) => {
                let profile = response.user.profile.as_ref();
                let non_empty = |s: Option<&String>| s.filter(|s| !s.trim().is_empty()).cloned();
                non_empty(profile.and_then(|p| p.display_name.as_ref()))
                    .or_else(|| non_empty(profile.and_then(|p| p.real_name.as_ref())))
                    .or_else(|| non_empty(response.user.real_name.as_ref()))
            }
            // Not cached: the next message may find Slack reachable again.
            Err(_) => return None,
        };
        lock(&self.names).insert(user.to_owned(), (Instant::now(), name.clone()));
        name
    }

    /// Members of a user group (`usergroups.users.list`, cached for a minute).
    pub async fn group_members(&self, group: &str) -> Result<Arc<Vec<String>>, ApiError> {
        if let Some((at, members)) = lock(&self.groups).get(group)
            && at.elapsed() < GROUP_TTL
        {
            return Ok(members.clone());
        }
        let request = SlackApiUserGroupsUsersListRequest::new(group.into());
        let response = self
            .call("usergroups.users.list", || async {
                self.client
                    .open_session(&self.token)
                    .usergroups_users_list(&request)
                    .await
            })
            .await?;
        let members = Arc::new(response.users.into_iter().map(|u| u.0).collect::<Vec<_>>());
        lock(&self.groups).insert(group.to_owned(), (Instant::now(), members.clone()));
        Ok(members)
    }

    /// Answers a slash command or an interaction later, through its `response_url`: ephemeral,
    /// and as a new message. Both are said explicitly rather than left to Slack's defaults
    /// (slack-morphism's webhook request has no `response_type`, hence the own body).
    pub async fn respond(&self, response_url: &Url, text: &str) -> Result<(), ApiError> {
        #[derive(serde::Serialize)]
        struct Response<'a> {
            text: &'a str,
            response_type: &'static str,
            replace_original: bool,
        }
        let request = Response {
            text,
            response_type: "ephemeral",
            replace_original: false,
        };
        let span = tracing::debug_span!("Slack response_url");
        self.call("response_url", || {
            let context = SlackClientApiCallContext {
                rate_control_params: None,
                token: None,
                tracing_span: &span,
                // The URL is a credential for the conversation: keep it out of the logs.
                is_sensitive_url: true,
            };
            self.client
                .http_api
                .connector
                .http_post_uri::<_, serde_json::Value>(response_url.clone(), &request, context)
        })
        .await
        .map(drop)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use denwa_chat::ApiService;

    #[test]
    fn a_message_is_posted_again_only_when_slack_surely_did_nothing() {
        let secs = Duration::from_secs;
        let limited = |s| ApiError::RateLimited {
            retry_after: Some(secs(s)),
        };
        for idempotent in [true, false] {
            assert_eq!(limited(3).retry_delay(1, idempotent), Some(secs(3)));
            assert_eq!(
                limited(31).retry_delay(1, idempotent),
                None,
                "a Retry-After beyond the cap is a give-up, not an early retry"
            );
            assert!(
                ApiError::Unreachable("refused".into())
                    .retry_delay(1, idempotent)
                    .is_some()
            );
        }
        for unknown_outcome in [
            ApiError::Transport("no answer within 10s".into()),
            ApiError::Http(503),
            ApiError::Refused {
                code: "internal_error".into(),
            },
        ] {
            assert!(unknown_outcome.retry_delay(1, true).is_some());
            assert_eq!(unknown_outcome.retry_delay(1, false), None);
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_told_apart() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = Url::parse(&format!("http://{}/api", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let api = SlackApi::new(
            &base,
            &SecretString::from("xoxb-test"),
            ApiMeter::unobserved(ApiService::Slack),
        );
        let error = api.post_message("C1", "hi", None, None).await.unwrap_err();
        assert!(matches!(error, ApiError::Unreachable(_)), "{error:?}");
    }
}
