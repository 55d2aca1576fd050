//! `cargo xtask codegen`: the generated crates checked in under `tests/snapshots/`, one per
//! spec under `specs/` and one per official AsyncAPI example in [`OFFICIAL`] (read from the
//! corpus beside the repository, `../shared/corpus`), compiled by `cargo test` as path
//! dependencies of the `asyncforge` tests. Without the corpus the official crates are neither
//! regenerated nor checked; the committed ones are used as they are.

use std::path::{Path, PathBuf};

use asyncforge::{GenerateError, Generator, Runtime, Settings};

/// An official AsyncAPI example with a snapshot crate `tests/snapshots/<name>`.
#[derive(Debug, Clone, Copy)]
struct Official {
    /// Directory under `tests/snapshots/` (the crate is `snapshot-<name>`).
    name: &'static str,
    /// The document, relative to the corpus.
    path: &'static str,
    /// The protocol of its channels when it declares no servers.
    default_protocol: Option<&'static str>,
}

/// The official examples generated into snapshot crates: a server and a client of each talk to
/// each other in `crates/asyncforge/tests/wire/official.rs`.
const OFFICIAL: &[Official] = &[
    Official {
        name: "official-gemini-3-0",
        path: "examples/3.0.0/websocket-gemini-asyncapi.yml",
        default_protocol: None,
    },
    Official {
        name: "official-gemini-2-6",
        path: "examples/2.6.0/websocket-gemini.yml",
        default_protocol: None,
    },
    Official {
        name: "official-kraken-3-0",
        path: "examples/3.0.0/kraken-websocket-request-reply-multiple-channels-asyncapi.yml",
        // "Kraken Websockets API" declares no servers.
        default_protocol: Some("wss"),
    },
    Official {
        name: "official-kraken-filter-3-0",
        path: "examples/3.0.0/kraken-websocket-request-reply-message-filter-in-reply-asyncapi.yml",
        default_protocol: Some("wss"),
    },
    // The streetlights examples (MQTT and Kafka) build with the runtime's `mqtt`/`kafka`
    // features, so only the `tests/brokers` crate depends on them (it runs them against
    // brokers); the workspace build stays free of rdkafka.
    Official {
        name: "official-streetlights-mqtt-3-0",
        path: "examples/3.0.0/streetlights-mqtt-asyncapi.yml",
        default_protocol: None,
    },
    Official {
        name: "official-streetlights-mqtt-2-6",
        path: "examples/2.6.0/streetlights-mqtt.yml",
        default_protocol: None,
    },
    Official {
        name: "official-streetlights-kafka-3-0",
        path: "examples/3.0.0/streetlights-kafka-asyncapi.yml",
        default_protocol: None,
    },
    Official {
        name: "official-streetlights-kafka-2-6",
        path: "examples/2.6.0/streetlights-kafka.yml",
        default_protocol: None,
    },
];

/// The corpus of official and real-world documents, when it is beside the repository.
fn corpus(root: &Path) -> Option<PathBuf> {
    let dir = root.join("../shared/corpus");
    dir.join("examples").is_dir().then_some(dir)
}

/// The specs that have snapshots: every `*.yaml`/`*.yml`/`*.json` directly under `specs/`.
fn specs(root: &Path) -> Result<Vec<PathBuf>, GenerateError> {
    let dir = root.join("specs");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|source| GenerateError::Io {
            path: dir.display().to_string(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// One snapshot: where it goes, how the generated files name the spec, and the protocol of a
/// document without servers.
struct Snapshot<'a> {
    name: &'a str,
    spec: PathBuf,
    spec_name: String,
    default_protocol: Option<&'a str>,
}

impl Snapshot<'_> {
    fn settings(&self, root: &Path, check: bool) -> Settings {
        let settings = Settings::crate_dir(root.join("tests/snapshots").join(self.name))
            .crate_name(format!("snapshot-{}", self.name))
            .runtime(Runtime::Path("../../../crates/asyncforge-runtime".into()))
            .deny_warnings(true)
            .spec_name(&self.spec_name)
            .check(check);
        match self.default_protocol {
            Some(p) => settings.default_protocol(p),
            None => settings,
        }
    }
}

/// Regenerates (or, with `check`, compares) every snapshot crate. Returns the stale files
/// (with `check`) or the files written. The official examples' crates are left alone when the
/// corpus is absent.
pub fn regenerate(root: &Path, check: bool) -> Result<Vec<PathBuf>, GenerateError> {
    let mut snapshots = Vec::new();
    let specs = specs(root)?;
    for spec in &specs {
        let (Some(name), Some(file)) = (
            spec.file_stem().and_then(|s| s.to_str()),
            spec.file_name().and_then(|f| f.to_str()),
        ) else {
            continue;
        };
        snapshots.push(Snapshot {
            name,
            spec: spec.clone(),
            spec_name: format!("specs/{file}"),
            default_protocol: None,
        });
    }
    if let Some(corpus) = corpus(root) {
        snapshots.extend(OFFICIAL.iter().map(|o| Snapshot {
            name: o.name,
            spec: corpus.join(o.path),
            spec_name: format!("../shared/corpus/{}", o.path),
            default_protocol: o.default_protocol,
        }));
    }
    let mut changed = Vec::new();
    for s in &snapshots {
        let output = Generator::new(s.settings(root, check)).generate(&s.spec)?;
        changed.extend(output.changed);
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    /// The checked-in snapshot crates are what the generator produces today.
    #[test]
    fn snapshots_are_fresh() {
        let root = crate::root();
        if super::corpus(&root).is_none() {
            eprintln!(
                "skipping the official examples' snapshots: ../shared/corpus is absent (the committed crates are used as they are)"
            );
        }
        let stale = super::regenerate(&root, true).expect("regenerate");
        assert!(
            stale.is_empty(),
            "generated snapshots are stale: {:?}\nrun `cargo xtask codegen` and commit",
            stale
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        );
    }
}
