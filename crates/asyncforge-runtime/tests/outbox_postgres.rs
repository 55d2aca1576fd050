//! The Postgres outbox against the Postgres on 127.0.0.1:5432 (skipped, with a notice, when
//! none answers; `cargo xtask peers` starts one): the claim rules every outbox keeps, racing
//! claims splitting the due deliveries between senders, and three sender replicas — child
//! processes of this test binary — sharing one outbox while one of them is killed with
//! SIGKILL. Each test uses a table of its own and drops it.

mod http_common;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::http::outbox::{MemoryOutbox, Outbox};
use asyncforge_runtime::http::postgres_outbox::PostgresOutbox;
use asyncforge_runtime::http::sender::{Sender, SenderConfig, Subscriber};
use asyncforge_runtime::http::ssrf::AddressPolicy;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use http_common::{OrderPlaced, POSTGRES, lease, serve};

/// What a replica child process reads its orders from.
const TABLE_VAR: &str = "ASYNCFORGE_OUTBOX_REPLICA_TABLE";

/// An outbox on a fresh table, and the table's name.
async fn outbox() -> Option<(PostgresOutbox, String)> {
    http_common::on_postgres("asyncforge_outbox", |table| async move {
        PostgresOutbox::connect(POSTGRES, &table).await
    })
    .await
}

#[tokio::test]
async fn two_connections_keep_the_claim_rules() {
    let Some((a, table)) = outbox().await else {
        return;
    };
    let b = PostgresOutbox::connect(POSTGRES, &table)
        .await
        .expect("connect");
    http_common::outbox_claim_rules(&a, &b).await;
    http_common::drop_table(&table).await;
}

/// Eight senders claiming due deliveries at once, each on its own connection, split 400
/// deliveries between them: every delivery is claimed by exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_split_the_due_deliveries() {
    let Some((first, table)) = outbox().await else {
        return;
    };
    for i in 0..400 {
        let d = http_common::delivery(&format!("d{i:03}"), "http://127.0.0.1:1/");
        first.put(&d, None).await.expect("put");
    }
    let mut senders = vec![first];
    for _ in 0..7 {
        senders.push(
            PostgresOutbox::connect(POSTGRES, &table)
                .await
                .expect("connect"),
        );
    }
    let rounds = senders.iter().enumerate().map(|(i, o)| async move {
        let l = lease(&format!("s{i}"), 60_000);
        let mut mine = Vec::new();
        loop {
            let got = o.claim_due(&l, 16).await.expect("claim");
            if got.is_empty() {
                return mine;
            }
            mine.extend(got.into_iter().map(|d| d.id));
        }
    });
    let claimed = futures_util::future::join_all(rounds).await;
    let all: Vec<&String> = claimed.iter().flatten().collect();
    let distinct: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), 400, "claimed once each");
    assert_eq!(distinct.len(), 400);
    assert!(
        claimed.iter().filter(|c| !c.is_empty()).count() > 1,
        "the work was shared"
    );
    http_common::drop_table(&table).await;
}

/// What the receiver saw: successful deliveries by webhook id, and attempts of one id that
/// overlapped (there must be none).
#[derive(Default)]
struct Seen {
    delivered: Mutex<HashMap<String, usize>>,
    in_flight: Mutex<HashSet<String>>,
    overlaps: AtomicUsize,
    attempts: AtomicUsize,
}

impl Seen {
    fn distinct(&self) -> usize {
        self.delivered.lock().expect("lock").len()
    }
}

/// An attempt being handled; it ends when this is dropped, also when the server drops the
/// handler because the sender's connection went away (the killed replica's attempts).
struct InFlight<'a>(&'a Seen, String);

