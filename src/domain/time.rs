//! Instants as Unix epoch milliseconds: what D1 stores and compares, rendered as RFC 3339.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current instant. In the Worker this is `Date.now()` directly: chrono's clock goes
    /// through a `new Date()` object per reading, which the request profile showed (about
    /// 25 µs per call, several calls per request).
    pub fn now() -> Self {
        #[cfg(target_arch = "wasm32")]
        {
            Timestamp(worker::js_sys::Date::now() as i64)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            Timestamp(Utc::now().timestamp_millis())
        }
    }

    /// The same instant as a chrono time (what the JWT library takes).
    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(self.0).unwrap_or_default()
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn to_rfc3339(self) -> String {
        self.to_utc().to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Timestamp(d.with_timezone(&Utc).timestamp_millis()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc3339_utc_with_millis() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_700_000_000_123).to_rfc3339(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2023-11-14T23:13:20.123+01:00"),
            Some(Timestamp(1_700_000_000_123))
        );
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Timestamp(1000).plus_seconds(2), Timestamp(3000));
        assert_eq!(Timestamp(i64::MAX).plus_seconds(10), Timestamp(i64::MAX));
        assert_eq!(Timestamp(-1).seconds(), -1);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z: what RFC 3339 can write.
    const MIN_MS: i64 = -62_167_219_200_000;
    const MAX_MS: i64 = 253_402_300_799_999;

    proptest! {
        #[test]
        fn rendered_instants_parse_back(ms in MIN_MS..=MAX_MS) {
            let t = Timestamp(ms);
            let text = t.to_rfc3339();
            prop_assert!(text.ends_with('Z') && text.len() == 24, "{text}");
            prop_assert_eq!(Timestamp::parse_rfc3339(&text), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            prop_assert_eq!(json, format!("\"{text}\""));
        }

        #[test]
        fn text_order_is_time_order(a in 0..=MAX_MS, b in 0..=MAX_MS) {
            let (x, y) = (Timestamp(a), Timestamp(b));
            prop_assert_eq!(x.cmp(&y), x.to_rfc3339().cmp(&y.to_rfc3339()));
        }

        #[test]
        fn parsing_any_text_is_stable(
            s in prop_oneof![
                any::<String>(),
                "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?([Zz]|[+-][0-9]{2}:[0-9]{2})",
            ],
        ) {
            if let Some(t) = Timestamp::parse_rfc3339(&s) {
                prop_assert!((MIN_MS - 86_400_000..=MAX_MS + 86_400_000).contains(&t.millis()));
                // Sub-millisecond digits are truncated, so the rendering is a fixed point.
                let again = Timestamp::parse_rfc3339(&t.to_rfc3339());
                prop_assert_eq!(again, Some(t));
            }
        }

        #[test]
        fn offsets_name_the_same_instant(ms in 86_400_000..MAX_MS - 86_400_000, minutes in -1439i64..=1439) {
            let t = Timestamp(ms);
            let local = chrono::DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .with_timezone(&chrono::FixedOffset::east_opt((minutes * 60) as i32).unwrap())
                .to_rfc3339_opts(SecondsFormat::Millis, false);
            prop_assert_eq!(Timestamp::parse_rfc3339(&local), Some(t), "{}", local);
        }

        #[test]
        fn seconds_and_additions_agree(ms in -1_000_000_000_000i64..1_000_000_000_000, s in -1_000_000i64..1_000_000) {
            let t = Timestamp(ms);
            prop_assert!(t.seconds() * 1000 <= ms && ms < (t.seconds() + 1) * 1000);
            prop_assert_eq!(t.plus_seconds(s).millis(), ms + s * 1000);
        }
    }
}
