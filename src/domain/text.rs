//! Validated text values. Each constructor states the rule it enforces; lengths
//! count Unicode scalar values, not bytes.

use std::fmt;

use super::Invalid;

fn check_length(s: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let len = s.chars().count();
    if len < min {
        return Err(if min == 1 {
            Invalid::new("must not be empty")
        } else {
            Invalid::new(format!("must be at least {min} characters long"))
        });
    }
    if len > max {
        return Err(Invalid::new(format!(
            "must be at most {max} characters long"
        )));
    }
    Ok(())
}

fn check_no_control(s: &str) -> Result<(), Invalid> {
    if s.chars().any(char::is_control) {
        return Err(Invalid::new("must not contain control characters"));
    }
    Ok(())
}

fn check_trimmed(s: &str) -> Result<(), Invalid> {
    if s.trim() != s {
        return Err(Invalid::new("must not start or end with whitespace"));
    }
    Ok(())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, min = $min:expr, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(s: impl Into<String>) -> Result<Self, Invalid> {
                let s = s.into();
                check_length(&s, $min, $max)?;
                check_no_control(&s)?;
                check_trimmed(&s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_type!(
    /// A tenant's display name: 1 to 200 characters.
    TenantName, min = 1, max = 200
);
text_type!(
    /// A user's first or last name: up to 200 characters, may be empty.
    PersonName, min = 0, max = 200
);
text_type!(
    /// A company name: 1 to 200 characters.
    Company, min = 1, max = 200
);
text_type!(
    /// A group's name: 1 to 200 characters, unique in its tenant regardless of case.
    GroupName, min = 1, max = 200
);
text_type!(
    /// A free-text description: up to 1,000 characters.
    Description, min = 0, max = 1000
);
text_type!(
    /// An API key's name: 1 to 100 characters.
    KeyName, min = 1, max = 100
);
text_type!(
    /// The identifier a provisioning client (SCIM) keeps for an object: 1 to 255 characters.
    ExternalId, min = 1, max = 255
);
text_type!(
    /// The name an identity provider knows a user by (SCIM `userName`): 1 to 255
    /// characters, unique in the tenant regardless of case together with the emails
    /// of the users that have none of their own.
    UserName, min = 1, max = 255
);

impl Description {
    pub fn empty() -> Self {
        Self(String::new())
    }
}

impl PersonName {
    /// No name: what a user invited by address alone has.
    pub fn empty() -> Self {
        Self(String::new())
    }
}

/// The case-folded form of a name or address: what uniqueness and prefix search are
/// decided on, so that `Roger@Acme.com` and `roger@acme.com` are one.
pub fn fold_case(s: &str) -> String {
    s.to_lowercase()
}

impl GroupName {
    /// The form that uniqueness is decided on.
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }
}

/// An email address, by the one rule every face applies (RFC 5321's dot-atom form,
/// which is also what browsers accept, minus what mail servers refuse):
///
/// - at most 254 characters in all, one `@`;
/// - a local part of 1 to 64 characters: ASCII letters, digits and
///   ``.!#$%&'*+/=?^_`{|}~-``, with no dot first, last or next to another dot;
/// - a domain of at least two dot-separated labels (a bare host such as `localhost`
///   is not a mailbox a directory can reach), each 1 to 63 ASCII letters, digits and
///   hyphens, not starting or ending with a hyphen.
///
/// Its letter case is kept for display, and [`Email::key`] is what uniqueness is
/// decided on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(s: impl Into<String>) -> Result<Self, Invalid> {
        let s = s.into();
        if s.is_empty() {
            return Err(Invalid::new("must not be empty"));
        }
        if s.len() > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            )));
        }
        let invalid = || Invalid::new("must be a valid email address");
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        // A dot-atom: no empty, leading, trailing or doubled dots.
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.split('.').all(|atom| !atom.is_empty())
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c));
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(s))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address in lower case: two addresses that differ only in case are one.
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number as people write it: digits with `+`, spaces, dots, dashes and
/// parentheses; 1 to 32 characters with at least one digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: impl Into<String>) -> Result<Self, Invalid> {
        let s = s.into();
        check_length(&s, 1, 32)?;
        let allowed = s
            .chars()
            .all(|c| c.is_ascii_digit() || " +-.()/".contains(c));
        if !allowed || !s.chars().any(|c| c.is_ascii_digit()) {
            return Err(Invalid::new(
                "must be a phone number: digits, spaces and + - . ( ) /",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 3166-1 alpha-2 country code, such as `DE`; stored in upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(s: impl Into<String>) -> Result<Self, Invalid> {
        let s = s.into();
        if s.len() == 2 && s.chars().all(|c| c.is_ascii_alphabetic()) {
            Ok(Self(s.to_ascii_uppercase()))
        } else {
            Err(Invalid::new(
                "must be an ISO 3166-1 alpha-2 country code such as \"DE\"",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The half-open range `[lower, upper)` of lower-cased strings that start with a
/// prefix, so that a prefix search is an index range scan under byte-wise collation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRange {
    pub lower: String,
    /// `None` when no string is above every string with the prefix.
    pub upper: Option<String>,
}

impl PrefixRange {
    /// The range for `prefix` compared case-insensitively: 1 to 200 characters.
    pub fn parse(prefix: &str) -> Result<Self, Invalid> {
        check_length(prefix, 1, 200)?;
        Ok(Self::of(prefix))
    }

    /// The range for `prefix` compared case-insensitively, of any length.
    pub fn of(prefix: &str) -> Self {
        let lower = fold_case(prefix);
        let mut chars: Vec<char> = lower.chars().collect();
        // Byte-wise UTF-8 order is code point order, so the first string above every
        // string with the prefix is the prefix with its last incrementable char raised.
        let upper = loop {
            let Some(last) = chars.pop() else { break None };
            if let Some(next) = next_char(last) {
                chars.push(next);
                break Some(chars.into_iter().collect());
            }
        };
        Self { lower, upper }
    }
}

fn next_char(c: char) -> Option<char> {
    let mut code = c as u32 + 1;
    while code <= char::MAX as u32 {
        if let Some(next) = char::from_u32(code) {
            return Some(next);
        }
        code += 1; // skip the surrogate range
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Addresses the one email rule accepts.
    const VALID_EMAILS: &[&str] = &[
        "a@b.co",
        "Wiley.Coyote+1@acme.com",
        "x_y@sub-1.example.org",
        "first.middle.last@acme.com",
        "o'neil@acme.ie",
        "!#$%&'*+/=?^_`{|}~-@acme.com",
        "a@1.2.3.com",
        "a@xn--bcher-kva.example",
        "a-b@a-b.c-d",
    ];

    /// Addresses it refuses, with why.
    const INVALID_EMAILS: &[(&str, &str)] = &[
        ("", "empty"),
        ("plain", "no @"),
        ("@acme.com", "empty local part"),
        ("a@", "empty domain"),
        ("a@localhost", "undotted domain"),
        ("a b@acme.com", "space in the local part"),
        (".a@acme.com", "leading dot"),
        ("a.@acme.com", "trailing dot"),
        ("a..b@acme.com", "doubled dot"),
        (".@acme.com", "only a dot"),
        ("a@-acme.com", "label starts with a hyphen"),
        ("a@acme-.com", "label ends with a hyphen"),
        ("a@acme..com", "empty label"),
        ("a@.acme.com", "leading dot in the domain"),
        ("a@acme.com.", "trailing dot in the domain"),
        ("a@acme_corp.com", "underscore in the domain"),
        ("a@b@acme.com", "two @"),
        ("ä@acme.com", "non-ASCII local part"),
        ("a@bücher.de", "non-ASCII domain"),
        ("a@acme.com ", "trailing space"),
        ("\"a\"@acme.com", "quoted local part"),
        ("a@[127.0.0.1]", "address literal"),
    ];

    #[test]
    fn emails_follow_the_one_rule() {
        for good in VALID_EMAILS {
            assert!(Email::parse(*good).is_ok(), "{good} should be valid");
        }
        for (bad, why) in INVALID_EMAILS {
            assert!(
                Email::parse(*bad).is_err(),
                "{bad} should be invalid: {why}"
            );
        }
    }

    #[test]
    fn email_lengths_are_bounded() {
        let local_64 = "a".repeat(64);
        let label_63 = "b".repeat(63);
        assert!(Email::parse(format!("{local_64}@{label_63}.com")).is_ok());
        assert!(Email::parse(format!("{local_64}a@acme.com")).is_err());
        assert!(Email::parse(format!("a@{label_63}b.com")).is_err());
        // 254 characters in all is the most.
        let domain = format!("{label_63}.{label_63}.{}", "c".repeat(61));
        let at_most = format!("{local_64}@{domain}");
        assert_eq!(at_most.len(), 254);
        assert!(Email::parse(at_most.clone()).is_ok());
        assert!(Email::parse(format!("a{at_most}")).is_err());
    }

    #[test]
    fn email_keys_ignore_letter_case() {
        let a = Email::parse("Roger.Rabbit@ACME.com").unwrap();
        assert_eq!(a.as_str(), "Roger.Rabbit@ACME.com");
        assert_eq!(a.key(), "roger.rabbit@acme.com");
    }

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(PersonName::parse("").is_ok());
        assert!(PersonName::parse("x".repeat(200)).is_ok());
        assert!(PersonName::parse("x".repeat(201)).is_err());
        assert!(PersonName::parse("a\u{0}b").is_err());
        assert!(PersonName::parse(" padded").is_err());
        assert!(GroupName::parse("").is_err());
    }

    #[test]
    fn country_codes_are_two_letters_in_upper_case() {
        assert_eq!(CountryCode::parse("de").unwrap().as_str(), "DE");
        assert!(CountryCode::parse("DEU").is_err());
        assert!(CountryCode::parse("1A").is_err());
    }

    #[test]
    fn phones_need_a_digit() {
        assert!(Phone::parse("+1 234 567 890").is_ok());
        assert!(Phone::parse("call me").is_err());
        assert!(Phone::parse("--").is_err());
    }

    #[test]
    fn prefix_ranges_bound_exactly_the_strings_with_the_prefix() {
        let r = PrefixRange::parse("Ab").unwrap();
        assert_eq!(r.lower, "ab");
        assert_eq!(r.upper.as_deref(), Some("ac"));
        let top = PrefixRange::parse("a\u{10FFFF}").unwrap();
        assert_eq!(top.upper.as_deref(), Some("b"));
        let skip = PrefixRange::parse("\u{D7FF}").unwrap();
        assert_eq!(skip.upper.as_deref(), Some("\u{E000}"));
        assert_eq!(PrefixRange::parse("\u{10FFFF}").unwrap().upper, None);
    }
}
