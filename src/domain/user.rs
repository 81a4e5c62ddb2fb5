use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use super::{
    AttributeValues, AttributeWrite, Company, CountryCode, Email, ExternalId, FieldViolation,
    GroupId, Invalid, PersonName, Phone, Profile, ProfilePatch, TenantId, Timestamp, UserId,
    UserName, Violations,
};

/// What a user may do in its tenant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages the tenant's directory.
    Admin,
    /// Reads the directory and manages only itself.
    Member,
}

/// Whether a user may sign in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Disabled,
    /// Invited; has not set a password yet.
    Pending,
}

macro_rules! text_enum {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::Invalid;
            fn from_str(s: &str) -> Result<Self, $crate::domain::Invalid> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::Invalid::new(format!(
                        "must be one of: {}",
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(Role { Admin = "admin", Member = "member" });
text_enum!(Status { Active = "active", Disabled = "disabled", Pending = "pending" });

/// What the directory records about a user's sign-ins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginMetadata {
    pub successful_logins: i64,
    pub failed_logins: i64,
    pub last_successful_login_at: Option<Timestamp>,
    pub last_failed_login_at: Option<Timestamp>,
    pub last_action_at: Option<Timestamp>,
    pub password_changed_at: Option<Timestamp>,
    /// When the user's last password-reset mail went out.
    pub password_reset_sent_at: Option<Timestamp>,
}

/// A stored user as every face reads it. The password hash is not part of it: it never
/// leaves the store except to verify a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    /// The userName an identity provider gave the user when it is not the email;
    /// `None` means the email, and follows it. Read it through [`User::user_name`].
    pub user_name: Option<String>,
    pub first_name: String,
    pub last_name: String,
    /// The rest of the SCIM profile. Its emails always hold `email` (as the primary
    /// one, else the first), and its roles give `role`: keep both through
    /// [`User::set_email`], [`User::set_role`] and [`User::replace_profile`].
    pub profile: Profile,
    /// The user's values of the attributes its tenant declared.
    pub attributes: AttributeValues,
    pub role: Role,
    pub status: Status,
    pub external_id: Option<String>,
    pub default_group_id: Option<GroupId>,
    pub has_password: bool,
    pub two_factor_enabled: bool,
    pub login: LoginMetadata,
    /// Raised by every change; the ETag of the user.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    /// When the user's login metadata last changed: the latest of its record's
    /// `updated_at` and the sign-in and reset-mail times it carries, so that the
    /// metadata's own "updated" time is never earlier than an event it reports. (A
    /// sign-in is not a change of the user, so it moves neither `updated_at` nor the
    /// version.)
    pub fn login_updated_at(&self) -> Timestamp {
        [
            self.login.last_successful_login_at,
            self.login.last_failed_login_at,
            self.login.password_reset_sent_at,
        ]
        .into_iter()
        .flatten()
        .fold(self.updated_at, Timestamp::max)
    }

    /// The name an identity provider knows the user by: its own, else the email.
    pub fn user_name(&self) -> &str {
        self.user_name.as_deref().unwrap_or(&self.email)
    }

    /// Changes the sign-in address, and the email value that holds it.
    pub fn set_email(&mut self, email: &str) {
        self.email = email.to_owned();
        self.profile.set_sign_in_email(email);
    }

    /// Changes the role, and the roles values that give it.
    pub fn set_role(&mut self, role: Role) {
        self.profile.set_role(role);
        self.role = role;
    }

    /// Replaces the profile as an identity provider wrote it: the role follows its
    /// roles, and the sign-in address its primary (else first) email; without
    /// emails, the sign-in address stays and becomes the primary work email. A
    /// manager kept keeps its resolved display name.
    pub fn replace_profile(&mut self, mut profile: Profile) {
        if let (Some(new), Some(old)) = (
            &mut profile.enterprise.manager,
            &self.profile.enterprise.manager,
        ) && new.id == old.id
        {
            new.display_name = old.display_name.clone();
            new.found = old.found;
        }
        self.profile = profile;
        self.role = self.profile.role();
        match self.profile.sign_in_email() {
            Some(email) => self.email = email.to_owned(),
            None => self.profile.set_sign_in_email(&self.email.clone()),
        }
    }

    /// A userName equal to the email is kept as the email's, so that it follows a
    /// later change of the email.
    pub fn follow_email_when_equal(&mut self) {
        if self.user_name.as_deref() == Some(self.email.as_str()) {
            self.user_name = None;
        }
    }
}

/// What a new password must be, beyond [`NewPassword`]'s absolute bounds: at least
/// `min_chars` characters and a zxcvbn score of at least `min_strength` of 4
/// (dictionary words, keyboard walks, repeats and dates score low). The defaults, 8
/// and 2, follow NIST SP 800-63B; an operator migrating from a product whose users
/// chose weaker passwords may lower them (settings `password_min_chars`,
/// `password_min_strength`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
    min_strength: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            min_strength: 2,
        }
    }
}

