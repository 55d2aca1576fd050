//! The one error of generated senders, publishers, producers and clients, whatever the
//! protocol.
//!
//! Every transport keeps its own detailed error (`ws::SendError`, `mqtt::MqttError`,
//! `http::ClientError`, …) and converts it into [`Error`], which says what kind of failure it
//! was ([`ErrorKind`]) and keeps the transport's error as its inner error, for
//! [`Error::downcast_ref`] when an application needs the detail.

use std::error::Error as StdError;
use std::fmt;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A message breaks its schema, or cannot be encoded or decoded: sending it again does not
    /// help.
    Invalid,
    /// The peer refused the message or request (a WebSocket refusal frame, an HTTP 4xx, an
    /// MQTT reason code).
    Refused,
    /// A condition on a resource does not hold: it changed (412), a precondition is required
    /// (428), or another holder has it locked.
    Conflict,
    /// The resource does not exist.
    NotFound,
    /// No answer came in time.
    Timeout,
    /// The connection or client is closed.
    Closed,
    /// A queue or limit is full: the message was not taken; try again later.
    Busy,
    /// The configuration cannot be used (an address, a secret, a security scheme).
    Config,
    /// The connection, the broker or the HTTP exchange failed.
    Transport,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Invalid => "invalid message",
            ErrorKind::Refused => "refused by the peer",
            ErrorKind::Conflict => "conflict",
            ErrorKind::NotFound => "not found",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Closed => "closed",
            ErrorKind::Busy => "busy",
            ErrorKind::Config => "configuration",
            ErrorKind::Transport => "transport failure",
        })
    }
}

/// A failure to send, publish, produce or request, of any protocol: its [`ErrorKind`] and the
/// transport's own error. It displays as the transport's error; [`StdError::source`] is that
/// error's source, so a report prints each cause once.
pub struct Error {
    kind: ErrorKind,
    inner: Box<dyn StdError + Send + Sync + 'static>,
}

impl Error {
    /// An error of `kind` caused by `inner` (an error, or a message).
    pub fn new(
        kind: ErrorKind,
        inner: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        Error {
            kind,
            inner: inner.into(),
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The transport's error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }

    /// The transport's error as `T`, when it is one (`ws::SendError`, `mqtt::MqttError`,
    /// `validate::Invalid`, …).
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.inner.downcast_ref::<T>()
    }

    /// The transport's error as `T`, owned, when it is one; else the error back.
    pub fn downcast<T: StdError + Send + Sync + 'static>(self) -> Result<T, Self> {
        if self.inner.is::<T>() {
            let kind = self.kind;
            self.inner
                .downcast::<T>()
                .map(|b| *b)
                .map_err(|inner| Error { kind, inner })
        } else {
            Err(self)
        }
    }

    /// The transport's error, owned.
    pub fn into_inner(self) -> Box<dyn StdError + Send + Sync + 'static> {
        self.inner
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("inner", &self.inner)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.source()
    }
}

impl From<super::codec::CodecError> for Error {
    fn from(e: super::codec::CodecError) -> Self {
        let kind = match e {
            super::codec::CodecError::Unsupported(_) => ErrorKind::Config,
            _ => ErrorKind::Invalid,
        };
        Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_shows_its_inner_error_and_reports_each_cause_once() {
        let e = Error::new(
            ErrorKind::Transport,
            Outer(std::io::Error::other("refused")),
        );
        assert_eq!(e.to_string(), "outer");
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("refused")
        );
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(e.downcast_ref::<Outer>().is_some());
        let e = e
            .downcast::<std::io::Error>()
            .expect_err("not an io::Error");
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(e.downcast::<Outer>().is_ok());
        let plain = Error::new(ErrorKind::Busy, "queue full");
        assert_eq!(plain.to_string(), "queue full");
        assert!(plain.source().is_none());
    }
}
