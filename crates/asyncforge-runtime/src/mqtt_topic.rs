//! MQTT topics from AsyncAPI channel addresses: `lights/{id}/on` is subscribed as the filter
//! `lights/+/on`, a received topic `lights/42/on` yields the parameter `id = "42"`, and a
//! topic to publish to is built from parameter values that cannot change its shape.
//!
//! Pure logic, no dependencies: the `mqtt` feature builds on it, and generated code may use it
//! alone.
//!
//! Rules (MQTT 3.1.1 §4.7, MQTT 5 §4.7):
//! - a wildcard occupies a whole topic level, so a level that holds a parameter becomes `+`;
//!   one parameter per level at most (`{a}-{b}` could not be split back unambiguously);
//! - the literal parts of an address may not contain `+` or `#`;
//! - a parameter value is never empty and never contains `/`, `+`, `#` or NUL: such a value
//!   would publish to another topic, or to no valid topic at all;
//! - a topic starting with `$` (broker topics such as `$SYS/…`) never matches a template whose
//!   first level is a parameter, as brokers never deliver them to such a filter.

use std::fmt;
use std::str::FromStr;

/// The longest topic MQTT can carry (a two-byte length prefix).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// Why an address, a topic or a parameter value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The channel address cannot be turned into a topic filter.
    #[error("channel address `{address}` is not a usable MQTT topic template: {reason}")]
    Address {
        /// The address.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value for a parameter would change the topic's shape.
    #[error("value {value:?} for parameter `{name}` is not allowed: {reason}")]
    Value {
        /// Parameter name.
        name: String,
        /// The refused value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// No value was given for a parameter.
    #[error("no value for parameter `{0}`")]
    Missing(String),
    /// A value was given for a parameter the address does not have.
    #[error("the address has no parameter `{0}`")]
    Unknown(String),
    /// A topic to publish to is not a valid MQTT topic name.
    #[error("`{topic}` is not a valid topic to publish to: {reason}")]
    Topic {
        /// The topic.
        topic: String,
        /// Why.
        reason: &'static str,
    },
    /// A received parameter value does not parse as the parameter's type.
    #[error("parameter `{name}` = {value:?} is not a valid {ty}")]
    Parse {
        /// Parameter name.
        name: String,
        /// The value found in the topic.
        value: String,
        /// The expected type.
        ty: &'static str,
    },
}

impl From<TopicError> for super::error::Error {
    fn from(e: TopicError) -> Self {
        super::error::Error::new(super::error::ErrorKind::Invalid, e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Literal(String),
    Param {
        prefix: String,
        name: String,
        suffix: String,
    },
}

/// A channel address with `{parameters}`, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTemplate {
    address: String,
    levels: Vec<Level>,
}

impl FromStr for TopicTemplate {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TopicTemplate::parse(s)
    }
}

impl fmt::Display for TopicTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl TopicTemplate {
    /// Parses a channel address such as `smartylighting/streetlights/1/0/event/{id}/lighting/measured`.
    pub fn parse(address: &str) -> Result<TopicTemplate, TopicError> {
        let bad = |reason| TopicError::Address {
            address: address.to_owned(),
            reason,
        };
        if address.is_empty() {
            return Err(bad("it is empty"));
        }
        if address.len() > MAX_TOPIC_LEN {
            return Err(bad("it is longer than 65535 bytes"));
        }
        if address.contains('\0') {
            return Err(bad("it contains NUL"));
        }
        let mut levels = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for level in address.split('/') {
            let Some(open) = level.find('{') else {
                if level.contains('}') {
                    return Err(bad("a `}` without `{`"));
                }
                if level.contains(['+', '#']) {
                    return Err(bad("it contains the wildcard `+` or `#`"));
                }
                levels.push(Level::Literal(level.to_owned()));
                continue;
            };
            let rest = &level[open + 1..];
            let Some(close) = rest.find('}') else {
                return Err(bad("a `{` without `}`"));
            };
            let name = &rest[..close];
            let prefix = &level[..open];
            let suffix = &rest[close + 1..];
            if name.is_empty() {
                return Err(bad("an empty parameter name `{}`"));
            }
            if name.contains('{') {
                return Err(bad("a `{` inside a parameter name"));
            }
            if suffix.contains(['{', '}']) || prefix.contains('}') {
                return Err(bad(
                    "two parameters in one topic level cannot be told apart",
                ));
            }
            if prefix.contains(['+', '#']) || suffix.contains(['+', '#']) {
                return Err(bad("it contains the wildcard `+` or `#`"));
            }
            if names.contains(&name) {
                return Err(bad("a parameter appears twice"));
            }
            names.push(name);
            levels.push(Level::Param {
                prefix: prefix.to_owned(),
                name: name.to_owned(),
                suffix: suffix.to_owned(),
            });
        }
        Ok(TopicTemplate {
            address: address.to_owned(),
            levels,
        })
    }

    /// The address as written.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The parameter names, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.levels.iter().filter_map(|l| match l {
            Level::Param { name, .. } => Some(name.as_str()),
            Level::Literal(_) => None,
        })
    }

    /// Whether the address has parameters.
    pub fn has_params(&self) -> bool {
        self.params().next().is_some()
    }

    /// The subscription filter: every level holding a parameter becomes `+`.
    pub fn filter(&self) -> String {
        let parts: Vec<&str> = self
            .levels
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s.as_str(),
                Level::Param { .. } => "+",
            })
            .collect();
        parts.join("/")
    }

    /// Matches a received topic; `None` if it does not have this template's shape.
    pub fn matches(&self, topic: &str) -> Option<Params> {
        if topic.len() > MAX_TOPIC_LEN {
            return None;
        }
        if topic.starts_with('$') && matches!(self.levels.first(), Some(Level::Param { .. })) {
            return None;
        }
        let mut values = Vec::new();
        let mut parts = topic.split('/');
        for level in &self.levels {
            let part = parts.next()?;
            match level {
                Level::Literal(s) => {
                    if s != part {
                        return None;
                    }
                }
                Level::Param {
                    prefix,
                    name,
                    suffix,
                } => {
                    let value = part
                        .strip_prefix(prefix.as_str())?
                        .strip_suffix(suffix.as_str())?;
                    if value.is_empty() {
                        return None;
                    }
                    values.push((name.clone(), value.to_owned()));
                }
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Params { values })
    }

    /// The concrete topic for parameter values given as `(name, value)` pairs.
    pub fn topic(&self, values: &[(&str, &str)]) -> Result<String, TopicError> {
        for (name, _) in values {
            if !self.params().any(|p| p == *name) {
                return Err(TopicError::Unknown((*name).to_owned()));
            }
        }
        let mut out = String::with_capacity(self.address.len());
        for (i, level) in self.levels.iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            match level {
                Level::Literal(s) => out.push_str(s),
                Level::Param {
                    prefix,
                    name,
                    suffix,
                } => {
                    let value = values
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| *v)
                        .ok_or_else(|| TopicError::Missing(name.clone()))?;
                    check_value(name, value)?;
                    out.push_str(prefix);
                    out.push_str(value);
                    out.push_str(suffix);
                }
            }
        }
        check_publish_topic(&out)?;
        Ok(out)
    }
}

