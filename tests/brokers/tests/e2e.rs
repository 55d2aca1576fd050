//! The GENERATED MQTT and Kafka code over the wire: the official streetlights examples
//! (AsyncAPI 3.0.0 and 2.6.0) and `specs/lamp-fleet.yaml`, against an embedded rumqttd, the
//! machine's Mosquitto on 127.0.0.1:1883 and private Mosquitto processes, librdkafka's mock
//! cluster and Tansu 0.6 (a Kafka-protocol broker), with `mosquitto_pub`/`mosquitto_sub`,
//! `kcat` and the Python `confluent-kafka` client as independent peers, and consumer processes
//! killed with SIGKILL mid-stream. A test whose peer is missing prints why and passes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asyncforge_brokers_tests::{
    ClientIdRelay, MockKafka, PrivateMosquitto, TANSU_HINT, Tansu, embedded_rumqttd, have,
    system_mosquitto, unique, wait_until,
};
use asyncforge_runtime::kafka::{self, KafkaConfig};
use asyncforge_runtime::mqtt::{self, MqttConfig, Version};
use asyncforge_runtime::{Dispatch, Error, ErrorKind, Reject};
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::Headers as _;
use snapshot_harbor_telemetry as harbor;
use snapshot_lamp_fleet as fleet;
use snapshot_official_streetlights_kafka_2_6 as slk2;
use snapshot_official_streetlights_kafka_3_0 as slk3;
use snapshot_official_streetlights_mqtt_2_6 as slm2;
use snapshot_official_streetlights_mqtt_3_0 as slm3;

/// A peer this test needs is missing: skip, or fail when `ASYNCFORGE_REQUIRE_PEERS` is set
/// (CI); `cargo xtask peers` installs and starts every peer.
macro_rules! peer_missing {
    ($($why:tt)*) => {
        asyncforge_testkit::skip(&format!($($why)*), "cargo xtask peers")
    };
}

const LONG: Duration = Duration::from_secs(60);

type Shared<T> = Arc<Mutex<Vec<T>>>;

fn take<T: Clone>(s: &Shared<T>) -> Vec<T> {
    s.lock().map(|v| v.clone()).unwrap_or_default()
}

