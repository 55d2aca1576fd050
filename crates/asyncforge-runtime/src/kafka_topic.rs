//! Kafka topic names from channel addresses with `{parameters}` (no dependencies).
//!
//! A Kafka topic name is 1 to 249 characters from `[A-Za-z0-9._-]`, and a consumer can
//! subscribe to a pattern: a subscription starting with `^` is a regular expression that
//! librdkafka matches against the cluster's topics. So a channel address such as
//! `smartylighting.streetlights.1.0.event.{streetlightId}.lighting.measured` is
//! - produced to with its parameters filled in ([`KafkaTopic::topic`]); a value must be
//!   1 or more characters from `[A-Za-z0-9_-]` (no `.`, so a topic is read back unambiguously);
//! - subscribed to as `^smartylighting\.streetlights\.1\.0\.event\.[A-Za-z0-9_-]+\.lighting\.measured$`
//!   ([`KafkaTopic::subscription`]);
//! - matched, on receipt, to give the parameter values back ([`KafkaTopic::matches`]).
//!
//! An address without parameters is its own topic and subscription.

use std::fmt;

use super::mqtt_topic::Params;

/// Longest Kafka topic name.
pub const MAX_TOPIC_LEN: usize = 249;

/// A bad address or parameter value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KafkaTopicError {
    /// The address cannot name Kafka topics.
    #[error("`{address}` cannot be a Kafka topic: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        reason: &'static str,
    },
    /// A parameter value that would make another (or an illegal) topic name.
    #[error("parameter `{name}` = `{value}` cannot be part of a Kafka topic: {reason}")]
    Value {
        /// Parameter.
        name: String,
        /// Value (cut to 100 characters).
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// A parameter without a value.
    #[error("no value for parameter `{0}`")]
    Missing(String),
}

impl From<KafkaTopicError> for super::error::Error {
    fn from(e: KafkaTopicError) -> Self {
        super::error::Error::new(super::error::ErrorKind::Invalid, e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param(String),
}

/// A channel address as a Kafka topic template, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaTopic {
    address: String,
    parts: Vec<Part>,
}

fn legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

impl fmt::Display for KafkaTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl KafkaTopic {
    /// Parses an address. Literal text must be legal in a topic name, parameters may not touch
    /// each other, and the text after a parameter must start with `.` (where a value ends).
    pub fn parse(address: &str) -> Result<KafkaTopic, KafkaTopicError> {
        let bad = |reason| KafkaTopicError::Address {
            address: address.chars().take(300).collect(),
            reason,
        };
        if address.is_empty() {
            return Err(bad("it is empty"));
        }
        let mut parts = Vec::new();
        let mut rest = address;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let Some(end) = rest.find('}') else {
                        return Err(bad("a `{` without `}`"));
                    };
                    let name = &rest[1..end];
                    if name.is_empty() || name.contains('{') {
                        return Err(bad("an empty or nested parameter"));
                    }
                    if matches!(parts.last(), Some(Part::Param(_))) {
                        return Err(bad("two parameters touch each other"));
                    }
                    parts.push(Part::Param(name.to_owned()));
                    rest = &rest[end + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let text = &rest[..end];
                    if text.contains('}') {
                        return Err(bad("a `}` without `{`"));
                    }
                    if !text.chars().all(legal) {
                        return Err(bad("it has characters other than [A-Za-z0-9._-]"));
                    }
                    if matches!(parts.last(), Some(Part::Param(_))) && !text.starts_with('.') {
                        return Err(bad("the text after a parameter must start with `.`"));
                    }
                    parts.push(Part::Literal(text.to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        let literal_len: usize = parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => s.len(),
                Part::Param(_) => 1,
            })
            .sum();
        if literal_len > MAX_TOPIC_LEN {
            return Err(bad("it is longer than 249 characters"));
        }
        if address == "." || address == ".." {
            return Err(bad("`.` and `..` are not topic names"));
        }
        Ok(KafkaTopic {
            address: address.to_owned(),
            parts,
        })
    }

    /// The address as written.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether the address has parameters.
    pub fn has_params(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Param(_)))
    }

