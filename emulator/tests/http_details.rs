//! HTTP as Twilio speaks it: redirects followed only for 301, 302, 303 and 307, as a GET that
//! has lost the form parameters; no whitespace before the XML declaration.

mod support;

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use denwa_twilio_emulator::{APPLICATION_ERROR_MESSAGE, CallEventKind, Emulator, signature};
use support::*;

/// A request the redirecting server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    body: String,
    signature_ok: bool,
}

/// An application behind a proxy that redirects: `/moved-<status>` answers `<status>` to
/// `/landing`, `/no-location` answers 302 with no `Location`, `/loop` redirects to itself,
/// `/landing` and `/spaced` answer TwiML (the latter after a blank line).
async fn redirecting_app(em: &Emulator) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, token, origin) = (seen.clone(), em.auth_token().to_string(), base.clone());
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
            let (log, token, origin) = (log.clone(), token.clone(), origin.clone());
            async move {
                let url = format!("{origin}{uri}");
                let params: Vec<(String, String)> = if method == Method::POST {
                    url::form_urlencoded::parse(body.as_bytes())
                        .into_owned()
                        .collect()
                } else {
                    Vec::new()
                };
                let sig = headers
                    .get("x-twilio-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                log.lock().unwrap().push(Seen {
                    method: method.clone(),
                    path: uri.path().to_string(),
                    body: body.clone(),
                    signature_ok: signature::validate(&token, &url, &params, sig),
                });
                answer(uri.path())
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn answer(path: &str) -> Response {
    let xml = [(axum::http::header::CONTENT_TYPE, "text/xml")];
    let to = |status: u16, location: &'static str| {
        let status = StatusCode::from_u16(status).unwrap();
        (status, [(axum::http::header::LOCATION, location)]).into_response()
    };
    match path {
        "/landing" => (xml, "<Response><Say>landed</Say></Response>").into_response(),
        "/spaced" => (
            xml,
            "\n<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>spaced</Say></Response>",
        )
            .into_response(),
        "/no-location" => StatusCode::FOUND.into_response(),
        "/loop" => to(302, "/loop"),
        moved => match moved.strip_prefix("/moved-").and_then(|s| s.parse().ok()) {
            Some(status) => to(status, "/landing"),
            None => StatusCode::NOT_FOUND.into_response(),
        },
    }
}

/// Calls the line, its voice URL set to `path`, and waits for the call to end.
async fn call_at(em: &Emulator, base: &str, path: &str) -> String {
    em.add_number(LINE, &format!("{base}{path}"), None);
    let call = em.place_call(ALICE, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| call_status(em, &call) == "completed")
            .await,
        "{path}: the call ends"
    );
    call
}

fn codes(em: &Emulator) -> Vec<u32> {
    em.errors().iter().map(|e| e.code).collect()
}

#[tokio::test]
async fn a_followed_redirect_is_a_get_without_the_form_parameters() {
    for status in [301, 302, 303, 307] {
        let em = emulator().await;
        let (base, seen) = redirecting_app(&em).await;
        let call = call_at(&em, &base, &format!("/moved-{status}")).await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{status}: {seen:?}");
        assert_eq!(seen[0].method, Method::POST);
        assert!(seen[0].body.contains("CallSid="), "{seen:?}");
        // The redirected request: a GET of the new URL, the parameters gone, signed over it.
        assert_eq!(seen[1].method, Method::GET, "{status}");
        assert_eq!(seen[1].path, "/landing");
        assert!(seen[1].body.is_empty(), "{status}: {seen:?}");
        assert!(seen[1].signature_ok, "{status}");
        assert_eq!(em.heard_texts(&call), ["landed"], "{status}");
        let hops = em
            .events(&call)
            .into_iter()
            .filter(|e| matches!(e.kind, CallEventKind::Webhook { .. }))
            .count();
        assert_eq!(hops, 2, "{status}: both hops are in the call's log");
        assert!(em.errors().is_empty(), "{status}: {:?}", em.errors());
    }
}

#[tokio::test]
async fn other_redirects_and_redirects_without_a_location_are_11216() {
    for path in ["/moved-308", "/moved-300", "/no-location"] {
        let em = emulator().await;
        let (base, seen) = redirecting_app(&em).await;
        let call = call_at(&em, &base, path).await;
        assert_eq!(codes(&em), [11216], "{path}: {:?}", em.errors());
        assert_eq!(seen.lock().unwrap().len(), 1, "{path}: not followed");
        assert_eq!(em.heard_texts(&call), [APPLICATION_ERROR_MESSAGE], "{path}");
    }
}

#[tokio::test]
async fn a_redirect_loop_is_11215() {
    let em = emulator().await;
    let (base, seen) = redirecting_app(&em).await;
    let call = call_at(&em, &base, "/loop").await;
    assert_eq!(codes(&em), [11215], "{:?}", em.errors());
    // The first request and the redirects the emulator follows, no more.
    assert_eq!(seen.lock().unwrap().len(), 6);
    assert_eq!(em.heard_texts(&call), [APPLICATION_ERROR_MESSAGE]);
}

#[tokio::test]
async fn whitespace_before_the_xml_declaration_is_a_parse_failure() {
    let em = emulator().await;
    let (base, _) = redirecting_app(&em).await;
    let call = call_at(&em, &base, "/spaced").await;
    assert_eq!(codes(&em), [12100], "{:?}", em.errors());
    assert_eq!(em.heard_texts(&call), [APPLICATION_ERROR_MESSAGE]);
}
