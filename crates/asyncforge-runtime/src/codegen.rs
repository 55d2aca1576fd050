//! Everything generated code uses, in one place: generated modules glob-import this module
//! from their crate's `runtime` (this crate re-exported under that name, or a copy of it).

pub use serde::{self, Deserialize, Serialize};
pub use serde_json::{self, Map, Value};
pub use std::collections::BTreeMap;

pub use super::codec::{Codec, CodecError};
pub use super::message::{Correlation, CorrelationKey, Message};
pub use super::types::{Date, DateTime, Uuid, strict};
