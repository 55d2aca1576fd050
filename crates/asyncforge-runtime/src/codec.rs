//! Encoding and decoding payloads; the content type decides the codec.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// No codec handles this content type.
    #[error("no codec for content type `{0}`")]
    Unsupported(String),
    /// The bytes are not valid for the message type.
    #[error("cannot decode {content_type} payload: {source}")]
    Decode {
        /// Content type that was decoded.
        content_type: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// The value could not be encoded.
    #[error("cannot encode {content_type} payload: {source}")]
    Encode {
        /// Content type that was encoded.
        content_type: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

/// A payload codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// JSON (`application/json`, `*+json`, and documents without a content type).
    Json,
    /// UTF-8 text (`text/*`), for payloads that are strings.
    Text,
}

impl Codec {
    /// The codec for a content type (`None`: AsyncAPI's default, JSON).
    pub fn for_content_type(content_type: Option<&str>) -> Result<Codec, CodecError> {
        let Some(ct) = content_type else {
            return Ok(Codec::Json);
        };
        // Compared without allocating: this runs for every message encoded or decoded (and
        // the usual content type is settled before anything is split).
        if ct == "application/json" {
            return Ok(Codec::Json);
        }
        let essence = ct.split(';').next().unwrap_or(ct).trim();
        if essence.eq_ignore_ascii_case("application/json")
            || ends_with_ignore_case(essence, "+json")
            || essence.eq_ignore_ascii_case("text/json")
        {
            Ok(Codec::Json)
        } else if starts_with_ignore_case(essence, "text/") {
            Ok(Codec::Text)
        } else {
            Err(CodecError::Unsupported(ct.to_owned()))
        }
    }

    /// Encodes a value.
    pub fn encode<T: Serialize>(self, value: &T) -> Result<Vec<u8>, CodecError> {
        match self {
            Codec::Json => serde_json::to_vec(value).map_err(|source| CodecError::Encode {
                content_type: "application/json".into(),
                source,
            }),
            Codec::Text => match serde_json::to_value(value) {
                Ok(serde_json::Value::String(s)) => Ok(s.into_bytes()),
                Ok(other) => Ok(other.to_string().into_bytes()),
                Err(source) => Err(CodecError::Encode {
                    content_type: "text/plain".into(),
                    source,
                }),
            },
        }
    }

    /// Decodes bytes into a value.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, CodecError> {
        match self {
            Codec::Json => serde_json::from_slice(bytes).map_err(|source| CodecError::Decode {
                content_type: "application/json".into(),
                source,
            }),
            Codec::Text => {
                let text = String::from_utf8_lossy(bytes).into_owned();
                serde_json::from_value(serde_json::Value::String(text)).map_err(|source| {
                    CodecError::Decode {
                        content_type: "text/plain".into(),
                        source,
                    }
                })
            }
        }
    }
}

/// `s` ends with `suffix`, ASCII case ignored.
pub(crate) fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// `s` starts with `prefix`, ASCII case ignored.
pub(crate) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_choose_codecs() {
        assert_eq!(Codec::for_content_type(None).ok(), Some(Codec::Json));
        assert_eq!(
            Codec::for_content_type(Some("application/cloudevents+json; charset=utf-8")).ok(),
            Some(Codec::Json)
        );
        assert_eq!(
            Codec::for_content_type(Some("text/plain")).ok(),
            Some(Codec::Text)
        );
        assert!(Codec::for_content_type(Some("application/avro")).is_err());
        assert_eq!(
            Codec::for_content_type(Some(" Application/JSON ")).ok(),
            Some(Codec::Json)
        );
        assert_eq!(
            Codec::for_content_type(Some("TEXT/plain; charset=utf-8")).ok(),
            Some(Codec::Text)
        );
        assert!(Codec::for_content_type(Some("json")).is_err());
    }

    #[test]
    fn json_round_trip() {
        let bytes = Codec::Json.encode(&vec![1, 2]).expect("encode");
        let back: Vec<i32> = Codec::Json.decode(&bytes).expect("decode");
        assert_eq!(back, vec![1, 2]);
        assert!(Codec::Json.decode::<Vec<i32>>(b"{").is_err());
    }
}
