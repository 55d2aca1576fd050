//! What every generated message type implements.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{Codec, CodecError};

/// A message of the API: a payload type with its name and content type.
pub trait Message: Sized {
    /// The payload type.
    type Payload: Serialize + DeserializeOwned;

    /// The message's key in the specification.
    const NAME: &'static str;
    /// The content type (the document's default applied); `None` means JSON.
    const CONTENT_TYPE: Option<&'static str>;
    /// Where the correlation id is in the payload (a JSON pointer), when the message has one
    /// there (`correlationId.location: $message.payload#/…`).
    const CORRELATION_POINTER: Option<&'static str> = None;

    /// The payload.
    fn payload(&self) -> &Self::Payload;

    /// Builds a message from its payload (headers empty).
    fn from_payload(payload: Self::Payload) -> Self;

    /// Encodes the payload with the codec of the content type.
    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        Codec::for_content_type(Self::CONTENT_TYPE)?.encode(self.payload())
    }

    /// Decodes a payload with the codec of the content type.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let payload = Codec::for_content_type(Self::CONTENT_TYPE)?.decode(bytes)?;
        Ok(Self::from_payload(payload))
    }
}
