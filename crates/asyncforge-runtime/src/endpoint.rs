//! What generated servers and clients share to turn frames and requests into typed messages
//! (feature `validate`): decoding a frame into the first message whose schema it satisfies,
//! encoding a message into the frame its content type calls for, and checking the query and
//! headers of a request against the binding's schemas.

use serde_json::{Map, Value};

use super::codec::{Codec, CodecError};
use super::frame::Frame;
use super::message::{Correlation, CorrelationKey, Message};
use super::validate::{Invalid, SchemaCheck};

pub use super::outcome::Reject;

/// The member of a refusal frame that names the operation of the request it answers.
pub const REFUSED_OPERATION: &str = "operation";

/// A refusal as the peer receives it: a text frame `{"error": reason}`. One that answers a
/// request also names the request's operation (`"operation": "ping"`) and carries the request's
/// correlation id where the request's message keeps it (`"requestId": …` for
/// `$message.payload#/requestId`), so the peer completes that request with the refusal rather
/// than taking it for an event. What a handler's [`Reject`] becomes on a WebSocket.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    reason: String,
    answers: Option<Answer>,
}

/// The request a refusal answers.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    operation: &'static str,
    /// The request's correlation id and where its message keeps it.
    id: Option<(&'static str, Value)>,
}

impl From<Reject> for Refusal {
    fn from(reject: Reject) -> Self {
        Refusal::new(reject.reason())
    }
}

impl Refusal {
    /// A refusal that answers no request.
    pub fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
            answers: None,
        }
    }

    /// Why the message was refused.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The operation of the request it answers, if any.
    pub fn operation(&self) -> Option<&'static str> {
        self.answers.as_ref().map(|a| a.operation)
    }

    /// The frame the peer gets: `{"error": …}`, then `"operation"` and the correlation id when
    /// it answers a request (`error` first, so a peer tells a refusal by its first member).
    /// An id whose place is `error` or `operation` itself is left out.
    pub fn to_frame(&self) -> Frame {
        let mut out = String::with_capacity(self.reason.len() + 64);
        out.push_str("{\"error\":");
        out.push_str(&Value::String(self.reason.clone()).to_string());
        if let Some(answer) = &self.answers {
            out.push_str(",\"operation\":");
            out.push_str(&Value::String(answer.operation.to_owned()).to_string());
            if let Some((pointer, id)) = &answer.id
                && let Some((key, value)) = nested(pointer, id)
                && key != "error"
                && key != REFUSED_OPERATION
            {
                out.push(',');
                out.push_str(&Value::String(key).to_string());
                out.push(':');
                out.push_str(&value.to_string());
            }
        }
        out.push('}');
        Frame::Text(out)
    }
}

/// The first member name of a JSON pointer and the value that holds `id` at the rest of it
/// (`/meta/id` → `meta`, `{"id": …}`); `None` for the empty pointer.
fn nested(pointer: &str, id: &Value) -> Option<(String, Value)> {
    let mut names = pointer
        .strip_prefix('/')?
        .split('/')
        .map(|n| n.replace("~1", "/").replace("~0", "~"));
    let first = names.next()?;
    let rest: Vec<String> = names.collect();
    let value = rest.into_iter().rev().fold(id.clone(), |inner, name| {
        let mut m = Map::new();
        m.insert(name, inner);
        Value::Object(m)
    });
    Some((first, value))
}

/// A refusal the peer sent (see [`Refusal`]), as [`Incoming::refusal_report`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRefusal {
    /// The peer's reason.
    pub reason: String,
    /// The operation of the request it answers (`None`: it answers no request).
    pub operation: Option<String>,
}

/// A JSON error response: `{"error": message}`.
#[cfg(any(feature = "ws", feature = "sse", feature = "http"))]
pub fn error_response(
    status: axum::http::StatusCode,
    message: impl std::fmt::Display,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({ "error": message.to_string() }).to_string();
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The response to a refused request: `422` for [`Reject::invalid`], `500` (to retry) for
/// [`Reject::failed`], with `{"error": reason}`.
#[cfg(any(feature = "ws", feature = "sse", feature = "http"))]
pub fn reject_response(reject: &Reject) -> axum::response::Response {
    let status = match reject.kind() {
        crate::outcome::RejectKind::Invalid => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        crate::outcome::RejectKind::Failed => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_response(status, reject.reason())
}

/// Whether a content type is carried in text frames (JSON and other text types).
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return true;
    };
    use super::codec::{ends_with_ignore_case, starts_with_ignore_case};
    let base = ct.split(';').next().unwrap_or_default().trim();
    base.eq_ignore_ascii_case("application/json")
        || ends_with_ignore_case(base, "+json")
        || starts_with_ignore_case(base, "text/")
        || base.eq_ignore_ascii_case("application/xml")
        || ends_with_ignore_case(base, "+xml")
}

/// Whether a content type is JSON (validated against the schema before decoding).
#[inline]
pub fn is_json(content_type: Option<&str>) -> bool {
    // The usual answers without parsing (folded away where the content type is a constant,
    // as a message type's is).
    match content_type {
        None | Some("application/json") => true,
        _ => Codec::for_content_type(content_type).is_ok_and(|c| c == Codec::Json),
    }
}

/// A JSON payload decoded straight into `M`'s type when that type enforces the whole schema
/// (`check` says so): whatever the type decodes, the schema accepts, so there is no `Value`
/// and no schema pass. `None` when the type does not enforce it or refuses the bytes.
pub(crate) fn decoded_by_type<M: Message>(bytes: &[u8], check: &SchemaCheck) -> Option<M> {
    if !check.enforced_by_type() {
        return None;
    }
    serde_json::from_slice::<M::Payload>(bytes)
        .ok()
        .map(M::from_payload)
}

