//! What a generated handler method gets, whatever the protocol: one [`Received`] with the
//! typed message, the channel's typed parameters, and what the protocol says about the
//! delivery.
//!
//! | protocol | `params` | `meta` |
//! |---|---|---|
//! | WebSocket | `&P`, from the connection's path | `&Session<P, Q>`: connection id, upgrade headers, typed query, the hub |
//! | SSE (a `POST`) | `P`, from the path | `HeaderMap`: the request's headers |
//! | HTTP webhook | `()` | `http::receiver::Inbound`: webhook id, signed timestamp, headers |
//! | MQTT | `P`, from the topic | `mqtt::Inbound`: topic, QoS, retain, MQTT 5 properties, and the client it came on |
//! | Kafka | `P`, from the topic | `kafka::Inbound<K>`: the typed key and the record (partition, offset, headers, attempt) |
//!
//! What a handler returns is the same everywhere too: `Ok` (with the reply, for a request), or
//! a [`Reject`](crate::outcome::Reject).

/// A received message: the typed message, the channel's typed parameters (`()` when its
/// address has none) and the protocol's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received<M, P, D> {
    /// The message, decoded and checked against its schema.
    pub message: M,
    /// The channel's parameters.
    pub params: P,
    /// What the protocol says about the delivery (see the table in [`received`](self)).
    pub meta: D,
}

impl<M, P, D> Received<M, P, D> {
    /// The message, without the rest.
    pub fn into_message(self) -> M {
        self.message
    }

    /// The same delivery with the message turned into another type (a message set's enum into
    /// one of its messages, say).
    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> Received<N, P, D> {
        Received {
            message: f(self.message),
            params: self.params,
            meta: self.meta,
        }
    }
}
