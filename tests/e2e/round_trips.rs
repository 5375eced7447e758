//! Issue 14's store targets, counted by the clock over a link to Redis that takes a fixed delay
//! per answer ([`SlowLink`]): an incoming call costs one round trip of latency, and so does a
//! speaker's turn; a chat reply reaches Twilio (the speaker leg's dial) after two, from Slack's
//! thread or Discord's `/say` in a thread.

use std::time::{Duration, Instant, SystemTime};

use crate::helpers::*;
use crate::redis_cluster::cli;
use crate::redis_server::RedisServer;
use crate::slow_link::SlowLink;
use denwa_twilio_emulator::Emulator;

/// Far above what the app itself takes to answer, so elapsed time / DELAY counts round trips.
const DELAY: Duration = Duration::from_millis(250);

/// A far side whose Redis the app is to reach through a [`SlowLink`] (`DENWA_REDIS_URL`: the
/// link's URL).
async fn far_side_behind_slow_link() -> ((RedisServer, Emulator), SlowLink) {
    let redis = RedisServer::start().await;
    let link = SlowLink::start(redis.port, DELAY).await;
    (far_side_with(redis, TIME_SCALE).await, link)
}

async fn app_behind_slow_link(extra: &[(&str, &str)]) -> (TestApp, SlowLink) {
    let (far, link) = far_side_behind_slow_link().await;
    let url = link.url();
    let mut env = vec![("DENWA_REDIS_URL", url.as_str())];
    env.extend_from_slice(extra);
    (spawn_app_on(far, "", &env).await, link)
}

#[tokio::test]
async fn an_incoming_call_costs_one_round_trip_of_latency() {
    let (app, _link) = app_behind_slow_link(&[]).await;
    // The first call also loads the script into this Redis (NOSCRIPT, SCRIPT LOAD, again).
    app.call_in(CALLER).await;

    let app = &app;
    let voice = |sid: &'static str| async move {
        let started = Instant::now();
        let response = app
            .post_signed(
                "/twilio/voice",
                &[
                    ("CallSid", sid),
                    ("AccountSid", ACCOUNT_SID),
                    ("From", "+14155550199"),
                    ("To", LINE),
                ],
                AUTH_TOKEN,
            )
            .await;
        let elapsed = started.elapsed();
        let body = response.text().await.unwrap();
        assert!(body.contains("<Conference"), "{body}");
        elapsed
    };
    let first = voice("CA00000000000000000000000000000001").await;
    // Twilio asking again about the same call: answered from the same one step.
    let again = voice("CA00000000000000000000000000000001").await;
    for elapsed in [first, again] {
        assert!(elapsed >= DELAY, "{elapsed:?}: the store was not asked?");
        assert!(
            elapsed < 2 * DELAY,
            "{elapsed:?}: more than one round trip to Redis ({DELAY:?} each)"
        );
    }
}