/// Something an endpoint sends: one message type, or a generated enum of the messages of an
/// operation.
pub trait Outgoing {
    /// The message's name (the SSE event name).
    fn name(&self) -> &'static str;
    /// Its content type (`None`: JSON).
    fn content_type(&self) -> Option<&'static str>;
    /// Where its correlation id is in the payload.
    fn correlation_pointer(&self) -> Option<&'static str>;
    /// Its encoded payload.
    fn to_bytes(&self) -> Result<Vec<u8>, CodecError>;
    /// Its correlation id as its type holds it (see [`Message::correlation`]).
    fn typed_correlation(&self) -> Correlation {
        Correlation::Unknown
    }
    /// Its payload as a JSON value when it is a JSON message and can say so without encoding
    /// and parsing it back (`None`: use [`Outgoing::to_bytes`]). Message types do; generated
    /// enums of several messages keep the default.
    fn to_json_value(&self) -> Option<Value> {
        None
    }
}

impl<M: Message> Outgoing for M {
    fn name(&self) -> &'static str {
        M::NAME
    }
    fn content_type(&self) -> Option<&'static str> {
        M::CONTENT_TYPE
    }
    fn correlation_pointer(&self) -> Option<&'static str> {
        M::CORRELATION_POINTER
    }
    fn to_bytes(&self) -> Result<Vec<u8>, CodecError> {
        self.encode()
    }
    fn typed_correlation(&self) -> Correlation {
        self.correlation()
    }
    fn to_json_value(&self) -> Option<Value> {
        if !is_json(M::CONTENT_TYPE) {
            return None;
        }
        serde_json::to_value(self.payload()).ok()
    }
}

/// The bytes of an outgoing message; a reply gets the request's correlation id filled in
/// where its own is missing.
pub fn outgoing_bytes<O: Outgoing + ?Sized>(
    message: &O,
    correlation: Option<&Value>,
) -> Result<Vec<u8>, CodecError> {
    let (Some(pointer), Some(id)) = (message.correlation_pointer(), correlation) else {
        return message.to_bytes();
    };
    if !is_json(message.content_type()) {
        return message.to_bytes();
    }
    let typed = message.typed_correlation();
    if matches!(typed, Correlation::Id(_)) {
        return message.to_bytes();
    }
    let parsed = |bytes: Vec<u8>| serde_json::from_slice::<Value>(&bytes).map_err(|_| bytes);
    let unset = matches!(typed, Correlation::Unset);
    let mut value = if let Some(v) = unset.then(|| message.to_json_value()).flatten() {
        // The type says the id is missing: fill it in without encoding the payload first.
        v
    } else if let Some(key) = top_level_key(pointer) {
        // The usual case, a member of the payload object: the encoded bytes say whether it is
        // set without building a `Value` of the whole payload.
        let bytes = message.to_bytes()?;
        match top_level_member::<serde::de::IgnoredAny>(&bytes, &key) {
            Some(Some(_)) | None => return Ok(bytes),
            Some(None) => match parsed(bytes) {
                Ok(v) => v,
                Err(bytes) => return Ok(bytes),
            },
        }
    } else if let Some(v) = message.to_json_value() {
        v
    } else {
        match parsed(message.to_bytes()?) {
            Ok(v) => v,
            Err(bytes) => return Ok(bytes),
        }
    };
    if value.pointer(pointer).is_some_and(|v| !v.is_null()) {
        return message.to_bytes();
    }
    fill_correlation(&mut value, pointer, id);
    serde_json::to_vec(&value).map_err(|source| CodecError::Encode {
        content_type: message
            .content_type()
            .unwrap_or("application/json")
            .to_owned(),
        source,
    })
}

/// The correlation id of an outgoing message (the value at its correlation pointer).
pub fn outgoing_correlation<O: Outgoing + ?Sized>(message: &O) -> Option<Value> {
    message.correlation_pointer()?;
    correlation_in(message, &message.to_bytes().ok()?)
}

/// Encodes an outgoing request into one frame (as [`outgoing_frame`] does without a
/// correlation to fill in) with the key of its correlation id: from the message's type where
/// it holds the id in a member of its own, else read from the encoded bytes (the message is
/// encoded once either way).
pub fn request_frame<O: Outgoing + ?Sized>(
    message: &O,
) -> Result<(Frame, Option<CorrelationKey>), CodecError> {
    let bytes = message.to_bytes()?;
    let id = message
        .typed_correlation()
        .key_or_read(|| correlation_in(message, &bytes));
    Ok((bytes_frame(bytes, message.content_type()), id))
}

/// The value at `message`'s correlation pointer in its encoded `bytes` (JSON only; a member
/// of the top-level object is read without building a `Value` of the rest).
fn correlation_in<O: Outgoing + ?Sized>(message: &O, bytes: &[u8]) -> Option<Value> {
    let pointer = message.correlation_pointer()?;
    if !is_json(message.content_type()) {
        return None;
    }
    if let Some(key) = top_level_key(pointer) {
        return top_level_member(bytes, &key).flatten();
    }
    let mut value: Value = serde_json::from_slice(bytes).ok()?;
    value
        .pointer_mut(pointer)
        .filter(|v| !v.is_null())
        .map(Value::take)
}

/// One frame for encoded bytes: text for text content types (that are UTF-8), else binary.
fn bytes_frame(bytes: Vec<u8>, content_type: Option<&str>) -> Frame {
    if !is_text(content_type) {
        return Frame::Binary(bytes);
    }
    match String::from_utf8(bytes) {
        Ok(s) => Frame::Text(s),
        Err(e) => Frame::Binary(e.into_bytes()),
    }
}

