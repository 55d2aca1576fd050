//! The state of a connection that keeps itself up: a WebSocket client (`ws::client`), an SSE
//! stream (`sse::client`) and an MQTT client (`mqtt`) report the same [`State`], published by
//! their connection task on a `tokio::sync::watch` channel.

use tokio::sync::watch;

/// The state of a client's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not connected yet, reconnecting, or (MQTT) waiting for the subscriptions to be
    /// acknowledged; `attempt` counts failed attempts since the last success.
    Connecting {
        /// Failed attempts so far.
        attempt: u32,
    },
    /// Connected (and subscribed); `generation` counts successful connections (1 for the
    /// first).
    Connected {
        /// Successful connections so far.
        generation: u64,
    },
    /// Connected, but not reading (WebSocket): the application's queue of received events is
    /// full and `Overflow::Wait` holds the next event until the application takes one
    /// (replies wait behind it too). Back to `Connected` once the event is queued.
    Stalled {
        /// Successful connections so far.
        generation: u64,
    },
    /// The server refused the connection with a 4xx status (WebSocket upgrade), which is not
    /// retried.
    Refused {
        /// HTTP status.
        status: u16,
        /// The response body (the server's reason).
        reason: String,
    },
    /// Stopped: closed by the application, given up after the backoff's attempt limit, or
    /// ended by the server (an SSE `204 No Content`).
    Closed,
}

/// Waits until the state satisfies `f`; [`State::Closed`] once the connection task is gone.
pub(crate) async fn wait_for(
    mut state: watch::Receiver<State>,
    f: impl Fn(&State) -> bool,
) -> State {
    match state.wait_for(|s| f(s)).await {
        Ok(s) => s.clone(),
        Err(_) => State::Closed,
    }
}
