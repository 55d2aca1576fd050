//! The code generated from `specs/ledger-hooks.yaml` over loopback sockets: received webhooks
//! (verified, deduplicated, validated) posted by the generated webhook client, sent webhooks
//! from the generated `Sender` (callback subscriptions, a receiver outage, a sender process
//! killed mid-retry and resumed from its outbox), SSRF refusals, replayed and tampered
//! requests, resources with If-Match (100 concurrent writers), lock tokens, long polling, the
//! same statuses driven by `curl`, and interop with the Standard Webhooks reference library.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::codegen::DateTime;
use asyncforge_runtime::http::client::ClientError;
use asyncforge_runtime::http::outbox::{FileOutbox, Outbox};
use asyncforge_runtime::http::postgres_resource::PostgresResources;
use asyncforge_runtime::http::receiver::{
    Receiver as RawReceiver, ReceiverConfig as RawConfig, Webhook,
};
use asyncforge_runtime::http::sender::{AttemptError, DeliveryError};
use asyncforge_runtime::http::signature::{Scheme, Signer, generate_secret, unix_now};
use asyncforge_runtime::http::ssrf::{AddressPolicy, Refused};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use snapshot_ledger_hooks::channels::{AccountParams, CounterParams, DisputeEvent, InvoiceParams};
use snapshot_ledger_hooks::client::{
    AccountClient, CodeHostClient, CounterClient, DisputesClient, InvoiceClient, PaymentsClient,
    PollConfig, ProviderClient, WriteOptions,
};
use snapshot_ledger_hooks::messages::{
    Account, ChargeRefunded, ChargeSucceeded, Counter, DisputeClosed, DisputeOpened, EntryPosted,
    Invoice, PaymentSettled, ReleasePublished,
};
use snapshot_ledger_hooks::server::{
    Config, Handler, Inbound, ResourceBackend, SenderConfig, Server,
};
use snapshot_ledger_hooks::types::*;
use snapshot_ledger_hooks::{Error, ErrorKind, Received, Reject};

const WAIT: Duration = Duration::from_secs(20);

/// A card provider event as the handler saw it: operation, charge id, `Idempotency-Key`,
/// `X-Provider-Attempt`.
type ProviderEvent = (String, String, String, Option<u64>);

/// What the application saw: payments and releases by id, in arrival order.
#[derive(Default)]
struct Seen {
    payments: Mutex<Vec<String>>,
    releases: Mutex<Vec<String>>,
    /// Card provider events.
    provider: Mutex<Vec<ProviderEvent>>,
    /// Dispute events (`opened d1`, `closed d1`).
    disputes: Mutex<Vec<String>>,
    /// Payment ids whose first handling fails with `Reject::failed`.
    fail_once: Mutex<Vec<String>>,
}

impl Seen {
    fn payments(&self) -> Vec<String> {
        self.payments.lock().expect("lock").clone()
    }
    fn payment_counts(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for p in self.payments() {
            *m.entry(p).or_default() += 1;
        }
        m
    }
}

struct App(Arc<Seen>);

impl Handler for App {
    async fn payment_settled(
        &self,
        hook: Received<PaymentSettled, (), Inbound>,
    ) -> Result<(), Reject> {
        let id = hook.message.payload.payment_id.clone();
        {
            let mut fail = self.0.fail_once.lock().expect("lock");
            if let Some(i) = fail.iter().position(|f| *f == id) {
                fail.remove(i);
                return Err(Reject::failed("database busy"));
            }
        }
        if hook.message.payload.account_id == "frozen" {
            return Err(Reject::invalid("account frozen"));
        }
        self.0.payments.lock().expect("lock").push(id);
        Ok(())
    }

    async fn release_published(
        &self,
        hook: Received<ReleasePublished, (), Inbound>,
    ) -> Result<(), Reject> {
        self.0
            .releases
            .lock()
            .expect("lock")
            .push(hook.message.payload.tag.clone());
        Ok(())
    }

    async fn charge_succeeded(
        &self,
        hook: Received<ChargeSucceeded, (), Inbound>,
    ) -> Result<(), Reject> {
        let h = hook.message.headers.clone().expect("typed headers");
        self.0.provider.lock().expect("lock").push((
            "chargeSucceeded".into(),
            hook.message.payload.charge_id.clone(),
            h.idempotency_key,
            h.x_provider_attempt,
        ));
        Ok(())
    }

    async fn dispute_event(&self, hook: Received<DisputeEvent, (), Inbound>) -> Result<(), Reject> {
        let seen = match hook.message {
            DisputeEvent::DisputeOpened(m) => format!("opened {}", m.payload.dispute_id),
            DisputeEvent::DisputeClosed(m) => format!("closed {}", m.payload.dispute_id),
        };
        self.0.disputes.lock().expect("lock").push(seen);
        Ok(())
    }

    async fn charge_refunded(
        &self,
        hook: Received<ChargeRefunded, (), Inbound>,
    ) -> Result<(), Reject> {
        let h = hook.message.headers.clone().expect("typed headers");
        self.0.provider.lock().expect("lock").push((
            "chargeRefunded".into(),
            hook.message.payload.charge_id.clone(),
            h.idempotency_key,
            h.x_provider_attempt,
        ));
        Ok(())
    }
}

/// Quick retries, loopback allowed: the settings of every test sender.
/// The transport's own error inside the generated API's error (for the detail of a `412` or a
/// dead letter), failing the test when it is another.
fn detail<T: std::error::Error + Send + Sync + 'static, V>(r: Result<V, Error>) -> Result<V, T> {
    r.map_err(|e| {
        e.downcast::<T>()
            .unwrap_or_else(|e| panic!("another error: {e}"))
    })
}

fn fast(max_retries: u32) -> SenderConfig {
    SenderConfig {
        backoff: Backoff {
            base: Duration::from_millis(40),
            max: Duration::from_millis(300),
            factor: 2.0,
            max_attempts: Some(max_retries),
            jitter: true,
        },
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        addresses: AddressPolicy::allow_loopback(),
        ..SenderConfig::default()
    }
}

struct Secrets {
    payments: String,
    github: String,
    provider: String,
}

fn config(secrets: &Secrets) -> Config {
    let mut c = Config::default();
    c.payment_settled_receiver.secrets = vec![secrets.payments.clone()];
    c.release_published_receiver.secrets = vec![secrets.github.clone()];
    c.provider_receiver.secrets = vec![secrets.provider.clone()];
    c.dispute_event_receiver.secrets = vec![secrets.provider.clone()];
    c.webhooks = fast(20);
    c.subscriptions.addresses = AddressPolicy::allow_loopback();
    c
}

fn secrets() -> Secrets {
    Secrets {
        payments: generate_secret(),
        github: "a github secret".into(),
        provider: generate_secret(),
    }
}

async fn serve_on(listener: tokio::net::TcpListener, app: axum::Router) {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    serve_on(listener, app).await;
    format!("http://{addr}")
}

/// A generated server on a loopback port: its base URL, sender and what it saw.
async fn start(config: Config) -> (String, snapshot_ledger_hooks::server::Sender, Arc<Seen>) {
    let server = Server::new(config).expect("a valid configuration");
    let seen = Arc::new(Seen::default());
    let base = serve(server.router(App(seen.clone()))).await;
    (base, server.sender(), seen)
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn payment(id: &str, account: &str, cents: u64) -> PaymentSettled {
    PaymentSettled::new(PaymentSettledPayload {
        payment_id: id.into(),
        account_id: account.into(),
        amount_cents: cents,
        currency: Currency::Eur,
        extra: Default::default(),
    })
}

fn entry(n: u32) -> EntryPosted {
    EntryPosted::new(Entry {
        entry_id: format!("e{n}"),
        account_id: "acc-1".into(),
        amount_cents: i64::from(n) * 100,
        currency: Currency::Usd,
        posted_at: DateTime::now(),
        extra: Default::default(),
    })
}

async fn json(r: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&r.bytes().await.expect("body")).expect("json")
}

