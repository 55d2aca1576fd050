//! MQTT client against real brokers: an embedded rumqttd (one per test, on a free port) so the
//! tests pass anywhere, the same bodies against Mosquitto on 127.0.0.1:1883 when it is there,
//! private Mosquitto processes for broker outages and restarts, and `mosquitto_pub` /
//! `mosquitto_sub` as independent peers. A test whose peer is missing prints why and passes.

mod backplane_common;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncforge_runtime::Message;
use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::codegen::{Deserialize, Serialize};
use asyncforge_runtime::mqtt::{
    Delivery, LastWill, MqttClient, MqttConfig, MqttTls, PublishOptions, Qos, State, Subscription,
    Topic, TopicTemplate, Version,
};
use asyncforge_runtime::{Dispatch, Reject};

// ---------------------------------------------------------------------------------------------
// A message type as the generator writes it.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "asyncforge_runtime::codegen::serde")]
struct Lumens {
    lumens: u32,
    seq: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct LightMeasured(Lumens);

impl Message for LightMeasured {
    type Payload = Lumens;
    const NAME: &'static str = "lightMeasured";
    const CONTENT_TYPE: Option<&'static str> = Some("application/json");
    fn payload(&self) -> &Lumens {
        &self.0
    }
    fn from_payload(p: Lumens) -> Self {
        LightMeasured(p)
    }
}

fn measured(seq: u32) -> LightMeasured {
    LightMeasured(Lumens {
        lumens: seq * 10,
        seq,
    })
}

// ---------------------------------------------------------------------------------------------
// Brokers.

#[derive(Debug, Clone)]
struct Addr {
    label: &'static str,
    host: String,
    port: u16,
    version: Version,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn reachable(port: u16) -> bool {
    TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().expect("addr"),
        Duration::from_millis(300),
    )
    .is_ok()
}

fn wait_reachable(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reachable(port) {
        assert!(Instant::now() < deadline, "broker on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts rumqttd in this process with a v3.1.1 and a v5 listener; there is no shutdown, so
/// every test gets its own ports.
fn embedded() -> (Addr, Addr) {
    let (p4, p5) = (free_port(), free_port());
    start_rumqttd(p4, p5);
    (
        Addr {
            label: "rumqttd",
            host: "127.0.0.1".into(),
            port: p4,
            version: Version::V311,
        },
        Addr {
            label: "rumqttd",
            host: "127.0.0.1".into(),
            port: p5,
            version: Version::V5,
        },
    )
}

fn start_rumqttd(p4: u16, p5: u16) {
    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
    let server = |name: &str, port: u16| ServerSettings {
        name: name.into(),
        listen: format!("127.0.0.1:{port}").parse().expect("addr"),
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 1 << 20,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = Config {
        router: RouterConfig {
            max_connections: 1000,
            max_outgoing_packet_count: 200,
            max_segment_size: 10 << 20,
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
    wait_reachable(p4);
    wait_reachable(p5);
}

/// The machine's Mosquitto on 127.0.0.1:1883, if it answers.
fn system_mosquitto(version: Version) -> Option<Addr> {
    if reachable(1883) {
        Some(Addr {
            label: "mosquitto:1883",
            host: "127.0.0.1".into(),
            port: 1883,
            version,
        })
    } else {
        asyncforge_testkit::skip_none(
            "an MQTT broker on 127.0.0.1:1883",
            "apt-get install mosquitto, or cargo xtask peers",
        )
    }
}

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn mosquitto_binary() -> Option<&'static str> {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// A Mosquitto process of our own (persistence on), to stop and restart.
struct PrivateMosquitto {
    binary: &'static str,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateMosquitto {
    fn new() -> Option<PrivateMosquitto> {
        let Some(binary) = mosquitto_binary() else {
            return asyncforge_testkit::skip_none("mosquitto", "apt-get install mosquitto");
        };
        let dir = tempfile::tempdir().expect("tempdir");
        // Started as root, Mosquitto drops to its own user, which must be able to write its
        // persistence file here.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
                .expect("chmod");
        }
        let port = free_port();
        let conf = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nautosave_interval 1\nmax_inflight_messages 20\nmax_queued_messages 10000\n",
            dir.path().display()
        );
        std::fs::write(dir.path().join("m.conf"), conf).expect("write conf");
        Some(PrivateMosquitto {
            binary,
            port,
            dir,
            child: None,
        })
    }

    /// Makes the listener TLS-only with a certificate for 127.0.0.1 signed by a CA of its own
    /// (made with the `openssl` command), asking clients for a certificate from the same CA.
    /// Returns the CA certificate and a client certificate and key, all PEM; `None` without
    /// `openssl`.
    fn tls(&mut self) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        if !have("openssl") {
            return asyncforge_testkit::skip_none("the openssl command", "apt-get install openssl");
        }
        let dir = self.dir.path();
        // Words of `args[0]` (no spaces inside them), then the other arguments as they are.
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args[0].split_whitespace())
                .args(&args[1..])
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        let ca = format!("req -x509 -days 2 {ec} -keyout ca.key -out ca.pem");
        run(&[&ca, "-subj", "/CN=asyncforge test CA"]);
        for (name, ext) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext");
            let req = format!("req {ec} -keyout {name}.key -out {name}.csr");
            run(&[&req, "-subj", &format!("/CN=asyncforge test {name}")]);
            run(&[&format!(
                "x509 -req -days 2 -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                 -extfile {name}.ext -out {name}.pem"
            )]);
        }
        // Mosquitto drops to its own user, which must read the key.
        for f in ["ca.pem", "server.pem", "server.key"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        let conf = std::fs::read_to_string(dir.join("m.conf")).expect("conf");
        let tls = format!(
            "cafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\nrequire_certificate true\n",
            dir.display()
        );
        std::fs::write(dir.join("m.conf"), conf + &tls).expect("conf");
        let read = |f: &str| std::fs::read(dir.join(f)).expect("read");
        Some((read("ca.pem"), read("client.pem"), read("client.key")))
    }

    fn start(&mut self) {
        let child = Command::new(self.binary)
            .arg("-c")
            .arg(self.dir.path().join("m.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        wait_reachable(self.port);
    }

    /// Stops the broker the way a service manager does (SIGTERM: it saves its sessions).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    fn addr(&self, version: Version) -> Addr {
        Addr {
            label: "private mosquitto",
            host: "127.0.0.1".into(),
            port: self.port,
            version,
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

// ---------------------------------------------------------------------------------------------
// Helpers.

static UNIQUE: AtomicU64 = AtomicU64::new(0);

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "af-{tag}-{}-{nanos}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

fn config(addr: &Addr, client_id: &str) -> MqttConfig {
    let mut c = MqttConfig::new(&addr.host, addr.port, client_id);
    c.version = addr.version;
    c.keep_alive = Duration::from_secs(5);
    c.connect_timeout = Duration::from_secs(2);
    c.backoff = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(300),
        ..Backoff::default()
    };
    c
}

/// What a test handler saw.
#[derive(Default)]
struct Seen {
    ok: Vec<(String, u32, Lumens)>,
    failures: BTreeMap<u32, u32>,
}

/// A generated-style dispatcher: route 0 is `lights/{id}/measured` carrying `LightMeasured`.
/// Messages whose `seq` is in `fail_first` fail the first time they are seen.
#[derive(Clone, Default)]
struct Lights {
    seen: Arc<Mutex<Seen>>,
    fail_first: Arc<Vec<u32>>,
}

impl Dispatch<(MqttClient, Delivery)> for Lights {
    async fn dispatch(&self, (_client, d): (MqttClient, Delivery)) -> Result<(), Reject> {
        match d.route {
            0 => {
                let id: String = d.param("id")?;
                let seq: u32 = d.param("seq")?;
                let m: LightMeasured = d.decode()?;
                let mut seen = self.seen.lock().expect("lock");
                if self.fail_first.contains(&seq) && !seen.failures.contains_key(&seq) {
                    seen.failures.insert(seq, 1);
                    return Err(Reject::failed("database unavailable"));
                }
                seen.ok.push((id, seq, m.0));
                Ok(())
            }
            other => Err(Reject::invalid(format!("no route {other}"))),
        }
    }
}

impl Lights {
    fn ok_count(&self) -> usize {
        self.seen.lock().expect("lock").ok.len()
    }
    fn seqs(&self) -> Vec<u32> {
        self.seen
            .lock()
            .expect("lock")
            .ok
            .iter()
            .map(|(_, s, _)| *s)
            .collect()
    }
}

/// Publishes `LightMeasured` for `seqs` on lamp `id`'s topic, QoS 1.
async fn publish_lights(
    publisher: &MqttClient,
    prefix: &str,
    id: &str,
    seqs: impl IntoIterator<Item = u32>,
) {
    for seq in seqs {
        publisher
            .publish(
                &lights_topic(prefix, id, seq),
                &measured(seq),
                &PublishOptions::new(Qos::AtLeastOnce),
            )
            .await
            .expect("publish");
    }
}

/// Leaves no session behind on a shared broker: connects once more with the same client id
/// and a clean session.
async fn forget_session(mut cfg: MqttConfig) {
    cfg.clean_session = true;
    let c = MqttClient::publisher(cfg).expect("clean up");
    let _ = c.wait_connected(WAIT).await;
    c.close().await;
}

async fn eventually(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn lights_sub(prefix: &str, qos: Qos) -> Subscription {
    Subscription::new(&format!("{prefix}/lights/{{id}}/{{seq}}/measured"), qos).expect("sub")
}

/// A subscriber to `prefix`'s lights at QoS 1 handing what arrives to `lights`, connected.
async fn lights_subscriber(addr: &Addr, prefix: &str, lights: &Lights) -> MqttClient {
    let sub = MqttClient::start(
        config(addr, &unique("sub")),
        vec![lights_sub(prefix, Qos::AtLeastOnce)],
        lights.clone(),
    )
    .expect("start subscriber");
    sub.wait_connected(WAIT).await.expect("subscriber connects");
    sub
}

fn lights_topic(prefix: &str, id: &str, seq: u32) -> Topic {
    TopicTemplate::parse(&format!("{prefix}/lights/{{id}}/{{seq}}/measured"))
        .expect("template")
        .topic(&[("id", id), ("seq", &seq.to_string())])
        .expect("topic")
}

const WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Test bodies, run against every broker.

/// Publish → subscribe with typed parameters; invalid messages are acknowledged and counted;
/// retained messages; a last will published when a client vanishes.
async fn round_trip(addr: Addr) {
    let prefix = unique("rt");
    let lights = Lights::default();
    let sub = lights_subscriber(&addr, &prefix, &lights).await;
    let publisher = MqttClient::publisher(config(&addr, &unique("pub"))).expect("publisher");
    publisher.wait_connected(WAIT).await.expect("publisher");

    for (i, qos) in [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let seq = i as u32 + 1;
        publisher
            .publish(
                &lights_topic(&prefix, "lamp-7", seq),
                &measured(seq),
                &PublishOptions::new(qos),
            )
            .await
            .expect("publish");
    }
    // Hostile input: a payload that is not the message, and a parameter that is not a number.
    let opts = PublishOptions::new(Qos::AtLeastOnce);
    publisher
        .publish_bytes(&lights_topic(&prefix, "x", 9), b"{not json".to_vec(), &opts)
        .await
        .expect("publish");
    publisher
        .publish_bytes(
            &format!("{prefix}/lights/x/nine/measured"),
            br#"{"lumens":1,"seq":9}"#.to_vec(),
            &opts,
        )
        .await
        .expect("publish");
    eventually("3 handled, 2 invalid", WAIT, || {
        lights.ok_count() == 3 && sub.stats().invalid == 2
    })
    .await;
    let seen = lights.seen.lock().expect("lock").ok.clone();
    assert_eq!(seen[0].0, "lamp-7");
    assert_eq!(
        seen.iter()
            .map(|(_, s, l)| (*s, l.lumens))
            .collect::<Vec<_>>(),
        vec![(1, 10), (2, 20), (3, 30)],
        "{}",
        addr.label
    );

    // Parameters that would change the topic are refused before anything is sent.
    let tpl = TopicTemplate::parse(&format!("{prefix}/lights/{{id}}/on")).expect("tpl");
    for bad in ["a/b", "+", "#"] {
        assert!(tpl.topic(&[("id", bad)]).is_err());
    }
    assert!(
        publisher
            .publish(&format!("{prefix}/#"), &measured(1), &opts)
            .await
            .is_err()
    );

    // Last will: a client that vanishes without DISCONNECT has its will published.
    let will_topic = format!("{prefix}/will");
    let wills = Lights::default();
    let will_watch = MqttClient::start(
        config(&addr, &unique("will-watch")),
        vec![
            lights_sub(&prefix, Qos::AtLeastOnce),
            Subscription::new(&will_topic, Qos::AtLeastOnce).expect("sub"),
        ],
        WillCounter(wills.seen.clone()),
    )
    .expect("start");
    will_watch.wait_connected(WAIT).await.expect("connect");
    let mut doomed_cfg = config(&addr, &unique("doomed"));
    doomed_cfg.last_will = Some(LastWill {
        topic: will_topic.clone(),
        message: b"gone".to_vec(),
        qos: Qos::AtLeastOnce,
        retain: false,
    });
    let doomed = MqttClient::publisher(doomed_cfg).expect("start");
    doomed.wait_connected(WAIT).await.expect("connect");
    drop(doomed); // no close(): the socket just goes away
    eventually("the last will", WAIT, || {
        wills.seen.lock().expect("lock").failures.contains_key(&0)
    })
    .await;

    for c in [&sub, &publisher, &will_watch] {
        c.close().await;
        assert_eq!(c.state(), State::Closed);
    }
}

struct WillCounter(Arc<Mutex<Seen>>);

impl Dispatch<(MqttClient, Delivery)> for WillCounter {
    async fn dispatch(&self, (_c, d): (MqttClient, Delivery)) -> Result<(), Reject> {
        if d.route == 1 && d.payload[..] == b"gone"[..] {
            self.0.lock().expect("lock").failures.insert(0, 1);
        }
        Ok(())
    }
}

/// Manual acknowledgements: a message whose handler failed is not acknowledged, so a kept
/// session gets it again after a reconnect; handled and invalid ones are acknowledged and do
/// not come back.
async fn failed_messages_are_redelivered(addr: Addr) {
    let prefix = unique("redeliver");
    let client_id = unique("durable");
    let lights = Lights {
        fail_first: Arc::new(vec![2]),
        ..Lights::default()
    };
    let mut cfg = config(&addr, &client_id);
    cfg.clean_session = false;
    let subs = || vec![lights_sub(&prefix, Qos::AtLeastOnce)];
    let sub = MqttClient::start(cfg.clone(), subs(), lights.clone()).expect("start");
    sub.wait_connected(WAIT).await.expect("connect");
    let publisher = MqttClient::publisher(config(&addr, &unique("pub"))).expect("publisher");
    let opts = PublishOptions::new(Qos::AtLeastOnce);
    publish_lights(&publisher, &prefix, "a", 1..=3).await;
    publisher
        .publish_bytes(&lights_topic(&prefix, "a", 4), b"[]".to_vec(), &opts)
        .await
        .expect("publish");
    // 2 fails; the client drops the connection (acknowledging nothing after 2), the kept
    // session resends 2 and 3, and both are handled in order on the next connection.
    eventually("1, 2, 3 handled, 2 failed once, 4 invalid", WAIT, || {
        let s = sub.stats();
        s.handled == 3 && s.failed == 1 && s.invalid == 1
    })
    .await;
    assert_eq!(lights.seqs(), vec![1, 2, 3], "{}", addr.label);
    assert!(sub.stats().connections >= 2, "reconnected for redelivery");
    sub.close().await;

    // Same client id, kept session: everything was acknowledged, nothing comes back.
    let again = MqttClient::start(cfg.clone(), subs(), lights.clone()).expect("restart");
    again.wait_connected(WAIT).await.expect("reconnect");
    publisher
        .publish(&lights_topic(&prefix, "a", 5), &measured(5), &opts)
        .await
        .expect("publish");
    eventually("5 handled", WAIT, || lights.seqs().contains(&5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lights.seqs(), vec![1, 2, 3, 5], "{}", addr.label);
    assert_eq!(again.stats().invalid, 0);
    again.close().await;
    forget_session(cfg).await;
    publisher.close().await;
}

/// MQTT 5 request/reply with correlation data, and properties end to end.
async fn request_reply(addr: Addr) {
    let prefix = unique("rr");
    let responder = MqttClient::start(
        config(&addr, &unique("responder")),
        vec![Subscription::new(&format!("{prefix}/double/{{n}}"), Qos::AtLeastOnce).expect("sub")],
        Doubler,
    )
    .expect("responder");
    responder.wait_connected(WAIT).await.expect("connect");
    let mut cfg = config(&addr, &unique("requester"));
    cfg.reply_topic = Some(format!("{prefix}/replies/requester"));
    let requester = MqttClient::publisher(cfg).expect("requester");
    let opts = PublishOptions::new(Qos::AtLeastOnce).expiry(30);
    let mut pending = Vec::new();
    for n in 1..=5u32 {
        let r = requester.clone();
        let topic = format!("{prefix}/double/{n}");
        let opts = opts.clone();
        pending.push(tokio::spawn(async move {
            r.request::<LightMeasured, LightMeasured>(&topic, &measured(n), &opts, WAIT)
                .await
        }));
    }
    for (i, p) in pending.into_iter().enumerate() {
        let reply = p.await.expect("join").expect("reply");
        let n = i as u32 + 1;
        assert_eq!(reply.0.lumens, n * 20, "{}", addr.label);
        assert_eq!(reply.0.seq, n);
    }
    // A request nobody answers times out.
    let lonely = requester
        .request::<LightMeasured, LightMeasured>(
            &format!("{prefix}/nobody"),
            &measured(1),
            &opts,
            Duration::from_millis(300),
        )
        .await;
    assert!(lonely.is_err());
    requester.close().await;
    responder.close().await;
}

struct Doubler;

impl Dispatch<(MqttClient, Delivery)> for Doubler {
    async fn dispatch(&self, (client, d): (MqttClient, Delivery)) -> Result<(), Reject> {
        let n: u32 = d.param("n")?;
        let m: LightMeasured = d.decode()?;
        if d.properties().content_type.as_deref() != Some("application/json")
            || d.properties()
                .message_expiry_interval
                .is_none_or(|e| e > 30)
        {
            return Err(Reject::invalid("properties lost"));
        }
        let answer = LightMeasured(Lumens {
            lumens: m.0.lumens * 2,
            seq: n,
        });
        client
            .reply(&d, &answer, &PublishOptions::new(Qos::AtLeastOnce))
            .await
            .map(drop)
            .map_err(Reject::failed)
    }
}

/// Interop with the Mosquitto command-line clients as independent peers.
async fn interop_cli(addr: Addr) {
    if !have("mosquitto_pub") || !have("mosquitto_sub") {
        return asyncforge_testkit::skip(
            "mosquitto_pub and mosquitto_sub",
            "apt-get install mosquitto-clients",
        );
    }
    let prefix = unique("cli");
    let v = match addr.version {
        Version::V311 => "mqttv311",
        Version::V5 => "mqttv5",
    };
    let port = addr.port.to_string();
    // mosquitto_pub → our subscriber.
    let lights = Lights::default();
    let sub = MqttClient::start(
        config(&addr, &unique("sub")),
        vec![lights_sub(&prefix, Qos::AtLeastOnce)],
        lights.clone(),
    )
    .expect("start");
    sub.wait_connected(WAIT).await.expect("connect");
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-V", v, "-q", "1"])
        .args(["-t", &lights_topic(&prefix, "from-cli", 41)])
        .args(["-m", r#"{"lumens":410,"seq":41}"#])
        .status()
        .expect("run mosquitto_pub");
    assert!(status.success());
    eventually("the CLI's message", WAIT, || lights.seqs() == vec![41]).await;
    assert_eq!(lights.seen.lock().expect("lock").ok[0].0, "from-cli");

    // Our publisher → mosquitto_sub (with the MQTT 5 content type when spoken).
    let topic = lights_topic(&prefix, "to-cli", 42);
    let format = match addr.version {
        Version::V311 => "%t %p",
        Version::V5 => "%t %p %C",
    };
    let mut cli = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-V",
            v,
            "-q",
            "1",
            "-C",
            "1",
        ])
        .args(["-W", "10", "-F", format, "-t", &topic])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run mosquitto_sub");
    let publisher = MqttClient::publisher(config(&addr, &unique("pub"))).expect("publisher");
    // Publish until the subscriber, which may not be subscribed yet, has one.
    let deadline = Instant::now() + WAIT;
    while cli.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        publisher
            .publish(
                &topic,
                &measured(42),
                &PublishOptions::new(Qos::AtLeastOnce),
            )
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let out = cli.wait_with_output().expect("mosquitto_sub output");
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = match addr.version {
        Version::V311 => format!("{topic} {{\"lumens\":420,\"seq\":42}}"),
        Version::V5 => format!("{topic} {{\"lumens\":420,\"seq\":42}} application/json"),
    };
    assert_eq!(text.trim(), expected, "{}", addr.label);
    sub.close().await;
    publisher.close().await;
}

/// A handler that sometimes waits (every third message sleeps, so it finishes in the
/// dispatcher rather than in the event loop) and panics on one message the first time.
#[derive(Clone, Default)]
struct Moody {
    seen: Arc<Mutex<Vec<u32>>>,
    panicked: Arc<AtomicU64>,
}

impl Dispatch<(MqttClient, Delivery)> for Moody {
    async fn dispatch(&self, (_client, d): (MqttClient, Delivery)) -> Result<(), Reject> {
        let seq: u32 = d.param("seq")?;
        if seq.is_multiple_of(3) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if seq == 7 && self.panicked.fetch_add(1, Ordering::Relaxed) == 0 {
            panic!("handler bug on message 7");
        }
        self.seen.lock().expect("lock").push(seq);
        Ok(())
    }
}

/// Handlers that finish at once, handlers that wait, and a handler that panics: everything
/// before the panic is handled once and in order, the message whose handler panicked comes
/// again (kept session), and every message is handled. What the broker resends after the
/// forced reconnect may come in another order and twice (Mosquitto has sent messages queued
/// for the session before the unacknowledged ones): at least once, not exactly once.
async fn waiting_and_panicking_handlers(addr: Addr) {
    let prefix = unique("moody");
    let moody = Moody::default();
    let mut cfg = config(&addr, &unique("moody"));
    cfg.clean_session = false;
    let sub = MqttClient::start(
        cfg.clone(),
        vec![lights_sub(&prefix, Qos::AtLeastOnce)],
        moody.clone(),
    )
    .expect("start");
    sub.wait_connected(WAIT).await.expect("connect");
    let publisher = MqttClient::publisher(config(&addr, &unique("pub"))).expect("publisher");
    const N: u32 = 60;
    publish_lights(&publisher, &prefix, "m", 1..=N).await;
    let distinct = || {
        let seen = moody.seen.lock().expect("lock");
        seen.iter().collect::<std::collections::BTreeSet<_>>().len()
    };
    eventually("every message handled", WAIT, || distinct() == N as usize).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = moody.seen.lock().expect("lock").clone();
    assert_eq!(seen[..6], [1, 2, 3, 4, 5, 6], "{}: {seen:?}", addr.label);
    assert_eq!(
        seen.iter().filter(|s| **s == 7).count(),
        1,
        "{}: 7 handled once, after its redelivery: {seen:?}",
        addr.label
    );
    let stats = sub.stats();
    assert_eq!(stats.failed, 1, "{}", addr.label);
    assert_eq!(stats.handled, seen.len() as u64, "{}", addr.label);
    assert_eq!(
        moody.panicked.load(Ordering::Relaxed),
        2,
        "7 came again after the panic"
    );
    println!(
        "{}: {} handled for {N} messages ({} again after the reconnect)",
        addr.label,
        seen.len(),
        seen.len() - N as usize
    );
    sub.close().await;
    forget_session(cfg).await;
    publisher.close().await;
}

/// Typed headers as a generated message carries them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "asyncforge_runtime::codegen::serde")]
struct TraceHeaders {
    #[serde(rename = "traceId")]
    trace_id: String,
    attempt: Option<u32>,
}

/// Hands every delivery's typed headers (or the error reading them) to the test.
struct HeaderSink(Arc<Mutex<Vec<Result<TraceHeaders, Reject>>>>);

impl Dispatch<(MqttClient, Delivery)> for HeaderSink {
    async fn dispatch(&self, (_c, d): (MqttClient, Delivery)) -> Result<(), Reject> {
        let _: LightMeasured = d.decode()?;
        self.0.lock().expect("lock").push(d.typed_headers());
        Ok(())
    }
}

/// MQTT 5: typed headers travel as user properties and come back typed; properties that do
/// not fit the headers type are an invalid-headers error, not a crash.
async fn headers_as_user_properties(addr: Addr) {
    let prefix = unique("hdr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sub = MqttClient::start(
        config(&addr, &unique("sub")),
        vec![lights_sub(&prefix, Qos::AtLeastOnce)],
        HeaderSink(seen.clone()),
    )
    .expect("start");
    sub.wait_connected(WAIT).await.expect("connect");
    let publisher = MqttClient::publisher(config(&addr, &unique("pub"))).expect("publisher");
    let opts = PublishOptions::new(Qos::AtLeastOnce);
    let headers = TraceHeaders {
        trace_id: "0af7651916cd43dd".into(),
        attempt: Some(3),
    };
    publisher
        .publish_with_headers(
            &lights_topic(&prefix, "h", 1),
            &measured(1),
            &opts,
            Some(&headers),
        )
        .await
        .expect("publish");
    let mut wrong = opts.clone();
    wrong.properties.user_properties = vec![("attempt".into(), "many".into())];
    publisher
        .publish(&lights_topic(&prefix, "h", 2), &measured(2), &wrong)
        .await
        .expect("publish");
    eventually("both messages", WAIT, || {
        seen.lock().expect("lock").len() == 2
    })
    .await;
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen[0], Ok(headers), "{}", addr.label);
    assert!(
        matches!(&seen[1], Err(r) if r.is_invalid() && r.reason().contains("headers")),
        "{:?}",
        seen[1]
    );
    sub.close().await;
    publisher.close().await;
}

/// Nothing is lost when a publisher closes: a client that connects, sends QoS 2 (and QoS 1)
/// messages and closes at once waits for the handshakes in flight (PUBREC/PUBREL/PUBCOMP,
/// PUBACK), so a subscriber gets every message and `close` reports none unacknowledged.
/// A single publish can be awaited until the broker acknowledged it.
async fn nothing_is_lost_when_a_publisher_closes(addr: Addr) {
    const N: u32 = 60;
    let prefix = unique("close");
    let lights = Lights::default();
    let sub_cfg = config(&addr, &unique("close-sub"));
    let sub = MqttClient::start(
        sub_cfg,
        vec![lights_sub(&prefix, Qos::ExactlyOnce)],
        lights.clone(),
    )
    .expect("subscriber");
    sub.wait_connected(WAIT).await.expect("subscribed");

    for (round, qos) in [(0u32, Qos::ExactlyOnce), (1, Qos::AtLeastOnce)] {
        let publisher =
            MqttClient::publisher(config(&addr, &unique("close-pub"))).expect("publisher");
        // No wait for the connection: everything is queued, then the client closes.
        for seq in round * N..(round + 1) * N {
            publisher
                .publish(
                    &lights_topic(&prefix, "p", seq),
                    &measured(seq),
                    &PublishOptions::new(qos),
                )
                .await
                .expect("publish");
        }
        let report = publisher.close().await;
        assert_eq!(
            report.unacknowledged, 0,
            "{}: {qos:?} publishes left unacknowledged",
            addr.label
        );
        let want = ((round + 1) * N) as usize;
        let deadline = Instant::now() + WAIT;
        // Then no more than `want` (no message twice: QoS 2).
        while lights.ok_count() < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut seqs = lights.seqs();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(
            seqs,
            (0..(round + 1) * N).collect::<Vec<_>>(),
            "{}",
            addr.label
        );
        assert!(
            publisher
                .publish(
                    &lights_topic(&prefix, "p", 0),
                    &measured(0),
                    &PublishOptions::new(qos)
                )
                .await
                .is_err(),
            "a closed client refuses publishes"
        );
    }

    // One publish awaited until the broker has it.
    let publisher = MqttClient::publisher(config(&addr, &unique("ack-pub"))).expect("publisher");
    for (seq, qos) in [
        (1000, Qos::ExactlyOnce),
        (1001, Qos::AtLeastOnce),
        (1002, Qos::AtMostOnce),
    ] {
        let published = publisher
            .publish(
                &lights_topic(&prefix, "p", seq),
                &measured(seq),
                &PublishOptions::new(qos),
            )
            .await
            .expect("publish");
        tokio::time::timeout(WAIT, published.acknowledged())
            .await
            .expect("acknowledged in time")
            .expect("acknowledged");
    }
    eventually("the awaited publishes", WAIT, || {
        let seqs = lights.seqs();
        [1000, 1001].iter().all(|s| seqs.contains(s))
    })
    .await;
    assert_eq!(publisher.close().await.unacknowledged, 0);
    sub.close().await;
}

/// A request queue of two and many publishers at once: publishes that find the queue full
/// wait for room (in order behind each other), each is acknowledged as its own, and every one
/// arrives once. Publishes cancelled while they wait do not disturb which acknowledgement
/// answers which publish.
async fn publishes_wait_for_room_in_a_full_queue(addr: Addr) {
    const N: u32 = 200;
    let prefix = unique("room");
    let lights = Lights::default();
    let sub = lights_subscriber(&addr, &prefix, &lights).await;
    let mut cfg = config(&addr, &unique("pub"));
    cfg.request_queue = 2;
    let publisher = MqttClient::publisher(cfg).expect("publisher");
    publisher.wait_connected(WAIT).await.expect("connect");
    let mut tasks = Vec::new();
    for seq in 1..=N {
        let p = publisher.clone();
        let topic = lights_topic(&prefix, "q", seq);
        tasks.push(tokio::spawn(async move {
            let qos = if seq % 3 == 0 {
                Qos::ExactlyOnce
            } else {
                Qos::AtLeastOnce
            };
            let published = p
                .publish(topic, &measured(seq), &PublishOptions::new(qos))
                .await
                .expect("publish");
            tokio::time::timeout(WAIT, published.acknowledged())
                .await
                .unwrap_or_else(|_| panic!("publish {seq} acknowledged in time"))
                .unwrap_or_else(|e| panic!("publish {seq}: {e}"));
        }));
        if seq % 10 == 0 {
            // Cancelled at once: it may or may not have been handed over, but it takes no
            // other publish's acknowledgement with it.
            let p = publisher.clone();
            let topic = lights_topic(&prefix, "q", 10_000 + seq);
            let _ = tokio::time::timeout(
                Duration::ZERO,
                p.publish(
                    topic,
                    &measured(10_000 + seq),
                    &PublishOptions::new(Qos::AtLeastOnce),
                ),
            )
            .await;
        }
    }
    for t in tasks {
        t.await.expect("publisher task");
    }
    eventually("every publish", WAIT, || {
        let seqs = lights.seqs();
        (1..=N).all(|s| seqs.contains(&s))
    })
    .await;
    assert_eq!(publisher.close().await.unacknowledged, 0);
    sub.close().await;
}

macro_rules! on_every_broker {
    ($name:ident, $body:ident, $version:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded_rumqttd() {
                let (v4, v5) = embedded();
                $body(if $version == Version::V5 { v5 } else { v4 }).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mosquitto_1883() {
                if let Some(addr) = system_mosquitto($version) {
                    $body(addr).await;
                }
            }
        }
    };
}

on_every_broker!(round_trip_v311, round_trip, Version::V311);
on_every_broker!(round_trip_v5, round_trip, Version::V5);
on_every_broker!(
    redelivery_v311,
    failed_messages_are_redelivered,
    Version::V311
);
on_every_broker!(redelivery_v5, failed_messages_are_redelivered, Version::V5);
on_every_broker!(request_reply_v5, request_reply, Version::V5);
on_every_broker!(headers_v5, headers_as_user_properties, Version::V5);
on_every_broker!(
    waiting_and_panicking_v311,
    waiting_and_panicking_handlers,
    Version::V311
);
on_every_broker!(
    full_queue_v311,
    publishes_wait_for_room_in_a_full_queue,
    Version::V311
);
on_every_broker!(
    full_queue_v5,
    publishes_wait_for_room_in_a_full_queue,
    Version::V5
);
on_every_broker!(interop_cli_v311, interop_cli, Version::V311);
on_every_broker!(interop_cli_v5, interop_cli, Version::V5);
on_every_broker!(
    nothing_is_lost_when_a_publisher_closes_v311,
    nothing_is_lost_when_a_publisher_closes,
    Version::V311
);
on_every_broker!(
    nothing_is_lost_when_a_publisher_closes_v5,
    nothing_is_lost_when_a_publisher_closes,
    Version::V5
);

// ---------------------------------------------------------------------------------------------
// TLS.

/// `mqtts` to a Mosquitto whose certificate a private CA signed and which asks for a client
/// certificate: a client trusting that CA and presenting its certificate gets messages
/// through; one trusting only the public roots, or presenting no certificate, never connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_client_certificates() {
    let Some(mut broker) = PrivateMosquitto::new() else {
        return;
    };
    let Some((ca, cert, key)) = broker.tls() else {
        return;
    };
    broker.start();
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let tls_config = |id: &str, tls: MqttTls| {
        let mut c = MqttConfig::from_url(&url, id).expect("url");
        c.tls = Some(tls);
        c.connect_timeout = Duration::from_secs(2);
        c.backoff = Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(300),
            ..Backoff::default()
        };
        c
    };
    let trusted = || {
        MqttTls::default()
            .with_ca(ca.clone())
            .with_client_cert(cert.clone(), key.clone())
    };
    let prefix = unique("tls");
    let lights = Lights::default();
    let sub = MqttClient::start(
        tls_config(&unique("sub"), trusted()),
        vec![lights_sub(&prefix, Qos::AtLeastOnce)],
        lights.clone(),
    )
    .expect("start");
    sub.wait_connected(WAIT)
        .await
        .expect("TLS subscriber connects");
    let publisher =
        MqttClient::publisher(tls_config(&unique("pub"), trusted())).expect("publisher");
    publish_lights(&publisher, &prefix, "t", 1..=3).await;
    eventually("3 messages over TLS", WAIT, || lights.ok_count() == 3).await;
    assert_eq!(lights.seqs(), vec![1, 2, 3]);

    // The broker's certificate does not chain to a public root.
    let untrusting = MqttClient::publisher(tls_config(
        &unique("public-roots"),
        MqttTls::default().with_client_cert(cert.clone(), key.clone()),
    ))
    .expect("start");
    // No client certificate: the broker refuses the handshake.
    let anonymous = MqttClient::publisher(tls_config(
        &unique("no-cert"),
        MqttTls::default().with_ca(ca.clone()),
    ))
    .expect("start");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (what, c) in [
        ("public roots only", &untrusting),
        ("no client certificate", &anonymous),
    ] {
        assert_eq!(c.stats().connections, 0, "{what}: {:?}", c.state());
        assert!(
            matches!(c.state(), State::Connecting { attempt } if attempt > 0),
            "{what}: {:?}",
            c.state()
        );
        c.close().await;
    }
    sub.close().await;
    publisher.close().await;
}

// ---------------------------------------------------------------------------------------------
// Outages.

/// The broker is not there when the client starts; it connects once the broker appears, and
/// what was published in the meantime is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_unavailable_at_start_embedded() {
    let (p4, p5) = (free_port(), free_port());
    let addr = Addr {
        label: "rumqttd (late)",
        host: "127.0.0.1".into(),
        port: p4,
        version: Version::V311,
    };
    let prefix = unique("late");
    let lights = Lights::default();
    let sub = MqttClient::start(
        config(&addr, &unique("sub")),
        vec![lights_sub(&prefix, Qos::AtLeastOnce)],
        lights.clone(),
    )
    .expect("start");
    let publisher = MqttClient::publisher(config(&addr, &unique("pub"))).expect("publisher");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        matches!(sub.state(), State::Connecting { attempt } if attempt > 0),
        "{:?}",
        sub.state()
    );
    start_rumqttd(p4, p5);
    sub.wait_connected(WAIT)
        .await
        .expect("connects once the broker is up");
    publisher.wait_connected(WAIT).await.expect("publisher too");
    publish_lights(&publisher, &prefix, "a", 1..=3).await;
    eventually("3 messages", WAIT, || lights.ok_count() == 3).await;
    sub.close().await;
    publisher.close().await;
}

/// Publishes made before the first connection (queued in the client) go out once a late
/// broker is up, and a kept session is resumed across a broker restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_unavailable_at_start_mosquitto() {
    let Some(mut broker) = PrivateMosquitto::new() else {
        return;
    };
    let addr = broker.addr(Version::V311);
    let prefix = unique("late");
    let lights = Lights::default();
    let mut cfg = config(&addr, &unique("sub"));
    cfg.clean_session = false;
    let sub = MqttClient::start(
        cfg,
        vec![lights_sub(&prefix, Qos::AtLeastOnce)],
        lights.clone(),
    )
    .expect("start");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(sub.state(), State::Connecting { .. }));
    broker.start();
    sub.wait_connected(WAIT).await.expect("connects");
    let publisher = MqttClient::publisher(config(&addr, &unique("pub"))).expect("publisher");
    publisher
        .publish(
            &lights_topic(&prefix, "a", 1),
            &measured(1),
            &PublishOptions::new(Qos::AtLeastOnce),
        )
        .await
        .expect("publish");
    eventually("1 message", WAIT, || lights.ok_count() == 1).await;
    sub.close().await;
    publisher.close().await;
}

/// The broker restarts in the middle of a stream of numbered QoS 1 messages. The publisher
/// (clean session) resends what it had in flight or queued; the durable subscriber
/// (kept session) gets every message at least once, and duplicates are counted; a subscriber
/// with a clean session subscribes again and receives what is published after its reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream() {
    let Some(mut broker) = PrivateMosquitto::new() else {
        return;
    };
    broker.start();
    let addr = broker.addr(Version::V311);
    let prefix = unique("restart");
    const N: u32 = 300;