impl PasswordPolicy {
    /// A policy of `min_chars` (1 to [`NewPassword::MAX_CHARS`]) and `min_strength`
    /// (0 to 4).
    pub fn new(min_chars: usize, min_strength: u8) -> Result<Self, String> {
        if !(1..=NewPassword::MAX_CHARS).contains(&min_chars) {
            return Err(format!(
                "the least password length must be from 1 to {}",
                NewPassword::MAX_CHARS
            ));
        }
        if min_strength > 4 {
            return Err("the least password strength must be from 0 to 4".to_owned());
        }
        Ok(Self {
            min_chars,
            min_strength,
        })
    }

    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    pub fn min_strength(&self) -> u8 {
        self.min_strength
    }

    /// A new password that meets this policy.
    pub fn parse(&self, s: impl Into<String>) -> Result<NewPassword, Invalid> {
        let s: String = s.into();
        let len = s.chars().count();
        if len < self.min_chars {
            return Err(Invalid::new(format!(
                "must be at least {} characters long",
                self.min_chars
            )));
        }
        if len > NewPassword::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters long",
                NewPassword::MAX_CHARS
            )));
        }
        if s.trim().is_empty() {
            return Err(Invalid::new("must not be only whitespace"));
        }
        if self.min_strength > 0 {
            let strength = zxcvbn::zxcvbn(&s, &[]);
            if u8::from(strength.score()) < self.min_strength {
                let hint = strength
                    .feedback()
                    .and_then(|f| f.warning())
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default();
                return Err(Invalid::new(format!(
                    "is too common or too easy to guess{hint}; a longer passphrase of unrelated words works"
                )));
            }
        }
        Ok(NewPassword(SecretString::from(s)))
    }
}

/// A password as a user chose it, before hashing: at most 256 characters, not all
/// whitespace, and within the [`PasswordPolicy`] it was parsed under. Redacted in
/// `Debug`.
#[derive(Clone)]
pub struct NewPassword(SecretString);

impl NewPassword {
    pub const MAX_CHARS: usize = 256;

