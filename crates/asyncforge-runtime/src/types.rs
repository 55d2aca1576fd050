//! Well-known types for JSON Schema string formats.
//!
//! | format | type |
//! |---|---|
//! | `date-time` | [`DateTime`] (RFC 3339, written back with `Z` for UTC) |
//! | `date` | [`Date`] (`YYYY-MM-DD`) |
//! | `uuid` | [`Uuid`] |
//! | `uri`, `email`, others | `String` |
//!
//! Decoding is as strict as the formats: a [`DateTime`] or [`Date`] is read only from the
//! text the JSON Schema format accepts (RFC 3339 `date-time` and `full-date`), and
//! [`strict`] holds the decoders generated types use where serde's own are laxer than the
//! schema (a UUID in its hyphenated form only, a string enum from a string only, an optional
//! property that is present and not `null`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use uuid::Uuid;

/// An RFC 3339 timestamp with its UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(pub chrono::DateTime<chrono::FixedOffset>);

impl DateTime {
    /// The current time in UTC.
    pub fn now() -> Self {
        DateTime(chrono::Utc::now().fixed_offset())
    }
}

impl fmt::Display for DateTime {
    /// RFC 3339 as chrono's `to_rfc3339_opts(AutoSi, true)` writes it (fraction in 3, 6 or 9
    /// digits when there is one, `Z` for UTC), without its formatting machinery for the years
    /// 0–9999 (every message with a timestamp writes one).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Offset, Timelike};
        let (d, year) = (self.0, self.0.year());
        let nanos = d.nanosecond();
        let offset = d.offset().fix().local_minus_utc();
        if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 || offset % 60 != 0 {
            return f.write_str(&d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        }
        // Digits and separators into a stack buffer.
        struct Out {
            buf: [u8; 35],
            n: usize,
        }
        impl Out {
            fn byte(&mut self, c: u8) {
                self.buf[self.n] = c;
                self.n += 1;
            }
            fn digits(&mut self, value: u32, width: usize) {
                let mut v = value;
                for i in (0..width).rev() {
                    self.buf[self.n + i] = b'0' + (v % 10) as u8;
                    v /= 10;
                }
                self.n += width;
            }
        }
        let mut out = Out { buf: [0; 35], n: 0 };
        out.digits(year as u32, 4);
        out.byte(b'-');
        out.digits(d.month(), 2);
        out.byte(b'-');
        out.digits(d.day(), 2);
        out.byte(b'T');
        out.digits(d.hour(), 2);
        out.byte(b':');
        out.digits(d.minute(), 2);
        out.byte(b':');
        out.digits(d.second(), 2);
        if nanos != 0 {
            let (value, width) = if nanos % 1_000_000 == 0 {
                (nanos / 1_000_000, 3)
            } else if nanos % 1_000 == 0 {
                (nanos / 1_000, 6)
            } else {
                (nanos, 9)
            };
            out.byte(b'.');
            out.digits(value, width);
        }
        if offset == 0 {
            out.byte(b'Z');
        } else {
            out.byte(if offset < 0 { b'-' } else { b'+' });
            let minutes = offset.unsigned_abs() / 60;
            out.digits(minutes / 60, 2);
            out.byte(b':');
            out.digits(minutes % 60, 2);
        }
        // Only ASCII digits and separators were written.
        f.write_str(std::str::from_utf8(&out.buf[..out.n]).map_err(|_| fmt::Error)?)
    }
}

/// Why a text is not an RFC 3339 timestamp or date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(&'static str);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for FormatError {}

impl FromStr for DateTime {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const NOT: FormatError = FormatError("not an RFC 3339 date-time");
        if !is_date_time(s) {
            return Err(NOT);
        }
        chrono::DateTime::parse_from_rfc3339(s)
            .map(DateTime)
            .map_err(|_| NOT)
    }
}

/// Two ASCII digits as a number.
fn digits2(b: &[u8]) -> Option<u8> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some((a - b'0') * 10 + (c - b'0')),
        _ => None,
    }
}

/// `YYYY-MM-DD` with a day that exists in that month (RFC 3339 `full-date`).
fn is_full_date(s: &[u8]) -> bool {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *s else {
        return false;
    };
    let (Some(hi), Some(lo), Some(month), Some(day)) = (
        digits2(&[y0, y1]),
        digits2(&[y2, y3]),
        digits2(&[m0, m1]),
        digits2(&[d0, d1]),
    ) else {
        return false;
    };
    let year = u32::from(hi) * 100 + u32::from(lo);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let last = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=last).contains(&day)
}