    let durable = Lights::default();
    let mut cfg = config(&addr, &unique("durable"));
    cfg.clean_session = false;
    let durable_sub = MqttClient::start(
        cfg,
        vec![lights_sub(&prefix, Qos::AtLeastOnce)],
        durable.clone(),
    )
    .expect("durable");
    let fresh = Lights::default();
    let fresh_sub = MqttClient::start(
        config(&addr, &unique("fresh")),
        vec![lights_sub(&prefix, Qos::AtLeastOnce)],
        fresh.clone(),
    )
    .expect("fresh");
    durable_sub.wait_connected(WAIT).await.expect("connect");
    fresh_sub.wait_connected(WAIT).await.expect("connect");
    let publisher = MqttClient::publisher(config(&addr, &unique("pub"))).expect("publisher");
    publisher.wait_connected(WAIT).await.expect("connect");

    let p = publisher.clone();
    let pfx = prefix.clone();
    let producer = tokio::spawn(async move {
        let mut published = Vec::new();
        for seq in 1..=N {
            published.push(
                p.publish(
                    &lights_topic(&pfx, "a", seq),
                    &measured(seq),
                    &PublishOptions::new(Qos::AtLeastOnce),
                )
                .await
                .expect("publish"),
            );
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        published
    });
    eventually("a third of the stream", WAIT, || {
        durable.ok_count() >= N as usize / 3
    })
    .await;
    broker.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.start();
    let published = producer.await.expect("producer");
    // Every publish is acknowledged in the end: those in flight when the broker went away
    // were sent again on the new connection (a fresh session: with new packet ids).
    for (seq, p) in (1..).zip(published) {
        tokio::time::timeout(WAIT, p.acknowledged())
            .await
            .unwrap_or_else(|_| panic!("publish {seq} acknowledged in time"))
            .unwrap_or_else(|e| panic!("publish {seq}: {e}"));
    }
    let generation = durable_sub.wait_connected(WAIT).await.expect("reconnect");
    assert!(generation >= 2, "the durable subscriber reconnected");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seqs = durable.seqs();
        let missing: Vec<u32> = (1..=N).filter(|s| !seqs.contains(s)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "missing {missing:?}; stats {:?}",
            durable_sub.stats()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seqs = durable.seqs();
    let duplicates = seqs.len() - N as usize;
    println!(
        "broker restart: {N} messages, {} handled, {duplicates} duplicates, durable stats {:?}",
        seqs.len(),
        durable_sub.stats()
    );
    // The clean-session subscriber subscribed again after the restart.
    assert!(fresh_sub.stats().connections >= 2);
    let before = fresh.ok_count();
    publisher
        .publish(
            &lights_topic(&prefix, "a", N + 1),
            &measured(N + 1),
            &PublishOptions::new(Qos::AtLeastOnce),
        )
        .await
        .expect("publish");
    eventually("the fresh subscriber resubscribed", WAIT, || {
        fresh.ok_count() > before
    })
    .await;
    for c in [&durable_sub, &fresh_sub, &publisher] {
        c.close().await;
    }
}

/// A publisher's connection cut again and again (by a TCP proxy in front of the broker) while
/// it streams QoS 1 messages with a kept session: every publish is acknowledged in the end,
/// each exactly once (a publish resent on the next connection keeps its ticket), and the
/// subscriber gets every message. The cuts land anywhere in the client's event loop, also
/// between a packet's write and its flush and within a batch of acknowledgements that was
/// read but not yet handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_connection_cut_again_and_again() {
    let Some(mut broker) = PrivateMosquitto::new() else {
        return;
    };
    broker.start();
    for version in [Version::V311, Version::V5] {
        let addr = broker.addr(version);
        let proxy = backplane_common::Proxy::start(vec![
            format!("127.0.0.1:{}", addr.port).parse().expect("addr"),
        ])
        .await;
        let prefix = unique("cut");
        let lights = Lights::default();
        let mut sub_cfg = config(&addr, &unique("sub"));
        sub_cfg.clean_session = false;
        let sub = MqttClient::start(
            sub_cfg,
            vec![lights_sub(&prefix, Qos::AtLeastOnce)],
            lights.clone(),
        )
        .expect("subscriber");
        sub.wait_connected(WAIT).await.expect("subscribed");
        let via = Addr {
            port: proxy.addr.port(),
            ..addr.clone()
        };
        let mut pub_cfg = config(&via, &unique("pub"));
        pub_cfg.clean_session = false;
        let publisher = MqttClient::publisher(pub_cfg).expect("publisher");
        publisher.wait_connected(WAIT).await.expect("connected");

        const N: u32 = 3000;
        let p = publisher.clone();
        let pfx = prefix.clone();
        let producer = tokio::spawn(async move {
            let mut published = Vec::new();
            for seq in 1..=N {
                published.push(
                    p.publish(
                        &lights_topic(&pfx, "a", seq),
                        &measured(seq),
                        &PublishOptions::new(Qos::AtLeastOnce),
                    )
                    .await
                    .expect("publish"),
                );
                if seq % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            published
        });
        let mut cuts = 0u32;
        let mut jitter = backplane_common::XorShift(0x9E37_79B9_7F4A_7C15);
        while !producer.is_finished() || cuts < 10 {
            let wait = 5 + jitter.below(30) as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
            proxy.cut();
            cuts += 1;
        }
        let published = producer.await.expect("producer");
        for (seq, p) in (1..).zip(published) {
            tokio::time::timeout(WAIT, p.acknowledged())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{version:?}: publish {seq} acknowledged in time; {:?}, {:?}",
                        publisher.state(),
                        publisher.stats()
                    )
                })
                .unwrap_or_else(|e| panic!("{version:?}: publish {seq}: {e}"));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seqs = lights.seqs();
            let missing = (1..=N).filter(|s| !seqs.contains(s)).count();
            if missing == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{version:?}: {missing} messages missing; stats {:?}",
                sub.stats()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let stats = publisher.stats();
        println!(
            "{version:?}: {N} publishes over {} connections ({cuts} cuts), {} received",
            stats.connections,
            lights.seqs().len()
        );
        assert!(stats.connections >= 3, "the cuts reconnected the publisher");
        assert_eq!(publisher.close().await.unacknowledged, 0);
        sub.close().await;
    }
}
