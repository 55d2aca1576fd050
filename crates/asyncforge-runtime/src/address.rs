//! Channel addresses with `{parameters}`, the part every protocol shares: an address is parsed
//! once into literal text and parameters ([`Address`]), filled in with values to give a
//! concrete address ([`Address::fill`]), and matched against a concrete one to give the values
//! back ([`Address::matches`], [`Params`]). What a value may contain and which literal text is
//! allowed is each protocol's rule on top: MQTT topics (`mqtt::topic`), Kafka topics
//! (`kafka::topic`) and request paths ([`join_path`]).
//!
//! No dependencies: the code generator checks addresses with the same code that generated
//! services run.

use std::fmt;
use std::str::FromStr;

/// Why an address, a concrete address or a parameter value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The channel address cannot be used as a template by this protocol.
    #[error("channel address `{address}` cannot be {what}: {reason}")]
    Address {
        /// The address (cut to 300 characters).
        address: String,
        /// What it was meant to be (`an MQTT topic template`, `a Kafka topic`).
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value for a parameter would change the concrete address's shape.
    #[error("value {value:?} for parameter `{name}` is not allowed: {reason}")]
    Value {
        /// Parameter name (empty when the whole result is refused).
        name: String,
        /// The refused value (cut to 200 characters).
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
    /// A concrete address to send to is not valid for the protocol.
    #[error("`{topic}` is not a valid topic to publish to: {reason}")]
    Topic {
        /// The concrete address (cut to 200 characters).
        topic: String,
        /// Why.
        reason: &'static str,
    },
    /// A received parameter value does not parse as the parameter's type.
    #[error("parameter `{name}` = {value:?} is not a valid {ty}")]
    Parse {
        /// Parameter name.
        name: String,
        /// The value found in the address (cut to 200 characters).
        value: String,
        /// The expected type.
        ty: &'static str,
    },
}

impl From<AddressError> for crate::error::Error {
    fn from(e: AddressError) -> Self {
        crate::error::Error::new(crate::error::ErrorKind::Invalid, e)
    }
}

fn cut(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

/// One piece of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text taken as written.
    Literal(String),
    /// A `{name}` parameter.
    Param(String),
}

/// A channel address parsed into literal text and `{parameters}`: braces balance, a name is
/// not empty, appears once and holds no brace, and two parameters never touch (`{a}{b}` could
/// not be split back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    text: String,
    parts: Vec<Part>,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Address {
    /// Parses `address`; `what` names what it is meant to be in the error
    /// (`"an MQTT topic template"`).
    pub fn parse(address: &str, what: &'static str) -> Result<Address, AddressError> {
        let bad = |reason| AddressError::Address {
            address: cut(address, 300),
            what,
            reason,
        };
        if address.is_empty() {
            return Err(bad("it is empty"));
        }
        let mut parts = Vec::new();
        let mut rest = address;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let Some(end) = after.find('}') else {
                    return Err(bad("a `{` without `}`"));
                };
                let name = &after[..end];
                if name.is_empty() {
                    return Err(bad("an empty parameter name `{}`"));
                }
                if name.contains('{') {
                    return Err(bad("a `{` inside a parameter name"));
                }
                if matches!(parts.last(), Some(Part::Param(_))) {
                    return Err(bad("two parameters touch each other"));
                }
                if parts
                    .iter()
                    .any(|p| matches!(p, Part::Param(n) if n == name))
                {
                    return Err(bad("a parameter appears twice"));
                }
                parts.push(Part::Param(name.to_owned()));
                rest = &after[end + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                let text = &rest[..end];
                if text.contains('}') {
                    return Err(bad("a `}` without `{`"));
                }
                parts.push(Part::Literal(text.to_owned()));
                rest = &rest[end..];
            }
        }
        Ok(Address {
            text: address.to_owned(),
            parts,
        })
    }

    /// The address as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The parameter names, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Param(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Whether the address has parameters.
    pub fn has_params(&self) -> bool {
        self.params().next().is_some()
    }

    /// The concrete address for `(name, value)` pairs. Every name must be a parameter of the
    /// address and every parameter needs a value; `check` says why a value is refused.
    pub fn fill(
        &self,
        values: &[(&str, &str)],
        check: impl Fn(&str) -> Result<(), &'static str>,
    ) -> Result<String, AddressError> {
        if let Some((name, _)) = values.iter().find(|(n, _)| !self.params().any(|p| p == *n)) {
            return Err(AddressError::Unknown((*name).to_owned()));
        }
        let mut out = String::with_capacity(self.text.len() + 16);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Param(name) => {
                    let value = values
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| *v)
                        .ok_or_else(|| AddressError::Missing(name.clone()))?;
                    check(value).map_err(|reason| AddressError::Value {
                        name: name.clone(),
                        value: cut(value, 200),
                        reason,
                    })?;
                    out.push_str(value);
                }
            }
        }
        Ok(out)
    }

    /// Matches a concrete address; `None` when it does not have this address's shape. A value
    /// runs up to the first character `stop` says ends a value, less the text that follows
    /// the parameter up to its own first such character (`room-{id}.json` with `/` as the
    /// stop reads `7` from `room-7.json`); it is never empty.
    pub fn matches(&self, concrete: &str, stop: impl Fn(char) -> bool) -> Option<Params> {
        let mut rest = concrete;
        let mut values = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(text) => rest = rest.strip_prefix(text.as_str())?,
                Part::Param(name) => {
                    let run = &rest[..rest.find(&stop).unwrap_or(rest.len())];
                    let tail = match self.parts.get(i + 1) {
                        Some(Part::Literal(next)) => {
                            &next[..next.find(&stop).unwrap_or(next.len())]
                        }
                        _ => "",
                    };
                    let value = run.strip_suffix(tail)?;
                    if value.is_empty() {
                        return None;
                    }
                    values.push((name.clone(), value.to_owned()));
                    rest = &rest[value.len()..];
                }
            }
        }
        rest.is_empty().then_some(Params { values })
    }
}

