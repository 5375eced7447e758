//! The announce strategy against Twilio's rules: announcements only into a conference that has
//! started, and announcement events that name no announcement.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use denwa_twilio_emulator::{FaultPlan, RestFault};

use crate::helpers::*;
use crate::oncall::{ALICE, ALICE_ONLY, accepts};
use crate::script_keys::KeyAudit;

type Params = Vec<(String, String)>;

/// Twilio's conference events without `AnnounceUrl` (see
/// [`announcements_settle_without_an_announce_url_in_their_events`]).
pub(crate) fn without_announce_url(path: &str, params: Params) -> Option<Params> {
    if path != "/twilio/conference" {
        return Some(params);
    }
    Some(
        params
            .into_iter()
            .filter(|(k, _)| k != "AnnounceUrl")
            .collect(),
    )
}

/// A caller waiting alone is in a conference that has not started, and Twilio takes no
/// announcement into it: a speaker leg says the first messages, and once its join has started
/// the conference, announcements say the rest.
#[tokio::test]
async fn the_announce_strategy_reaches_a_caller_alone_in_a_conference_not_yet_started() {
    let app = spawn_app_with(&[("DENWA_SPEECH_STRATEGY", "announce")]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    app.say(&call_id, "Hello, we are here.").await;
    app.wait_heard(&sid, &["Hello, we are here."]).await;
    app.wait_for(
        "the speaker leg to hang up",
        Duration::from_secs(10),
        || async { app.speaker_legs_ended().then_some(()) },
    )
    .await;
    let legs = app.speaker_legs();
    app.say(&call_id, "One more thing.").await;
    let heard = app.wait_heard(&sid, &["One more thing."]).await;
    assert_eq!(
        heard,
        vec![GREETING, "Hello, we are here.", "One more thing."]
    );
    assert_eq!(
        app.speaker_legs(),
        legs,
        "the conference has started: announced"
    );
    assert!(
        app.emulator.errors().is_empty(),
        "no announcement was refused: {:?}",
        app.emulator.errors()
    );
}

/// A call with the announce strategy, behind a proxy rewriting Twilio's webhooks with
/// `rewrite`, whose conference Alice has joined (so it has started): (caller's leg, call id).
async fn announced_call_with_alice(rewrite: Rewrite) -> (TestApp, String, String) {
    call_with_alice("announce", rewrite).await
}

/// Like [`announced_call_with_alice`], with speech strategy `strategy`.
async fn call_with_alice(strategy: &str, rewrite: Rewrite) -> (TestApp, String, String) {
    let app = spawn_app_rewriting(
        rewrite,
        ALICE_ONLY,
        &[
            ("DENWA_SPEECH_STRATEGY", strategy),
            ("DENWA_LINE_VOICEMAIL_AFTER", "0"),
        ],
    )
    .await;
    app.emulator.add_phone(ALICE, accepts());
    let (sid, call_id) = app.call_in(CALLER).await;
    app.wait_heard(&sid, &["Alice joined the call."]).await;
    (app, sid, call_id)
}

/// Twilio's webhooks as the emulator sends them.
fn as_sent(_path: &str, params: Params) -> Option<Params> {
    Some(params)
}

/// Once the caller's conference has started (here: Alice joined it), announcements need no
/// call leg.
#[tokio::test]
async fn the_announce_strategy_speaks_without_an_extra_leg() {
    let (app, sid, call_id) = announced_call_with_alice(as_sent).await;
    let audit = KeyAudit::attach(&app.redis).await;
    for text in ["One.", "Two.", "Three."] {
        let (status, _) = app.say(&call_id, text).await;
        assert_eq!(status, 202);
    }
    let heard = app.wait_heard(&sid, &["One.", "Two.", "Three."]).await;
    assert_eq!(
        heard,
        vec![GREETING, "Alice joined the call.", "One.", "Two.", "Three."]
    );
    assert_eq!(app.speaker_legs(), 0, "announcements cost no call leg");
    app.wait_all_spoken(&call_id).await;
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
    audit.assert_no_strays(20).await;
}

/// Twilio's announcement events need not say which announcement ended (`AnnounceUrl`):
/// without it, every turn still settles at once, each message heard once, in order.
#[tokio::test]
async fn announcements_settle_without_an_announce_url_in_their_events() {
    let (app, sid, call_id) = announced_call_with_alice(without_announce_url).await;
    let texts = ["First.", "Second.", "Third."];
    for text in texts {
        app.say(&call_id, text).await;
        // One at a time: each its own announcement, settled before the next is asked for.
        app.wait_heard(&sid, &[text]).await;
    }
    app.wait_all_spoken(&call_id).await;
    let heard = app.heard(&sid);
    assert_eq!(
        heard,
        vec![
            GREETING,
            "Alice joined the call.",
            "First.",
            "Second.",
            "Third."
        ]
    );
    assert_eq!(app.speaker_legs(), 0);
}

/// Twilio reports an announcement whose document it could not fetch as ended all the same: its
/// message was not heard, so it is announced again, not counted spoken.
#[tokio::test]
async fn an_announcement_twilio_could_not_fetch_is_said_again() {
    // Set once Alice's join has been announced: the next announcement's fetch fails, once.
    static ARMED: AtomicBool = AtomicBool::new(false);
    fn fail_one_announcement(path: &str, params: Params) -> Option<Params> {
        let announcement = path.starts_with("/twilio/speak") && path.contains("mode=announce");
        if announcement && ARMED.swap(false, Ordering::SeqCst) {
            return None;
        }
        Some(params)
    }
    let (app, sid, call_id) = announced_call_with_alice(fail_one_announcement).await;
    ARMED.store(true, Ordering::SeqCst);
    app.say(&call_id, "Your order ships today.").await;
    app.wait_heard(&sid, &["Your order ships today."]).await;
    assert!(!ARMED.load(Ordering::SeqCst), "a fetch failed");
    app.wait_all_spoken(&call_id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.heard(&sid),
        vec![
            GREETING,
            "Alice joined the call.",
            "Your order ships today."
        ],
        "said once, after the announcement that failed"
    );
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["messages_spoken"], 2, "{call}");
}

