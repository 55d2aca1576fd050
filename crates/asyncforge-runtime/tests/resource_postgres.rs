//! Resources, locks and long polls in Postgres: the scenarios every resource store passes
//! (`http_common::resources`) on a Postgres table, then three replicas — each its own
//! connections and listener, one table — behind which 100 concurrent `If-Match` writers lose
//! no update, a lock taken through one replica refuses writes through another, and a long
//! poll on one replica wakes on a write through another, also after the database ended every
//! session.

mod http_common;

use std::time::Duration;

use asyncforge_runtime::http::client::{ClientError, WriteOptions};
use asyncforge_runtime::http::postgres_resource::PostgresResources;
use asyncforge_runtime::http::resource::{ResourceBackend, ResourceConfig, ResourceStore};
use http_common::resources::{self, client};
use http_common::{Counter, POSTGRES, drop_table, end_sessions, on_postgres, serve};

/// A backend on a fresh table, connecting as `application` (to end its sessions by name).
async fn backend(prefix: &str, application: &str) -> Option<(ResourceBackend, String)> {
    let config = format!("{POSTGRES} application_name={application}");
    on_postgres(prefix, |table| async move {
        PostgresResources::connect(&config, &table)
            .await
            .map(ResourceBackend::postgres)
    })
    .await
}

/// Runs a shared scenario on stores named `counters` in a fresh table.
macro_rules! scenario {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some((backend, table)) = backend("res_scenario", "res_scenario").await else {
                return;
            };
            let make = |config| ResourceStore::with_backend(config, &backend, "counters");
            resources::$name(&make).await;
            drop_table(&table).await;
        }
    };
}

