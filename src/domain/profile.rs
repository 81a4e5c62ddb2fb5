//! A user's profile: every attribute of RFC 7643's core User schema (§4.1) and of its
//! enterprise extension (§4.3) that the directory does not keep elsewhere on
//! [`User`](super::User). What an identity provider writes is kept as written, so
//! that it reads back the same; [`Profile::check`] holds the rules the RFC gives.

use super::{Email, FieldViolation, Invalid, Role, UserId};

/// One value of a multi-valued attribute (RFC 7643 §2.4): emails, phoneNumbers, ims,
/// photos, entitlements, roles, x509Certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultiValue {
    pub value: Option<String>,
    /// The value's `type` (`work`, `home`, `mobile` …): free text, kept as written.
    pub kind: Option<String>,
    /// `primary` as written: `None` when the writer left it out, which reads as
    /// not primary.
    pub primary: Option<bool>,
    pub display: Option<String>,
}

impl MultiValue {
    /// A value of `kind`, not primary, without display.
    pub fn typed(value: impl Into<String>, kind: &str) -> Self {
        Self {
            value: Some(value.into()),
            kind: Some(kind.to_owned()),
            ..Self::default()
        }
    }
}

/// One value of `addresses` (RFC 7643 §4.1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub formatted: Option<String>,
    pub street_address: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub kind: Option<String>,
    /// As written; `None` reads as not primary.
    pub primary: Option<bool>,
}

/// The parts of `name` beside the given and family names, which are the user's
/// `first_name` and `last_name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameParts {
    pub formatted: Option<String>,
    pub middle_name: Option<String>,
    pub honorific_prefix: Option<String>,
    pub honorific_suffix: Option<String>,
}

/// The user's manager: another user of the same tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    pub id: UserId,
    /// The manager's displayName (else its names), as read with the user; not
    /// written.
    pub display_name: Option<String>,
    /// Whether the id was a user of the tenant when read (a manager may be
    /// provisioned after its reports); not written.
    pub found: bool,
}

impl Manager {
    /// A manager as written: its id, nothing read yet.
    pub fn id(id: UserId) -> Self {
        Self {
            id,
            display_name: None,
            found: false,
        }
    }
}

/// The enterprise extension (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enterprise {
    pub employee_number: Option<String>,
    pub cost_center: Option<String>,
    pub organization: Option<String>,
    pub division: Option<String>,
    pub department: Option<String>,
    pub manager: Option<Manager>,
}

/// The multi-valued attributes stored as [`MultiValue`]s, by their SCIM names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueList {
    Emails,
    PhoneNumbers,
    Ims,
    Photos,
    Entitlements,
    Roles,
    X509Certificates,
}

impl ValueList {
    pub const ALL: [ValueList; 7] = [
        ValueList::Emails,
        ValueList::PhoneNumbers,
        ValueList::Ims,
        ValueList::Photos,
        ValueList::Entitlements,
        ValueList::Roles,
        ValueList::X509Certificates,
    ];

    /// The SCIM attribute name, which is also how the store names the list.
    pub const fn as_str(self) -> &'static str {
        match self {
            ValueList::Emails => "emails",
            ValueList::PhoneNumbers => "phoneNumbers",
            ValueList::Ims => "ims",
            ValueList::Photos => "photos",
            ValueList::Entitlements => "entitlements",
            ValueList::Roles => "roles",
            ValueList::X509Certificates => "x509Certificates",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// How long one value may be: a DER certificate in base64 is long.
    const fn max_chars(self) -> usize {
        match self {
            ValueList::X509Certificates => 16_384,
            ValueList::Photos => 2048,
            _ => 512,
        }
    }
}

/// The profile's single-valued texts, for a change of some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileText {
    DisplayName,
    NickName,
    ProfileUrl,
    Title,
    UserType,
    PreferredLanguage,
    Locale,
    Timezone,
    NameFormatted,
    MiddleName,
    HonorificPrefix,
    HonorificSuffix,
    EmployeeNumber,
    CostCenter,
    Organization,
    Division,
    Department,
}

