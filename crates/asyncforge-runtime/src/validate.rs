//! Payload validation (feature `validate`): the constraints serde alone does not check —
//! bounds, lengths, patterns, enums, `const`, formats, `additionalProperties: false` — against
//! the message's JSON Schema, compiled once on first use.
//!
//! Generated code declares one `static` [`SchemaCheck`] per message, with the message's
//! payload schema bundled into one self-contained draft-07 document.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::Value;

/// The most violations reported for one value (the rest are counted).
pub const MAX_REPORTED: usize = 5;

/// One way a value breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the value (empty: the value itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    /// The first violations (at most [`MAX_REPORTED`]).
    pub violations: Vec<Violation>,
    /// How many violations there were in all.
    pub total: usize,
}

impl From<Invalid> for super::error::Error {
    fn from(e: Invalid) -> Self {
        super::error::Error::new(super::error::ErrorKind::Invalid, e)
    }
}

/// A message that breaks its schema can never be handled.
impl From<Invalid> for super::outcome::Reject {
    fn from(e: Invalid) -> Self {
        super::outcome::Reject::invalid(e)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let path = if v.path.is_empty() { "/" } else { &v.path };
            write!(f, "{path}: {}", v.message)?;
        }
        if self.total > self.violations.len() {
            write!(f, " (and {} more)", self.total - self.violations.len())?;
        }
        Ok(())
    }
}

/// A JSON Schema, compiled on first use.
pub struct SchemaCheck {
    source: &'static str,
    by_type: bool,
    compiled: OnceLock<Option<jsonschema::Validator>>,
}

impl fmt::Debug for SchemaCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaCheck")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl SchemaCheck {
    /// A check for a draft-07 schema written as JSON.
    pub const fn new(source: &'static str) -> Self {
        SchemaCheck {
            source,
            by_type: false,
            compiled: OnceLock::new(),
        }
    }

    /// A check for a schema that the generated payload type enforces by itself: whatever
    /// the type decodes, the schema accepts (the generator decided so, see
    /// `asyncforge_codegen::schema_json::enforced_by_type`). A message is then decoded
    /// straight from its bytes; only one the type refuses goes through the schema, for the
    /// report of what is wrong with it.
    pub const fn by_type(source: &'static str) -> Self {
        SchemaCheck {
            source,
            by_type: true,
            compiled: OnceLock::new(),
        }
    }

    /// Whether the generated type enforces the schema by itself ([`SchemaCheck::by_type`]).
    pub fn enforced_by_type(&self) -> bool {
        self.by_type
    }

    /// The schema's JSON text.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Compiles the schema now (a server does it at start-up so the first message is not
    /// slower). `Err` says why the schema cannot be used.
    pub fn compile(&self) -> Result<(), String> {
        let mut error = None;
        self.compiled.get_or_init(|| match compile(self.source) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(error = %e, "a message schema does not compile; its messages are not validated");
                error = Some(e);
                None
            }
        });
        match (error, self.compiled.get()) {
            (Some(e), _) => Err(e),
            (None, Some(None)) => Err("the schema does not compile".to_owned()),
            _ => Ok(()),
        }
    }

    /// Checks a value. A schema that does not compile (logged once) accepts everything.
    pub fn check(&self, value: &Value) -> Result<(), Invalid> {
        let _ = self.compile();
        let Some(Some(validator)) = self.compiled.get() else {
            return Ok(());
        };
        if validator.is_valid(value) {
            return Ok(());
        }
        let mut violations = Vec::new();
        let mut total = 0;
        for e in validator.iter_errors(value) {
            total += 1;
            if violations.len() < MAX_REPORTED {
                violations.push(Violation {
                    path: e.instance_path().to_string(),
                    message: e.to_string(),
                });
            }
        }
        Err(Invalid { violations, total })
    }
}

/// Whether outgoing messages are checked: not decided yet, off, on.
static OUTGOING: AtomicU8 = AtomicU8::new(UNDECIDED);
const UNDECIDED: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

