//! `denwa demo`: the whole line on one machine, no accounts. The real application (router,
//! signatures, speech pipeline, store) runs against the Twilio emulator in-process, and a web
//! console shows it: a phone, a Slack-like chat (the `console` chat bridge) and the line's state.
//!
//! - [`console`]: the console chat bridge (`ChatBridge` "console");
//! - [`events`]: `GET /demo/events`, the live feed of chat items and emulator events;
//! - [`phone`]: `/demo/phone/...`, the far side of the wire (the emulator's phones);
//! - [`page`]: the console itself.
//!
//! The page sends replies through the public `/api`, like any client. The store is Redis when one
//! answers at the configured URL, otherwise the embedded in-memory store (`denwa-memstore`), which
//! runs the same commands and Lua scripts but keeps nothing once the demo stops.

pub mod console;
pub mod events;
pub mod page;
pub mod phone;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use denwa_chat::ChatBridge;
use denwa_memstore::MemStore;
use denwa_twilio_emulator::{Emulator, EmulatorConfig};
use rand::RngExt as _;
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{RedisSettings, RedisTarget, Settings};
use crate::startup::{Application, StartupError};
use crate::store::Store;
use events::Feed;
use phone::{Behaviour, Phone, Phones};

/// The demo's default line's number, and the made-up people around it (555-01xx numbers are
/// fictional).
const LINE: &str = "+14155550100";
const LINE_NAME: &str = "Support";
/// The demo's second line (`[[lines]]`): its own number, name and responder.
const BILLING: &str = "+14155550109";
const BILLING_NAME: &str = "Billing";
const CALLER: &str = "+14155550142";
/// Responders rung on every call: one who accepts, and one whose voicemail answers (and so must
/// never get in: only pressing 1 accepts).
const RESPONDERS: &[(&str, &str, Behaviour)] = &[
    ("Alice", "+14155550101", Behaviour::Accept),
    ("Bob", "+14155550102", Behaviour::Voicemail),
];
/// Billing's responder: rung only for Billing's calls.
const BILLING_RESPONDERS: &[(&str, &str, Behaviour)] =
    &[("Carol", "+14155550103", Behaviour::Accept)];
/// Seconds before voicemail is offered: long, so the demo does not switch to voicemail while
/// someone is still reading the screen.
const VOICEMAIL_AFTER_SECS: u32 = 300;
/// Where `denwa demo` listens unless told otherwise (then the next free ones).
const DEFAULT_PORTS: std::ops::RangeInclusive<u16> = 8080..=8099;
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Keys of the demo, apart from any real line's that may share a local Redis.
const KEY_PREFIX: &str = "denwa-demo";

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The console's port; `None` = 8080 or the first free port after it; `Some(0)` = any.
    pub port: Option<u16>,
    /// Redis to use if it answers; `None` = [`DEFAULT_REDIS_URL`].
    pub redis_url: Option<String>,
    /// Use the embedded store without looking for Redis.
    pub in_memory: bool,
    /// Real seconds per call-second in the emulator: 1.0 is real time (speech takes as long as
    /// speech); tests use much less.
    pub time_scale: f64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            port: None,
            redis_url: None,
            in_memory: false,
            time_scale: 1.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("the Twilio emulator cannot start: {0}")]
    Emulator(std::io::Error),
    #[error("the in-memory store cannot start: {0}")]
    MemStore(std::io::Error),
    #[error("the demo's settings are invalid (a bug): {0}")]
    Settings(String),
    #[error(transparent)]
    Startup(#[from] StartupError),
}

/// Which store the demo ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Redis,
    InMemory,
}

impl StoreKind {
    fn as_str(self) -> &'static str {
        match self {
            StoreKind::Redis => "redis",
            StoreKind::InMemory => "in-memory",
        }
    }
}

/// What every demo route shares.
#[derive(Clone)]
pub struct DemoState {
    pub emulator: Emulator,
    pub feed: Arc<Feed>,
    pub phones: Arc<Phones>,
    pub api_token: Arc<str>,
    pub line: Arc<str>,
    pub line_name: Arc<str>,
    /// Every line's (number, name), the default first: the phone may call any.
    pub lines: Arc<[(String, String)]>,
    pub caller: Arc<str>,
    pub store: &'static str,
    pub time_scale: f64,
}

/// A running demo. Dropping it does not stop it; [`Demo::stop`] does.
pub struct Demo {
    /// The console: the one URL to open.
    pub url: String,
    /// The `/api` bearer token (made up at start).
    pub api_token: String,
    pub emulator: Emulator,
    pub store: StoreKind,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    /// Kept alive for as long as the demo runs.
    _memstore: Option<MemStore>,
}