/// The member name of a JSON pointer of one segment (`/requestId` → `requestId`).
fn top_level_key(pointer: &str) -> Option<std::borrow::Cow<'_, str>> {
    let key = pointer.strip_prefix('/')?;
    if key.contains('/') {
        None
    } else if key.contains('~') {
        Some(key.replace("~1", "/").replace("~0", "~").into())
    } else {
        Some(key.into())
    }
}

/// The member `key` of the JSON object in `bytes`, read without building the rest:
/// `Some(Some(value))` when set, `Some(None)` when absent or `null`, `None` when `bytes` is
/// not a JSON object (or the member not a `T`; `IgnoredAny` only asks whether it is set). A
/// key given twice counts once, the last time (as when parsing into a `Value`).
///
/// Callers hold valid JSON (an encoder's output, or a frame that decoded): the member is
/// found by a scan of the bytes that checks their structure but not every literal, and the
/// full parse below runs only where the scan cannot tell (a member name with an escape).
fn top_level_member<T: serde::de::DeserializeOwned>(bytes: &[u8], key: &str) -> Option<Option<T>> {
    match scan::member(bytes, key.as_bytes()) {
        Ok(None) => Some(None),
        Ok(Some(raw)) => serde_json::from_slice::<Option<T>>(raw).ok(),
        Err(scan::Unsure) => parsed_member(bytes, key),
    }
}

/// [`top_level_member`] by a full parse.
fn parsed_member<T: serde::de::DeserializeOwned>(bytes: &[u8], key: &str) -> Option<Option<T>> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
    use std::fmt;

    struct Member<'k, T>(&'k str, std::marker::PhantomData<T>);
    struct KeyIs<'k>(&'k str);

    impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeyIs<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a member name")
        }
        fn visit_str<E>(self, v: &str) -> Result<bool, E> {
            Ok(v == self.0)
        }
    }

    impl<'de, T: serde::de::DeserializeOwned> Visitor<'de> for Member<'_, T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
            let mut found = None;
            while let Some(matches) = map.next_key_seed(KeyIs(self.0))? {
                if matches {
                    // `null` is `None`, as an absent member.
                    found = map.next_value::<Option<T>>()?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(bytes);
    let member = de
        .deserialize_map(Member(key, std::marker::PhantomData))
        .ok()?;
    de.end().ok()?;
    Some(member)
}

/// A scan for one member of a JSON object, for [`top_level_member`].
mod scan {
    /// The scan cannot tell (not an object, a member name with an escape, bytes that end
    /// early or do not have JSON's structure).
    #[derive(Debug, PartialEq, Eq)]
    pub struct Unsure;

    fn ws(b: &[u8], mut i: usize) -> usize {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
            i += 1;
        }
        i
    }

    /// Past the string that starts at `i` (its opening quote).
    fn string(b: &[u8], i: usize) -> Result<usize, Unsure> {
        let mut j = i + 1;
        loop {
            let k = memchr::memchr2(b'"', b'\\', b.get(j..).ok_or(Unsure)?).ok_or(Unsure)?;
            if b[j + k] == b'"' {
                return Ok(j + k + 1);
            }
            j += k + 2;
        }
    }

    /// Past the value that starts at `i`.
    fn value(b: &[u8], i: usize) -> Result<usize, Unsure> {
        match b.get(i).ok_or(Unsure)? {
            b'"' => string(b, i),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut j = i;
                loop {
                    match b.get(j).ok_or(Unsure)? {
                        b'"' => {
                            j = string(b, j)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Ok(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
            }
            b',' | b'}' | b']' | b':' => Err(Unsure),
            _ => {
                let n = b[i..]
                    .iter()
                    .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                    .ok_or(Unsure)?;
                Ok(i + n)
            }
        }
    }

    /// The raw text of member `key` of the object in `b` (the last one when repeated), or
    /// `None` when it has none.
    pub fn member<'a>(b: &'a [u8], key: &[u8]) -> Result<Option<&'a [u8]>, Unsure> {
        let mut i = ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return Err(Unsure);
        }
        i = ws(b, i + 1);
        let mut found = None;
        if b.get(i) == Some(&b'}') {
            return end(b, i, found);
        }
        loop {
            if b.get(i) != Some(&b'"') {
                return Err(Unsure);
            }
            let after = string(b, i)?;
            let name = &b[i + 1..after - 1];
            if name.contains(&b'\\') {
                return Err(Unsure);
            }
            i = ws(b, after);
            if b.get(i) != Some(&b':') {
                return Err(Unsure);
            }
            let start = ws(b, i + 1);
            let stop = value(b, start)?;
            if name == key {
                found = Some(&b[start..stop]).filter(|raw| *raw != b"null");
            }
            i = ws(b, stop);
            match b.get(i) {
                Some(b',') => i = ws(b, i + 1),
                Some(b'}') => return end(b, i, found),
                _ => return Err(Unsure),
            }
        }
    }

    /// Only white space may follow the object's closing brace at `i`.
    fn end<'a>(b: &'a [u8], i: usize, found: Option<&'a [u8]>) -> Result<Option<&'a [u8]>, Unsure> {
        if ws(b, i + 1) == b.len() {
            Ok(found)
        } else {
            Err(Unsure)
        }
    }
}

/// The frame of a handler's reply, `checked` against its schema (outgoing checks): a reply
/// that breaks its schema or does not encode is refused as [`Reject::failed`] (the server's
/// fault, not the request's).
pub fn reply_frame<O: Outgoing + ?Sized>(
    reply: &O,
    checked: Result<(), Invalid>,
    correlation: Option<&Value>,
) -> Result<Frame, Reject> {
    checked.map_err(|e| Reject::failed(format!("the reply breaks its schema: {e}")))?;
    outgoing_frame(reply, correlation).map_err(|e| Reject::failed(format!("the reply: {e}")))
}

