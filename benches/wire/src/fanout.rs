//! SSE fan-out: N subscribers of `prices/btcusd`, K `tick`s published by the server.
//!
//! The subscribers are raw tokio TCP connections in this process (an HTTP/1.1 `GET`, the
//! chunked body decoded by hand, events parsed with the runtime's `sse::Parser`): lighter than
//! N HTTP clients, so the client process disturbs the server as little as possible on a
//! machine with few cores. Each `tick` carries its publish time in `at` (RFC 3339 with
//! nanoseconds, the system clock both processes share); a subscriber records
//! `arrival - at` for every tick it reads.
//!
//! - generated: `Sender::stream_prices` of `tests/snapshots/pulse-rooms` (the runtime's
//!   `sse::server::Topic`: a replay buffer and one bounded queue per subscriber), served by the
//!   generated router.
//! - baseline: a hand-written axum handler over a `tokio::sync::broadcast` channel of the same
//!   capacity as the generated subscriber queue, the same `retry:` first event and heartbeat.
//!
//! The server's resident memory (`VmRSS`) is read before the subscribers connect, once they
//! all are connected, and after the events; memory per connection is the growth divided by N
//! (kernel socket buffers are not in it).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use asyncforge_runtime::Received;
use asyncforge_runtime::codegen::DateTime;
use asyncforge_runtime::endpoint::Reject;
use asyncforge_runtime::sse::Parser;
use asyncforge_runtime::sse::server::SseConfig;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use snapshot_pulse_rooms::channels::{LobbyParams, PricesParams, QuotesParams, RoomParams};
use snapshot_pulse_rooms::messages::{Ping, Pong, Post, Quote, QuoteAck, Tick};
use snapshot_pulse_rooms::server::{Config, Handler, HeaderMap, LobbySession, RoomSession, Server};
use snapshot_pulse_rooms::types::{PongPayload, PongPayloadEvent, QuoteAckPayload, TickPayload};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, broadcast, watch};

use super::{Impl, ServerChild, now_ns, percentiles, runtime, serve_with};

/// Connection attempts in flight at once (the server's accept backlog is 1024).
const CONNECTING: usize = 256;
/// Time allowed for all subscribers to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// Time allowed, after the last publish, for every tick to arrive.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
const SYMBOL: &str = "btcusd";