pub(crate) fn http() -> reqwest::Client {
    asyncforge_runtime::http::client_builder()
        .expect("tls")
        .build()
        .expect("client")
}

/// Signed headers for `body` (Standard Webhooks).
fn signed(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    for (k, v) in Signer::new(Scheme::StandardWebhooks, &[secret])
        .expect("signer")
        .sign(id, timestamp, body)
    {
        h.insert(k, v);
    }
    h.insert(
        reqwest::header::CONTENT_TYPE,
        "application/json".parse().expect("header"),
    );
    h
}

// ---------------------------------------------------------------------------------------
// Received webhooks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_client_posts_webhooks_the_generated_server_verifies() {
    let s = secrets();
    let (base, _, seen) = start(config(&s)).await;
    let client = PaymentsClient::new(&base, &s.payments, fast(5)).expect("client");
    assert_eq!(client.subscriber().scheme, Scheme::StandardWebhooks);
    let d = client
        .payment_settled(payment("p1", "acc-1", 500))
        .await
        .expect("delivered");
    assert_eq!((d.status, d.attempts), (204, 1));
    assert_eq!(seen.payments(), vec!["p1"]);

    // A handler asking for a retry: 500, the client retries with the same id, handled once.
    seen.fail_once.lock().expect("lock").push("p2".into());
    let d = client
        .payment_settled(payment("p2", "acc-1", 700))
        .await
        .expect("delivered");
    assert_eq!(d.attempts, 2);
    assert_eq!(seen.payments(), vec!["p1", "p2"]);

    // Payload against the schema (`amountCents` minimum 1): the generated client does not send
    // it (outgoing checks are on in debug builds) ...
    let err = client
        .payment_settled(payment("p3", "acc-1", 0))
        .await
        .expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("/amountCents"), "{err}");
    // ... and a peer that sends it anyway gets 422 from the server.
    let body = br#"{"paymentId":"p3","accountId":"acc-1","amountCents":0,"currency":"EUR"}"#;
    let r = http()
        .post(format!("{base}/v1/webhooks/payments"))
        .headers(signed(&s.payments, "msg_p3", unix_now(), body))
        .body(body.to_vec())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    assert!(seen.payments().len() == 2, "not handled");
    // A handler rejecting: 422, not retried.
    let err = detail::<DeliveryError, _>(client.payment_settled(payment("p4", "frozen", 10)).await)
        .expect_err("rejected");
    match err {
        DeliveryError::DeadLettered(dl) => {
            assert_eq!(dl.error, AttemptError::Status(422));
            assert_eq!(dl.delivery.attempts, 1);
        }
        other => panic!("unexpected {other}"),
    }

    // The code-host endpoint verifies GitHub-style signatures.
    let gh = CodeHostClient::new(&base, &s.github, fast(5)).expect("client");
    assert_eq!(gh.subscriber().scheme, Scheme::GitHub);
    gh.release_published(ReleasePublished::new(ReleasePublishedPayload {
        tag: "v1.2.0".into(),
        repository: "ledger".into(),
        extra: Default::default(),
    }))
    .await
    .expect("delivered");
    assert_eq!(*seen.releases.lock().expect("lock"), vec!["v1.2.0"]);
    // A Standard Webhooks client with the wrong secret is refused (401, not retried).
    let wrong = PaymentsClient::new(&base, generate_secret(), fast(5)).expect("client");
    let err = detail::<DeliveryError, _>(wrong.payment_settled(payment("p5", "acc-1", 10)).await)
        .expect_err("refused");
    assert!(
        matches!(err, DeliveryError::DeadLettered(dl) if dl.error == AttemptError::Status(401))
    );
    assert_eq!(seen.payments(), vec!["p1", "p2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_tampered_and_stale_webhooks_are_rejected() {
    let s = secrets();
    let (base, _, seen) = start(config(&s)).await;
    let url = format!("{base}/v1/webhooks/payments");
    let http = http();
    let body = br#"{"paymentId":"r1","accountId":"acc-1","amountCents":100,"currency":"EUR"}"#;
    let now = unix_now();
    let headers = signed(&s.payments, "msg_r1", now, body);
    let post = |headers: reqwest::header::HeaderMap, body: Vec<u8>| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.post(url)
                .headers(headers)
                .body(body)
                .send()
                .await
                .expect("post")
        }
    };
    let first = post(headers.clone(), body.to_vec()).await;
    assert_eq!(first.status(), 204);
    // The same request again (a replay within the tolerance): acknowledged, not handled.
    let replay = post(headers.clone(), body.to_vec()).await;
    assert_eq!(replay.status(), 204);
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(seen.payments(), vec!["r1"]);
    // Tampered body, same signature: 401.
    let tampered = post(headers.clone(), body.to_vec().repr_replace(b"100", b"900")).await;
    assert_eq!(tampered.status(), 401);
    // Tampered id (a replay under a fresh id to dodge deduplication): 401.
    let mut other_id = headers.clone();
    other_id.insert("webhook-id", "msg_r2".parse().expect("header"));
    assert_eq!(post(other_id, body.to_vec()).await.status(), 401);
    // A correctly signed but stale request (outside the 300 s tolerance): 401.
    let stale = signed(&s.payments, "msg_r3", now - 600, body);
    assert_eq!(post(stale, body.to_vec()).await.status(), 401);
    // From the future, too.
    let early = signed(&s.payments, "msg_r4", now + 600, body);
    assert_eq!(post(early, body.to_vec()).await.status(), 401);
    // Unsigned: 401. Not JSON but signed: 400.
    assert_eq!(
        http.post(&url)
            .body(body.to_vec())
            .send()
            .await
            .expect("post")
            .status(),
        401
    );
    let junk = b"not json";
    assert_eq!(
        post(signed(&s.payments, "msg_r5", now, junk), junk.to_vec())
            .await
            .status(),
        400
    );
    assert_eq!(seen.payments(), vec!["r1"]);
}

trait ReprReplace {
    fn repr_replace(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReprReplace for Vec<u8> {
    fn repr_replace(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = self
            .windows(from.len())
            .position(|w| w == from)
            .expect("present");
        let mut out = self[..at].to_vec();
        out.extend_from_slice(to);
        out.extend_from_slice(&self[at + from.len()..]);
        out
    }
}

/// The receiver is down for a while, then back; meanwhile the first acknowledgement of every
/// other webhook is lost after it was handled (the sender sees a 500 and sends it again).
/// Every webhook is delivered, each handled once, and the duplicates reached the receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_then_back_every_webhook_handled_once() {
    const N: usize = 20;
    let s = secrets();
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = probe.local_addr().expect("addr");
    drop(probe);
    let base = format!("http://{addr}");
    let client = Arc::new(PaymentsClient::new(&base, &s.payments, fast(60)).expect("client"));
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                c.payment_settled(payment(&format!("o{i}"), "acc-1", 10))
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let server = Server::new(config(&s)).expect("a valid configuration");
    let seen = Arc::new(Seen::default());
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let replays = Arc::new(AtomicUsize::new(0));
    let (h, r) = (hits.clone(), replays.clone());
    let app = server
        .router(App(seen.clone()))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let (h, r) = (h.clone(), r.clone());
                async move {
                    let id = req
                        .headers()
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let resp = next.run(req).await;
                    if resp.headers().contains_key("idempotent-replayed") {
                        r.fetch_add(1, Ordering::SeqCst);
                    }
                    let n = {
                        let mut m = h.lock().expect("lock");
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
            },
        ));
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    serve_on(listener, app).await;
    for t in tasks {
        let d = t.await.expect("task").expect("delivered");
        assert!(d.attempts >= 2, "the first attempt met a closed port");
    }
    let counts = seen.payment_counts();
    assert_eq!(counts.len(), N, "every webhook delivered: {counts:?}");
    assert!(
        counts.values().all(|n| *n == 1),
        "each handled once: {counts:?}"
    );
    assert!(
        replays.load(Ordering::SeqCst) > 0,
        "duplicates reached the receiver and were removed"
    );
}

