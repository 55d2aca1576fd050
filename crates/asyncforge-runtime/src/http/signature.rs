//! Webhook signatures: Standard Webhooks (the default), GitHub and Stripe styles.
//!
//! | scheme | headers | signed content | encoding | key |
//! |---|---|---|---|---|
//! | [`Scheme::StandardWebhooks`] | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<sig> v1,<sig>` | `id.timestamp.body` | base64 | `whsec_<base64>`, decoded |
//! | [`Scheme::GitHub`] | `X-Hub-Signature-256: sha256=<sig>` (id in `X-GitHub-Delivery`) | `body` | hex | the secret's bytes |
//! | [`Scheme::Stripe`] | `Stripe-Signature: t=<ts>,v1=<sig>,v1=<sig>` | `timestamp.body` | hex | the secret's bytes |
//!
//! All three use HMAC-SHA256. A [`Signer`] holds one or more secrets, newest first: signing
//! emits one signature per secret where the scheme allows several (Standard Webhooks, Stripe),
//! so receivers that know either the old or the new secret accept the message during a
//! rotation; verifying accepts a signature made with any of them. Signatures are compared in
//! constant time (`subtle`). Timestamps outside the tolerance window (default five
//! minutes, either direction) are refused, which bounds replays; GitHub's scheme carries no
//! timestamp, so there only the receiver's idempotency store stops a replay.

use std::fmt;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

type HmacSha256 = Hmac<Sha256>;

/// Default timestamp tolerance: five minutes, as in the Standard Webhooks and Stripe libraries.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Most signatures looked at in one header (bounds the work a hostile request can cause).
const MAX_CANDIDATES: usize = 16;

/// Header names.
pub mod headers {
    /// Standard Webhooks message id.
    pub const WEBHOOK_ID: &str = "webhook-id";
    /// Standard Webhooks timestamp (Unix seconds).
    pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
    /// Standard Webhooks signatures.
    pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
    /// GitHub signature.
    pub const HUB_SIGNATURE_256: &str = "x-hub-signature-256";
    /// GitHub delivery id.
    pub const GITHUB_DELIVERY: &str = "x-github-delivery";
    /// Stripe signature.
    pub const STRIPE_SIGNATURE: &str = "stripe-signature";
    /// The event type: the name of the message a webhook carries (set by the sender; a
    /// receiver taking several messages on one URL dispatches by it).
    pub const WEBHOOK_EVENT: &str = "webhook-event";
    /// Idempotency key (IETF draft `Idempotency-Key` header), sent with GitHub and Stripe styles.
    pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
}

/// A signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Standard Webhooks (<https://www.standardwebhooks.com>): the default.
    #[default]
    StandardWebhooks,
    /// GitHub's `X-Hub-Signature-256`.
    #[serde(rename = "github")]
    GitHub,
    /// Stripe's `Stripe-Signature`.
    Stripe,
}

/// Why a signer could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No secret given.
    #[error("at least one secret is required")]
    None,
    /// A secret is empty.
    #[error("a webhook secret may not be empty")]
    Empty,
    /// A Standard Webhooks secret is not `whsec_` followed by base64.
    #[error("a Standard Webhooks secret is `whsec_` followed by base64")]
    NotWhsec,
    /// A Standard Webhooks secret is shorter than 24 bytes (the specification's minimum).
    #[error("a Standard Webhooks secret must hold 24 to 64 bytes, this one holds {0}")]
    Length(usize),
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is missing.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// A header is not in the scheme's format.
    #[error("malformed header `{0}`")]
    Malformed(&'static str),
    /// The timestamp is older than the tolerance (a replay, or a delayed delivery).
    #[error("timestamp {timestamp} is {age_secs} s old; tolerance is {tolerance_secs} s")]
    TooOld {
        /// The request's timestamp.
        timestamp: i64,
        /// How old it is.
        age_secs: i64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error(
        "timestamp {timestamp} is {ahead_secs} s in the future; tolerance is {tolerance_secs} s"
    )]
    InFuture {
        /// The request's timestamp.
        timestamp: i64,
        /// How far ahead it is.
        ahead_secs: i64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// No signature matches any secret (tampered body or headers, or a wrong secret).
    #[error("no signature matches")]
    NoMatch,
}

/// What a verified request says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The message id (`webhook-id`, `X-GitHub-Delivery`, or `Idempotency-Key`).
    pub id: Option<String>,
    /// The signed timestamp, Unix seconds (none for GitHub).
    pub timestamp: Option<i64>,
}

