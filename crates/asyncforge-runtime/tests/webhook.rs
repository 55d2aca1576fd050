//! Webhooks over real loopback sockets: delivery through a receiver outage with duplicates
//! removed, a sender killed mid-retry and restarted from its outbox, replayed and tampered
//! requests, SSRF refusals, retry rules, and callback subscriptions feeding the sender.

mod http_common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::http::callbacks::{SubscriptionConfig, Subscriptions};
use asyncforge_runtime::http::outbox::{FileOutbox, MemoryOutbox, Outbox};
use asyncforge_runtime::http::receiver::{Receiver, ReceiverConfig, Single, Webhook};
use asyncforge_runtime::http::sender::{
    AttemptError, DeliveryError, Sender, SenderConfig, Subscriber,
};
use asyncforge_runtime::http::signature::{Scheme, Signer, generate_secret, unix_now};
use asyncforge_runtime::http::ssrf::{AddressPolicy, Refused};
use asyncforge_runtime::{Dispatch, Reject};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_common::{OrderPlaced, eventually, serve, serve_on};

fn fast_config(max_retries: u32) -> SenderConfig {
    SenderConfig {
        backoff: Backoff {
            base: Duration::from_millis(40),
            max: Duration::from_millis(250),
            factor: 2.0,
            max_attempts: Some(max_retries),
            jitter: true,
        },
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
        addresses: AddressPolicy::allow_loopback(),
        ..SenderConfig::default()
    }
}

/// Handler that counts orders by id.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<HashMap<u32, usize>>>);

impl Seen {
    fn record(&self, id: u32) {
        *self.0.lock().expect("lock").entry(id).or_default() += 1;
    }
    fn counts(&self) -> HashMap<u32, usize> {
        self.0.lock().expect("lock").clone()
    }
    fn total(&self) -> usize {
        self.0.lock().expect("lock").values().sum()
    }
}

/// The handler generated servers would wrap: records each order.
struct Record(Seen);

impl Dispatch<Webhook<OrderPlaced>> for Record {
    fn dispatch(
        &self,
        hook: Webhook<OrderPlaced>,
    ) -> impl std::future::Future<Output = Result<(), Reject>> + Send {
        let seen = self.0.clone();
        async move {
            seen.record(hook.message.0.id);
            Ok(())
        }
    }
}