impl Demo {
    /// Stops the server (in-flight requests finish) and the emulator's calls.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(5), self.server)
            .await
            .is_err()
        {
            tracing::warn!("the demo server did not stop within 5 s");
        }
        self.emulator.shutdown();
    }
}

/// Starts everything and returns once the console can be opened.
pub async fn start(options: DemoOptions) -> Result<Demo, DemoError> {
    crate::startup::install_crypto_provider();
    let listener = bind(options.port)?;
    let port = listener
        .local_addr()
        .map_err(|source| DemoError::Listen { port: 0, source })?
        .port();
    let base = format!("http://127.0.0.1:{port}");

    let (redis_url, memstore, store) = pick_store(&options).await?;
    let secret = || format!("{:032x}", rand::rng().random::<u128>());
    let auth_token = secret();
    let api_token = [secret(), secret()].concat();
    let emulator = Emulator::start(EmulatorConfig {
        account_sid: format!("AC{}", secret()),
        auth_token: auth_token.clone(),
        time_scale: options.time_scale,
    })
    .await
    .map_err(DemoError::Emulator)?;
    let feed = Feed::new();
    events::pump(emulator.clone(), feed.clone());
    let phones = Arc::new(Phones::new(emulator.clone()));
    for (name, number, behaviour) in RESPONDERS.iter().chain(BILLING_RESPONDERS) {
        phones.set(Phone {
            name: (*name).into(),
            number: (*number).into(),
            behaviour: *behaviour,
            responder: true,
        });
    }

    let file = settings_file(&base, &redis_url, &emulator);
    let env = [
        ("DENWA_TWILIO_AUTH_TOKEN".to_string(), auth_token),
        ("DENWA_API_TOKEN".to_string(), api_token.clone()),
    ];
    let settings = Settings::from_sources(Some(&file), "demo settings", &env)
        .map_err(|e| DemoError::Settings(e.to_string()))?;

    let state = DemoState {
        emulator: emulator.clone(),
        feed: feed.clone(),
        phones,
        api_token: api_token.as_str().into(),
        line: LINE.into(),
        line_name: LINE_NAME.into(),
        lines: [(LINE, LINE_NAME), (BILLING, BILLING_NAME)]
            .map(|(n, name)| (n.to_owned(), name.to_owned()))
            .into(),
        caller: CALLER.into(),
        store: store.as_str(),
        time_scale: options.time_scale,
    };
    let routes = routes(state, port);
    let app = Application::with_extra_bridges(settings, listener, |_line| {
        vec![(
            console::ConsoleBridge::new(feed) as Arc<dyn ChatBridge>,
            routes,
        )]
    })?;
    for number in [LINE, BILLING] {
        emulator.add_number(
            number,
            &format!("{base}/twilio/voice"),
            Some(&format!("{base}/twilio/call-status")),
        );
    }

    let (stop, mut stopped) = watch::channel(false);
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    }));
    Ok(Demo {
        url: format!("{base}/"),
        api_token,
        emulator,
        store,
        stop,
        server,
        _memstore: memstore,
    })
}

/// `denwa demo`: starts, prints the console's URL, runs until Ctrl-C.
pub async fn run(options: DemoOptions) -> ExitCode {
    let demo = match start(options).await {
        Ok(demo) => demo,
        Err(e) => {
            eprintln!("denwa demo cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!();
    println!("  denwa demo is running. Open the console:");
    println!();
    println!("      {}", demo.url);
    println!();
    println!("  Call the line from the phone on the left, reply in the chat. Ctrl-C stops it.");
    println!();
    crate::shutdown::signal().await;
    demo.stop().await;
    ExitCode::SUCCESS
}

/// The port asked for, or 8080, or the first free one after it, or any.
fn bind(port: Option<u16>) -> Result<TcpListener, DemoError> {
    let at = |port: u16| TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    match port {
        Some(port) => at(port).map_err(|source| DemoError::Listen { port, source }),
        None => DEFAULT_PORTS
            .clone()
            .find_map(|p| at(p).ok())
            .map(Ok)
            .unwrap_or_else(|| at(0))
            .map_err(|source| DemoError::Listen { port: 0, source }),
    }
}

/// Redis if it answers at the configured URL, otherwise the embedded store.
async fn pick_store(
    options: &DemoOptions,
) -> Result<(String, Option<MemStore>, StoreKind), DemoError> {
    if !options.in_memory {
        let url = options
            .redis_url
            .clone()
            .unwrap_or_else(|| DEFAULT_REDIS_URL.into());
        if redis_answers(&url).await {
            // The URL may carry a password: not logged.
            tracing::info!(
                key_prefix = KEY_PREFIX,
                "the demo uses Redis at the configured URL"
            );
            return Ok((url, None, StoreKind::Redis));
        }
        tracing::info!("no Redis answers at the configured URL");
    }
    let memstore = MemStore::start().await.map_err(DemoError::MemStore)?;
    tracing::warn!(
        "the demo uses the embedded in-memory store: the same commands and scripts as Redis, but \
         NOT durable (everything is gone when the demo stops)"
    );
    Ok((memstore.url(), Some(memstore), StoreKind::InMemory))
}

async fn redis_answers(url: &str) -> bool {
    let settings = RedisSettings {
        target: RedisTarget::Standalone(SecretString::from(url.to_owned())),
        key_prefix: KEY_PREFIX.into(),
        ca: None,
    };
    let Ok(store) = Store::connect(&settings) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), store.ping()).await,
        Ok(Ok(()))
    )
}

