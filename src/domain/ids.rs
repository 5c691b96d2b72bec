//! Newtype identifiers: a user id can never be passed where an org id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::time::Timestamp;

/// A fresh UUIDv7: time-ordered, so ordering rows by id orders them by creation.
pub fn new_uuid_v7() -> Uuid {
    let mut random = [0u8; 10];
    super::token::fill_random(&mut random);
    let millis = Timestamp::now().millis().max(0) as u64;
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// The smallest canonical UUID text of any UUIDv7 made at `millis` or later: ids compare as
/// text, so a time window over time-ordered ids is a plain range on the id index.
pub fn v7_floor(millis: i64) -> String {
    let ms = millis.clamp(0, (1 << 48) - 1) as u64;
    format!(
        "{:08x}-{:04x}-0000-0000-000000000000",
        ms >> 16,
        ms & 0xffff
    )
}

/// A string that is not a canonical hyphenated UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidId;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                $name(new_uuid_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                // Only the canonical hyphenated form: one spelling per id.
                if s.len() != 36 {
                    return Err(InvalidId);
                }
                Uuid::try_parse(s).map($name).map_err(|_| InvalidId)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(|_| serde::de::Error::custom("must be a UUID"))
            }
        }
    };
}

id_type!(
    /// A user: one global identity across organizations.
    UserId
);
id_type!(OrgId);
id_type!(WorkspaceId);
id_type!(SessionId);
id_type!(EventId);
id_type!(InvitationId);
id_type!(GroupId);
id_type!(GrantId);
id_type!(ApiTokenId);
id_type!(DomainId);
id_type!(ConnectionId);
id_type!(ScimTokenId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_are_time_ordered_and_round_trip() {
        let a = UserId::new();
        let b = UserId::new();
        assert_eq!(a.0.get_version_num(), 7);
        assert!(a.to_string() <= b.to_string() || a.0.get_timestamp() == b.0.get_timestamp());
        assert_eq!(a.to_string().parse::<UserId>().unwrap(), a);
    }

    #[test]
    fn v7_floor_bounds_ids_by_time() {
        for ms in [0_i64, 1, 65_535, 65_536, 1_795_000_000_123] {
            let at = uuid::Builder::from_unix_timestamp_millis(ms as u64, &[0xff; 10])
                .into_uuid()
                .to_string();
            let first = uuid::Builder::from_unix_timestamp_millis(ms as u64, &[0; 10])
                .into_uuid()
                .to_string();
            assert!(v7_floor(ms) <= first && first <= at, "{ms}");
            assert!(at < v7_floor(ms + 1), "{ms}");
        }
        assert_eq!(v7_floor(-5), "00000000-0000-0000-0000-000000000000");
    }

    #[test]
    fn only_canonical_uuids_parse() {
        assert!("not-a-uuid".parse::<OrgId>().is_err());
        assert!("0190c8a0-0000-7000-8000-00000000000"
            .parse::<OrgId>()
            .is_err());
        assert!("0190c8a000007000800000000000000a".parse::<OrgId>().is_err());
        assert!("{0190c8a0-0000-7000-8000-00000000000a}"
            .parse::<OrgId>()
            .is_err());
        assert!("0190c8a0-0000-7000-8000-00000000000a"
            .parse::<OrgId>()
            .is_ok());
        let json: Result<UserId, _> = serde_json::from_str("\"x\"");
        assert!(json.is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ids_display_canonically_and_parse_back(bits: u128) {
            let id = OrgId(Uuid::from_u128(bits));
            let text = id.to_string();
            prop_assert_eq!(text.len(), 36);
            prop_assert!(text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-')));
            prop_assert_eq!(text.parse::<OrgId>(), Ok(id));
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<OrgId>(&json).unwrap(), id);
        }

        #[test]
        fn parsing_accepts_only_the_hyphenated_form(
            s in prop_oneof![
                any::<String>(),
                "[0-9a-fA-F-]{30,40}",
                "[{]?(urn:uuid:)?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}[}]?",
            ],
        ) {
            if let Ok(id) = s.parse::<UserId>() {
                // One id per text, case aside (hex digits are case-insensitive).
                prop_assert_eq!(id.to_string(), s.to_ascii_lowercase());
            }
        }

        #[test]
        fn id_order_is_text_order(a: u128, b: u128) {
            let (x, y) = (UserId(Uuid::from_u128(a)), UserId(Uuid::from_u128(b)));
            prop_assert_eq!(x.cmp(&y), x.to_string().cmp(&y.to_string()));
        }

        #[test]
        fn v7_floor_bounds_every_id_of_its_millisecond(
            ms in prop_oneof![0i64..(1 << 48) - 1, 1_600_000_000_000i64..2_000_000_000_000],
            random: [u8; 10],
        ) {
            let id = uuid::Builder::from_unix_timestamp_millis(ms as u64, &random)
                .into_uuid()
                .to_string();
            prop_assert!(v7_floor(ms) <= id);
            prop_assert!(id < v7_floor(ms + 1));
            prop_assert!(v7_floor(ms) < v7_floor(ms + 1));
            prop_assert!(Uuid::try_parse(&v7_floor(ms)).is_ok());
        }

        #[test]
        fn v7_floor_clamps_out_of_range_times(ms: i64) {
            let floor = v7_floor(ms);
            prop_assert_eq!(floor.len(), 36);
            if ms <= 0 {
                prop_assert_eq!(floor, "00000000-0000-0000-0000-000000000000");
            } else if ms >= (1 << 48) - 1 {
                prop_assert_eq!(floor, "ffffffff-ffff-0000-0000-000000000000");
            } else {
                prop_assert_eq!(i64::from_str_radix(&floor[..13].replace('-', ""), 16), Ok(ms));
            }
        }
    }
}
