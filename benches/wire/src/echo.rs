//! WebSocket echo: the `lobby` channel's `ping` → `pong` request/reply, in a closed loop.
//!
//! Each of N connections sends a `ping` with a fresh `requestId`, waits for the `pong` that
//! carries the same `requestId`, records the round trip, and sends the next one.
//!
//! What each side does per round trip:
//!
//! | | generated (`tests/snapshots/pulse-rooms`) | baseline (hand-written below) |
//! |---|---|---|
//! | client send | `LobbyClient::ping`: correlation id read from the message, request registered, payload encoded, frame written to the socket by the caller (queued to the connection task only when the socket is busy or full) | `PingOut` encoded with serde_json, sent on the socket |
//! | server | frame parsed as JSON, checked against the `ping` schema, decoded; `Handler::ping` builds the `Pong` (copying `requestId`, `serverTime` now); encoded (the correlation id filled in if absent), queued to the connection's writer | `PingIn` decoded with serde (`event` must be `"ping"`, `requestId` a UUID); `PongOut` built the same way and encoded, sent on the socket |
//! | client receive | frame parsed as JSON, checked against the `pong` schema, decoded, matched to its request by `requestId` | `PongIn` decoded with serde (`event` `"pong"`, `requestId` a UUID, `serverTime` RFC 3339), `requestId` compared |
//!
//! Serde's typed decoding in the baseline enforces the same constraints the `ping` and `pong`
//! schemas express (a constant `event`, a UUID, an RFC 3339 time): the generated code checks
//! them with the JSON Schema and again with serde.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use asyncforge_runtime::Received;
use asyncforge_runtime::codegen::{DateTime, Uuid};
use asyncforge_runtime::endpoint::Reject;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use snapshot_pulse_rooms::channels::{LobbyParams, QuotesParams, RoomParams};
use snapshot_pulse_rooms::client::{ClientOptions, LobbyClient};
use snapshot_pulse_rooms::messages::{Ping, Pong, Post, Quote, QuoteAck};
use snapshot_pulse_rooms::server::{Config, Handler, HeaderMap, LobbySession, RoomSession, Server};
use snapshot_pulse_rooms::types::{
    PingPayload, PingPayloadEvent, PongPayload, PongPayloadEvent, QuoteAckPayload,
};

use super::{Impl, ServerChild, percentiles, runtime, serve_with};

/// Runs the scenario: starts the server process, connects `conns` clients, warms up, measures
/// for `seconds`, prints the JSON line.
/// `server` picks the server's implementation when it differs from the client's (to see which
/// side costs what).
pub fn run(
    imp: Impl,
    server: Option<Impl>,
    conns: usize,
    seconds: Duration,
    warmup: Duration,
) -> Result<(), String> {
    let conns = conns.max(1);
    let server_impl = server.unwrap_or(imp);
    let server = ServerChild::start("ws-server", server_impl)?;
    let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
    let rt = runtime()?;
    let client_cpu = || super::cpu_time("/proc/self/stat");

    // Connect everyone, then warm up (schemas compiled, buffers grown, connections hot).
    let clients = rt.block_on(connect_all(imp, addr, conns))?;
    let (clients, _) = rt.block_on(round(clients, warmup))?;

    let (server_cpu0, client_cpu0) = (server.cpu(), client_cpu());
    let steal0 = super::steal_ticks();
    let started = Instant::now();
    let (clients, mut samples) = rt.block_on(round(clients, seconds))?;
    let elapsed = started.elapsed();
    let (server_cpu1, client_cpu1) = (server.cpu(), client_cpu());
    let steal = super::steal_percent(steal0, super::steal_ticks());
    let server_rss = server.rss_kib();
    drop(clients);
    drop(rt);
    drop(server);

    let count = samples.len();
    let p = percentiles(&mut samples);
    let per_msg = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if count > 0 => (b.saturating_sub(a)).as_secs_f64() * 1e6 / count as f64,
        _ => f64::NAN,
    };
    let out = serde_json::json!({
        "scenario": "ws-echo",
        "impl": imp.name(),
        "server_impl": server_impl.name(),
        "conns": conns,
        "round_trips": count,
        "seconds": elapsed.as_secs_f64(),
        "per_sec": count as f64 / elapsed.as_secs_f64(),
        "p50_us": p.p50,
        "p99_us": p.p99,
        "max_us": p.max,
        "server_cpu_us_per_rt": per_msg(server_cpu0, server_cpu1),
        "client_cpu_us_per_rt": per_msg(client_cpu0, client_cpu1),
        "server_rss_kib": server_rss,
        "steal_pct": steal,
    });
    println!("{out}");
    Ok(())
}

/// One connection, generated or hand-written.
enum Client {
    Generated(LobbyClient),
    Baseline(Box<BaselineSocket>),
}

type BaselineSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_all(imp: Impl, addr: SocketAddr, conns: usize) -> Result<Vec<Client>, String> {
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        let client = match imp {
            Impl::Generated => {
                let c = LobbyClient::connect(
                    &format!("ws://{addr}"),
                    &LobbyParams::default(),
                    ClientOptions::default(),
                );
                let state = tokio::time::timeout(Duration::from_secs(10), c.wait_connected())
                    .await
                    .map_err(|_| "the generated client did not connect in 10 s".to_owned())?;
                if !matches!(
                    state,
                    asyncforge_runtime::ws::client::State::Connected { .. }
                ) {
                    return Err(format!("the generated client did not connect: {state:?}"));
                }
                Client::Generated(c)
            }
            Impl::Baseline => {
                let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/lobby"))
                    .await
                    .map_err(|e| format!("baseline connect: {e}"))?;
                Client::Baseline(Box::new(socket))
            }
        };
        clients.push(client);
    }
    Ok(clients)
}