#[tokio::test]
async fn a_speaker_turn_costs_one_round_trip() {
    // A leg that lingers takes a turn every emulated second (10 ms here), 30 of them: over the
    // slow link, for several seconds.
    let (app, _link) = app_behind_slow_link(&[("DENWA_SPEECH_LINGER", "30")]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    app.say(&call_id, "Hello.").await;
    app.wait_heard(&sid, &["Hello."]).await;

    let key = format!("denwa:call:{{{call_id}}}");
    let turn = || -> u64 {
        cli(app.redis.port, &["HGET", &key, "speaker_turn"])
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let window = Duration::from_secs(3);
    let before = turn();
    assert!(before > 0, "the leg is speaking");
    tokio::time::sleep(window).await;
    let turns = turn() - before;
    // One round trip a turn allows window / DELAY = 12 turns, less the app's and the
    // emulator's own time; two would allow at most 6.
    let at_most_two = (window.as_millis() / (2 * DELAY.as_millis())) as u64;
    assert!(
        turns > at_most_two,
        "{turns} turns in {window:?}: more than one round trip ({DELAY:?}) a turn"
    );
}

/// When the line asked Twilio (the emulator) to dial a speaker leg for `call_id`, at or after
/// `since`.
fn speaker_dial(app: &TestApp, call_id: &str, since: SystemTime) -> Option<SystemTime> {
    let for_call = format!("call={call_id}");
    app.emulator.rest_requests().into_iter().find_map(|r| {
        let dial = r.method == "POST"
            && r.path.ends_with("/Calls.json")
            && r.at >= since
            && r.params
                .iter()
                .any(|(k, v)| k == "Url" && v.contains("/twilio/speak") && v.contains(&for_call));
        dial.then_some(r.at)
    })
}

/// Waits for the speaker dial for `call_id` at or after `since`: when it came.
async fn wait_speaker_dial(app: &TestApp, call_id: &str, since: SystemTime) -> SystemTime {
    app.wait_for("the speaker's dial", Duration::from_secs(20), || {
        let dialled = speaker_dial(app, call_id, since);
        async move { dialled }
    })
    .await
}

/// How long a chat reply (on a call to the default line, on a deployment with `extra_file`)
/// takes to reach Twilio's dial of its speaker, once the reply path's scripts are loaded.
async fn reply_to_dial(extra_file: &str) -> Duration {
    let (far, link) = far_side_behind_slow_link().await;
    let url = link.url();
    let t = crate::slack::spawn_on_far_side(far, extra_file, &[("DENWA_REDIS_URL", url.as_str())])
        .await;
    let (_, warm_call, warm_thread) = t.call_in(CALLER).await;
    let (_, call_id, thread) = t.call_in("+14155550199").await;
    // A first reply loads the reply path's scripts into this Redis (NOSCRIPT, SCRIPT LOAD,
    // again), which a running line has long done.
    let since = SystemTime::now();
    t.reply_as_alice(&warm_thread, "Warming up.").await;
    wait_speaker_dial(&t.app, &warm_call, since).await;

    let sent = SystemTime::now();
    t.reply_as_alice(&thread, "We are on it.").await;
    let dialled = wait_speaker_dial(&t.app, &call_id, sent).await;
    dialled.duration_since(sent).unwrap()
}

/// A chat message that took `took` to reach its speaker's dial took two round trips to Redis.
fn assert_two_round_trips(took: Duration) {
    assert!(took >= 2 * DELAY, "{took:?}: fewer than two round trips?");
    assert!(
        took < 3 * DELAY,
        "{took:?}: more than two round trips to Redis ({DELAY:?} each) before the dial"
    );
}

#[tokio::test]
async fn a_chat_reply_reaches_twilio_after_two_round_trips() {
    // Delivery dedup and the thread's call together; then the message, the speaker's lease
    // and its code together; then the dial.
    assert_two_round_trips(reply_to_dial("").await);
}

#[tokio::test]
async fn a_discord_say_in_a_thread_reaches_twilio_after_two_round_trips() {
    use crate::discord::say;
    let (far, link) = far_side_behind_slow_link().await;
    let url = link.url();
    let d = crate::discord::spawn_discord_on(far, "", &[("DENWA_REDIS_URL", url.as_str())]).await;
    let (_, warm_call) = d.app.call_in(CALLER).await;
    let (_, call_id) = d.app.call_in("+14155550199").await;
    let (warm_thread, _) = d.announcement(&warm_call).await;
    d.embed_state(&warm_thread, "connected").await;
    let (thread, _) = d.announcement(&call_id).await;
    d.embed_state(&thread, "connected").await;
    // A first say loads the path's scripts into this Redis, which a running line has long done.
    let since = SystemTime::now();
    let (status, _) = d.interact(&say("Warming up.", None, &warm_thread)).await;
    assert_eq!(status, 200);
    wait_speaker_dial(&d.app, &warm_call, since).await;

    // The replay check and the thread's call together; then the message, the speaker's lease
    // and its code together; then the dial.
    let sent = SystemTime::now();
    let (status, reply) = d.interact(&say("We are on it.", None, &thread)).await;
    assert_eq!(status, 200, "{reply}");
    let dialled = wait_speaker_dial(&d.app, &call_id, sent).await;
    assert_two_round_trips(dialled.duration_since(sent).unwrap());
}

/// With lines that speak in different ways, the message's line (and so how it is spoken) is
/// known only once it is stored: the speaker's lease and code follow, one round trip later.
#[tokio::test]
async fn with_lines_speaking_in_different_ways_a_chat_reply_reaches_twilio_after_three() {
    let announcing = "[[lines]]\nid = \"loud\"\nnumber = \"+15005550007\"\n\
[lines.speech]\nstrategy = \"announce\"\n";
    let took = reply_to_dial(announcing).await;
    assert!(took >= 3 * DELAY, "{took:?}: fewer than three round trips?");
    assert!(
        took < 4 * DELAY,
        "{took:?}: more than three round trips to Redis ({DELAY:?} each) before the dial"
    );
}