scenario!(if_match_loses_no_update_and_its_absence_does);
scenario!(conditional_requests);
scenario!(lock_contention_release_and_expiry);
scenario!(long_polling_holds_until_change_or_timeout);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_versions_locks_and_changes() {
    let application = "res_replicas";
    let Some((first, table)) = backend("res_replicas", application).await else {
        return;
    };
    let config = ResourceConfig {
        max_wait: Duration::from_secs(20),
        ..ResourceConfig::default()
    };
    let mut replicas = Vec::new();
    let mut stores = Vec::new();
    for i in 0..3 {
        let backend = if i == 0 {
            first.clone()
        } else {
            let db = format!("{POSTGRES} application_name={application}");
            ResourceBackend::postgres(
                PostgresResources::connect(&db, &table)
                    .await
                    .expect("connect"),
            )
        };
        let store = ResourceStore::<Counter>::with_backend(config.clone(), &backend, "counters");
        replicas.push(serve(store.router("/counters/{id}")).await);
        stores.push(store);
    }
    let c = client();
    let at = |replica: usize, id: &str| format!("{}/counters/{id}", replicas[replica % 3]);

    // 100 concurrent read-modify-write writers with If-Match, spread over the replicas.
    c.put(&at(0, "n"), &Counter::new(0), &WriteOptions::default())
        .await
        .expect("seed");
    let writers: Vec<_> = (0..100)
        .map(|i| {
            let (c, url) = (c.clone(), at(i, "n"));
            tokio::spawn(async move {
                c.update(&url, 10_000, |n| Counter::new(n.0.value + 1))
                    .await
            })
        })
        .collect();
    for w in writers {
        w.await.expect("task").expect("update");
    }
    for replica in 0..3 {
        assert_eq!(
            c.get(&at(replica, "n")).await.expect("get").value,
            Counter::new(100),
            "replica {replica}"
        );
    }
    assert_eq!(stores[2].len().await.expect("count"), 1);

    // A tag one replica handed out is the tag on every other.
    let seen = c.get(&at(0, "n")).await.expect("get");
    let tag = seen.etag.expect("etag");
    let next = c
        .put(
            &at(1, "n"),
            &Counter::new(101),
            &WriteOptions::if_match(tag.clone()),
        )
        .await
        .expect("If-Match through another replica")
        .expect("etag");
    assert!(matches!(
        c.put(&at(2, "n"), &Counter::new(0), &WriteOptions::if_match(tag)).await,
        Err(ClientError::Conflict { current: Some(t) }) if t == next
    ));

    // A lock taken through A: writes through B get 423, a lock through C 409.
    let lock = c
        .lock(&at(0, "n"), "alice", Some(Duration::from_secs(30)))
        .await
        .expect("lock through A");
    assert!(matches!(
        c.put(&at(1, "n"), &Counter::new(7), &WriteOptions::if_match(next.clone())).await,
        Err(ClientError::Locked { holder, .. }) if holder == "alice"
    ));
    assert!(matches!(
        c.lock(&at(2, "n"), "bob", None).await,
        Err(ClientError::Locked { holder, until }) if holder == "alice" && until == lock.until
    ));
    // The holder writes through C, and releases through B; then anyone writes.
    c.put(
        &at(2, "n"),
        &Counter::new(102),
        &WriteOptions::with_lock(lock.token.clone()),
    )
    .await
    .expect("the holder writes through another replica");
    c.unlock(&at(1, "n"), &lock.token).await.expect("release");
    c.put(&at(0, "n"), &Counter::new(103), &WriteOptions::default())
        .await
        .expect("write after release");
    // A lock on a resource that does not exist yet holds its creation too.
    let lock = c
        .lock(&at(1, "new"), "carol", None)
        .await
        .expect("lock a missing resource");
    assert!(matches!(
        c.put(&at(2, "new"), &Counter::new(1), &WriteOptions::default()).await,
        Err(ClientError::Locked { holder, .. }) if holder == "carol"
    ));
    assert!(matches!(
        c.get(&at(0, "new")).await,
        Err(ClientError::NotFound)
    ));
    c.put(
        &at(0, "new"),
        &Counter::new(1),
        &WriteOptions::with_lock(lock.token.clone()),
    )
    .await
    .expect("the holder creates it");
    c.unlock(&at(2, "new"), &lock.token).await.expect("release");

    // A long poll on A wakes on a write through B (LISTEN/NOTIFY), long before its wait ends.
    tokio::time::timeout(
        Duration::from_secs(10),
        long_poll_wakes(&c, &at(0, "n"), &at(1, "n"), 200),
    )
    .await
    .expect("woken by the write, not by the end of the wait");

    // The database ends every session: calls fail or reconnect, and the listeners listen
    // again; a long poll still wakes on another replica's write.
    let ended = end_sessions(application).await;
    assert!(ended >= 3, "{ended} sessions ended");
    let mut value = 300;
    let woke = loop {
        value += 1;
        match tokio::time::timeout(
            Duration::from_secs(15),
            try_long_poll(&c, &at(2, "n"), &at(0, "n"), value),
        )
        .await
        {
            Ok(Ok(got)) => break got,
            Ok(Err(e)) => eprintln!("while the sessions come back: {e}"),
            Err(_) => panic!("a long poll did not wake after the sessions were ended"),
        }
        assert!(value < 320, "the replicas did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(woke, Counter::new(value));
    drop(replicas);
    drop_table(&table).await;
}

/// Long-polls `poll` while `write` gets `value`; panics unless the poll returns the value.
async fn long_poll_wakes(
    c: &asyncforge_runtime::http::client::ResourceClient<Counter>,
    poll: &str,
    write: &str,
    value: u64,
) {
    let got = try_long_poll(c, poll, write, value)
        .await
        .expect("long poll");
    assert_eq!(got, Counter::new(value));
}

/// Reads `poll`, then long-polls it (up to 20 s) while `value` is written through `write`;
/// the representation the poll returned.
async fn try_long_poll(
    c: &asyncforge_runtime::http::client::ResourceClient<Counter>,
    poll: &str,
    write: &str,
    value: u64,
) -> Result<Counter, ClientError> {
    let tag = c.get(poll).await?.etag;
    let writer = {
        let (c, write) = (c.clone(), write.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c.put(&write, &Counter::new(value), &WriteOptions::default())
                .await
        })
    };
    let got = c
        .get_if_changed(poll, tag.as_ref(), Some(Duration::from_secs(20)))
        .await;
    writer.await.expect("task")?;
    match got? {
        Some(r) => Ok(r.value),
        None => panic!("the long poll ended without a change"),
    }
}