fn receiver(secret: &str, seen: Seen) -> Receiver<Single<OrderPlaced, Record>> {
    Receiver::new(ReceiverConfig::new(secret), Record(seen)).expect("receiver")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_then_back_every_webhook_once() {
    let secret = generate_secret();
    let seen = Seen::default();
    // Reserve a port, then leave it closed: the receiver is down.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = probe.local_addr().expect("addr");
    drop(probe);

    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = Arc::new(FileOutbox::open(dir.path().join("outbox.log")).expect("outbox"));
    let sender = Sender::new(fast_config(40), outbox.clone()).expect("sender");
    let sub = Subscriber::new("s1", format!("http://{addr}/hooks/orders"), secret.clone());
    for i in 0..20 {
        sender
            .enqueue(&sub, &OrderPlaced::new(i))
            .await
            .expect("enqueue");
    }
    assert_eq!(outbox.pending().await.expect("pending").len(), 20);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(seen.total(), 0);

    // The receiver comes back. The first answer for every other webhook is lost after the
    // handler ran (a 500 replaces the 204), so the sender sends those again: the receiver
    // must recognize them.
    let rx = receiver(&secret, seen.clone());
    let first_seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let replays = Arc::new(AtomicUsize::new(0));
    let (fs, rp) = (first_seen.clone(), replays.clone());
    let app = Router::new().route(
        "/hooks/orders",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (rx, fs, rp) = (rx.clone(), fs.clone(), rp.clone());
            async move {
                let resp = rx.receive(&headers, &body).await;
                if resp.headers().contains_key("idempotent-replayed") {
                    rp.fetch_add(1, Ordering::SeqCst);
                }
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let n = {
                    let mut m = fs.lock().expect("lock");
                    let n = m.entry(id.clone()).or_default();
                    *n += 1;
                    *n
                };
                let lose_ack = n == 1 && id.bytes().last().is_some_and(|b| b % 2 == 0);
                if lose_ack && resp.status().is_success() {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                resp
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    serve_on(listener, app);

    let drained = async {
        while !outbox.pending().await.is_ok_and(|p| p.is_empty()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(15), drained)
            .await
            .is_ok(),
        "outbox drained"
    );
    let counts = seen.counts();
    assert_eq!(counts.len(), 20, "every webhook delivered: {counts:?}");
    assert!(
        counts.values().all(|n| *n == 1),
        "each handled once: {counts:?}"
    );
    assert!(
        replays.load(Ordering::SeqCst) > 0,
        "duplicates reached the receiver"
    );
    // Nothing pending after a restart either.
    drop(sender);
    let reopened = FileOutbox::open(dir.path().join("outbox.log")).expect("reopen");
    assert!(reopened.pending().await.expect("pending").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_killed_mid_retry_resumes_from_outbox() {
    let secret = generate_secret();
    let seen = Seen::default();
    let healthy = Arc::new(AtomicBool::new(false));
    let attempts: Arc<Mutex<Vec<String>>> = Arc::default();
    let rx = receiver(&secret, seen.clone());
    let (h, a) = (healthy.clone(), attempts.clone());
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (rx, h, a) = (rx.clone(), h.clone(), a.clone());
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                a.lock().expect("lock").push(id);
                if !h.load(Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                rx.receive(&headers, &body).await
            }
        }),
    );
    let base = serve(app).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outbox.log");
    let sub = Subscriber::new("s1", format!("{base}/hook"), secret.clone());

    let outbox = Arc::new(FileOutbox::open(&path).expect("outbox"));
    let sender = Sender::new(fast_config(1000), outbox).expect("sender");
    let task = {
        let sender = sender.clone();
        let sub = sub.clone();
        tokio::spawn(async move { sender.deliver(&sub, &OrderPlaced::new(7)).await })
    };
    let a = attempts.clone();
    assert!(eventually(5, || a.lock().expect("lock").len() >= 3).await);
    // Kill the sender mid-retry.
    task.abort();
    let _ = task.await;
    drop(sender);
    let before = attempts.lock().expect("lock").len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        attempts.lock().expect("lock").len(),
        before,
        "nothing sends any more"
    );

    // A new process: the same outbox file.
    healthy.store(true, Ordering::SeqCst);
    let outbox = Arc::new(FileOutbox::open(&path).expect("reopen"));
    let pending = outbox.pending().await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0].attempts >= 2,
        "attempts were recorded: {}",
        pending[0].attempts
    );
    let sender = Sender::new(fast_config(1000), outbox.clone()).expect("sender");
    let results = sender.resume().await.expect("resume");
    assert_eq!(results.len(), 1);
    let delivered = results.into_iter().next().expect("one").expect("delivered");
    assert!(delivered.attempts > pending[0].attempts);
    assert_eq!(seen.counts(), HashMap::from([(7, 1)]));
    assert!(outbox.pending().await.expect("pending").is_empty());
    let ids = attempts.lock().expect("lock").clone();
    assert!(
        ids.iter().all(|i| *i == delivered.id),
        "one webhook id across attempts and processes"
    );
}

