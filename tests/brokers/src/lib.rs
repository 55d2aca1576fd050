//! Brokers for the end-to-end tests and benchmarks of the generated MQTT and Kafka code:
//! an embedded rumqttd (in this process, on free loopback ports), the machine's Mosquitto on
//! 127.0.0.1:1883 when it answers, private Mosquitto processes to stop and restart, and
//! librdkafka's mock cluster (a real Kafka-protocol broker on loopback, started on a thread
//! of its own because it is `!Send`; other processes and `kcat` reach it too), Tansu 0.6
//! processes, and a relay that reads Kafka clients' ids off the wire.
#![deny(missing_docs)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use asyncforge_runtime::kafka::KafkaConfig;

/// A free loopback port (the listener is closed again before it is used).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Whether something listens on a loopback port.
pub fn reachable(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(300),
    )
    .is_ok()
}

/// Waits up to `limit` for a loopback port to answer.
pub fn wait_reachable(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if reachable(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Whether a command can be run.
pub fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Starts rumqttd in this process with an MQTT 3.1.1 listener and an MQTT 5 listener and
/// returns their ports. rumqttd has no shutdown: every caller gets new ports.
pub fn embedded_rumqttd() -> Option<(u16, u16)> {
    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
    let (p4, p5) = (free_port(), free_port());
    let server = |name: &str, port: u16| ServerSettings {
        name: name.into(),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 1 << 20,
            max_inflight_count: 200,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = Config {
        router: RouterConfig {
            max_connections: 1000,
            max_outgoing_packet_count: 500,
            max_segment_size: 64 << 20,
            max_segment_count: 10,
            ..RouterConfig::default()
        },
        v4: Some([("1".to_string(), server("v4", p4))].into_iter().collect()),
        v5: Some([("1".to_string(), server("v5", p5))].into_iter().collect()),
        ..Config::default()
    };
    std::thread::spawn(move || {
        let mut broker = Broker::new(config);
        if let Err(e) = broker.start() {
            eprintln!("rumqttd stopped: {e}");
        }
    });
    (wait_reachable(p4, Duration::from_secs(20)) && wait_reachable(p5, Duration::from_secs(20)))
        .then_some((p4, p5))
}

/// Port 1883 when a broker (the machine's Mosquitto) answers there.
pub fn system_mosquitto() -> Option<u16> {
    reachable(1883).then_some(1883)
}

/// The Mosquitto binary, when installed.
pub fn mosquitto_binary() -> Option<&'static str> {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// A Mosquitto process of our own (persistence on) that can be stopped and restarted.
pub struct PrivateMosquitto {
    binary: &'static str,
    /// Its port.
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateMosquitto {
    /// Prepares one (not started), or `None` when Mosquitto is not installed.
    pub fn new() -> Option<PrivateMosquitto> {
        let binary = mosquitto_binary()?;
        let dir = tempfile::tempdir().ok()?;
        // Started as root, Mosquitto drops to its own user, which must write its persistence
        // file here.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).ok()?;
        }
        let port = free_port();
        let conf = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nautosave_interval 1\nmax_inflight_messages 20\nmax_queued_messages 100000\n",
            dir.path().display()
        );
        std::fs::write(dir.path().join("m.conf"), conf).ok()?;
        Some(PrivateMosquitto {
            binary,
            port,
            dir,
            child: None,
        })
    }

    /// Starts it and waits until it listens.
    pub fn start(&mut self) -> bool {
        let Ok(child) = Command::new(self.binary)
            .arg("-c")
            .arg(self.dir.path().join("m.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        wait_reachable(self.port, Duration::from_secs(20))
    }

    /// Stops it as a service manager would (SIGTERM: it saves its sessions).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateMosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

enum MockCommand {
    Down,
    Up,
    CreateTopic(String, i32, mpsc::Sender<bool>),
}

/// librdkafka's mock cluster with one broker, on loopback.
pub struct MockKafka {
    /// `host:port` of its broker.
    pub bootstrap: String,
    commands: Option<mpsc::Sender<MockCommand>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockKafka {
    /// Starts a cluster with these topics (name, partitions).
    pub fn start(topics: &[(&str, i32)]) -> Option<MockKafka> {
        let topics: Vec<(String, i32)> = topics.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel::<MockCommand>();
        let thread = std::thread::spawn(move || {
            let cluster = match rdkafka::mocking::MockCluster::new(1) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("mock cluster: {e}");
                    return;
                }
            };
            for (t, p) in &topics {
                if let Err(e) = cluster.create_topic(t, *p, 1) {
                    eprintln!("mock cluster: topic {t}: {e}");
                }
            }
            let _ = ready_tx.send(cluster.bootstrap_servers());
            while let Ok(cmd) = rx.recv() {
                match cmd {
                    MockCommand::Down => {
                        let _ = cluster.broker_down(1);
                    }
                    MockCommand::Up => {
                        let _ = cluster.broker_up(1);
                    }
                    MockCommand::CreateTopic(t, p, done) => {
                        let _ = done.send(cluster.create_topic(&t, p, 1).is_ok());
                    }
                }
            }
        });
        let bootstrap = ready_rx.recv_timeout(Duration::from_secs(20)).ok()?;
        Some(MockKafka {
            bootstrap,
            commands: Some(tx),
            thread: Some(thread),
        })
    }

    /// A client configuration for it, with quick group timings and metadata refreshes (a
    /// pattern subscription sees new topics at the next refresh).
    pub fn config(&self) -> KafkaConfig {
        KafkaConfig::new(&self.bootstrap)
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("topic.metadata.refresh.interval.ms", "500")
    }

    /// Takes the broker down (connections fail until [`MockKafka::up`]).
    pub fn down(&self) {
        if let Some(c) = &self.commands {
            let _ = c.send(MockCommand::Down);
        }
    }

    /// Brings the broker back.
    pub fn up(&self) {
        if let Some(c) = &self.commands {
            let _ = c.send(MockCommand::Up);
        }
    }

    /// Creates a topic.
    pub fn create_topic(&self, name: &str, partitions: i32) -> bool {
        let (tx, rx) = mpsc::channel();
        if let Some(c) = &self.commands
            && c.send(MockCommand::CreateTopic(name.to_owned(), partitions, tx))
                .is_ok()
        {
            return rx.recv_timeout(Duration::from_secs(10)).unwrap_or(false);
        }
        false
    }
}

impl Drop for MockKafka {
    fn drop(&mut self) {
        drop(self.commands.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A name no other test (or run) uses.
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{tag}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `done` every 20 ms until it is true or `limit` passes; returns its last value.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP relay in front of a Kafka broker that records the `client_id` of the first request
/// on each connection (the Kafka request header: size, api key, api version, correlation id,
/// client id as a nullable string). Clients bootstrap through it and then talk to the brokers
/// the metadata names, so it sees every client's first connection.
pub struct ClientIdRelay {
    /// `127.0.0.1:port` to give clients as bootstrap servers.
    pub bootstrap: String,
    ids: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ClientIdRelay {
    /// Starts a relay to `upstream` (`host:port`). Call inside a tokio runtime.
    pub async fn start(upstream: &str) -> Option<ClientIdRelay> {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
        let bootstrap = listener.local_addr().ok()?.to_string();
        let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        let seen = ids.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (upstream, seen) = (upstream.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let mut size = [0u8; 4];
                    if client.read_exact(&mut size).await.is_err() {
                        return;
                    }
                    let len = u32::from_be_bytes(size) as usize;
                    if len > 1 << 20 {
                        return;
                    }
                    let mut frame = vec![0u8; len];
                    if client.read_exact(&mut frame).await.is_err() {
                        return;
                    }
                    if let Some(id) = header_client_id(&frame)
                        && let Ok(mut v) = seen.lock()
                    {
                        v.push(id);
                    }
                    use tokio::io::AsyncWriteExt;
                    if server.write_all(&size).await.is_err()
                        || server.write_all(&frame).await.is_err()
                    {
                        return;
                    }
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        Some(ClientIdRelay {
            bootstrap,
            ids,
            task,
        })
    }

    /// The client ids seen so far.
    pub fn client_ids(&self) -> Vec<String> {
        self.ids.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for ClientIdRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The client id of a Kafka request frame (without its size prefix).
fn header_client_id(frame: &[u8]) -> Option<String> {
    let n = i16::from_be_bytes([*frame.get(8)?, *frame.get(9)?]);
    let n = usize::try_from(n).ok()?;
    let bytes = frame.get(10..10 + n)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// Where Tansu 0.6 (a Kafka-protocol broker) is: `$TANSU`, then
/// `$HOME/.cache/asyncforge-tools/bin/tansu` (where `.ci/run` builds it), then `tansu` on the
/// `PATH`.
pub fn tansu_binary() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var_os("TANSU").map(std::path::PathBuf::from),
        std::env::var_os("HOME")
            .map(|h| std::path::Path::new(&h).join(".cache/asyncforge-tools/bin/tansu")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("tansu"))
                    .find(|p| p.is_file())
            })
        })
}

/// How to get Tansu, for skip messages.
pub const TANSU_HINT: &str = "Tansu 0.6 is not installed ($TANSU, ~/.cache/asyncforge-tools/bin/tansu or PATH; `cargo install --root ~/.cache/asyncforge-tools tansu --version '^0.6' --features dynostore --locked`, as .ci/run does)";

/// A Tansu broker of our own (in-memory storage) on a free loopback port; killed on drop.
pub struct Tansu {
    /// `127.0.0.1:port`.
    pub bootstrap: String,
    child: Child,
}

impl Tansu {
    /// Starts one and waits until it listens; `None` when the binary is missing or it does not
    /// come up.
    pub fn start() -> Option<Tansu> {
        let binary = tansu_binary()?;
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(binary)
            .args([
                "broker",
                "--storage-engine",
                "memory://tansu/",
                "--listener-url",
            ])
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let tansu = Tansu {
            bootstrap: format!("127.0.0.1:{port}"),
            child,
        };
        wait_reachable(port, Duration::from_secs(20)).then_some(tansu)
    }

    /// A client configuration for it, with quick group timings (a restarted consumer gets its
    /// partitions back within seconds).
    pub fn config(&self) -> KafkaConfig {
        KafkaConfig::new(&self.bootstrap)
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("topic.metadata.refresh.interval.ms", "500")
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
