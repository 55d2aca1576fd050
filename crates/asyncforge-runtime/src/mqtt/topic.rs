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

pub use crate::address::Params;
use crate::address::{Address, AddressError, Part};

/// The longest topic MQTT can carry (a two-byte length prefix).
pub const MAX_TOPIC_LEN: usize = 65_535;

const WHAT: &str = "an MQTT topic template";

/// A channel address as an MQTT topic template, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTemplate {
    address: Address,
}

impl FromStr for TopicTemplate {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TopicTemplate::parse(s)
    }
}

/// The address under the protocol's rules: its text, parameters and pieces.
impl std::ops::Deref for TopicTemplate {
    type Target = Address;

    fn deref(&self) -> &Address {
        &self.address
    }
}

impl fmt::Display for TopicTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.address.fmt(f)
    }
}

impl TopicTemplate {
    /// Parses a channel address such as `smartylighting/streetlights/1/0/event/{id}/lighting/measured`.
    pub fn parse(address: &str) -> Result<TopicTemplate, AddressError> {
        let bad = |reason| AddressError::Address {
            address: address.chars().take(300).collect(),
            what: WHAT,
            reason,
        };
        if address.len() > MAX_TOPIC_LEN {
            return Err(bad("it is longer than 65535 bytes"));
        }
        if address.contains('\0') {
            return Err(bad("it contains NUL"));
        }
        let parsed = Address::parse(address, WHAT)?;
        let mut params_in_level = 0;
        for part in parsed.parts() {
            match part {
                Part::Literal(text) => {
                    if text.contains(['+', '#']) {
                        return Err(bad("it contains the wildcard `+` or `#`"));
                    }
                    if text.contains('/') {
                        params_in_level = 0;
                    }
                }
                Part::Param(_) => {
                    params_in_level += 1;
                    if params_in_level > 1 {
                        return Err(bad(
                            "two parameters in one topic level cannot be told apart",
                        ));
                    }
                }
            }
        }
        Ok(TopicTemplate { address: parsed })
    }

    /// The subscription filter: every level holding a parameter becomes `+`.
    pub fn filter(&self) -> String {
        let levels: Vec<&str> = self
            .address
            .as_str()
            .split('/')
            .map(|level| if level.contains('{') { "+" } else { level })
            .collect();
        levels.join("/")
    }

    /// Matches a received topic; `None` if it does not have this template's shape.
    pub fn matches(&self, topic: &str) -> Option<Params> {
        if topic.len() > MAX_TOPIC_LEN {
            return None;
        }
        if topic.starts_with('$') && matches!(self.address.parts().first(), Some(Part::Param(_))) {
            return None;
        }
        self.address.matches(topic, |c| c == '/')
    }

    /// The concrete topic for parameter values given as `(name, value)` pairs.
    pub fn topic(&self, values: &[(&str, &str)]) -> Result<Topic, AddressError> {
        let topic = self.address.fill(values, check_value)?;
        // The literals were checked by `parse` and the values by `check_value`, so only the
        // length is left (this runs on every publish).
        if topic.is_empty() || topic.len() > MAX_TOPIC_LEN {
            check_publish_topic(&topic)?;
        }
        Ok(Topic {
            name: topic,
            checked: true,
        })
    }
}

/// A topic name to publish to. [`TopicTemplate::topic`] makes checked ones; one made from a
/// `&str` or a `String` is checked when it is published (not empty, no wildcards, no NUL, at
/// most 65535 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    name: String,
    checked: bool,
}

impl Topic {
    /// The topic name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The topic name, owned.
    pub fn into_string(self) -> String {
        self.name
    }

    /// The name, checked for publishing unless it was made checked.
    #[cfg(feature = "mqtt")]
    pub(crate) fn checked(self) -> Result<String, AddressError> {
        if !self.checked {
            check_publish_topic(&self.name)?;
        }
        Ok(self.name)
    }
}

impl std::ops::Deref for Topic {
    type Target = str;

    fn deref(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl From<String> for Topic {
    fn from(name: String) -> Topic {
        Topic {
            name,
            checked: false,
        }
    }
}

impl From<&str> for Topic {
    fn from(name: &str) -> Topic {
        Topic::from(name.to_owned())
    }
}

impl From<&String> for Topic {
    fn from(name: &String) -> Topic {
        Topic::from(name.clone())
    }
}

impl From<&Topic> for Topic {
    fn from(topic: &Topic) -> Topic {
        topic.clone()
    }
}

impl From<Topic> for String {
    fn from(topic: Topic) -> String {
        topic.name
    }
}

fn check_value(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("it is empty");
    }
    // One pass over the bytes: `/`, `+`, `#` and NUL are ASCII, so they never occur inside a
    // multi-byte character. Which one it was is worked out only for the error.
    if value.bytes().any(|c| matches!(c, b'/' | b'+' | b'#' | 0)) {
        return Err(if value.contains('/') {
            "it contains the level separator `/`"
        } else if value.contains(['+', '#']) {
            "it contains the wildcard `+` or `#`"
        } else {
            "it contains NUL"
        });
    }
    Ok(())
}

/// Checks a topic name to publish to: not empty, no wildcards, no NUL, at most 65535 bytes.
pub(crate) fn check_publish_topic(topic: &str) -> Result<(), AddressError> {
    let bad = |reason| AddressError::Topic {
        topic: topic.chars().take(200).collect(),
        reason,
    };
    if topic.is_empty() {
        return Err(bad("it is empty"));
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(bad("it is longer than 65535 bytes"));
    }
    // One pass over the bytes (see `check_value`): this runs on every publish.
    if topic.bytes().any(|c| matches!(c, b'+' | b'#' | 0)) {
        return Err(bad(if topic.contains(['+', '#']) {
            "it contains the wildcard `+` or `#`"
        } else {
            "it contains NUL"
        }));
    }
    Ok(())
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
            Err(AddressError::Parse { .. })
        ));
        assert!(matches!(
            p.parse::<u8>("nope"),
            Err(AddressError::Missing(_))
        ));
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
                matches!(tpl.topic(&[("id", bad)]), Err(AddressError::Value { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(tpl.topic(&[]), Err(AddressError::Missing("id".into())));
        assert_eq!(
            tpl.topic(&[("id", "1"), ("other", "2")]),
            Err(AddressError::Unknown("other".into()))
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
                matches!(TopicTemplate::parse(bad), Err(AddressError::Address { .. })),
                "{bad:?}"
            );
        }
        assert!(check_publish_topic("a/b").is_ok());
        assert!(check_publish_topic("a/+").is_err());
        assert!(check_publish_topic("").is_err());
        assert!(check_publish_topic(&"a".repeat(MAX_TOPIC_LEN + 1)).is_err());
    }
}
