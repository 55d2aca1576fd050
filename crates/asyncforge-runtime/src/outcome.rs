//! What a handler returns when it does not handle a received message: one type for every
//! protocol.

use std::fmt;

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
