//! The generated pulse-rooms server against peers no one here wrote: headless Chromium (a
//! page using the browser's `WebSocket`, `EventSource` and `fetch`) and the Python
//! `websockets` library. Each test skips, saying so, when its peer is not installed; `.ci/run`
//! installs both.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncforge_runtime::codegen::{DateTime, Uuid};
use asyncforge_runtime::sse::server::SseConfig;
use asyncforge_runtime::ws::WsConfig;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing;
use serde_json::{Value, json};
use snapshot_pulse_rooms::channels::{PricesParams, RelayMessage};
use snapshot_pulse_rooms::client::{RoomClient, RoomEvent};
use snapshot_pulse_rooms::messages::{Tick, WhoAreYou};
use snapshot_pulse_rooms::server::{Config, Server};
use snapshot_pulse_rooms::types::*;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::{App, Shared, fast_options, nick, post, room};

/// How long a peer may take for its whole run.
const PEER_TIMEOUT: Duration = Duration::from_secs(90);

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

/// One request as the server saw it: method, path, Origin, Last-Event-ID, status.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    origin: Option<String>,
    last_event_id: Option<String>,
    status: u16,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let origin = header(&request, "origin");
    let last_event_id = header(&request, "last-event-id");
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    log.lock().unwrap().push(Seen {
        method,
        path,
        origin,
        last_event_id,
        status: response.status().as_u16(),
    });
    response
}

/// The generated server with the test's handler, on a fresh loopback port.
struct Bound {
    addr: std::net::SocketAddr,
    server: Arc<Server>,
    app: Arc<App>,
    listener: TcpListener,
}

async fn bind(ws: impl FnOnce(&str) -> WsConfig, sse: SseConfig) -> Bound {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::new(Config {
        ws: ws(&format!("http://{addr}")),
        sse,
        ..Config::default()
    });
    let app = Arc::new(App {
        out: server.sender(),
        seq: Default::default(),
        lobby: Mutex::new(Vec::new()),
        quotes: Default::default(),
    });
    Bound {
        addr,
        server: Arc::new(server),
        app,
        listener,
    }
}

/// A generated room client (nick `rustpeer`, sending `origin`) that records what it receives
/// and posts `greeting` the first time it sees `trigger` join.
fn rust_peer(
    base: &str,
    room_id: &str,
    origin: &str,
    trigger: &'static str,
    greeting: &'static str,
) -> (tokio::task::JoinHandle<()>, Arc<Mutex<Vec<RoomEvent>>>) {
    let mut options = fast_options();
    options.ws.headers.push(("Origin".into(), origin.into()));
    let mut client = RoomClient::connect(base, &room(room_id), &nick("rustpeer"), options);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        let mut greeted = false;
        while let Some(event) = client.next().await {
            if let RoomEvent::RelayMessage(RelayMessage::Presence(p)) = &event
                && p.payload.nick == trigger
                && p.payload.state == PresencePayloadState::Joined
                && !greeted
            {
                greeted = true;
                client.post_message(post(greeting)).unwrap();
            }
            log.lock().unwrap().push(event);
        }
    });
    (task, seen)
}

fn relayed(events: &[RoomEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            RoomEvent::RelayMessage(RelayMessage::Relayed(r)) => {
                Some((r.payload.from.clone(), r.payload.text.clone()))
            }
            _ => None,
        })
        .collect()
}

fn json_response(value: Value) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn tick(price: f64) -> Tick {
    Tick::new(TickPayload {
        symbol: "btcusd".into(),
        price,
        at: DateTime::now(),
        extra: Default::default(),
    })
}

/// An executable found on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A headless Chromium in its own process group, stopped (the whole group) on drop.
struct Browser {
    child: std::process::Child,
    profile: tempfile::TempDir,
}

impl Browser {
    fn launch(binary: &Path, url: &str) -> std::io::Result<Browser> {
        use std::os::unix::process::CommandExt;
        let profile = tempfile::tempdir()?;
        let output = std::fs::File::create(profile.path().join("chromium.log"))?;
        let child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-pings",
                "--no-proxy-server",
                // Nothing but loopback: every other name fails to resolve.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .process_group(0)
            .spawn()?;
        Ok(Browser { child, profile })
    }

