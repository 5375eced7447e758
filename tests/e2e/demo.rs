//! `denwa demo`: the same line on the embedded in-memory store as on Redis, and the web console
//! driven by a real browser (headless Chromium through chromedriver).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use denwa::demo::{DemoOptions, StoreKind};
use denwa_memstore::MemStore;
use denwa_twilio_emulator::PhoneBehaviour;
use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::*;

// ---------------------------------------------------------------- store conformance

/// A representative run of the line's flows: a call in, a spoofed self-dial refused, a burst of
/// messages spoken in order, each once, on one leg, a message with a client reference, hang-up.
async fn line_flows(app: &TestApp) {
    let (sid, call_id) = app.call_in(CALLER).await;
    app.wait_heard(&sid, &[GREETING]).await;

    let spoof = app.emulator.place_call(LINE, LINE, None).await.unwrap();
    app.emulator.press(&spoof, "12345678").await;
    app.wait_for(
        "the spoof to be hung up",
        Duration::from_secs(20),
        || async {
            app.emulator
                .call(&spoof)
                .filter(|c| c.status == "completed")
                .map(|_| ())
        },
    )
    .await;
    assert!(
        app.emulator.transcript(&spoof).is_empty(),
        "the spoof heard nothing"
    );

    let texts: Vec<String> = (1..=5).map(|i| format!("Burst message {i}.")).collect();
    for text in &texts {
        let (status, body) = app.say(&call_id, text).await;
        assert_eq!(status, 202, "{body}");
    }
    let expected: Vec<&str> = texts.iter().map(String::as_str).collect();
    let heard = app.wait_heard(&sid, &expected).await;
    let after_greeting: Vec<&str> = heard.iter().skip(1).map(String::as_str).collect();
    assert_eq!(after_greeting, expected, "in order, each once");
    assert!(
        app.partly_heard(&sid).is_empty(),
        "{:?}",
        app.partly_heard(&sid)
    );
    assert_eq!(app.speaker_legs(), 1, "one leg for the burst");
    app.wait_for("every receipt", Duration::from_secs(10), || async {
        app.messages(&call_id)
            .await
            .iter()
            .all(|m| m["state"] == "spoken")
            .then_some(())
    })
    .await;

    let hangup = app
        .http
        .post(app.api(&format!("/calls/{call_id}/hangup")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(hangup.status(), 202);
    app.wait_for("the call to end", Duration::from_secs(10), || async {
        let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
        (call["state"] == "ended" && call["messages_spoken"] == 5).then_some(())
    })
    .await;
    let (status, _) = app.say(&call_id, "too late").await;
    assert_eq!(status, 409);
    let (_, calls) = app.get_json("/calls").await;
    assert_eq!(calls["calls"], json!([]));
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

/// The on-call flow: responders rung at once; Alice presses 1 and gets in, listen-only; Bob's
/// voicemail box answers but never gets in; the caller hears who joined; the caller hangs up.
async fn oncall_flow(app: &TestApp) {
    const ALICE: &str = "+14155550101";
    const BOB: &str = "+14155550102";
    app.emulator.add_phone(
        ALICE,
        PhoneBehaviour::AnswerAndPress {
            digits: "1".into(),
            after_secs: 8.0,
        },
    );
    app.emulator.add_phone(BOB, PhoneBehaviour::Voicemail);
    let (sid, call_id) = app.call_in(CALLER).await;
    let heard = app.wait_heard(&sid, &["Alice joined the call."]).await;
    assert_eq!(heard, [GREETING, "Alice joined the call."]);
    let leg_to = |phone: &str| {
        app.emulator
            .calls()
            .into_iter()
            .find(|c| c.from == LINE && c.to == phone)
    };
    let alice = leg_to(ALICE).expect("Alice was rung").sid;
    let in_conference = app
        .emulator
        .conferences()
        .into_iter()
        .filter(|c| c.status != "completed")
        .flat_map(|c| c.participants)
        .find(|p| p.call_sid == alice)
        .expect("Alice is in the caller's conference");
    assert!(in_conference.muted, "responders listen");
    app.wait_for("Bob's leg to end", Duration::from_secs(20), || async {
        leg_to(BOB).filter(|c| c.status == "completed").map(|_| ())
    })
    .await;

    app.hang_up(&sid, &call_id).await;
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["joined"], json!(["Alice"]));
    assert_eq!(call["responder_legs"], 2);
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

const RESPONDERS: &str = r#"
[[line.responders]]
name = "Alice"
phone = "+14155550101"
[[line.responders]]
name = "Bob"
phone = "+14155550102"
"#;

const NO_VOICEMAIL: &[(&str, &str)] = &[("DENWA_LINE_VOICEMAIL_AFTER", "0")];

/// A test app on the embedded store. Its private redis-server is stopped: the app cannot be
/// using it, so whatever works here works on the memstore.
async fn on_memstore(extra_file: &str, extra: &[(&str, &str)]) -> (TestApp, MemStore) {
    let memstore = MemStore::start().await.expect("the in-memory store starts");
    let url = memstore.url();
    let mut env = vec![("DENWA_REDIS_URL", url.as_str())];
    env.extend_from_slice(extra);
    let mut app = spawn_app_with_file(extra_file, &env).await;
    app.redis.stop();
    (app, memstore)
}

/// The burst in [`line_flows`] is five API requests one after another; its one speaker leg
/// lingers for the longest the config allows (30 call-seconds, 0.3 s here), so a loaded machine
/// taking a while between two requests does not make it two bursts.
const LINGER_THROUGH_THE_BURST: &[(&str, &str)] = &[("DENWA_SPEECH_LINGER", "30")];

#[tokio::test]
async fn the_line_works_on_redis() {
    line_flows(&spawn_app_with(LINGER_THROUGH_THE_BURST).await).await;
}

#[tokio::test]
async fn the_line_works_the_same_on_the_in_memory_store() {
    let (app, _memstore) = on_memstore("", LINGER_THROUGH_THE_BURST).await;
    line_flows(&app).await;
}

#[tokio::test]
async fn the_on_call_line_works_on_redis() {
    oncall_flow(&spawn_app_with_file(RESPONDERS, NO_VOICEMAIL).await).await;
}

#[tokio::test]
async fn the_on_call_line_works_the_same_on_the_in_memory_store() {
    let (app, _memstore) = on_memstore(RESPONDERS, NO_VOICEMAIL).await;
    oncall_flow(&app).await;
}

// ---------------------------------------------------------------- the console in a browser

/// A chromedriver on a free port, stopped on drop.
struct ChromeDriver {
    url: String,
    child: Child,
}

impl ChromeDriver {
    /// `None` (the test is skipped) when chromedriver is not installed, unless `CI` is set: CI
    /// installs it (`.ci/run`), so there a missing driver is a failure.
    async fn start() -> Option<ChromeDriver> {
        denwa::startup::install_crypto_provider();
        let Some(binary) = on_path("chromedriver") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromedriver is not installed (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "SKIPPED: the browser test needs chromium and chromedriver \
                 (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = ChromeDriver {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = reqwest::get(format!("{}/status", driver.url))
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return Some(driver);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not answer on port {port}");
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Where artifacts go: the target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Runs `script` in the page until it returns something other than `null`/`false`.
async fn wait_js(client: &fantoccini::Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = client
            .execute(script, vec![])
            .await
            .expect("the script runs");
        if !(value.is_null() || value == json!(false)) {
            return value;
        }
        if Instant::now() > deadline {
            let page = client
                .execute("return document.body.innerText", vec![])
                .await
                .unwrap_or_default();
            panic!(
                "timed out waiting for {what}; the page shows:\n{}",
                page.as_str().unwrap_or("")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn type_reply(client: &fantoccini::Client, text: &str) {
    let input = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#reply-text:not([disabled])"))
        .await
        .expect("the reply box is enabled");
    input.send_keys(text).await.unwrap();
    client
        .find(Locator::Css("#reply-send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_console_calls_replies_and_hangs_up_in_a_browser() {
    let Some(driver) = ChromeDriver::start().await else {
        return;
    };
    let demo = denwa::demo::start(DemoOptions {
        port: Some(0),
        in_memory: true,
        time_scale: 0.05,
        ..DemoOptions::default()
    })
    .await
    .expect("the demo starts");
    assert_eq!(demo.store, StoreKind::InMemory);

    let profile = std::env::temp_dir().join(format!(
        "denwa-demo-chromium-{}-{}",
        std::process::id(),
        demo.url
            .rsplit(':')
            .next()
            .unwrap_or("")
            .trim_end_matches('/')
    ));
    let mut args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1440,900".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    args.push("--lang=en-US".into());
    let mut chrome = json!({ "args": args });
    if let Some(binary) = on_path("chromium").or_else(|| on_path("chromium-browser")) {
        chrome["binary"] = json!(binary);
    }
    let caps = json!({ "browserName": "chrome", "goog:chromeOptions": chrome });
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&driver.url)
        .await
        .expect("chromedriver opens a headless Chromium");

    client.goto(&demo.url).await.unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#dial:not([disabled])"))
        .await
        .expect("the console loads")
        .click()
        .await
        .unwrap();
    wait_js(
        &client,
        "the call's announcement in the chat",
        "return document.querySelector('#channel .call-msg .announce') !== null",
    )
    .await;

    let replies = ["Hello from the console.", "Your ticket number is 42."];
    type_reply(&client, replies[0]).await;
    wait_js(
        &client,
        "the first reply to be queued",
        "return document.querySelector('.reply[data-state=queued], .reply[data-state=speaking], .reply[data-state=spoken]') !== null",
    )
    .await;
    type_reply(&client, replies[1]).await;

    // Both spoken, with their receipts in the chat...
    let receipts = wait_js(
        &client,
        "both receipts",
        "const r = [...document.querySelectorAll('.reply')];
         return r.length === 2 && r.every(e => e.dataset.state === 'spoken')
           ? r.map(e => e.querySelector('.receipt').textContent) : null",
    )
    .await;
    assert_eq!(receipts, json!(["✓ spoken", "✓ spoken"]));
    // ...and heard by the caller, whole and in order.
    let heard = wait_js(
        &client,
        "the replies in the phone's transcript",
        "return [...document.querySelectorAll('#transcript li.say:not(.partial)')].map(e => e.textContent)",
    )
    .await;
    let heard: Vec<String> = serde_json::from_value(heard).unwrap();
    let at = |text: &str| {
        heard
            .iter()
            .position(|h| h == text)
            .unwrap_or_else(|| panic!("{text:?} is not in the transcript {heard:?}"))
    };
    assert!(at(replies[0]) < at(replies[1]), "in order: {heard:?}");
    assert_eq!(
        heard
            .iter()
            .filter(|h| replies.contains(&h.as_str()))
            .count(),
        2,
        "each once: {heard:?}"
    );

    // The line's state agrees (GET /api/calls/{id}/messages, as the page shows it).
    wait_js(
        &client,
        "the queue panel to show both replies spoken",
        "const rows = [...document.querySelectorAll('#queue tr')].map(r => [...r.cells].map(c => c.textContent));
         return rows.filter(r => r[1] === 'api' && r[2] === 'spoken').length === 2",
    )
    .await;

    // The demo has live transcription on: what the phone says shows in the call's thread, as
    // the caller's chat message, its text never taken for HTML.
    let said = "<b>My server is down</b>, can anyone help?";
    let speak = client.find(Locator::Css("#speak-text")).await.unwrap();
    speak.send_keys(said).await.unwrap();
    client
        .find(Locator::Css("#speak-send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let shown = wait_js(
        &client,
        "the caller's words in the thread",
        "const e = document.querySelector('.thread .caller-said');
         return e && [e.querySelector('.author').firstChild.textContent,
                      e.querySelector('.text').textContent,
                      e.querySelector('b') === null]",
    )
    .await;
    assert_eq!(shown, json!(["Caller", said, true]));

    let screenshot = client.screenshot().await.unwrap();
    std::fs::create_dir_all(target_dir()).unwrap();
    let path = target_dir().join("demo-console.png");
    std::fs::write(&path, &screenshot).unwrap();
    eprintln!("screenshot: {}", path.display());
    if std::env::var_os("DENWA_UPDATE_SCREENSHOT").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("console.png"), &screenshot).unwrap();
    }

    client
        .find(Locator::Css("#hangup"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let ended = wait_js(
        &client,
        "the call's end in the chat",
        "const e = document.querySelector('.thread .event.ended'); return e && e.textContent",
    )
    .await;
    assert!(ended.as_str().unwrap().contains("ended"), "{ended}");
    wait_js(
        &client,
        "the announcement to show the call ended",
        "return document.querySelector('.call-msg .state-pill.ended') !== null",
    )
    .await;
    // The line handles its events concurrently, and the page polls the active calls, so the
    // news that the caller was connected can reach the page after the end, either way: the end
    // stays.
    let pill = client
        .execute(
            "const call = [...state.calls.values()][0];
             onChat({type: 'call_updated', call: {...call.summary, state: 'connected'}});
             showActiveCalls({calls: [{...call.summary, state: 'connected'}]});
             return document.querySelector('.call-msg .state-pill').className",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        pill,
        json!("state-pill ended"),
        "a late update undid the end"
    );
    let ended_shot = client.screenshot().await.unwrap();
    std::fs::write(target_dir().join("demo-console-ended.png"), ended_shot).unwrap();

    // The demo has two lines: the phone calls the second, Billing, and its call is announced as
    // Billing's (its own number, its own responder).
    client
        .find(Locator::Css("#to"))
        .await
        .expect("the phone lists the lines")
        .select_by_value("+14155550109")
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#dial:not([disabled])"))
        .await
        .expect("the phone can call again")
        .click()
        .await
        .unwrap();
    wait_js(
        &client,
        "Billing's call announced",
        "return [...document.querySelectorAll('#channel .call-msg .announce')]
           .some(e => e.textContent.includes(' on Billing'))",
    )
    .await;

    assert!(
        demo.emulator.errors().is_empty(),
        "{:?}",
        demo.emulator.errors()
    );
    client.close().await.unwrap();
    demo.stop().await;
    let _ = std::fs::remove_dir_all(profile);
}
