//! A message's typed headers (its `headers` schema) as protocol headers: Kafka record headers
//! and MQTT 5 user properties are name/value pairs.
//!
//! Writing: every property of the headers object becomes one pair; a string is sent as it is,
//! `null` is left out, anything else (numbers, booleans, objects) as its JSON text. Reading:
//! the pairs are gathered into an object — each value read as JSON when it is JSON and kept
//! as a string otherwise — and deserialized into the headers type; when that fails because a
//! string that looks like JSON (`"42"`) was meant, every value is tried as a plain string.
//! (Headers mixing such a string with a typed number read neither way: a decode error.)

use serde::Serialize;
use serde_json::Value;

use super::codec::CodecError;

const CONTENT_TYPE: &str = "headers";

/// The pairs for a headers value (which must serialize to an object).
pub(crate) fn to_pairs<H: Serialize + ?Sized>(
    headers: &H,
) -> Result<Vec<(String, String)>, CodecError> {
    let value = serde_json::to_value(headers).map_err(|source| CodecError::Encode {
        content_type: CONTENT_TYPE.into(),
        source,
    })?;
    let Value::Object(map) = value else {
        return Err(CodecError::Encode {
            content_type: CONTENT_TYPE.into(),
            source: serde::ser::Error::custom("headers must be an object"),
        });
    };
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::Null => None,
            Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect())
}

/// The headers value for pairs; `skip` names pairs that are not the message's headers (the
/// transport's own, such as `content-type`), compared without case.
#[cfg(any(feature = "mqtt", feature = "kafka"))]
pub(crate) fn from_pairs<'a, H: serde::de::DeserializeOwned>(
    pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    skip: &[&str],
) -> Result<H, CodecError> {
    let mut pairs = pairs.into_iter().peekable();
    if pairs.peek().is_none() {
        // No headers at all (always so with MQTT 3.1.1): the type decides whether that fits,
        // without building an empty JSON object per message.
        let none = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
            std::iter::empty::<(&str, &str)>(),
        );
        return H::deserialize(none).map_err(|e| CodecError::Decode {
            content_type: CONTENT_TYPE.into(),
            source: <serde_json::Error as serde::de::Error>::custom(e),
        });
    }
    let mut typed = serde_json::Map::new();
    let mut strings = serde_json::Map::new();
    for (k, v) in pairs {
        if skip.iter().any(|s| s.eq_ignore_ascii_case(k)) || typed.contains_key(k) {
            continue;
        }
        let text = String::from_utf8_lossy(v).into_owned();
        let value = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text.clone()));
        typed.insert(k.to_owned(), value);
        strings.insert(k.to_owned(), Value::String(text));
    }
    match serde_json::from_value(Value::Object(typed)) {
        Ok(h) => Ok(h),
        Err(first) => {
            serde_json::from_value(Value::Object(strings)).map_err(|_| CodecError::Decode {
                content_type: CONTENT_TYPE.into(),
                source: first,
            })
        }
    }
}

// Both directions need a broker feature: without one, nothing reads headers back.
#[cfg(all(test, any(feature = "mqtt", feature = "kafka")))]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct H {
        #[serde(rename = "my-app-header", skip_serializing_if = "Option::is_none")]
        n: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    }

    #[test]
    fn headers_go_out_as_pairs_and_come_back() {
        let h = H {
            n: Some(42),
            tag: Some("17".into()),
        };
        let pairs = to_pairs(&h).expect("pairs");
        assert_eq!(
            pairs,
            vec![
                ("my-app-header".to_owned(), "42".to_owned()),
                ("tag".to_owned(), "17".to_owned())
            ]
        );
        let raw: Vec<(&str, &[u8])> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .chain([("content-type", b"application/json".as_slice())])
            .collect();
        // A limitation: a string that looks like JSON beside a typed non-string value reads
        // neither way (all values as JSON, or all as strings), and is reported.
        let back: Result<H, _> = from_pairs(raw.iter().copied(), &["content-type"]);
        assert!(matches!(back, Err(CodecError::Decode { .. })));
        let only_n: H =
            from_pairs([("my-app-header", b"7".as_slice())], &["content-type"]).expect("typed");
        assert_eq!(
            only_n,
            H {
                n: Some(7),
                tag: None
            }
        );
        let only_tag: H = from_pairs([("tag", b"17".as_slice())], &[]).expect("strings");
        assert_eq!(
            only_tag,
            H {
                n: None,
                tag: Some("17".into())
            }
        );
        assert!(to_pairs(&3).is_err());
    }

    #[test]
    fn no_headers_fit_optional_fields_only() {
        let none: H = from_pairs(std::iter::empty(), &[]).expect("all optional");
        assert_eq!(none, H { n: None, tag: None });
        #[derive(Deserialize)]
        struct Required {
            id: String,
        }
        match from_pairs::<Required>(std::iter::empty(), &[]) {
            Err(CodecError::Decode { source, .. }) => {
                assert!(
                    source.to_string().contains("missing field `id`"),
                    "{source}"
                );
            }
            Err(e) => panic!("another error: {e}"),
            Ok(r) => panic!("decoded id {:?} from no headers", r.id),
        }
    }
}
