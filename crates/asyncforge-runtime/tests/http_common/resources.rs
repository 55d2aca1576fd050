//! What every resource store does over real loopback sockets, whichever backend holds it:
//! 100 concurrent read-modify-write writers with `If-Match` lose nothing (and without
//! preconditions they do), conditional-request edge cases, lock contention with 409s and
//! expiry, and long polling.

use std::time::{Duration, Instant};

use asyncforge_runtime::etag::EntityTag;
use asyncforge_runtime::http::client::{ClientError, PollConfig, ResourceClient, WriteOptions};
use asyncforge_runtime::http::resource::{ResourceConfig, ResourceStore};

use super::{Counter, serve};

/// A store made by `make`, served on a loopback port under `/counters/{id}`.
pub async fn counter_server(
    make: &impl Fn(ResourceConfig) -> ResourceStore<Counter>,
    config: ResourceConfig,
) -> (ResourceStore<Counter>, String) {
    let store = make(config);
    let base = serve(store.router("/counters/{id}")).await;
    (store, base)
}

pub fn client() -> ResourceClient<Counter> {
    ResourceClient::new().expect("client")
}

pub async fn if_match_loses_no_update_and_its_absence_does(
    make: &impl Fn(ResourceConfig) -> ResourceStore<Counter>,
) {
    let (store, base) = counter_server(make, ResourceConfig::default()).await;
    let c = client();

    // With If-Match: every increment survives.
    let url = format!("{base}/counters/safe");
    c.put(&url, &Counter::new(0), &WriteOptions::default())
        .await
        .expect("seed");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move {
                c.update(&url, 10_000, |n| Counter::new(n.0.value + 1))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("update");
    }
    assert_eq!(c.get(&url).await.expect("get").value, Counter::new(100));
    assert_eq!(
        store
            .get("/counters/safe")
            .await
            .expect("read the store")
            .map(|v| v.value.0.value),
        Some(100)
    );

    // Without preconditions: read, think, write — concurrent writers overwrite each other.
    let url = format!("{base}/counters/unsafe");
    c.put(&url, &Counter::new(0), &WriteOptions::default())
        .await
        .expect("seed");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move {
                let cur = c.get(&url).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
                c.put(
                    &url,
                    &Counter::new(cur.value.0.value + 1),
                    &WriteOptions::default(),
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("put");
    }
    let lost_to = c.get(&url).await.expect("get").value.0.value;
    eprintln!("without If-Match: 100 increments left the counter at {lost_to}");
    assert!(lost_to < 100, "updates were lost without preconditions");
}

pub async fn conditional_requests(make: &impl Fn(ResourceConfig) -> ResourceStore<Counter>) {
    let (_store, base) = counter_server(
        make,
        ResourceConfig {
            require_precondition: true,
            ..ResourceConfig::default()
        },
    )
    .await;
    let c = client();
    let url = format!("{base}/counters/a");
    let http = super::http();

    // 428 without a precondition; If-Match: * on a missing resource → 412; create-only.
    assert!(matches!(
        c.put(&url, &Counter::new(1), &WriteOptions::default())
            .await,
        Err(ClientError::PreconditionRequired)
    ));
    let exists = WriteOptions {
        if_exists: true,
        ..WriteOptions::default()
    };
    assert!(matches!(
        c.put(&url, &Counter::new(1), &exists).await,
        Err(ClientError::Conflict { current: None })
    ));
    let create = WriteOptions {
        if_absent: true,
        ..WriteOptions::default()
    };
    let tag1 = c
        .put(&url, &Counter::new(1), &create)
        .await
        .expect("create")
        .expect("etag");
    assert!(!tag1.weak, "strong tags");
    assert!(matches!(
        c.put(&url, &Counter::new(2), &create).await,
        Err(ClientError::Conflict { current: Some(t) }) if t == tag1
    ));
    let tag2 = c
        .put(&url, &Counter::new(2), &exists)
        .await
        .expect("If-Match: *")
        .expect("etag");
    assert_ne!(tag1, tag2);
    // A stale tag → Conflict carrying the current tag.
    match c
        .put(
            &url,
            &Counter::new(3),
            &WriteOptions::if_match(tag1.clone()),
        )
        .await
    {
        Err(ClientError::Conflict { current }) => assert_eq!(current, Some(tag2.clone())),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The weak form of the current tag does not satisfy If-Match (strong comparison)...
    let weak = EntityTag::weak(tag2.tag.clone());
    assert!(matches!(
        c.put(
            &url,
            &Counter::new(3),
            &WriteOptions::if_match(weak.clone())
        )
        .await,
        Err(ClientError::Conflict { .. })
    ));
    // ...but does satisfy If-None-Match on GET (weak comparison) → 304.
    let r = http
        .get(&url)
        .header("if-none-match", weak.to_string())
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 304);
    assert_eq!(
        r.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some(tag2.to_string().as_str())
    );
    assert!(
        c.get_if_changed(&url, Some(&tag2), None)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        c.get_if_changed(&url, Some(&tag1), None)
            .await
            .expect("get")
            .is_some()
    );

    // If-Unmodified-Since with the resource's Last-Modified passes; one second earlier fails.
    let fetched = c.get(&url).await.expect("get");
    let lm = fetched.last_modified.expect("Last-Modified");
    let since = |t| WriteOptions {
        if_unmodified_since: Some(t),
        ..WriteOptions::default()
    };
    assert!(matches!(
        c.put(&url, &Counter::new(4), &since(lm - Duration::from_secs(1)))
            .await,
        Err(ClientError::Conflict { .. })
    ));
    c.put(&url, &Counter::new(4), &since(lm))
        .await
        .expect("unmodified since");
    // If-Modified-Since on GET.
    let r = http
        .get(&url)
        .header(
            "if-modified-since",
            httpdate::fmt_http_date(lm + Duration::from_secs(5)),
        )
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 304);
    // Malformed precondition → 400; unknown method → 405.
    let r = http
        .put(&url)
        .header("if-match", "no-quotes")
        .body("{\"value\":1}")
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 400);
    let r = http.post(&url).send().await.expect("post");
    assert_eq!(r.status(), 405);
    // Delete with a stale tag fails; with the current one succeeds; then 404.
    let cur = c.get(&url).await.expect("get").etag.expect("etag");
    assert!(matches!(
        c.delete(&url, &WriteOptions::if_match(tag1)).await,
        Err(ClientError::Conflict { .. })
    ));
    c.delete(&url, &WriteOptions::if_match(cur))
        .await
        .expect("delete");
    assert!(matches!(c.get(&url).await, Err(ClientError::NotFound)));
}

