//! The contract between a transport and the code generated for it, the same for every
//! protocol: the transport hands each thing it receives to a [`Dispatch`], which decodes it,
//! calls the application's handler and answers `Ok` or a [`Reject`] that says whether the
//! message is worth delivering again.

use std::fmt;
use std::future::Future;

/// What a transport hands what it receives to: the dispatcher generated for a server,
/// subscriber or consumer, which decodes the message, checks it and calls the application.
///
/// | transport | `In` | `R` |
/// |---|---|---|
/// | WebSocket server | `ws::Event<'_>`: a connection opened, a frame, a connection closed | `ws::Refusal` (a `Reject` and the request it answers) |
/// | webhook receiver | `http::receiver::VerifiedRequest<'_>` | `http::receiver::Refusal` (a `Reject` or a duplicate) |
/// | MQTT client | `(mqtt::MqttClient, mqtt::Delivery)`: the delivery and the client it came on | [`Reject`] |
/// | Kafka consumer | `kafka::Record` | [`Reject`] |
pub trait Dispatch<In, R = Reject>: Send + Sync + 'static {
    /// Handles one received thing. `Ok` is what each protocol acknowledges (the table in
    /// [`Reject`] says what a refusal answers).
    fn dispatch(&self, inbound: In) -> impl Future<Output = Result<(), R>> + Send;
}

/// Whether a refused message is worth delivering again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectKind {
    /// The message can never be handled (it breaks a rule of the application): not retried.
    Invalid,
    /// Handling failed this time (a database was down): delivered again where the protocol
    /// can.
    Failed,
}

/// Why a handler did not handle a message. What the peer sees depends on the protocol:
///
/// | protocol | [`Reject::invalid`] | [`Reject::failed`] |
/// |---|---|---|
/// | WebSocket | `{"error": reason}` frame, connection kept | the same |
/// | SSE `POST`, webhook | `422`, not retried | `500`, retried by the sender |
/// | MQTT (QoS 1/2) | acknowledged and dropped | not acknowledged: redelivered |
/// | Kafka | dead-lettered (or skipped), offset committed | retried with backoff |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    kind: RejectKind,
    reason: String,
}

impl Reject {
    /// A message that can never be handled.
    pub fn invalid(reason: impl fmt::Display) -> Self {
        Reject {
            kind: RejectKind::Invalid,
            reason: reason.to_string(),
        }
    }

    /// A message whose handling failed this time.
    pub fn failed(reason: impl fmt::Display) -> Self {
        Reject {
            kind: RejectKind::Failed,
            reason: reason.to_string(),
        }
    }

    /// Whether the message is worth delivering again.
    pub fn kind(&self) -> RejectKind {
        self.kind
    }

    /// Why, as the peer is told.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Whether this is [`RejectKind::Invalid`].
    pub fn is_invalid(&self) -> bool {
        self.kind == RejectKind::Invalid
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Reject {}

/// A payload that does not decode can never be handled.
impl From<super::codec::CodecError> for Reject {
    fn from(e: super::codec::CodecError) -> Self {
        Reject::invalid(e)
    }
}