/// Encodes an outgoing message into one frame: text for text content types, binary
/// otherwise; `correlation` is filled in as [`outgoing_bytes`] does.
pub fn outgoing_frame<O: Outgoing + ?Sized>(
    message: &O,
    correlation: Option<&Value>,
) -> Result<Frame, CodecError> {
    let bytes = outgoing_bytes(message, correlation)?;
    Ok(bytes_frame(bytes, message.content_type()))
}

/// Encodes a message into one frame: text for text content types, binary otherwise.
pub fn encode_frame<M: Message>(message: &M) -> Result<Frame, CodecError> {
    Ok(bytes_frame(message.encode()?, M::CONTENT_TYPE))
}

/// Puts `id` at `pointer` in `payload` when it is absent or `null` there, so a handler need
/// not copy the request's correlation id into its reply. Only fills a member of an existing
/// object.
pub fn fill_correlation(payload: &mut Value, pointer: &str, id: &Value) {
    if payload.pointer(pointer).is_some_and(|v| !v.is_null()) {
        return;
    }
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    if let Some(Value::Object(m)) = payload.pointer_mut(parent) {
        m.insert(key, id.clone());
    }
}

/// The JSON value of a message's payload.
pub fn to_value<M: Message>(message: &M) -> Result<Value, CodecError> {
    serde_json::to_value(message.payload()).map_err(|source| CodecError::Encode {
        content_type: M::CONTENT_TYPE.unwrap_or("application/json").to_owned(),
        source,
    })
}

/// Encodes a JSON value as a text frame.
pub fn value_frame(value: &Value) -> Frame {
    Frame::Text(value.to_string())
}

/// The bytes of a frame.
pub fn frame_bytes(frame: &Frame) -> &[u8] {
    match frame {
        Frame::Text(t) => t.as_bytes(),
        Frame::Binary(b) => b,
    }
}

/// Tries the messages an endpoint accepts, in order, and remembers why each one did not fit.
///
/// A JSON frame is parsed once; each candidate's schema is checked against it and the first
/// that fits is decoded. Candidates with a non-JSON content type are decoded from the bytes.
#[derive(Debug)]
pub struct Incoming<'a> {
    bytes: &'a [u8],
    value: Option<Result<Value, String>>,
    misses: Vec<(&'static str, String)>,
}

impl<'a> Incoming<'a> {
    /// Starts decoding a frame or a request body.
    pub fn new(bytes: &'a [u8]) -> Self {
        Incoming {
            bytes,
            value: None,
            misses: Vec::new(),
        }
    }

