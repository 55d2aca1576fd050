//! Throughput of the generated code against raw rumqttc / rdkafka doing the same work, in the
//! same run, on the same broker:
//!
//! - **MQTT produce**: N `dimLight` commands at QoS 1 through the generated streetlights
//!   `Publisher` (topic from the template, JSON, publish options from the binding) vs a raw
//!   rumqttc client publishing the same JSON to the same topics; timed until an independent
//!   counting subscriber has all N.
//! - **MQTT consume**: N `lightMeasured` messages published by a raw client; the generated
//!   subscriber (typed parameters, decoding, manual acknowledgement after the handler) vs a raw
//!   rumqttc subscriber with manual acks that parses the topic and decodes the same payload
//!   type; timed until N are handled.
//! - **Kafka produce**: N readings through the generated lamp-fleet `Producer` (typed key and
//!   headers) vs a raw rdkafka `FutureProducer` with the same settings (idempotent, `acks=all`)
//!   sending the same bytes; up to 1000 in flight; timed until every delivery report is in.
//! - **Kafka consume**: N pre-produced readings; the generated `Consumer` (at least once:
//!   decode, handler, offset stored after it, periodic commits) vs a raw `StreamConsumer` with
//!   manual offset stores and the same commit interval, decoding the same payload type.
//!
//! Each pair runs `--runs` times (default 3), alternating, and the best run of each counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use asyncforge_brokers_tests::{MockKafka, PrivateMosquitto, embedded_rumqttd, unique};
use asyncforge_runtime::Message as _;
use asyncforge_runtime::Reject;
use asyncforge_runtime::kafka;
use asyncforge_runtime::mqtt::{self, Version};
use rdkafka::Message as _;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use snapshot_lamp_fleet as fleet;
use snapshot_official_streetlights_mqtt_3_0 as sl;

struct Opts {
    messages: u64,
    runs: usize,
    /// One side of one MQTT case, run once against the embedded rumqttd (for callgrind).
    alone: Option<(Side, Case)>,
}

#[derive(Clone, Copy)]
enum Side {
    Generated,
    Raw,
}

#[derive(Clone, Copy)]
enum Case {
    Produce,
    Consume,
}

fn opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        messages: 0,
        runs: 3,
        alone: None,
    };
    let (mut side, mut case) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--side" => {
                side = Some(match it.next().map(String::as_str) {
                    Some("generated") => Side::Generated,
                    Some("raw") => Side::Raw,
                    _ => return Err("--side generated|raw".into()),
                });
            }
            "--case" => {
                case = Some(match it.next().map(String::as_str) {
                    Some("produce") => Case::Produce,
                    Some("consume") => Case::Consume,
                    _ => return Err("--case produce|consume".into()),
                });
            }
            "--messages" => {
                o.messages = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--messages N")?;
            }
            "--runs" => {
                o.runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--runs N")?;
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    o.alone = match (side, case) {
        (Some(side), Some(case)) => Some((side, case)),
        (None, None) => None,
        _ => return Err("--side and --case go together".into()),
    };
    Ok(o)
}

/// Runs `brokers bench mqtt|kafka [--messages N] [--runs N]`.
pub async fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("mqtt") => {
            let mut o = opts(&args[1..])?;
            if o.messages == 0 {
                o.messages = 20_000;
            }
            match o.alone {
                Some((side, case)) => mqtt_alone(side, case, o.messages).await,
                None => mqtt_bench(&o).await,
            }
        }
        Some("kafka") => {
            let mut o = opts(&args[1..])?;
            if o.messages == 0 {
                o.messages = 50_000;
            }
            kafka_bench(&o).await
        }
        _ => Err("usage: brokers bench mqtt|kafka [--messages N] [--runs N] \
             [--side generated|raw --case produce|consume]"
            .into()),
    }
}

fn line(what: &str, n: u64, generated: Duration, raw: Duration) {
    let rate = |d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "{what:<34} generated {:>9.0} msg/s   raw {:>9.0} msg/s   generated/raw {:>5.1} %",
        rate(generated),
        rate(raw),
        100.0 * rate(generated) / rate(raw)
    );
}

