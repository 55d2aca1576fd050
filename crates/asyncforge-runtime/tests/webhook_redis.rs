//! The Redis idempotency store against the Redis on 127.0.0.1:6379 (skipped, with a notice,
//! when none answers): claim/complete/release semantics, and two receiver instances sharing
//! one store handle a webhook sent to both exactly once.

mod http_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use asyncforge_runtime::Reject;
use asyncforge_runtime::http::idempotency::{Claim, IdempotencyStore};
use asyncforge_runtime::http::receiver::{Receiver, ReceiverConfig, Webhook};
use asyncforge_runtime::http::redis_store::RedisStore;
use asyncforge_runtime::http::signature::{Scheme, Signer, generate_secret, unix_now};
use axum::Router;
use http_common::{OrderPlaced, serve};

const URL: &str = "redis://127.0.0.1:6379/";

async fn connect(prefix: &str) -> Option<RedisStore> {
    let reachable = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect("127.0.0.1:6379"),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if !reachable {
        return asyncforge_testkit::skip_none(
            "a Redis server on 127.0.0.1:6379",
            "apt-get install redis-server, or cargo xtask peers",
        );
    }
    match tokio::time::timeout(Duration::from_secs(3), RedisStore::connect(URL, prefix)).await {
        Ok(Ok(s)) => Some(s),
        other => asyncforge_testkit::skip_none(
            &format!("a Redis server answering on 127.0.0.1:6379 ({other:?})"),
            "cargo xtask peers",
        ),
    }
}

fn prefix() -> String {
    format!("asyncforge-test:{}:", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn claim_complete_release_and_expiry() {
    let Some(store) = connect(&prefix()).await else {
        return;
    };
    let lease = Duration::from_secs(5);
    let Claim::Claimed(t1) = store.claim("a", lease).await.expect("claim") else {
        panic!("first claim must succeed")
    };
    assert_eq!(
        store.claim("a", lease).await.expect("claim"),
        Claim::InProgress
    );
    store.release("a", "someone-else").await.expect("release");
    assert_eq!(
        store.claim("a", lease).await.expect("claim"),
        Claim::InProgress,
        "other token"
    );
    store.release("a", &t1).await.expect("release");
    let Claim::Claimed(t2) = store.claim("a", lease).await.expect("claim") else {
        panic!("claim after release must succeed")
    };
    store
        .complete("a", &t2, Duration::from_secs(60))
        .await
        .expect("complete");
    assert_eq!(store.claim("a", lease).await.expect("claim"), Claim::Done);
    // A lease runs out by itself (a receiver that died while handling).
    assert!(matches!(
        store
            .claim("b", Duration::from_millis(50))
            .await
            .expect("claim"),
        Claim::Claimed(_)
    ));
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(matches!(
        store.claim("b", lease).await.expect("claim"),
        Claim::Claimed(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_sharing_redis_handle_each_webhook_once() {
    let prefix = prefix();
    let Some(store) = connect(&prefix).await else {
        return;
    };
    let store: Arc<dyn IdempotencyStore> = Arc::new(store);
    let secret = generate_secret();
    let handled = Arc::new(AtomicUsize::new(0));
    let mut urls = Vec::new();
    for _ in 0..2 {
        let h = handled.clone();
        let rx = Receiver::new(
            ReceiverConfig::new(&secret),
            move |_: Webhook<OrderPlaced>| {
                let h = h.clone();
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), Reject>(())
                }
            },
        )
        .expect("receiver")
        .with_store(store.clone());
        urls.push(format!(
            "{}/hook",
            serve(Router::new().route("/hook", rx.endpoint())).await
        ));
    }
    let http = http_common::http();
    let signer = Signer::new(Scheme::StandardWebhooks, &[&secret]).expect("signer");
    let body = br#"{"id":1,"item":"x"}"#;
    let mut statuses = Vec::new();
    for round in 0..2 {
        for url in &urls {
            let mut req = http.post(url).body(body.to_vec());
            for (k, v) in signer.sign("msg_shared", unix_now(), body) {
                req = req.header(k, v);
            }
            let r = req.send().await.expect("send");
            statuses.push((
                round,
                r.status().as_u16(),
                r.headers().contains_key("idempotent-replayed"),
            ));
        }
    }
    assert_eq!(handled.load(Ordering::SeqCst), 1, "{statuses:?}");
    assert_eq!(
        statuses,
        vec![
            (0, 204, false),
            (0, 204, true),
            (1, 204, true),
            (1, 204, true)
        ]
    );
}
