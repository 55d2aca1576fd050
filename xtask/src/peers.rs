//! `cargo xtask peers [--check]`: installs and starts every external peer the tests talk to.
//!
//! The tests skip a peer that is missing, unless `ASYNCFORGE_REQUIRE_PEERS` is set (as
//! `.ci/run` does), when the skip fails the test. This task is how a machine gets all of them:
//! Debian packages (brokers, command-line clients, a browser), Python packages from PyPI (the
//! reference libraries used as independent peers), the Tansu Kafka broker built from
//! crates.io into a cache outside the clone, and the services started on their usual ports.
//! `--check` only reports what is missing (exit status 1 when anything is).

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// A Debian package the tests use, and the file that shows it is installed.
struct Package {
    name: &'static str,
    file: &'static str,
    used_by: &'static str,
}

const PACKAGES: &[Package] = &[
    Package {
        name: "mosquitto",
        file: "/usr/sbin/mosquitto",
        used_by: "MQTT broker (1883 and private instances)",
    },
    Package {
        name: "mosquitto-clients",
        file: "/usr/bin/mosquitto_pub",
        used_by: "mosquitto_pub/mosquitto_sub as independent MQTT peers",
    },
    Package {
        name: "kcat",
        file: "/usr/bin/kcat",
        used_by: "an independent Kafka client against the mock cluster",
    },
    Package {
        name: "redis-server",
        file: "/usr/bin/redis-server",
        used_by: "the Redis idempotency store and WebSocket backplane",
    },
    Package {
        name: "nats-server",
        file: "/usr/sbin/nats-server",
        used_by: "the NATS WebSocket backplane",
    },
    Package {
        name: "postgresql",
        file: "/etc/init.d/postgresql",
        used_by: "the Postgres idempotency store",
    },
    Package {
        name: "chromium",
        file: "/usr/bin/chromium",
        used_by: "a browser peer of the generated WebSocket/SSE server",
    },
    Package {
        name: "curl",
        file: "/usr/bin/curl",
        used_by: "an independent HTTP client (SSE, conditional requests)",
    },
    Package {
        name: "openssl",
        file: "/usr/bin/openssl",
        used_by: "certificates for the MQTT TLS test",
    },
];

/// A Python package the tests use: the module to import and the PyPI requirement.
const PYTHON: &[(&str, &str, &str)] = &[
    (
        "standardwebhooks",
        "standardwebhooks",
        "the Standard Webhooks reference library",
    ),
    (
        "websockets",
        "websockets>=13",
        "a Python WebSocket peer of the generated server",
    ),
    (
        "confluent_kafka",
        "confluent-kafka",
        "an independent Kafka client against Tansu",
    ),
];

/// The Tansu release line the Kafka tests run against.
const TANSU_VERSION: &str = "^0.6";

/// Where cached tool binaries live: `$ASYNCFORGE_TOOLS`, or `~/.cache/asyncforge-tools`.
pub fn tools_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("ASYNCFORGE_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/asyncforge-tools")
}

/// The cached Tansu binary.
pub fn tansu() -> PathBuf {
    tools_root().join("bin/tansu")
}