impl<'a> InFlight<'a> {
    fn enter(seen: &'a Seen, id: &str) -> Self {
        if !seen.in_flight.lock().expect("lock").insert(id.to_owned()) {
            seen.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        InFlight(seen, id.to_owned())
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.lock().expect("lock").remove(&self.1);
    }
}

/// Three sender replicas share one outbox; 1,000 deliveries are stored while they run, some
/// receiver answers are 503 (retried by whichever replica claims the delivery next), and one
/// replica is killed with SIGKILL mid-run: the receiver gets all 1,000 webhooks, no two
/// attempts of one delivery overlapped, and the outbox ends empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_one_killed_deliver_everything_once_at_a_time() {
    let Some((outbox, table)) = outbox().await else {
        return;
    };
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let s = s.clone();
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let n = s.attempts.fetch_add(1, Ordering::SeqCst);
                let attempt = InFlight::enter(&s, &id);
                tokio::time::sleep(Duration::from_millis(3)).await;
                drop(attempt);
                if n % 10 == 3 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                *s.delivered.lock().expect("lock").entry(id).or_default() += 1;
                StatusCode::NO_CONTENT
            }
        }),
    );
    let base = serve(app).await;
    let url = format!("{base}/hook");

    let mut replicas: Vec<Child> = (0..3).map(|_| replica(&table)).collect();

    // The deliveries, stored unclaimed while the replicas run (as a fourth process storing
    // into the shared outbox would); the maker only builds them.
    let maker = Sender::new(config(), Arc::new(MemoryOutbox::default())).expect("sender");
    let subscriber = Subscriber::new("s", url.clone(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    for i in 0..1000u32 {
        let d = maker
            .prepare(&subscriber, &OrderPlaced::new(i))
            .expect("prepare");
        outbox.put(&d, None).await.expect("put");
    }

    // Kill one replica once a third of the deliveries are through.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.distinct() < 300 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stalled at {}",
            seen.distinct()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at_kill = seen.distinct();
    replicas[0].kill().expect("SIGKILL");
    replicas[0].wait().expect("reap");
    assert!(at_kill < 1000, "killed mid-run ({at_kill} delivered)");

    while seen.distinct() < 1000 || !outbox.pending().await.expect("pending").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of 1000 delivered, {} pending",
            seen.distinct(),
            outbox.pending().await.expect("pending").len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for r in &mut replicas[1..] {
        r.kill().expect("kill");
        r.wait().expect("reap");
    }
    assert_eq!(seen.distinct(), 1000);
    assert_eq!(
        seen.overlaps.load(Ordering::SeqCst),
        0,
        "overlapping attempts"
    );
    assert!(
        seen.attempts.load(Ordering::SeqCst) >= 1100,
        "503s were retried"
    );
    http_common::drop_table(&table).await;
}

/// The server ends the outbox's sessions mid-run (a restart, a failover): calls on the lost
/// connections fail, `Sender::work` logs them and goes on, the outbox connects again, and
/// every delivery still arrives (one whose removal failed is delivered again once its claim
/// expires; receivers deduplicate by webhook id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_database_sessions_delay_deliveries_but_lose_none() {
    let Some((outbox, table)) = outbox().await else {
        return;
    };
    let delivered: Arc<Mutex<HashSet<String>>> = Arc::default();
    let d = delivered.clone();
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let d = d.clone();
            async move {
                if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
                    d.lock().expect("lock").insert(id.to_owned());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                StatusCode::NO_CONTENT
            }
        }),
    );
    let url = format!("{}/hook", serve(app).await);
    let name = format!("{table}_worker");
    let worked = PostgresOutbox::connect(&format!("{POSTGRES} application_name={name}"), &table)
        .await
        .expect("connect");
    let sender = Sender::new(config(), Arc::new(worked)).expect("sender");
    let worker = sender.clone();
    let work = tokio::spawn(async move { worker.work(Duration::from_millis(10)).await });
    let maker = Sender::new(config(), Arc::new(MemoryOutbox::default())).expect("sender");
    let subscriber = Subscriber::new("s", url, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    for i in 0..300u32 {
        let d = maker
            .prepare(&subscriber, &OrderPlaced::new(i))
            .expect("prepare");
        outbox.put(&d, None).await.expect("put");
    }
    let count = || delivered.lock().expect("lock").len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while count() < 50 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stalled at {}",
            count()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let ended = http_common::end_sessions(&name).await;
    assert!(ended >= 1, "the worker's sessions");
    while count() < 300 || !outbox.pending().await.expect("pending").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of 300 delivered after the sessions ended",
            count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    work.abort();
    http_common::drop_table(&table).await;
}

/// The sender settings of the replicas: fast retries, loopback allowed, short claims (the
/// floor: the 3 s timeout + 2 s). An attempt that timed out may still be running at the
/// receiver when the next one starts, so the timeout stays well above what a loaded test
/// machine needs for one.
fn config() -> SenderConfig {
    SenderConfig {
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
            factor: 2.0,
            max_attempts: Some(20),
            jitter: true,
        },
        timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(1),
        addresses: AddressPolicy::allow_loopback(),
        max_in_flight: 16,
        lease: Duration::ZERO,
        ..SenderConfig::default()
    }
}

/// Starts a replica: this test binary running `sender_replica` on `table`.
fn replica(table: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args(["sender_replica", "--exact", "--ignored", "--nocapture"])
        .env(TABLE_VAR, table)
        .stdout(Stdio::null())
        .spawn()
        .expect("start a replica")
}

/// A sender replica (run as a child process by the test above; does nothing on its own): it
/// works the shared outbox until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of three_replicas_one_killed_deliver_everything_once_at_a_time"]
async fn sender_replica() {
    let Ok(table) = std::env::var(TABLE_VAR) else {
        return;
    };
    let outbox = PostgresOutbox::connect(POSTGRES, &table)
        .await
        .expect("connect");
    let sender = Sender::new(config(), Arc::new(outbox)).expect("sender");
    sender.work(Duration::from_millis(20)).await;
}
