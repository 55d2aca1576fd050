//! A WebSocket data frame, shared by the server (`ws`) and client (`ws-client`) sides.

/// A data frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame (JSON and other text content types).
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}
