//! asyncforge's library: the [`Generator`] behind `asyncforge generate rust`, for build scripts
//! and tools, and the document model and validator it reads documents with ([`spec`]).
//!
//! In `build.rs`:
//!
//! ```no_run
//! asyncforge::Generator::new(asyncforge::Settings::build_script())
//!     .generate("asyncapi.yaml")
//!     .expect("asyncforge");
//! ```
//!
//! and at the root of `src/lib.rs`: `include!(concat!(env!("OUT_DIR"), "/asyncforge.rs"));`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod generate;
pub mod remote;
pub mod watch;

pub use asyncforge_codegen::{Engine, Runtime};
pub use asyncforge_spec as spec;
pub use generate::{GenerateError, Generator, Output, Settings};
