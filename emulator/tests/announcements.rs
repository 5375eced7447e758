//! Conference announcements: only into a conference that has started; reported with the
//! documented parameters; `announcement-end` also when the document could not be played.

mod support;

use denwa_twilio_emulator::Emulator;
use support::*;

const ROOM: &str = r#"<Response><Dial><Conference beep="false" statusCallback="/conf" statusCallbackEvent="start end join leave announcement">room</Conference></Dial></Response>"#;

/// The application: the line's calls go into conference `room`; `/announce` answers
/// `announcement()`.
async fn app(em: &Emulator, announcement: fn() -> Reply) -> App {
    spawn_app(em.auth_token(), move |h| match h.path.as_str() {
        "/voice" => twiml(ROOM),
        "/announce" => announcement(),
        _ => empty(),
    })
    .await
}

fn hello() -> Reply {
    twiml("<Response><Say>Hello</Say></Response>")
}

/// Alice calls in and waits alone in the conference (it has not started); with `bob`, Bob
/// joins her and the conference starts. Returns the conference SID.
async fn room(em: &Emulator, app: &App, bob: bool) -> String {
    em.add_number(LINE, &app.url("/voice"), None);
    call_into_conference(em, ALICE, "room").await;
    if bob {
        call_into_conference(em, BOB, "room").await;
    }
    em.conference("room").unwrap().sid
}

/// Asks for an announcement of `url` into conference `conf`: the REST status and body.
async fn announce(em: &Emulator, conf: &str, url: &str) -> (u16, serde_json::Value) {
    rest_post(
        em,
        &format!("/Conferences/{conf}.json"),
        &[("AnnounceUrl", url)],
    )
    .await
}

fn events(app: &App, name: &str) -> Vec<Hook> {
    app.hooks_to("/conf")
        .into_iter()
        .filter(|h| h.get("StatusCallbackEvent") == Some(name))
        .collect()
}

async fn wait_for_event(em: &Emulator, app: &App, name: &str) -> Hook {
    assert!(
        em.wait_until(WAIT, |_| !events(app, name).is_empty()).await,
        "no {name}"
    );
    events(app, name).remove(0)
}

#[tokio::test]
async fn an_announcement_into_a_conference_that_has_not_started_is_refused_with_16099() {
    let em = emulator().await;
    let app = app(&em, hello).await;
    let conf = room(&em, &app, false).await;
    assert_eq!(em.conference("room").unwrap().status, "init");
    let url = app.url("/announce");
    let (status, body) = announce(&em, &conf, &url).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 16099);
    let alice = em.conference("room").unwrap().participants[0]
        .call_sid
        .clone();
    let (status, body) = rest_post(
        &em,
        &format!("/Conferences/{conf}/Participants/{alice}.json"),
        &[("AnnounceUrl", &url)],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 16099);
    assert!(app.hooks_to("/announce").is_empty(), "nothing was fetched");

    // Once Bob is in, the conference has started and takes the announcement.
    em.place_call(BOB, LINE, None).await.unwrap();
    assert!(
        em.wait_until(WAIT, |em| em.conference("room").unwrap().status
            == "in-progress")
            .await
    );
    let (status, body) = announce(&em, &conf, &url).await;
    assert_eq!(status, 200, "{body}");
    wait_for_event(&em, &app, "announcement-end").await;
    assert!(em.heard_texts(&alice).contains(&"Hello".to_string()));
}

#[tokio::test]
async fn announcement_events_carry_the_documented_parameters() {
    let em = emulator().await;
    let app = app(&em, hello).await;
    let conf = room(&em, &app, true).await;
    let url = app.url("/announce?turn=3");
    let (status, _) = announce(&em, &conf, &url).await;
    assert_eq!(status, 200);
    let end = wait_for_event(&em, &app, "announcement-end").await;
    let mut names: Vec<&str> = end.params.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "AccountSid",
            "AnnounceUrl",
            "ConferenceSid",
            "FriendlyName",
            "SequenceNumber",
            "StatusCallbackEvent",
            "Timestamp"
        ],
        "a conference (not participant) announcement: no participant parameters"
    );
    assert_eq!(end.get("AnnounceUrl"), Some(url.as_str()));
    assert_eq!(end.get("ConferenceSid"), Some(conf.as_str()));
}

#[tokio::test]
async fn an_announcement_that_cannot_be_fetched_is_reported_ended_not_failed() {
    let em = emulator().await;
    let app = app(&em, || Reply {
        status: 500,
        content_type: "text/plain",
        body: "oops".into(),
    })
    .await;
    let conf = room(&em, &app, true).await;
    let url = app.url("/announce");
    let (status, _) = announce(&em, &conf, &url).await;
    assert_eq!(
        status, 200,
        "Twilio takes the request; the fetch comes later"
    );
    wait_for_event(&em, &app, "announcement-end").await;
    assert!(
        events(&app, "announcement-fail").is_empty(),
        "announcement-fail is for Twilio's internal errors only"
    );
    assert!(
        em.errors()
            .iter()
            .any(|e| e.code == 11200 && e.url.as_deref() == Some(url.as_str())),
        "{:?}",
        em.errors()
    );
    for p in em.conference("room").unwrap().participants {
        assert!(em.heard_texts(&p.call_sid).is_empty(), "nothing was heard");
    }
}