    /// A password that just verified against its stored hash, to be hashed again
    /// under the current parameters. The policy is not applied again: the user chose
    /// it under the policy of its time.
    pub fn verified(password: &str) -> Self {
        Self(SecretString::from(password.to_owned()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

/// A password hash brought from another system, stored as it is and verified as it
/// is; the next successful sign-in re-hashes the password under the current
/// parameters. Argon2 PHC strings (`$argon2id$…`, `$argon2i$…`, `$argon2d$…`) and
/// bcrypt (`$2a$`, `$2b$`, `$2y$`) are accepted. Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedHash(String);

impl ImportedHash {
    pub fn parse(s: impl Into<String>) -> Result<Self, Invalid> {
        let s: String = s.into();
        // Bytes, not string slices: a multi-byte character must not end a slice.
        let bytes = s.as_bytes();
        let bcrypt = ["$2a$", "$2b$", "$2y$"].iter().any(|p| s.starts_with(p))
            && bytes.len() == 60
            && bytes[4..6].iter().all(u8::is_ascii_digit)
            && bytes[6] == b'$'
            && bytes[7..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/');
        let argon2 = ["$argon2id$", "$argon2i$", "$argon2d$"]
            .iter()
            .any(|p| s.starts_with(p))
            && s.split('$').count() >= 5
            && s.len() <= 512
            && s.chars().all(|c| c.is_ascii_graphic());
        if bcrypt || argon2 {
            Ok(Self(s))
        } else {
            Err(Invalid::new(
                "must be an Argon2 PHC string or a bcrypt hash ($2a$, $2b$, $2y$)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ImportedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImportedHash([REDACTED])")
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    /// The userName when it is not the email.
    pub user_name: Option<UserName>,
    pub first_name: PersonName,
    pub last_name: PersonName,
    /// The SCIM profile; its roles and emails are brought in line with `role` and
    /// `email`.
    pub profile: Profile,
    pub role: Role,
    pub status: Status,
    pub external_id: Option<ExternalId>,
    pub password: Option<NewPassword>,
    /// A hash brought from another system, in place of `password`.
    pub password_hash: Option<ImportedHash>,
    /// Values of the attributes the tenant declared; every required one must be given.
    pub attributes: AttributeWrite,
}

/// A new user's fields as text, as the native API's create body and an imported CSV
/// row give them; [`NewUserFields::parse`] applies the rules every face applies.
/// Not `Debug`: it holds a plaintext password.
#[derive(Default)]
pub struct NewUserFields {
    pub email: String,
    pub user_name: Option<String>,
    pub first_name: String,
    pub last_name: String,
    /// The work phone number.
    pub phone: Option<String>,
    /// The enterprise organization.
    pub company: Option<String>,
    /// The work address's country.
    pub country_code: Option<String>,
    /// `admin` or `member`; without it, the role follows the profile's roles.
    pub role: Option<String>,
    /// `active`, `disabled` or `pending`; `active` without it.
    pub status: Option<String>,
    pub external_id: Option<String>,
    /// Checked against the password policy.
    pub password: Option<String>,
    /// An [`ImportedHash`], in place of `password`.
    pub password_hash: Option<String>,
    pub profile: Profile,
    pub attributes: AttributeWrite,
}

impl NewUserFields {
    /// The user these fields make, or every violation: those in `found` (met while
    /// gathering the fields) and each bad field's, named as the native API names them.
    pub fn parse(
        self,
        policy: &PasswordPolicy,
        mut found: Violations,
    ) -> Result<NewUser, Vec<FieldViolation>> {
        let v = &mut found;
        let email = v.check("email", Email::parse(self.email));
        let user_name = v.check_opt("userName", self.user_name.map(UserName::parse));
        let first_name = v.check("firstName", PersonName::parse(self.first_name));
        let last_name = v.check("lastName", PersonName::parse(self.last_name));
        let phone = v.check_opt("phone", self.phone.map(Phone::parse));
        let company = v.check_opt("company", self.company.map(Company::parse));
        let country_code = v.check_opt("countryCode", self.country_code.map(CountryCode::parse));
        let role = v.check_opt("role", self.role.map(|r| r.parse()));
        let status = v.check_opt("status", self.status.map(|s| s.parse()));
        let external_id = v.check_opt("externalId", self.external_id.map(ExternalId::parse));
        let password = v.check_opt("password", self.password.map(|p| policy.parse(p)));
        let password_hash =
            v.check_opt("passwordHash", self.password_hash.map(ImportedHash::parse));
        if password.is_some() && password_hash.is_some() {
            v.add(
                "passwordHash",
                "give either password or passwordHash, not both",
            );
        }
        // A required field that did not parse left a violation behind.
        let (Some(email), Some(first_name), Some(last_name)) = (email, first_name, last_name)
        else {
            return Err(found.into_vec());
        };
        found.finish()?;
        let mut profile = self.profile;
        if let Some(phone) = phone {
            profile.set_work_phone(Some(phone.as_str().to_owned()));
        }
        if let Some(company) = company {
            profile.enterprise.organization = Some(company.into_string());
        }
        if let Some(country) = country_code {
            profile.set_work_country(Some(country.as_str().to_owned()));
        }
        Ok(NewUser {
            email,
            user_name,
            first_name,
            last_name,
            role: role.unwrap_or_else(|| profile.role()),
            profile,
            status: status.unwrap_or(Status::Active),
            external_id,
            password,
            password_hash,
            attributes: self.attributes,
        })
    }
}

/// A change to one optional field: leave it, clear it, or set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    /// Applies the change to `field`, converting a set value with `into`.
    pub fn apply<U>(self, field: &mut Option<U>, into: impl FnOnce(T) -> U) {
        match self {
            Patch::Keep => {}
            Patch::Clear => *field = None,
            Patch::Set(value) => *field = Some(into(value)),
        }
    }

    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }
}

/// A partial change to a user: only what is named changes.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub email: Option<Email>,
    /// `Clear` makes the userName the email again (and follow it).
    pub user_name: Patch<UserName>,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    /// Replaces the whole profile (a SCIM replace), before the fields below apply.
    pub profile: Option<Profile>,
    /// Changes some of the profile's attributes, after `profile`.
    pub profile_patch: ProfilePatch,
    /// The work phone number.
    pub phone: Patch<Phone>,
    /// The enterprise organization.
    pub company: Patch<Company>,
    /// The work address's country.
    pub country_code: Patch<CountryCode>,
    pub role: Option<Role>,
    pub status: Option<Status>,
    pub external_id: Patch<ExternalId>,
    /// Setting a default group also makes the user a member of it.
    pub default_group_id: Patch<GroupId>,
    /// Changes of the values of the attributes the tenant declared.
    pub attributes: AttributeWrite,
}

impl UserPatch {
    /// Whether the patch changes only what a member may change of itself: its names,
    /// phone, company and country. Its email (what it signs in with), userName, role,
    /// status, external id and default group are the administrators'.
    pub fn is_own_profile_only(&self) -> bool {
        self.email.is_none()
            && self.profile.is_none()
            && !self.profile_patch.changes_access()
            && self.user_name.is_keep()
            && self.role.is_none()
            && self.status.is_none()
            && self.external_id.is_keep()
            && self.default_group_id.is_keep()
            && self.attributes.is_empty()
    }

    /// This replace, made from `current`'s own resource with some attributes changed
    /// (a SCIM PatchOp), as a change of `current`: what it restates is no change. A
    /// userName that is the email goes on following the email, and an `active` as
    /// it was keeps the status (a pending user, shown inactive, stays pending).
    pub fn relative_to(mut self, current: &User) -> Self {
        if current.user_name.is_none()
            && matches!(&self.user_name, Patch::Set(name) if name.as_str() == current.email)
        {
            self.user_name = Patch::Clear;
        }
        if self
            .status
            .is_some_and(|s| (s == Status::Active) == (current.status == Status::Active))
        {
            self.status = None;
        }
        self
    }

    /// Applies every change except the default group (which is a membership) to `user`.
    pub fn apply_to(self, user: &mut User) {
        if let Some(profile) = self.profile {
            user.replace_profile(profile);
        }
        if !self.profile_patch.is_empty() {
            let mut profile = user.profile.clone();
            self.profile_patch.apply_to(&mut profile);
            user.replace_profile(profile);
        }
        if let Some(email) = self.email {
            user.set_email(email.as_str());
        }
        self.user_name
            .apply(&mut user.user_name, UserName::into_string);
        user.follow_email_when_equal();
        if let Some(name) = self.first_name {
            user.first_name = name.into_string();
        }
        if let Some(name) = self.last_name {
            user.last_name = name.into_string();
        }
        let profile = &mut user.profile;
        let mut phone = profile.work_phone().map(str::to_owned);
        if !self.phone.is_keep() {
            self.phone.apply(&mut phone, |p| p.as_str().to_owned());
            profile.set_work_phone(phone);
        }
        self.company
            .apply(&mut profile.enterprise.organization, |c| c.into_string());
        let mut country = profile.work_country().map(str::to_owned);
        if !self.country_code.is_keep() {
            self.country_code
                .apply(&mut country, |c| c.as_str().to_owned());
            profile.set_work_country(country);
        }
        if let Some(role) = self.role {
            user.set_role(role);
        }
        if let Some(status) = self.status {
            user.status = status;
        }
        self.external_id
            .apply(&mut user.external_id, |e| e.into_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_statuses_read_their_wire_names_only() {
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("Admin".parse::<Role>().is_err());
        assert_eq!("pending".parse::<Status>(), Ok(Status::Pending));
        let err = "gone".parse::<Status>().unwrap_err();
        assert_eq!(err.reason, "must be one of: active, disabled, pending");
    }

    #[test]
    fn imported_hashes_are_argon2_or_bcrypt() {
        let bcrypt = "$2a$10$mRVfrAf72N66anVNhA1KVuYaOwOrXhFzxyg6bwgZemUeVo2MNOpIa";
        assert!(ImportedHash::parse(bcrypt).is_ok());
        assert!(ImportedHash::parse(bcrypt.replace("$2a$", "$2y$")).is_ok());
        assert!(ImportedHash::parse("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").is_ok());
        // 60 bytes, with a three-byte character across the cost's offsets.
        let multibyte = format!("$2a$€{}", "a".repeat(53));
        assert_eq!(multibyte.len(), 60);
        for bad in [
            "plain",
            "$2a$10$short",
            "$1$md5$crypt",
            "$argon2id$",
            &multibyte,
        ] {
            assert!(ImportedHash::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", ImportedHash::parse(bcrypt).unwrap()).contains("mRV"));
    }

    #[test]
    fn an_imported_hash_with_a_multi_byte_character_is_refused_not_a_panic() {
        // 60 bytes, with `é` across the bytes where the cost ends and the salt begins.
        let hash = format!("$2a$1\u{e9}{}", "a".repeat(53));
        assert_eq!(hash.len(), 60);
        assert!(ImportedHash::parse(hash).is_err());
        let hash = format!("$2a$10\u{e9}{}", "a".repeat(52));
        assert!(ImportedHash::parse(hash).is_err());
    }

    #[test]
    fn passwords_are_bounded_and_never_printed() {
        let policy = PasswordPolicy::default();
        assert!(policy.parse("short").is_err());
        assert!(policy.parse("        ").is_err());
        assert!(policy.parse("x".repeat(257)).is_err());
        let p = policy.parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
        for weak in [
            "password",
            "password1",
            "12345678",
            "qwertyuiop",
            "aaaaaaaaaa",
            "iloveyou123",
        ] {
            let refused = policy.parse(weak).unwrap_err();
            assert!(
                refused.reason.starts_with("is too common"),
                "{weak}: {}",
                refused.reason
            );
        }
    }

    #[test]
    fn an_operator_may_relax_the_policy_within_bounds() {
        let relaxed = PasswordPolicy::new(4, 0).unwrap();
        assert!(relaxed.parse("test").is_ok());
        assert!(relaxed.parse("password").is_ok());
        assert!(relaxed.parse("abc").is_err());
        assert!(relaxed.parse("    ").is_err());
        let longer = PasswordPolicy::new(30, 2).unwrap();
        assert!(longer.parse("correct horse battery").is_err());
        assert!(longer.parse("correct horse battery staple ok").is_ok());
        assert!(PasswordPolicy::new(0, 2).is_err());
        assert!(PasswordPolicy::new(257, 2).is_err());
        assert!(PasswordPolicy::new(8, 5).is_err());
    }
}