// ---------------------------------------------------------------------------------------
// Sent webhooks

type Got = Arc<Mutex<Vec<(String, String)>>>;

/// A subscriber endpoint (the runtime receiver over the generated `EntryPosted` type) that
/// records (webhook id, entry id), answering 503 while `healthy` is false.
async fn subscriber(secret: &str, healthy: Arc<AtomicBool>) -> (String, Got, Arc<AtomicUsize>) {
    let got: Got = Arc::default();
    let attempts = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let rx = RawReceiver::new(RawConfig::new(secret), move |hook: Webhook<EntryPosted>| {
        let g = g.clone();
        async move {
            g.lock().expect("lock").push((
                hook.meta.id.unwrap_or_default(),
                hook.message.payload.entry_id,
            ));
            Ok(())
        }
    })
    .expect("receiver");
    let a = attempts.clone();
    let app = axum::Router::new().route(
        "/hooks/entry-posted",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (rx, healthy, a) = (rx.clone(), healthy.clone(), a.clone());
            async move {
                a.fetch_add(1, Ordering::SeqCst);
                if !healthy.load(Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                rx.receive(&headers, &body).await
            }
        }),
    );
    let base = serve(app).await;
    (format!("{base}/hooks/entry-posted"), got, attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_register_and_feed_the_generated_sender() {
    let s = secrets();
    let (base, sender, _) = start(config(&s)).await;
    let (url, got, _) = subscriber(&generate_secret(), Arc::new(AtomicBool::new(true))).await;
    let http = http();
    let subs = format!("{base}/v1/subscriptions");
    // Registration without a secret: the server makes one and shows it once.
    let r = http
        .post(&subs)
        .header("content-type", "application/json")
        .body(serde_json::json!({"url": url, "events": ["entryPosted"]}).to_string())
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 201);
    let created = json(r).await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    // The subscriber learns its secret now; restart it with that secret.
    let (url2, got2, _) = subscriber(&secret, Arc::new(AtomicBool::new(true))).await;
    let r = http
        .post(&subs)
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"url": url2, "events": ["entryPosted"], "secret": secret})
                .to_string(),
        )
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 201);
    let second = json(r).await;
    // Unknown events and refused destinations are 422.
    for bad in [
        serde_json::json!({"url": url2, "events": ["noSuchEvent"]}),
        serde_json::json!({"url": "http://169.254.169.254/latest", "events": ["entryPosted"]}),
        serde_json::json!({"url": "http://10.1.2.3/hook", "events": ["entryPosted"]}),
    ] {
        let r = http
            .post(&subs)
            .body(bad.to_string())
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 422, "{bad}");
    }
    let list = json(http.get(&subs).send().await.expect("list")).await;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(
        list.to_string().find(&secret).is_none(),
        "secrets are never listed"
    );
    // The first registration's endpoint does not know the generated secret: remove it.
    let r = http
        .delete(format!("{subs}/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);

    let ids = sender
        .entry_posted_publish(entry(1))
        .await
        .expect("publish");
    assert_eq!(ids.len(), 1);
    // `statementReady` has no subscription here: nothing queued.
    let none = sender
        .statement_ready_publish(snapshot_ledger_hooks::messages::StatementReady::new(
            StatementReadyPayload {
                account_id: "acc-1".into(),
                period: "2024-05".into(),
                url: "https://example.invalid/s.pdf".into(),
            },
        ))
        .await
        .expect("publish");
    assert!(none.is_empty());
    eventually("the callback", || !got2.lock().expect("lock").is_empty()).await;
    assert_eq!(
        got2.lock().expect("lock")[0],
        (ids[0].clone(), "e1".to_owned())
    );
    assert!(got.lock().expect("lock").is_empty());
    assert_eq!(second["events"][0], "entryPosted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrf_targets_are_refused_by_the_generated_sender() {
    let s = secrets();
    let mut c = config(&s);
    // The default policy: public addresses only.
    c.webhooks = SenderConfig {
        addresses: AddressPolicy::public_only(),
        ..fast(3)
    };
    let dead = Arc::new(Mutex::new(Vec::new()));
    let d = dead.clone();
    c.dead_letter = Some(Arc::new(
        move |l: &snapshot_ledger_hooks::server::DeadLetter| {
            d.lock()
                .expect("lock")
                .push(l.delivery.subscriber.url.clone())
        },
    ));
    let (_, sender, _) = start(c).await;
    let healthy = Arc::new(AtomicBool::new(true));
    let (url, got, attempts) = subscriber(&s.payments, healthy).await;
    let targets = [
        url.clone(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.1/hook".to_owned(),
        "http://[::ffff:127.0.0.1]:9/hook".to_owned(),
        "http://[fd00:ec2::254]/".to_owned(),
    ];
    for t in &targets {
        let sub =
            snapshot_ledger_hooks::server::Sender::entry_posted_subscriber("x", t, &s.payments);
        let err =
            detail::<DeliveryError, _>(sender.entry_posted(&sub, entry(9)).await).expect_err(t);
        match err {
            DeliveryError::DeadLettered(dl) => {
                assert!(
                    matches!(dl.error, AttemptError::Refused(Refused::Address { .. })),
                    "{t}: {:?}",
                    dl.error
                );
                assert_eq!(dl.delivery.attempts, 1, "not retried");
            }
            other => panic!("{t}: {other}"),
        }
    }
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        0,
        "no request reached loopback"
    );
    assert!(got.lock().expect("lock").is_empty());
    assert_eq!(dead.lock().expect("lock").len(), targets.len());
}

const CHILD_ENV: &str = "ASYNCFORGE_WEBHOOK_SENDER_CHILD";

/// The sender *process* `sender_process_killed_mid_retry_resumes_from_outbox` starts and kills:
/// this test binary run with `--ignored --exact webhooks::child_sender_process` and
/// `ASYNCFORGE_WEBHOOK_SENDER_CHILD=<outbox>|<url>|<secret>|<n>`. It enqueues n webhooks with
/// the generated sender and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for sender_process_killed_mid_retry_resumes_from_outbox"]
async fn child_sender_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        println!("helper only: run by sender_process_killed_mid_retry_resumes_from_outbox");
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let [outbox, url, secret, n] = parts[..] else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let mut c = config(&secrets());
    c.webhooks = fast(10_000);
    c.outbox = Arc::new(FileOutbox::open(outbox).expect("outbox"));
    let server = Server::new(c).expect("a valid configuration");
    let sender = server.sender();
    let sub = snapshot_ledger_hooks::server::Sender::entry_posted_subscriber("s1", url, secret);
    for i in 0..n.parse::<u32>().expect("n") {
        sender
            .entry_posted_enqueue(&sub, entry(i))
            .await
            .expect("enqueue");
    }
    println!("enqueued");
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_process_killed_mid_retry_resumes_from_outbox() {
    const N: usize = 5;
    let secret = generate_secret();
    let healthy = Arc::new(AtomicBool::new(false));
    let (url, got, attempts) = subscriber(&secret, healthy.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outbox.log");
    let spec = format!("{}|{url}|{secret}|{N}", path.display());
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "webhooks::child_sender_process",
            "--nocapture",
        ])
        .env(CHILD_ENV, &spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the sender process");
    // Every webhook attempted at least twice (503s): the sender is mid-retry.
    let a = attempts.clone();
    eventually("retries", || a.load(Ordering::SeqCst) >= 2 * N).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let at_kill = attempts.load(Ordering::SeqCst);
    assert!(got.lock().expect("lock").is_empty());

    let outbox = Arc::new(FileOutbox::open(&path).expect("reopen"));
    let pending = outbox.pending().await.expect("pending");
    assert_eq!(pending.len(), N, "the outbox kept every delivery");
    healthy.store(true, Ordering::SeqCst);
    // A new process: a generated server on the same outbox file.
    let mut c = config(&secrets());
    c.webhooks = fast(10_000);
    c.outbox = outbox.clone();
    let server = Server::new(c).expect("a valid configuration");
    let results = server.sender().resume_webhooks().await.expect("resume");
    assert_eq!(results.len(), N);
    for r in results {
        r.expect("delivered");
    }
    let got = got.lock().expect("lock").clone();
    let mut entries: Vec<&str> = got.iter().map(|(_, e)| e.as_str()).collect();
    entries.sort_unstable();
    assert_eq!(
        entries,
        ["e0", "e1", "e2", "e3", "e4"],
        "all delivered, once"
    );
    let ids: std::collections::BTreeSet<&str> = pending.iter().map(|d| d.id.as_str()).collect();
    assert!(
        got.iter().all(|(id, _)| ids.contains(id.as_str())),
        "the webhook ids of the first process"
    );
    assert!(outbox.pending().await.expect("pending").is_empty());
    println!("sender killed after {at_kill} attempts; the restarted process delivered all {N}");
}

// ---------------------------------------------------------------------------------------
// Resources

fn account(id: &str, balance: i64) -> Account {
    Account::new(AccountPayload {
        account_id: id.into(),
        owner: "ada".into(),
        balance_cents: balance,
        status: AccountPayloadStatus::Open,
        extra: Default::default(),
    })
}

fn acc(id: &str) -> AccountParams {
    AccountParams {
        account_id: id.into(),
    }
}

fn ctr(id: &str) -> CounterParams {
    CounterParams {
        counter_id: id.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_loses_no_update_among_100_concurrent_writers() {
    const WRITERS: usize = 100;
    let (base, sender, _) = start(config(&secrets())).await;
    let accounts = AccountClient::new(&base).expect("client");
    let counters = CounterClient::new(&base).expect("client");
    sender
        .account_set(&acc("a"), account("a", 0))
        .await
        .expect("set");
    sender
        .counter_set(
            &ctr("c"),
            Counter::new(CounterPayload {
                value: 0,
                extra: Default::default(),
            }),
        )
        .await
        .expect("set");

    // Every writer reads, waits until all have read, then writes what it read plus one.
    // With If-Match, a writer whose read is stale gets a conflict, reads again and retries.
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let conflicts = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (c, b, n) = (accounts.clone(), barrier.clone(), conflicts.clone());
            tokio::spawn(async move {
                let mut read = c.get(&acc("a")).await.expect("get");
                b.wait().await;
                for _ in 0..10_000 {
                    let mut next = read.value.clone();
                    next.payload.balance_cents += 1;
                    let tag = read.etag.clone().expect("etag");
                    match detail(c.put_if_match(&acc("a"), &next, &tag).await) {
                        Ok(_) => return,
                        Err(ClientError::Conflict { .. }) => {
                            n.fetch_add(1, Ordering::SeqCst);
                            read = c.get(&acc("a")).await.expect("get");
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                panic!("no progress");
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
    let final_balance = accounts
        .get(&acc("a"))
        .await
        .expect("get")
        .value
        .payload
        .balance_cents;
    assert_eq!(final_balance, WRITERS as i64, "no update lost");
    assert!(
        conflicts.load(Ordering::SeqCst) >= WRITERS - 1,
        "every stale write was refused"
    );

    // The same without preconditions (the counter allows it): the updates are lost.
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (c, b) = (counters.clone(), barrier.clone());
            tokio::spawn(async move {
                let read = c.get(&ctr("c")).await.expect("get");
                b.wait().await;
                let mut next = read.value.clone();
                next.payload.value += 1;
                c.put(&ctr("c"), &next, &WriteOptions::default())
                    .await
                    .expect("unconditional write");
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
    let value = counters
        .get(&ctr("c"))
        .await
        .expect("get")
        .value
        .payload
        .value;
    println!(
        "100 read-modify-write cycles: with If-Match {final_balance} (after {} conflicts), without preconditions {value}",
        conflicts.load(Ordering::SeqCst)
    );
    assert_eq!(
        value,
        1,
        "every writer read 0: {} updates lost",
        WRITERS as u64 - value
    );

    // The generated `update` loop does the same with fewer lines.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let c = accounts.clone();
            tokio::spawn(async move {
                c.update(&acc("a"), 1000, |mut a| {
                    a.payload.balance_cents += 10;
                    a
                })
                .await
                .expect("update")
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(
        sender
            .account_get(&acc("a"))
            .await
            .expect("read")
            .expect("stored")
            .value
            .payload
            .balance_cents,
        WRITERS as i64 + 200
    );
    // Writes without a precondition are refused on accounts (428).
    let err = detail::<ClientError, _>(
        accounts
            .put(&acc("a"), &account("a", 0), &WriteOptions::default())
            .await,
    )
    .expect_err("428");
    assert!(matches!(err, ClientError::PreconditionRequired), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_conflict_expire_and_release() {
    let (base, sender, _) = start(config(&secrets())).await;
    let c = AccountClient::new(&base).expect("client");
    sender
        .account_set(&acc("l"), account("l", 5))
        .await
        .expect("set");
    let alice = c
        .lock(&acc("l"), "alice", Some(Duration::from_secs(2)))
        .await
        .expect("alice locks");
    assert_eq!(alice.holder, "alice");
    // Bob cannot lock (409 with the holder) nor write (423).
    match detail(c.lock(&acc("l"), "bob", None).await) {
        Err(ClientError::Locked { holder, until }) => {
            assert_eq!(holder, "alice");
            assert_eq!(until, alice.until);
        }
        other => panic!("{other:?}"),
    }
    let read = c.get(&acc("l")).await.expect("get");
    let tag = read.etag.clone().expect("etag");
    let err = detail::<ClientError, _>(c.put_if_match(&acc("l"), &account("l", 6), &tag).await)
        .expect_err("locked");
    assert!(
        matches!(err, ClientError::Locked { ref holder, .. } if holder == "alice"),
        "{err}"
    );
    // Alice writes with her token (and If-Match, which this resource requires).
    let options = WriteOptions {
        if_match: Some(tag),
        lock_token: Some(alice.token.clone()),
        ..WriteOptions::default()
    };
    c.put(&acc("l"), &account("l", 7), &options)
        .await
        .expect("holder writes");
    // The lock expires by itself: Bob gets it after at most its TTL.
    let started = Instant::now();
    let bob = loop {
        match detail(
            c.lock(&acc("l"), "bob", Some(Duration::from_secs(30)))
                .await,
        ) {
            Ok(g) => break g,
            Err(ClientError::Locked { .. }) => {
                assert!(started.elapsed() < WAIT, "the lock never expired");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(bob.holder, "bob");
    // Alice's expired token no longer writes.
    let tag = c.get(&acc("l")).await.expect("get").etag.expect("etag");
    let stale = WriteOptions {
        if_match: Some(tag),
        lock_token: Some(alice.token.clone()),
        ..WriteOptions::default()
    };
    assert!(matches!(
        detail(c.put(&acc("l"), &account("l", 8), &stale).await),
        Err(ClientError::Locked { .. })
    ));
    // Released: Carol locks at once.
    c.unlock(&acc("l"), &bob.token).await.expect("release");
    let carol = c.lock(&acc("l"), "carol", None).await.expect("carol locks");
    assert_eq!(carol.holder, "carol");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_returns_on_change_and_304_on_timeout() {
    let (base, sender, _) = start(config(&secrets())).await;
    let c = AccountClient::new(&base).expect("client");
    sender
        .account_set(&acc("p"), account("p", 1))
        .await
        .expect("set");
    let first = c.get(&acc("p")).await.expect("get");
    let tag = first.etag.clone().expect("etag");
    // Unchanged for the whole wait: 304 (`None`) after about a second.
    let started = Instant::now();
    let unchanged = c
        .get_if_changed(&acc("p"), Some(&tag), Some(Duration::from_secs(1)))
        .await
        .expect("poll");
    assert!(unchanged.is_none());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the server held the request"
    );

    // The generated poller: the current version, then each change as it happens.
    let mut poller = c.poll(&acc("p"), PollConfig::long(Duration::from_secs(20)));
    let v = poller.next().await.expect("current");
    assert_eq!(v.value.payload.balance_cents, 1);
    let s = sender.clone();
    let writer = tokio::spawn(async move {
        for b in 2..=4 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            s.account_set(&acc("p"), account("p", b))
                .await
                .expect("set");
        }
    });
    let mut seen = Vec::new();
    while seen.last() != Some(&4) {
        let v = tokio::time::timeout(WAIT, poller.next())
            .await
            .expect("a change within the wait")
            .expect("poll");
        seen.push(v.value.payload.balance_cents);
    }
    writer.await.expect("writer");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
    // Plain interval polling sees the change too.
    let mut plain = c.poll(&acc("p"), PollConfig::interval(Duration::from_millis(50)));
    assert_eq!(
        plain
            .next()
            .await
            .expect("current")
            .value
            .payload
            .balance_cents,
        4
    );
    sender
        .account_set(&acc("p"), account("p", 5))
        .await
        .expect("set");
    let v = tokio::time::timeout(WAIT, plain.next())
        .await
        .expect("in time")
        .expect("poll");
    assert_eq!(v.value.payload.balance_cents, 5);
}

/// `curl` against the generated server: 428, 201, 304, 412, 409 (and 423).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sees_304_412_428_and_409() {
    if Command::new("curl").arg("--version").output().is_err() {
        return asyncforge_testkit::skip("curl", "apt-get install curl");
    }
    let (base, _, _) = start(config(&secrets())).await;
    let url = format!("{base}/v1/accounts/curl-1");
    let body = r#"{"accountId":"curl-1","owner":"ada","balanceCents":0,"status":"open"}"#;
    // Runs curl off the runtime's workers; returns (status, headers).
    let curl = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}"])
                .args(&args)
                .stdin(Stdio::null())
                .output()
                .expect("curl");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let status: u16 = text
                .trim()
                .rsplit('\n')
                .next()
                .unwrap_or("")
                .trim()
                .parse()
                .unwrap_or(0);
            (status, text)
        })
    };
    let h = |s: &str| vec!["-H".to_owned(), s.to_owned()];
    let put = |extra: Vec<String>| {
        let mut a = vec![
            "-X".to_owned(),
            "PUT".to_owned(),
            "--data".to_owned(),
            body.to_owned(),
        ];
        a.extend(h("content-type: application/json"));
        a.extend(extra);
        a.push(url.clone());
        a
    };
    let (status, _) = curl(put(vec![])).await.expect("curl");
    assert_eq!(status, 428, "a write without a precondition");
    let (status, headers) = curl(put(h("if-none-match: *"))).await.expect("curl");
    assert_eq!(status, 201, "created with If-None-Match: *");
    let etag = headers
        .lines()
        .find_map(|l| {
            l.strip_prefix("etag: ")
                .or_else(|| l.strip_prefix("ETag: "))
        })
        .expect("etag")
        .trim()
        .to_owned();
    let (status, _) = curl(vec![url.clone()]).await.expect("curl");
    assert_eq!(status, 200);
    let (status, _) = curl([h(&format!("if-none-match: {etag}")), vec![url.clone()]].concat())
        .await
        .expect("curl");
    assert_eq!(status, 304);
    let (status, _) = curl(put(h("if-match: \"stale\""))).await.expect("curl");
    assert_eq!(status, 412);
    let (status, _) = curl(put(h("if-none-match: *"))).await.expect("curl");
    assert_eq!(status, 412, "exists already");
    let lock = |holder: &str| {
        let mut a = vec![
            "-X".to_owned(),
            "POST".to_owned(),
            "--data".to_owned(),
            format!(r#"{{"holder":"{holder}"}}"#),
        ];
        a.extend(h("content-type: application/json"));
        a.push(format!("{url}/lock"));
        a
    };
    let (status, _) = curl(lock("alice")).await.expect("curl");
    assert_eq!(status, 201);
    let (status, _) = curl(lock("bob")).await.expect("curl");
    assert_eq!(status, 409, "locked by alice");
    let (status, _) = curl(put(h(&format!("if-match: {etag}"))))
        .await
        .expect("curl");
    assert_eq!(status, 423, "a write without the lock token");
}

// ---------------------------------------------------------------------------------------
// Interop with the Standard Webhooks reference implementation (Python)

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/interop/webhooks/standard_webhooks.py"
);

fn python(command: &str, input: serde_json::Value) -> Option<(i32, String)> {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()?
        .write_all(input.to_string().as_bytes())
        .ok()?;
    let out = child.wait_with_output().ok()?;
    let code = out.status.code().unwrap_or(-1);
    if code == 3 {
        return None;
    }
    Some((code, String::from_utf8_lossy(&out.stdout).trim().to_owned()))
}

fn reference_available() -> bool {
    let ok = python(
        "sign",
        serde_json::json!({"secret": generate_secret(), "id": "x", "timestamp": 1, "body": ""}),
    )
    .is_some_and(|(code, _)| code == 0);
    if !ok {
        asyncforge_testkit::skip(
            "python3 with the `standardwebhooks` package",
            "python3 -m pip install standardwebhooks",
        );
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_webhooks_reference_verifies_the_generated_sender_and_signs_for_the_receiver() {
    if !reference_available() {
        return;
    }
    let s = secrets();
    let (base, sender, seen) = start(config(&s)).await;

    // Our generated sender → the reference verifies what went over the wire.
    let captured: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let c = captured.clone();
    let capture = serve(axum::Router::new().route(
        "/capture",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let c = c.clone();
            async move {
                c.lock().expect("lock").push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    ))
    .await;
    let secret = generate_secret();
    let sub = snapshot_ledger_hooks::server::Sender::entry_posted_subscriber(
        "py",
        format!("{capture}/capture"),
        &secret,
    );
    sender
        .entry_posted(&sub, entry(42))
        .await
        .expect("delivered");
    let (headers, body) = captured.lock().expect("lock")[0].clone();
    let header_map: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = String::from_utf8(body.to_vec()).expect("utf-8");
    let (code, out) = python(
        "verify",
        serde_json::json!({"secret": secret, "headers": header_map, "body": body}),
    )
    .expect("python");
    assert_eq!(
        code, 0,
        "the reference rejected the generated sender's signature: {out}"
    );
    let (code, _) = python(
        "verify",
        serde_json::json!({"secret": secret, "headers": header_map, "body": body.replace("e42", "e43")}),
    )
    .expect("python");
    assert_eq!(code, 1, "and it rejects a changed body");

    // The reference signs and posts → the generated receiver verifies, deduplicates.
    let url = format!("{base}/v1/webhooks/payments");
    let payload = r#"{"paymentId":"py-1","accountId":"acc-1","amountCents":250,"currency":"GBP"}"#;
    let post = |secret: String, id: &str| {
        let input = serde_json::json!({"secret": secret, "id": id, "body": payload, "url": url});
        tokio::task::spawn_blocking(move || python("post", input))
    };
    let status = |r: Option<(i32, String)>| r.expect("python").1;
    assert_eq!(
        status(post(s.payments.clone(), "msg_py1").await.expect("task")),
        "204"
    );
    assert_eq!(
        status(post(s.payments.clone(), "msg_py1").await.expect("task")),
        "204"
    );
    assert_eq!(seen.payments(), vec!["py-1"], "handled once");
    assert_eq!(
        status(post(generate_secret(), "msg_py2").await.expect("task")),
        "401"
    );
    assert_eq!(seen.payments(), vec!["py-1"]);
}

// ---------------------------------------------------------------------------------------
// Message headers, several event types on one URL, checked resource writes, resource keys,
// configuration checked at start

fn provider_headers(key: &str, attempt: Option<u64>) -> ProviderHeaders {
    ProviderHeaders {
        idempotency_key: key.into(),
        x_provider_attempt: attempt,
        extra: Default::default(),
    }
}

fn refund(charge: &str, key: &str, attempt: Option<u64>) -> ChargeRefunded {
    let mut m = ChargeRefunded::new(ChargeRefundedPayload {
        charge_id: charge.into(),
        refund_id: format!("re-{charge}"),
        amount_cents: Some(250),
        extra: Default::default(),
    });
    m.headers = Some(provider_headers(key, attempt));
    m
}

fn provider_events(seen: &Seen) -> Vec<ProviderEvent> {
    seen.provider.lock().expect("lock").clone()
}

/// A free loopback port (bound, then released) for a receiver started later.
fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_headers_travel_with_webhooks_and_survive_a_restart_in_the_outbox() {
    let s = secrets();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outbox.log");
    let addr = free_port();
    let hook_url = format!("http://{addr}/v1/webhooks/provider");

    // A first process (its own runtime) queues a refund notice while the receiver is down,
    // attempts it once, and stops: its runtime is shut down with the delivery pending.
    let (p, url, secret) = (path.clone(), hook_url.clone(), s.provider.clone());
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let mut c = config(&secrets());
            c.webhooks = fast(10_000);
            c.outbox = Arc::new(FileOutbox::open(&p).expect("outbox"));
            let server = Server::new(c).expect("a valid configuration");
            let sender = server.sender();
            let sub = snapshot_ledger_hooks::server::Sender::refund_issued_subscriber(
                "provider-endpoint",
                url,
                secret,
            );
            sender
                .refund_issued_enqueue(&sub, refund("ch-1", "refund-key-0001", Some(2)))
                .await
                .expect("enqueue");
            let deadline = Instant::now() + WAIT;
            while sender.webhooks().pending().await.expect("pending")[0].attempts == 0 {
                assert!(Instant::now() < deadline, "no attempt made");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        rt.shutdown_background();
    })
    .await
    .expect("first process");

    // The record on disk carries the message's headers.
    let outbox = Arc::new(FileOutbox::open(&path).expect("reopen"));
    let pending = outbox.pending().await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].headers,
        vec![
            ("Idempotency-Key".to_owned(), "refund-key-0001".to_owned()),
            ("X-Provider-Attempt".to_owned(), "2".to_owned())
        ]
    );

    // The receiver comes up; a new process on the same outbox finishes the delivery, and the
    // handler gets the headers typed.
    let server = Server::new(config(&s)).expect("a valid configuration");
    let seen = Arc::new(Seen::default());
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    serve_on(listener, server.router(App(seen.clone()))).await;
    let mut c = config(&secrets());
    c.webhooks = fast(10_000);
    c.outbox = outbox.clone();
    let restarted = Server::new(c).expect("a valid configuration");
    let results = restarted.sender().resume_webhooks().await.expect("resume");
    assert_eq!(results.len(), 1);
    results.into_iter().for_each(|r| {
        r.expect("delivered");
    });
    assert_eq!(
        provider_events(&seen),
        vec![(
            "chargeRefunded".to_owned(),
            "ch-1".to_owned(),
            "refund-key-0001".to_owned(),
            Some(2)
        )]
    );
    assert!(outbox.pending().await.expect("pending").is_empty());

    // Straight from the generated sender and the generated client: headers go out and come
    // back typed.
    let sub = snapshot_ledger_hooks::server::Sender::refund_issued_subscriber(
        "provider-endpoint",
        hook_url.clone(),
        s.provider.clone(),
    );
    let mut sending = config(&secrets());
    sending.webhooks = fast(3);
    let sender = Server::new(sending)
        .expect("a valid configuration")
        .sender();
    sender
        .refund_issued(&sub, refund("ch-2", "refund-key-0002", None))
        .await
        .expect("delivered");
    let client =
        ProviderClient::new(&format!("http://{addr}"), &s.provider, fast(3)).expect("client");
    client
        .charge_refunded(refund("ch-3", "refund-key-0003", Some(7)))
        .await
        .expect("delivered");
    let events = provider_events(&seen);
    assert_eq!(events[1].1, "ch-2");
    assert_eq!(
        (events[1].2.as_str(), events[1].3),
        ("refund-key-0002", None)
    );
    assert_eq!(
        (events[2].2.as_str(), events[2].3),
        ("refund-key-0003", Some(7))
    );

    // Headers the schema refuses: 422 naming the header, and nothing is handled.
    let http = http();
    let body = br#"{"chargeId":"ch-4","refundId":"re-4"}"#;
    let post = |extra: &[(&str, &str)], id: &str| {
        let mut headers = signed(&s.provider, id, unix_now(), body);
        for (k, v) in extra {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        http.post(&hook_url)
            .headers(headers)
            .body(body.to_vec())
            .send()
    };
    let missing = post(&[("webhook-event", "chargeRefunded")], "msg_h1")
        .await
        .expect("post");
    assert_eq!(missing.status(), 422);
    let why = json(missing).await["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(why.contains("Idempotency-Key"), "{why}");
    let short = post(&[("idempotency-key", "short")], "msg_h2")
        .await
        .expect("post");
    assert_eq!(short.status(), 422);
    let why = json(short).await["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(why.contains("/Idempotency-Key"), "{why}");
    // Header names are matched without regard to case.
    let lower = post(
        &[
            ("idempotency-key", "refund-key-0004"),
            ("x-provider-attempt", "3"),
        ],
        "msg_h3",
    )
    .await
    .expect("post");
    assert_eq!(lower.status(), 204);
    assert_eq!(
        provider_events(&seen).last().cloned(),
        Some((
            "chargeRefunded".to_owned(),
            "ch-4".to_owned(),
            "refund-key-0004".to_owned(),
            Some(3)
        ))
    );
    // A key that looks like a number beside a typed number: each header read as its schema
    // says.
    let numeric = post(
        &[("Idempotency-Key", "12345678"), ("X-Provider-Attempt", "4")],
        "msg_h4",
    )
    .await
    .expect("post");
    assert_eq!(numeric.status(), 204);
    let last = provider_events(&seen).last().cloned().expect("handled");
    assert_eq!((last.2.as_str(), last.3), ("12345678", Some(4)));
    let bad_attempt = post(
        &[
            ("Idempotency-Key", "refund-key-0005"),
            ("X-Provider-Attempt", "zero"),
        ],
        "msg_h5",
    )
    .await
    .expect("post");
    assert_eq!(bad_attempt.status(), 422);
    let why = json(bad_attempt).await["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(why.contains("/X-Provider-Attempt"), "{why}");
    assert_eq!(provider_events(&seen).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_url_receives_several_event_types() {
    let s = secrets();
    let (base, _, seen) = start(config(&s)).await;
    // The generated client names each event with `webhook-event`.
    let client = ProviderClient::new(&base, &s.provider, fast(3)).expect("client");
    let mut succeeded = ChargeSucceeded::new(ChargeSucceededPayload {
        charge_id: "ch-1".into(),
        amount_cents: 900,
        extra: Default::default(),
    });
    succeeded.headers = Some(provider_headers("charge-key-0001", None));
    client.charge_succeeded(succeeded).await.expect("delivered");
    client
        .charge_refunded(refund("ch-1", "refund-key-0001", None))
        .await
        .expect("delivered");
    let ops = |seen: &Seen| -> Vec<(String, String)> {
        provider_events(seen)
            .into_iter()
            .map(|(op, charge, ..)| (op, charge))
            .collect()
    };
    assert_eq!(
        ops(&seen),
        vec![
            ("chargeSucceeded".to_owned(), "ch-1".to_owned()),
            ("chargeRefunded".to_owned(), "ch-1".to_owned())
        ]
    );

    // Without `webhook-event` (or with a name the endpoint does not know) the payload says
    // which; a payload that fits both, or neither, is a 422 saying so.
    let http = http();
    let url = format!("{base}/v1/webhooks/provider");
    let post = |body: &'static str, id: &str, event: Option<&str>| {
        let mut headers = signed(&s.provider, id, unix_now(), body.as_bytes());
        headers.insert("idempotency-key", "provider-key-1".parse().expect("value"));
        if let Some(e) = event {
            headers.insert("webhook-event", e.parse().expect("value"));
        }
        http.post(&url).headers(headers).body(body).send()
    };
    let r = post(r#"{"chargeId":"ch-2","amountCents":5}"#, "msg_e1", None)
        .await
        .expect("post");
    assert_eq!(r.status(), 204);
    let r = post(
        r#"{"chargeId":"ch-3","refundId":"re-3"}"#,
        "msg_e2",
        Some("charge.refunded"),
    )
    .await
    .expect("post");
    assert_eq!(r.status(), 204);
    let both = r#"{"chargeId":"ch-4","refundId":"re-4","amountCents":5}"#;
    let r = post(both, "msg_e3", None).await.expect("post");
    assert_eq!(r.status(), 422);
    let why = json(r).await["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        why.contains("several messages")
            && why.contains("`chargeSucceeded`")
            && why.contains("`chargeRefunded`"),
        "{why}"
    );
    let r = post(r#"{"chargeId":"ch-5"}"#, "msg_e4", None)
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let why = json(r).await["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(why.contains("matches none"), "{why}");
    // The same ambiguous payload, named by the header: handled by that operation.
    let r = post(both, "msg_e5", Some("chargeRefunded"))
        .await
        .expect("post");
    assert_eq!(r.status(), 204);
    let r = post(r#"not json"#, "msg_e6", None).await.expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(
        ops(&seen)[2..],
        [
            ("chargeSucceeded".to_owned(), "ch-2".to_owned()),
            ("chargeRefunded".to_owned(), "ch-3".to_owned()),
            ("chargeRefunded".to_owned(), "ch-4".to_owned())
        ]
    );
    // Ids are deduplicated across the endpoint's event types.
    let r = post(both, "msg_e5", Some("chargeSucceeded"))
        .await
        .expect("post");
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers().get("idempotent-replayed").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(ops(&seen).len(), 5);

    // One operation carrying two messages: one handler method taking the operation's enum.
    let disputes = DisputesClient::new(&base, &s.provider, fast(3)).expect("client");
    disputes
        .dispute_event(DisputeOpened::new(DisputeOpenedPayload {
            dispute_id: "d1".into(),
            reason: "fraud".into(),
            extra: Default::default(),
        }))
        .await
        .expect("delivered");
    disputes
        .dispute_event(DisputeClosed::new(DisputeClosedPayload {
            dispute_id: "d1".into(),
            outcome: DisputeClosedPayloadOutcome::Won,
            extra: Default::default(),
        }))
        .await
        .expect("delivered");
    let body = r#"{"disputeId":"d2","outcome":"lost"}"#;
    let r = http
        .post(format!("{base}/v1/webhooks/disputes"))
        .headers(signed(&s.provider, "msg_d3", unix_now(), body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 204);
    assert_eq!(
        *seen.disputes.lock().expect("lock"),
        ["opened d1", "closed d1", "closed d2"]
    );
}

fn invoice(id: &str, currency: &str) -> Invoice {
    Invoice::new(InvoicePayload {
        invoice_id: id.into(),
        amount_cents: 1200,
        currency: currency.into(),
        extra: Default::default(),
    })
}

fn inv(id: &str) -> InvoiceParams {
    InvoiceParams {
        invoice_id: id.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_writes_that_break_the_schema_are_refused_with_422() {
    let (base, sender, _) = start(config(&secrets())).await;
    let invoices = InvoiceClient::new(&base).expect("client");
    // The generated client does not send a value that breaks the schema (outgoing checks are
    // on in debug builds): the same error shape as the server's refusal, the path of each
    // violation.
    let err = invoices
        .put(
            &inv("i-1"),
            &invoice("i-1", "eur"),
            &WriteOptions::default(),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("/currency"), "{err}");
    // Nor does the application's own write.
    let err = sender
        .invoice_set(&inv("i-1"), invoice("i-1", "eur"))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(
        sender
            .invoice_get(&inv("i-1"))
            .await
            .expect("read")
            .is_none(),
        "nothing stored"
    );
    let err = invoices.get(&inv("i-1")).await.expect_err("not found");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(matches!(
        err.downcast_ref::<ClientError>(),
        Some(ClientError::NotFound)
    ));
    // A raw PUT: the same answer, with the path and the pattern.
    let r = http()
        .put(invoices.url(&inv("i-1")))
        .header("content-type", "application/json")
        .body(r#"{"invoiceId":"i-1","amountCents":-1,"currency":"EURO"}"#)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 422);
    let why = json(r).await["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        why.contains("/currency") && why.contains("/amountCents"),
        "{why}"
    );
    // A valid write is stored.
    invoices
        .put(
            &inv("i-1"),
            &invoice("i-1", "EUR"),
            &WriteOptions::default(),
        )
        .await
        .expect("stored");
    assert_eq!(
        sender
            .invoice_get(&inv("i-1"))
            .await
            .expect("read")
            .expect("stored")
            .value
            .payload
            .currency,
        "EUR"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_keys_agree_between_typed_params_and_http_paths() {
    let (base, sender, _) = start(config(&secrets())).await;
    let invoices = InvoiceClient::new(&base).expect("client");
    let ids = [
        "zahlung-ü1",
        "quote\"d",
        "<angle>",
        "with space",
        "50%",
        "%C3%BC",
        "a/b",
        "tilde~._-",
        "mix ü/%<\"> x?#&+",
    ];
    for id in ids {
        // Set by the application, read over HTTP.
        sender
            .invoice_set(&inv(id), invoice(id, "EUR"))
            .await
            .expect("set");
        let got = invoices
            .get(&inv(id))
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(got.value.payload.invoice_id, id);
        // Written over HTTP, read by the application.
        invoices
            .put_if_match(&inv(id), &invoice(id, "USD"), &got.etag.expect("an ETag"))
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let mine = sender
            .invoice_get(&inv(id))
            .await
            .expect("read")
            .expect("the client's write");
        assert_eq!(mine.value.payload.currency, "USD", "{id}");
        // The lock of the same resource.
        let grant = invoices
            .lock(&inv(id), "tester", None)
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        invoices
            .unlock(&inv(id), &grant.token)
            .await
            .expect("unlock");
    }
    assert_eq!(
        sender.invoice_store().len().await.expect("count"),
        ids.len()
    );
    // Another spelling of the same path (lower-case hex, an encoded unreserved character)
    // names the same resource.
    let r = http()
        .get(format!("{base}/v1/invoices/zahlung-%c3%bc%31"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["invoiceId"], "zahlung-ü1");
    assert_eq!(
        snapshot_ledger_hooks::server::Sender::invoice_key(&inv("a/b")),
        "/v1/invoices/a%2Fb"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_without_a_valid_secret_fails_when_the_server_is_built() {
    use asyncforge_runtime::http::ConfigError;
    let s = secrets();
    let mut missing = config(&s);
    missing.payment_settled_receiver.secrets.clear();
    match detail(Server::new(missing)) {
        Err(ConfigError::Receiver { field, route, .. }) => {
            assert_eq!(
                (field, route),
                ("payment_settled_receiver", "/v1/webhooks/payments")
            );
        }
        Err(other) => panic!("unexpected {other}"),
        Ok(_) => panic!("a receiver without a secret was accepted"),
    }
    let mut malformed = config(&s);
    malformed.provider_receiver.secrets = vec!["whsec_not base64!".into()];
    let err = Server::new(malformed)
        .err()
        .expect("a malformed secret is refused");
    assert!(
        err.to_string().contains("provider_receiver")
            && err.to_string().contains("/v1/webhooks/provider"),
        "{err}"
    );
    // Configured, the same endpoint handles the webhook (204, never 503).
    let (base, _, seen) = start(config(&s)).await;
    let d = PaymentsClient::new(&base, &s.payments, fast(0))
        .expect("client")
        .payment_settled(payment("ok-1", "acc-1", 10))
        .await
        .expect("delivered");
    assert_eq!((d.status, d.attempts), (204, 1));
    assert_eq!(seen.payments(), vec!["ok-1"]);
}

/// The generated crate of an HTTP-only spec speaks of HTTP: its documentation names no
/// WebSocket connection, close code or `Reject` frame.
#[test]
fn http_only_generated_crates_say_nothing_of_websockets() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/snapshots/ledger-hooks");
    let mut files = vec![dir.join("README.md")];
    for f in std::fs::read_dir(dir.join("src")).expect("src") {
        files.push(f.expect("entry").path());
    }
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        for (n, line) in text.lines().enumerate() {
            let t = line.trim_start();
            let is_doc = t.starts_with("///")
                || t.starts_with("//!")
                || t.starts_with("#[doc")
                || f.extension().is_some_and(|e| e == "md");
            if !is_doc {
                continue;
            }
            for word in [
                "WebSocket",
                "websocket",
                "connection",
                "upgrade",
                "1001",
                "close code",
                "Err(Reject)",
                "{\"error\"",
            ] {
                assert!(
                    !line.contains(word),
                    "{}:{}: `{word}` in the docs of an HTTP-only crate: {line}",
                    f.display(),
                    n + 1
                );
            }
        }
    }
}

/// The Postgres the tests use.
const POSTGRES: &str = "host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_generated_replicas_share_resources_in_postgres() {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let table = format!("wire_resources_{stamp}_{}", std::process::id());
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let resources = match PostgresResources::connect(POSTGRES, &table).await {
            Ok(r) => r,
            Err(e) => {
                return asyncforge_testkit::skip(
                    &format!("a Postgres server accepting {POSTGRES} ({e})"),
                    "apt-get install postgresql, or cargo xtask peers",
                );
            }
        };
        let mut config = config(&secrets());
        config.resources = ResourceBackend::postgres(resources);
        let (base, sender, _) = start(config).await;
        replicas.push((AccountClient::new(&base).expect("client"), sender));
    }
    let client = |i: usize| &replicas[i % 3].0;
    let sender = |i: usize| &replicas[i % 3].1;

    // The application's write on one replica is what every replica serves, with one tag.
    sender(0)
        .account_set(&acc("r"), account("r", 0))
        .await
        .expect("set");
    let tags: Vec<_> = (0..3)
        .map(|i| async move { client(i).get(&acc("r")).await.expect("get").etag })
        .collect();
    let mut seen = Vec::new();
    for t in tags {
        seen.push(t.await.expect("etag"));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");

    // Read-modify-write writers with If-Match on every replica lose no update.
    let writers: Vec<_> = (0..30)
        .map(|i| {
            let c = client(i).clone();
            tokio::spawn(async move {
                c.update(&acc("r"), 1000, |mut a| {
                    a.payload.balance_cents += 1;
                    a
                })
                .await
                .expect("update")
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let read = sender(2)
        .account_get(&acc("r"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(read.value.payload.balance_cents, 30);

    // A lock taken through one replica: another replica refuses writes (423) and locks (409).
    let lock = client(0)
        .lock(&acc("r"), "alice", Some(Duration::from_secs(30)))
        .await
        .expect("lock");
    let err = detail::<ClientError, _>(
        client(1)
            .put_if_match(&acc("r"), &account("r", 1), &read.etag)
            .await,
    )
    .expect_err("locked");
    assert!(
        matches!(err, ClientError::Locked { ref holder, .. } if holder == "alice"),
        "{err}"
    );
    match detail(client(2).lock(&acc("r"), "bob", None).await) {
        Err(ClientError::Locked { holder, until }) => {
            assert_eq!(holder, "alice");
            assert_eq!(until, lock.until);
        }
        other => panic!("{other:?}"),
    }
    client(1)
        .unlock(&acc("r"), &lock.token)
        .await
        .expect("release through a third replica");

    // A long poll on one replica returns when another replica's application writes.
    let current = client(2).get(&acc("r")).await.expect("get");
    let writer = {
        let s = sender(1).clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.account_set(&acc("r"), account("r", 77)).await
        })
    };
    let changed = tokio::time::timeout(
        Duration::from_secs(10),
        client(2).get_if_changed(
            &acc("r"),
            current.etag.as_ref(),
            Some(Duration::from_secs(20)),
        ),
    )
    .await
    .expect("woken by the write, not by the end of the wait")
    .expect("long poll")
    .expect("changed");
    assert_eq!(changed.value.payload.balance_cents, 77);
    writer.await.expect("task").expect("set");

    let (admin, connection) = tokio_postgres::connect(POSTGRES, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
        .await
        .expect("drop the test table");
}