/// The environment variable that turns outgoing checks on (`1`) or off (`0`) for a process
/// that does not decide in code ([`check_outgoing`]).
pub const CHECK_OUTGOING_ENV: &str = "ASYNCFORGE_CHECK_OUTGOING";

/// Turns the checking of outgoing messages against their schemas on or off, for the whole
/// process. Without a call, checks are on in debug builds and off in release builds, unless
/// [`CHECK_OUTGOING_ENV`] says otherwise.
pub fn check_outgoing(on: bool) {
    OUTGOING.store(if on { ON } else { OFF }, Ordering::Relaxed);
}

/// Whether outgoing messages are checked against their schemas (see [`check_outgoing`]).
pub fn outgoing_checked() -> bool {
    match OUTGOING.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => {
            let on = match std::env::var(CHECK_OUTGOING_ENV).as_deref() {
                Ok("1" | "true" | "on") => true,
                Ok("0" | "false" | "off") => false,
                _ => cfg!(debug_assertions),
            };
            // A concurrent `check_outgoing` wins over the default.
            let _ = OUTGOING.compare_exchange(
                UNDECIDED,
                if on { ON } else { OFF },
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            OUTGOING.load(Ordering::Relaxed) == ON
        }
    }
}

impl SchemaCheck {
    /// Checks a message about to be sent against its payload schema, when outgoing checks are
    /// on ([`outgoing_checked`]): `Err` has the same shape as the refusal of an incoming
    /// message, the path of each violation. A schema its type enforces
    /// ([`SchemaCheck::by_type`]) needs no check; a payload that does not encode as JSON is
    /// left to the encoder to report.
    pub fn check_outgoing<M: crate::message::Message>(&self, message: &M) -> Result<(), Invalid> {
        if self.by_type || !outgoing_checked() {
            return Ok(());
        }
        match serde_json::to_value(message.payload()) {
            Ok(value) => self.check(&value),
            Err(_) => Ok(()),
        }
    }

    /// Checks a channel parameter taken from a topic or path, as its typed value (a string,
    /// or the number or boolean it parsed as): `Err` names the parameter, its value and what
    /// is wrong.
    pub fn check_parameter<T: serde::Serialize + fmt::Display>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), String> {
        let json = serde_json::to_value(value)
            .map_err(|e| format!("parameter `{name}` = `{value}`: {e}"))?;
        self.check(&json)
            .map_err(|e| format!("parameter `{name}` = `{value}`: {e}"))
    }
}

fn compile(source: &str) -> Result<jsonschema::Validator, String> {
    let schema: Value = serde_json::from_str(source).map_err(|e| e.to_string())?;
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        // Draft-07 does not define `uuid` (2019-09 does) and the validator ignores it there;
        // AsyncAPI documents use it, and the generated types decode it as a UUID.
        .with_format("uuid", is_uuid)
        .build(&schema)
        .map_err(|e| e.to_string())
}