/// RFC 3339 `date-time`: `full-date`, `T` (or `t`), `HH:MM:SS`, optional fraction, `Z`
/// (or `z`) or `±HH:MM`; a leap second (`:60`) only at 23:59 UTC. The grammar JSON Schema's
/// `date-time` format checks (chrono alone also takes a space for the `T` and a leap second
/// in any minute).
fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || !is_full_date(&b[..10]) || !matches!(b[10], b'T' | b't') {
        return false;
    }
    let t = &b[11..];
    if t[2] != b':' || t[5] != b':' {
        return false;
    }
    let (Some(hour), Some(minute), Some(second)) =
        (digits2(&t[0..2]), digits2(&t[3..5]), digits2(&t[6..8]))
    else {
        return false;
    };
    if hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut rest = &t[8..];
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &tail[n..];
    }
    // Minutes east of UTC.
    let offset: i32 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] => {
            let (Some(oh), Some(om)) = (digits2(&[*h0, *h1]), digits2(&[*m0, *m1])) else {
                return false;
            };
            if oh > 23 || om > 59 {
                return false;
            }
            let minutes = i32::from(oh) * 60 + i32::from(om);
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return false,
    };
    if second == 60 {
        let utc = (i32::from(hour) * 60 + i32::from(minute) - offset).rem_euclid(24 * 60);
        return utc == 23 * 60 + 59;
    }
    true
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(strict::Parsed::<DateTime>::new("an RFC 3339 date-time"))
    }
}

/// A calendar date (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub chrono::NaiveDate);

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for Date {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const NOT: FormatError = FormatError("not an RFC 3339 full-date (YYYY-MM-DD)");
        if !is_full_date(s.as_bytes()) {
            return Err(NOT);
        }
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Date)
            .map_err(|_| NOT)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(strict::Parsed::<Date>::new("an RFC 3339 full-date"))
    }
}

/// Decoders that accept exactly what the JSON Schema behind a generated type accepts, where
/// serde's derived or default ones take more (generated types name them in
/// `#[serde(deserialize_with = …)]` and in their string enums' `Deserialize`).
pub mod strict {
    use std::fmt;
    use std::marker::PhantomData;
    use std::str::FromStr;

    use serde::de::{Error, Visitor};
    use serde::{Deserialize, Deserializer};

    use super::Uuid;

    /// Reads a JSON string (only a string) with `T`'s `FromStr`.
    pub struct Parsed<T>(&'static str, PhantomData<fn() -> T>);

    impl<T> Parsed<T> {
        /// A visitor expecting `what`.
        pub fn new(what: &'static str) -> Self {
            Parsed(what, PhantomData)
        }
    }

    impl<T: FromStr<Err: fmt::Display>> Visitor<'_> for Parsed<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }

    /// An optional property whose schema does not allow `null`: present means a value (with
    /// `#[serde(default)]`, absent is `None`). serde's `Option` also reads `null` as `None`.
    pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        T::deserialize(d).map(Some)
    }

