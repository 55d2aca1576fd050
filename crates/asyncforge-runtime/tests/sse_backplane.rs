//! SSE topics of several replicas sharing one event log (Redis Streams on 127.0.0.1:6379,
//! NATS JetStream on 127.0.0.1:4222; skipped, with a notice, when one is not running, failing
//! instead when `ASYNCFORGE_REQUIRE_PEERS` is set): three replicas behind a round-robin TCP
//! proxy, a client whose connection is cut resuming on another replica, a rolling restart of
//! replica processes, the gap event for an id that fell out of the window (by count and by
//! age), and an engine outage. Every test body runs on both engines; each run uses keys,
//! streams and subjects of its own prefix and removes them.
//!
//! The client here is a raw HTTP/1.1 reader that resumes with `Last-Event-ID` and keeps
//! everything it is sent, so a duplicate or a missing event shows (the runtime's client would
//! drop duplicates of numeric ids itself).

mod backplane_common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncforge_runtime::ErrorKind;
use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::sse::server::{Backplane, SseConfig, State, Topics};
use asyncforge_runtime::sse::{Event, GAP_EVENT, Parser};
use axum::Router;
use axum::extract::{Path, State as Extract};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use backplane_common::{NATS, Proxy, REDIS, XorShift, engine, prefix, replica_process, until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOPIC: &str = "ticks/1";

fn config(replay: usize, age: Duration) -> SseConfig {
    SseConfig {
        replay,
        replay_age: age,
        retry: Duration::from_millis(100),
        heartbeat: Duration::from_secs(1),
        subscriber_queue: 4096,
    }
}

fn backplane(url: &str, prefix: &str) -> Backplane {
    Backplane::from_url(url)
        .expect("backplane URL")
        .prefix(prefix)
        .expect("prefix")
        .publish_timeout(Duration::from_secs(3))
        .backoff(Backoff {
            max: Duration::from_millis(300),
            ..Backoff::default()
        })
}

/// Serves `topics` on `listener`: `GET /events/{*address}` streams a topic, `POST` publishes
/// its body (as a `tick`) and answers the id.
fn serve(topics: Topics, listener: TcpListener) {
    let app =
        Router::new()
            .route(
                "/events/{*address}",
                get(
                    |Extract(topics): Extract<Topics>,
                     Path(address): Path<String>,
                     headers: HeaderMap| async move {
                        match topics.topic(&address) {
                            Some(topic) => topic.response(&headers).await,
                            None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                        }
                    },
                )
                .post(
                    |Extract(topics): Extract<Topics>,
                     Path(address): Path<String>,
                     body: String| async move {
                        match topics.publish(&address, "tick", &body).await {
                            Ok(id) => id.into_response(),
                            Err(e) => {
                                (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
                            }
                        }
                    },
                ),
            )
            .with_state(topics);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// A replica in this process, its topics' log connected.
async fn replica(backplane: &Backplane, config: SseConfig) -> (SocketAddr, Topics) {
    let topics = Topics::with_backplane(config, 100, backplane);
    let state = tokio::time::timeout(Duration::from_secs(10), topics.backplane_connected())
        .await
        .expect("the event log connects");
    assert!(matches!(state, Some(State::Connected { .. })), "{state:?}");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    serve(topics.clone(), listener);
    (addr, topics)
}

/// One event stream response read over a plain socket: the status, then events as they come.
struct Stream {
    socket: TcpStream,
    buf: Vec<u8>,
    parser: Parser,
}

impl Stream {
    /// `GET /events/{topic}`: the stream, or the status of a refusal (or 0 when the
    /// connection failed).
    async fn open(addr: SocketAddr, topic: &str, last: Option<&str>) -> Result<Stream, u16> {
        let mut socket = TcpStream::connect(addr).await.map_err(|_| 0u16)?;
        let extra = last
            .map(|l| format!("Last-Event-ID: {l}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET /events/{topic} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{extra}\r\n"
        );
        socket
            .write_all(request.as_bytes())
            .await
            .map_err(|_| 0u16)?;
        let mut buf = Vec::new();
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err(0),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if status != 200 {
            return Err(status);
        }
        assert!(
            head.to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "{head}"
        );
        buf.drain(..end + 4);
        Ok(Stream {
            socket,
            buf,
            parser: Parser::new(1 << 20),
        })
    }

    /// The next events (`None` once the stream ended).
    async fn next(&mut self) -> Option<Vec<Event>> {
        loop {
            // A whole chunk in the buffer: its size line, its bytes, CRLF.
            if let Some(line) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let size = std::str::from_utf8(&self.buf[..line])
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())?;
                if size == 0 {
                    return None;
                }
                if self.buf.len() >= line + 2 + size + 2 {
                    let body: Vec<u8> = self.buf[line + 2..line + 2 + size].to_vec();
                    self.buf.drain(..line + 2 + size + 2);
                    let events = self.parser.feed(&body).expect("parses");
                    if !events.is_empty() {
                        return Some(events);
                    }
                    continue;
                }
            }
            let mut chunk = [0u8; 8192];
            match self.socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Events until `n` came or `wait` passed.
    async fn take(&mut self, n: usize, wait: Duration) -> Vec<Event> {
        let mut got = Vec::new();
        let _ = tokio::time::timeout(wait, async {
            while got.len() < n {
                match self.next().await {
                    Some(events) => got.extend(events),
                    None => return,
                }
            }
        })
        .await;
        got
    }
}

/// What a resuming client was sent, over all its connections.
#[derive(Default)]
struct Seen {
    events: Mutex<Vec<Event>>,
    /// Streams opened (200 OK).
    connections: AtomicUsize,
    /// Attempts refused (503 while the log is down, or no connection).
    refused: AtomicUsize,
}

impl Seen {
    fn data(&self) -> Vec<String> {
        let events = self.events.lock().expect("lock");
        events.iter().map(|e| e.data.clone()).collect()
    }

    fn ids(&self) -> Vec<String> {
        let events = self.events.lock().expect("lock");
        events.iter().filter_map(|e| e.id.clone()).collect()
    }

    fn gaps(&self) -> usize {
        let events = self.events.lock().expect("lock");
        events.iter().filter(|e| e.name == GAP_EVENT).count()
    }
}

/// A client of `topic` through `addr` that reconnects whenever its stream ends, resuming from
/// the last id it was sent (`start` at first).
async fn resuming_client(addr: SocketAddr, topic: String, seen: Arc<Seen>, start: Option<String>) {
    let mut last = start;
    loop {
        match Stream::open(addr, &topic, last.as_deref()).await {
            Ok(mut stream) => {
                seen.connections.fetch_add(1, Ordering::SeqCst);
                while let Some(events) = stream.next().await {
                    for e in events {
                        if e.name != GAP_EVENT
                            && let Some(id) = &e.id
                        {
                            last = Some(id.clone());
                        }
                        seen.events.lock().expect("lock").push(e);
                    }
                }
            }
            Err(_) => {
                seen.refused.fetch_add(1, Ordering::SeqCst);
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Removes what a run left in the engine: the Redis keys under its prefix, or its JetStream
/// stream.
async fn clean(url: &str, prefix: &str) {
    if url.starts_with("redis") {
        let client = redis::Client::open(url).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}.*"))
            .query_async(&mut conn)
            .await
            .expect("keys");
        for key in keys {
            let _: () = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .expect("del");
        }
    } else {
        let client = async_nats::connect(url).await.expect("nats");
        let js = async_nats::jetstream::new(client);
        let name = format!("{}_sse", prefix.replace('.', "_"));
        js.delete_stream(&name)
            .await
            .expect("the run's stream is deleted");
    }
}

/// Three replicas behind the proxy; a client of one topic whose connection the proxy cuts
/// every 25 events, so that it reconnects to the next replica and resumes; 300 publishes,
/// each from a randomly chosen replica: the client gets every event once, in the order
/// of the publishes, with the ids they were given, and no gap.
async fn resumes_on_another_replica(url: &str) {
    const PUBLISHES: usize = 300;
    let prefix = prefix("resume");
    let backplane = backplane(url, &prefix);
    let mut addrs = Vec::new();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let (addr, topics) = replica(&backplane, config(1000, Duration::from_secs(600))).await;
        addrs.push(addr);
        replicas.push(topics);
    }
    let proxy = Proxy::start(addrs).await;
    let seen = Arc::new(Seen::default());
    let client = tokio::spawn(resuming_client(
        proxy.addr,
        TOPIC.into(),
        seen.clone(),
        None,
    ));
    until("the client subscribed", || {
        replicas
            .iter()
            .filter_map(|t| t.get(TOPIC))
            .map(|t| t.subscribers())
            .sum::<usize>()
            == 1
    })
    .await;

    let mut rng = XorShift(0x5eed_1234);
    let mut ids = Vec::new();
    let mut cuts = 0;
    for n in 0..PUBLISHES {
        let from = &replicas[rng.below(3)];
        let id = from
            .publish(TOPIC, "tick", &n.to_string())
            .await
            .expect("the log has it");
        ids.push(id);
        // Cut the stream once the client is back from the previous cut (its next connection
        // goes to the next replica: the proxy takes turns).
        if n % 25 == 24 && seen.connections.load(Ordering::SeqCst) > cuts {
            proxy.cut();
            cuts += 1;
        }
        if n % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    until("every event at the client", || {
        seen.data().len() >= PUBLISHES
    })
    .await;
    // Anything late (a duplicate) would come within this.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let want: Vec<String> = (0..PUBLISHES).map(|n| n.to_string()).collect();
    assert_eq!(seen.data(), want, "every event once, in order");
    assert_eq!(seen.ids(), ids, "the ids the publishes returned");
    assert_eq!(seen.gaps(), 0);
    let connections = seen.connections.load(Ordering::SeqCst);
    assert!(
        cuts >= 6 && connections > cuts,
        "{cuts} cuts, {connections} connections"
    );
    client.abort();
    clean(url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_cut_client_resumes_on_another_replica_without_gap_or_duplicate() {
    if let Some(url) = engine(REDIS).await {
        resumes_on_another_replica(url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_a_cut_client_resumes_on_another_replica_without_gap_or_duplicate() {
    if let Some(url) = engine(NATS).await {
        resumes_on_another_replica(url).await;
    }
}

/// What a replica process reads its engine URL, prefix and port from.
const REPLICA_VAR: &str = "ASYNCFORGE_SSE_REPLICA";

/// A replica process (a child of the rolling-restart tests; does nothing on its own): serves
/// topics on the backplane on the port it is given and prints it, until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of the rolling-restart tests"]
async fn sse_replica_process() {
    let Ok(spec) = std::env::var(REPLICA_VAR) else {
        return;
    };
    let mut parts = spec.split(' ');
    let (Some(url), Some(prefix), Some(port)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("`{spec}` is not `url prefix port`");
    };
    let topics = Topics::with_backplane(
        config(1000, Duration::from_secs(600)),
        100,
        &backplane(url, prefix),
    );
    topics.backplane_connected().await;
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("port")))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    serve(topics, listener);
    println!("replica-port:{}", addr.port());
    std::future::pending::<()>().await;
}

/// Three replica processes behind the proxy, each killed (SIGKILL) and started again on its
/// port in turn while a publisher (the replicas in turn, over HTTP, passing over one that is
/// down) keeps publishing: the client, reconnecting wherever the proxy sends it, ends up with
/// every acknowledged event once, in order, with no gap: the window outlived every replica.
async fn rolling_restart(url: &str) {
    let prefix = prefix("rolling");
    let spawn = |port: u16| {
        replica_process(
            "sse_replica_process",
            REPLICA_VAR,
            &format!("{url} {prefix} {port}"),
        )
    };
    let (mut children, addrs): (Vec<_>, Vec<_>) = (0..3).map(|_| spawn(0)).unzip();
    let proxy = Proxy::start(addrs.clone()).await;
    let seen = Arc::new(Seen::default());
    let client = tokio::spawn(resuming_client(
        proxy.addr,
        TOPIC.into(),
        seen.clone(),
        None,
    ));
    until("the client connected", || {
        seen.connections.load(Ordering::SeqCst) == 1
    })
    .await;
    // Once connected, a stream gets what is published after it; give the replica a moment to
    // register it.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let publishing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let publisher = {
        let acknowledged = acknowledged.clone();
        let publishing = publishing.clone();
        let addrs = addrs.clone();
        tokio::spawn(async move {
            let mut rng = XorShift(0xfeed_beef);
            let mut n = 0u64;
            while publishing.load(Ordering::SeqCst) {
                let addr = addrs[rng.below(addrs.len())];
                // Only what a replica acknowledged counts; a number whose answer was lost
                // with a killed replica is published again, so the log may hold it twice
                // (two events, two ids): the client must get both, in the log's order.
                if let Some(id) = post(addr, &n.to_string()).await {
                    acknowledged.lock().expect("lock").push((id, n.to_string()));
                    n += 1;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let port = addrs[i].port();
        children[i].kill().expect("SIGKILL");
        children[i].wait().expect("reap");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (child, addr) = spawn(port);
        assert_eq!(addr, addrs[i]);
        children[i] = child;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    publishing.store(false, Ordering::SeqCst);
    publisher.await.expect("publisher");
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() > 50, "{} publishes", acknowledged.len());
    let (last_id, _) = acknowledged.last().cloned().expect("some publishes");
    until("the last acknowledged event at the client", || {
        seen.ids().contains(&last_id)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Every acknowledged event, once, in order; the client's ids increase strictly (so no
    // event came twice), and nothing is missing: the acknowledged ones are all there.
    let got: Vec<(String, String)> = {
        let events = seen.events.lock().expect("lock");
        events
            .iter()
            .filter(|e| e.name != GAP_EVENT)
            .map(|e| (e.id.clone().unwrap_or_default(), e.data.clone()))
            .collect()
    };
    assert_eq!(seen.gaps(), 0);
    let order = |id: &str| -> (u64, u64) {
        match id.split_once('-') {
            Some((a, b)) => (a.parse().expect("ms"), b.parse().expect("seq")),
            None => (id.parse().expect("seq"), 0),
        }
    };
    for pair in got.windows(2) {
        assert!(
            order(&pair[0].0) < order(&pair[1].0),
            "{pair:?}: once each, in order"
        );
    }
    let got_acknowledged: Vec<(String, String)> = got
        .iter()
        .filter(|e| acknowledged.contains(e))
        .cloned()
        .collect();
    assert_eq!(got_acknowledged, acknowledged, "every acknowledged event");
    let connections = seen.connections.load(Ordering::SeqCst);
    assert!(connections >= 3, "{connections} connections");
    client.abort();
    for c in &mut children {
        c.kill().expect("kill");
        c.wait().expect("reap");
    }
    clean(url, &prefix).await;
}

/// `POST /events/{TOPIC}` to one replica: the event's id, or `None` when the replica did not
/// answer 200.
async fn post(addr: SocketAddr, body: &str) -> Option<String> {
    let mut socket = TcpStream::connect(addr).await.ok()?;
    let request = format!(
        "POST /events/{TOPIC} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let answer = String::from_utf8(answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_rolling_restart_of_every_replica_loses_nothing() {
    if let Some(url) = engine(REDIS).await {
        rolling_restart(url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_a_rolling_restart_of_every_replica_loses_nothing() {
    if let Some(url) = engine(NATS).await {
        rolling_restart(url).await;
    }
}

/// A window of 5 events and 2 s: resuming from an id still in it replays exactly what
/// follows, from the id just before the oldest too; from an older one the gap event (with
/// the oldest id held) comes first; an id that is not one of the engine's gets the gap and
/// the whole window; once events aged out, the gap again (with no oldest id when none is
/// held). Live events follow each time.
async fn window(url: &str) {
    let prefix = prefix("window");
    let backplane = backplane(url, &prefix);
    let age = Duration::from_secs(2);
    let (a, publisher) = replica(&backplane, config(5, age)).await;
    let (b, _other) = replica(&backplane, config(5, age)).await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(
            publisher
                .publish(TOPIC, "tick", &n.to_string())
                .await
                .expect("published"),
        );
    }
    let data = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .map(|e| {
                if e.name == GAP_EVENT {
                    format!("gap {}", e.data)
                } else {
                    format!("{} {}", e.id.clone().unwrap_or_default(), e.data)
                }
            })
            .collect()
    };
    let held =
        |from: usize| -> Vec<String> { (from..10).map(|n| format!("{} {n}", ids[n])).collect() };
    let gap = |last: &str, oldest: Option<&str>| {
        format!(
            "gap {}",
            serde_json::json!({ "lastEventId": last, "oldest": oldest })
        )
    };

    // In the window, on the other replica: what follows, nothing else.
    let mut s = Stream::open(b, TOPIC, Some(&ids[7])).await.expect("stream");
    assert_eq!(data(&s.take(2, Duration::from_secs(5)).await), held(8));
    // Just before the oldest held (5): nothing was lost.
    let mut s = Stream::open(a, TOPIC, Some(&ids[4])).await.expect("stream");
    assert_eq!(data(&s.take(5, Duration::from_secs(5)).await), held(5));
    // Older: the gap, then the window.
    let mut old = Stream::open(b, TOPIC, Some(&ids[2])).await.expect("stream");
    let mut want = vec![gap(&ids[2], Some(&ids[5]))];
    want.extend(held(5));
    assert_eq!(data(&old.take(6, Duration::from_secs(5)).await), want);
    // Not an id of the engine's: the gap (no oldest), then the window.
    let mut odd = Stream::open(a, TOPIC, Some("not-an-id"))
        .await
        .expect("stream");
    let mut want = vec![gap("not-an-id", None)];
    want.extend(held(5));
    assert_eq!(data(&odd.take(6, Duration::from_secs(5)).await), want);
    // The newest: nothing, then live events (from either replica) on both streams.
    let mut newest = Stream::open(b, TOPIC, Some(&ids[9])).await.expect("stream");
    let live = publisher
        .publish(TOPIC, "tick", "10")
        .await
        .expect("published");
    for stream in [&mut newest, &mut old, &mut odd] {
        assert_eq!(
            data(&stream.take(1, Duration::from_secs(5)).await),
            vec![format!("{live} 10")]
        );
    }

    // Aged out: the log holds nothing of the topic any more, so a client at an older id is
    // told it may have missed events (no oldest id), then gets what comes.
    tokio::time::sleep(age + Duration::from_millis(1500)).await;
    let mut s = Stream::open(b, TOPIC, Some(&ids[9])).await.expect("stream");
    let first = s.take(1, Duration::from_secs(5)).await;
    assert_eq!(data(&first), vec![gap(&ids[9], None)]);
    let next = publisher
        .publish(TOPIC, "tick", "11")
        .await
        .expect("published");
    assert_eq!(
        data(&s.take(1, Duration::from_secs(5)).await),
        vec![format!("{next} 11")]
    );
    // Aged out while newer ones came: the gap names the oldest still held.
    let mut s = Stream::open(a, TOPIC, Some(&live)).await.expect("stream");
    let mut want = vec![gap(&live, Some(&next))];
    want.push(format!("{next} 11"));
    assert_eq!(data(&s.take(2, Duration::from_secs(5)).await), want);
    clean(url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_an_id_out_of_the_window_gets_the_gap_event() {
    if let Some(url) = engine(REDIS).await {
        window(url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_an_id_out_of_the_window_gets_the_gap_event() {
    if let Some(url) = engine(NATS).await {
        window(url).await;
    }
}

/// The engine becomes unreachable (a proxy in front of it goes down): the replica reports it
/// (`Connecting`), ends its streams, refuses new ones with 503, and a publish fails with a
/// transport error or a timeout instead of vanishing. Once the engine is reachable again,
/// the subscription is made again (a new generation), and the client, which kept retrying,
/// resumes: it has every event published before and after, once, in order.
async fn outage(url: &str) {
    let Some(target) = url
        .split_once("://")
        .and_then(|(_, a)| a.parse::<SocketAddr>().ok())
    else {
        panic!("{url} is not scheme://ip:port");
    };
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    let gate = Proxy::start(vec![target]).await;
    let prefix = prefix("outage");
    let via_gate = backplane(&format!("{scheme}://{}", gate.addr), &prefix);
    let (addr, topics) = replica(&via_gate, config(1000, Duration::from_secs(600))).await;
    // A publisher with its own way to the engine: it stays up.
    let publisher = Topics::with_backplane(
        config(1000, Duration::from_secs(600)),
        10,
        &backplane(url, &prefix),
    );

    let seen = Arc::new(Seen::default());
    let client = tokio::spawn(resuming_client(addr, TOPIC.into(), seen.clone(), None));
    until("the client subscribed", || {
        topics.get(TOPIC).is_some_and(|t| t.subscribers() == 1)
    })
    .await;
    let mut want = Vec::new();
    for n in 0..5 {
        publisher
            .publish(TOPIC, "tick", &n.to_string())
            .await
            .expect("published");
        want.push(n.to_string());
    }
    until("the first events", || seen.data().len() == 5).await;

    gate.down(true);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(topics.backplane_state(), Some(State::Connecting { .. })) {
        assert!(Instant::now() < deadline, "the outage is reported");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = topics
        .publish(TOPIC, "tick", "lost")
        .await
        .expect_err("no engine, no publish");
    assert!(
        matches!(err.kind(), ErrorKind::Transport | ErrorKind::Timeout),
        "{err:?}"
    );
    let refused = seen.refused.load(Ordering::SeqCst);
    until("streams are refused meanwhile", || {
        seen.refused.load(Ordering::SeqCst) > refused + 2
    })
    .await;
    for n in 5..10 {
        publisher
            .publish(TOPIC, "tick", &n.to_string())
            .await
            .expect("published");
        want.push(n.to_string());
    }

    gate.down(false);
    let state = tokio::time::timeout(Duration::from_secs(20), topics.backplane_connected())
        .await
        .expect("the subscription comes back");
    assert!(
        matches!(state, Some(State::Connected { generation }) if generation >= 2),
        "{state:?}"
    );
    until("what was published during the outage", || {
        seen.data().len() >= 10
    })
    .await;
    for n in 10..15 {
        topics
            .publish(TOPIC, "tick", &n.to_string())
            .await
            .expect("published again");
        want.push(n.to_string());
    }
    until("what follows", || seen.data().len() >= 15).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.data(), want, "once each, in order, none lost");
    assert_eq!(seen.gaps(), 0);
    client.abort();
    clean(url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_an_outage_is_reported_and_recovered_from() {
    if let Some(url) = engine(REDIS).await {
        outage(url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_an_outage_is_reported_and_recovered_from() {
    if let Some(url) = engine(NATS).await {
        outage(url).await;
    }
}

#[tokio::test]
async fn without_a_backplane_topics_stay_in_process() {
    let topics = Topics::new(config(3, Duration::from_secs(600)), 10);
    assert_eq!(topics.backplane_state(), None);
    assert_eq!(topics.backplane_connected().await, None);
    let first = topics.publish(TOPIC, "tick", "0").await.expect("published");
    let second = topics.publish(TOPIC, "tick", "1").await.expect("published");
    let (a, b): (u64, u64) = (
        first.parse().expect("a number"),
        second.parse().expect("a number"),
    );
    assert_eq!(b, a + 1);
}
