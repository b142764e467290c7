//! Limits where the API puts them, through the real client over HTTP: one account out of
//! quota never stalls another account's posts, and costs one request, not one per post.
use futures_util::StreamExt;
use postato::*;
use postato_sim::ScriptAction;

mod common;
use common::*;

fn post_through(account: &str, business_key: &str) -> Post {
    Post::new(business_key, "x", account, PostStatus::Publish, "post", format!("hello from {business_key}"))
}

fn too_many(retry_after: &str, body: Option<serde_json::Value>) -> ScriptAction {
    let headers = [("Retry-After".to_owned(), retry_after.to_owned())].into_iter().collect();
    ScriptAction::Respond { status: 429, headers, body, body_text: None }
}

/// 50 posts over 10 accounts, all at once; `acc_0`'s posts each answer `spent` five times.
async fn campaign_with_one_spent_account(
    sim: &postato_sim::SimulatorHandle,
    spent: ScriptAction,
) -> Vec<(Post, Result<Published, PublishError>)> {
    let client = client(sim);
    let posts: Vec<Post> = (0..50).map(|i| post_through(&format!("acc_{}", i % 10), &key("scoped"))).collect();
    for post in posts.iter().filter(|p| p.account_id == "acc_0") {
        sim.script_business_key(&post.business_key, vec![spent.clone(); 5]);
    }
    let results = futures_util::future::join_all(posts.iter().map(|post| client.publish(post))).await;
    posts.into_iter().zip(results).collect()
}

#[tokio::test]
async fn one_account_out_of_its_daily_quota_never_stalls_the_other_accounts_posts() {
    let sim = sim().await;
    let results = campaign_with_one_spent_account(&sim, too_many("3000", None)).await;
    for (post, result) in &results {
        match post.account_id.as_str() {
            "acc_0" => {
                let error = result.as_ref().unwrap_err();
                assert_eq!(error.kind(), ErrorKind::RateLimited, "{error:?}");
                assert!(error.retry_after().unwrap() >= std::time::Duration::from_secs(2_990), "{error:?}");
            }
            _ => assert!(result.is_ok(), "{} of {} was stalled: {result:?}", post.business_key, post.account_id),
        }
    }
    // The account's first request probed alone and met its quota; its other posts ended on the
    // hold without a request.
    assert_eq!(sim.stats().rate_limited, 1, "the spent account cost one request");
}

#[tokio::test]
async fn a_429_that_names_the_workspace_holds_every_accounts_posts() {
    let sim = sim().await;
    let body = serde_json::json!({"error": {"code": "rate_limited", "message": "workspace quota", "field": null, "scope": "workspace"}});
    let results = campaign_with_one_spent_account(&sim, too_many("3000", Some(body))).await;
    let stalled = results.iter().filter(|(_, r)| matches!(r, Err(e) if e.kind() == ErrorKind::RateLimited)).count();
    assert_eq!(stalled, results.len(), "the workspace's limit holds every account's posts");
}

#[tokio::test]
async fn a_limit_the_simulator_names_as_the_workspaces_paces_every_account_through_the_transport() {
    // `RateLimit-Scope` must survive the transport's filter of a 2xx's headers, or each account
    // would pace itself at the whole workspace's rate.
    let config = postato_sim::SimConfig {
        rate_limit: Some(postato_sim::RateLimitConfig { rate_per_second: 50.0, burst: 5 }),
        ..postato_sim::SimConfig::default()
    };
    let sim = postato_sim::Simulator::start(config).await.unwrap();
    let client = client(&sim);
    client.publish(&post_through("acc_1", &key("paced"))).await.unwrap();
    let workspace = client.limits_snapshot().gate;
    assert!(workspace.pacing_rate.is_some_and(|rate| rate < 50.0), "{workspace:?}");
    let account = client.scope_snapshot(&Scope::new("x", "acc_1")).unwrap();
    assert_eq!(account.pacing_rate, None, "the account paces by nothing of its own");
}

/// The learned rate against a limiter we did not write (governor's GCRA, 100/s with a burst of
/// 10, bare 429s with `Retry-After: 1`): every post published once, and few of the requests
/// refused. The bound is loose (the benchmark harness measures the figures, row 8d): the
/// cookbook's loop has 85 % of its requests refused there, and a client that learned nothing
/// would have most of them refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_learned_rate_holds_against_a_limiter_that_is_not_ours() {
    let server = postato_sim::governed::GovernedServer::start(100, 10).await.unwrap();
    let client = Client::builder()
        .api_key("sk_test_governor")
        .workspace_id("ws_governed")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let posts: Vec<Post> = (0..300).map(|i| post_through("acc_1", &format!("governed-{i}"))).collect();
    let publishes = futures_util::stream::iter(posts.iter().map(|post| client.publish(post)))
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    assert!(publishes.iter().all(Result::is_ok), "{:?}", publishes.iter().find(|r| r.is_err()));
    let counts = server.counts();
    assert_eq!(counts.requests() - counts.refused(), 300, "each post accepted once");
    assert!(counts.share_429() <= 0.25, "{} of {} requests refused", counts.refused(), counts.requests());
}