fn check_value(name: &str, value: &str) -> Result<(), TopicError> {
    let bad = |reason| TopicError::Value {
        name: name.to_owned(),
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() {
        return Err(bad("it is empty"));
    }
    if value.contains('/') {
        return Err(bad("it contains the level separator `/`"));
    }
    if value.contains(['+', '#']) {
        return Err(bad("it contains the wildcard `+` or `#`"));
    }
    if value.contains('\0') {
        return Err(bad("it contains NUL"));
    }
    Ok(())
}

/// Checks a topic name to publish to: not empty, no wildcards, no NUL, at most 65535 bytes.
pub fn check_publish_topic(topic: &str) -> Result<(), TopicError> {
    let bad = |reason| TopicError::Topic {
        topic: topic.chars().take(200).collect(),
        reason,
    };
    if topic.is_empty() {
        return Err(bad("it is empty"));
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(bad("it is longer than 65535 bytes"));
    }
    if topic.contains(['+', '#']) {
        return Err(bad("it contains the wildcard `+` or `#`"));
    }
    if topic.contains('\0') {
        return Err(bad("it contains NUL"));
    }
    Ok(())
}

/// Parameter values taken from a received topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: Vec<(String, String)>,
}

impl Params {
    /// Parameters from `(name, value)` pairs (what another transport's topic matcher found).
    pub fn from_pairs(values: Vec<(String, String)>) -> Params {
        Params { values }
    }

    /// The raw value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter parsed as `T` (`u32`, `String`, a generated enum, …).
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<T, TopicError> {
        let value = self
            .get(name)
            .ok_or_else(|| TopicError::Missing(name.to_owned()))?;
        value.parse().map_err(|_| TopicError::Parse {
            name: name.to_owned(),
            value: value.chars().take(200).collect(),
            ty: std::any::type_name::<T>(),
        })
    }

