//! MQTT 3.1.1 and 5: the client generated publishers and subscribers run (feature `mqtt`, on
//! rumqttc), and the topic rules that turn channel addresses into filters and topics
//! ([`topic`], no dependencies, also what the code generator checks addresses with).

#[cfg(feature = "mqtt")]
mod client;
pub mod topic;

#[cfg(feature = "mqtt")]
pub use client::*;
pub use topic::{Topic, TopicTemplate};