/// `speech.strategy = "auto"`: announcements while Twilio takes them; once Twilio refuses one
/// (a REST error), the call speaks through a self-dialled leg, the refused batch first, every
/// message heard once, in order.
#[tokio::test]
async fn the_auto_strategy_self_dials_once_twilio_refuses_an_announcement() {
    let (app, sid, call_id) = call_with_alice("auto", as_sent).await;
    app.say(&call_id, "Announced.").await;
    app.wait_heard(&sid, &["Announced."]).await;
    assert_eq!(
        app.speaker_legs(),
        0,
        "announced while Twilio takes announcements"
    );
    app.wait_all_spoken(&call_id).await;

    let conference = app
        .emulator
        .conferences()
        .into_iter()
        .next()
        .expect("the caller's conference");
    // Every announcement from now on is refused (a 500 on the conference's update: not repeated,
    // as Twilio may have acted on it).
    app.emulator.fail_rest(
        FaultPlan::new(RestFault::InternalError)
            .method("POST")
            .path(&format!("/Conferences/{}.json", conference.sid)),
    );
    let texts = ["First.", "Second.", "Third."];
    for text in texts {
        let (status, _) = app.say(&call_id, text).await;
        assert_eq!(status, 202);
    }
    app.wait_heard(&sid, &texts).await;
    let messages = app.wait_all_spoken(&call_id).await;
    assert_eq!(messages.len(), 5, "Alice's join, and the four sent");
    assert_eq!(
        app.heard(&sid),
        vec![
            GREETING,
            "Alice joined the call.",
            "Announced.",
            "First.",
            "Second.",
            "Third."
        ],
        "each message once, in order"
    );
    assert!(app.speaker_legs() >= 1, "a speaker leg said the rest");
    let refused = app
        .emulator
        .rest_requests()
        .iter()
        .filter(|r| r.status == 500)
        .count();
    assert_eq!(
        refused, 1,
        "after one refusal the call no longer asks for announcements"
    );
}