pub fn run(args: &[String]) -> ExitCode {
    let check = match args {
        [] => false,
        [a] if a == "--check" => true,
        _ => {
            eprintln!("usage: cargo xtask peers [--check]");
            return ExitCode::from(2);
        }
    };
    let mut missing = Vec::new();

    let packages: Vec<&Package> = PACKAGES
        .iter()
        .filter(|p| !PathBuf::from(p.file).exists())
        .collect();
    if !packages.is_empty() {
        if check {
            for p in &packages {
                missing.push(format!("{} (Debian package; {})", p.name, p.used_by));
            }
        } else if let Err(e) = apt_install(&packages) {
            missing.push(e);
        }
    }

    let python: Vec<_> = PYTHON
        .iter()
        .filter(|(module, _, _)| !python_has(module))
        .collect();
    if !python.is_empty() {
        if check {
            for (_, req, why) in &python {
                missing.push(format!("{req} (PyPI; {why})"));
            }
        } else {
            let reqs: Vec<&str> = python.iter().map(|(_, r, _)| *r).collect();
            println!("pip install {}", reqs.join(" "));
            if !status(
                Command::new("python3")
                    .args(["-m", "pip", "install", "--quiet"])
                    .args(&reqs),
            ) {
                missing.push(format!("pip could not install {}", reqs.join(" ")));
            }
        }
    }

    if !tansu().exists() {
        if check {
            missing.push(format!(
                "tansu {TANSU_VERSION} (crates.io, built into {})",
                tools_root().display()
            ));
        } else {
            println!(
                "building tansu {TANSU_VERSION} into {} (about 15 CPU-minutes, once)",
                tools_root().display()
            );
            let root = tools_root();
            if !status(
                Command::new("cargo")
                    .args(["install", "--locked", "--root"])
                    .arg(&root)
                    .args([
                        "tansu",
                        "--version",
                        TANSU_VERSION,
                        "--features",
                        "dynostore",
                    ])
                    .env_remove("CARGO_TARGET_DIR"),
            ) {
                missing.push("cargo install tansu failed".into());
            }
        }
    }

    for service in SERVICES {
        if listening(service.port) {
            continue;
        }
        if check {
            missing.push(format!(
                "nothing listens on 127.0.0.1:{} ({})",
                service.port, service.name
            ));
            continue;
        }
        println!("starting {} on 127.0.0.1:{}", service.name, service.port);
        let mut cmd = Command::new(service.program);
        cmd.args(service.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let started = if service.foreground {
            // Left running when this task ends; it is found listening next time.
            cmd.stderr(Stdio::null()).spawn().is_ok()
        } else {
            cmd.status().is_ok_and(|s| s.success())
        };
        if !started || !wait_listening(service.port, Duration::from_secs(10)) {
            missing.push(format!(
                "could not start {} on 127.0.0.1:{}",
                service.name, service.port
            ));
        } else if let [program, args @ ..] = service.then
            && !status(Command::new(program).args(args).stdin(Stdio::null()))
        {
            missing.push(format!(
                "{} started, but `{}` failed",
                service.name,
                service.then.join(" ")
            ));
        }
    }

    if missing.is_empty() {
        println!("every test peer is here");
        ExitCode::SUCCESS
    } else {
        for m in &missing {
            eprintln!("missing: {m}");
        }
        ExitCode::from(1)
    }
}

/// A service the tests expect on a loopback port, how to start it in the background (a
/// program that daemonizes itself, or one that stays in the `foreground` and is left running
/// on its own), and what to run once it listens (empty: nothing).
struct Service {
    name: &'static str,
    port: u16,
    program: &'static str,
    args: &'static [&'static str],
    foreground: bool,
    then: &'static [&'static str],
}

const SERVICES: &[Service] = &[
    Service {
        name: "Mosquitto",
        port: 1883,
        program: "/usr/sbin/mosquitto",
        args: &["-d", "-p", "1883"],
        foreground: false,
        then: &[],
    },
    Service {
        name: "Redis",
        port: 6379,
        program: "redis-server",
        args: &[
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        foreground: false,
        then: &[],
    },
    // With JetStream, its store in /tmp: the backplane uses core subjects only, but a NATS
    // server is usually run with it.
    Service {
        name: "NATS",
        port: 4222,
        program: "/usr/sbin/nats-server",
        args: &[
            "-js",
            "-sd",
            "/tmp/asyncforge-nats",
            "-a",
            "127.0.0.1",
            "-p",
            "4222",
        ],
        foreground: true,
        then: &[],
    },
    // Debian's cluster listens on 127.0.0.1:5432 with password authentication: the tests log
    // in as `postgres` with the password `postgres`, set here through the local socket.
    Service {
        name: "Postgres",
        port: 5432,
        program: "service",
        args: &["postgresql", "start"],
        foreground: false,
        then: &[
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-q",
            "-c",
            "ALTER ROLE postgres PASSWORD 'postgres'",
        ],
    },
];

fn apt_install(packages: &[&Package]) -> Result<(), String> {
    let names: Vec<&str> = packages.iter().map(|p| p.name).collect();
    println!("apt-get install {}", names.join(" "));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let apt = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        status(&mut cmd)
    };
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&names);
    if apt(&["update", "-qq"]) && apt(&install) {
        Ok(())
    } else {
        Err(format!("apt-get could not install {}", names.join(" ")))
    }
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn status(cmd: &mut Command) -> bool {
    cmd.status().is_ok_and(|s| s.success())
}

fn listening(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

fn wait_listening(port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if listening(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