    /// A UUID in the hyphenated form (`8-4-4-4-12` hexadecimal digits), the form JSON
    /// Schema's `uuid` format accepts; `Uuid`'s own decoding also takes the simple, braced and
    /// URN forms.
    pub fn uuid<'de, D: Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
        struct Hyphenated;
        impl Visitor<'_> for Hyphenated {
            type Value = Uuid;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a UUID (8-4-4-4-12 hexadecimal digits)")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Uuid, E> {
                let b = v.as_bytes();
                if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                    return Err(E::invalid_value(serde::de::Unexpected::Str(v), &self));
                }
                Uuid::try_parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Hyphenated)
    }

    /// [`uuid()`] for an optional property that must not be `null` when present.
    pub fn present_uuid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Uuid>, D::Error> {
        uuid(d).map(Some)
    }

    /// A string enum read from a JSON string only (serde's derived unit enums also take
    /// `{"variant": null}`): `pick` maps the text to a variant, `values` lists them for the
    /// error.
    pub fn string_enum<'de, D: Deserializer<'de>, T>(
        d: D,
        values: &'static [&'static str],
        pick: fn(&str) -> Option<T>,
    ) -> Result<T, D::Error> {
        struct OneOf<T>(&'static [&'static str], fn(&str) -> Option<T>);
        impl<T> Visitor<'_> for OneOf<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "one of {:?}", self.0)
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
                (self.1)(v).ok_or_else(|| E::unknown_variant(v, self.0))
            }
        }
        d.deserialize_str(OneOf(values, pick))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        for s in [
            "2026-11-02T08:15:00Z",
            "2026-11-02T08:15:00.250Z",
            "2026-11-02T08:15:00+02:00",
        ] {
            let d: DateTime = s.parse().expect("parse");
            assert_eq!(d.to_string(), s);
        }
        let d: Date = "2026-02-28".parse().expect("date");
        assert_eq!(d.to_string(), "2026-02-28");
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        use chrono::{FixedOffset, TimeZone};
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..20_000 {
            let secs = (next() % 253_402_300_799) as i64; // up to 9999-12-31
            let nanos = match i % 4 {
                0 => 0,
                1 => (next() % 1000) as u32 * 1_000_000,
                2 => (next() % 1_000_000) as u32 * 1_000,
                _ => (next() % 1_000_000_000) as u32,
            };
            let seconds = (next() % 100_000) as i32 - 50_000;
            // Mostly whole minutes (the usual case); offsets with seconds take chrono's path.
            let seconds = if i % 10 == 0 {
                seconds
            } else {
                seconds / 60 * 60
            };
            let offset = FixedOffset::east_opt(seconds).expect("within a day");
            let utc = chrono::DateTime::from_timestamp(secs, nanos).expect("in range");
            let d = offset.from_utc_datetime(&utc.naive_utc());
            let expected = d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            assert_eq!(DateTime(d).to_string(), expected);
        }
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .expect("leap second")
            .and_utc()
            .fixed_offset();
        assert_eq!(DateTime(leap).to_string(), "2016-12-31T23:59:60.500Z");
    }

    #[test]
    fn formats_are_read_as_strictly_as_json_schema_checks_them() {
        for ok in [
            "2026-01-01T10:00:00Z",
            "2026-01-01t10:00:00z",
            "2026-01-01T10:00:00.5+01:00",
            "2026-12-31T23:59:60Z",
            "2027-01-01T00:59:60+01:00",
            "2024-02-29T00:00:00-00:00",
        ] {
            assert!(ok.parse::<DateTime>().is_ok(), "{ok}");
        }
        for bad in [
            "2026-01-01 10:00:00Z",
            "2026-01-01T10:00:60Z",
            "2026-01-01T10:00:00.Z",
            "2026-01-01T10:00:00+0100",
            "2026-01-01T10:00:00+24:00",
            "2025-02-29T00:00:00Z",
            "2026-1-01T10:00:00Z",
            "2026-01-01T10:00Z",
            "2026-01-01T10:00:00",
            "2026-01-01T10:00:00Zx",
        ] {
            assert!(bad.parse::<DateTime>().is_err(), "{bad}");
        }
        assert!("2024-02-29".parse::<Date>().is_ok());
        for bad in ["2025-02-29", "2026-1-01", "+2026-01-01", "2026-01-01T"] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn strict_decoders_refuse_what_the_schema_refuses() {
        #[derive(Debug, Deserialize)]
        struct S {
            #[serde(deserialize_with = "strict::uuid")]
            id: Uuid,
            #[serde(default, deserialize_with = "strict::present_uuid")]
            other: Option<Uuid>,
            #[serde(default, deserialize_with = "strict::present")]
            note: Option<String>,
        }
        let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let s: S = serde_json::from_str(&format!(r#"{{"id":"{id}"}}"#)).expect("valid");
        assert_eq!(
            (s.id.to_string().as_str(), s.other, s.note),
            (id, None, None)
        );
        for bad in [
            r#"{"id":"67e5504410b1426f9247bb680e5fe0c8"}"#,
            r#"{"id":"urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8"}"#,
            r#"{"id":"{67e55044-10b1-426f-9247-bb680e5fe0c8}"}"#,
            r#"{"id":"67e55044-10b1-426f-9247-bb680e5fe0c8","other":null}"#,
            r#"{"id":"67e55044-10b1-426f-9247-bb680e5fe0c8","note":null}"#,
        ] {
            assert!(serde_json::from_str::<S>(bad).is_err(), "{bad}");
        }
        #[derive(Debug, PartialEq)]
        enum E {
            Ping,
        }
        impl<'de> Deserialize<'de> for E {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                strict::string_enum(d, &["ping"], |s| (s == "ping").then_some(E::Ping))
            }
        }
        assert_eq!(serde_json::from_str::<E>(r#""ping""#).ok(), Some(E::Ping));
        let e = serde_json::from_str::<E>(r#""pong""#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `pong`, expected `ping`"), "{e}");
        assert!(serde_json::from_str::<E>(r#"{"ping":null}"#).is_err());
    }
}
