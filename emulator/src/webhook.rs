//! Sending requests to the application exactly as Twilio does: signed, form-encoded, with
//! Twilio's headers, a 15-second deadline, and Twilio's error codes when the answer is unusable.

use std::time::Duration;

use url::Url;

use crate::Emulator;
use crate::error::EmulatorError;
use crate::events::CallEventKind;
use crate::twiml::HttpMethod;

/// Why a request is made; selects the error code a failure is logged under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookPurpose {
    Voice,
    Action,
    Redirect,
    StatusCallback,
    ConferenceStatus,
    Transcription,
    /// A real-time transcription's event (`statusCallbackUrl`).
    RealtimeTranscription,
    RecordingStatus,
    Announce,
    Wait,
}

impl HookPurpose {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HookPurpose::Voice => "voice",
            HookPurpose::Action => "action",
            HookPurpose::Redirect => "redirect",
            HookPurpose::StatusCallback => "status-callback",
            HookPurpose::ConferenceStatus => "conference-status",
            HookPurpose::Transcription => "transcription",
            HookPurpose::RealtimeTranscription => "realtime-transcription",
            HookPurpose::RecordingStatus => "recording-status",
            HookPurpose::Announce => "announce",
            HookPurpose::Wait => "wait",
        }
    }

    /// Whether the answer is TwiML Twilio will execute (so its size and type matter), rather than
    /// a callback whose body is ignored.
    fn expects_twiml(self) -> bool {
        matches!(
            self,
            HookPurpose::Voice
                | HookPurpose::Action
                | HookPurpose::Redirect
                | HookPurpose::Announce
                | HookPurpose::Wait
        )
    }

    /// Twilio's code for a callback whose answer was not 2xx (the body is ignored).
    fn callback_error_code(self) -> u32 {
        match self {
            // "Call Progress: Warning Response to Callback URL"
            HookPurpose::StatusCallback => 15003,
            // "Conference Event: Error Response to Callback URL"
            HookPurpose::ConferenceStatus => 16011,
            _ => 11200,
        }
    }
}

/// The largest TwiML document Twilio accepts: 64 kB. Twilio does not say whether it means 64,000
/// or 65,536 bytes; the emulator takes the stricter reading.
pub(crate) const MAX_TWIML_BYTES: usize = 64_000;

/// A fire-and-forget callback (status, conference event, transcription): sent by the dispatcher
/// task, each in its own task, so, as with Twilio, arrival order is not guaranteed (and with
/// [`crate::CallbackChaos`], a callback may be late or arrive twice).
#[derive(Debug, Clone)]
pub(crate) struct HookJob {
    pub purpose: HookPurpose,
    pub call_sid: Option<String>,
    pub url: String,
    pub method: HttpMethod,
    pub params: Vec<(String, String)>,
}

/// A 2xx answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub content_type: String,
    pub body: String,
}

/// The most redirects followed for one request. Twilio does not say how many it follows
/// (11215 "HTTP too many redirects" says only "too many"); the emulator takes a low number.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// The HTTP client every request goes through. It follows no redirect itself: Twilio follows
/// only some, and not the way a browser would (see [`Emulator::request`]).
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    // reqwest is built without a bundled crypto provider (denwa picks ring process-wide); the
    // emulator only speaks plain http to localhost but reqwest still wants a provider to build.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client builds")
}

/// One request on its way: where, how, with what.
struct Hop {
    url: Url,
    method: HttpMethod,
    params: Vec<(String, String)>,
}

/// What one request got back.
struct Reply {
    /// The URL the signature covered (with a GET's parameters in it).
    signed_url: String,
    status: Option<u16>,
    content_type: String,
    location: Option<String>,
    body: Option<String>,
    /// A transport failure (connection refused, timeout, unreadable body).
    transport: Option<String>,
}