/// HMAC keys of one scheme, newest first. Debug output never shows them.
#[derive(Clone)]
pub struct Signer {
    scheme: Scheme,
    /// One keyed HMAC state per secret (the key schedule is computed once).
    keys: Vec<HmacSha256>,
    tolerance: Duration,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("scheme", &self.scheme)
            .field("keys", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// Decodes a `whsec_` secret to its key bytes.
pub fn decode_whsec(secret: &str) -> Result<Vec<u8>, SecretError> {
    let b64 = secret.strip_prefix("whsec_").ok_or(SecretError::NotWhsec)?;
    let key = B64.decode(b64).map_err(|_| SecretError::NotWhsec)?;
    if !(24..=64).contains(&key.len()) {
        return Err(SecretError::Length(key.len()));
    }
    Ok(key)
}

/// A new random Standard Webhooks secret (`whsec_` + 30 bytes of base64, from the operating
/// system's random source).
pub fn generate_secret() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    // Drop the version/variant bytes (6 and 8 of each UUID), which are not random.
    let random: Vec<u8> = bytes
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i % 16, 6 | 8))
        .map(|(_, b)| *b)
        .collect();
    format!("whsec_{}", B64.encode(random))
}

impl Signer {
    /// A signer for `scheme` with `secrets`, newest first. Standard Webhooks secrets are
    /// `whsec_<base64>`; GitHub and Stripe secrets are used as their UTF-8 bytes.
    pub fn new<S: AsRef<str>>(scheme: Scheme, secrets: &[S]) -> Result<Signer, SecretError> {
        if secrets.is_empty() {
            return Err(SecretError::None);
        }
        let keys = secrets
            .iter()
            .map(|s| {
                let s = s.as_ref();
                if s.is_empty() {
                    return Err(SecretError::Empty);
                }
                let key = match scheme {
                    Scheme::StandardWebhooks => decode_whsec(s)?,
                    Scheme::GitHub | Scheme::Stripe => s.as_bytes().to_vec(),
                };
                // HMAC takes keys of any length; the error case cannot occur.
                HmacSha256::new_from_slice(&key).map_err(|_| SecretError::Empty)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Signer {
            scheme,
            keys,
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Sets the timestamp tolerance.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Signer {
        self.tolerance = tolerance;
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    fn mac(&self, key: &HmacSha256, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = key.clone();
        for p in parts {
            mac.update(p);
        }
        mac
    }

    /// The signature headers for a message with `id`, sent at `timestamp` (Unix seconds).
    /// The id headers are included (`webhook-id` and `webhook-timestamp`; `X-GitHub-Delivery`
    /// and `Idempotency-Key`; `Idempotency-Key`).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<(HeaderName, HeaderValue)> {
        // The timestamp's header value is also its signed text (one formatting, no `String`).
        let ts_value = HeaderValue::from(timestamp);
        let ts = ts_value.as_bytes();
        let mut out = Vec::with_capacity(3);
        let mut push = |name: &'static str, value: String| {
            // From the `String` itself: no copy.
            if let Ok(v) = HeaderValue::try_from(value) {
                out.push((HeaderName::from_static(name), v));
            }
        };
        match self.scheme {
            Scheme::StandardWebhooks => {
                // One string, no intermediate allocations: `v1,<b64> v1,<b64> …`.
                // Exactly `v1,` + 44 base64 characters per key, spaces between: a `String`
                // whose capacity is its length becomes a header value without a copy.
                let mut sigs = String::with_capacity(self.keys.len() * 48 - 1);
                for k in &self.keys {
                    let tag = self
                        .mac(k, &[id.as_bytes(), b".", ts, b".", body])
                        .finalize()
                        .into_bytes();
                    if !sigs.is_empty() {
                        sigs.push(' ');
                    }
                    sigs.push_str("v1,");
                    B64.encode_string(tag, &mut sigs);
                }
                if let Ok(v) = HeaderValue::from_str(id) {
                    out.push((WEBHOOK_ID, v));
                }
                out.push((WEBHOOK_TIMESTAMP, ts_value));
                if let Ok(v) = HeaderValue::try_from(sigs) {
                    out.push((WEBHOOK_SIGNATURE, v));
                }
            }
            Scheme::GitHub => {
                let tag = self.mac(&self.keys[0], &[body]).finalize().into_bytes();
                push(headers::HUB_SIGNATURE_256, format!("sha256={}", hex(&tag)));
                push(headers::GITHUB_DELIVERY, id.to_owned());
                push(headers::IDEMPOTENCY_KEY, id.to_owned());
            }
            Scheme::Stripe => {
                let mut value = format!("t={timestamp}");
                for k in &self.keys {
                    let tag = self.mac(k, &[ts, b".", body]).finalize().into_bytes();
                    value.push_str(",v1=");
                    value.push_str(&hex(&tag));
                }
                push(headers::STRIPE_SIGNATURE, value);
                push(headers::IDEMPOTENCY_KEY, id.to_owned());
            }
        }
        out
    }

    /// Verifies a request's signature and timestamp against `now` (Unix seconds).
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, VerifyError> {
        match self.scheme {
            Scheme::StandardWebhooks => {
                let id = named(headers, &WEBHOOK_ID, headers::WEBHOOK_ID)?;
                let ts_text = named(headers, &WEBHOOK_TIMESTAMP, headers::WEBHOOK_TIMESTAMP)?;
                let sigs = named(headers, &WEBHOOK_SIGNATURE, headers::WEBHOOK_SIGNATURE)?;
                let ts = parse_ts(ts_text, headers::WEBHOOK_TIMESTAMP)?;
                self.check_time(ts, now)?;
                // Candidates decoded on the stack: a SHA-256 tag is 32 bytes, 44 characters of
                // padded base64; other lengths cannot match and are skipped.
                let mut buf = [Tag([0u8; 33]); MAX_CANDIDATES];
                let mut n = 0;
                for sig in sigs.split(' ').filter_map(|s| s.strip_prefix("v1,")) {
                    if n == MAX_CANDIDATES {
                        break;
                    }
                    if sig.len() == 44 && B64.decode_slice(sig, &mut buf[n].0) == Ok(32) {
                        n += 1;
                    }
                }
                if n == 0 {
                    return Err(VerifyError::Malformed(headers::WEBHOOK_SIGNATURE));
                }
                let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts_text.as_bytes(), b".", body];
                self.match_any(&parts, &buf[..n])?;
                Ok(Verified {
                    id: Some(id.to_owned()),
                    timestamp: Some(ts),
                })
            }
            Scheme::GitHub => {
                let sig = header(headers, headers::HUB_SIGNATURE_256)?;
                let candidate = sig
                    .strip_prefix("sha256=")
                    .and_then(unhex)
                    .ok_or(VerifyError::Malformed(headers::HUB_SIGNATURE_256))?;
                self.match_any(&[body], &[candidate])?;
                let id = header(headers, headers::GITHUB_DELIVERY)
                    .or_else(|_| header(headers, headers::IDEMPOTENCY_KEY))
                    .ok()
                    .map(str::to_owned);
                Ok(Verified {
                    id,
                    timestamp: None,
                })
            }
            Scheme::Stripe => {
                let value = header(headers, headers::STRIPE_SIGNATURE)?;
                let mut ts_text = None;
                let mut candidates = Vec::new();
                for item in value.split(',') {
                    let Some((k, v)) = item.trim().split_once('=') else {
                        return Err(VerifyError::Malformed(headers::STRIPE_SIGNATURE));
                    };
                    match k {
                        "t" if ts_text.is_none() => ts_text = Some(v),
                        "v1" if candidates.len() < MAX_CANDIDATES => {
                            if let Some(c) = unhex(v) {
                                candidates.push(c);
                            }
                        }
                        _ => {}
                    }
                }
                let ts_text = ts_text.ok_or(VerifyError::Malformed(headers::STRIPE_SIGNATURE))?;
                let ts = parse_ts(ts_text, headers::STRIPE_SIGNATURE)?;
                self.check_time(ts, now)?;
                if candidates.is_empty() {
                    return Err(VerifyError::Malformed(headers::STRIPE_SIGNATURE));
                }
                self.match_any(&[ts_text.as_bytes(), b".", body], &candidates)?;
                let id = header(headers, headers::IDEMPOTENCY_KEY)
                    .ok()
                    .map(str::to_owned);
                Ok(Verified {
                    id,
                    timestamp: Some(ts),
                })
            }
        }
    }

    fn check_time(&self, ts: i64, now: i64) -> Result<(), VerifyError> {
        let tol = self.tolerance.as_secs();
        let tol_i = i64::try_from(tol).unwrap_or(i64::MAX);
        let diff = now.saturating_sub(ts);
        if diff > tol_i {
            return Err(VerifyError::TooOld {
                timestamp: ts,
                age_secs: diff,
                tolerance_secs: tol,
            });
        }
        if diff < -tol_i {
            return Err(VerifyError::InFuture {
                timestamp: ts,
                ahead_secs: -diff,
                tolerance_secs: tol,
            });
        }
        Ok(())
    }

    /// Constant-time comparison of every candidate with the MAC of every key; all pairs are
    /// compared (no early exit on a key), so timing reveals neither which key nor which byte.
    fn match_any<C: AsRef<[u8]>>(
        &self,
        parts: &[&[u8]],
        candidates: &[C],
    ) -> Result<(), VerifyError> {
        let mut ok = false;
        for key in &self.keys {
            let tag = self.mac(key, parts).finalize().into_bytes();
            for c in candidates {
                ok |= same_tag(&tag, c.as_ref());
            }
        }
        if ok {
            Ok(())
        } else {
            Err(VerifyError::NoMatch)
        }
    }
}

/// The Standard Webhooks header names, built once.
const WEBHOOK_ID: HeaderName = HeaderName::from_static(headers::WEBHOOK_ID);
const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static(headers::WEBHOOK_TIMESTAMP);
const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static(headers::WEBHOOK_SIGNATURE);

/// Compares a computed tag with a candidate in constant time: every byte is looked at, and
/// only the folded difference meets a branch (through `subtle`'s optimization barrier).
/// Lengths are not secret.
fn same_tag(tag: &[u8], candidate: &[u8]) -> bool {
    if tag.len() != candidate.len() {
        return false;
    }
    let diff = tag.iter().zip(candidate).fold(0u8, |d, (a, b)| d | (a ^ b));
    bool::from(diff.ct_eq(&0))
}

/// A header's text by its prepared name.
fn named<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    text: &'static str,
) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .ok_or(VerifyError::MissingHeader(text))?
        .to_str()
        .map_err(|_| VerifyError::Malformed(text))
}

