//! `cargo xtask bench fanout`: WebSocket fan-out through each backplane against in-process.
//!
//! Every replica is a runtime `Hub` served by axum on loopback with its own backplane
//! connection (all in this process, so that one clock times every delivery); 30 WebSocket
//! clients per replica subscribe to one channel address; 2,000 publishes of a timestamp,
//! shared out between the replicas, each replica publishing its share in order, once as fast
//! as the publishes complete and once paced at 1,000 publishes per second in all. Reported:
//! deliveries per second (publishes × clients over the time until the last client has
//! everything) and the delivery latency, publish call to client read, p50 and p99 (the paced
//! run's latency is what one delivery costs; the unpaced one's includes queueing). Engines:
//! in-process (one replica), Redis on 127.0.0.1:6379 and NATS on 127.0.0.1:4222 at one and
//! three replicas (an engine that does not answer is skipped with a notice).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asyncforge_runtime::Dispatch;
use asyncforge_runtime::ws::{self, Backplane, Event, Frame, Hub, Refusal, WsConfig};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, Uri};
use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

const CLIENTS_PER_REPLICA: usize = 30;
const PUBLISHES: usize = 2_000;
const ADDRESS: &str = "/bench";

pub fn run() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "== WebSocket fan-out: {CLIENTS_PER_REPLICA} clients per replica, {PUBLISHES} publishes shared out between the replicas"
    );
    println!(
        "  {:<11} {:>8}  {:>13}  {:>8}  {:>8}  {:>14}  {:>14}",
        "engine", "replicas", "deliveries/s", "p50 ms", "p99 ms", "paced p50 ms", "paced p99 ms"
    );
    let result = rt.block_on(async {
        for (engine, url) in [
            ("in-process", None),
            ("redis", Some("redis://127.0.0.1:6379")),
            ("nats", Some("nats://127.0.0.1:4222")),
        ] {
            if let Some(url) = url
                && !reachable(url).await
            {
                println!("  {engine:<11} skipped: nothing answers at {url} (cargo xtask peers)");
                continue;
            }
            let counts: &[usize] = if url.is_some() { &[1, 3] } else { &[1] };
            for &replicas in counts {
                let (per_sec, p50, p99) = round(url, replicas, None).await?;
                let pace = Duration::from_millis(replicas as u64);
                let (_, paced50, paced99) = round(url, replicas, Some(pace)).await?;
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                println!(
                    "  {engine:<11} {replicas:>8}  {per_sec:>13.0}  {:>8.2}  {:>8.2}  {:>14.2}  {:>14.2}",
                    ms(p50),
                    ms(p99),
                    ms(paced50),
                    ms(paced99)
                );
            }
        }
        Ok::<(), String>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fan-out benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn reachable(url: &str) -> bool {
    let addr = url.split_once("://").map_or(url, |(_, a)| a);
    tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// Subscribes every connection to its path and tells it so (`ready`).
struct Subscribe;

impl<'a> Dispatch<Event<'a>, Refusal> for Subscribe {
    async fn dispatch(&self, event: Event<'a>) -> Result<(), Refusal> {
        if let Event::Opened(ctx) = event {
            ctx.hub.subscribe(ctx.conn, ctx.path.clone());
            let _ = ctx.hub.send(ctx.conn, Frame::Text("ready".into())).await;
        }
        Ok(())
    }
}

/// A hub served on its own loopback port.
async fn replica(backplane: &Backplane) -> Result<(SocketAddr, Hub), String> {
    let config = WsConfig {
        send_queue: PUBLISHES * 2,
        ..WsConfig::default()
    };
    let hub = Hub::with_backplane(config, backplane);
    let handler = Arc::new(Subscribe);
    let app = axum::Router::new()
        .route(
            ADDRESS,
            axum::routing::get(
                move |State(hub): State<Hub>,
                      upgrade: WebSocketUpgrade,
                      headers: HeaderMap,
                      uri: Uri| {
                    let handler = handler.clone();
                    async move {
                        ws::accept(hub, handler, upgrade, headers, uri.path().to_owned(), None)
                    }
                },
            ),
        )
        .with_state(hub.clone());
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, hub))
}

/// One measurement, each replica publishing once per `pace` when given; returns deliveries
/// per second, p50 and p99 latency.
async fn round(
    url: Option<&str>,
    replicas: usize,
    pace: Option<Duration>,
) -> Result<(f64, Duration, Duration), String> {
    let backplane = match url {
        None => Backplane::in_process(),
        Some(url) => Backplane::from_url(url)
            .and_then(|b| {
                let paced = if pace.is_some() { "paced" } else { "burst" };
                b.prefix(&format!(
                    "asyncforge-bench.{}.{replicas}.{paced}",
                    std::process::id()
                ))
            })
            .map_err(|e| e.to_string())?,
    };
    let mut hubs = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..replicas {
        let (addr, hub) = replica(&backplane).await?;
        if url.is_some() {
            tokio::time::timeout(Duration::from_secs(10), hub.backplane_connected())
                .await
                .map_err(|_| "the backplane did not connect within 10 s".to_owned())?;
        }
        for _ in 0..CLIENTS_PER_REPLICA {
            let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{ADDRESS}"))
                .await
                .map_err(|e| e.to_string())?;
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.as_str() == "ready" => {}
                other => return Err(format!("no `ready` from the server: {other:?}")),
            }
            clients.push(ws);
        }
        hubs.push(hub);
    }
    let base = Instant::now();
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(PUBLISHES);
                while latencies.len() < PUBLISHES {
                    match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                        Ok(Some(Ok(Message::Text(t)))) => {
                            let sent: u64 = t.as_str().parse().map_err(|_| "a bad frame")?;
                            let now = base.elapsed().as_nanos() as u64;
                            latencies.push(Duration::from_nanos(now.saturating_sub(sent)));
                        }
                        Ok(Some(Ok(_))) => {}
                        _ => return Err("a client stopped receiving"),
                    }
                }
                Ok(latencies)
            })
        })
        .collect();
    let publishers: Vec<_> = hubs
        .iter()
        .enumerate()
        .map(|(i, hub)| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let mut tick = pace.map(tokio::time::interval);
                for _ in (i..PUBLISHES).step_by(replicas) {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let stamp = base.elapsed().as_nanos().to_string();
                    hub.publish(ADDRESS, Frame::Text(stamp))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for p in publishers {
        p.await.map_err(|e| e.to_string())??;
    }
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.await.map_err(|e| e.to_string())?.map_err(str::to_owned)?);
    }
    let elapsed = base.elapsed();
    all.sort_unstable();
    let at = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
    Ok((all.len() as f64 / elapsed.as_secs_f64(), at(0.5), at(0.99)))
}
