//! `brokers`: benchmarks of the generated MQTT and Kafka code against raw rumqttc / rdkafka
//! (`brokers bench mqtt|kafka`, what `cargo xtask bench mqtt|kafka` runs in release mode), and
//! the consumer processes the fault tests start and kill with SIGKILL:
//!
//! - `brokers kafka-consume BOOTSTRAP GROUP OUT DELAY_MS`: the generated lamp-fleet Kafka
//!   consumer; every handled reading's `seq` is appended to OUT before the handler returns.
//! - `brokers mqtt-consume HOST PORT CLIENT_ID OUT DELAY_MS`: the generated lamp-fleet MQTT
//!   subscriber (kept session, last will from the server binding); every handled status is
//!   appended to OUT as `lampId seq`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use snapshot_lamp_fleet::{kafka as fleet_kafka, messages, mqtt as fleet_mqtt};

#[path = "brokers/bench.rs"]
mod bench;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("kafka-consume") => rt.block_on(kafka_consume(&args[1..])),
        Some("mqtt-consume") => rt.block_on(mqtt_consume(&args[1..])),
        Some("bench") => rt.block_on(bench::run(&args[1..])),
        _ => Err("usage: brokers bench mqtt|kafka [--messages N] | kafka-consume BOOTSTRAP GROUP OUT DELAY_MS | mqtt-consume HOST PORT CLIENT_ID OUT DELAY_MS".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Appends lines to a file, each written through before the handler returns.
#[derive(Clone)]
struct Log(Arc<Mutex<std::fs::File>>);

impl Log {
    fn open(path: &str) -> Result<Log, String> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{path}: {e}"))?;
        Ok(Log(Arc::new(Mutex::new(f))))
    }

    fn line(&self, text: &str) -> Result<(), String> {
        let mut f = self.0.lock().map_err(|_| "log lock poisoned".to_owned())?;
        writeln!(f, "{text}")
            .and_then(|()| f.flush())
            .map_err(|e| e.to_string())
    }
}

fn arg<'a>(args: &'a [String], i: usize, what: &str) -> Result<&'a str, String> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| format!("missing argument: {what}"))
}

#[derive(Clone)]
struct Ledger {
    log: Log,
    delay: Duration,
}

impl fleet_kafka::Handler for Ledger {
    async fn record_reading(
        &self,
        received: asyncforge_runtime::Received<
            messages::EnergyReading,
            (),
            fleet_kafka::Inbound<u64>,
        >,
    ) -> Result<(), asyncforge_runtime::Reject> {
        tokio::time::sleep(self.delay).await;
        self.log
            .line(&received.message.payload.seq.to_string())
            .map_err(asyncforge_runtime::Reject::failed)
    }
}

async fn kafka_consume(args: &[String]) -> Result<(), String> {
    let bootstrap = arg(args, 0, "BOOTSTRAP")?;
    let group = arg(args, 1, "GROUP")?;
    let out = arg(args, 2, "OUT")?;
    let delay: u64 = arg(args, 3, "DELAY_MS")?
        .parse()
        .map_err(|e| format!("DELAY_MS: {e}"))?;
    let config = asyncforge_runtime::kafka::KafkaConfig::new(bootstrap)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .set("topic.metadata.refresh.interval.ms", "500");
    let mut options = fleet_kafka::consumer_options().map_err(|e| e.to_string())?;
    options.group_id = group.to_owned();
    options.commit_interval = Duration::from_millis(200);
    let consumer = fleet_kafka::Consumer::new(&config, options).map_err(|e| e.to_string())?;
    let handler = Ledger {
        log: Log::open(out)?,
        delay: Duration::from_millis(delay),
    };
    // Runs until killed (or until stdin closes, for a clean stop).
    let stop = async {
        let _ = tokio::task::spawn_blocking(|| {
            let mut buf = String::new();
            let _ = std::io::stdin().read_line(&mut buf);
        })
        .await;
    };
    consumer
        .run(handler, stop)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[derive(Clone)]
struct Lamps {
    log: Log,
    delay: Duration,
}

impl fleet_mqtt::Handler for Lamps {
    async fn handle_command(
        &self,
        received: asyncforge_runtime::Received<
            messages::Command,
            fleet_mqtt::LampCommandsParams,
            fleet_mqtt::Inbound,
        >,
    ) -> Result<messages::Ack, asyncforge_runtime::Reject> {
        Ok(messages::Ack::new(snapshot_lamp_fleet::types::AckPayload {
            lamp_id: received.params.lamp_id,
            applied: true,
            level: received.message.payload.level,
            extra: Default::default(),
        }))
    }

    async fn watch_status(
        &self,
        received: asyncforge_runtime::Received<
            messages::Status,
            fleet_mqtt::LampStatusParams,
            fleet_mqtt::Inbound,
        >,
    ) -> Result<(), asyncforge_runtime::Reject> {
        tokio::time::sleep(self.delay).await;
        self.log
            .line(&format!(
                "{} {}",
                received.params.lamp_id, received.message.payload.seq
            ))
            .map_err(asyncforge_runtime::Reject::failed)
    }
}

async fn mqtt_consume(args: &[String]) -> Result<(), String> {
    let host = arg(args, 0, "HOST")?;
    let port: u16 = arg(args, 1, "PORT")?
        .parse()
        .map_err(|e| format!("PORT: {e}"))?;
    let client_id = arg(args, 2, "CLIENT_ID")?;
    let out = arg(args, 3, "OUT")?;
    let delay: u64 = arg(args, 4, "DELAY_MS")?
        .parse()
        .map_err(|e| format!("DELAY_MS: {e}"))?;
    let mut config = fleet_mqtt::broker_config(Some(client_id)).map_err(|e| e.to_string())?;
    config.host = host.to_owned();
    config.port = port;
    config.keep_alive = Duration::from_secs(5);
    let client = fleet_mqtt::subscribe(
        config,
        Lamps {
            log: Log::open(out)?,
            delay: Duration::from_millis(delay),
        },
    )
    .map_err(|e| e.to_string())?;
    client
        .wait_connected(Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    println!("connected");
    let _ = tokio::task::spawn_blocking(|| {
        let mut buf = String::new();
        let _ = std::io::stdin().read_line(&mut buf);
    })
    .await;
    client.close().await;
    Ok(())
}