    /// What a consumer subscribes to: the topic itself, or a `^…$` pattern in which every
    /// parameter is `[A-Za-z0-9_-]+` and every `.` is escaped.
    pub fn subscription(&self) -> String {
        if !self.has_params() {
            return self.address.clone();
        }
        let mut out = String::from("^");
        for p in &self.parts {
            match p {
                Part::Literal(s) => {
                    for c in s.chars() {
                        if c == '.' || c == '-' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
                Part::Param(_) => out.push_str("[A-Za-z0-9_-]+"),
            }
        }
        out.push('$');
        out
    }

    /// The topic for parameter values given as `(name, value)` pairs.
    pub fn topic(&self, values: &[(&str, &str)]) -> Result<String, KafkaTopicError> {
        let mut out = String::with_capacity(self.address.len() + 16);
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Param(name) => {
                    let value = values
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| *v)
                        .ok_or_else(|| KafkaTopicError::Missing(name.clone()))?;
                    let bad = |reason| KafkaTopicError::Value {
                        name: name.clone(),
                        value: value.chars().take(100).collect(),
                        reason,
                    };
                    if value.is_empty() {
                        return Err(bad("it is empty"));
                    }
                    if !value.chars().all(value_char) {
                        return Err(bad("it has characters other than [A-Za-z0-9_-]"));
                    }
                    out.push_str(value);
                }
            }
        }
        if out.len() > MAX_TOPIC_LEN {
            return Err(KafkaTopicError::Value {
                name: String::new(),
                value: out.chars().take(100).collect(),
                reason: "the topic would be longer than 249 characters",
            });
        }
        Ok(out)
    }

    /// Matches a topic; `None` when it does not have this address's shape.
    pub fn matches(&self, topic: &str) -> Option<Params> {
        let mut rest = topic;
        let mut values = Vec::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => rest = rest.strip_prefix(s.as_str())?,
                Part::Param(name) => {
                    let end = rest.find(|c| !value_char(c)).unwrap_or(rest.len());
                    if end == 0 {
                        return None;
                    }
                    values.push((name.clone(), rest[..end].to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then(|| Params::from_pairs(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIGHTS: &str = "smartylighting.streetlights.1.0.event.{streetlightId}.lighting.measured";

    #[test]
    fn a_parameter_becomes_a_pattern_and_comes_back_from_the_topic() {
        let t = KafkaTopic::parse(LIGHTS).expect("parse");
        assert_eq!(
            t.subscription(),
            r"^smartylighting\.streetlights\.1\.0\.event\.[A-Za-z0-9_-]+\.lighting\.measured$"
        );
        let topic = t.topic(&[("streetlightId", "lamp-7")]).expect("topic");
        assert_eq!(
            topic,
            "smartylighting.streetlights.1.0.event.lamp-7.lighting.measured"
        );
        let p = t.matches(&topic).expect("matches");
        assert_eq!(p.get("streetlightId"), Some("lamp-7"));
        assert!(
            t.matches("smartylighting.streetlights.1.0.event.a.b.lighting.measured")
                .is_none()
        );
        assert!(
            t.matches("smartylighting.streetlights.1.0.event..lighting.measured")
                .is_none()
        );
    }

    #[test]
    fn values_that_would_change_the_topic_are_refused() {
        let t = KafkaTopic::parse(LIGHTS).expect("parse");
        for v in ["", "a.b", "a/b", "ä", "a b"] {
            assert!(
                matches!(
                    t.topic(&[("streetlightId", v)]),
                    Err(KafkaTopicError::Value { .. })
                ),
                "{v:?}"
            );
        }
        assert_eq!(
            t.topic(&[]),
            Err(KafkaTopicError::Missing("streetlightId".into()))
        );
    }

    #[test]
    fn addresses_that_cannot_be_topics_are_refused() {
        for a in ["", "a/b", "{a}{b}", "x.{a}y", "{", "a}", "x.{}"] {
            assert!(KafkaTopic::parse(a).is_err(), "{a:?}");
        }
        let plain = KafkaTopic::parse("orders").expect("parse");
        assert!(!plain.has_params());
        assert_eq!(plain.subscription(), "orders");
        assert!(plain.matches("orders").is_some());
        assert!(plain.matches("orders2").is_none());
    }
}
