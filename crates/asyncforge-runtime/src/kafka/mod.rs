//! Kafka: the producer and consumer generated code runs (feature `kafka`, on rdkafka), and the
//! topic rules that turn channel addresses into topics and subscription patterns ([`topic`],
//! no dependencies, also what the code generator checks addresses with).

#[cfg(feature = "kafka")]
mod client;
pub mod topic;

#[cfg(feature = "kafka")]
pub use client::*;
pub use topic::KafkaTopic;