/// A change to some of a profile's attributes: the texts named are set or cleared,
/// the lists named are replaced whole; the rest stays.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub texts: Vec<(ProfileText, Option<String>)>,
    pub lists: Vec<(ValueList, Vec<MultiValue>)>,
    pub addresses: Option<Vec<Address>>,
    /// `Some(None)` removes the manager.
    pub manager: Option<Option<UserId>>,
}

impl ProfilePatch {
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
            && self.lists.is_empty()
            && self.addresses.is_none()
            && self.manager.is_none()
    }

    /// Whether the patch changes the emails or the roles, which decide how a user
    /// signs in and what it may do.
    pub fn changes_access(&self) -> bool {
        self.lists
            .iter()
            .any(|(list, _)| matches!(list, ValueList::Emails | ValueList::Roles))
    }

    pub fn apply_to(self, profile: &mut Profile) {
        for (text, value) in self.texts {
            *profile.text_mut(text) = value;
        }
        for (list, values) in self.lists {
            *profile.list_mut(list) = values;
        }
        if let Some(addresses) = self.addresses {
            profile.addresses = addresses;
        }
        if let Some(manager) = self.manager {
            let kept = profile
                .enterprise
                .manager
                .take()
                .filter(|m| Some(m.id) == manager);
            profile.enterprise.manager = kept.or_else(|| manager.map(Manager::id));
        }
    }
}

/// The SCIM name of `addresses`, as the store names its rows.
pub const ADDRESSES: &str = "addresses";

/// Everything about a user beyond its sign-in address, names, role and status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub display_name: Option<String>,
    pub nick_name: Option<String>,
    pub profile_url: Option<String>,
    pub title: Option<String>,
    pub user_type: Option<String>,
    pub preferred_language: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub name: NameParts,
    pub emails: Vec<MultiValue>,
    pub phone_numbers: Vec<MultiValue>,
    pub ims: Vec<MultiValue>,
    pub photos: Vec<MultiValue>,
    pub addresses: Vec<Address>,
    pub entitlements: Vec<MultiValue>,
    pub roles: Vec<MultiValue>,
    pub x509_certificates: Vec<MultiValue>,
    pub enterprise: Enterprise,
}

/// The most characters a single-valued text attribute keeps.
const MAX_TEXT: usize = 256;

