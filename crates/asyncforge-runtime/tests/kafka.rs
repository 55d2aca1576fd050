//! Kafka producer and consumer against librdkafka's mock cluster, started by each test on its
//! own thread (the cluster is `!Send`); it listens on loopback ports, so a second process and
//! `kcat` reach it too. A test whose peer is missing prints why and passes.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncforge_runtime::Message;
use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::codegen::{Deserialize, Serialize};
use asyncforge_runtime::kafka::{
    Consumer, ConsumerOptions, DLT_ERROR_HEADER, DLT_OFFSET_HEADER, DLT_TOPIC_HEADER, KafkaConfig,
    KafkaError, Producer, Record, TopicOutcome, TopicSpec, ensure_topics,
};
use asyncforge_runtime::{Dispatch, Reject};
use tokio::sync::oneshot;

// ---------------------------------------------------------------------------------------------
// A message type as the generator writes it.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "asyncforge_runtime::codegen::serde")]
struct Reading {
    seq: u32,
    lumens: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct LightMeasured(Reading);

impl Message for LightMeasured {
    type Payload = Reading;
    const NAME: &'static str = "lightMeasured";
    const CONTENT_TYPE: Option<&'static str> = Some("application/json");
    fn payload(&self) -> &Reading {
        &self.0
    }
    fn from_payload(p: Reading) -> Self {
        LightMeasured(p)
    }
}

fn reading(seq: u32) -> LightMeasured {
    LightMeasured(Reading {
        seq,
        lumens: seq * 10,
    })
}

// ---------------------------------------------------------------------------------------------
// The mock cluster.

struct Mock {
    bootstrap: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    fn start(topics: &[(&str, i32)]) -> Mock {
        let topics: Vec<(String, i32)> = topics.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
            for (t, p) in &topics {
                cluster.create_topic(t, *p, 1).expect("create topic");
            }
            ready_tx
                .send(cluster.bootstrap_servers())
                .expect("send bootstrap");
            let _ = stop_rx.recv();
        });
        let bootstrap = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("mock cluster started");
        Mock {
            bootstrap,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn config(&self) -> KafkaConfig {
        KafkaConfig::new(&self.bootstrap)
            .set("session.timeout.ms", "3000")
            .set("heartbeat.interval.ms", "300")
            .set("topic.metadata.refresh.interval.ms", "500")
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/// What the handler saw: key, payload, `trace-id` header.
type Seen = (Option<String>, Reading, Option<String>);

/// A generated-style dispatcher: route 0 carries `LightMeasured`, keyed by a string.
/// `fail` maps a `seq` to how many times it fails before succeeding (`u32::MAX`: always).
#[derive(Clone, Default)]
struct Lights {
    seen: Arc<Mutex<Vec<Seen>>>,
    fail: Arc<BTreeMap<u32, u32>>,
    attempts: Arc<Mutex<BTreeMap<u32, u32>>>,
}

impl Dispatch<Record> for Lights {
    async fn dispatch(&self, record: Record) -> Result<(), Reject> {
        if record.route != 0 {
            return Err(Reject::invalid("unknown route"));
        }
        let key: Option<String> = record.key()?;
        let m: LightMeasured = record.decode()?;
        let seq = m.0.seq;
        let attempt = {
            let mut a = self.attempts.lock().expect("lock");
            let n = a.entry(seq).or_insert(0);
            *n += 1;
            *n
        };
        if self.fail.get(&seq).is_some_and(|f| attempt <= *f) {
            return Err(Reject::failed(format!(
                "seq {seq} attempt {attempt}: downstream unavailable"
            )));
        }
        let trace = record
            .header("trace-id")
            .map(|v| String::from_utf8_lossy(v).into_owned());
        self.seen.lock().expect("lock").push((key, m.0, trace));
        Ok(())
    }
}

impl Lights {
    fn seqs(&self) -> Vec<u32> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, r, _)| r.seq)
            .collect()
    }
}

/// Collects raw records (dead-letter topic readers, interop).
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Record>>>);

impl Dispatch<Record> for Collect {
    async fn dispatch(&self, record: Record) -> Result<(), Reject> {
        self.0.lock().expect("lock").push(record);
        Ok(())
    }
}

struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<asyncforge_runtime::kafka::ConsumerStats, KafkaError>>,
}