/// Runs the scenario and prints the JSON line.
pub fn run(imp: Impl, subscribers: usize, events: usize, interval: Duration) -> Result<(), String> {
    let subscribers = subscribers.max(1);
    let events = events.max(1);
    let limit = super::nofile_limit();
    if (limit as usize) < subscribers + 64 {
        return Err(format!(
            "{subscribers} subscribers need more open files than RLIMIT_NOFILE allows ({limit})"
        ));
    }
    let mut server = ServerChild::start("sse-server", imp)?;
    let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
    let rt = runtime()?;

    // Let the server settle, then take its idle footprint.
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = server.rss_kib();

    let shared = Arc::new(Progress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let started = Instant::now();
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| {
            let shared = shared.clone();
            let gate = gate.clone();
            let stop = stop_rx.clone();
            rt.spawn(subscriber(addr, events, shared, gate, stop))
        })
        .collect();
    rt.block_on(async {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while shared.ready.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed)
            < subscribers
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let connect_secs = started.elapsed().as_secs_f64();
    let connected = shared.ready.load(Ordering::Relaxed);
    // Queues and buffers allocated on connect are in place; give the allocator a moment.
    std::thread::sleep(Duration::from_millis(500));
    let rss_connected = server.rss_kib();

    let cpu0 = server.cpu();
    let answer = server.command(&format!("publish {events} {}", interval.as_millis()))?;
    if !answer.starts_with("published") {
        return Err(format!("the server answered `{answer}`"));
    }
    let expected = (connected * events) as u64;
    rt.block_on(async {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while shared.delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let cpu1 = server.cpu();
    let rss_after = server.rss_kib();
    let _ = stop_tx.send(true);
    let results = rt.block_on(async {
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await);
        }
        out
    });
    drop(rt);
    drop(server);

    let mut latencies = Vec::with_capacity(expected as usize);
    // Per event: when its last subscriber got it.
    let mut last_per_event = vec![0u64; events];
    let mut errors: Vec<String> = Vec::new();
    for r in results {
        match r {
            Ok(Ok(samples)) => {
                for (k, l) in samples.iter().enumerate() {
                    if let Some(slot) = last_per_event.get_mut(k) {
                        *slot = (*slot).max(*l);
                    }
                }
                latencies.extend(samples);
            }
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let delivered = latencies.len();
    let p = percentiles(&mut latencies);
    let fanout = percentiles(&mut last_per_event);
    errors.sort();
    errors.dedup();
    let kib_per_conn = match (rss_before, rss_connected) {
        (Some(a), Some(b)) if connected > 0 => b.saturating_sub(a) as f64 / connected as f64,
        _ => f64::NAN,
    };
    let out = serde_json::json!({
        "scenario": "sse-fanout",
        "impl": imp.name(),
        "subscribers": subscribers,
        "connected": connected,
        "events": events,
        "interval_ms": interval.as_millis() as u64,
        "delivered": delivered,
        "expected": subscribers * events,
        "p50_ms": p.p50 / 1000.0,
        "p99_ms": p.p99 / 1000.0,
        "max_ms": p.max / 1000.0,
        "fanout_p50_ms": fanout.p50 / 1000.0,
        "connect_secs": connect_secs,
        "rss_before_kib": rss_before,
        "rss_connected_kib": rss_connected,
        "rss_after_kib": rss_after,
        "kib_per_conn": kib_per_conn,
        "server_cpu_secs": match (cpu0, cpu1) {
            (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
            _ => f64::NAN,
        },
        "errors": errors.iter().take(5).collect::<Vec<_>>(),
    });
    println!("{out}");
    Ok(())
}

#[derive(Default)]
struct Progress {
    ready: AtomicUsize,
    failed: AtomicUsize,
    delivered: AtomicU64,
}

#[derive(Deserialize)]
struct TickAt {
    at: DateTime,
}

/// One subscriber: connects, reads until it has `events` ticks or is stopped; returns the
/// delivery latency of each tick in nanoseconds, in arrival order.
async fn subscriber(
    addr: SocketAddr,
    events: usize,
    progress: Arc<Progress>,
    gate: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> Result<Vec<u64>, String> {
    let connecting = gate.acquire_owned().await.map_err(|e| e.to_string())?;
    let result = async {
        let mut socket = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        socket.set_nodelay(true).map_err(|e| e.to_string())?;
        let request = format!(
            "GET /sse/prices/{SYMBOL} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        );
        socket
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("request: {e}"))?;
        Ok::<_, String>(socket)
    }
    .await;
    let mut socket = match result {
        Ok(s) => s,
        Err(e) => {
            progress.failed.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
    };
    let mut buf = vec![0u8; 4096];
    let mut head = Vec::new();
    let mut body: Option<Dechunk> = None;
    let mut parser = Parser::new(1 << 16);
    let mut ready = Some(connecting);
    let mut latencies = Vec::with_capacity(events);
    let mut decoded = Vec::with_capacity(4096);
    while latencies.len() < events {
        let n = tokio::select! {
            n = socket.read(&mut buf) => n.map_err(|e| format!("read: {e}"))?,
            _ = stop.changed() => break,
        };
        if n == 0 {
            break;
        }
        let arrived = now_ns();
        let chunk = &buf[..n];
        let body: &mut Dechunk = match &mut body {
            Some(b) => {
                decoded.clear();
                b.feed(chunk, &mut decoded)?;
                b
            }
            None => {
                head.extend_from_slice(chunk);
                let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                if !text.starts_with("http/1.1 200") {
                    progress.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(format!(
                        "status: {}",
                        text.lines().next().unwrap_or_default()
                    ));
                }
                let mut d = Dechunk::new(text.contains("transfer-encoding: chunked"));
                decoded.clear();
                d.feed(&head[end + 4..], &mut decoded)?;
                body.insert(d)
            }
        };
        let _ = body;
        for event in parser.feed(&decoded).map_err(|e| e.to_string())? {
            if event.name != "tick" {
                continue;
            }
            let tick: TickAt =
                serde_json::from_str(&event.data).map_err(|e| format!("tick: {e}"))?;
            let at = tick.at.0.timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
            latencies.push(arrived.saturating_sub(at));
            progress.delivered.fetch_add(1, Ordering::Relaxed);
        }
        // The first event of both servers is a `retry:` hint: the subscription is in place.
        if ready.is_some() && parser.retry().is_some() {
            ready = None;
            progress.ready.fetch_add(1, Ordering::Relaxed);
        }
    }
    if ready.is_some() {
        progress.failed.fetch_add(1, Ordering::Relaxed);
        return Err("the stream ended before its first event".into());
    }
    Ok(latencies)
}

/// Decodes an HTTP/1.1 chunked body (or passes a plain one through).
struct Dechunk {
    chunked: bool,
    state: ChunkState,
    size: u64,
}

enum ChunkState {
    /// Reading the hexadecimal size (then extensions, ignored) up to LF.
    Size { digits: bool, extension: bool },
    /// `size` bytes of data left.
    Data,
    /// The CRLF after the data.
    DataEnd,
    /// After the last chunk: trailers, ignored.
    Done,
}

impl Dechunk {
    fn new(chunked: bool) -> Self {
        Dechunk {
            chunked,
            state: ChunkState::Size {
                digits: false,
                extension: false,
            },
            size: 0,
        }
    }

    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if !self.chunked {
            out.extend_from_slice(input);
            return Ok(());
        }
        while let Some((&b, rest)) = input.split_first() {
            match &mut self.state {
                ChunkState::Size { digits, extension } => {
                    input = rest;
                    match b {
                        b'\n' if *digits => {
                            self.state = if self.size == 0 {
                                ChunkState::Done
                            } else {
                                ChunkState::Data
                            };
                        }
                        b'\r' => {}
                        _ if *extension => {}
                        b';' | b' ' | b'\t' => *extension = true,
                        _ => {
                            let d = (b as char)
                                .to_digit(16)
                                .ok_or_else(|| format!("bad chunk size byte {b:#x}"))?;
                            self.size = self
                                .size
                                .checked_mul(16)
                                .and_then(|s| s.checked_add(d as u64))
                                .ok_or("chunk size overflow")?;
                            *digits = true;
                        }
                    }
                }
                ChunkState::Data => {
                    let take = (self.size as usize).min(input.len());
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = ChunkState::DataEnd;
                    }
                }
                ChunkState::DataEnd => {
                    input = rest;
                    if b == b'\n' {
                        self.state = ChunkState::Size {
                            digits: false,
                            extension: false,
                        };
                    }
                }
                ChunkState::Done => return Ok(()),
            }
        }
        Ok(())
    }
}

// ---- servers ----

/// A tick at `price`, stamped now.
fn tick(price: f64) -> TickPayload {
    TickPayload {
        symbol: SYMBOL.to_owned(),
        price,
        at: DateTime::now(),
        extra: Default::default(),
    }
}

/// The hand-written server's tick: the same fields, typed with serde.
#[derive(Serialize)]
struct TickOut<'a> {
    symbol: &'a str,
    price: f64,
    at: DateTime,
}

type Published = Arc<(u64, String)>;

fn baseline_router(tx: broadcast::Sender<Published>) -> axum::Router {
    axum::Router::new()
        .route("/sse/prices/{symbol}", axum::routing::get(baseline_stream))
        .with_state(tx)
}

async fn baseline_stream(
    axum::extract::State(tx): axum::extract::State<broadcast::Sender<Published>>,
    axum::extract::Path(symbol): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !["btcusd", "ethusd", "solusd"].contains(&symbol.as_str()) {
        return (axum::http::StatusCode::NOT_FOUND, "unknown symbol").into_response();
    }
    let rx = tx.subscribe();
    let first = Event::default().retry(SseConfig::default().retry);
    let live = stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(item) => {
                    let event = Event::default()
                        .id(item.0.to_string())
                        .event("tick")
                        .data(&item.1);
                    return Some((event, rx));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let events: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        Box::pin(stream::once(async move { first }).chain(live).map(Ok));
    Sse::new(events)
        .keep_alive(
            KeepAlive::new()
                .interval(SseConfig::default().heartbeat)
                .text("heartbeat"),
        )
        .into_response()
}

/// The generated server's handler: nothing but the ticker is used here.
struct Ticker;

impl Handler for Ticker {
    async fn post_message(
        &self,
        _received: Received<Post, &RoomParams, &RoomSession>,
    ) -> Result<(), Reject> {
        Ok(())
    }

    async fn ping(
        &self,
        received: Received<Ping, &LobbyParams, &LobbySession>,
    ) -> Result<Pong, Reject> {
        let message = received.message;
        Ok(Pong::new(PongPayload {
            event: PongPayloadEvent::Pong,
            request_id: message.payload.request_id,
            server_time: DateTime::now(),
            extra: Default::default(),
        }))
    }

    async fn submit_quote(
        &self,
        _received: Received<Quote, QuotesParams, HeaderMap>,
    ) -> Result<QuoteAck, Reject> {
        Ok(QuoteAck::new(QuoteAckPayload {
            accepted: true,
            id: 1,
            extra: Default::default(),
        }))
    }
}

/// The server process: publishes on `publish K INTERVAL_MS` and answers `published K`.
pub fn serve(imp: Impl) -> Result<(), String> {
    let rt = runtime()?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("bind: {e}"))?;
    let queue = SseConfig::default().subscriber_queue;
    let generated = Server::new(Config::default());
    let (tx, _) = broadcast::channel::<Published>(queue);
    let router = match imp {
        Impl::Generated => generated.router(Ticker),
        Impl::Baseline => baseline_router(tx.clone()),
    };
    let sender = generated.sender();
    let next_id = AtomicU64::new(1);
    serve_with(&rt, listener, router, |line| {
        let sender = sender.clone();
        let tx = tx.clone();
        let next_id = &next_id;
        async move {
            let mut words = line.split_whitespace();
            let (Some("publish"), Some(k), Some(ms)) = (words.next(), words.next(), words.next())
            else {
                return format!("unknown command `{line}`");
            };
            let (Ok(k), Ok(ms)) = (k.parse::<u64>(), ms.parse::<u64>()) else {
                return format!("bad numbers in `{line}`");
            };
            let params = PricesParams {
                symbol: SYMBOL.to_owned(),
            };
            let mut every = tokio::time::interval(Duration::from_millis(ms.max(1)));
            for i in 0..k {
                every.tick().await;
                let price = 100.0 + i as f64;
                match imp {
                    Impl::Generated => {
                        if let Err(e) = sender.stream_prices(&params, Tick::new(tick(price))).await
                        {
                            return format!("publish failed: {e}");
                        }
                    }
                    Impl::Baseline => {
                        let payload = tick(price);
                        let data = match serde_json::to_string(&TickOut {
                            symbol: &payload.symbol,
                            price: payload.price,
                            at: payload.at,
                        }) {
                            Ok(d) => d,
                            Err(e) => return format!("publish failed: {e}"),
                        };
                        let id = next_id.fetch_add(1, Ordering::Relaxed);
                        // No receivers is not an error for a ticker.
                        let _ = tx.send(Arc::new((id, data)));
                    }
                }
            }
            format!("published {k}")
        }
    })
}
