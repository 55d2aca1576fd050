//! The Redis idempotency store against the Redis on 127.0.0.1:6379 (skipped, with a notice,
//! when none answers): claim/complete/release semantics, and two receiver instances sharing
//! one store handle a webhook sent to both exactly once.

mod http_common;

use std::sync::Arc;
use std::time::Duration;

use asyncforge_runtime::http::redis_store::RedisStore;

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
    http_common::claim_complete_release_and_expiry(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_sharing_redis_handle_each_webhook_once() {
    let Some(store) = connect(&prefix()).await else {
        return;
    };
    http_common::receivers_sharing_a_store_handle_each_webhook_once(Arc::new(store)).await;
}
