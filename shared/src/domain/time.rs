use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant, written as RFC 3339 with milliseconds (`2026-11-23T10:30:00.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        // Truncate to what the wire format keeps, so a value survives a round trip unchanged.
        let now = Utc::now();
        Self::from_millis(now.timestamp_millis()).unwrap_or(Self(now))
    }

    pub fn from_millis(ms: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(ms).map(Self)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(raw)
            .ok()
            .and_then(|t| Self::from_millis(t.timestamp_millis()))
    }

    pub fn unix_secs(self) -> i64 {
        self.0.timestamp()
    }

    pub fn unix_millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn plus_secs(self, secs: u64) -> Self {
        Self(self.0 + chrono::Duration::seconds(secs as i64))
    }

    pub fn year_month(self) -> (i32, u32) {
        use chrono::Datelike;
        (self.0.year(), self.0.month())
    }

    pub fn date_path(self) -> String {
        self.0.format("%Y/%m/%d").to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Timestamp::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_z() {
        let t = Timestamp::from_millis(1_795_420_800_123).unwrap();
        assert_eq!(t.to_string(), "2026-11-23T08:00:00.123Z");
        assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
    }

    #[test]
    fn parses_offsets_to_utc() {
        let t = Timestamp::parse("2026-11-23T10:30:00.5+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-23T08:30:00.500Z");
        assert!(Timestamp::parse("yesterday").is_none());
    }
}
