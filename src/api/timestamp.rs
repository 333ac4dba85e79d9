//! A point in time as the APIs write it: RFC 3339 in UTC, with milliseconds
//! when there are any (what chrono's own serializer writes).
//!
//! The generated types use it for every `date-time` string (codegen/rust.rs).
//! chrono's serializer writes through a formatter in ~15 pieces, each of
//! which serde_json escapes on its own: ~2,300 instructions per timestamp,
//! 8% of a Sinch GET. Its `to_rfc3339_opts` written once still took ~1,150
//! with the string's escaping; the digits written straight into a buffer
//! take ~570 with it (callgrind, two timestamps: 2,300 -> 1,142).

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Milliseconds since the Unix epoch; `None` past chrono's range.
    pub fn from_millis(ms: i64) -> Option<Timestamp> {
        DateTime::from_timestamp_millis(ms).map(Timestamp)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [0; RFC3339_MILLIS.len()];
        match self.write_rfc3339(&mut text) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }
}

/// The longest text [`Timestamp::write_rfc3339`] writes.
const RFC3339_MILLIS: &str = "YYYY-MM-DDTHH:MM:SS.mmmZ";

impl Timestamp {
    /// What `to_rfc3339_opts(SecondsFormat::AutoSi, true)` writes, for a
    /// four-digit year and whole milliseconds (every time keyward stores);
    /// `None` for any other, which chrono writes.
    fn write_rfc3339<'a>(&self, text: &'a mut [u8; RFC3339_MILLIS.len()]) -> Option<&'a str> {
        let time = self.0.naive_utc();
        let year = u32::try_from(time.year()).ok().filter(|y| *y <= 9999)?;
        let nanos = time.nanosecond();
        if !nanos.is_multiple_of(1_000_000) || nanos >= 1_000_000_000 {
            return None; // finer than milliseconds, or a leap second
        }
        let mut at = 0;
        let mut put = |value: u32, digits: usize, then: u8| {
            let mut rest = value;
            for digit in text[at..at + digits].iter_mut().rev() {
                *digit = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
            text[at + digits] = then;
            at += digits + 1;
        };
        put(year, 4, b'-');
        put(time.month(), 2, b'-');
        put(time.day(), 2, b'T');
        put(time.hour(), 2, b':');
        put(time.minute(), 2, b':');
        let millis = nanos / 1_000_000;
        if millis == 0 {
            put(time.second(), 2, b'Z');
        } else {
            put(time.second(), 2, b'.');
            put(millis, 3, b'Z');
        }
        std::str::from_utf8(&text[..at]).ok()
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DateTime::<Utc>::deserialize(deserializer).map(Timestamp)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> String {
        DateTime::<Utc>::schema_name()
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        DateTime::<Utc>::json_schema(generator)
    }

    fn is_referenceable() -> bool {
        DateTime::<Utc>::is_referenceable()
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;
    use chrono::DateTime;

    /// The text is chrono's, byte for byte, and reads back.
    #[test]
    fn writes_what_chrono_writes() {
        for ms in [
            0,
            1,
            999,
            1_000,
            1_764_655_901_123,
            1_764_655_901_000,
            -1,
            -62_135_596_800_000,
            -62_135_596_800_001,
            253_402_300_799_999,
            253_402_300_800_000,
            951_782_400_042,
            -62_167_219_200_000,
        ]
        .into_iter()
        // And 10,000 more, spread over years 0001-9999 by a fixed LCG.
        .chain((0..10_000u64).scan(1u64, |state, _| {
            *state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let spread = i64::try_from(*state % 315_537_897_600_000).ok()?;
            Some(spread - 62_135_596_800_000)
        })) {
            let time = Timestamp::from_millis(ms).unwrap();
            let ours = serde_json::to_string(&time).unwrap();
            let chrono = serde_json::to_string(&DateTime::from_timestamp_millis(ms)).unwrap();
            assert_eq!(ours, chrono, "{ms}");
            assert_eq!(serde_json::from_str::<Timestamp>(&ours).unwrap(), time);
        }
    }
}
