use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::Invalid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), so that ids sort by creation.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Accepts the hyphenated UUID form in either letter case.
            pub fn parse(s: &str) -> Result<Self, Invalid> {
                // Only the canonical 36-character form: Uuid::parse_str also takes
                // braces, URNs and the simple form, which ids never use on the wire.
                if s.len() != 36 {
                    return Err(Invalid::new("must be a UUID"));
                }
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| Invalid::new("must be a UUID"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                Self::parse(s)
            }
        }
    };
}

id_type!(
    /// A tenant: the customer account that owns users, groups and keys.
    TenantId
);
id_type!(UserId);
id_type!(GroupId);
id_type!(ApiKeyId);
id_type!(AuditEventId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_the_hyphenated_form() {
        let id = UserId::generate();
        assert_eq!(UserId::parse(&id.to_string()), Ok(id));
        assert_eq!(UserId::parse(&id.to_string().to_uppercase()), Ok(id));
        assert!(UserId::parse(&id.as_uuid().simple().to_string()).is_err());
        assert!(UserId::parse("not-a-uuid").is_err());
        assert!(UserId::parse("").is_err());
    }

    #[test]
    fn generated_ids_sort_by_creation() {
        let a = GroupId::generate();
        let b = GroupId::generate();
        assert!(a < b);
    }
}