impl Emulator {
    /// Sends one request the way Twilio does and logs it on the call. `Err` carries the Twilio
    /// error to record.
    ///
    /// Redirects: Twilio "will only follow redirects for status codes 301, 302, 303, and 307",
    /// and a redirect without a `Location` is invalid too (11216,
    /// https://www.twilio.com/docs/api/errors/11216); a loop is 11215. Twilio does not document
    /// what becomes of the request on the way; the emulator takes the strict reading, what
    /// Twilio's proxy has been seen to do (https://github.com/twilio/OpenVBX/pull/199): the
    /// redirected request is a GET of the new URL, signed over it alone, and the form
    /// parameters are lost. Every hop is logged on the call.
    pub(crate) async fn request(
        &self,
        purpose: HookPurpose,
        call_sid: Option<&str>,
        url: &Url,
        method: HttpMethod,
        params: Vec<(String, String)>,
    ) -> Result<Answer, EmulatorError> {
        let mut hop = Hop {
            url: url.clone(),
            method,
            params,
        };
        for _ in 0..=MAX_REDIRECTS {
            let reply = self.send(purpose, call_sid, &hop).await;
            let Some(status @ 300..=399) = reply.status else {
                return answer(purpose, call_sid, hop.method, reply);
            };
            let next = reply.location.as_deref().and_then(|l| hop.url.join(l).ok());
            match (status, next) {
                (301 | 302 | 303 | 307, Some(next)) => {
                    hop = Hop {
                        url: next,
                        method: HttpMethod::Get,
                        params: Vec::new(),
                    };
                }
                (_, next) => {
                    let why = if next.is_none() {
                        "without a valid Location"
                    } else {
                        "that Twilio does not follow (only 301, 302, 303 and 307)"
                    };
                    let message = format!(
                        "HTTP invalid redirect: {} {} answered {status} {why}",
                        hop.method.as_str(),
                        reply.signed_url
                    );
                    return Err(hook_error(11216, message, &reply.signed_url, call_sid));
                }
            }
        }
        let message = format!("HTTP too many redirects: more than {MAX_REDIRECTS} from {url}");
        Err(hook_error(11215, message, url.as_str(), call_sid))
    }

    /// Sends one hop of a request and logs it on the call.
    async fn send(&self, purpose: HookPurpose, call_sid: Option<&str>, hop: &Hop) -> Reply {
        let inner = &self.inner;
        let mut target = hop.url.clone();
        let (signed_url, signed_params) = match hop.method {
            HttpMethod::Get => {
                // GET: parameters go into the query string, and the signature covers the URL alone.
                if !hop.params.is_empty() {
                    target.query_pairs_mut().extend_pairs(hop.params.iter());
                }
                (target.to_string(), Vec::new())
            }
            HttpMethod::Post => (target.to_string(), hop.params.clone()),
        };
        let signature = crate::signature::sign(&inner.cfg.auth_token, &signed_url, &signed_params);
        let mut req = match hop.method {
            HttpMethod::Get => inner.http.get(target.clone()),
            HttpMethod::Post => inner
                .http
                .post(target.clone())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(hop.params.iter())
                        .finish(),
                ),
        };
        req = req
            .header("X-Twilio-Signature", signature)
            .header("User-Agent", "TwilioProxy/1.1")
            .header("I-Twilio-Idempotency-Token", uuid_like())
            .header("X-Home-Region", "us1")
            .header("Accept", "*/*");