/// The demo's configuration, as a `config.toml` would hold it (values quoted by the TOML writer,
/// so a Redis URL with odd characters stays one string).
fn settings_file(base: &str, redis_url: &str, emulator: &Emulator) -> String {
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let responders = |table: &str, people: &[(&str, &str, Behaviour)]| -> String {
        people
            .iter()
            .map(|(name, phone, _)| {
                format!(
                    "[[{table}.responders]]\nname = {}\nphone = {}\n",
                    q(name),
                    q(phone)
                )
            })
            .collect()
    };
    let support = responders("line", RESPONDERS);
    let billing = responders("lines", BILLING_RESPONDERS);
    let listen = base.trim_start_matches("http://");
    format!(
        "[server]\nlisten = {listen}\npublic_url = {base}\n\
         [redis]\nurl = {redis}\nkey_prefix = {prefix}\n\
         [twilio]\naccount_sid = {sid}\nnumber = {line}\napi_base = {api}\n\
         [line]\nname = {name}\nhold_music_url = \"\"\nvoicemail_after = {VOICEMAIL_AFTER_SECS}\n\
         {support}\
         [transcription]\nenabled = true\n\
         [[lines]]\nid = \"billing\"\nname = {billing_name}\nnumber = {billing_number}\n\
         {billing}",
        listen = q(listen),
        base = q(base),
        redis = q(redis_url),
        prefix = q(KEY_PREFIX),
        sid = q(emulator.account_sid()),
        line = q(LINE),
        api = q(&emulator.base_url()),
        name = q(LINE_NAME),
        billing_name = q(BILLING_NAME),
        billing_number = q(BILLING),
    )
}

/// Every demo route, refusing requests that name another host (see [`page`]'s config).
fn routes(state: DemoState, port: u16) -> Router {
    let hosts: Arc<[String]> = [format!("127.0.0.1:{port}"), format!("localhost:{port}")].into();
    Router::new()
        .merge(page::routes())
        .merge(events::routes())
        .merge(phone::routes())
        .with_state(state)
        .layer(middleware::from_fn_with_state(hosts, local_only))
}

async fn local_only(State(hosts): State<Arc<[String]>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !hosts.iter().any(|h| h == host) {
        return (StatusCode::FORBIDDEN, "the demo answers only at 127.0.0.1").into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_generated_settings_are_valid() {
        let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let file = settings_file("http://127.0.0.1:8080", "redis://127.0.0.1:1", &emulator);
        let env = [
            ("DENWA_TWILIO_AUTH_TOKEN".to_string(), "t".to_string()),
            ("DENWA_API_TOKEN".to_string(), "a".to_string()),
        ];
        let settings = Settings::from_sources(Some(&file), "demo settings", &env).unwrap();
        assert_eq!(settings.line.responders.len(), RESPONDERS.len());
        // Two lines, each with its own people.
        let lines = settings.lines.all();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].number.as_str(), BILLING);
        assert_eq!(lines[1].settings.responders.len(), BILLING_RESPONDERS.len());
        // The console's thread shows what the demo phone says.
        assert!(settings.transcription.enabled);
        assert_eq!(
            settings.line.voicemail_after,
            Some(Duration::from_secs(VOICEMAIL_AFTER_SECS.into()))
        );
        emulator.shutdown();
    }
}