impl Running {
    async fn stop(mut self) -> Result<asyncforge_runtime::kafka::ConsumerStats, KafkaError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.expect("consumer task")
    }
}

fn spawn<H: Dispatch<Record>>(
    config: &KafkaConfig,
    options: ConsumerOptions,
    handler: H,
) -> Running {
    let consumer = Consumer::new(config, options).expect("consumer");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        consumer
            .run(handler, async move {
                let _ = rx.await;
            })
            .await
    });
    Running {
        stop: Some(tx),
        task,
    }
}

fn options(group: &str, topic: &str) -> ConsumerOptions {
    let mut o = ConsumerOptions::new(group, vec![topic.to_owned()]);
    o.client_id = Some(format!("{group}-client"));
    o.commit_interval = Duration::from_millis(200);
    o.retry = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(100),
        max_attempts: Some(3),
        ..Backoff::default()
    };
    o
}

async fn eventually(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const WAIT: Duration = Duration::from_secs(30);

async fn produce(producer: &Producer, topic: &str, seqs: impl IntoIterator<Item = u32>) {
    for seq in seqs {
        let key = format!("lamp-{}", seq % 3);
        producer
            .send(
                topic,
                Some(key.as_str()),
                &reading(seq),
                &[("trace-id", b"t-1")],
            )
            .await
            .expect("delivered");
    }
}

// ---------------------------------------------------------------------------------------------
// Tests.

/// Send → receive with a typed key, headers and content type; a graceful shutdown commits what
/// was handled, so the next member of the group starts after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_and_commit_on_shutdown() {
    let mock = Mock::start(&[("lights", 2)]);
    let cfg = mock.config();
    let producer = Producer::new(&cfg).expect("producer");
    produce(&producer, "lights", 1..=5).await;

    let lights = Lights::default();
    let consumer = spawn(&cfg, options("g-rt", "lights"), lights.clone());
    eventually("5 records", WAIT, || lights.seqs().len() == 5).await;
    let stats = consumer.stop().await.expect("clean stop");
    assert_eq!(stats.handled, 5);
    assert!(stats.commits >= 1);
    let seen = lights.seen.lock().expect("lock").clone();
    for (key, r, trace) in &seen {
        assert_eq!(key.as_deref(), Some(format!("lamp-{}", r.seq % 3).as_str()));
        assert_eq!(r.lumens, r.seq * 10);
        assert_eq!(trace.as_deref(), Some("t-1"));
    }
    // Per-partition order: records of one key (one partition) come in send order.
    for k in 0..3 {
        let of_key: Vec<u32> = seen
            .iter()
            .filter(|(key, _, _)| key.as_deref() == Some(format!("lamp-{k}").as_str()))
            .map(|(_, r, _)| r.seq)
            .collect();
        let mut sorted = of_key.clone();
        sorted.sort();
        assert_eq!(of_key, sorted);
    }

    // The same group resumes after the committed offsets: only the new record arrives.
    produce(&producer, "lights", [6]).await;
    let again = Lights::default();
    let consumer = spawn(&cfg, options("g-rt", "lights"), again.clone());
    eventually("record 6", WAIT, || again.seqs().contains(&6)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        again.seqs(),
        vec![6],
        "nothing handled before was delivered again"
    );
    consumer.stop().await.expect("stop");
}

/// A failing handler is retried with backoff and succeeds; order is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_handler_is_retried() {
    let mock = Mock::start(&[("retry", 1)]);
    let cfg = mock.config();
    let producer = Producer::new(&cfg).expect("producer");
    produce(&producer, "retry", 1..=3).await;
    let lights = Lights {
        fail: Arc::new([(2, 2)].into_iter().collect()),
        ..Lights::default()
    };
    let consumer = spawn(&cfg, options("g-retry", "retry"), lights.clone());
    eventually("3 records", WAIT, || lights.seqs().len() == 3).await;
    assert_eq!(lights.seqs(), vec![1, 2, 3]);
    let stats = consumer.stop().await.expect("stop");
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.dead_lettered, 0);
}