/// A decoded SHA-256 tag on the stack (with the byte more that base64 asks for while decoding
/// 44 characters).
#[derive(Clone, Copy)]
struct Tag([u8; 33]);

impl AsRef<[u8]> for Tag {
    fn as_ref(&self) -> &[u8] {
        &self.0[..32]
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .ok_or(VerifyError::MissingHeader(name))?
        .to_str()
        .map_err(|_| VerifyError::Malformed(name))
}

fn parse_ts(text: &str, name: &'static str) -> Result<i64, VerifyError> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::Malformed(name));
    }
    text.parse().map_err(|_| VerifyError::Malformed(name))
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 256 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// The current time in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn map(h: Vec<(HeaderName, HeaderValue)>) -> HeaderMap {
        h.into_iter().collect()
    }

    /// The example from the Standard Webhooks specification's test vectors.
    #[test]
    fn standard_webhooks_known_vector() {
        let s = Signer::new(Scheme::StandardWebhooks, &[SECRET]).expect("signer");
        let body = br#"{"test": 2432232314}"#;
        let h = s.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        let sig = h
            .iter()
            .find(|(n, _)| n == "webhook-signature")
            .map(|(_, v)| v.to_str().unwrap_or_default().to_owned());
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        let headers = map(h);
        assert!(s.verify(&headers, body, 1614265330 + 10).is_ok());
        assert_eq!(
            s.verify(&headers, b"{\"test\": 1}", 1614265330),
            Err(VerifyError::NoMatch)
        );
        assert!(matches!(
            s.verify(&headers, body, 1614265330 + 301),
            Err(VerifyError::TooOld { .. })
        ));
        assert!(matches!(
            s.verify(&headers, body, 1614265330 - 301),
            Err(VerifyError::InFuture { .. })
        ));
    }

    #[test]
    fn rotation_signs_with_all_and_verifies_with_any() {
        let old = generate_secret();
        let new = generate_secret();
        assert_ne!(old, new);
        let both = Signer::new(Scheme::StandardWebhooks, &[&new, &old]).expect("signer");
        let only_old = Signer::new(Scheme::StandardWebhooks, &[&old]).expect("signer");
        let only_new = Signer::new(Scheme::StandardWebhooks, &[&new]).expect("signer");
        let h = map(both.sign("m1", 100, b"x"));
        assert!(only_old.verify(&h, b"x", 100).is_ok());
        assert!(only_new.verify(&h, b"x", 100).is_ok());
        let h = map(only_old.sign("m1", 100, b"x"));
        assert!(both.verify(&h, b"x", 100).is_ok());
        let other = Signer::new(Scheme::StandardWebhooks, &[generate_secret()]).expect("s");
        assert_eq!(other.verify(&h, b"x", 100), Err(VerifyError::NoMatch));
    }

    #[test]
    fn github_and_stripe() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        let gh = Signer::new(Scheme::GitHub, &["It's a Secret to Everybody"]).expect("signer");
        let h = map(gh.sign("d1", 0, b"Hello, World!"));
        assert_eq!(
            h.get("x-hub-signature-256").and_then(|v| v.to_str().ok()),
            Some("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        );
        let v = gh.verify(&h, b"Hello, World!", 0).expect("verified");
        assert_eq!(v.id.as_deref(), Some("d1"));
        assert_eq!(
            gh.verify(&h, b"Hello, World?", 0),
            Err(VerifyError::NoMatch)
        );

        let st = Signer::new(Scheme::Stripe, &["whsec_new", "whsec_old"]).expect("signer");
        let h = map(st.sign("e1", 1000, b"{}"));
        let value = h
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(value.starts_with("t=1000,v1="), "{value}");
        assert_eq!(value.matches("v1=").count(), 2);
        let old_only = Signer::new(Scheme::Stripe, &["whsec_old"]).expect("signer");
        assert!(old_only.verify(&h, b"{}", 1100).is_ok());
        assert!(matches!(
            old_only.verify(&h, b"{}", 2000),
            Err(VerifyError::TooOld { .. })
        ));
    }

    #[test]
    fn hostile_headers_are_errors() {
        let s = Signer::new(Scheme::StandardWebhooks, &[SECRET]).expect("signer");
        let mut h = HeaderMap::new();
        assert_eq!(
            s.verify(&h, b"", 0),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        h.insert("webhook-id", HeaderValue::from_static("x"));
        h.insert("webhook-timestamp", HeaderValue::from_static("-5"));
        h.insert("webhook-signature", HeaderValue::from_static("v1,???"));
        assert_eq!(
            s.verify(&h, b"", 0),
            Err(VerifyError::Malformed("webhook-timestamp"))
        );
        h.insert(
            "webhook-timestamp",
            HeaderValue::from_static("99999999999999999999"),
        );
        assert!(s.verify(&h, b"", 0).is_err());
        h.insert("webhook-timestamp", HeaderValue::from_static("0"));
        assert_eq!(
            s.verify(&h, b"", 0),
            Err(VerifyError::Malformed("webhook-signature"))
        );
        let st = Signer::new(Scheme::Stripe, &["k"]).expect("signer");
        let mut h = HeaderMap::new();
        h.insert("stripe-signature", HeaderValue::from_static("garbage"));
        assert!(st.verify(&h, b"", 0).is_err());
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("0aF0"), Some(vec![0x0a, 0xf0]));
        assert!(matches!(
            Signer::new(Scheme::StandardWebhooks, &["whsec_AAAA"]),
            Err(SecretError::Length(3))
        ));
        assert_eq!(
            Signer::new(Scheme::StandardWebhooks, &["plain"]).err(),
            Some(SecretError::NotWhsec)
        );
    }
}