pub async fn lock_contention_release_and_expiry(
    make: &impl Fn(ResourceConfig) -> ResourceStore<Counter>,
) {
    let (_store, base) = counter_server(make, ResourceConfig::default()).await;
    let c = client();
    let url = format!("{base}/counters/locked");
    c.put(&url, &Counter::new(0), &WriteOptions::default())
        .await
        .expect("seed");

    let alice = c
        .lock(&url, "alice", Some(Duration::from_millis(400)))
        .await
        .expect("lock");
    assert!(alice.token.starts_with("urn:uuid:"));
    // Bob: 409 with the holder and until-when; his writes are refused (423).
    match c.lock(&url, "bob", None).await {
        Err(ClientError::Locked { holder, until }) => {
            assert_eq!(holder, "alice");
            assert_eq!(until, alice.until);
        }
        other => panic!("expected 409 Locked, got {other:?}"),
    }
    assert!(matches!(
        c.put(&url, &Counter::new(9), &WriteOptions::default()).await,
        Err(ClientError::Locked { holder, .. }) if holder == "alice"
    ));
    assert!(matches!(
        c.put(
            &url,
            &Counter::new(9),
            &WriteOptions::with_lock("urn:uuid:forged")
        )
        .await,
        Err(ClientError::Locked { .. })
    ));
    // Alice writes with her token.
    c.put(
        &url,
        &Counter::new(1),
        &WriteOptions::with_lock(alice.token.clone()),
    )
    .await
    .expect("holder writes");
    // Bob's 409 says when to come back; after expiry he gets the lock.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let bob = c
        .lock(&url, "bob", Some(Duration::from_secs(10)))
        .await
        .expect("lock after expiry");
    // Alice's old token no longer writes nor releases.
    assert!(matches!(
        c.put(&url, &Counter::new(2), &WriteOptions::with_lock(alice.token.clone())).await,
        Err(ClientError::Locked { holder, .. }) if holder == "bob"
    ));
    assert!(matches!(
        c.unlock(&url, &alice.token).await,
        Err(ClientError::Locked { .. })
    ));
    c.unlock(&url, &bob.token).await.expect("release");
    // Released: anyone writes, anyone locks.
    c.put(&url, &Counter::new(3), &WriteOptions::default())
        .await
        .expect("write after release");
    c.lock(&url, "carol", None)
        .await
        .expect("lock after release");
    assert_eq!(c.get(&url).await.expect("get").value, Counter::new(3));
}

