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

use crate::address::{Address, AddressError, Params, Part};

/// Longest Kafka topic name.
pub const MAX_TOPIC_LEN: usize = 249;

const WHAT: &str = "a Kafka topic";

/// A channel address as a Kafka topic template, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaTopic {
    address: Address,
}

fn legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

/// The address under the protocol's rules: its text, parameters and pieces.
impl std::ops::Deref for KafkaTopic {
    type Target = Address;

    fn deref(&self) -> &Address {
        &self.address
    }
}

impl fmt::Display for KafkaTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.address.fmt(f)
    }
}

impl KafkaTopic {
    /// Parses an address. Literal text must be legal in a topic name, parameters may not touch
    /// each other, and the text after a parameter must start with `.` (where a value ends).
    pub fn parse(address: &str) -> Result<KafkaTopic, AddressError> {
        let bad = |reason| AddressError::Address {
            address: address.chars().take(300).collect(),
            what: WHAT,
            reason,
        };
        let parsed = Address::parse(address, WHAT)?;
        let mut after_param = false;
        let mut len = 0;
        for part in parsed.parts() {
            match part {
                Part::Literal(text) => {
                    if !text.chars().all(legal) {
                        return Err(bad("it has characters other than [A-Za-z0-9._-]"));
                    }
                    if after_param && !text.starts_with('.') {
                        return Err(bad("the text after a parameter must start with `.`"));
                    }
                    after_param = false;
                    len += text.len();
                }
                Part::Param(_) => {
                    after_param = true;
                    len += 1;
                }
            }
        }
        if len > MAX_TOPIC_LEN {
            return Err(bad("it is longer than 249 characters"));
        }
        if address == "." || address == ".." {
            return Err(bad("`.` and `..` are not topic names"));
        }
        Ok(KafkaTopic { address: parsed })
    }

    /// What a consumer subscribes to: the topic itself, or a `^…$` pattern in which every
    /// parameter is `[A-Za-z0-9_-]+` and every `.` is escaped.
    pub fn subscription(&self) -> String {
        if !self.has_params() {
            return self.address.as_str().to_owned();
        }
        let mut out = String::from("^");
        for p in self.address.parts() {
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
    pub fn topic(&self, values: &[(&str, &str)]) -> Result<String, AddressError> {
        let out = self.address.fill(values, |value| {
            if value.is_empty() {
                Err("it is empty")
            } else if !value.chars().all(value_char) {
                Err("it has characters other than [A-Za-z0-9_-]")
            } else {
                Ok(())
            }
        })?;
        if out.len() > MAX_TOPIC_LEN {
            return Err(AddressError::Value {
                name: String::new(),
                value: out.chars().take(100).collect(),
                reason: "the topic would be longer than 249 characters",
            });
        }
        Ok(out)
    }

    /// Matches a topic; `None` when it does not have this address's shape.
    pub fn matches(&self, topic: &str) -> Option<Params> {
        self.address.matches(topic, |c| !value_char(c))
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
                    Err(AddressError::Value { .. })
                ),
                "{v:?}"
            );
        }
        assert_eq!(
            t.topic(&[]),
            Err(AddressError::Missing("streetlightId".into()))
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