    /// All `(name, value)` pairs, in address order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(a: &str) -> TopicTemplate {
        TopicTemplate::parse(a).expect("valid template")
    }

    #[test]
    fn parameters_become_single_level_wildcards() {
        let tpl = t("smartylighting/streetlights/1/0/event/{streetlightId}/lighting/measured");
        assert_eq!(
            tpl.filter(),
            "smartylighting/streetlights/1/0/event/+/lighting/measured"
        );
        assert_eq!(tpl.params().collect::<Vec<_>>(), vec!["streetlightId"]);
        assert_eq!(t("a/b").filter(), "a/b");
        assert!(!t("a/b").has_params());
        assert_eq!(t("rooms/room-{id}.json").filter(), "rooms/+");
        assert_eq!(t("/leading/{x}").filter(), "/leading/+");
    }

    #[test]
    fn received_topics_yield_typed_parameters() {
        let tpl = t("lights/{id}/zone-{zone}/on");
        let p = tpl.matches("lights/42/zone-east/on").expect("matches");
        assert_eq!(p.get("id"), Some("42"));
        assert_eq!(p.parse::<u32>("id"), Ok(42));
        assert_eq!(p.parse::<String>("zone").as_deref(), Ok("east"));
        assert_eq!(p.len(), 2);
        assert!(matches!(
            p.parse::<u8>("zone"),
            Err(TopicError::Parse { .. })
        ));
        assert!(matches!(p.parse::<u8>("nope"), Err(TopicError::Missing(_))));
    }

    #[test]
    fn topics_of_another_shape_are_rejected() {
        let tpl = t("lights/{id}/on");
        for topic in [
            "lights/42/off",
            "lights/42",
            "lights/42/on/extra",
            "lights//on",
            "light/42/on",
            "",
            "/",
        ] {
            assert_eq!(tpl.matches(topic), None, "{topic}");
        }
        let tpl = t("rooms/room-{id}.json");
        assert_eq!(
            tpl.matches("rooms/room-7.json")
                .and_then(|p| p.parse::<u8>("id").ok()),
            Some(7)
        );
        assert_eq!(tpl.matches("rooms/room-.json"), None);
        assert_eq!(tpl.matches("rooms/suite-7.json"), None);
        // Broker topics never match a leading parameter.
        assert_eq!(t("{a}/b").matches("$SYS/b"), None);
        assert!(t("{a}/b").matches("x/b").is_some());
        // Hostile input: very long topics are refused without work.
        assert_eq!(tpl.matches(&"x/".repeat(40_000)), None);
    }

    #[test]
    fn publish_values_cannot_change_the_topic_shape() {
        let tpl = t("lights/{id}/on");
        assert_eq!(tpl.topic(&[("id", "42")]).as_deref(), Ok("lights/42/on"));
        for bad in ["4/2", "+", "#", "a+b", "", "x\0"] {
            assert!(
                matches!(tpl.topic(&[("id", bad)]), Err(TopicError::Value { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(tpl.topic(&[]), Err(TopicError::Missing("id".into())));
        assert_eq!(
            tpl.topic(&[("id", "1"), ("other", "2")]),
            Err(TopicError::Unknown("other".into()))
        );
        // A built topic matches its own template and gives the value back.
        let topic = tpl.topic(&[("id", "lamp 7 ü")]).expect("topic");
        assert_eq!(
            tpl.matches(&topic)
                .and_then(|p| p.get("id").map(str::to_owned)),
            Some("lamp 7 ü".to_owned())
        );
    }

    #[test]
    fn unusable_addresses_are_refused() {
        for bad in [
            "",
            "a/+/b",
            "a/#",
            "a/{}/b",
            "a/{x",
            "a/x}",
            "a/{x}-{y}",
            "a/{x}/{x}",
            "a/{x}+",
            "a\0b",
        ] {
            assert!(
                matches!(TopicTemplate::parse(bad), Err(TopicError::Address { .. })),
                "{bad:?}"
            );
        }
        assert!(check_publish_topic("a/b").is_ok());
        assert!(check_publish_topic("a/+").is_err());
        assert!(check_publish_topic("").is_err());
        assert!(check_publish_topic(&"a".repeat(MAX_TOPIC_LEN + 1)).is_err());
    }
}