#[tokio::test]
async fn replayed_tampered_and_stale_requests_are_rejected() {
    let secret = generate_secret();
    let seen = Seen::default();
    let fail_next = Arc::new(AtomicBool::new(false));
    let (s2, f2) = (seen.clone(), fail_next.clone());
    let rx = Receiver::new(
        ReceiverConfig {
            max_body: 4096,
            ..ReceiverConfig::new(&secret)
        },
        move |hook: Webhook<OrderPlaced>| {
            let (seen, fail) = (s2.clone(), f2.clone());
            async move {
                if fail.swap(false, Ordering::SeqCst) {
                    return Err(Reject::failed("database down"));
                }
                if hook.message.0.item.is_empty() {
                    return Err(Reject::invalid("empty item"));
                }
                seen.record(hook.message.0.id);
                Ok(())
            }
        },
    )
    .expect("receiver");
    let base = serve(Router::new().route("/hook", rx.endpoint())).await;
    let url = format!("{base}/hook");
    let http = http_common::http();
    let signer = Signer::new(Scheme::StandardWebhooks, &[&secret]).expect("signer");
    let send = |id: &str, ts: i64, signed: &[u8], sent: &[u8]| {
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .body(sent.to_vec());
        for (k, v) in signer.sign(id, ts, signed) {
            req = req.header(k, v);
        }
        async move { req.send().await.expect("send") }
    };
    let body = br#"{"id":1,"item":"book"}"#;
    let now = unix_now();

    let r = send("msg_1", now, body, body).await;
    assert_eq!(r.status(), 204);
    // The same request again (a replay within the window): acknowledged, not handled again.
    let r = send("msg_1", now, body, body).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers().get("idempotent-replayed").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(seen.counts(), HashMap::from([(1, 1)]));

    // Tampered body, stale and future timestamps, wrong secret, no signature.
    let tampered = br#"{"id":1,"item":"gold"}"#;
    assert_eq!(send("msg_2", now, body, tampered).await.status(), 401);
    assert_eq!(send("msg_3", now - 600, body, body).await.status(), 401);
    assert_eq!(send("msg_4", now + 600, body, body).await.status(), 401);
    let other = Signer::new(Scheme::StandardWebhooks, &[generate_secret()]).expect("signer");
    let mut req = http.post(&url).body(body.to_vec());
    for (k, v) in other.sign("msg_5", now, body) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.expect("send").status(), 401);
    assert_eq!(
        http.post(&url)
            .body(body.to_vec())
            .send()
            .await
            .expect("send")
            .status(),
        401
    );
    // Oversized, undecodable, rejected by the handler.
    let big = vec![b' '; 5000];
    assert_eq!(send("msg_6", now, &big, &big).await.status(), 413);
    assert_eq!(send("msg_7", now, b"{}", b"{}").await.status(), 400);
    let empty = br#"{"id":9,"item":""}"#;
    assert_eq!(send("msg_8", now, empty, empty).await.status(), 422);

    // A failed handler does not mark the id as seen: the retry is handled.
    fail_next.store(true, Ordering::SeqCst);
    let body2 = br#"{"id":2,"item":"pen"}"#;
    assert_eq!(send("msg_9", now, body2, body2).await.status(), 500);
    assert_eq!(seen.counts().get(&2), None);
    let r = send("msg_9", unix_now(), body2, body2).await;
    assert_eq!(r.status(), 204);
    assert!(!r.headers().contains_key("idempotent-replayed"));
    assert_eq!(seen.counts(), HashMap::from([(1, 1), (2, 1)]));
}

#[tokio::test]
async fn github_and_stripe_styles_round_trip() {
    for scheme in [Scheme::GitHub, Scheme::Stripe] {
        let secret = "a shared secret";
        let seen = Seen::default();
        let s2 = seen.clone();
        let rx = Receiver::new(
            ReceiverConfig {
                scheme,
                ..ReceiverConfig::new(secret)
            },
            move |hook: Webhook<OrderPlaced>| {
                let seen = s2.clone();
                async move {
                    seen.record(hook.message.0.id);
                    Ok(())
                }
            },
        )
        .expect("receiver");
        let base = serve(Router::new().route("/hook", rx.endpoint())).await;
        let sender =
            Sender::new(fast_config(2), Arc::new(MemoryOutbox::default())).expect("sender");
        let sub = Subscriber {
            id: "s".into(),
            url: format!("{base}/hook"),
            secrets: vec![secret.into()],
            scheme,
        };
        let d = sender
            .deliver(&sub, &OrderPlaced::new(3))
            .await
            .expect("delivered");
        assert_eq!((d.status, d.attempts), (204, 1), "{scheme:?}");
        let bad = Subscriber {
            secrets: vec!["wrong".into()],
            ..sub
        };
        match sender.deliver(&bad, &OrderPlaced::new(4)).await {
            Err(DeliveryError::DeadLettered(dl)) => {
                assert_eq!(dl.error, AttemptError::Status(401), "{scheme:?}");
                assert_eq!(dl.delivery.attempts, 1, "401 is not retried");
            }
            other => panic!("{scheme:?}: expected dead letter, got {other:?}"),
        }
        assert_eq!(seen.counts(), HashMap::from([(3, 1)]));
    }
}