    /// The last lines Chromium printed (for failure messages).
    fn output(&self) -> String {
        let text =
            std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal_group("-TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // Whatever of the group is left (renderers, zygote).
        self.signal_group("-KILL");
        let _ = self.child.wait();
    }
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v:#}"))
}

fn n(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {v:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_talks_to_the_generated_server() {
    let Some(chromium) = on_path("chromium").or_else(|| on_path("chromium-browser")) else {
        return asyncforge_testkit::skip("chromium", "apt-get install chromium");
    };
    let started = Instant::now();
    let bound = bind(
        |origin| WsConfig {
            max_message_size: 16 * 1024,
            allowed_origins: Some(vec![origin.to_owned()]),
            ..WsConfig::default()
        },
        SseConfig {
            retry: Duration::from_millis(200),
            ..SseConfig::default()
        },
    )
    .await;
    let Bound {
        addr,
        server,
        app,
        listener,
    } = bound;
    let ping_id = Uuid::from_u128(0x0b0e_5e1f_0000_4000_8000_0000_0000_0001);
    let ask_id = Uuid::from_u128(0x0b0e_5e1f_0000_4000_8000_0000_0000_0002);
    let (report_tx, mut report_rx) = mpsc::channel::<String>(1);
    let answered: Arc<Mutex<Option<String>>> = Arc::default();
    let log = Log::default();

    let page = std::fs::read_to_string(interop_dir().join("pulse_rooms_page.html")).unwrap();
    let sender = server.sender();
    let publish = {
        let sender = sender.clone();
        move || async move {
            let btc = PricesParams {
                symbol: "btcusd".into(),
            };
            let mut ids: Vec<u64> = Vec::new();
            for p in [101.5, 102.5, 103.5] {
                let id = sender.stream_prices(&btc, tick(p)).await.unwrap();
                ids.push(id.parse().expect("in process, ids are numbers"));
            }
            json_response(json!({ "ids": ids }))
        }
    };
    let ask = {
        let (sender, app, answered) = (sender.clone(), app.clone(), answered.clone());
        move || async move {
            let Some(conn) = app.lobby.lock().unwrap().last().copied() else {
                return (StatusCode::CONFLICT, "no lobby connection").into_response();
            };
            let question = WhoAreYou::new(WhoAreYouPayload {
                event: WhoAreYouPayloadEvent::WhoAreYou,
                request_id: ask_id,
                extra: Default::default(),
            });
            match sender.ask_identity(conn, question).await {
                Ok(me) => {
                    *answered.lock().unwrap() = Some(me.payload.agent.clone());
                    json_response(json!({
                        "requestId": me.payload.request_id,
                        "agent": me.payload.agent,
                    }))
                }
                Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }
    };
    let shutdown = {
        let (server, sender) = (server.clone(), sender.clone());
        move || async move {
            server.shutdown();
            let btc = PricesParams {
                symbol: "btcusd".into(),
            };
            let mut ids: Vec<u64> = Vec::new();
            for p in [104.5, 105.5] {
                let id = sender.stream_prices(&btc, tick(p)).await.unwrap();
                ids.push(id.parse().expect("in process, ids are numbers"));
            }
            json_response(json!({ "ids": ids }))
        }
    };
    let router = server
        .router(Shared(app.clone()))
        .route("/", routing::get(move || async move { Html(page) }))
        .route(
            "/report",
            routing::post(move |body: Bytes| async move {
                let _ = report_tx
                    .send(String::from_utf8_lossy(&body).into_owned())
                    .await;
                StatusCode::NO_CONTENT
            }),
        )
        .route("/control/publish", routing::post(publish))
        .route("/control/ask", routing::post(ask))
        .route("/control/shutdown", routing::post(shutdown))
        .layer(axum::middleware::from_fn_with_state(log.clone(), record));
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    // A generated client in the browser's room: it greets Chromium and sees its posts.
    let origin = format!("http://{addr}");
    let (peer, peer_seen) = rust_peer(
        &format!("ws://{addr}"),
        "browser",
        &origin,
        "chromium",
        "hello from rust",
    );
    let url = format!("http://{addr}/?ping={ping_id}");
    let browser = Browser::launch(&chromium, &url).expect("chromium starts");
    let report = match tokio::time::timeout(PEER_TIMEOUT, report_rx.recv()).await {
        Ok(Some(report)) => report,
        _ => panic!(
            "no report from the page within {PEER_TIMEOUT:?}; the server saw {:?}; chromium said:\n{}",
            log.lock().unwrap(),
            browser.output()
        ),
    };
    drop(browser);
    let r: Value = serde_json::from_str(&report).expect("the report is JSON");
    assert!(r.get("error").is_none(), "the page failed: {r:#}");
    assert_eq!(s(&r, "/origin"), origin);
    assert!(
        s(&r, "/userAgent").contains("HeadlessChrome"),
        "{}",
        s(&r, "/userAgent")
    );

    // WebSocket: presence, relay both ways between the browser and the generated client.
    assert_eq!(s(&r, "/rooms/presence/nick"), "chromium");
    assert_eq!(s(&r, "/rooms/presence/state"), "joined");
    assert_eq!(s(&r, "/rooms/fromPeer/text"), "hello from rust");
    assert_eq!(s(&r, "/rooms/own/from"), "chromium");
    assert_eq!(s(&r, "/rooms/own/text"), "hello from chromium");
    assert!(n(&r, "/rooms/own/seq") >= 1.0);
    assert!(s(&r, "/rooms/own/at").parse::<DateTime>().is_ok());
    // Invalid payloads: an error frame each, the connection stays.
    assert!(s(&r, "/rooms/errors/empty").contains("/text"), "{r:#}");
    assert!(
        s(&r, "/rooms/errors/extra").contains("Additional properties"),
        "{r:#}"
    );
    assert!(
        s(&r, "/rooms/errors/notJson").contains("not valid JSON"),
        "{r:#}"
    );
    assert!(
        s(&r, "/rooms/errors/refused").contains("does not take that word"),
        "{r:#}"
    );
    assert_eq!(s(&r, "/rooms/afterErrors/from"), "chromium");
    assert!(n(&r, "/rooms/afterErrors/seq") > n(&r, "/rooms/own/seq"));
    assert_eq!(n(&r, "/rooms/oversized/code"), 1009.0, "{r:#}");
    // Shutdown closes with 1001 and a reason.
    assert_eq!(n(&r, "/rooms/closed/code"), 1001.0, "{r:#}");
    assert_eq!(s(&r, "/rooms/closed/reason"), "server shutting down");
    assert_eq!(n(&r, "/lobby/closed/code"), 1001.0);

    // Request/reply both ways.
    assert_eq!(s(&r, "/lobby/pong/event"), "pong");
    assert_eq!(s(&r, "/lobby/pong/requestId"), ping_id.to_string());
    assert!(s(&r, "/lobby/pong/serverTime").parse::<DateTime>().is_ok());
    assert!(
        s(&r, "/lobby/invalid").contains("/requestId: \"not-a-uuid\" is not a \"uuid\""),
        "{r:#}"
    );
    assert_eq!(
        r.pointer("/lobby/asked"),
        Some(&json!([ask_id.to_string()]))
    );
    assert_eq!(s(&r, "/lobby/answered/requestId"), ask_id.to_string());
    let agent = answered
        .lock()
        .unwrap()
        .clone()
        .expect("the browser answered");
    assert_eq!(agent, s(&r, "/userAgent"));

    // SSE: typed events with their names and ids, resumed with Last-Event-ID. Ids increase
    // by one per event from the topic's epoch.
    let ids = |p: &str| -> Vec<u64> {
        r.pointer(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default()
    };
    let published = [ids("/published/ids"), ids("/restart/ids")].concat();
    let first = published.first().copied().unwrap_or_default();
    assert_eq!(published, (first..first + 5).collect::<Vec<_>>(), "{r:#}");
    let ticks = r.pointer("/sse/ticks").and_then(Value::as_array).unwrap();
    let seen: Vec<(&str, String, f64)> = ticks
        .iter()
        .map(|t| (s(t, "/event"), s(t, "/id").to_owned(), n(t, "/data/price")))
        .collect();
    let expected: Vec<(&str, String, f64)> = published
        .iter()
        .zip([101.5, 102.5, 103.5, 104.5, 105.5])
        .map(|(id, price)| ("tick", id.to_string(), price))
        .collect();
    assert_eq!(seen, expected, "every tick once, in order");
    assert!(ticks.iter().all(|t| s(t, "/data/symbol") == "btcusd"));
    assert_eq!(n(&r, "/sse/opens"), 2.0, "one reconnection");
    assert_eq!(r.pointer("/sse/gaps"), Some(&json!([])));

    // SSE receive operations: fetch POST.
    assert_eq!(n(&r, "/quotes/ok/status"), 200.0);
    assert_eq!(
        r.pointer("/quotes/ok/body"),
        Some(&json!({"accepted": true, "id": 1}))
    );
    assert_eq!(r.pointer("/quotes/second/body/id"), Some(&json!(2)));
    assert_eq!(s(&r, "/quotes/ok/contentType"), "application/json");
    assert_eq!(n(&r, "/quotes/invalid/status"), 400.0);
    assert!(s(&r, "/quotes/invalid/body/error").contains("/price"));
    assert_eq!(n(&r, "/quotes/refused/status"), 422.0);
    assert!(s(&r, "/quotes/refused/body/error").contains("size limit"));
    assert_eq!(n(&r, "/quotes/unknownSymbol/status"), 404.0);

    // A page from another origin (localhost) is refused at the upgrade.
    assert_eq!(
        s(&r, "/forbidden/origin"),
        format!("http://localhost:{}", addr.port())
    );
    assert_eq!(r.pointer("/forbidden/opened"), Some(&json!(false)));
    assert_eq!(n(&r, "/forbidden/code"), 1006.0);

    // What the server saw: the Origin of each upgrade and the resumed stream's header.
    let log = log.lock().unwrap().clone();
    let upgrades: Vec<(&str, Option<&str>, u16)> = log
        .iter()
        .filter(|s| s.path == "/ws/rooms/browser" && s.origin.is_some())
        .map(|s| (s.method.as_str(), s.origin.as_deref(), s.status))
        .collect();
    let evil = format!("http://localhost:{}", addr.port());
    assert!(
        upgrades.contains(&("GET", Some(evil.as_str()), 403)),
        "{upgrades:?}"
    );
    assert!(
        upgrades.contains(&("GET", Some(origin.as_str()), 101)),
        "{upgrades:?}"
    );
    let streams: Vec<Option<&str>> = log
        .iter()
        .filter(|s| s.path == "/sse/prices/btcusd")
        .map(|s| s.last_event_id.as_deref())
        .collect();
    let third = published.get(2).map(u64::to_string);
    assert_eq!(streams, [None, third.as_deref()], "{log:?}");

    // The generated client saw the browser's posts.
    let at_peer = relayed(&peer_seen.lock().unwrap());
    for text in ["hello from chromium", "still open"] {
        assert!(
            at_peer.contains(&("chromium".to_owned(), text.to_owned())),
            "{at_peer:?}"
        );
    }
    peer.abort();
    serving.abort();
    eprintln!("chromium interop: {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_talks_to_the_generated_server() {
    let usable = Command::new("python3")
        .args(["-c", "import websockets.asyncio.client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        return asyncforge_testkit::skip(
            "python3 with websockets >= 13",
            "python3 -m pip install websockets",
        );
    }
    let started = Instant::now();
    let allowed = "https://rooms.example";
    let Bound {
        addr,
        server,
        app,
        listener,
    } = bind(
        |_| WsConfig {
            max_message_size: 16 * 1024,
            allowed_origins: Some(vec![allowed.to_owned()]),
            ..WsConfig::default()
        },
        SseConfig::default(),
    )
    .await;
    let router = server.router(Shared(app.clone()));
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let base = format!("ws://{addr}");
    let (peer, peer_seen) = rust_peer(&base, "py", allowed, "py_bob", "hello from rust");

    let script = interop_dir().join("pulse_rooms_client.py");
    let child = Command::new("python3")
        .arg(&script)
        .arg(&base)
        .arg(allowed)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let pid = child.id();
    let run = tokio::task::spawn_blocking(move || child.wait_with_output());

    // The server asks the Python client who it is, once its lobby connection is open.
    let ask_id = Uuid::from_u128(0x0b0e_5e1f_0000_4000_8000_0000_0000_0003);
    let conn = tokio::time::timeout(PEER_TIMEOUT, async {
        loop {
            if let Some(c) = app.lobby.lock().unwrap().first().copied() {
                break c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the Python client opens the lobby");
    let me = server
        .sender()
        .ask_identity(
            conn,
            WhoAreYou::new(WhoAreYouPayload {
                event: WhoAreYouPayloadEvent::WhoAreYou,
                request_id: ask_id,
                extra: Default::default(),
            }),
        )
        .await
        .expect("the Python client answers");

    let output = match tokio::time::timeout(PEER_TIMEOUT, run).await {
        Ok(done) => done.unwrap().expect("python3 runs"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("the Python client did not finish within {PEER_TIMEOUT:?}");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stdout.lines().last().unwrap_or_default();
    let r: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}): {stdout}\n{stderr}"));
    assert!(
        output.status.success() && r.get("error").is_none(),
        "the Python client failed: {r:#}\n{stderr}"
    );

    assert_eq!(me.payload.request_id, ask_id);
    let version = s(&r, "/websockets");
    assert_eq!(me.payload.agent, format!("python-websockets/{version}"));
    assert_eq!(
        r.pointer("/lobby/asked"),
        Some(&json!([ask_id.to_string()]))
    );

    assert_eq!(s(&r, "/presence/nick"), "py_ann");
    assert_eq!(s(&r, "/presence/state"), "joined");
    assert_eq!(s(&r, "/relay/fromRust/text"), "hello from rust");
    assert_eq!(s(&r, "/relay/atBob/from"), "py_ann");
    assert_eq!(s(&r, "/relay/atBob/text"), "hello from python");
    assert!(s(&r, "/relay/atBob/at").parse::<DateTime>().is_ok());
    assert_eq!(r.pointer("/relay/sameSeq"), Some(&json!(true)));
    assert!(s(&r, "/errors/empty").contains("/text"), "{r:#}");
    assert!(
        s(&r, "/errors/extra").contains("Additional properties"),
        "{r:#}"
    );
    assert!(s(&r, "/errors/notJson").contains("not valid JSON"), "{r:#}");
    assert!(
        s(&r, "/errors/refused").contains("does not take that word"),
        "{r:#}"
    );
    assert_eq!(s(&r, "/afterErrors"), "py_ann");
    assert_eq!(n(&r, "/oversized/code"), 1009.0, "{r:#}");

    let status = |name: &str| n(&r, &format!("/upgrades/{name}/status")) as u16;
    assert_eq!(status("allowed"), 101);
    assert_eq!(status("badNick"), 400);
    assert!(s(&r, "/upgrades/badNick/body").contains("nick"), "{r:#}");
    assert_eq!(status("missingNick"), 400);
    assert_eq!(status("badHeader"), 400);
    assert!(
        s(&r, "/upgrades/badHeader/body").contains("X-Client-Version"),
        "{r:#}"
    );
    assert_eq!(status("forbiddenOrigin"), 403);
    assert_eq!(status("noOrigin"), 403);

    let sent = r.pointer("/lobby/sent").and_then(Value::as_array).unwrap();
    assert_eq!(sent.len(), 5);
    assert_eq!(r.pointer("/lobby/matched"), Some(&json!(vec![true; 5])));
    let times = r
        .pointer("/lobby/serverTimes")
        .and_then(Value::as_array)
        .unwrap();
    assert!(
        times
            .iter()
            .all(|t| t.as_str().unwrap().parse::<DateTime>().is_ok())
    );
    assert_eq!(s(&r, "/lobby/withoutId/event"), "pong");
    assert!(r.pointer("/lobby/withoutId/requestId").is_none());
    let errors = r
        .pointer("/lobby/errors")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0]
            .as_str()
            .unwrap()
            .contains("/requestId: \"not-a-uuid\" is not a \"uuid\""),
        "{errors:?}"
    );
    assert_eq!(errors[1], "a reply to no pending request");

    // The generated client in the same room saw the Python posts.
    let at_peer = relayed(&peer_seen.lock().unwrap());
    for text in ["hello from python", "still open"] {
        assert!(
            at_peer.contains(&("py_ann".to_owned(), text.to_owned())),
            "{at_peer:?}"
        );
    }
    peer.abort();
    serving.abort();
    eprintln!("python interop: {:.1} s", started.elapsed().as_secs_f64());
}