    /// The frame parsed as JSON (parsed once).
    pub fn value(&mut self) -> Result<&Value, String> {
        let bytes = self.bytes;
        let v = self.value.get_or_insert_with(|| {
            serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))
        });
        v.as_ref().map_err(Clone::clone)
    }

    /// Decodes the frame as `M` if it satisfies `check` (JSON) or decodes (other content
    /// types); otherwise records why not and returns `None`.
    pub fn try_message<M: Message>(&mut self, check: &SchemaCheck) -> Option<M> {
        if !is_json(M::CONTENT_TYPE) {
            return match M::decode(self.bytes) {
                Ok(m) => Some(m),
                Err(e) => {
                    self.misses.push((M::NAME, e.to_string()));
                    None
                }
            };
        }
        if let Some(m) = decoded_by_type::<M>(self.bytes, check) {
            // A frame the type refuses goes on below, for the schema's account of why.
            return Some(m);
        }
        let value = match self.value() {
            Ok(v) => v,
            Err(e) => {
                self.misses.push((M::NAME, e));
                return None;
            }
        };
        if let Err(e) = check.check(value) {
            self.misses.push((M::NAME, e.to_string()));
            return None;
        }
        // Deserialized from the parsed value in place (no copy of it).
        match <M::Payload as serde::Deserialize>::deserialize(value) {
            Ok(p) => Some(M::from_payload(p)),
            Err(e) => {
                self.misses.push((M::NAME, e.to_string()));
                None
            }
        }
    }

    /// The value at a correlation id pointer (`None` when absent, `null`, or not JSON).
    pub fn correlation(&mut self, pointer: Option<&str>) -> Option<Value> {
        let pointer = pointer?;
        if self.value.is_none()
            && let Some(key) = top_level_key(pointer)
        {
            // Not parsed yet (the message was decoded straight from its bytes): read the one
            // member.
            return top_level_member::<Value>(self.bytes, &key).flatten();
        }
        let v = self.value().ok()?;
        v.pointer(pointer).filter(|v| !v.is_null()).cloned()
    }

    /// The key of the correlation id of `message`, decoded from this frame: from the message's
    /// type where it holds the id in a member of its own (a UUID member compares as a UUID,
    /// whatever the case of its hex digits), else read from the frame.
    pub fn correlation_key<M: Message>(&mut self, message: &M) -> Option<CorrelationKey> {
        message
            .correlation()
            .key_or_read(|| self.correlation(M::CORRELATION_POINTER))
    }

    /// The id to fill into `reply`, a reply to this frame (a request whose correlation id is
    /// at `request_pointer`): `None` when the reply's type shows it carries an id of its own
    /// (the frame is then not read), else the request's id exactly as the peer wrote it.
    pub fn id_for_reply<O: Outgoing + ?Sized>(
        &mut self,
        reply: &O,
        request_pointer: Option<&str>,
    ) -> Option<Value> {
        if matches!(reply.typed_correlation(), Correlation::Id(_)) {
            return None;
        }
        self.correlation(request_pointer)
    }

    /// The peer's error report (`{"error": "…"}`, with or without the request it answers),
    /// if the frame is one.
    pub fn error_report(&mut self) -> Option<String> {
        self.refusal_report().map(|r| r.reason)
    }

    /// The peer's refusal, if the frame is one: an object whose string member `error` stands
    /// alone, or comes with the string member `operation` (and the request's correlation id)
    /// when it answers a request (see [`Refusal`]). A message that merely has an `error`
    /// member among others is not a refusal.
    pub fn refusal_report(&mut self) -> Option<PeerRefusal> {
        if self.value.is_none() && !may_be_error_report(self.bytes) {
            return None;
        }
        let Value::Object(m) = self.value().ok()? else {
            return None;
        };
        let reason = m.get("error")?.as_str()?.to_owned();
        if m.len() == 1 {
            return Some(PeerRefusal {
                reason,
                operation: None,
            });
        }
        let operation = m.get(REFUSED_OPERATION)?.as_str()?.to_owned();
        Some(PeerRefusal {
            reason,
            operation: Some(operation),
        })
    }

    /// The key of the correlation id a refusal from the peer carries: the first found at the
    /// places `pointers` name (those of the refused operation's messages).
    pub fn refused_id(&mut self, pointers: &[Option<&str>]) -> Option<CorrelationKey> {
        pointers
            .iter()
            .find_map(|p| self.correlation(*p))
            .map(|v| CorrelationKey::of_value(&v))
    }

    /// The refusal of a request this frame carries, which the handler of `operation`
    /// rejected: it carries the request's correlation id from `pointer`.
    pub fn refuse(
        &mut self,
        reject: Reject,
        operation: &'static str,
        pointer: Option<&'static str>,
    ) -> Refusal {
        let id = pointer.and_then(|p| Some((p, self.correlation(Some(p))?)));
        Refusal {
            reason: reject.reason().to_owned(),
            answers: Some(Answer { operation, id }),
        }
    }

    /// Why no candidate fit ([`Incoming::rejection`]), as the refusal the peer gets.
    /// `requests` are the request/reply operations the endpoint receives, each with the
    /// correlation id locations of its messages: the refusal answers the first whose id the
    /// frame carries. When the endpoint receives nothing but one such operation (`sole`), every
    /// frame is one of its requests, so the refusal answers it even without an id.
    pub fn refusal(
        mut self,
        requests: &[(&'static str, &[Option<&'static str>])],
        sole: bool,
    ) -> Refusal {
        let mut answers = None;
        'ops: for (operation, pointers) in requests {
            for pointer in pointers.iter().flatten() {
                if let Some(id) = self.correlation(Some(pointer)) {
                    answers = Some(Answer {
                        operation,
                        id: Some((*pointer, id)),
                    });
                    break 'ops;
                }
            }
        }
        if answers.is_none()
            && sole
            && let [(operation, _)] = requests
        {
            answers = Some(Answer {
                operation,
                id: None,
            });
        }
        Refusal {
            reason: self.rejection(),
            answers,
        }
    }

    /// Why no candidate fit, for the peer and the log.
    pub fn rejection(self) -> String {
        if let Some(Err(e)) = &self.value
            && self.misses.iter().all(|(_, m)| m == e)
        {
            return e.clone();
        }
        match self.misses.as_slice() {
            [] => "no message of this channel is accepted here".to_owned(),
            [(name, why)] => format!("invalid `{name}` message: {why}"),
            many => {
                let parts: Vec<String> = many
                    .iter()
                    .map(|(name, why)| format!("`{name}`: {why}"))
                    .collect();
                format!("the message matches none of: {}", parts.join(" | "))
            }
        }
    }
}

/// Whether `bytes` can be an object whose first member is `error` (an error report has that
/// member only): a frame that starts otherwise is not parsed to find out. A first name with
/// an escape in it is parsed.
fn may_be_error_report(bytes: &[u8]) -> bool {
    let Some(rest) = bytes.trim_ascii_start().strip_prefix(b"{") else {
        return false;
    };
    let Some(name) = rest.trim_ascii_start().strip_prefix(b"\"") else {
        return false;
    };
    let end = name.iter().position(|&b| b == b'"').unwrap_or(name.len());
    let name = &name[..end];
    name == b"error" || name.contains(&b'\\')
}

/// How a query parameter's text is turned into JSON before the binding's schema checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// Kept as a string.
    String,
    /// Parsed as an integer (kept as a string if it is not one, for the schema to reject).
    Integer,
    /// Parsed as a number.
    Number,
    /// `true` or `false`.
    Boolean,
}

/// A request part's text (query parameter, header) as the JSON value its schema expects:
/// numbers and booleans parsed when they parse, anything else kept as a string (for the
/// schema to report).
pub fn scalar(text: &str, kind: Scalar) -> Value {
    let parsed = match kind {
        Scalar::String => None,
        Scalar::Integer => text.parse::<i64>().ok().map(Value::from),
        Scalar::Number => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        Scalar::Boolean => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}

/// A query string as a JSON object: `kinds` says which parameters are not strings; a
/// parameter given twice becomes an array.
pub fn query_object(raw: Option<&str>, kinds: &[(&str, Scalar)]) -> Value {
    let mut out = Map::new();
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k);
        let v = percent_decode(v);
        let kind = kinds
            .iter()
            .find(|(n, _)| *n == k)
            .map_or(Scalar::String, |(_, t)| *t);
        let v = scalar(&v, kind);
        match out.get_mut(&k) {
            Some(Value::Array(a)) => a.push(v),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, v]);
            }
            None => {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The headers a binding's schema names, as a JSON object keyed by the schema's spelling
/// (header names compare case-insensitively); headers the schema does not name are left out.
pub fn headers_object<'h>(names: &[&str], get: impl Fn(&str) -> Option<&'h str>) -> Value {
    let mut out = Map::new();
    for name in names {
        if let Some(v) = get(name) {
            out.insert((*name).to_owned(), Value::String(v.to_owned()));
        }
    }
    Value::Object(out)
}