/// Retries used up → dead-letter topic with the error and origin in headers; an invalid
/// record goes there at once; consumption goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_topic() {
    let mock = Mock::start(&[("orders", 1), ("orders.dlt", 1)]);
    let cfg = mock.config();
    let producer = Producer::new(&cfg).expect("producer");
    produce(&producer, "orders", 1..=2).await;
    producer
        .send_raw("orders", Some(b"bad"), Some(b"{not json"), &[])
        .await
        .expect("delivered");
    produce(&producer, "orders", [3]).await;
    let lights = Lights {
        fail: Arc::new([(2, u32::MAX)].into_iter().collect()),
        ..Lights::default()
    };
    let mut o = options("g-dlt", "orders");
    o.dead_letter_topic = Some("orders.dlt".into());
    let consumer = spawn(&cfg, o, lights.clone());
    eventually("1 and 3", WAIT, || lights.seqs() == vec![1, 3]).await;
    let stats = consumer.stop().await.expect("stop");
    assert_eq!(stats.dead_lettered, 2);
    assert_eq!(stats.retries, 3);

    let dlt = Collect::default();
    let reader = spawn(&cfg, options("g-dlt-reader", "orders.dlt"), dlt.clone());
    eventually("2 dead letters", WAIT, || {
        dlt.0.lock().expect("lock").len() == 2
    })
    .await;
    reader.stop().await.expect("stop");
    let records = dlt.0.lock().expect("lock").clone();
    let failed = &records[0];
    assert_eq!(failed.key.as_deref(), Some(&b"lamp-2"[..]));
    assert_eq!(failed.header(DLT_TOPIC_HEADER), Some(&b"orders"[..]));
    assert_eq!(failed.header(DLT_OFFSET_HEADER), Some(&b"1"[..]));
    assert!(
        String::from_utf8_lossy(failed.header(DLT_ERROR_HEADER).unwrap_or_default())
            .contains("downstream unavailable")
    );
    assert_eq!(failed.header("trace-id"), Some(&b"t-1"[..]), "headers kept");
    assert_eq!(failed.decode::<LightMeasured>().ok(), Some(reading(2)));
    let invalid = &records[1];
    assert_eq!(invalid.payload.as_deref(), Some(&b"{not json"[..]));
    assert!(
        String::from_utf8_lossy(invalid.header(DLT_ERROR_HEADER).unwrap_or_default())
            .contains("decode")
    );
}

/// Without a dead-letter topic a record that keeps failing stops the consumer; its offset is
/// not committed, so the next run starts at it (and not before it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_stop_without_losing_the_record() {
    let mock = Mock::start(&[("strict", 1)]);
    let cfg = mock.config();
    let producer = Producer::new(&cfg).expect("producer");
    produce(&producer, "strict", 1..=3).await;
    let lights = Lights {
        fail: Arc::new([(2, u32::MAX)].into_iter().collect()),
        ..Lights::default()
    };
    let consumer = spawn(&cfg, options("g-strict", "strict"), lights.clone());
    let result = tokio::time::timeout(WAIT, consumer.task)
        .await
        .expect("stops by itself")
        .expect("task");
    match result {
        Err(KafkaError::HandlerFailed {
            topic,
            offset,
            attempts,
            ..
        }) => {
            assert_eq!((topic.as_str(), offset, attempts), ("strict", 1, 4));
        }
        other => panic!("expected HandlerFailed, got {other:?}"),
    }
    assert_eq!(lights.seqs(), vec![1]);

    let healthy = Lights::default();
    let consumer = spawn(&cfg, options("g-strict", "strict"), healthy.clone());
    eventually("2 and 3", WAIT, || healthy.seqs().len() == 2).await;
    assert_eq!(healthy.seqs(), vec![2, 3]);
    consumer.stop().await.expect("stop");
}

/// `ensure_topics` through the admin API. librdkafka's mock cluster does not implement
/// CreateTopics, so against it the call must fail within its timeout (not hang, not report
/// success); creating topics for real needs a real broker (see docs/protocols.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_topics_fails_within_its_timeout_on_the_mock() {
    let mock = Mock::start(&[("existing", 1)]);
    let cfg = mock.config();
    let specs = vec![TopicSpec {
        name: "fresh".into(),
        partitions: Some(3),
        replicas: Some(1),
        config: TopicSpec::config_from_json(&serde_json::json!({"retention.ms": 60000})),
    }];
    let started = Instant::now();
    let outcome = ensure_topics(&cfg, &specs, Duration::from_secs(2)).await;
    let took = started.elapsed();
    match outcome {
        Ok(o) => println!("the mock cluster created topics after all: {o:?}"),
        Err(e) => {
            assert!(took < Duration::from_secs(10), "{e} after {took:?}");
            println!("mock cluster has no CreateTopics: {e} after {took:?}");
        }
    }
    // Nothing to create is no request at all.
    assert_eq!(
        ensure_topics(&cfg, &[], Duration::from_secs(1)).await.ok(),
        Some(Vec::<TopicOutcome>::new())
    );
    // A spec that cannot be expressed is refused before any request.
    let too_many = TopicSpec {
        name: "x".into(),
        partitions: Some(u64::MAX),
        ..TopicSpec::default()
    };
    assert!(matches!(
        ensure_topics(&cfg, &[too_many], Duration::from_secs(1)).await,
        Err(KafkaError::Config(_))
    ));
}

