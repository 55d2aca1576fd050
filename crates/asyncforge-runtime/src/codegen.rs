//! Everything generated code uses, in one place: `use asyncforge_runtime::codegen::*;`.

pub use serde::{self, Deserialize, Serialize};
pub use serde_json::{self, Map, Value};
pub use std::collections::BTreeMap;

pub use super::codec::{Codec, CodecError};
pub use super::message::{Correlation, CorrelationKey, Message};
pub use super::types::{Date, DateTime, Uuid, strict};
