//! The Postgres idempotency store against the Postgres on 127.0.0.1:5432 (skipped, with a
//! notice, when none answers; `cargo xtask peers` starts one): the same claim, complete,
//! release and expiry semantics as the other stores, and two receiver instances sharing one
//! table handle a webhook sent to both exactly once. Each test uses a table of its own and
//! drops it.

mod http_common;

use std::sync::Arc;
use std::time::Duration;

use asyncforge_runtime::http::idempotency::{Claim, IdempotencyStore};
use asyncforge_runtime::http::postgres_store::PostgresStore;
use http_common::POSTGRES;

/// A store on a fresh table, and the table's name.
async fn store() -> Option<(PostgresStore, String)> {
    http_common::on_postgres("asyncforge_test", |table| async move {
        PostgresStore::connect(POSTGRES, &table).await
    })
    .await
}

#[tokio::test]
async fn claim_complete_release_and_expiry() {
    let Some((store, table)) = store().await else {
        return;
    };
    http_common::claim_complete_release_and_expiry(&store).await;
    http_common::drop_table(&table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_sharing_postgres_handle_each_webhook_once() {
    let Some((store, table)) = store().await else {
        return;
    };
    http_common::receivers_sharing_a_store_handle_each_webhook_once(Arc::new(store)).await;
    http_common::drop_table(&table).await;
}

/// Claims racing for one id from many tasks (each its own connection, as receivers on
/// different replicas would be): exactly one wins; the others see it in progress, then done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_many_racing_claims_wins() {
    let Some((first, table)) = store().await else {
        return;
    };
    let mut stores = vec![first];
    for _ in 0..7 {
        stores.push(
            PostgresStore::connect(POSTGRES, &table)
                .await
                .expect("connect"),
        );
    }
    let lease = Duration::from_secs(30);
    let claims =
        futures_util::future::join_all(stores.iter().map(|s| s.claim("race", lease))).await;
    let won: Vec<_> = claims
        .iter()
        .filter_map(|c| match c.as_ref().expect("claim") {
            Claim::Claimed(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(won.len(), 1, "{claims:?}");
    stores[1]
        .complete("race", &won[0], Duration::from_secs(60))
        .await
        .expect("complete");
    for s in &stores {
        assert_eq!(s.claim("race", lease).await.expect("claim"), Claim::Done);
    }
    http_common::drop_table(&table).await;
}

/// A store whose connections the server ends (a restart, a failover, an idle timeout) answers
/// a call on a lost connection with an error, which the receiver turns into a 503 the sender
/// retries, and connects again on the next call: each of its connections fails one call at
/// most.
#[tokio::test]
async fn a_lost_connection_is_an_error_then_reconnected() {
    let Some((_, table)) = store().await else {
        return;
    };
    // Sessions of its own, found by their application name, so that ending them leaves the
    // other tests' sessions alone.
    let name = format!("{table}_lost");
    let store = PostgresStore::connect(&format!("{POSTGRES} application_name={name}"), &table)
        .await
        .expect("connect");
    let lease = Duration::from_secs(30);
    // Every connection of the store in use.
    for i in 0..8 {
        assert!(matches!(
            store
                .claim(&format!("before-{i}"), lease)
                .await
                .expect("claim"),
            Claim::Claimed(_)
        ));
    }
    let ended = http_common::end_sessions(&name).await;
    assert!((1..=4).contains(&ended), "the store's sessions: {ended}");
    let mut errors = Vec::new();
    let mut ok = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ok < 8 {
        match store.claim(&format!("after-{ok}"), lease).await {
            Ok(claim) => {
                assert!(matches!(claim, Claim::Claimed(_)), "{claim:?}");
                ok += 1;
            }
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "no reconnect: {e}");
                errors.push(e);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(
        errors.len() as u64 <= ended,
        "failed calls before the reconnects: {errors:?}"
    );
    http_common::drop_table(&table).await;
}
