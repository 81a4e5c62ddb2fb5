use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// An instant in UTC with millisecond precision: the precision every face shows, kept
/// at that precision so that what is stored is exactly what is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_millis(Utc::now().timestamp_millis())
    }

    /// The instant `millis` milliseconds after the Unix epoch (clamped to the range
    /// chrono can represent).
    pub fn from_millis(millis: i64) -> Self {
        Self(
            Utc.timestamp_millis_opt(millis)
                .single()
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    }

    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self::from_millis(at.timestamp_millis())
    }

    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    pub fn plus_seconds(&self, seconds: i64) -> Self {
        Self::from_millis(self.millis().saturating_add(seconds.saturating_mul(1000)))
    }

    /// `2021-05-02T12:46:27.823Z`: RFC 3339, UTC, milliseconds.
    pub fn rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Parses RFC 3339 with any offset, keeping milliseconds.
    pub fn parse_rfc3339(s: &str) -> Result<Self, super::Invalid> {
        DateTime::parse_from_rfc3339(s)
            .map(|at| Self::from_datetime(at.with_timezone(&Utc)))
            .map_err(|_| super::Invalid::new("must be an RFC 3339 date-time"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .examples([serde_json::json!("2021-05-02T12:46:27.823Z")])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_with_milliseconds_and_z() {
        let at = Timestamp::parse_rfc3339("2021-05-02T14:46:27.823456+02:00").unwrap();
        assert_eq!(at.rfc3339(), "2021-05-02T12:46:27.823Z");
        assert_eq!(
            Timestamp::from_millis(0).rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn now_is_truncated_to_milliseconds() {
        let now = Timestamp::now();
        assert_eq!(Timestamp::from_millis(now.millis()), now);
    }
}