/// The `uuid` format: the hyphenated form, 8-4-4-4-12 hexadecimal digits (RFC 9562), as
/// `types::strict::uuid` decodes it.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static CHECK: SchemaCheck = SchemaCheck::new(
        r#"{"type":"object","required":["n"],"properties":{"n":{"type":"integer","minimum":1},"s":{"type":"string","maxLength":3,"pattern":"^[a-z]+$"},"at":{"type":"string","format":"date-time"}},"additionalProperties":false}"#,
    );

    #[test]
    fn accepts_valid_and_reports_every_violation() {
        assert!(CHECK.check(&json!({"n": 2, "s": "ab"})).is_ok());
        let e = CHECK
            .check(&json!({"n": 0, "s": "ABCD", "at": "yesterday", "x": 1}))
            .unwrap_err();
        assert_eq!(e.total, 5, "{e}");
        assert_eq!(e.violations.len(), MAX_REPORTED);
        let text = e.to_string();
        assert!(
            text.contains("/n: 0 is less than the minimum of 1"),
            "{text}"
        );
        assert!(text.contains("/at"), "{text}");
        let missing = CHECK.check(&json!({})).unwrap_err();
        assert_eq!(missing.violations[0].path, "");
        assert!(missing.to_string().starts_with("/: "), "{missing}");
    }

    #[test]
    fn parameters_are_checked_as_their_typed_values() {
        static BERTH: SchemaCheck = SchemaCheck::new(r#"{"type":"string","pattern":"^B[0-9]$"}"#);
        static LEVEL: SchemaCheck = SchemaCheck::new(r#"{"type":"integer","maximum":3}"#);
        assert!(BERTH.check_parameter("berth", &"B1").is_ok());
        let e = BERTH.check_parameter("berth", &"x/1").expect_err("pattern");
        assert!(e.starts_with("parameter `berth` = `x/1`: "), "{e}");
        assert!(LEVEL.check_parameter("level", &3i64).is_ok());
        assert!(LEVEL.check_parameter("level", &4i64).is_err());
    }

    #[test]
    fn uuids_are_checked_with_their_path() {
        static IDS: SchemaCheck = SchemaCheck::new(
            r#"{"type":"object","properties":{"id":{"type":"string","format":"uuid"},"list":{"type":"array","items":{"type":"string","format":"uuid"}}}}"#,
        );
        let good = "6F9619FF-8b86-d011-b42d-00cf4fc964ff";
        assert!(IDS.check(&json!({"id": good, "list": [good]})).is_ok());
        for bad in [
            "not-a-uuid",
            "6f9619ff8b86d011b42d00cf4fc964ff",
            "{6f9619ff-8b86-d011-b42d-00cf4fc964ff}",
            "6f9619ff-8b86-d011-b42d-00cf4fc964fg",
            "6f9619ff-8b86-d011-b42d-00cf4fc964f",
            "6f9619ff-8b86-d011-b42d-00cf4fc964ffé",
        ] {
            let e = IDS.check(&json!({"id": bad})).unwrap_err();
            assert_eq!(e.violations[0].path, "/id", "{bad}: {e}");
            assert!(e.to_string().contains("uuid"), "{bad}: {e}");
        }
        let e = IDS.check(&json!({"list": [good, "x"]})).unwrap_err();
        assert_eq!(e.violations[0].path, "/list/1", "{e}");
    }

    #[test]
    fn outgoing_messages_are_checked_unless_turned_off() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Payload {
            n: i64,
        }
        struct Msg(Payload);
        impl crate::message::Message for Msg {
            type Payload = Payload;
            const NAME: &'static str = "msg";
            const CONTENT_TYPE: Option<&'static str> = None;
            fn payload(&self) -> &Payload {
                &self.0
            }
            fn from_payload(payload: Payload) -> Self {
                Msg(payload)
            }
        }
        // Tests run as a debug build: on by default, unless the environment says otherwise.
        if std::env::var_os(CHECK_OUTGOING_ENV).is_none() {
            assert!(outgoing_checked());
        }
        check_outgoing(true);
        let e = CHECK.check_outgoing(&Msg(Payload { n: 0 })).unwrap_err();
        assert_eq!(e.violations[0].path, "/n", "{e}");
        assert!(CHECK.check_outgoing(&Msg(Payload { n: 1 })).is_ok());
        static TYPED: SchemaCheck = SchemaCheck::by_type(r#"{"type":"object","required":["x"]}"#);
        assert!(TYPED.check_outgoing(&Msg(Payload { n: 0 })).is_ok());
        check_outgoing(false);
        assert!(CHECK.check_outgoing(&Msg(Payload { n: 0 })).is_ok());
        check_outgoing(true);
    }

    #[test]
    fn a_broken_schema_is_reported_and_accepts() {
        static BROKEN: SchemaCheck = SchemaCheck::new(r#"{"type": 12}"#);
        assert!(BROKEN.compile().is_err());
        assert!(BROKEN.check(&json!(1)).is_ok());
    }
}