/// Parameter values taken from a concrete address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: Vec<(String, String)>,
}

impl Params {
    /// Parameters from `(name, value)` pairs.
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
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<T, AddressError> {
        let value = self
            .get(name)
            .ok_or_else(|| AddressError::Missing(name.to_owned()))?;
        value.parse().map_err(|_| AddressError::Parse {
            name: name.to_owned(),
            value: cut(value, 200),
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

/// Joins a server's pathname and a channel address into a request path (`/ws` + `rooms/1`
/// → `/ws/rooms/1`).
pub fn join_path(pathname: &str, address: &str) -> String {
    let base = pathname.trim_end_matches('/');
    let addr = address.trim_start_matches('/');
    if addr.is_empty() {
        if base.is_empty() {
            "/".to_owned()
        } else {
            base.to_owned()
        }
    } else if base.is_empty() {
        format!("/{addr}")
    } else if base.starts_with('/') {
        format!("{base}/{addr}")
    } else {
        format!("/{base}/{addr}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_literal_text_and_parameters() {
        let a = Address::parse("rooms/{roomId}/seat-{seat}", "a path").expect("parse");
        assert_eq!(a.params().collect::<Vec<_>>(), ["roomId", "seat"]);
        assert_eq!(
            a.fill(&[("roomId", "7"), ("seat", "b")], |_| Ok(()))
                .as_deref(),
            Ok("rooms/7/seat-b")
        );
        let p = a.matches("rooms/7/seat-b", |c| c == '/').expect("matches");
        assert_eq!(p.get("roomId"), Some("7"));
        assert_eq!(p.parse::<String>("seat").as_deref(), Ok("b"));
        assert!(a.matches("rooms//seat-b", |c| c == '/').is_none());
        assert!(a.matches("rooms/7/seat-b/x", |c| c == '/').is_none());
        assert_eq!(
            a.fill(&[("roomId", "7")], |_| Ok(())),
            Err(AddressError::Missing("seat".into()))
        );
        assert_eq!(
            a.fill(&[("roomId", "7"), ("seat", "b"), ("x", "1")], |_| Ok(())),
            Err(AddressError::Unknown("x".into()))
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in ["", "a/{", "a}", "{}", "{a{b}", "{a}{b}", "{a}/{a}"] {
            assert!(
                matches!(
                    Address::parse(bad, "a path"),
                    Err(AddressError::Address { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn paths_join_with_one_slash() {
        assert_eq!(join_path("/ws", "rooms/1"), "/ws/rooms/1");
        assert_eq!(join_path("/ws/", "/"), "/ws");
        assert_eq!(join_path("", "/"), "/");
        assert_eq!(join_path("", "lobby"), "/lobby");
        assert_eq!(join_path("ws", "x"), "/ws/x");
    }
}