fn violation(field: &str, reason: impl Into<String>) -> FieldViolation {
    FieldViolation {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Refuses text longer than `max` characters or holding control characters other
/// than line breaks and tabs (a formatted address spans lines).
fn bounded(field: &str, value: &Option<String>, max: usize) -> Result<(), FieldViolation> {
    let Some(value) = value else { return Ok(()) };
    if value.chars().count() > max {
        return Err(violation(
            field,
            format!("must be at most {max} characters long"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(violation(field, "must not contain control characters"));
    }
    Ok(())
}

/// A URI as RFC 3986 shapes it: a scheme, a colon, and no whitespace.
fn check_uri(value: &str) -> Result<(), Invalid> {
    let scheme_ok = value.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if scheme_ok && !value.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(Invalid::new(
            "must be a URI with a scheme, such as https://example.com/me",
        ))
    }
}

/// A language tag (`en-US`, `de_DE`) or, for preferredLanguage, an Accept-Language
/// list (`en-US, en;q=0.9`): letters, digits and the separators those use.
fn check_language(field: &str, value: &Option<String>, list: bool) -> Result<(), FieldViolation> {
    let Some(value) = value else { return Ok(()) };
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_')
            || (list && matches!(c, ',' | ';' | '=' | '.' | '*' | ' '))
    };
    if value.is_empty() || value.len() > 64 || !value.chars().all(allowed) {
        return Err(violation(
            field,
            if list {
                "must be a language tag or an Accept-Language list, such as en-US"
            } else {
                "must be a language tag, such as en-US"
            },
        ));
    }
    Ok(())
}

/// A time zone name: the IANA tz database's (`Europe/Berlin`,
/// `America/Argentina/Buenos_Aires`, `Etc/GMT+2`, `UTC`) or one shaped like them
/// (letters, digits, `/ _ - +`), so that a provider's own identifiers pass.
fn check_timezone(value: &Option<String>) -> Result<(), FieldViolation> {
    let Some(value) = value else { return Ok(()) };
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if ok {
        Ok(())
    } else {
        Err(violation(
            "timezone",
            "must be an IANA time zone name, such as Europe/Berlin",
        ))
    }
}

fn one_primary(field: &str, primaries: usize) -> Result<(), FieldViolation> {
    if primaries > 1 {
        return Err(violation(
            field,
            "at most one value may be primary (RFC 7643 §2.4)",
        ));
    }
    Ok(())
}

impl Profile {
    /// The attributes whose values differ from `other`'s, by their SCIM names (the
    /// enterprise extension's by theirs alone).
    pub fn changed_fields(&self, other: &Profile) -> Vec<&'static str> {
        let texts = [
            ("displayName", &self.display_name, &other.display_name),
            ("nickName", &self.nick_name, &other.nick_name),
            ("profileUrl", &self.profile_url, &other.profile_url),
            ("title", &self.title, &other.title),
            ("userType", &self.user_type, &other.user_type),
            (
                "preferredLanguage",
                &self.preferred_language,
                &other.preferred_language,
            ),
            ("locale", &self.locale, &other.locale),
            ("timezone", &self.timezone, &other.timezone),
            (
                "employeeNumber",
                &self.enterprise.employee_number,
                &other.enterprise.employee_number,
            ),
            (
                "costCenter",
                &self.enterprise.cost_center,
                &other.enterprise.cost_center,
            ),
            (
                "organization",
                &self.enterprise.organization,
                &other.enterprise.organization,
            ),
            (
                "division",
                &self.enterprise.division,
                &other.enterprise.division,
            ),
            (
                "department",
                &self.enterprise.department,
                &other.enterprise.department,
            ),
        ];
        let mut changed: Vec<&'static str> = texts
            .into_iter()
            .filter_map(|(name, a, b)| (a != b).then_some(name))
            .collect();
        if self.name != other.name {
            changed.push("name");
        }
        changed.extend(
            ValueList::ALL
                .into_iter()
                .filter(|list| self.list(*list) != other.list(*list))
                .map(ValueList::as_str),
        );
        if self.addresses != other.addresses {
            changed.push("addresses");
        }
        if self.enterprise.manager != other.enterprise.manager {
            changed.push("manager");
        }
        changed
    }

    pub fn text_mut(&mut self, text: ProfileText) -> &mut Option<String> {
        match text {
            ProfileText::DisplayName => &mut self.display_name,
            ProfileText::NickName => &mut self.nick_name,
            ProfileText::ProfileUrl => &mut self.profile_url,
            ProfileText::Title => &mut self.title,
            ProfileText::UserType => &mut self.user_type,
            ProfileText::PreferredLanguage => &mut self.preferred_language,
            ProfileText::Locale => &mut self.locale,
            ProfileText::Timezone => &mut self.timezone,
            ProfileText::NameFormatted => &mut self.name.formatted,
            ProfileText::MiddleName => &mut self.name.middle_name,
            ProfileText::HonorificPrefix => &mut self.name.honorific_prefix,
            ProfileText::HonorificSuffix => &mut self.name.honorific_suffix,
            ProfileText::EmployeeNumber => &mut self.enterprise.employee_number,
            ProfileText::CostCenter => &mut self.enterprise.cost_center,
            ProfileText::Organization => &mut self.enterprise.organization,
            ProfileText::Division => &mut self.enterprise.division,
            ProfileText::Department => &mut self.enterprise.department,
        }
    }

    /// The values of one multi-valued attribute.
    pub fn list(&self, list: ValueList) -> &[MultiValue] {
        match list {
            ValueList::Emails => &self.emails,
            ValueList::PhoneNumbers => &self.phone_numbers,
            ValueList::Ims => &self.ims,
            ValueList::Photos => &self.photos,
            ValueList::Entitlements => &self.entitlements,
            ValueList::Roles => &self.roles,
            ValueList::X509Certificates => &self.x509_certificates,
        }
    }

    pub fn list_mut(&mut self, list: ValueList) -> &mut Vec<MultiValue> {
        match list {
            ValueList::Emails => &mut self.emails,
            ValueList::PhoneNumbers => &mut self.phone_numbers,
            ValueList::Ims => &mut self.ims,
            ValueList::Photos => &mut self.photos,
            ValueList::Entitlements => &mut self.entitlements,
            ValueList::Roles => &mut self.roles,
            ValueList::X509Certificates => &mut self.x509_certificates,
        }
    }

    /// Checks every rule RFC 7643 gives the profile's attributes: bounded text, an
    /// email in each emails value, a URI in profileUrl and photos, language tags,
    /// a time zone name, and at most one primary value per attribute. Empty texts
    /// are stored as absent (RFC 7643 §2.5).
    pub fn check(&mut self) -> Result<(), FieldViolation> {
        self.clear_empty();
        for (field, value) in [
            ("displayName", &self.display_name),
            ("nickName", &self.nick_name),
            ("title", &self.title),
            ("userType", &self.user_type),
            ("name.formatted", &self.name.formatted),
            ("name.middleName", &self.name.middle_name),
            ("name.honorificPrefix", &self.name.honorific_prefix),
            ("name.honorificSuffix", &self.name.honorific_suffix),
            ("employeeNumber", &self.enterprise.employee_number),
            ("costCenter", &self.enterprise.cost_center),
            ("organization", &self.enterprise.organization),
            ("division", &self.enterprise.division),
            ("department", &self.enterprise.department),
        ] {
            bounded(field, value, MAX_TEXT)?;
        }
        bounded("profileUrl", &self.profile_url, 2048)?;
        if let Some(url) = &self.profile_url {
            check_uri(url).map_err(|e| violation("profileUrl", e.reason))?;
        }
        check_language("preferredLanguage", &self.preferred_language, true)?;
        check_language("locale", &self.locale, false)?;
        check_timezone(&self.timezone)?;
        for list in ValueList::ALL {
            let name = list.as_str();
            let values = self.list(list);
            for item in values {
                bounded(&format!("{name}.value"), &item.value, list.max_chars())?;
                bounded(&format!("{name}.type"), &item.kind, MAX_TEXT)?;
                bounded(&format!("{name}.display"), &item.display, MAX_TEXT)?;
                match (list, &item.value) {
                    (ValueList::Emails, Some(value)) => {
                        Email::parse(value.as_str())
                            .map_err(|e| violation("emails.value", e.reason))?;
                    }
                    (ValueList::Emails, None) => {
                        return Err(violation("emails.value", "is required in each email"));
                    }
                    (ValueList::Photos, Some(value)) => {
                        check_uri(value).map_err(|e| violation("photos.value", e.reason))?;
                    }
                    _ => {}
                }
            }
            one_primary(
                name,
                values.iter().filter(|v| v.primary == Some(true)).count(),
            )?;
        }
        for address in &self.addresses {
            for (field, value) in [
                ("addresses.formatted", &address.formatted),
                ("addresses.streetAddress", &address.street_address),
                ("addresses.locality", &address.locality),
                ("addresses.region", &address.region),
                ("addresses.postalCode", &address.postal_code),
                ("addresses.country", &address.country),
                ("addresses.type", &address.kind),
            ] {
                bounded(field, value, MAX_TEXT)?;
            }
        }
        one_primary(
            ADDRESSES,
            self.addresses
                .iter()
                .filter(|a| a.primary == Some(true))
                .count(),
        )?;
        Ok(())
    }

    /// Empty texts are unassigned (RFC 7643 §2.5): stored and read as absent.
    fn clear_empty(&mut self) {
        fn clear(value: &mut Option<String>) {
            if value.as_deref() == Some("") {
                *value = None;
            }
        }
        for value in [
            &mut self.display_name,
            &mut self.nick_name,
            &mut self.profile_url,
            &mut self.title,
            &mut self.user_type,
            &mut self.preferred_language,
            &mut self.locale,
            &mut self.timezone,
            &mut self.name.formatted,
            &mut self.name.middle_name,
            &mut self.name.honorific_prefix,
            &mut self.name.honorific_suffix,
            &mut self.enterprise.employee_number,
            &mut self.enterprise.cost_center,
            &mut self.enterprise.organization,
            &mut self.enterprise.division,
            &mut self.enterprise.department,
        ] {
            clear(value);
        }
    }

    /// The address a user signs in with, as its emails give it: the primary one's
    /// value, else the first's.
    pub fn sign_in_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| self.emails.first())
            .and_then(|e| e.value.as_deref())
    }

    /// The directory role the roles give: admin when a value is "admin" (in any
    /// letter case), else member.
    pub fn role(&self) -> Role {
        if self.roles.iter().any(is_role(Role::Admin)) {
            Role::Admin
        } else {
            Role::Member
        }
    }

    /// Makes the roles give `role`: an "admin" value is added or removed, and a
    /// "member" value that contradicts it goes too.
    pub fn set_role(&mut self, role: Role) {
        if self.role() == role {
            return;
        }
        let other = match role {
            Role::Admin => Role::Member,
            Role::Member => Role::Admin,
        };
        self.roles.retain(|v| !is_role(other)(v));
        if role == Role::Admin {
            self.roles.push(MultiValue {
                value: Some(Role::Admin.as_str().to_owned()),
                ..MultiValue::default()
            });
        }
    }

    /// The first value of `list` of type `kind` (in any letter case).
    fn typed(&self, list: ValueList, kind: &str) -> Option<&MultiValue> {
        self.list(list).iter().find(|v| is_kind(&v.kind, kind))
    }

    /// The work phone number, as the vendor faces and /v1's `phone` read it.
    pub fn work_phone(&self) -> Option<&str> {
        self.typed(ValueList::PhoneNumbers, "work")
            .and_then(|v| v.value.as_deref())
    }

    /// Sets or clears the work phone number, leaving the others as they are.
    pub fn set_work_phone(&mut self, phone: Option<String>) {
        let phones = &mut self.phone_numbers;
        let at = phones.iter().position(|v| is_kind(&v.kind, "work"));
        match (at, phone) {
            (Some(at), Some(phone)) => phones[at].value = Some(phone),
            (Some(at), None) => {
                phones.remove(at);
            }
            (None, Some(phone)) => phones.push(MultiValue::typed(phone, "work")),
            (None, None) => {}
        }
    }

    /// The work address's country, as the vendor faces and /v1's `countryCode` read it.
    pub fn work_country(&self) -> Option<&str> {
        self.addresses
            .iter()
            .find(|a| is_kind(&a.kind, "work"))
            .and_then(|a| a.country.as_deref())
    }

    /// Sets or clears the work address's country; a work address left with nothing
    /// else goes.
    pub fn set_work_country(&mut self, country: Option<String>) {
        let at = self.addresses.iter().position(|a| is_kind(&a.kind, "work"));
        match (at, country) {
            (Some(at), country) => {
                self.addresses[at].country = country;
                let address = &self.addresses[at];
                if address.country.is_none()
                    && address.formatted.is_none()
                    && address.street_address.is_none()
                    && address.locality.is_none()
                    && address.region.is_none()
                    && address.postal_code.is_none()
                {
                    self.addresses.remove(at);
                }
            }
            (None, Some(country)) => self.addresses.push(Address {
                country: Some(country),
                kind: Some("work".to_owned()),
                ..Address::default()
            }),
            (None, None) => {}
        }
    }

    /// Makes `email` the sign-in address among the emails: the value of the primary
    /// (else the first) email becomes it; without emails, it is added as the
    /// primary work email.
    pub fn set_sign_in_email(&mut self, email: &str) {
        let at = self.emails.iter().position(|e| e.primary == Some(true)).or(
            if self.emails.is_empty() {
                None
            } else {
                Some(0)
            },
        );
        match at {
            Some(at) => self.emails[at].value = Some(email.to_owned()),
            None => self.emails.push(MultiValue {
                primary: Some(true),
                ..MultiValue::typed(email, "work")
            }),
        }
    }
}