#[tokio::test]
async fn ssrf_targets_are_refused_before_any_request() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::NO_CONTENT }
        }),
    );
    let base = serve(app).await;
    let port = base.rsplit(':').next().expect("port").to_owned();
    let dead: Arc<Mutex<Vec<String>>> = Arc::default();
    let d2 = dead.clone();
    let public_only = SenderConfig {
        addresses: AddressPolicy::public_only(),
        ..fast_config(3)
    };
    let sender = Sender::new(public_only, Arc::new(MemoryOutbox::default()))
        .expect("sender")
        .with_dead_letter(move |dl| {
            d2.lock()
                .expect("lock")
                .push(dl.delivery.subscriber.url.clone())
        });
    let targets = [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://0.0.0.0:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fd00:ec2::254]/".to_owned(),
        "http://10.0.0.1/hook".to_owned(),
        "http://192.168.1.1/hook".to_owned(),
        "http://100.64.0.1/hook".to_owned(),
        "http://[::ffff:172.16.0.1]/hook".to_owned(),
        "http://224.0.0.1/hook".to_owned(),
    ];
    for url in &targets {
        let sub = Subscriber::new("s", url.clone(), generate_secret());
        let started = Instant::now();
        match sender.deliver(&sub, &OrderPlaced::new(1)).await {
            Err(DeliveryError::DeadLettered(dl)) => {
                assert!(
                    matches!(dl.error, AttemptError::Refused(Refused::Address { .. })),
                    "{url}: {:?}",
                    dl.error
                );
                assert_eq!(dl.delivery.attempts, 1, "{url}: refusals are not retried");
            }
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{url}: refused at once"
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request reached the loopback receiver"
    );
    assert_eq!(
        dead.lock().expect("lock").len(),
        targets.len(),
        "dead-letter hook called"
    );

    // The same receiver is reachable when loopback is explicitly allowed.
    let sender = Sender::new(fast_config(0), Arc::new(MemoryOutbox::default())).expect("sender");
    let sub = Subscriber::new("s", format!("{base}/hook"), generate_secret());
    sender
        .deliver(&sub, &OrderPlaced::new(1))
        .await
        .expect("delivered");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retry_rules() {
    // 429 with Retry-After, then success; 400 is final; 500 until attempts run out.
    let calls = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
    let c = calls.clone();
    let app = Router::new().route(
        "/{mode}",
        axum::routing::post(
            move |axum::extract::Path(mode): axum::extract::Path<String>| {
                let c = c.clone();
                async move {
                    let n = {
                        let mut calls = c.lock().expect("lock");
                        calls.push((mode.clone(), Instant::now()));
                        calls.iter().filter(|(m, _)| *m == mode).count()
                    };
                    let resp: Response = match (mode.as_str(), n) {
                        ("limited", 1) => {
                            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response()
                        }
                        ("timeout", 1) => StatusCode::REQUEST_TIMEOUT.into_response(),
                        ("limited" | "timeout", _) => StatusCode::OK.into_response(),
                        ("bad", _) => StatusCode::BAD_REQUEST.into_response(),
                        ("redirect", _) => {
                            (StatusCode::FOUND, [("location", "/limited")]).into_response()
                        }
                        _ => StatusCode::BAD_GATEWAY.into_response(),
                    };
                    resp
                }
            },
        ),
    );
    let base = serve(app).await;
    let sender = Sender::new(fast_config(2), Arc::new(MemoryOutbox::default())).expect("sender");
    let deliver = |mode: &str| {
        let sub = Subscriber::new("s", format!("{base}/{mode}"), generate_secret());
        let sender = sender.clone();
        async move { sender.deliver(&sub, &OrderPlaced::new(1)).await }
    };

    let d = deliver("limited").await.expect("delivered after 429");
    assert_eq!((d.status, d.attempts), (200, 2));
    let times: Vec<Instant> = calls
        .lock()
        .expect("lock")
        .iter()
        .filter(|(m, _)| m == "limited")
        .map(|(_, t)| *t)
        .collect();
    assert!(
        times[1] - times[0] >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(
        deliver("timeout")
            .await
            .expect("delivered after 408")
            .attempts,
        2
    );
    for (mode, attempts, status) in [("bad", 1, 400), ("redirect", 1, 302), ("down", 3, 502)] {
        match deliver(mode).await {
            Err(DeliveryError::DeadLettered(dl)) => {
                assert_eq!(dl.error, AttemptError::Status(status), "{mode}");
                assert_eq!(dl.delivery.attempts, attempts, "{mode}");
            }
            other => panic!("{mode}: expected dead letter, got {other:?}"),
        }
    }
    // Connection refused is retried, then dead-lettered.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let closed = probe.local_addr().expect("addr");
    drop(probe);
    let sub = Subscriber::new("s", format!("http://{closed}/x"), generate_secret());
    match sender.deliver(&sub, &OrderPlaced::new(1)).await {
        Err(DeliveryError::DeadLettered(dl)) => {
            assert!(
                matches!(dl.error, AttemptError::Connect(_)),
                "{:?}",
                dl.error
            );
            assert_eq!(dl.delivery.attempts, 3);
        }
        other => panic!("expected dead letter, got {other:?}"),
    }
}

#[tokio::test]
async fn callback_subscriptions_feed_the_sender() {
    let seen = Seen::default();
    // The subscriber's receiver; its secret comes from the registration response.
    let secret_slot: Arc<Mutex<Option<String>>> = Arc::default();
    let receiver_app = {
        let seen = seen.clone();
        let slot = secret_slot.clone();
        Router::new().route(
            "/cb",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (seen, slot) = (seen.clone(), slot.clone());
                async move {
                    let Some(secret) = slot.lock().expect("lock").clone() else {
                        return StatusCode::SERVICE_UNAVAILABLE.into_response();
                    };
                    receiver(&secret, seen).receive(&headers, &body).await
                }
            }),
        )
    };
    let receiver_base = serve(receiver_app).await;

    let subs = Subscriptions::new(SubscriptionConfig {
        events: vec!["OrderPlaced".into(), "OrderShipped".into()],
        addresses: AddressPolicy::allow_loopback(),
        ..SubscriptionConfig::default()
    });
    let api = serve(subs.router("/subscriptions")).await;
    let http = http_common::http();
    let post = |body: serde_json::Value| {
        let req = http
            .post(format!("{api}/subscriptions"))
            .header("content-type", "application/json")
            .body(body.to_string());
        async move { req.send().await.expect("send") }
    };

    let r = post(
        serde_json::json!({ "url": format!("{receiver_base}/cb"), "events": ["OrderPlaced"] }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let created: serde_json::Value =
        serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    *secret_slot.lock().expect("lock") = Some(secret);
    let id = created["id"].as_str().expect("id").to_owned();

    // Refused registrations.
    for bad in [
        serde_json::json!({ "url": "http://10.0.0.1/cb", "events": ["OrderPlaced"] }),
        serde_json::json!({ "url": "http://169.254.169.254/", "events": ["OrderPlaced"] }),
        serde_json::json!({ "url": "file:///etc/passwd", "events": ["OrderPlaced"] }),
        serde_json::json!({ "url": format!("{receiver_base}/cb"), "events": ["Nope"] }),
        serde_json::json!({ "url": format!("{receiver_base}/cb"), "events": [] }),
        serde_json::json!({ "url": format!("{receiver_base}/cb"), "events": ["OrderPlaced"], "secret": "not-whsec" }),
    ] {
        assert_eq!(post(bad.clone()).await.status(), 422, "{bad}");
    }
    assert_eq!(
        post(serde_json::json!({ "nonsense": 1 })).await.status(),
        400
    );

    let list = http
        .get(format!("{api}/subscriptions"))
        .send()
        .await
        .expect("list")
        .bytes()
        .await
        .expect("body");
    let list: serde_json::Value = serde_json::from_slice(&list).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(list[0].get("secret").is_none(), "secrets are never listed");

    let sender = Sender::new(fast_config(3), Arc::new(MemoryOutbox::default())).expect("sender");
    let ids = sender
        .publish(&subs, &OrderPlaced::new(11))
        .await
        .expect("publish");
    assert_eq!(ids.len(), 1);
    let s = seen.clone();
    assert!(eventually(5, || s.total() == 1).await);
    assert_eq!(seen.counts(), HashMap::from([(11, 1)]));

    let r = http
        .delete(format!("{api}/subscriptions/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    let r = http
        .get(format!("{api}/subscriptions/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
    assert!(
        sender
            .publish(&subs, &OrderPlaced::new(12))
            .await
            .expect("publish")
            .is_empty()
    );
}

#[tokio::test]
async fn in_process_outboxes_keep_the_claim_rules() {
    let memory = MemoryOutbox::default();
    http_common::outbox_claim_rules(&memory, &memory).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = FileOutbox::open(dir.path().join("outbox.log")).expect("open");
    http_common::outbox_claim_rules(&file, &file).await;
}
