//! What every generated message type implements.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{Codec, CodecError};
use super::types::Uuid;

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

    /// The correlation id as the message's type holds it. Generated for messages whose
    /// [`Message::CORRELATION_POINTER`] names a member of the payload struct typed as a
    /// string, UUID, integer, boolean or string enum; other messages keep
    /// [`Correlation::Unknown`] and their id is read from the encoded payload.
    fn correlation(&self) -> Correlation {
        Correlation::Unknown
    }

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

/// The key a correlation id is matched by: a string as it is (no JSON escaping), anything else
/// as its JSON text, the two kinds told apart (`"42"` and `42` differ, as they should). A UUID
/// is its lowercase hyphenated text, as it is encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CorrelationKey {
    /// A string id.
    Text(String),
    /// Any other id, as JSON text.
    Json(String),
}

impl CorrelationKey {
    /// The key of a correlation id value (`null` included; callers treat it as no id).
    pub fn of_value(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::String(s) => CorrelationKey::Text(s.clone()),
            other => CorrelationKey::Json(other.to_string()),
        }
    }

    /// The id as text: a string id as it is, any other as its JSON text.
    pub fn as_str(&self) -> &str {
        match self {
            CorrelationKey::Text(s) | CorrelationKey::Json(s) => s,
        }
    }
}

/// A correlation id as a message's type holds it (see [`Message::correlation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlation {
    /// The message carries this id.
    Id(CorrelationKey),
    /// The message carries no id (the member is absent or `null`).
    Unset,
    /// The type does not hold the id in a member of its own: read it from the encoded
    /// payload.
    Unknown,
}

impl Correlation {
    /// The key of the id: the type's, or, when the type does not hold it, that of the value
    /// `read` finds in the encoded payload.
    pub fn key_or_read(
        self,
        read: impl FnOnce() -> Option<serde_json::Value>,
    ) -> Option<CorrelationKey> {
        match self {
            Correlation::Id(key) => Some(key),
            Correlation::Unset => None,
            Correlation::Unknown => read().map(|v| CorrelationKey::of_value(&v)),
        }
    }

    /// The correlation of a payload member holding the id.
    pub fn of<F: CorrelationField + ?Sized>(field: &F) -> Self {
        match field.correlation_key() {
            Some(key) => Correlation::Id(key),
            None => Correlation::Unset,
        }
    }
}

/// A payload member type a correlation id can be read from without encoding the payload: its
/// key is the one [`CorrelationKey::of_value`] gives for its JSON encoding.
pub trait CorrelationField {
    /// The key of the id; `None` when unset.
    fn correlation_key(&self) -> Option<CorrelationKey>;
}

impl CorrelationField for String {
    fn correlation_key(&self) -> Option<CorrelationKey> {
        Some(CorrelationKey::Text(self.clone()))
    }
}

impl CorrelationField for str {
    fn correlation_key(&self) -> Option<CorrelationKey> {
        Some(CorrelationKey::Text(self.to_owned()))
    }
}

impl CorrelationField for Uuid {
    fn correlation_key(&self) -> Option<CorrelationKey> {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        Some(CorrelationKey::Text(
            self.hyphenated().encode_lower(&mut buf).to_owned(),
        ))
    }
}

impl CorrelationField for bool {
    fn correlation_key(&self) -> Option<CorrelationKey> {
        Some(CorrelationKey::Json(self.to_string()))
    }
}

macro_rules! integer_fields {
    ($($t:ty),*) => {$(
        impl CorrelationField for $t {
            fn correlation_key(&self) -> Option<CorrelationKey> {
                Some(CorrelationKey::Json(self.to_string()))
            }
        }
    )*};
}

integer_fields!(i32, i64, u32, u64);

impl<T: CorrelationField + ?Sized> CorrelationField for &T {
    fn correlation_key(&self) -> Option<CorrelationKey> {
        (**self).correlation_key()
    }
}

impl<T: CorrelationField> CorrelationField for Option<T> {
    fn correlation_key(&self) -> Option<CorrelationKey> {
        self.as_ref()?.correlation_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A member's key is the key of its JSON encoding, so a request keyed from its type finds
    /// a reply keyed from the bytes of a frame, and the other way round.
    #[test]
    fn typed_keys_are_the_keys_of_their_encoding() {
        fn same<T: CorrelationField + serde::Serialize>(v: T) {
            let encoded = serde_json::to_value(&v).unwrap();
            assert_eq!(
                v.correlation_key(),
                Some(CorrelationKey::of_value(&encoded)),
                "{encoded}"
            );
        }
        same("req-1".to_owned());
        same("with \"quotes\" and \\".to_owned());
        same(Uuid::from_u128(0x6f9619ff_8b86_d011_b42d_00cf4fc964ff));
        same(true);
        same(-42i32);
        same(i64::MIN);
        same(u32::MAX);
        same(u64::MAX);
        same(Some(7u64));
        same("borrowed");
        assert_eq!(None::<String>.correlation_key(), None);
        assert_eq!(Correlation::of(&None::<Uuid>), Correlation::Unset);
        assert_eq!(
            Correlation::of(&Some(3i64)),
            Correlation::Id(CorrelationKey::Json("3".into()))
        );
        // A string and a number with the same text are different ids.
        assert_ne!(
            CorrelationKey::of_value(&json!("42")),
            CorrelationKey::of_value(&json!(42))
        );
        assert_eq!(CorrelationKey::of_value(&json!(42)).as_str(), "42");
    }
}