fn is_kind(kind: &Option<String>, wanted: &str) -> bool {
    kind.as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case(wanted))
}

fn is_role(role: Role) -> impl Fn(&MultiValue) -> bool {
    move |v| {
        v.value
            .as_deref()
            .is_some_and(|value| value.eq_ignore_ascii_case(role.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_is_read_from_the_roles_and_written_into_them() {
        let mut profile = Profile::default();
        assert_eq!(profile.role(), Role::Member);
        profile.roles.push(MultiValue {
            value: Some("Admin".into()),
            ..MultiValue::default()
        });
        assert_eq!(profile.role(), Role::Admin);
        profile.set_role(Role::Member);
        assert!(profile.roles.is_empty());
        profile.roles.push(MultiValue {
            value: Some("member".into()),
            ..MultiValue::default()
        });
        profile.set_role(Role::Admin);
        assert_eq!(profile.roles.len(), 1);
        assert_eq!(profile.roles[0].value.as_deref(), Some("admin"));
    }

    #[test]
    fn two_primaries_are_refused() {
        let mut profile = Profile {
            phone_numbers: vec![
                MultiValue {
                    primary: Some(true),
                    ..MultiValue::typed("1", "work")
                },
                MultiValue {
                    primary: Some(true),
                    ..MultiValue::typed("2", "mobile")
                },
            ],
            ..Profile::default()
        };
        assert_eq!(profile.check().unwrap_err().field, "phoneNumbers");
    }

    #[test]
    fn real_identity_provider_values_pass() {
        let mut profile = Profile {
            preferred_language: Some("en-US,en;q=0.9".into()),
            locale: Some("en_US".into()),
            timezone: Some("America/Argentina/Buenos_Aires".into()),
            profile_url: Some("https://example.com/u/1".into()),
            ..Profile::default()
        };
        assert_eq!(profile.check(), Ok(()));
        profile.timezone = Some("not a zone".into());
        assert_eq!(profile.check().unwrap_err().field, "timezone");
        profile.timezone = None;
        profile.profile_url = Some("example dot com".into());
        assert_eq!(profile.check().unwrap_err().field, "profileUrl");
    }

    #[test]
    fn the_sign_in_email_is_the_primary_else_the_first() {
        let mut profile = Profile::default();
        profile.set_sign_in_email("a@example.com");
        assert_eq!(profile.emails[0].primary, Some(true));
        profile
            .emails
            .insert(0, MultiValue::typed("b@example.com", "home"));
        assert_eq!(profile.sign_in_email(), Some("a@example.com"));
        profile.set_sign_in_email("c@example.com");
        assert_eq!(profile.emails[1].value.as_deref(), Some("c@example.com"));
        profile.emails[1].primary = Some(false);
        assert_eq!(profile.sign_in_email(), Some("b@example.com"));
    }
}
