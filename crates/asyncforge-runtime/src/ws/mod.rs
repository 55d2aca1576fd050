//! WebSocket: the server side (feature `ws`, on axum) and the client side (feature
//! `ws-client`, on tokio-tungstenite, in [`client`]).

#[cfg(feature = "ws-client")]
pub mod client;
#[cfg(feature = "ws")]
mod server;

#[cfg(feature = "ws")]
pub use server::*;
