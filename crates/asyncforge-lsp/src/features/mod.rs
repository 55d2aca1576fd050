//! One module per LSP feature; each request handler is a plain function of the server state
//! and the request's parameters, registered in the dispatch table of `lib.rs`.

pub mod code_action;
pub mod completion;
pub mod diagnostics;
pub mod formatting;
pub mod hover;
pub mod navigation;
pub mod rename;
pub mod symbols;