fn len<T>(s: &Shared<T>) -> usize {
    s.lock().map(|v| v.len()).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// An independent MQTT peer: rumqttc itself (3.1.1), not the runtime.

struct RawMqtt {
    client: rumqttc::AsyncClient,
    got: Shared<(String, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
}

impl RawMqtt {
    async fn start(port: u16, filter: Option<&str>) -> RawMqtt {
        let mut o = rumqttc::MqttOptions::new(unique("raw"), "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        let (client, mut el) = rumqttc::AsyncClient::new(o, 1000);
        let got: Shared<(String, Vec<u8>)> = Arc::default();
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(filter.is_none()));
        if let Some(f) = filter {
            client
                .subscribe(f, rumqttc::QoS::AtLeastOnce)
                .await
                .expect("raw subscribe");
        }
        let (g, r) = (got.clone(), ready.clone());
        let task = tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        if let Ok(mut v) = g.lock() {
                            v.push((p.topic.clone(), p.payload.to_vec()));
                        }
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        r.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        assert!(
            wait_until(LONG, || ready.load(std::sync::atomic::Ordering::SeqCst)).await,
            "raw MQTT peer subscribed"
        );
        RawMqtt { client, got, task }
    }
}

impl Drop for RawMqtt {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn mqtt_config(base: Result<MqttConfig, Error>, port: u16, version: Version) -> MqttConfig {
    let mut c = base.expect("generated config");
    c.host = "127.0.0.1".into();
    c.port = port;
    c.version = version;
    c
}

/// Brokers for the MQTT tests: the embedded rumqttd always, Mosquitto on 1883 when it answers.
fn mqtt_brokers(version: Version) -> Vec<(&'static str, u16)> {
    let mut out = Vec::new();
    match embedded_rumqttd() {
        Some((p4, p5)) => out.push((
            "rumqttd (embedded)",
            if version == Version::V5 { p5 } else { p4 },
        )),
        None => peer_missing!("the embedded rumqttd did not start"),
    }
    match system_mosquitto() {
        Some(p) => out.push(("mosquitto:1883", p)),
        None => peer_missing!("no MQTT broker on 127.0.0.1:1883 (.ci/run starts Mosquitto)"),
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The official streetlights MQTT examples.

/// `(streetlightId, lumens)` of every measurement the generated subscriber handled.
type Measured = Shared<(String, Option<u64>)>;

macro_rules! streetlights_mqtt {
    ($name:ident, $krate:ident, $measured:ident, $on:ident, $off:ident, $dim:ident) => {
        #[derive(Clone, Default)]
        struct $name(Measured);

        impl $krate::mqtt::Handler for $name {
            async fn receive_light_measurement(
                &self,
                r: $krate::Received<
                    $krate::messages::LightMeasured,
                    $krate::mqtt::$measured,
                    $krate::mqtt::Inbound,
                >,
            ) -> Result<(), Reject> {
                if let Ok(mut v) = self.0.lock() {
                    v.push((r.params.streetlight_id, r.message.payload.lumens));
                }
                Ok(())
            }
        }

        impl $name {
            /// The generated subscriber receives `lightMeasured` from a raw peer (and refuses
            /// an invalid one); the generated publisher's commands reach the raw peer on the
            /// topics of the channel addresses.
            async fn run(broker: &str, port: u16) {
                let lamp = unique("lamp");
                let handler = $name::default();
                let sub = $krate::mqtt::subscribe(
                    mqtt_config(
                        $krate::mqtt::production_config(Some(&unique("sub"))),
                        port,
                        Version::V311,
                    ),
                    handler.clone(),
                )
                .expect("subscribe");
                sub.wait_connected(LONG).await.expect("connected");
                let raw = RawMqtt::start(
                    port,
                    Some(&format!("smartylighting/streetlights/1/0/action/{lamp}/#")),
                )
                .await;
                let event =
                    format!("smartylighting/streetlights/1/0/event/{lamp}/lighting/measured");
                for payload in [
                    &b"{\"lumens\": -5}"[..],
                    b"{\"lumens\": 420, \"sentAt\": \"2026-12-02T10:00:00Z\"}",
                ] {
                    raw.client
                        .publish(&event, rumqttc::QoS::AtLeastOnce, false, payload.to_vec())
                        .await
                        .expect("raw publish");
                }
                assert!(
                    wait_until(LONG, || len(&handler.0) == 1 && sub.stats().invalid == 1).await,
                    "{broker}: measurements {:?}, stats {:?}",
                    take(&handler.0),
                    sub.stats()
                );
                assert_eq!(take(&handler.0), vec![(lamp.clone(), Some(420))]);

                let publisher = $krate::mqtt::Sender::start(mqtt_config(
                    $krate::mqtt::production_config(Some(&unique("pub"))),
                    port,
                    Version::V311,
                ))
                .expect("publisher");
                let cmd = |c| {
                    $krate::messages::TurnOnOff::new($krate::types::TurnOnOffPayload {
                        command: Some(c),
                        sent_at: Some(asyncforge_runtime::types::DateTime::now()),
                        extra: BTreeMap::new(),
                    })
                };
                use $krate::types::TurnOnOffPayloadCommand as C;
                publisher
                    .turn_on(
                        &$krate::mqtt::$on {
                            streetlight_id: lamp.clone(),
                        },
                        &cmd(C::On),
                    )
                    .await
                    .expect("turn on");
                publisher
                    .turn_off(
                        &$krate::mqtt::$off {
                            streetlight_id: lamp.clone(),
                        },
                        &cmd(C::Off),
                    )
                    .await
                    .expect("turn off");
                publisher
                    .dim_light(
                        &$krate::mqtt::$dim {
                            streetlight_id: lamp.clone(),
                        },
                        &$krate::messages::DimLight::new($krate::types::DimLightPayload {
                            percentage: Some(40),
                            sent_at: None,
                            extra: BTreeMap::new(),
                        }),
                    )
                    .await
                    .expect("dim");
                // A parameter value that would change the topic is refused before publishing.
                assert!(
                    publisher
                        .turn_on(
                            &$krate::mqtt::$on {
                                streetlight_id: "a/b".into()
                            },
                            &cmd(C::On)
                        )
                        .await
                        .is_err()
                );
                assert!(
                    wait_until(LONG, || len(&raw.got) == 3).await,
                    "{broker}: {:?}",
                    len(&raw.got)
                );
                let got = take(&raw.got);
                let base = format!("smartylighting/streetlights/1/0/action/{lamp}");
                let topics: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
                assert_eq!(
                    topics,
                    [
                        format!("{base}/turn/on"),
                        format!("{base}/turn/off"),
                        format!("{base}/dim")
                    ]
                );
                let json: Vec<serde_json::Value> = got
                    .iter()
                    .map(|(_, p)| serde_json::from_slice(p).expect("json payload"))
                    .collect();
                assert_eq!(json[0]["command"], "on");
                assert_eq!(json[1]["command"], "off");
                assert_eq!(json[2]["percentage"], 40);
                println!("{broker}: {} ok", stringify!($krate));
                publisher.client().close().await;
                sub.close().await;
            }
        }
    };
}

streetlights_mqtt!(
    Lights3,
    slm3,
    LightingMeasuredParams,
    LightTurnOnParams,
    LightTurnOffParams,
    LightsDimParams
);
streetlights_mqtt!(
    Lights2,
    slm2,
    LightingMeasuredParams,
    TurnOnParams,
    TurnOffParams,
    ActionDimParams
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_streetlights_official_examples_run_end_to_end() {
    for (broker, port) in mqtt_brokers(Version::V311) {
        Lights3::run(broker, port).await;
        Lights2::run(broker, port).await;
    }
}

// ---------------------------------------------------------------------------------------------
// lamp-fleet over MQTT 5: request/reply, retained status, kept sessions.

#[derive(Clone, Default)]
struct Lamps {
    statuses: Shared<(String, u64, bool)>,
    commands: Shared<(String, String)>,
}

impl fleet::mqtt::Handler for Lamps {
    async fn handle_command(
        &self,
        r: fleet::Received<
            fleet::messages::Command,
            fleet::mqtt::LampCommandsParams,
            fleet::mqtt::Inbound,
        >,
    ) -> Result<fleet::messages::Ack, Reject> {
        if let Ok(mut v) = self.commands.lock() {
            v.push((
                r.params.lamp_id.clone(),
                r.message.payload.action.as_str().to_owned(),
            ));
        }
        Ok(fleet::messages::Ack::new(fleet::types::AckPayload {
            lamp_id: r.params.lamp_id,
            applied: true,
            level: r.message.payload.level,
            extra: BTreeMap::new(),
        }))
    }

    async fn watch_status(
        &self,
        r: fleet::Received<
            fleet::messages::Status,
            fleet::mqtt::LampStatusParams,
            fleet::mqtt::Inbound,
        >,
    ) -> Result<(), Reject> {
        if let Ok(mut v) = self.statuses.lock() {
            v.push((r.params.lamp_id, r.message.payload.seq, r.meta.retain));
        }
        Ok(())
    }
}

fn status(seq: u64) -> fleet::messages::Status {
    fleet::messages::Status::new(fleet::types::StatusPayload {
        seq,
        on: seq.is_multiple_of(2),
        level: Some(50),
        extra: BTreeMap::new(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_lamp_fleet_request_reply_and_retained_status() {
    for (broker, port) in mqtt_brokers(Version::V5) {
        let lamp = unique("lamp");
        let lamps = Lamps::default();
        let sub = fleet::mqtt::subscribe(
            mqtt_config(
                fleet::mqtt::broker_config(Some(&unique("lamp"))),
                port,
                Version::V5,
            ),
            lamps.clone(),
        )
        .expect("subscribe");
        sub.wait_connected(LONG).await.expect("lamp connected");
        let controller = fleet::mqtt::Sender::start(mqtt_config(
            fleet::mqtt::broker_config(Some(&unique("ctrl"))),
            port,
            Version::V5,
        ))
        .expect("controller");
        let params = fleet::mqtt::LampCommandsParams {
            lamp_id: lamp.clone(),
        };
        let ack = controller
            .send_command(
                &params,
                &fleet::messages::Command::new(fleet::types::CommandPayload {
                    action: fleet::types::CommandPayloadAction::Dim,
                    level: Some(30),
                    extra: BTreeMap::new(),
                }),
                LONG,
            )
            .await
            .unwrap_or_else(|e| panic!("{broker}: request/reply: {e}"));
        assert_eq!(
            (
                ack.payload.lamp_id.as_str(),
                ack.payload.applied,
                ack.payload.level
            ),
            (lamp.as_str(), true, Some(30))
        );
        assert_eq!(
            take(&lamps.commands),
            vec![(lamp.clone(), "dim".to_owned())]
        );

        let sp = fleet::mqtt::LampStatusParams {
            lamp_id: lamp.clone(),
        };
        for seq in 1..=3 {
            controller
                .report_status(&sp, &status(seq))
                .await
                .expect("report");
        }
        assert!(
            wait_until(LONG, || take(&lamps.statuses)
                .iter()
                .filter(|s| s.0 == lamp)
                .count()
                >= 3)
            .await,
            "{broker}: statuses"
        );
        // (Other lamps' retained statuses, from earlier runs on a shared broker, come too.)
        let seen: Vec<u64> = take(&lamps.statuses)
            .iter()
            .filter(|s| s.0 == lamp)
            .map(|s| s.1)
            .collect();
        assert_eq!(seen, [1, 2, 3]);
        // The binding's `retain: true`: a subscriber arriving later gets the last status.
        let late = Lamps::default();
        let late_sub = fleet::mqtt::subscribe(
            mqtt_config(
                fleet::mqtt::broker_config(Some(&unique("late"))),
                port,
                Version::V5,
            ),
            late.clone(),
        )
        .expect("late subscribe");
        assert!(
            wait_until(LONG, || take(&late.statuses).iter().any(|s| s.0 == lamp)).await,
            "{broker}: retained status"
        );
        let retained = take(&late.statuses)
            .into_iter()
            .find(|s| s.0 == lamp)
            .expect("retained");
        assert_eq!((retained.1, retained.2), (3, true));
        println!("{broker}: lamp-fleet request/reply and retained status ok");
        // Clear the retained status (an empty retained message), not to leave it on a shared
        // broker.
        let raw = RawMqtt::start(port, None).await;
        raw.client
            .publish(
                format!("fleet/lamps/{lamp}/status"),
                rumqttc::QoS::AtLeastOnce,
                true,
                Vec::new(),
            )
            .await
            .expect("clear retained");
        tokio::time::sleep(Duration::from_millis(300)).await;
        late_sub.close().await;
        controller.client().close().await;
        sub.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// mosquitto_pub / mosquitto_sub as peers of the generated code.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_interop_with_mosquitto_clients() {
    if !have("mosquitto_pub") || !have("mosquitto_sub") {
        peer_missing!("mosquitto_pub/mosquitto_sub not installed (Debian `mosquitto-clients`)");
        return;
    }
    let port = match system_mosquitto() {
        Some(p) => p,
        None => match embedded_rumqttd() {
            Some((_, p5)) => p5,
            None => {
                peer_missing!("no broker");
                return;
            }
        },
    };
    let p = port.to_string();
    // mosquitto_pub → the generated streetlights subscriber.
    let handler = Lights3::default();
    let sub = slm3::mqtt::subscribe(
        mqtt_config(
            slm3::mqtt::production_config(Some(&unique("sub"))),
            port,
            Version::V5,
        ),
        handler.clone(),
    )
    .expect("subscribe");
    sub.wait_connected(LONG).await.expect("connected");
    let lamp = unique("lamp");
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &p, "-q", "1", "-V", "mqttv5", "-t"])
        .arg(format!(
            "smartylighting/streetlights/1/0/event/{lamp}/lighting/measured"
        ))
        .args(["-m", r#"{"lumens": 77, "sentAt": "2026-12-02T10:00:00Z"}"#])
        .status()
        .expect("mosquitto_pub");
    assert!(status.success());
    assert!(
        wait_until(LONG, || len(&handler.0) == 1).await,
        "mosquitto_pub → generated subscriber"
    );
    assert_eq!(take(&handler.0), vec![(lamp.clone(), Some(77))]);

    // The generated publisher → mosquitto_sub.
    let cli = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &p,
            "-q",
            "1",
            "-V",
            "mqttv5",
            "-v",
            "-C",
            "2",
            "-W",
            "60",
            "-t",
        ])
        .arg(format!("smartylighting/streetlights/1/0/action/{lamp}/#"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub");
    let publisher = slm3::mqtt::Sender::start(mqtt_config(
        slm3::mqtt::production_config(Some(&unique("pub"))),
        port,
        Version::V5,
    ))
    .expect("publisher");
    // mosquitto_sub's subscription is in place at some point: publish until it has two.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let waiter = {
        let done = done.clone();
        std::thread::spawn(move || {
            let out = cli.wait_with_output();
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            out
        })
    };
    let mut rounds = 0;
    while !done.load(std::sync::atomic::Ordering::SeqCst) && rounds < 120 {
        publisher
            .dim_light(
                &slm3::mqtt::LightsDimParams {
                    streetlight_id: lamp.clone(),
                },
                &slm3::messages::DimLight::new(slm3::types::DimLightPayload {
                    percentage: Some(rounds),
                    sent_at: None,
                    extra: BTreeMap::new(),
                }),
            )
            .await
            .expect("dim");
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let out = waiter.join().expect("join").expect("mosquitto_sub output");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in lines {
        let (topic, payload) = l.split_once(' ').expect("topic payload");
        assert_eq!(
            topic,
            format!("smartylighting/streetlights/1/0/action/{lamp}/dim")
        );
        let v: serde_json::Value = serde_json::from_str(payload).expect("json");
        assert!(v["percentage"].is_u64(), "{payload}");
    }

    // MQTT 5 request/reply: mosquitto_pub asks the generated lamp, mosquitto_sub reads the
    // answer on the response topic.
    let lamps = Lamps::default();
    let lamp_sub = fleet::mqtt::subscribe(
        mqtt_config(
            fleet::mqtt::broker_config(Some(&unique("lamp"))),
            port,
            Version::V5,
        ),
        lamps.clone(),
    )
    .expect("lamp");
    lamp_sub.wait_connected(LONG).await.expect("lamp connected");
    let reply_topic = format!("replies/{}", unique("cli"));
    let mut answers = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &p,
            "-q",
            "1",
            "-V",
            "mqttv5",
            "-C",
            "1",
            "-W",
            "60",
            "-t",
            &reply_topic,
        ])
        .args(["-F", "%p"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub");
    let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let asked = asked.clone();
        let stdout = answers.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            asked.store(true, std::sync::atomic::Ordering::SeqCst);
            line
        })
    };
    let lamp2 = unique("lamp");
    let mut rounds = 0;
    while !asked.load(std::sync::atomic::Ordering::SeqCst) && rounds < 120 {
        let ok = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &p, "-q", "1", "-V", "mqttv5", "-t"])
            .arg(format!("fleet/lamps/{lamp2}/commands"))
            .args(["-m", r#"{"action": "on"}"#])
            .args(["-D", "publish", "response-topic", &reply_topic])
            .args(["-D", "publish", "correlation-data", "req-1"])
            .status()
            .expect("mosquitto_pub");
        assert!(ok.success());
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let line = reader.join().expect("join");
    let _ = answers.wait();
    let ack: serde_json::Value = serde_json::from_str(line.trim()).expect("ack json");
    assert_eq!(ack["lampId"], lamp2.as_str());
    assert_eq!(ack["applied"], true);
    println!("mosquitto_pub/mosquitto_sub interop ok (port {port})");
    lamp_sub.close().await;
    publisher.client().close().await;
    sub.close().await;
}

// ---------------------------------------------------------------------------------------------
// Faults: a consumer process killed mid-stream, the broker away at start and mid-stream.

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_brokers")
}

fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every seq in 0..n handled at least once; returns the number of duplicates.
fn report(what: &str, seqs: &[u64], n: u64) -> usize {
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for s in seqs {
        *counts.entry(*s).or_default() += 1;
    }
    let missing: Vec<u64> = (0..n).filter(|s| !counts.contains_key(s)).collect();
    let dups: usize = counts.values().map(|c| c - 1).sum();
    println!(
        "{what}: {n} messages, {} handled, {} distinct, {dups} duplicates, missing {:?}",
        seqs.len(),
        counts.len(),
        missing
    );
    assert!(missing.is_empty(), "{what}: lost {missing:?}");
    dups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_subscriber_killed_mid_stream_loses_nothing() {
    let Some(mut broker) = PrivateMosquitto::new() else {
        peer_missing!("mosquitto is not installed (Debian package `mosquitto`)");
        return;
    };
    assert!(broker.start(), "private mosquitto started");
    let port = broker.port;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("handled");
    let id = unique("killed");
    let spawn = || {
        let mut c = Command::new(bin())
            .args(["mqtt-consume", "127.0.0.1", &port.to_string(), &id])
            .arg(&out)
            .arg("15")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("consumer process");
        let mut line = String::new();
        let stdout = c.stdout.take().expect("stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        assert_eq!(line.trim(), "connected");
        Killed(c)
    };
    // The last will of the server binding, watched by an independent client.
    let watcher = RawMqtt::start(port, Some("fleet/controllers/offline")).await;
    let first = spawn();
    let publisher = fleet::mqtt::Sender::start(mqtt_config(
        fleet::mqtt::broker_config(Some(&unique("pub"))),
        port,
        Version::V5,
    ))
    .expect("publisher");
    let n = 200u64;
    for seq in 0..n {
        let p = fleet::mqtt::LampStatusParams {
            lamp_id: format!("lamp{}", seq % 10),
        };
        publisher
            .report_status(&p, &status(seq))
            .await
            .expect("publish");
    }
    assert!(
        wait_until(LONG, || lines_of(&out).len() >= 60).await,
        "the first consumer got going"
    );
    drop(first); // SIGKILL
    let at_kill = lines_of(&out).len();
    assert!(
        wait_until(LONG, || len(&watcher.got) >= 1).await,
        "the broker published the last will"
    );
    assert_eq!(take(&watcher.got)[0].1, b"a controller went away");
    let _second = spawn();
    let all = |lines: &[String]| -> Vec<u64> {
        lines
            .iter()
            .filter_map(|l| l.split(' ').nth(1)?.parse().ok())
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(120), || {
            let seqs = all(&lines_of(&out));
            (0..n).all(|s| seqs.contains(&s))
        })
        .await,
        "every status handled after the restart"
    );
    let dups = report(
        &format!("MQTT subscriber killed after {at_kill} handled"),
        &all(&lines_of(&out)),
        n,
    );
    assert!(dups <= n as usize);
    publisher.client().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_broker_away_at_start_and_mid_stream() {
    let Some(mut broker) = PrivateMosquitto::new() else {
        peer_missing!("mosquitto is not installed (Debian package `mosquitto`)");
        return;
    };
    let port = broker.port;
    let lamps = Lamps::default();
    let mut cfg = mqtt_config(
        fleet::mqtt::broker_config(Some(&unique("away-sub"))),
        port,
        Version::V5,
    );
    cfg.backoff.max = Duration::from_millis(500);
    let sub = fleet::mqtt::subscribe(cfg, lamps.clone()).expect("subscribe");
    let mut pcfg = mqtt_config(
        fleet::mqtt::broker_config(Some(&unique("away-pub"))),
        port,
        Version::V5,
    );
    pcfg.backoff.max = Duration::from_millis(500);
    let publisher = fleet::mqtt::Sender::start(pcfg).expect("publisher");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        sub.wait_connected(Duration::from_millis(100))
            .await
            .is_err(),
        "no broker yet"
    );
    assert!(broker.start(), "broker started late");
    sub.wait_connected(LONG)
        .await
        .expect("subscriber connected");
    publisher
        .client()
        .wait_connected(LONG)
        .await
        .expect("publisher connected");
    let lamp = unique("lamp");
    let p = fleet::mqtt::LampStatusParams { lamp_id: lamp };
    for seq in 0..50 {
        publisher
            .report_status(&p, &status(seq))
            .await
            .expect("publish");
    }
    assert!(
        wait_until(LONG, || len(&lamps.statuses) >= 50).await,
        "first half"
    );
    broker.stop();
    // Published while the broker is away: queued by the client, sent after the reconnect;
    // their acknowledgements are awaited across it.
    let mut queued = Vec::new();
    for seq in 50..100 {
        queued.push(
            publisher
                .report_status(&p, &status(seq))
                .await
                .expect("queued publish"),
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(broker.start(), "broker restarted");
    assert!(
        wait_until(Duration::from_secs(120), || {
            let seqs: Vec<u64> = take(&lamps.statuses).iter().map(|s| s.1).collect();
            (0..100).all(|s| seqs.contains(&s))
        })
        .await,
        "every status handled: {:?}",
        take(&lamps.statuses).len()
    );
    let seqs: Vec<u64> = take(&lamps.statuses).iter().map(|s| s.1).collect();
    report("MQTT broker away at start and mid-stream", &seqs, 100);
    for published in queued {
        tokio::time::timeout(LONG, published.acknowledged())
            .await
            .expect("acknowledged in time")
            .expect("acknowledged after the reconnect");
    }
    assert_eq!(publisher.client().close().await.unacknowledged, 0);
    sub.close().await;
}

/// Nothing is lost when a publisher closes: the generated publisher sends QoS 1 statuses and
/// its client closes at once; `close` waits for the broker's acknowledgements, so a subscriber
/// gets every one. A single send can be awaited until the broker has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_nothing_is_lost_when_a_generated_publisher_closes() {
    for (label, port) in mqtt_brokers(Version::V5) {
        let lamps = Lamps::default();
        let sub = fleet::mqtt::subscribe(
            mqtt_config(
                fleet::mqtt::broker_config(Some(&unique("close-sub"))),
                port,
                Version::V5,
            ),
            lamps.clone(),
        )
        .expect("subscribe");
        sub.wait_connected(LONG).await.expect("subscribed");
        let lamp = unique("lamp");
        let p = fleet::mqtt::LampStatusParams {
            lamp_id: lamp.clone(),
        };
        let n = 100u64;
        let publisher = fleet::mqtt::Sender::start(mqtt_config(
            fleet::mqtt::broker_config(Some(&unique("close-pub"))),
            port,
            Version::V5,
        ))
        .expect("publisher");
        // The first send is awaited until the broker acknowledged it.
        publisher
            .report_status(&p, &status(0))
            .await
            .expect("publish")
            .acknowledged()
            .await
            .expect("acknowledged");
        for seq in 1..n {
            publisher
                .report_status(&p, &status(seq))
                .await
                .expect("publish");
        }
        let report = publisher.client().close().await;
        assert_eq!(report.unacknowledged, 0, "{label}");
        assert!(
            wait_until(LONG, || {
                let seqs: Vec<u64> = take(&lamps.statuses)
                    .iter()
                    .filter(|s| s.0 == lamp)
                    .map(|s| s.1)
                    .collect();
                (0..n).all(|s| seqs.contains(&s))
            })
            .await,
            "{label}: every status of the closed publisher arrived"
        );
        sub.close().await;
    }
}

/// Client ids: the binding's `clientId` is the default and an explicit id wins; the clients of
/// one application never share one by accident. Two subscribers and a publisher started from
/// the defaults connect side by side (none is dropped for another), an explicit id used twice
/// in one process is refused, and a publisher started while the subscriber is away does not
/// take over the subscriber's kept session: the subscriber gets what was queued for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_clients_of_one_application_never_share_a_client_id() {
    let Some(mut broker) = PrivateMosquitto::new() else {
        peer_missing!("mosquitto is not installed (Debian package `mosquitto`)");
        return;
    };
    assert!(broker.start(), "private Mosquitto started");
    let port = broker.port;
    let chosen = fleet::mqtt::broker_config(Some("chosen-id")).expect("config");
    assert_eq!(chosen.client_id, "chosen-id", "an explicit id wins");
    let defaults = mqtt_config(fleet::mqtt::broker_config(None), port, Version::V5);
    assert_eq!(
        defaults.client_id, "lamp-fleet-controller",
        "the binding's id"
    );

    let lamps = Lamps::default();
    let sub = fleet::mqtt::subscribe(defaults.clone(), lamps.clone()).expect("subscriber");
    let others = Lamps::default();
    let sub2 = fleet::mqtt::subscribe(defaults.clone(), others.clone()).expect("subscriber 2");
    let publisher = fleet::mqtt::Sender::start(defaults.clone()).expect("publisher");
    for c in [&sub, &sub2, publisher.client()] {
        c.wait_connected(LONG).await.expect("connected");
    }
    assert_eq!(sub.config().client_id, "lamp-fleet-controller");
    assert_eq!(sub2.config().client_id, "lamp-fleet-controller-2");
    assert_eq!(
        publisher.client().config().client_id,
        "lamp-fleet-controller-publisher"
    );
    let lamp = unique("lamp");
    let p = fleet::mqtt::LampStatusParams {
        lamp_id: lamp.clone(),
    };
    let seqs_of = |l: &Lamps| -> Vec<u64> {
        take(&l.statuses)
            .iter()
            .filter(|s| s.0 == lamp)
            .map(|s| s.1)
            .collect()
    };
    for seq in 0..20 {
        publisher
            .report_status(&p, &status(seq))
            .await
            .expect("publish")
            .acknowledged()
            .await
            .expect("acknowledged");
    }
    assert!(
        wait_until(LONG, || {
            (0..20).all(|s| seqs_of(&lamps).contains(&s) && seqs_of(&others).contains(&s))
        })
        .await,
        "both subscribers got every status"
    );
    for c in [&sub, &sub2, publisher.client()] {
        assert_eq!(
            c.stats().connections,
            1,
            "{}: never dropped for another client with its id",
            c.config().client_id
        );
    }
    // An explicit id is the application's: used twice in one process it is refused.
    let explicit = mqtt_config(
        fleet::mqtt::broker_config(Some(&unique("twice"))),
        port,
        Version::V5,
    );
    let once = fleet::mqtt::subscribe(explicit.clone(), Lamps::default()).expect("first");
    assert!(
        fleet::mqtt::subscribe(explicit, Lamps::default()).is_err(),
        "a second client with the same explicit id"
    );
    once.close().await;
    publisher.client().close().await;
    sub2.close().await;

    // The subscriber goes away; its session (cleanSession: false) keeps what comes meanwhile.
    sub.close().await;
    let late = fleet::mqtt::Sender::start(defaults.clone()).expect("publisher while away");
    for seq in 100..110 {
        late.report_status(&p, &status(seq))
            .await
            .expect("publish")
            .acknowledged()
            .await
            .expect("acknowledged");
    }
    assert_eq!(late.client().close().await.unacknowledged, 0);
    let back = Lamps::default();
    let sub = fleet::mqtt::subscribe(defaults, back.clone()).expect("subscriber back");
    assert_eq!(sub.config().client_id, "lamp-fleet-controller");
    assert!(
        wait_until(LONG, || (100..110).all(|s| seqs_of(&back).contains(&s))).await,
        "the kept session delivered what was published while the subscriber was away: {:?}",
        seqs_of(&back)
    );
    sub.close().await;
}

/// An `ack` with `level: 150` (`maximum: 100`).
fn overbright_ack(lamp_id: String) -> fleet::messages::Ack {
    fleet::messages::Ack::new(fleet::types::AckPayload {
        lamp_id,
        applied: true,
        level: Some(150),
        extra: BTreeMap::new(),
    })
}

fn dim_command() -> fleet::messages::Command {
    fleet::messages::Command::new(fleet::types::CommandPayload {
        action: fleet::types::CommandPayloadAction::Dim,
        level: Some(30),
        extra: BTreeMap::new(),
    })
}

/// An MQTT 5 reply is an incoming message too: the generated requester checks it against its
/// schema, so a lamp (here a peer on the runtime's client alone, which checks nothing it sends)
/// answering with `level: 150` (`maximum: 100`) gives the caller an error naming `/level`, not
/// a value outside the contract. A lamp on the generated subscriber never sends that reply: its
/// handler's answer is checked before it leaves (outgoing checks, on in debug builds), the
/// command counts as failed, and the caller gets no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_replies_are_checked_against_their_schema() {
    /// Answers every command with an overbright ack, through the runtime's client (and
    /// takes the lamps' statuses, retained on the broker by other tests, without a word).
    struct RawLamp;
    impl Dispatch<(mqtt::MqttClient, mqtt::Delivery)> for RawLamp {
        async fn dispatch(
            &self,
            (client, delivery): (mqtt::MqttClient, mqtt::Delivery),
        ) -> Result<(), Reject> {
            // Route 0 is `handleCommand` (`fleet::mqtt::subscriptions`, in route order).
            if delivery.route != 0 {
                return Ok(());
            }
            let lamp_id = delivery
                .topic
                .split('/')
                .nth(2)
                .unwrap_or_default()
                .to_owned();
            client
                .reply(
                    &delivery,
                    &overbright_ack(lamp_id),
                    &mqtt::PublishOptions::new(delivery.qos),
                )
                .await
                .map(drop)
                .map_err(Reject::failed)
        }
    }
    /// The same answer from a handler of the generated subscriber.
    #[derive(Clone)]
    struct Overbright;
    impl fleet::mqtt::Handler for Overbright {
        async fn handle_command(
            &self,
            r: fleet::Received<
                fleet::messages::Command,
                fleet::mqtt::LampCommandsParams,
                fleet::mqtt::Inbound,
            >,
        ) -> Result<fleet::messages::Ack, Reject> {
            Ok(overbright_ack(r.params.lamp_id))
        }

        async fn watch_status(
            &self,
            _: fleet::Received<
                fleet::messages::Status,
                fleet::mqtt::LampStatusParams,
                fleet::mqtt::Inbound,
            >,
        ) -> Result<(), Reject> {
            Ok(())
        }
    }
    for (broker, port) in mqtt_brokers(Version::V5) {
        let config = |name: &str| {
            mqtt_config(
                fleet::mqtt::broker_config(Some(&unique(name))),
                port,
                Version::V5,
            )
        };
        let controller = fleet::mqtt::Sender::start(config("ctrl")).expect("controller");
        let params = fleet::mqtt::LampCommandsParams {
            lamp_id: unique("lamp"),
        };

        let raw = mqtt::MqttClient::start(
            config("raw-lamp"),
            fleet::mqtt::subscriptions().expect("subscriptions"),
            RawLamp,
        )
        .expect("raw lamp");
        raw.wait_connected(LONG).await.expect("raw lamp connected");
        match controller.send_command(&params, &dim_command(), LONG).await {
            Err(e) if e.kind() == ErrorKind::Invalid => {
                assert!(e.to_string().contains("/level"), "{broker}: {e}");
            }
            other => panic!("{broker}: an invalid reply was accepted or timed out: {other:?}"),
        }
        raw.close().await;

        let lamp = fleet::mqtt::subscribe(config("overbright"), Overbright).expect("subscribe");
        lamp.wait_connected(LONG).await.expect("lamp connected");
        let answer = controller
            .send_command(&params, &dim_command(), Duration::from_secs(2))
            .await
            .expect_err("no reply leaves the generated lamp");
        assert_eq!(answer.kind(), ErrorKind::Timeout, "{broker}: {answer}");
        assert!(
            lamp.stats().failed >= 1,
            "{broker}: the handling counts as failed: {:?}",
            lamp.stats()
        );
        controller.client().close().await;
        lamp.close().await;
    }
}

/// Incoming MQTT messages are checked against the whole schema, and topic parameters against
/// theirs: an independent client (rumqttc) publishes crane statuses to the generated
/// harbor-telemetry subscriber; one that breaks `maximum`, one that breaks `pattern`, one with
/// a value outside the `enum`, and one whose topic's `{berth}` is not among the parameter's
/// values are invalid (counted and, as undecodable payloads are, acknowledged and dropped);
/// only the valid one reaches the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_incoming_messages_are_checked_against_the_whole_schema() {
    #[derive(Clone, Default)]
    struct Cranes(Shared<(String, String, Option<u32>)>);
    impl harbor::mqtt::Handler for Cranes {
        async fn receive_crane_status(
            &self,
            r: harbor::Received<
                harbor::messages::CraneStatus,
                harbor::mqtt::CraneStatusParams,
                harbor::mqtt::Inbound,
            >,
        ) -> Result<(), Reject> {
            if let Ok(mut v) = self.0.lock() {
                v.push((
                    r.params.berth,
                    r.message.payload.crane_id,
                    r.message.payload.load_kg,
                ));
            }
            Ok(())
        }
    }
    for (label, port) in mqtt_brokers(Version::V311) {
        let cranes = Cranes::default();
        let mut cfg = mqtt_config(
            harbor::mqtt::production_config(Some(&unique("cranes"))),
            port,
            Version::V311,
        );
        cfg.tls = None;
        cfg.credentials = None;
        let sub = harbor::mqtt::subscribe(cfg, cranes.clone()).expect("subscribe");
        sub.wait_connected(LONG).await.expect("subscribed");
        let raw = RawMqtt::start(port, None).await;
        let crane = format!("C-{:02}", std::process::id() % 100);
        let status = |id: &str, state: &str, load: u64| {
            serde_json::json!({
                "craneId": id, "state": state, "loadKg": load,
                "reportedAt": "2026-12-06T07:00:00Z"
            })
            .to_string()
        };
        let sends = [
            ("2", status(&crane, "working", 64_000)),
            ("2", status(&crane, "working", 70_000)),
            ("2", status("crane-7", "idle", 10)),
            ("2", status(&crane, "flying", 10)),
            ("9", status(&crane, "idle", 10)),
        ];
        for (berth, payload) in &sends {
            raw.client
                .publish(
                    format!("harbor/{berth}/cranes/{crane}/status"),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    payload.clone().into_bytes(),
                )
                .await
                .expect("raw publish");
        }
        assert!(
            wait_until(LONG, || {
                let s = sub.stats();
                s.handled + s.invalid >= sends.len() as u64
            })
            .await,
            "{label}: every status seen: {:?}",
            sub.stats()
        );
        let stats = sub.stats();
        assert_eq!((stats.handled, stats.invalid), (1, 4), "{label}: {stats:?}");
        assert_eq!(
            take(&cranes.0),
            vec![("2".to_owned(), crane.clone(), Some(64_000))],
            "{label}: only the valid status reached the handler"
        );
        sub.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Kafka: librdkafka's mock cluster.

/// Every record of a topic (key, payload, headers), read by a plain rdkafka consumer.
async fn read_topic(
    config: &KafkaConfig,
    topic: &str,
    n: usize,
) -> Vec<(Option<Vec<u8>>, Vec<u8>, Vec<(String, Vec<u8>)>)> {
    let mut cc = rdkafka::ClientConfig::new();
    cc.set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", unique("reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let c: StreamConsumer = cc.create().expect("reader");
    c.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(LONG, c.recv()).await {
            Ok(Ok(m)) => out.push((
                m.key().map(<[u8]>::to_vec),
                m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                m.headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
            Ok(Err(e)) => panic!("reading {topic}: {e}"),
            Err(_) => panic!("reading {topic}: only {} of {n}", out.len()),
        }
    }
    out
}

type Booked = Shared<(u64, Option<u64>, Option<String>, String)>;

#[derive(Clone, Default)]
struct Ledger {
    booked: Booked,
    fail_seq: Option<u64>,
}

impl fleet::kafka::Handler for Ledger {
    async fn record_reading(
        &self,
        r: fleet::Received<fleet::messages::EnergyReading, (), fleet::kafka::Inbound<u64>>,
    ) -> Result<(), Reject> {
        let seq = r.message.payload.seq;
        if Some(seq) == self.fail_seq {
            return Err(Reject::failed("the ledger refuses this one"));
        }
        let trace = r.message.headers.and_then(|h| h.trace_id);
        if let Ok(mut v) = self.booked.lock() {
            v.push((seq, r.meta.key, trace, r.message.payload.lamp_id));
        }
        Ok(())
    }
}

fn reading(seq: u64, trace: Option<&str>) -> fleet::messages::EnergyReading {
    let mut m = fleet::messages::EnergyReading::new(fleet::types::EnergyReadingPayload {
        seq,
        lamp_id: format!("lamp{}", seq % 7),
        watt_hours: seq as f64 / 10.0,
        extra: BTreeMap::new(),
    });
    m.headers = trace.map(|t| fleet::types::EnergyReadingHeaders {
        trace_id: Some(t.to_owned()),
        extra: BTreeMap::new(),
    });
    m
}

fn run_ledger(
    config: KafkaConfig,
    options: kafka::ConsumerOptions,
    ledger: Ledger,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<kafka::ConsumerStats, Error>>,
) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let consumer = fleet::kafka::Consumer::new(&config, options)?;
        consumer
            .run(ledger, async {
                let _ = stop_rx.await;
            })
            .await
    });
    (stop_tx, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_lamp_fleet_keys_headers_group_and_dead_letters() {
    let topic = fleet::kafka::ENERGY_READINGS;
    let Some(mock) = MockKafka::start(&[(topic, 3), ("fleet.energy.dlq", 1)]) else {
        peer_missing!("the mock cluster did not start");
        return;
    };
    let config = mock.config();
    let producer = fleet::kafka::Sender::new(&config).expect("producer");
    let n = 40u64;
    for seq in 0..n {
        let d = producer
            .publish_reading(
                Some(&(1000 + seq % 4)),
                &reading(seq, Some(&format!("t{seq}"))),
            )
            .await
            .expect("delivered");
        assert!(d.partition < 3);
    }
    let ledger = Ledger {
        fail_seq: Some(7),
        ..Ledger::default()
    };
    let mut options = fleet::kafka::consumer_options().expect("options");
    assert_eq!(
        (options.group_id.as_str(), options.client_id.as_deref()),
        ("energy-ledger", Some("ledger"))
    );
    options.group_id = unique("energy-ledger");
    options.dead_letter_topic = Some("fleet.energy.dlq".into());
    options.retry.max_attempts = Some(2);
    options.retry.base = Duration::from_millis(10);
    let (stop, task) = run_ledger(config.clone(), options, ledger.clone());
    assert!(
        wait_until(LONG, || len(&ledger.booked) >= (n - 1) as usize).await,
        "booked {}",
        len(&ledger.booked)
    );
    let _ = stop.send(());
    let stats = task.await.expect("join").expect("consumer");
    assert_eq!(stats.dead_lettered, 1, "{stats:?}");
    let booked = take(&ledger.booked);
    for (seq, key, trace, lamp) in &booked {
        assert_eq!(*key, Some(1000 + seq % 4), "typed key");
        assert_eq!(
            trace.as_deref(),
            Some(format!("t{seq}").as_str()),
            "typed header"
        );
        assert_eq!(*lamp, format!("lamp{}", seq % 7));
    }
    let dlq = read_topic(&config, "fleet.energy.dlq", 1).await;
    let (key, payload, headers) = &dlq[0];
    assert_eq!(key.as_deref(), Some(b"1003".as_slice()));
    let v: serde_json::Value = serde_json::from_slice(payload).expect("json");
    assert_eq!(v["seq"], 7);
    assert!(headers.iter().any(|(k, v)| k == "trace-id" && v == b"t7"));
    assert!(headers.iter().any(|(k, _)| k == kafka::DLT_ERROR_HEADER));
    // The mock cluster has no CreateTopics: ensure_topics fails within its timeout there.
    assert!(
        fleet::kafka::ensure_topics(&config, Duration::from_secs(3))
            .await
            .is_err()
    );
    assert_eq!(fleet::kafka::topics()[0].partitions, Some(3));
    println!("lamp-fleet Kafka: {} booked, {stats:?}", booked.len());
}

/// The Kafka operation bindings' `clientId`s reach the broker: the generated producer
/// connects as its send operation's `clientId`, the consumer as its receive operation's, and a
/// `client.id` in the application's configuration wins over both. Seen on the wire by a relay
/// in front of the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_operation_binding_client_ids_reach_the_broker() {
    let topic = fleet::kafka::ENERGY_READINGS;
    let Some(mock) = MockKafka::start(&[(topic, 3)]) else {
        peer_missing!("the mock cluster did not start");
        return;
    };
    client_ids_reach_the_broker(mock.config()).await;
    let Some(tansu) = Tansu::start() else {
        peer_missing!("{TANSU_HINT}");
        return;
    };
    fleet::kafka::ensure_topics(&tansu.config(), Duration::from_secs(20))
        .await
        .expect("topics");
    client_ids_reach_the_broker(tansu.config()).await;
}

async fn client_ids_reach_the_broker(config: KafkaConfig) {
    let relay = ClientIdRelay::start(&config.bootstrap_servers)
        .await
        .expect("relay");
    let via_relay = KafkaConfig {
        bootstrap_servers: relay.bootstrap.clone(),
        ..config.clone()
    };
    assert_eq!(fleet::kafka::PRODUCER_CLIENT_ID, Some("lamp-controller"));
    let producer = fleet::kafka::Sender::new(&via_relay).expect("producer");
    producer
        .publish_reading(Some(&1), &reading(1, None))
        .await
        .expect("delivered");
    let chosen = fleet::kafka::Sender::new(&via_relay.clone().set("client.id", "chosen"))
        .expect("producer with an explicit id");
    chosen
        .publish_reading(Some(&2), &reading(2, None))
        .await
        .expect("delivered");
    let ledger = Ledger::default();
    let mut options = fleet::kafka::consumer_options().expect("options");
    options.group_id = unique("energy-ledger");
    let (stop, task) = run_ledger(via_relay, options, ledger.clone());
    assert!(
        wait_until(LONG, || len(&ledger.booked) >= 2).await,
        "consumed"
    );
    let _ = stop.send(());
    task.await.expect("join").expect("consumer");
    let ids = relay.client_ids();
    for want in ["lamp-controller", "chosen", "ledger"] {
        assert!(ids.iter().any(|i| i == want), "{want} not among {ids:?}");
    }
    assert!(
        !ids.iter().any(|i| i == "rdkafka"),
        "a client without its binding's id: {ids:?}"
    );
}

/// Incoming Kafka records are checked against the whole schema: readings with a negative
/// `wattHours` (`minimum: 0`) or `seq` go the poison way — straight to the dead-letter topic,
/// with the violation's path in `asyncforge-error` — and the handler gets only the valid ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_incoming_records_are_checked_against_the_whole_schema() {
    let topic = fleet::kafka::ENERGY_READINGS;
    let Some(mock) = MockKafka::start(&[(topic, 1), ("fleet.energy.invalid", 1)]) else {
        peer_missing!("the mock cluster did not start");
        return;
    };
    records_are_checked(mock.config()).await;
    let Some(tansu) = Tansu::start() else {
        peer_missing!("{TANSU_HINT}");
        return;
    };
    let spec = |name: &str| kafka::TopicSpec {
        name: name.to_owned(),
        partitions: Some(1),
        replicas: Some(1),
        config: BTreeMap::new(),
    };
    kafka::ensure_topics(
        &tansu.config(),
        &[spec(topic), spec("fleet.energy.invalid")],
        Duration::from_secs(20),
    )
    .await
    .expect("topics");
    records_are_checked(tansu.config()).await;
}

async fn records_are_checked(config: KafkaConfig) {
    let topic = fleet::kafka::ENERGY_READINGS;
    let producer = kafka::Producer::new(&config).expect("producer");
    let records = [
        r#"{"seq":1,"lampId":"lamp1","wattHours":1.5}"#,
        r#"{"seq":2,"lampId":"lamp2","wattHours":-5}"#,
        r#"{"seq":-3,"lampId":"lamp3","wattHours":1}"#,
        r#"{"seq":4,"lampId":"lamp4","wattHours":0}"#,
    ];
    for (i, r) in records.iter().enumerate() {
        producer
            .send_raw(
                topic,
                Some(i.to_string().as_bytes()),
                Some(r.as_bytes()),
                &[],
            )
            .await
            .expect("delivered");
    }
    let ledger = Ledger::default();
    let mut options = fleet::kafka::consumer_options().expect("options");
    options.group_id = unique("energy-ledger");
    options.dead_letter_topic = Some("fleet.energy.invalid".into());
    let (stop, task) = run_ledger(config.clone(), options, ledger.clone());
    let dlq = read_topic(&config, "fleet.energy.invalid", 2).await;
    assert!(
        wait_until(LONG, || len(&ledger.booked) >= 2).await,
        "valid readings booked"
    );
    let _ = stop.send(());
    let stats = task.await.expect("join").expect("consumer");
    let mut seqs: Vec<u64> = take(&ledger.booked).iter().map(|b| b.0).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, vec![1, 4], "only valid readings reach the handler");
    assert_eq!(stats.dead_lettered, 2, "{stats:?}");
    let errors: Vec<String> = dlq
        .iter()
        .map(|(_, _, headers)| {
            headers
                .iter()
                .find(|(k, _)| k == kafka::DLT_ERROR_HEADER)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("/wattHours")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("/seq")), "{errors:?}");
}

macro_rules! streetlights_kafka {
    ($name:ident, $krate:ident, $on:ident, $measured:ident) => {
        #[derive(Clone, Default)]
        struct $name(Shared<(String, Option<u64>, Option<u32>, Vec<u8>)>);

        impl $krate::kafka::Handler for $name {
            async fn receive_light_measurement(
                &self,
                r: $krate::Received<
                    $krate::messages::LightMeasured,
                    $krate::kafka::$measured,
                    $krate::kafka::Inbound<Vec<u8>>,
                >,
            ) -> Result<(), Reject> {
                let header = r.message.headers.and_then(|h| h.my_app_header);
                if let Ok(mut v) = self.0.lock() {
                    v.push((
                        r.params.streetlight_id,
                        r.message.payload.lumens,
                        header,
                        r.meta.key.unwrap_or_default(),
                    ));
                }
                Ok(())
            }
        }

        impl $name {
            /// The generated producer's `turnOn` lands on the topic of its address; the
            /// generated consumer's pattern subscription gets measurements of two lamps
            /// (one sent by `kcat` when it is installed) with their parameters.
            async fn run() {
                let (a, b) = (unique("lampA"), unique("lampB"));
                let event = |l: &str| {
                    format!("smartylighting.streetlights.1.0.event.{l}.lighting.measured")
                };
                let on = |l: &str| format!("smartylighting.streetlights.1.0.action.{l}.turn.on");
                let topics = [event(&a), event(&b), on(&a)];
                let pairs: Vec<(&str, i32)> = topics.iter().map(|t| (t.as_str(), 1)).collect();
                let Some(mock) = MockKafka::start(&pairs) else {
                    peer_missing!("the mock cluster did not start");
                    return;
                };
                let config = mock.config();
                let producer = $krate::kafka::Sender::new(&config).expect("producer");
                producer
                    .turn_on(
                        &$krate::kafka::$on {
                            streetlight_id: a.clone(),
                        },
                        Some("k1"),
                        &$krate::messages::TurnOnOff::new($krate::types::TurnOnOffPayload {
                            command: Some($krate::types::TurnOnOffPayloadCommand::On),
                            sent_at: None,
                            extra: BTreeMap::new(),
                        }),
                    )
                    .await
                    .expect("turn on");
                let got = read_topic(&config, &on(&a), 1).await;
                assert_eq!(got[0].0.as_deref(), Some(b"k1".as_slice()));
                let v: serde_json::Value = serde_json::from_slice(&got[0].1).expect("json");
                assert_eq!(v["command"], "on");
                assert!(
                    got[0]
                        .2
                        .iter()
                        .any(|(k, v)| k == "content-type" && v == b"application/json")
                );

                let handler = $name::default();
                let mut options = $krate::kafka::consumer_options().expect("options");
                assert_eq!(options.client_id.as_deref(), Some("my-app-id"));
                options.group_id = unique("streetlights");
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                let h = handler.clone();
                let cfg = config.clone();
                let task = tokio::spawn(async move {
                    let consumer = $krate::kafka::Consumer::new(&cfg, options)?;
                    consumer
                        .run(h, async {
                            let _ = stop_rx.await;
                        })
                        .await
                });
                // A raw rdkafka producer for lamp A, kcat for lamp B (or raw again).
                let raw = kafka::Producer::new(&config).expect("raw producer");
                raw.send_raw(
                    &event(&a),
                    Some(b"ka"),
                    Some(br#"{"lumens": 310}"#),
                    &[("my-app-header", b"12")],
                )
                .await
                .expect("raw send");
                if have("kcat") {
                    let mut k = Command::new("kcat")
                        .args([
                            "-b",
                            &config.bootstrap_servers,
                            "-P",
                            "-t",
                            &event(&b),
                            "-k",
                            "kb",
                            "-H",
                            "my-app-header=34",
                        ])
                        .stdin(Stdio::piped())
                        .spawn()
                        .expect("kcat");
                    {
                        use std::io::Write;
                        let mut stdin = k.stdin.take().expect("stdin");
                        stdin.write_all(br#"{"lumens": 920}"#).expect("write");
                    }
                    assert!(k.wait().expect("kcat").success());
                } else {
                    peer_missing!(
                        "kcat not installed (Debian `kcat`); a raw producer sends lamp B"
                    );
                    raw.send_raw(
                        &event(&b),
                        Some(b"kb"),
                        Some(br#"{"lumens": 920}"#),
                        &[("my-app-header", b"34")],
                    )
                    .await
                    .expect("raw send");
                }
                assert!(
                    wait_until(LONG, || len(&handler.0) == 2).await,
                    "measurements: {:?}",
                    take(&handler.0)
                );
                let _ = stop_tx.send(());
                task.await.expect("join").expect("consumer");
                let mut seen = take(&handler.0);
                seen.sort();
                let mut want = vec![
                    (a.clone(), Some(310), Some(12), b"ka".to_vec()),
                    (b.clone(), Some(920), Some(34), b"kb".to_vec()),
                ];
                want.sort();
                assert_eq!(seen, want);
                println!("{}: streetlights Kafka ok", stringify!($krate));
            }
        }
    };
}

streetlights_kafka!(Kafka3, slk3, LightTurnOnParams, LightingMeasuredParams);
streetlights_kafka!(Kafka2, slk2, TurnOnParams, LightingMeasuredParams);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_streetlights_official_examples_run_end_to_end() {
    Kafka3::run().await;
    Kafka2::run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_kcat_reads_what_the_generated_producer_sends() {
    if !have("kcat") {
        peer_missing!("kcat not installed (Debian `kcat`)");
        return;
    }
    let topic = fleet::kafka::ENERGY_READINGS;
    let Some(mock) = MockKafka::start(&[(topic, 1)]) else {
        peer_missing!("the mock cluster did not start");
        return;
    };
    let config = mock.config();
    let producer = fleet::kafka::Sender::new(&config).expect("producer");
    producer
        .publish_reading(Some(&42), &reading(5, Some("trace-5")))
        .await
        .expect("delivered");
    let out = Command::new("kcat")
        .args([
            "-b",
            &config.bootstrap_servers,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-c",
            "1",
            "-e",
            "-q",
        ])
        .args(["-f", "%k|%h|%s\n"])
        .output()
        .expect("kcat");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().splitn(3, '|');
    assert_eq!(parts.next(), Some("42"), "{text}");
    let headers = parts.next().unwrap_or_default();
    assert!(
        headers.contains("content-type=application/json") && headers.contains("trace-id=trace-5"),
        "{text}"
    );
    let v: serde_json::Value =
        serde_json::from_str(parts.next().unwrap_or_default()).expect("json");
    assert_eq!(
        (v["seq"].as_u64(), v["lampId"].as_str()),
        (Some(5), Some("lamp5"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_consumer_killed_mid_stream_loses_nothing() {
    let topic = fleet::kafka::ENERGY_READINGS;
    let Some(mock) = MockKafka::start(&[(topic, 3)]) else {
        peer_missing!("the mock cluster did not start");
        return;
    };
    consumer_killed_mid_stream(mock.config(), mock.config(), "mock cluster").await;
}

/// 300 readings on the lamp-fleet topic (produced with `producer_config`), a consumer process
/// killed with SIGKILL after 100 and restarted: every reading is handled at least once.
async fn consumer_killed_mid_stream(
    config: KafkaConfig,
    producer_config: KafkaConfig,
    label: &str,
) {
    let producer = fleet::kafka::Sender::new(&producer_config).expect("producer");
    let n = 300u64;
    let sends = (0..n).map(|seq| {
        let p = producer.clone();
        async move { p.publish_reading(Some(&seq), &reading(seq, None)).await }
    });
    for r in futures_util::future::join_all(sends).await {
        r.expect("delivered");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("handled");
    let group = unique("killed");
    let spawn = || {
        Killed(
            Command::new(bin())
                .args(["kafka-consume", &config.bootstrap_servers, &group])
                .arg(&out)
                .arg("10")
                .stdin(Stdio::piped())
                .spawn()
                .expect("consumer process"),
        )
    };
    let seqs = || -> Vec<u64> {
        lines_of(&out)
            .iter()
            .filter_map(|l| l.parse().ok())
            .collect()
    };
    let first = spawn();
    assert!(
        wait_until(LONG, || seqs().len() >= 100).await,
        "the first consumer got going"
    );
    drop(first); // SIGKILL
    let at_kill = seqs().len();
    let _second = spawn();
    assert!(
        wait_until(Duration::from_secs(120), || {
            let s = seqs();
            (0..n).all(|x| s.contains(&x))
        })
        .await,
        "every reading handled after the restart ({} lines)",
        seqs().len()
    );
    report(
        &format!("Kafka ({label}) consumer killed after {at_kill} handled"),
        &seqs(),
        n,
    );
}

// ---------------------------------------------------------------------------------------------
// Kafka: Tansu 0.6, a Kafka-protocol broker, with the Python `confluent-kafka` client as the
// independent peer.

/// The Python peer: `produce BOOTSTRAP TOPIC N` writes N lamp-fleet readings (`seq` 1000…,
/// key the `seq` as text, a `trace-id` header); `consume BOOTSTRAP TOPIC N` reads N records
/// from the start and prints each as a JSON line (key, headers, payload).
const PY_PEER: &str = r#"
import json, sys, time
from confluent_kafka import Consumer, Producer
cmd, bootstrap, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if cmd == "produce":
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        seq = 1000 + i
        p.produce(topic, key=str(seq),
                  value=json.dumps({"seq": seq, "lampId": "py%d" % i, "wattHours": 2.5}),
                  headers=[("trace-id", b"py-%d" % i), ("content-type", b"application/json")])
    left = p.flush(30)
    sys.exit(1 if left else 0)
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "py-%d" % time.time_ns(),
              "auto.offset.reset": "earliest"})
c.subscribe([topic])
got, end = 0, time.time() + 60
while got < n and time.time() < end:
    m = c.poll(1.0)
    if m is None or m.error():
        continue
    got += 1
    print(json.dumps({"key": (m.key() or b"").decode(),
                      "headers": {k: (v or b"").decode() for k, v in (m.headers() or [])},
                      "payload": json.loads(m.value())}), flush=True)
c.close()
sys.exit(0 if got == n else 1)
"#;

/// Runs the Python peer; `None` (with the reason printed) when Python or `confluent-kafka` is
/// missing.
fn python_peer(args: &[&str]) -> Option<std::process::Output> {
    let have_client = Command::new("python3")
        .args(["-c", "import confluent_kafka"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have_client {
        peer_missing!(
            "the Python peer needs python3 with `confluent-kafka` (`python3 -m pip install confluent-kafka`, as .ci/run does)"
        );
        return None;
    }
    Some(
        Command::new("python3")
            .arg("-c")
            .arg(PY_PEER)
            .args(args)
            .output()
            .expect("python3"),
    )
}

/// The generated lamp-fleet producer and consumer against a real Kafka-protocol broker: the
/// topics created from the channel binding through the admin API, typed keys and headers both
/// ways, records of the Python `confluent-kafka` client handled by the generated consumer, and
/// the generated producer's records read by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_tansu_generated_producer_and_consumer_with_confluent_kafka() {
    let Some(tansu) = Tansu::start() else {
        peer_missing!("{TANSU_HINT}");
        return;
    };
    let config = tansu.config();
    let topic = fleet::kafka::ENERGY_READINGS;
    let created = fleet::kafka::ensure_topics(&config, Duration::from_secs(20))
        .await
        .expect("topics created through the admin API");
    assert_eq!(created.len(), 1, "{created:?}");
    let producer = fleet::kafka::Sender::new(&config).expect("producer");
    let n = 20u64;
    for seq in 0..n {
        producer
            .publish_reading(Some(&(seq + 100)), &reading(seq, Some(&format!("t{seq}"))))
            .await
            .expect("delivered");
    }
    let from_python = 5u64;
    let python = python_peer(&["produce", &tansu.bootstrap, topic, &from_python.to_string()]);
    if let Some(out) = &python {
        assert!(
            out.status.success(),
            "python producer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let want = n + if python.is_some() { from_python } else { 0 };
    let ledger = Ledger::default();
    let mut options = fleet::kafka::consumer_options().expect("options");
    options.group_id = unique("energy-ledger");
    let (stop, task) = run_ledger(config.clone(), options, ledger.clone());
    assert!(
        wait_until(LONG, || len(&ledger.booked) >= want as usize).await,
        "booked {} of {want}",
        len(&ledger.booked)
    );
    let _ = stop.send(());
    task.await.expect("join").expect("consumer");
    for (seq, key, trace, _) in take(&ledger.booked) {
        if seq < n {
            assert_eq!(key, Some(seq + 100), "typed key");
            assert_eq!(trace, Some(format!("t{seq}")), "typed header");
        } else {
            assert_eq!(key, Some(seq), "the Python peer's key, typed");
            assert_eq!(trace, Some(format!("py-{}", seq - 1000)), "its header");
        }
    }
    // The Python client reads what the generated producer sent.
    if let Some(out) = python_peer(&["consume", &tansu.bootstrap, topic, &want.to_string()]) {
        assert!(
            out.status.success(),
            "python consumer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let ours: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|v| v["payload"]["seq"].as_u64() < Some(n))
            .collect();
        assert_eq!(ours.len(), n as usize, "{lines:?}");
        for v in ours {
            let seq = v["payload"]["seq"].as_u64().unwrap_or(u64::MAX);
            assert_eq!(v["key"], (seq + 100).to_string());
            assert_eq!(v["headers"]["trace-id"], format!("t{seq}"));
            assert_eq!(v["headers"]["content-type"], "application/json");
        }
    }
}

/// A generated consumer process killed with SIGKILL mid-stream and restarted against Tansu
/// resumes from its group's committed offset: every reading handled at least once. One record
/// per batch (`batch.num.messages=1`): Tansu 0.6 returns nothing for a fetch that starts
/// inside a batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_tansu_consumer_killed_mid_stream_loses_nothing() {
    let Some(tansu) = Tansu::start() else {
        peer_missing!("{TANSU_HINT}");
        return;
    };
    let config = tansu.config();
    fleet::kafka::ensure_topics(&config, Duration::from_secs(20))
        .await
        .expect("topics");
    let producer_config = config.clone().set("batch.num.messages", "1");
    consumer_killed_mid_stream(config, producer_config, "Tansu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_broker_away_at_start_and_mid_stream() {
    let topic = fleet::kafka::ENERGY_READINGS;
    let Some(mock) = MockKafka::start(&[(topic, 3)]) else {
        peer_missing!("the mock cluster did not start");
        return;
    };
    mock.down();
    let config = mock.config();
    let producer = fleet::kafka::Sender::new(&config).expect("producer");
    let ledger = Ledger::default();
    let mut options = fleet::kafka::consumer_options().expect("options");
    options.group_id = unique("away");
    let (stop, task) = run_ledger(config.clone(), options, ledger.clone());
    let send_range = |range: std::ops::Range<u64>| {
        let p = producer.clone();
        tokio::spawn(async move {
            let sends = range.map(|seq| {
                let p = p.clone();
                async move { p.publish_reading(Some(&seq), &reading(seq, None)).await }
            });
            futures_util::future::join_all(sends).await
        })
    };
    let first = send_range(0..50);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        len(&ledger.booked),
        0,
        "nothing gets through while the broker is down"
    );
    mock.up();
    for r in first.await.expect("join") {
        r.expect("delivered after the broker came up");
    }
    assert!(
        wait_until(LONG, || len(&ledger.booked) >= 10).await,
        "consuming"
    );
    mock.down();
    let second = send_range(50..100);
    tokio::time::sleep(Duration::from_secs(2)).await;
    mock.up();
    for r in second.await.expect("join") {
        r.expect("delivered after the broker came back");
    }
    assert!(
        wait_until(Duration::from_secs(120), || {
            let s: Vec<u64> = take(&ledger.booked).iter().map(|b| b.0).collect();
            (0..100).all(|x| s.contains(&x))
        })
        .await,
        "every acknowledged record handled: {}",
        len(&ledger.booked)
    );
    let _ = stop.send(());
    task.await.expect("join").expect("consumer");
    let seqs: Vec<u64> = take(&ledger.booked).iter().map(|b| b.0).collect();
    report("Kafka broker away at start and mid-stream", &seqs, 100);
}