/// Every client runs round trips (each on its own task) until `length` has passed; returns
/// the clients and every round trip's time in nanoseconds.
async fn round(clients: Vec<Client>, length: Duration) -> Result<(Vec<Client>, Vec<u64>), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let samples = c.run(i as u64, &stop).await;
                (c, samples)
            })
        })
        .collect();
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut clients = Vec::with_capacity(tasks.len());
    let mut all = Vec::new();
    for t in tasks {
        let (c, samples) = t.await.map_err(|e| e.to_string())?;
        all.extend(samples?);
        clients.push(c);
    }
    Ok((clients, all))
}

impl Client {
    async fn run(&mut self, index: u64, stop: &AtomicBool) -> Result<Vec<u64>, String> {
        let mut samples = Vec::with_capacity(1 << 16);
        let mut seq = 0u64;
        while !stop.load(Ordering::Relaxed) {
            seq += 1;
            let id = Uuid::from_u64_pair(index, seq);
            let t = Instant::now();
            match self {
                Client::Generated(c) => {
                    let pong = c
                        .ping(Ping::new(PingPayload {
                            event: PingPayloadEvent::Ping,
                            request_id: Some(id),
                            extra: Default::default(),
                        }))
                        .await
                        .map_err(|e| format!("ping: {e}"))?;
                    if pong.payload.request_id != Some(id) {
                        return Err("a pong for another ping".into());
                    }
                }
                Client::Baseline(socket) => baseline_round_trip(socket, id).await?,
            }
            samples.push(t.elapsed().as_nanos() as u64);
        }
        Ok(samples)
    }
}

// ---- the hand-written baseline: the same messages, typed with serde ----

#[derive(Serialize)]
struct PingOut {
    event: &'static str,
    #[serde(rename = "requestId")]
    request_id: Uuid,
}

#[derive(Deserialize)]
struct PingIn {
    event: PingEvent,
    #[serde(rename = "requestId", default)]
    request_id: Option<Uuid>,
}

#[derive(Deserialize)]
enum PingEvent {
    #[serde(rename = "ping")]
    Ping,
}

#[derive(Serialize)]
struct PongOut {
    event: &'static str,
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    request_id: Option<Uuid>,
    #[serde(rename = "serverTime")]
    server_time: DateTime,
}

#[derive(Deserialize)]
struct PongIn {
    #[allow(dead_code)]
    event: PongEvent,
    #[serde(rename = "requestId", default)]
    request_id: Option<Uuid>,
    #[serde(rename = "serverTime")]
    #[allow(dead_code)]
    server_time: DateTime,
}

#[derive(Deserialize)]
enum PongEvent {
    #[serde(rename = "pong")]
    Pong,
}

async fn baseline_round_trip(socket: &mut BaselineSocket, id: Uuid) -> Result<(), String> {
    use tokio_tungstenite::tungstenite::Message;
    let text = serde_json::to_string(&PingOut {
        event: "ping",
        request_id: id,
    })
    .map_err(|e| e.to_string())?;
    socket
        .send(Message::text(text))
        .await
        .map_err(|e| format!("baseline send: {e}"))?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(t))) => {
                let pong: PongIn =
                    serde_json::from_str(t.as_str()).map_err(|e| format!("baseline pong: {e}"))?;
                if pong.request_id != Some(id) {
                    return Err("a pong for another ping".into());
                }
                return Ok(());
            }
            Some(Ok(Message::Close(_))) | None => return Err("baseline: connection closed".into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("baseline receive: {e}")),
        }
    }
}

async fn baseline_connection(mut socket: axum::extract::ws::WebSocket) {
    use axum::extract::ws::Message;
    while let Some(Ok(msg)) = socket.recv().await {
        let Message::Text(text) = msg else { continue };
        let reply = match serde_json::from_str::<PingIn>(text.as_str()) {
            Ok(PingIn {
                event: PingEvent::Ping,
                request_id,
            }) => serde_json::to_string(&PongOut {
                event: "pong",
                request_id,
                server_time: DateTime::now(),
            }),
            Err(e) => serde_json::to_string(&serde_json::json!({ "error": e.to_string() })),
        };
        let Ok(reply) = reply else { break };
        if socket.send(Message::text(reply)).await.is_err() {
            break;
        }
    }
}

fn baseline_router() -> axum::Router {
    axum::Router::new().route(
        "/ws/lobby",
        axum::routing::get(|ws: axum::extract::ws::WebSocketUpgrade| async move {
            ws.on_upgrade(baseline_connection)
        }),
    )
}

// ---- the generated server's handler ----

/// The application behind the generated server: answers pings like the baseline does.
struct Echo;

impl Handler for Echo {
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

/// The server process of the scenario.
pub fn serve(imp: Impl) -> Result<(), String> {
    let rt = runtime()?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("bind: {e}"))?;
    // Kept alive as long as the router: the generated server owns the connection hub.
    let generated;
    let router = match imp {
        Impl::Generated => {
            generated = Server::new(Config::default());
            generated.router(Echo)
        }
        Impl::Baseline => baseline_router(),
    };
    serve_with(&rt, listener, router, |line| async move {
        format!("unknown command `{line}`")
    })
}
