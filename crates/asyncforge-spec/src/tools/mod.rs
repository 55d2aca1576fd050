//! Document tools: `format` (YAML ↔ JSON), `bundle` (one self-contained file) and `convert`
//! (2.x → 3.x).

pub mod bundle;
pub mod emit;
