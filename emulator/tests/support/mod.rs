//! A stand-in for the application under test: a tiny axum server that answers webhooks with a
//! handler's TwiML and records every request, checking its signature with the emulator's own
//! (independently written) validator.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use denwa_twilio_emulator::{Emulator, EmulatorConfig, signature};

#[derive(Debug, Clone)]
pub struct Hook {
    pub method: String,
    pub path: String,
    /// The full URL as requested (what the signature covers).
    pub url: String,
    /// Form parameters (POST) or query parameters (GET).
    pub params: Vec<(String, String)>,
    pub signature_ok: bool,
    pub user_agent: String,
    pub idempotency_token: Option<String>,
    pub content_type: Option<String>,
}

impl Hook {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

pub fn twiml(body: &str) -> Reply {
    Reply {
        status: 200,
        content_type: "text/xml",
        body: body.to_string(),
    }
}

pub fn empty() -> Reply {
    Reply {
        status: 204,
        content_type: "text/plain",
        body: String::new(),
    }
}

type Handler = Arc<dyn Fn(&Hook) -> Reply + Send + Sync>;

#[derive(Clone)]
pub struct App {
    pub base: String,
    pub hooks: Arc<Mutex<Vec<Hook>>>,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }

    pub fn hooks_to(&self, path: &str) -> Vec<Hook> {
        self.hooks()
            .into_iter()
            .filter(|h| h.path == path)
            .collect()
    }
}

#[derive(Clone)]
struct AppState {
    token: String,
    base: String,
    hooks: Arc<Mutex<Vec<Hook>>>,
    handler: Handler,
}

async fn serve(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!(
        "{}{}",
        s.base,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    type Pairs = Vec<(String, String)>;
    let (params, signed): (Pairs, Pairs) = if method == Method::POST {
        let p: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        (p.clone(), p)
    } else {
        let p = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        (p, Vec::new())
    };
    let sig = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let hook = Hook {
        method: method.to_string(),
        path: uri.path().to_string(),
        url: url.clone(),
        signature_ok: signature::validate(&s.token, &url, &signed, sig),
        params,
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        idempotency_token: headers
            .get("i-twilio-idempotency-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    s.hooks.lock().unwrap().push(hook.clone());
    if !hook.signature_ok {
        return (StatusCode::FORBIDDEN, "bad signature").into_response();
    }
    // On the blocking pool: a handler may stand for a slow application (a sleep), which must not
    // hold up the emulator's own tasks on the runtime's workers.
    let handler = s.handler.clone();
    let reply = tokio::task::spawn_blocking(move || handler(&hook))
        .await
        .expect("the handler does not panic");
    (
        StatusCode::from_u16(reply.status).unwrap(),
        [(axum::http::header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response()
}

pub async fn spawn_app(
    token: &str,
    handler: impl Fn(&Hook) -> Reply + Send + Sync + 'static,
) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hooks = Arc::new(Mutex::new(Vec::new()));
    let state = AppState {
        token: token.to_string(),
        base: base.clone(),
        hooks: hooks.clone(),
        handler: Arc::new(handler),
    };
    let app = axum::Router::new().fallback(serve).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App { base, hooks }
}

pub const LINE: &str = "+15005550006";
pub const ALICE: &str = "+14155550101";
pub const BOB: &str = "+14155550102";

pub async fn emulator() -> Emulator {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Emulator::start(EmulatorConfig {
        account_sid: "AC0123456789abcdef0123456789abcdef".into(),
        auth_token: "secret-token".into(),
        time_scale: 0.02,
    })
    .await
    .unwrap()
}

pub fn rest_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Ends conference `sid` through the REST API (`Status=completed`), as an application hangs
/// everyone up.
pub async fn end_conference(em: &Emulator, sid: &str) {
    let (status, body) = rest_post(
        em,
        &format!("/Conferences/{sid}.json"),
        &[("Status", "completed")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// POSTs a form to the emulator's REST API with the account's credentials.
pub async fn rest_post(
    em: &Emulator,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let resp = rest_client()
        .post(format!(
            "{}/2010-04-01/Accounts/{}{path}",
            em.base_url(),
            em.account_sid()
        ))
        .basic_auth(em.account_sid(), Some(em.auth_token()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

pub async fn rest_get(em: &Emulator, path: &str) -> (u16, serde_json::Value) {
    let resp = rest_client()
        .get(format!(
            "{}/2010-04-01/Accounts/{}{path}",
            em.base_url(),
            em.account_sid()
        ))
        .basic_auth(em.account_sid(), Some(em.auth_token()))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

pub const WAIT: Duration = Duration::from_secs(10);

pub fn call_status(em: &Emulator, sid: &str) -> String {
    em.call(sid).map(|c| c.status).unwrap_or_default()
}

/// `from` calls the line (whose voice URL answers with a `<Dial><Conference>name`) and is in
/// conference `name`. Returns the call's SID.
pub async fn call_into_conference(em: &Emulator, from: &str, name: &str) -> String {
    let sid = em.place_call(from, LINE, None).await.unwrap();
    let joined = em
        .wait_until(WAIT, |em| {
            em.conference(name)
                .is_some_and(|c| c.participants.iter().any(|p| p.call_sid == sid))
        })
        .await;
    assert!(joined, "{from} is in conference {name}");
    sid
}
