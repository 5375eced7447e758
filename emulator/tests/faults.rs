//! Fault injection on the REST API: Twilio answering 429, 500 or 503, or not answering at all,
//! for some requests, as its error pages describe.

mod support;

use std::time::Duration;

use denwa_twilio_emulator::{FaultPlan, RestFault};
use support::*;

/// Places a call from the line to Alice through the REST API.
async fn place(em: &denwa_twilio_emulator::Emulator) -> (u16, serde_json::Value) {
    rest_post(
        em,
        "/Calls.json",
        &[
            ("To", ALICE),
            ("From", LINE),
            ("Twiml", "<Response><Hangup/></Response>"),
        ],
    )
    .await
}

/// The same request with `client`, answer unread.
async fn place_with(
    client: &reqwest::Client,
    em: &denwa_twilio_emulator::Emulator,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            em.base_url(),
            em.account_sid()
        ))
        .basic_auth(em.account_sid(), Some(em.auth_token()))
        .form(&[("To", ALICE), ("From", LINE), ("Twiml", "<Response/>")])
        .send()
        .await
}

#[tokio::test]
async fn unavailable_for_the_next_calls_json_posts_places_nothing_then_recovers() {
    let em = emulator().await;
    em.add_number(LINE, "http://127.0.0.1:9/voice", None);
    em.fail_rest(
        FaultPlan::new(RestFault::Unavailable)
            .method("POST")
            .path("/Calls.json")
            .times(2),
    );
    for _ in 0..2 {
        let (status, body) = place(&em).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["code"], 20503, "{body}");
        assert_eq!(body["status"], 503, "{body}");
        assert_eq!(
            body["more_info"], "https://www.twilio.com/docs/errors/20503",
            "{body}"
        );
    }
    // Other requests are untouched meanwhile, and nothing was placed.
    let (status, list) = rest_get(&em, "/Calls.json").await;
    assert_eq!(status, 200);
    assert_eq!(list["calls"].as_array().unwrap().len(), 0, "{list}");
    // The plan is spent: Twilio is back.
    let (status, body) = place(&em).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(em.calls().len(), 1);
    let statuses: Vec<u16> = em
        .rest_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 503, 201]);
}

#[tokio::test]
async fn too_many_requests_carries_retry_after_and_does_nothing() {
    let em = emulator().await;
    em.add_number(LINE, "http://127.0.0.1:9/voice", None);
    em.fail_rest(FaultPlan::new(RestFault::TooManyRequests {
        retry_after: Some(3),
    }));
    let response = place_with(&rest_client(), &em).await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 20429, "{body}");
    assert!(em.calls().is_empty());
    em.clear_rest_faults();
    assert_eq!(place(&em).await.0, 201);
}

#[tokio::test]
async fn an_internal_error_after_acting_placed_the_call_all_the_same() {
    let em = emulator().await;
    em.add_number(LINE, "http://127.0.0.1:9/voice", None);
    em.fail_rest(FaultPlan::new(RestFault::InternalError).times(1));
    let (status, body) = place(&em).await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (500, Some(20500)),
        "{body}"
    );
    assert!(em.calls().is_empty(), "a plain 500 does nothing");

    em.fail_rest(FaultPlan::new(RestFault::InternalErrorAfterActing).times(1));
    let (status, body) = place(&em).await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (500, Some(20500)),
        "{body}"
    );
    assert_eq!(em.calls().len(), 1, "the ambiguous 500 placed the call");
}

#[tokio::test]
async fn no_answer_holds_the_request_until_the_client_gives_up() {
    let em = emulator().await;
    em.add_number(LINE, "http://127.0.0.1:9/voice", None);
    em.fail_rest(FaultPlan::new(RestFault::NoAnswer).path("/Calls.json"));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = place_with(&client, &em).await.expect_err("no answer comes");
    assert!(error.is_timeout(), "{error}");
    assert!(em.calls().is_empty());
    let log = em.rest_requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, 0, "logged as never answered");
    // Paths the plan does not name are answered.
    assert_eq!(rest_get(&em, "/Conferences.json").await.0, 200);
}

#[tokio::test]
async fn a_share_of_the_requests_fails_evenly() {
    let em = emulator().await;
    em.add_number(LINE, "http://127.0.0.1:9/voice", None);
    em.fail_rest(FaultPlan::new(RestFault::Unavailable).share(0.5));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(place(&em).await.0);
    }
    assert_eq!(statuses, [201, 503, 201, 503]);
    assert_eq!(em.calls().len(), 2);
}