/// Checks a request part (query, headers) against its schema and deserializes it.
pub fn typed_part<T: serde::de::DeserializeOwned>(
    what: &str,
    value: Value,
    check: &SchemaCheck,
) -> Result<T, String> {
    check
        .check(&value)
        .map_err(|e: Invalid| format!("{what}: {e}"))?;
    serde_json::from_value(value).map_err(|e| format!("{what}: {e}"))
}

/// Logs a message or event that matched nothing the endpoint expects (it is dropped).
pub fn unmatched(why: &str) {
    tracing::debug!(%why, "message dropped");
}

/// The error for a parameter missing from a path.
pub fn missing_parameter(name: &str) -> String {
    format!("parameter `{name}` is missing")
}

/// Checks a channel parameter's value.
pub fn parameter(name: &str, value: &str, check: Option<&SchemaCheck>) -> Result<String, String> {
    if let Some(check) = check {
        check
            .check(&Value::String(value.to_owned()))
            .map_err(|e| format!("parameter `{name}` = `{value}`: {e}"))?;
    }
    Ok(value.to_owned())
}

/// Fills an address template (`rooms/{roomId}`) with parameter values. Values are
/// percent-encoded where they would change the address's shape (`/`, `?`, `#`, `%`, space).
pub fn fill_address(template: &str, params: &[(&str, &str)]) -> String {
    fill(template, params, |c| {
        matches!(c, '/' | '?' | '#' | '%' | ' ' | '+' | '&')
    })
}

/// Fills a path template (`/v1/accounts/{accountId}`) with parameter values, each
/// percent-encoded (UTF-8, upper-case hex) except for the characters RFC 3986 leaves
/// unreserved (`A-Z a-z 0-9 - . _ ~`). This is the one form of a concrete path: an HTTP
/// resource store keys by it (from the parameters of the request, decoded, then encoded this
/// way) and clients request it, so `zahlung-ü1`, `a/b`, `50%` or `"<x>"` name the same
/// resource through the typed API and over HTTP.
pub fn encode_path(template: &str, params: &[(&str, &str)]) -> String {
    fill(template, params, |c| {
        !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
    })
}