// ---------------------------------------------------------------------------------------------
// MQTT.

/// A raw rumqttc client with its event loop polled in a task; counts incoming publishes (a
/// client that subscribes to nothing counts the PUBACKs of its own publishes instead).
async fn raw_client(
    port: u16,
    subscribe: Option<&str>,
    manual_acks: bool,
) -> Result<
    (
        rumqttc::AsyncClient,
        Arc<Tally>,
        tokio::task::JoinHandle<()>,
    ),
    String,
> {
    let mut o = rumqttc::MqttOptions::new(unique("bench"), "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_inflight(100)
        .set_manual_acks(manual_acks)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = rumqttc::AsyncClient::new(o, 10_000);
    let count = Arc::new(Tally::default());
    let subscribed = Arc::new(AtomicU64::new(0));
    if let Some(f) = subscribe {
        client
            .subscribe(f, rumqttc::QoS::AtLeastOnce)
            .await
            .map_err(|e| e.to_string())?;
    }
    let (c, s, ack) = (count.clone(), subscribed.clone(), client.clone());
    let publisher_only = subscribe.is_none();
    let template =
        mqtt::TopicTemplate::parse(sl::mqtt::LIGHTING_MEASURED).map_err(|e| e.to_string())?;
    let task = tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    if manual_acks {
                        // The same work as the generated subscriber: parameters from the
                        // topic, the payload decoded into the generated type, then the ack.
                        let ok = template
                            .matches(&p.topic)
                            .and_then(|params| params.get("streetlightId").map(str::to_owned))
                            .is_some()
                            && sl::messages::LightMeasured::decode(&p.payload).is_ok();
                        if ok {
                            c.add();
                        }
                        let _ = ack.ack(&p).await;
                    } else {
                        c.add();
                    }
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) if publisher_only => {
                    c.add();
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    s.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    if subscribe.is_some() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while subscribed.load(Ordering::Relaxed) == 0 {
            if Instant::now() > deadline {
                return Err("raw subscriber: no SUBACK".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok((client, count, task))
}

/// Counts what arrives in one run and wakes the waiter when the count reaches its target. No
/// polling: waiting costs no instructions, which the callgrind runs (`--side`) rely on.
#[derive(Default)]
struct Tally {
    count: AtomicU64,
    target: AtomicU64,
    done: tokio::sync::Notify,
}

impl Tally {
    fn add(&self) {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.target.load(Ordering::SeqCst) {
            self.done.notify_one();
        }
    }

    /// Waits until `n` have arrived, for at most `limit`.
    async fn wait(&self, n: u64, limit: Duration) -> Result<(), String> {
        self.target.store(n, Ordering::SeqCst);
        if self.count.load(Ordering::SeqCst) >= n {
            return Ok(());
        }
        tokio::time::timeout(limit, self.done.notified())
            .await
            .map_err(|_| format!("only {} of {n} arrived", self.count.load(Ordering::SeqCst)))
    }
}

fn dim(i: u64) -> sl::messages::DimLight {
    sl::messages::DimLight::new(sl::types::DimLightPayload {
        percentage: Some((i % 101) as u32),
        sent_at: None,
        extra: Default::default(),
    })
}

async fn mqtt_produce_generated(port: u16, n: u64, lamps: &[String]) -> Result<Duration, String> {
    let (_c, count, task) = raw_client(
        port,
        Some("smartylighting/streetlights/1/0/action/+/dim"),
        false,
    )
    .await?;
    let mut config =
        sl::mqtt::production_config(Some(&unique("gen-pub"))).map_err(|e| e.to_string())?;
    config.host = "127.0.0.1".into();
    config.port = port;
    config.inflight = 100;
    // The raw clients' request channel holds 10,000 requests too.
    config.request_queue = 10_000;
    let publisher = sl::mqtt::Sender::start(config).map_err(|e| e.to_string())?;
    publisher
        .client()
        .wait_connected(Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    // One parameters value per lamp, as an application holds them (the raw side formats its
    // topic from the same lamp ids).
    let params: Vec<_> = lamps
        .iter()
        .map(|lamp| sl::mqtt::LightsDimParams {
            streetlight_id: lamp.clone(),
        })
        .collect();
    let start = Instant::now();
    for i in 0..n {
        publisher
            .dim_light(&params[(i as usize) % params.len()], &dim(i))
            .await
            .map_err(|e| e.to_string())?;
    }
    count.wait(n, Duration::from_secs(300)).await?;
    let took = start.elapsed();
    publisher.client().close().await;
    task.abort();
    Ok(took)
}

async fn mqtt_produce_raw(port: u16, n: u64, lamps: &[String]) -> Result<Duration, String> {
    let (_c, count, task) = raw_client(
        port,
        Some("smartylighting/streetlights/1/0/action/+/dim"),
        false,
    )
    .await?;
    let (client, _, ptask) = raw_client(port, None, false).await?;
    let start = Instant::now();
    for i in 0..n {
        let lamp = &lamps[(i as usize) % lamps.len()];
        let topic = format!("smartylighting/streetlights/1/0/action/{lamp}/dim");
        let payload = dim(i).encode().map_err(|e| e.to_string())?;
        client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
            .await
            .map_err(|e| e.to_string())?;
    }
    count.wait(n, Duration::from_secs(300)).await?;
    let took = start.elapsed();
    task.abort();
    ptask.abort();
    Ok(took)
}

#[derive(Clone)]
struct Count(Arc<Tally>);

impl sl::mqtt::Handler for Count {
    async fn receive_light_measurement(
        &self,
        r: asyncforge_runtime::Received<
            sl::messages::LightMeasured,
            sl::mqtt::LightingMeasuredParams,
            sl::mqtt::Inbound,
        >,
    ) -> Result<(), Reject> {
        if !r.params.streetlight_id.is_empty() && r.message.payload.lumens.is_some() {
            self.0.add();
        }
        Ok(())
    }
}

async fn publish_measurements(port: u16, n: u64, lamps: &[String]) -> Result<(), String> {
    let (client, acked, task) = raw_client(port, None, false).await?;
    for i in 0..n {
        let lamp = &lamps[(i as usize) % lamps.len()];
        let topic = format!("smartylighting/streetlights/1/0/event/{lamp}/lighting/measured");
        let payload = format!("{{\"lumens\": {i}}}");
        client
            .publish(
                topic,
                rumqttc::QoS::AtLeastOnce,
                false,
                payload.into_bytes(),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    // Every message acknowledged by the broker before the publisher goes.
    let result = acked.wait(n, Duration::from_secs(300)).await;
    task.abort();
    result
}

async fn mqtt_consume_generated(port: u16, n: u64, lamps: &[String]) -> Result<Duration, String> {
    let count = Arc::new(Tally::default());
    let mut config =
        sl::mqtt::production_config(Some(&unique("gen-sub"))).map_err(|e| e.to_string())?;
    config.host = "127.0.0.1".into();
    config.port = port;
    config.version = Version::V311;
    config.inflight = 100;
    // The raw clients' request channel holds 10,000 requests too.
    config.request_queue = 10_000;
    let client = sl::mqtt::subscribe(config, Count(count.clone())).map_err(|e| e.to_string())?;
    client
        .wait_connected(Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let publisher = tokio::spawn({
        let lamps = lamps.to_vec();
        async move { publish_measurements(port, n, &lamps).await }
    });
    count.wait(n, Duration::from_secs(300)).await?;
    let took = start.elapsed();
    let _ = publisher.await;
    client.close().await;
    Ok(took)
}

async fn mqtt_consume_raw(port: u16, n: u64, lamps: &[String]) -> Result<Duration, String> {
    let (_c, count, task) = raw_client(
        port,
        Some("smartylighting/streetlights/1/0/event/+/lighting/measured"),
        true,
    )
    .await?;
    let start = Instant::now();
    let publisher = tokio::spawn({
        let lamps = lamps.to_vec();
        async move { publish_measurements(port, n, &lamps).await }
    });
    count.wait(n, Duration::from_secs(300)).await?;
    let took = start.elapsed();
    let _ = publisher.await;
    task.abort();
    Ok(took)
}

/// One side of one case against the embedded rumqttd, once: what `cargo xtask bench mqtt
/// --instructions` runs under callgrind, at two message counts, to count the instructions one
/// message costs on each side.
async fn mqtt_alone(side: Side, case: Case, n: u64) -> Result<(), String> {
    let (port, _) = embedded_rumqttd().ok_or("the embedded rumqttd did not start")?;
    let lamps: Vec<String> = (0..10).map(|i| format!("lamp{i}")).collect();
    let took = match (side, case) {
        (Side::Generated, Case::Produce) => mqtt_produce_generated(port, n, &lamps).await?,
        (Side::Raw, Case::Produce) => mqtt_produce_raw(port, n, &lamps).await?,
        (Side::Generated, Case::Consume) => mqtt_consume_generated(port, n, &lamps).await?,
        (Side::Raw, Case::Consume) => mqtt_consume_raw(port, n, &lamps).await?,
    };
    println!("{n} messages in {:.3} s", took.as_secs_f64());
    Ok(())
}

async fn mqtt_bench(o: &Opts) -> Result<(), String> {
    let mut brokers = Vec::new();
    match embedded_rumqttd() {
        Some((p4, _)) => brokers.push(("rumqttd (embedded)", p4)),
        None => println!("the embedded rumqttd did not start"),
    }
    // A private Mosquitto (queues of 100000 messages): the stock configuration on 1883 drops
    // QoS 1 messages beyond 1000 queued for a subscriber, which a benchmark reaches.
    let mut private = PrivateMosquitto::new();
    match private.as_mut().map(PrivateMosquitto::start) {
        Some(true) => brokers.push((
            "mosquitto (private)",
            private.as_ref().map(|m| m.port).unwrap_or(0),
        )),
        _ => println!("Mosquitto is not installed: measuring the embedded broker only"),
    }
    let lamps: Vec<String> = (0..10).map(|i| format!("lamp{i}")).collect();
    println!(
        "MQTT 3.1.1, QoS 1, {} messages, best of {} runs (streetlights 3.0.0 generated code vs rumqttc)",
        o.messages, o.runs
    );
    for (name, port) in brokers {
        // One broker failing (a lost message, a timeout) is reported; the others still run.
        if let Err(e) = mqtt_broker(name, port, o, &lamps).await {
            println!("{name}: failed: {e}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Kafka.

fn reading(seq: u64) -> fleet::messages::EnergyReading {
    let mut m = fleet::messages::EnergyReading::new(fleet::types::EnergyReadingPayload {
        seq,
        lamp_id: format!("lamp{}", seq % 10),
        watt_hours: seq as f64 / 10.0,
        extra: Default::default(),
    });
    m.headers = Some(fleet::types::EnergyReadingHeaders {
        trace_id: Some(format!("t{seq}")),
        extra: Default::default(),
    });
    m
}

const WINDOW: usize = 1000;

async fn kafka_produce_generated(config: &kafka::KafkaConfig, n: u64) -> Result<Duration, String> {
    let producer = fleet::kafka::Sender::new(config).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut inflight = futures_util::stream::FuturesUnordered::new();
    for seq in 0..n {
        let p = producer.clone();
        inflight.push(async move { p.publish_reading(Some(&(seq % 100)), &reading(seq)).await });
        if inflight.len() >= WINDOW {
            use futures_util::StreamExt;
            if let Some(r) = inflight.next().await {
                r.map_err(|e| e.to_string())?;
            }
        }
    }
    use futures_util::StreamExt;
    while let Some(r) = inflight.next().await {
        r.map_err(|e| e.to_string())?;
    }
    Ok(start.elapsed())
}

fn raw_producer(config: &kafka::KafkaConfig) -> Result<FutureProducer, String> {
    let mut cc = rdkafka::ClientConfig::new();
    cc.set("bootstrap.servers", &config.bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "30000")
        .set("linger.ms", "5");
    for (k, v) in &config.properties {
        cc.set(k, v);
    }
    cc.create().map_err(|e| e.to_string())
}

async fn kafka_produce_raw(config: &kafka::KafkaConfig, n: u64) -> Result<Duration, String> {
    let producer = raw_producer(config)?;
    let topic = fleet::kafka::ENERGY_READINGS;
    let start = Instant::now();
    let mut inflight = futures_util::stream::FuturesUnordered::new();
    for seq in 0..n {
        let p = producer.clone();
        // The same bytes: key as text, JSON payload, content type and trace headers.
        let m = reading(seq);
        let key = (seq % 100).to_string();
        let payload = m.encode().map_err(|e| e.to_string())?;
        let trace = format!("t{seq}");
        inflight.push(async move {
            let headers = rdkafka::message::OwnedHeaders::new()
                .insert(rdkafka::message::Header {
                    key: "content-type",
                    value: Some("application/json"),
                })
                .insert(rdkafka::message::Header {
                    key: "trace-id",
                    value: Some(trace.as_str()),
                });
            let record = FutureRecord::to(topic)
                .key(key.as_bytes())
                .payload(&payload)
                .headers(headers);
            p.send(record, Duration::from_secs(30))
                .await
                .map(|_| ())
                .map_err(|(e, _)| e.to_string())
        });
        if inflight.len() >= WINDOW {
            use futures_util::StreamExt;
            if let Some(r) = inflight.next().await {
                r?;
            }
        }
    }
    use futures_util::StreamExt;
    while let Some(r) = inflight.next().await {
        r?;
    }
    Ok(start.elapsed())
}

#[derive(Clone)]
struct Booked(Arc<AtomicU64>);

impl fleet::kafka::Handler for Booked {
    async fn record_reading(
        &self,
        r: asyncforge_runtime::Received<
            fleet::messages::EnergyReading,
            (),
            fleet::kafka::Inbound<u64>,
        >,
    ) -> Result<(), Reject> {
        if r.meta.key.is_some() && r.message.payload.seq < u64::MAX {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

async fn kafka_consume_generated(config: &kafka::KafkaConfig, n: u64) -> Result<Duration, String> {
    let count = Arc::new(AtomicU64::new(0));
    let mut options = fleet::kafka::consumer_options().map_err(|e| e.to_string())?;
    options.group_id = unique("bench-gen");
    let consumer = fleet::kafka::Consumer::new(config, options).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let c = count.clone();
    let stop = async move {
        while c.load(Ordering::Relaxed) < n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    consumer
        .run(Booked(count.clone()), stop)
        .await
        .map_err(|e| e.to_string())?;
    Ok(start.elapsed())
}

async fn kafka_consume_raw(config: &kafka::KafkaConfig, n: u64) -> Result<Duration, String> {
    let mut cc = rdkafka::ClientConfig::new();
    cc.set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", unique("bench-raw"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("queued.max.messages.kbytes", "16384");
    for (k, v) in &config.properties {
        cc.set(k, v);
    }
    let consumer: StreamConsumer = cc.create().map_err(|e| e.to_string())?;
    consumer
        .subscribe(&[fleet::kafka::ENERGY_READINGS])
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut handled = 0u64;
    let mut last_commit = Instant::now();
    while handled < n {
        let m = consumer.recv().await.map_err(|e| e.to_string())?;
        // The same work: key and payload decoded into the generated types, offset stored
        // after "handling", stored offsets committed every second.
        let key: Option<u64> = m.key().and_then(|k| kafka::decode_key(k).ok());
        let decoded = m
            .payload()
            .map(fleet::messages::EnergyReading::decode)
            .and_then(Result::ok);
        if key.is_some() && decoded.is_some() {
            handled += 1;
        }
        consumer
            .store_offset_from_message(&m)
            .map_err(|e| e.to_string())?;
        if last_commit.elapsed() >= Duration::from_secs(1) {
            let _ = consumer.commit_consumer_state(CommitMode::Async);
            last_commit = Instant::now();
        }
    }
    let took = start.elapsed();
    let _ = consumer.commit_consumer_state(CommitMode::Sync);
    Ok(took)
}

async fn kafka_bench(o: &Opts) -> Result<(), String> {
    let topic = fleet::kafka::ENERGY_READINGS;
    println!(
        "Kafka (librdkafka mock cluster, 1 broker, 3 partitions), {} records, best of {} runs (lamp-fleet generated code vs rdkafka)",
        o.messages, o.runs
    );
    let (mut gp, mut rp, mut gc, mut rc) =
        (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    for run in 0..o.runs {
        // A fresh cluster per side and run: its topic holds one produce round, which that
        // side's consumer then reads from the beginning. The sides alternate going first.
        for generated in [run % 2 == 0, run % 2 != 0] {
            let mock = MockKafka::start(&[(topic, 3)]).ok_or("the mock cluster did not start")?;
            let config = mock.config();
            if generated {
                gp = gp.min(kafka_produce_generated(&config, o.messages).await?);
                gc = gc.min(kafka_consume_generated(&config, o.messages).await?);
            } else {
                rp = rp.min(kafka_produce_raw(&config, o.messages).await?);
                rc = rc.min(kafka_consume_raw(&config, o.messages).await?);
            }
        }
    }
    line("mock cluster: produce", o.messages, gp, rp);
    line("mock cluster: consume", o.messages, gc, rc);
    Ok(())
}

/// The runs of one case: (generated, raw) durations, each pair measured back to back.
#[derive(Default)]
struct Pairs(Vec<(Duration, Duration)>);

impl Pairs {
    /// The best run of each side, and the median of the runs' generated/raw throughput ratios
    /// (each ratio compares two runs made one after the other, so a machine that slows down
    /// or speeds up between runs moves both sides of it).
    fn print(&self, what: &str, n: u64) {
        let best = |side: fn(&(Duration, Duration)) -> Duration| {
            self.0.iter().map(side).min().unwrap_or(Duration::MAX)
        };
        line(what, n, best(|p| p.0), best(|p| p.1));
        let mut ratios: Vec<f64> = self
            .0
            .iter()
            .map(|(g, r)| 100.0 * r.as_secs_f64() / g.as_secs_f64().max(1e-9))
            .collect();
        ratios.sort_by(f64::total_cmp);
        if let Some(median) = ratios.get(ratios.len() / 2) {
            let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.1}")).collect();
            println!(
                "{:<34} paired runs generated/raw: median {median:.1} % ({} %)",
                "",
                shown.join(", ")
            );
        }
    }
}

async fn mqtt_broker(name: &str, port: u16, o: &Opts, lamps: &[String]) -> Result<(), String> {
    let lamps = lamps.to_vec();
    let (mut produce, mut consume) = (Pairs::default(), Pairs::default());
    for run in 0..o.runs {
        // Alternating which side goes first, so neither always meets a warmer broker.
        if run % 2 == 0 {
            let g = mqtt_produce_generated(port, o.messages, &lamps).await?;
            let r = mqtt_produce_raw(port, o.messages, &lamps).await?;
            produce.0.push((g, r));
            let g = mqtt_consume_generated(port, o.messages, &lamps).await?;
            let r = mqtt_consume_raw(port, o.messages, &lamps).await?;
            consume.0.push((g, r));
        } else {
            let r = mqtt_produce_raw(port, o.messages, &lamps).await?;
            let g = mqtt_produce_generated(port, o.messages, &lamps).await?;
            produce.0.push((g, r));
            let r = mqtt_consume_raw(port, o.messages, &lamps).await?;
            let g = mqtt_consume_generated(port, o.messages, &lamps).await?;
            consume.0.push((g, r));
        }
    }
    produce.print(&format!("{name}: produce"), o.messages);
    consume.print(&format!("{name}: consume"), o.messages);
    Ok(())
}
