//! The requests of the throughput rows: Twilio's incoming-call webhook, signed as Twilio signs
//! it (a distinct CallSid each, so every request is a new call), and a plain `GET /healthz`.

use std::sync::Arc;

use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};

use crate::far_side::{ACCOUNT_SID, AUTH_TOKEN, LINE};
use crate::load::MakeRequest;

/// Signed incoming-call webhooks to `path` of an app whose public URL is `public_base` (what it
/// checks signatures against) and whose line is [`LINE`].
pub fn incoming_calls(public_base: &str, path: &'static str, run: u32) -> MakeRequest {
    let url = format!("{public_base}{path}");
    let host = public_base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    Arc::new(move |connection, n| {
        // CA + 32 hex digits, distinct across runs, connections and requests.
        let call_sid = format!("CA{run:08x}{connection:08x}{n:016x}");
        let caller = format!("+1415{:07}", n % 10_000_000);
        let params = vec![
            ("AccountSid".to_owned(), ACCOUNT_SID.to_owned()),
            ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
            ("CallSid".to_owned(), call_sid),
            ("CallStatus".to_owned(), "ringing".to_owned()),
            ("Direction".to_owned(), "inbound".to_owned()),
            ("From".to_owned(), caller),
            ("To".to_owned(), LINE.to_owned()),
        ];
        let signature = denwa_twilio_emulator::sign(AUTH_TOKEN, &url, &params);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        build(
            Request::post(path)
                .header(HOST, host.as_str())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("X-Twilio-Signature", signature),
            Bytes::from(body),
        )
    })
}

/// `GET /healthz`: the same HTTP stack doing nothing, the ceiling for any route.
pub fn healthz(public_base: &str) -> MakeRequest {
    let host = public_base.trim_start_matches("http://").to_owned();
    Arc::new(move |_, _| {
        build(
            Request::get("/healthz").header(HOST, host.as_str()),
            Bytes::new(),
        )
    })
}

fn build(builder: hyper::http::request::Builder, body: Bytes) -> Request<Full<Bytes>> {
    match builder.body(Full::new(body)) {
        Ok(request) => request,
        // Every part above is a constant or a formatted ASCII value: a valid request.
        Err(e) => unreachable!("a well-formed request: {e}"),
    }
}