fn fill(template: &str, params: &[(&str, &str)], escape: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &rest[start + 1..start + len];
        match params.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                for c in v.chars() {
                    if escape(c) {
                        let mut buf = [0u8; 4];
                        for b in c.encode_utf8(&mut buf).bytes() {
                            out.push_str(&format!("%{b:02X}"));
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
            None => out.push_str(&rest[start..start + len + 1]),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// A query string for a JSON object (a typed query serialized with serde): scalars as text,
/// arrays as repeated parameters, `null` left out.
pub fn query_string(value: &Value) -> String {
    let Value::Object(m) = value else {
        return String::new();
    };
    let mut parts = Vec::new();
    let mut push = |k: &str, v: &Value| {
        let text = match v {
            Value::Null => return,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        parts.push(format!(
            "{}={}",
            encode_component(k),
            encode_component(&text)
        ));
    };
    for (k, v) in m {
        match v {
            Value::Array(items) => items.iter().for_each(|i| push(k, i)),
            other => push(k, other),
        }
    }
    parts.join("&")
}

fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_become_typed_json() {
        let q = query_object(
            Some("nick=ann%20b&history=5&flag=true&x=1&x=2&bad=%zz"),
            &[("history", Scalar::Integer), ("flag", Scalar::Boolean)],
        );
        assert_eq!(
            q,
            json!({"nick": "ann b", "history": 5, "flag": true, "x": ["1", "2"], "bad": "%zz"})
        );
        assert_eq!(
            query_object(Some("history=ten"), &[("history", Scalar::Integer)]),
            json!({"history": "ten"})
        );
        assert_eq!(query_object(None, &[]), json!({}));
        assert_eq!(query_object(Some("a%"), &[]), json!({"a%": ""}));
    }

    #[test]
    fn addresses_are_filled_and_joined() {
        assert_eq!(
            fill_address("rooms/{id}/x", &[("id", "a/b c")]),
            "rooms/a%2Fb%20c/x"
        );
        assert_eq!(fill_address("a/{missing}", &[]), "a/{missing}");
        assert_eq!(fill_address("a/{open", &[("open", "x")]), "a/{open");
        assert_eq!(
            encode_path(
                "/v1/t/{id}/lock",
                &[("id", "zahlung-ü1 \"<a>\" 50%/x~._-Z9")]
            ),
            "/v1/t/zahlung-%C3%BC1%20%22%3Ca%3E%22%2050%25%2Fx~._-Z9/lock"
        );
        assert_eq!(
            query_string(&json!({"nick": "a b&c", "n": 3, "none": null, "tags": ["x", "y"]})),
            "nick=a%20b%26c&n=3&tags=x&tags=y"
        );
    }

    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct Reply {
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        meta: serde_json::Map<String, Value>,
    }

    impl Message for Reply {
        type Payload = Reply;
        const NAME: &'static str = "reply";
        const CONTENT_TYPE: Option<&'static str> = Some("application/json");
        const CORRELATION_POINTER: Option<&'static str> = Some("/requestId");
        fn payload(&self) -> &Reply {
            self
        }
        fn from_payload(payload: Reply) -> Self {
            payload
        }
    }

    /// [`Reply`] as generated code would type it: the id read from its member.
    struct Typed(Reply);

    impl Message for Typed {
        type Payload = Reply;
        const NAME: &'static str = "typed";
        const CONTENT_TYPE: Option<&'static str> = None;
        const CORRELATION_POINTER: Option<&'static str> = Some("/requestId");
        fn correlation(&self) -> Correlation {
            Correlation::of(&self.0.request_id)
        }
        fn payload(&self) -> &Reply {
            &self.0
        }
        fn from_payload(payload: Reply) -> Self {
            Typed(payload)
        }
    }

    struct Nested(Reply);

    impl Outgoing for Nested {
        fn name(&self) -> &'static str {
            "nested"
        }
        fn content_type(&self) -> Option<&'static str> {
            None
        }
        fn correlation_pointer(&self) -> Option<&'static str> {
            Some("/meta/id")
        }
        fn to_bytes(&self) -> Result<Vec<u8>, CodecError> {
            self.0.encode()
        }
    }

    #[test]
    fn replies_get_the_request_correlation_id_where_they_lack_one() {
        let reply = |id: Option<&str>| Reply {
            request_id: id.map(str::to_owned),
            meta: serde_json::Map::new(),
        };
        let id = json!("r-1");
        let bytes = |b: Vec<u8>| serde_json::from_slice::<Value>(&b).unwrap();
        assert_eq!(
            bytes(outgoing_bytes(&reply(None), Some(&id)).unwrap()),
            json!({"requestId": "r-1", "meta": {}})
        );
        assert_eq!(
            bytes(outgoing_bytes(&reply(Some("own")), Some(&id)).unwrap()),
            json!({"requestId": "own", "meta": {}})
        );
        assert_eq!(
            bytes(outgoing_bytes(&reply(None), None).unwrap()),
            json!({"meta": {}})
        );
        assert_eq!(
            outgoing_correlation(&reply(Some("own"))),
            Some(json!("own"))
        );
        assert_eq!(outgoing_correlation(&reply(None)), None);
        // A nested pointer, through an `Outgoing` that is not a message type.
        let mut with_meta = reply(None);
        with_meta.meta.insert("id".into(), Value::Null);
        assert_eq!(
            bytes(outgoing_bytes(&Nested(with_meta), Some(&id)).unwrap()),
            json!({"meta": {"id": "r-1"}})
        );
        let mut set = reply(None);
        set.meta.insert("id".into(), json!(7));
        assert_eq!(outgoing_correlation(&Nested(set.clone())), Some(json!(7)));
        // A request: one encoding gives the frame and the id.
        let (frame, id) = request_frame(&reply(Some("own"))).unwrap();
        assert_eq!(id, Some(CorrelationKey::Text("own".into())));
        assert!(
            matches!(&frame, Frame::Text(t) if bytes(t.clone().into_bytes()) == json!({"requestId": "own", "meta": {}}))
        );
        assert_eq!(request_frame(&reply(None)).unwrap().1, None);
        assert_eq!(
            request_frame(&Nested(set)).unwrap().1,
            Some(CorrelationKey::Json("7".into()))
        );
    }

    #[test]
    fn typed_correlation_ids_are_read_from_the_type_not_the_bytes() {
        let reply = |id: Option<&str>| {
            Typed(Reply {
                request_id: id.map(str::to_owned),
                meta: serde_json::Map::new(),
            })
        };
        let bytes = |b: Vec<u8>| serde_json::from_slice::<Value>(&b).unwrap();
        // A request: the key comes from the member; an unset member is no id.
        let (frame, id) = request_frame(&reply(Some("a\"b"))).unwrap();
        assert_eq!(id, Some(CorrelationKey::Text("a\"b".into())));
        assert_eq!(frame_bytes(&frame), br#"{"requestId":"a\"b","meta":{}}"#);
        assert_eq!(request_frame(&reply(None)).unwrap().1, None);
        // A reply that sets its own id is sent as it is; one without gets the request's.
        let id = json!("r-1");
        assert_eq!(
            bytes(outgoing_bytes(&reply(Some("own")), Some(&id)).unwrap()),
            json!({"requestId": "own", "meta": {}})
        );
        assert_eq!(
            bytes(outgoing_bytes(&reply(None), Some(&id)).unwrap()),
            json!({"requestId": "r-1", "meta": {}})
        );

        // Receiving: the decoded message gives the key.
        let any = SchemaCheck::new("{}");
        let frame = br#"{"requestId":"x-1","meta":{}}"#;
        let mut incoming = Incoming::new(frame);
        let m = incoming.try_message::<Typed>(&any).expect("decodes");
        assert_eq!(
            incoming.correlation_key(&m),
            Some(CorrelationKey::Text("x-1".into()))
        );
        // The same frame decoded by a type that does not hold the id gives the same key.
        let mut incoming = Incoming::new(frame);
        let m = incoming.try_message::<Reply>(&any).expect("decodes");
        assert_eq!(
            incoming.correlation_key(&m),
            Some(CorrelationKey::Text("x-1".into()))
        );
        let mut incoming = Incoming::new(br#"{"meta":{}}"#);
        let m = incoming.try_message::<Typed>(&any).expect("decodes");
        assert_eq!(incoming.correlation_key(&m), None);

        // The id a reply gets: none when the reply's type shows its own, else the request's
        // exactly as the peer wrote it.
        let request = br#"{"requestId":"6F9619FF-8B86-D011-B42D-00CF4FC964FF","meta":{}}"#;
        let mut incoming = Incoming::new(request);
        assert_eq!(
            incoming.id_for_reply(&reply(Some("own")), Some("/requestId")),
            None
        );
        assert_eq!(
            incoming.id_for_reply(&reply(None), Some("/requestId")),
            Some(json!("6F9619FF-8B86-D011-B42D-00CF4FC964FF"))
        );
        let own = Reply {
            request_id: Some("own".into()),
            meta: serde_json::Map::new(),
        };
        // A reply type that does not hold its id: the request's is offered, and the encoder
        // keeps the reply's own.
        assert_eq!(
            incoming.id_for_reply(&own, Some("/requestId")),
            Some(json!("6F9619FF-8B86-D011-B42D-00CF4FC964FF"))
        );
    }

    #[test]
    fn only_frames_that_may_be_error_reports_are_parsed_for_one() {
        for (frame, maybe) in [
            (&br#"{"error":"no"}"#[..], true),
            (br#" { "error" : "no"}"#, true),
            (br#"{"e\u0072ror":"no"}"#, true),
            (br#"{"\u0065rror":"no"}"#, true),
            (br#"{"event":"pong"}"#, false),
            (br#"{"errors":"no"}"#, false),
            (br#"["error"]"#, false),
            (b"{}", false),
            (b"", false),
        ] {
            assert_eq!(
                may_be_error_report(frame),
                maybe,
                "{}",
                String::from_utf8_lossy(frame)
            );
        }
        assert_eq!(
            Incoming::new(br#"{"e\u0072ror":"no"}"#).error_report(),
            Some("no".into())
        );
        assert_eq!(Incoming::new(br#"{"event":"pong"}"#).error_report(), None);
    }

    #[test]
    fn the_member_scan_agrees_with_a_full_parse_and_never_panics() {
        let texts = [
            r#"{"requestId":"a","x":1}"#,
            r#" { "x" : [1, {"requestId": 2}, "]}\""], "requestId" : { "a": [ ] } } "#,
            r#"{"requestId":null}"#,
            r#"{"requestId":1,"requestId":2}"#,
            r#"{"requestId":2,"requestId":null}"#,
            r#"{"a":"\\","requestId":-1.5e3}"#,
            r#"{"a":"\"requestId\":1"}"#,
            r#"{"requestId":true}"#,
            r#"{"nested":{"requestId":1}}"#,
            r#"{}"#,
            r#"{"r\u0065questId":3}"#,
            r#"[{"requestId":1}]"#,
            r#""requestId""#,
            r#"{"requestId":"\u00e9\n"}"#,
        ];
        for text in texts {
            let b = text.as_bytes();
            assert_eq!(
                top_level_member::<Value>(b, "requestId"),
                parsed_member::<Value>(b, "requestId"),
                "{text}"
            );
            // Every prefix and every byte changed: an answer or `Unsure`, never a panic.
            for n in 0..b.len() {
                let _ = scan::member(&b[..n], b"requestId");
                let mut changed = b.to_vec();
                for c in [b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', 0xff] {
                    changed[n] = c;
                    let _ = scan::member(&changed, b"requestId");
                }
            }
        }
    }

    #[test]
    fn top_level_members_are_read_without_a_value() {
        let bytes = br#"{"a": {"requestId": 1}, "requestId": "x", "b": [1, {"c": null}]}"#;
        assert_eq!(
            top_level_member::<Value>(bytes, "requestId"),
            Some(Some(json!("x")))
        );
        assert_eq!(top_level_member::<Value>(bytes, "missing"), Some(None));
        assert_eq!(
            top_level_member::<Value>(br#"{"requestId": null}"#, "requestId"),
            Some(None)
        );
        assert_eq!(
            top_level_member::<Value>(br#"{"r\u0065q": 1, "req": 2}"#, "req"),
            Some(Some(json!(2)))
        );
        assert_eq!(top_level_member::<Value>(b"[1]", "a"), None);
        // Only whether it is set.
        use serde::de::IgnoredAny;
        assert!(matches!(
            top_level_member::<IgnoredAny>(bytes, "requestId"),
            Some(Some(_))
        ));
        assert!(matches!(
            top_level_member::<IgnoredAny>(br#"{"requestId": null}"#, "requestId"),
            Some(None)
        ));
        assert_eq!(top_level_member::<Value>(br#"{"a": 1} x"#, "a"), None);
        assert_eq!(top_level_key("/requestId").as_deref(), Some("requestId"));
        assert_eq!(top_level_key("/a~1b").as_deref(), Some("a/b"));
        assert_eq!(top_level_key("/meta/id"), None);
    }

    #[test]
    fn correlation_ids_are_filled_in() {
        let mut v = json!({"event": "pong"});
        fill_correlation(&mut v, "/reqid", &json!(42));
        assert_eq!(v, json!({"event": "pong", "reqid": 42}));
        fill_correlation(&mut v, "/reqid", &json!(43));
        assert_eq!(v["reqid"], 42);
        let mut nested = json!({"meta": {"id": null}});
        fill_correlation(&mut nested, "/meta/id", &json!("a"));
        assert_eq!(nested, json!({"meta": {"id": "a"}}));
        let mut missing_parent = json!({});
        fill_correlation(&mut missing_parent, "/meta/id", &json!("a"));
        assert_eq!(missing_parent, json!({}));
    }

    #[test]
    fn content_types_choose_frames() {
        assert!(is_text(None));
        assert!(is_text(Some("application/cloudevents+json; charset=utf-8")));
        assert!(is_text(Some("text/plain")));
        assert!(!is_text(Some("application/octet-stream")));
        assert!(is_json(None));
        assert!(!is_json(Some("text/plain")));
    }
}