/// Interop with `kcat` (Debian) as an independent producer and consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_interop() {
    if Command::new("kcat").arg("-V").output().is_err() {
        return asyncforge_testkit::skip("kcat", "apt-get install kcat");
    }
    let mock = Mock::start(&[("from-kcat", 1), ("to-kcat", 1)]);
    let cfg = mock.config();
    // kcat → our consumer.
    let mut kcat = Command::new("kcat")
        .args(["-b", &mock.bootstrap, "-P", "-t", "from-kcat", "-K", ":"])
        .args(["-H", "content-type=application/json", "-H", "trace-id=kcat"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat");
    {
        let mut stdin = kcat.stdin.take().expect("stdin");
        writeln!(stdin, r#"lamp-1:{{"seq":1,"lumens":10}}"#).expect("write");
        writeln!(stdin, r#"lamp-2:{{"seq":2,"lumens":20}}"#).expect("write");
    }
    let out = kcat.wait_with_output().expect("kcat");
    if !out.status.success() {
        return asyncforge_testkit::skip(
            &format!(
                "a kcat that can produce to the mock cluster ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            "apt-get install kcat",
        );
    }
    let lights = Lights::default();
    let consumer = spawn(&cfg, options("g-kcat", "from-kcat"), lights.clone());
    eventually("kcat's records", WAIT, || lights.seqs().len() == 2).await;
    consumer.stop().await.expect("stop");
    let seen = lights.seen.lock().expect("lock").clone();
    assert_eq!(seen[0].0.as_deref(), Some("lamp-1"));
    assert_eq!(seen[1].1.lumens, 20);
    assert_eq!(seen[1].2.as_deref(), Some("kcat"));

    // Our producer → kcat.
    let producer = Producer::new(&cfg).expect("producer");
    produce(&producer, "to-kcat", [7]).await;
    let out = Command::new("kcat")
        .args([
            "-b",
            &mock.bootstrap,
            "-C",
            "-t",
            "to-kcat",
            "-o",
            "beginning",
        ])
        .args(["-c", "1", "-e", "-f", "%k|%s|%h\n"])
        .output()
        .expect("kcat");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        r#"lamp-1|{"seq":7,"lumens":70}|content-type=application/json,trace-id=t-1"#,
        "kcat stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A second member joins while the first is consuming: partitions move, nothing is lost. The
/// first member tries to commit before its partitions are revoked; librdkafka's mock cluster
/// refuses commits during a rebalance (a real Kafka coordinator accepts them), so what was
/// handled since the last periodic commit is handled again: the duplicates are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_moves_partitions_without_loss() {
    const N: u32 = 400;
    let mock = Mock::start(&[("rebal", 4)]);
    let cfg = mock.config();
    let producer = Producer::new(&cfg).expect("producer");
    let sends = (1..=N).map(|seq| {
        let p = producer.clone();
        async move {
            let key = format!("k{}", seq % 11);
            p.send("rebal", Some(key.as_str()), &reading(seq), &[])
                .await
                .expect("delivered");
        }
    });
    futures_util::future::join_all(sends).await;

    let log: Arc<Mutex<Vec<(char, u32)>>> = Arc::default();
    let o = options("g-rebal", "rebal");
    let a = spawn(&cfg, o.clone(), Member('a', log.clone()));
    eventually("a quarter handled by a", WAIT, || {
        log.lock().expect("lock").len() >= N as usize / 4
    })
    .await;
    let b = spawn(&cfg, o, Member('b', log.clone()));
    eventually("every record", Duration::from_secs(60), || {
        let seen: std::collections::BTreeSet<u32> =
            log.lock().expect("lock").iter().map(|(_, s)| *s).collect();
        seen.len() == N as usize
    })
    .await;
    let stats_a = a.stop().await.expect("a");
    let stats_b = b.stop().await.expect("b");
    let log = log.lock().expect("lock").clone();
    let by_b = log.iter().filter(|(m, _)| *m == 'b').count();
    let duplicates = log.len() - N as usize;
    println!(
        "rebalance: a handled {}, b handled {by_b}, {duplicates} duplicates; commits a {} b {}",
        log.len() - by_b,
        stats_a.commits,
        stats_b.commits
    );
    assert!(by_b > 0, "the second member got partitions");
    assert!(stats_a.commits > 0);
}

struct Member(char, Arc<Mutex<Vec<(char, u32)>>>);

impl Dispatch<Record> for Member {
    async fn dispatch(&self, record: Record) -> Result<(), Reject> {
        let m: LightMeasured = record.decode()?;
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.1
            .lock()
            .map_err(Reject::failed)?
            .push((self.0, m.0.seq));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// A consumer process killed mid-stream.

const CHILD_ENV: &str = "ASYNCFORGE_KAFKA_CHILD";

/// Entry point of the consumer *process* that `consumer_process_killed_mid_stream` starts and
/// kills: this same test binary, run with `--ignored --exact child_consumer_process` and
/// `ASYNCFORGE_KAFKA_CHILD=<bootstrap>|<topic>|<group>|<file>`. It appends every handled
/// sequence number to the file. Not a test on its own (hence `#[ignore]`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for consumer_process_killed_mid_stream"]
async fn child_consumer_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        println!("helper only: run by consumer_process_killed_mid_stream");
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let [bootstrap, topic, group, file] = parts[..] else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let cfg = KafkaConfig::new(bootstrap)
        .set("session.timeout.ms", "3000")
        .set("heartbeat.interval.ms", "300");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("open output");
    let consumer = Consumer::new(&cfg, options(group, topic)).expect("consumer");
    let handler = AppendSeq(Arc::new(Mutex::new(out)));
    // Runs until killed.
    let _ = consumer.run(handler, std::future::pending()).await;
}

struct AppendSeq(Arc<Mutex<std::fs::File>>);

impl Dispatch<Record> for AppendSeq {
    async fn dispatch(&self, record: Record) -> Result<(), Reject> {
        let m: LightMeasured = record.decode()?;
        tokio::time::sleep(Duration::from_millis(2)).await;
        let mut f = self.0.lock().map_err(Reject::failed)?;
        // One write per record: a kill leaves whole lines.
        f.write_all(format!("{}\n", m.0.seq).as_bytes())
            .map_err(Reject::failed)
    }
}

fn handled(file: &std::path::Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// A consumer process is killed with SIGKILL in the middle of a stream of N numbered records
/// and started again: every record is handled at least once; duplicates are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_process_killed_mid_stream() {
    const N: u32 = 600;
    let mock = Mock::start(&[("numbers", 3)]);
    let cfg = mock.config();
    let producer = Producer::new(&cfg).expect("producer");
    let sends = (1..=N).map(|seq| {
        let p = producer.clone();
        async move {
            let key = format!("k{}", seq % 7);
            p.send("numbers", Some(key.as_str()), &reading(seq), &[])
                .await
                .expect("delivered");
        }
    });
    futures_util::future::join_all(sends).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("handled.txt");
    let spec = format!("{}|numbers|g-kill|{}", mock.bootstrap, file.display());
    let exe = std::env::current_exe().expect("test binary");
    let start = || {
        Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "child_consumer_process",
                "--nocapture",
            ])
            .env(CHILD_ENV, &spec)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start consumer process")
    };
    let started = Instant::now();
    let mut child = start();
    eventually("a third of the stream", WAIT, || {
        handled(&file).len() >= N as usize / 3
    })
    .await;
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    let _ = child.wait();
    let at_kill = handled(&file).len();

    let mut child = start();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen: std::collections::BTreeSet<u32> = handled(&file).into_iter().collect();
        if (1..=N).all(|s| seen.contains(&s)) {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "missing {:?}",
                (1..=N).filter(|s| !seen.contains(s)).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let all = handled(&file);
    let duplicates = all.len() - N as usize;
    println!(
        "consumer killed after {at_kill} of {N} records: all {N} handled at least once, \
         {duplicates} duplicates, {:?}",
        started.elapsed()
    );
}
