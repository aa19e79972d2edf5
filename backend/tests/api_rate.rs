//! `/api` has a budget per client address: a burst, then a steady rate;
//! beyond it 429 with `Retry-After` and an `ApiError`, and the budget refills.
//! Over a real socket, as one address (all a loopback test has).

mod common;

use backend::Limits;
use common::*;
use shared::{ApiError, ErrorCode};
use std::time::Duration;

#[tokio::test]
async fn a_flood_from_one_address_is_refused_until_the_budget_refills() {
    let addr = signaling(6).await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("http://{addr}{path}")).send();
    let mut statuses = Vec::new();
    let mut refusal = None;
    for _ in 0..200 {
        let res = get("/api/rooms/x").await.unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == 429 && refusal.is_none() {
            let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            let cache = res.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
            refusal = Some((retry, cache, serde_json::from_str::<ApiError>(&res.text().await.unwrap()).unwrap()));
        }
    }
    let burst = Limits::default().api_rate.burst as usize;
    assert!(statuses[..burst].iter().all(|s| *s == 200), "the burst passes: {statuses:?}");
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 50, "{refused} of 200 refused: {statuses:?}");
    let (retry, cache, error) = refusal.unwrap();
    assert_eq!(retry.as_deref(), Some("1"), "a token comes within a second");
    assert_eq!(cache.as_deref(), Some("no-store"));
    assert_eq!(error.code, ErrorCode::TooManyMessages);
    assert!(error.message.contains("too many requests"), "{}", error.message);

    // One budget for all of /api; the page and health are not part of it.
    assert_eq!(get("/api/ice-servers").await.unwrap().status(), 429);
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/r/x").await.unwrap().status(), 503, "the app (not built here), not 429");

    // Refusals are not debt: a moment later requests pass again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get("/api/rooms/x").await.unwrap().status(), 200);
    assert_eq!(get("/api/ice-servers").await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_budget_is_a_limit_of_its_own() {
    let limits = Limits { api_rate: backend::MessageRate { per_second: 1, burst: 3 }, ..Limits::default() };
    let addr = start_with(config(6), limits).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get(addr, "/api/ice-servers").await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}