pub async fn long_polling_holds_until_change_or_timeout(
    make: &impl Fn(ResourceConfig) -> ResourceStore<Counter>,
) {
    let (store, base) = counter_server(
        make,
        ResourceConfig {
            max_wait: Duration::from_secs(2),
            ..ResourceConfig::default()
        },
    )
    .await;
    let c = client();
    let url = format!("{base}/counters/p");
    let tag = c
        .put(&url, &Counter::new(0), &WriteOptions::default())
        .await
        .expect("seed")
        .expect("etag");
    let http = super::http();

    // No change: held for the (capped) wait, then 304 with Preference-Applied.
    let started = Instant::now();
    let r = http
        .get(&url)
        .header("if-none-match", tag.to_string())
        .header("prefer", "wait=30")
        .send()
        .await
        .expect("get");
    let held = started.elapsed();
    assert_eq!(r.status(), 304);
    assert_eq!(
        r.headers()
            .get("preference-applied")
            .and_then(|v| v.to_str().ok()),
        Some("wait=2")
    );
    assert!(
        held >= Duration::from_millis(1900) && held < Duration::from_secs(4),
        "{held:?}"
    );

    // A change while waiting answers at once with the new representation.
    let writer = {
        let (c, url) = (c.clone(), url.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.put(&url, &Counter::new(1), &WriteOptions::default())
                .await
        })
    };
    let started = Instant::now();
    let got = c
        .get_if_changed(&url, Some(&tag), Some(Duration::from_secs(2)))
        .await
        .expect("long poll")
        .expect("changed");
    assert_eq!(got.value, Counter::new(1));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    writer.await.expect("task").expect("put");

    // The poller: current version first, then each change (long polling and plain polling).
    for config in [
        PollConfig::long(Duration::from_secs(2)),
        PollConfig::interval(Duration::from_millis(50)),
    ] {
        let mut poller = c.poll(url.clone(), config.clone());
        let first = poller.next().await.expect("first");
        let start_value = first.value.0.value;
        let store2 = store.clone();
        let bump = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let pre = Default::default();
            store2
                .put("/counters/p", Counter::new(start_value + 10), &pre, None)
                .await
                .map(|_| ())
        });
        let next = tokio::time::timeout(Duration::from_secs(3), poller.next())
            .await
            .expect("in time")
            .expect("next");
        assert_eq!(next.value, Counter::new(start_value + 10), "{config:?}");
        assert_eq!(poller.etag(), next.etag.as_ref());
        bump.await.expect("task").expect("put");
    }
    let missing = format!("{base}/counters/none");
    assert!(matches!(
        c.poll(missing, PollConfig::default()).next().await,
        Err(ClientError::NotFound)
    ));
}
