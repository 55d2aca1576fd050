//! The GENERATED MQTT and Kafka code over the wire: the official streetlights examples
//! (AsyncAPI 3.0.0 and 2.6.0) and `specs/lamp-fleet.yaml`, against an embedded rumqttd, the
//! machine's Mosquitto on 127.0.0.1:1883 and private Mosquitto processes, librdkafka's mock
//! cluster, with `mosquitto_pub`/`mosquitto_sub` and `kcat` as independent peers, and consumer
//! processes killed with SIGKILL mid-stream. A test whose peer is missing prints why and passes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asyncforge_brokers_tests::{
    MockKafka, PrivateMosquitto, embedded_rumqttd, have, system_mosquitto, unique, wait_until,
};
use asyncforge_runtime::kafka::{self, KafkaConfig};
use asyncforge_runtime::mqtt::{self, HandlerError, MqttConfig, Version};
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::Headers as _;
use snapshot_lamp_fleet as fleet;
use snapshot_official_streetlights_kafka_2_6 as slk2;
use snapshot_official_streetlights_kafka_3_0 as slk3;
use snapshot_official_streetlights_mqtt_2_6 as slm2;
use snapshot_official_streetlights_mqtt_3_0 as slm3;

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

fn mqtt_config(
    base: Result<MqttConfig, mqtt::MqttError>,
    port: u16,
    version: Version,
) -> MqttConfig {
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
        None => println!("SKIP: the embedded rumqttd did not start"),
    }
    match system_mosquitto() {
        Some(p) => out.push(("mosquitto:1883", p)),
        None => println!("SKIP: no MQTT broker on 127.0.0.1:1883 (.ci/run starts Mosquitto)"),
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
                r: $krate::mqtt::Received<$krate::mqtt::$measured, $krate::messages::LightMeasured>,
            ) -> Result<(), HandlerError> {
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
                        $krate::mqtt::production_config(&unique("sub")),
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

                let publisher = $krate::mqtt::Publisher::start(mqtt_config(
                    $krate::mqtt::production_config(&unique("pub")),
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
    ReceiveLightMeasurementParams,
    TurnOnParams,
    TurnOffParams,
    DimLightParams
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
        r: fleet::mqtt::Received<fleet::mqtt::LampCommandsParams, fleet::messages::Command>,
    ) -> Result<fleet::messages::Ack, HandlerError> {
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
        r: fleet::mqtt::Received<fleet::mqtt::LampStatusParams, fleet::messages::Status>,
    ) -> Result<(), HandlerError> {
        if let Ok(mut v) = self.statuses.lock() {
            v.push((r.params.lamp_id, r.message.payload.seq, r.delivery.retain));
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
                fleet::mqtt::broker_config(&unique("lamp")),
                port,
                Version::V5,
            ),
            lamps.clone(),
        )
        .expect("subscribe");
        sub.wait_connected(LONG).await.expect("lamp connected");
        let controller = fleet::mqtt::Publisher::start(mqtt_config(
            fleet::mqtt::broker_config(&unique("ctrl")),
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
                fleet::mqtt::broker_config(&unique("late")),
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
        println!("SKIP: mosquitto_pub/mosquitto_sub not installed (Debian `mosquitto-clients`)");
        return;
    }
    let port = match system_mosquitto() {
        Some(p) => p,
        None => match embedded_rumqttd() {
            Some((_, p5)) => p5,
            None => {
                println!("SKIP: no broker");
                return;
            }
        },
    };
    let p = port.to_string();
    // mosquitto_pub → the generated streetlights subscriber.
    let handler = Lights3::default();
    let sub = slm3::mqtt::subscribe(
        mqtt_config(
            slm3::mqtt::production_config(&unique("sub")),
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
    let publisher = slm3::mqtt::Publisher::start(mqtt_config(
        slm3::mqtt::production_config(&unique("pub")),
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
            fleet::mqtt::broker_config(&unique("lamp")),
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
        println!("SKIP: mosquitto is not installed (Debian package `mosquitto`)");
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
    let publisher = fleet::mqtt::Publisher::start(mqtt_config(
        fleet::mqtt::broker_config(&unique("pub")),
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
        println!("SKIP: mosquitto is not installed (Debian package `mosquitto`)");
        return;
    };
    let port = broker.port;
    let lamps = Lamps::default();
    let mut cfg = mqtt_config(
        fleet::mqtt::broker_config(&unique("away-sub")),
        port,
        Version::V5,
    );
    cfg.backoff.max = Duration::from_millis(500);
    let sub = fleet::mqtt::subscribe(cfg, lamps.clone()).expect("subscribe");
    let mut pcfg = mqtt_config(
        fleet::mqtt::broker_config(&unique("away-pub")),
        port,
        Version::V5,
    );
    pcfg.backoff.max = Duration::from_millis(500);
    let publisher = fleet::mqtt::Publisher::start(pcfg).expect("publisher");
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
    // Published while the broker is away: queued by the client, sent after the reconnect.
    for seq in 50..100 {
        publisher
            .report_status(&p, &status(seq))
            .await
            .expect("queued publish");
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
    publisher.client().close().await;
    sub.close().await;
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
        r: fleet::kafka::Received<(), u64, fleet::messages::EnergyReading>,
    ) -> Result<(), kafka::HandlerError> {
        let seq = r.message.payload.seq;
        if Some(seq) == self.fail_seq {
            return Err(kafka::HandlerError::failed("the ledger refuses this one"));
        }
        let trace = r.message.headers.and_then(|h| h.trace_id);
        if let Ok(mut v) = self.booked.lock() {
            v.push((seq, r.key, trace, r.message.payload.lamp_id));
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
    tokio::task::JoinHandle<Result<kafka::ConsumerStats, kafka::KafkaError>>,
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
        println!("SKIP: the mock cluster did not start");
        return;
    };
    let config = mock.config();
    let producer = fleet::kafka::Producer::new(&config).expect("producer");
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

macro_rules! streetlights_kafka {
    ($name:ident, $krate:ident, $on:ident, $measured:ident) => {
        #[derive(Clone, Default)]
        struct $name(Shared<(String, Option<u64>, Option<u32>, Vec<u8>)>);

        impl $krate::kafka::Handler for $name {
            async fn receive_light_measurement(
                &self,
                r: $krate::kafka::Received<
                    $krate::kafka::$measured,
                    Vec<u8>,
                    $krate::messages::LightMeasured,
                >,
            ) -> Result<(), kafka::HandlerError> {
                let header = r.message.headers.and_then(|h| h.my_app_header);
                if let Ok(mut v) = self.0.lock() {
                    v.push((
                        r.params.streetlight_id,
                        r.message.payload.lumens,
                        header,
                        r.key.unwrap_or_default(),
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
                let event = |l: &str| format!("smartylighting.streetlights.1.0.event.{l}.lighting.measured");
                let on = |l: &str| format!("smartylighting.streetlights.1.0.action.{l}.turn.on");
                let topics = [event(&a), event(&b), on(&a)];
                let pairs: Vec<(&str, i32)> = topics.iter().map(|t| (t.as_str(), 1)).collect();
                let Some(mock) = MockKafka::start(&pairs) else {
                    println!("SKIP: the mock cluster did not start");
                    return;
                };
                let config = mock.config();
                let producer = $krate::kafka::Producer::new(&config).expect("producer");
                producer
                    .turn_on(
                        &$krate::kafka::$on { streetlight_id: a.clone() },
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
                assert!(got[0].2.iter().any(|(k, v)| k == "content-type" && v == b"application/json"));

                let handler = $name::default();
                let mut options = $krate::kafka::consumer_options().expect("options");
                assert_eq!(options.client_id.as_deref(), Some("my-app-id"));
                options.group_id = unique("streetlights");
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                let h = handler.clone();
                let cfg = config.clone();
                let task = tokio::spawn(async move {
                    let consumer = $krate::kafka::Consumer::new(&cfg, options)?;
                    consumer.run(h, async { let _ = stop_rx.await; }).await
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
                        .args(["-b", &config.bootstrap_servers, "-P", "-t", &event(&b), "-k", "kb", "-H", "my-app-header=34"])
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
                    println!("SKIP (kcat part): kcat not installed (Debian `kcat`); a raw producer sends lamp B");
                    raw.send_raw(&event(&b), Some(b"kb"), Some(br#"{"lumens": 920}"#), &[("my-app-header", b"34")])
                        .await
                        .expect("raw send");
                }
                assert!(wait_until(LONG, || len(&handler.0) == 2).await, "measurements: {:?}", take(&handler.0));
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
streetlights_kafka!(Kafka2, slk2, TurnOnParams, ReceiveLightMeasurementParams);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_streetlights_official_examples_run_end_to_end() {
    Kafka3::run().await;
    Kafka2::run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_kcat_reads_what_the_generated_producer_sends() {
    if !have("kcat") {
        println!("SKIP: kcat not installed (Debian `kcat`)");
        return;
    }
    let topic = fleet::kafka::ENERGY_READINGS;
    let Some(mock) = MockKafka::start(&[(topic, 1)]) else {
        println!("SKIP: the mock cluster did not start");
        return;
    };
    let config = mock.config();
    let producer = fleet::kafka::Producer::new(&config).expect("producer");
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
        println!("SKIP: the mock cluster did not start");
        return;
    };
    let config = mock.config();
    let producer = fleet::kafka::Producer::new(&config).expect("producer");
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
        &format!("Kafka consumer killed after {at_kill} handled"),
        &seqs(),
        n,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_broker_away_at_start_and_mid_stream() {
    let topic = fleet::kafka::ENERGY_READINGS;
    let Some(mock) = MockKafka::start(&[(topic, 3)]) else {
        println!("SKIP: the mock cluster did not start");
        return;
    };
    mock.down();
    let config = mock.config();
    let producer = fleet::kafka::Producer::new(&config).expect("producer");
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