        let mut reply = Reply {
            signed_url,
            status: None,
            content_type: String::new(),
            location: None,
            body: None,
            transport: None,
        };
        match req.send().await {
            Ok(resp) => {
                let header = |name| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                reply.status = Some(resp.status().as_u16());
                reply.content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
                reply.location = header(reqwest::header::LOCATION);
                match resp.text().await {
                    Ok(body) => reply.body = Some(body),
                    Err(e) => reply.transport = Some(describe(&e)),
                }
            }
            Err(e) => reply.transport = Some(describe(&e)),
        }
        if let Some(sid) = call_sid {
            let kind = CallEventKind::Webhook {
                purpose: purpose.as_str().into(),
                method: hop.method.as_str().into(),
                url: reply.signed_url.clone(),
                params: hop.params.clone(),
                response_status: reply.status,
                response_body: reply.body.clone(),
                error: reply.transport.clone(),
            };
            inner.state.lock().unwrap().call_event(sid, kind);
        }
        reply
    }

    /// Starts the task that sends queued callbacks.
    pub(crate) fn spawn_dispatcher(
        &self,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<HookJob>,
    ) -> tokio::task::JoinHandle<()> {
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                let emulator = Emulator { inner };
                for delay in emulator.callback_deliveries() {
                    emulator.deliver(job.clone(), delay);
                }
            }
        })
    }

    /// Sends callback `job` after `delay`, in a task of its own.
    fn deliver(&self, job: HookJob, delay: Duration) {
        let emulator = self.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let url = match Url::parse(&job.url) {
                Ok(u) => u,
                Err(e) => {
                    let mut err = EmulatorError::new(
                        11100,
                        format!("invalid callback URL {:?}: {e}", job.url),
                    );
                    err.call_sid = job.call_sid.clone();
                    emulator.inner.state.lock().unwrap().record_error(err);
                    return;
                }
            };
            if let Err(e) = emulator
                .request(
                    job.purpose,
                    job.call_sid.as_deref(),
                    &url,
                    job.method,
                    job.params,
                )
                .await
            {
                emulator.inner.state.lock().unwrap().record_error(e);
            }
        });
    }
}

/// Twilio's verdict on a final (not redirected) reply.
fn answer(
    purpose: HookPurpose,
    call_sid: Option<&str>,
    method: HttpMethod,
    reply: Reply,
) -> Result<Answer, EmulatorError> {
    let signed_url = &reply.signed_url;
    let fail = |code: u32, message: String| Err(hook_error(code, message, signed_url, call_sid));
    match (reply.status, reply.transport) {
        (None, Some(err)) if err.contains("timed out") => fail(
            11200,
            format!(
                "HTTP retrieval failure: {} {signed_url} timed out",
                method.as_str()
            ),
        ),
        (None, Some(err)) => fail(
            11205,
            format!(
                "HTTP connection failure: {} {signed_url}: {err}",
                method.as_str()
            ),
        ),
        (Some(s), _) if !(200..300).contains(&s) => fail(
            purpose.callback_error_code(),
            format!(
                "{} {signed_url} answered HTTP {s} ({} request)",
                method.as_str(),
                purpose.as_str()
            ),
        ),
        (Some(_), Some(err)) => fail(11200, format!("HTTP retrieval failure: {err}")),
        // "11750 TwiML response body too large": Twilio reads at most 64 kB of TwiML
        // (https://www.twilio.com/docs/api/errors/11750).
        (Some(_), None)
            if purpose.expects_twiml()
                && reply
                    .body
                    .as_ref()
                    .is_some_and(|b| b.len() > MAX_TWIML_BYTES) =>
        {
            fail(
                11750,
                format!(
                    "TwiML response body too large: {} bytes from {signed_url} (the limit is {MAX_TWIML_BYTES})",
                    reply.body.as_ref().map_or(0, String::len)
                ),
            )
        }
        (Some(_), None) => Ok(Answer {
            content_type: reply.content_type,
            body: reply.body.unwrap_or_default(),
        }),
        (None, None) => fail(11200, "HTTP retrieval failure".into()),
    }
}

/// A Twilio error about a request to `url`, on the call if any.
fn hook_error(code: u32, message: String, url: &str, call_sid: Option<&str>) -> EmulatorError {
    let mut e = EmulatorError::new(code, message).at_url(url);
    if let Some(sid) = call_sid {
        e = e.on_call(sid);
    }
    e
}

/// Twilio's content types for TwiML. Anything else is error 12300.
pub(crate) fn is_xml(content_type: &str) -> bool {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(ct.as_str(), "text/xml" | "application/xml" | "text/html")
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn uuid_like() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
