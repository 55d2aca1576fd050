//! AsyncAPI versions.

use std::fmt;

/// A supported AsyncAPI specification version (minor granularity; patch versions are accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Version {
    /// 2.0.x
    V2_0,
    /// 2.1.x
    V2_1,
    /// 2.2.x
    V2_2,
    /// 2.3.x
    V2_3,
    /// 2.4.x
    V2_4,
    /// 2.5.x
    V2_5,
    /// 2.6.x
    V2_6,
    /// 3.0.x
    V3_0,
    /// 3.1.x
    V3_1,
}

/// Every supported version, oldest first.
pub const SUPPORTED: &[Version] = &[
    Version::V2_0,
    Version::V2_1,
    Version::V2_2,
    Version::V2_3,
    Version::V2_4,
    Version::V2_5,
    Version::V2_6,
    Version::V3_0,
    Version::V3_1,
];

impl Version {
    /// Parses an `asyncapi` field value such as `2.6.0` or `3.0.1`.
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.split('.');
        let major = parts.next()?;
        let minor = parts.next()?;
        let patch = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        // A pre-release suffix (`3.0.0-next`) is not a released version.
        if ![major, minor, patch]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        if patch.len() > 1 && patch.starts_with('0') {
            return None;
        }
        Some(match (major, minor) {
            ("2", "0") => Version::V2_0,
            ("2", "1") => Version::V2_1,
            ("2", "2") => Version::V2_2,
            ("2", "3") => Version::V2_3,
            ("2", "4") => Version::V2_4,
            ("2", "5") => Version::V2_5,
            ("2", "6") => Version::V2_6,
            ("3", "0") => Version::V3_0,
            ("3", "1") => Version::V3_1,
            _ => return None,
        })
    }

    /// Whether this is a 2.x version.
    pub fn is_v2(self) -> bool {
        self < Version::V3_0
    }

    /// Whether this is a 3.x version.
    pub fn is_v3(self) -> bool {
        !self.is_v2()
    }

    /// `major.minor.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2_0 => "2.0.0",
            Version::V2_1 => "2.1.0",
            Version::V2_2 => "2.2.0",
            Version::V2_3 => "2.3.0",
            Version::V2_4 => "2.4.0",
            Version::V2_5 => "2.5.0",
            Version::V2_6 => "2.6.0",
            Version::V3_0 => "3.0.0",
            Version::V3_1 => "3.1.0",
        }
    }

    /// The list shown when a version is not supported.
    pub fn supported_list() -> String {
        "2.0.x, 2.1.x, 2.2.x, 2.3.x, 2.4.x, 2.5.x, 2.6.x, 3.0.x, 3.1.x".to_owned()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(Version::parse("2.6.0"), Some(Version::V2_6));
        assert_eq!(Version::parse("3.0.1"), Some(Version::V3_0));
        assert_eq!(Version::parse("3.2.0"), None);
        assert_eq!(Version::parse("2.6"), None);
        assert_eq!(Version::parse("1.2.0"), None);
        assert_eq!(Version::parse("3.0.0-rc1"), None);
    }
}
