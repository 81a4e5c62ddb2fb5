use std::collections::BTreeMap;
use std::fmt;

use argon2::password_hash::PasswordHash;
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

/// A password hash brought from another system, verified as it is at sign-in; the
/// next successful sign-in re-hashes the password under the current parameters.
/// Redacted in `Debug`.
///
/// Accepted forms, each within bounds that keep one verification to at most a few
/// seconds of one hashing thread:
/// - Argon2 PHC strings (`$argon2id$`, `$argon2i$`, `$argon2d$`) naming their version
///   (`v=19` or `v=16`): `m` up to 1 GiB, `t` 1 to 16 with `m × t` at most 4 GiB,
///   `p` 1 to 16, a salt of 8 to 48 bytes and a hash of 10 to 64 bytes.
/// - bcrypt (`$2a$`, `$2b$`, `$2y$`) of cost 4 to 16.
/// - PBKDF2 with HMAC-SHA-256, -SHA-512 or -SHA-1 (see [`Pbkdf2Hash`]), in PHC form or
///   passlib's; held in PHC form.
/// - Keycloak's stored credentials, through [`ImportedHash::from_keycloak`]; held as
///   the PHC string of the same hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedHash(String);

impl ImportedHash {
    /// The longest hash string accepted, in bytes.
    pub const MAX_LEN: usize = 512;

    pub fn parse(s: impl Into<String>) -> Result<Self, Invalid> {
        let s: String = s.into();
        if s.len() > Self::MAX_LEN {
            return Err(Invalid::new(format!(
                "must be at most {} characters long",
                Self::MAX_LEN
            )));
        }
        if s.starts_with("$2") {
            return parse_bcrypt(&s).map(|()| Self(s));
        }
        if s.starts_with("$argon2") {
            return parse_argon2(&s).map(|()| Self(s));
        }
        if s.starts_with("$pbkdf2") {
            return Pbkdf2Hash::parse(&s).map(|hash| Self(hash.to_phc()));
        }
        Err(Invalid::new(
            "must be an Argon2 PHC string, a bcrypt hash ($2a$, $2b$, $2y$) or a PBKDF2 hash \
             ($pbkdf2-sha256$, $pbkdf2-sha512$, $pbkdf2$)",
        ))
    }

    /// The hash of a Keycloak password credential, as the PHC string of the same hash
    /// (`$pbkdf2-sha256$i=…,l=…$…`, `$argon2id$v=19$m=…,t=…,p=…$…`), so that
    /// verification reads one form per algorithm. The derived key's length is the
    /// decoded `value`'s, as Keycloak reads it.
    pub fn from_keycloak(credential: &KeycloakCredential) -> Result<Self, Invalid> {
        let salt = decode_b64(&credential.salt, Base64::Padded)
            .ok_or_else(|| Invalid::new("the salt must be standard base64"))?;
        let value = decode_b64(&credential.value, Base64::Padded)
            .ok_or_else(|| Invalid::new("the value must be standard base64"))?;
        let digest = match credential.algorithm.as_str() {
            "pbkdf2-sha256" => Pbkdf2Digest::Sha256,
            "pbkdf2-sha512" => Pbkdf2Digest::Sha512,
            "pbkdf2" => Pbkdf2Digest::Sha1,
            "argon2" => return keycloak_argon2(credential, &salt, &value).map(Self),
            _ => {
                return Err(Invalid::new(
                    "the algorithm must be pbkdf2-sha256, pbkdf2-sha512, pbkdf2 or argon2",
                ));
            }
        };
        Pbkdf2Hash::new(digest, credential.iterations, salt, value).map(|h| Self(h.to_phc()))
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

/// A password credential as Keycloak stores it (a realm export's `credentials[]` entry
/// of type `password`), read out of its `credentialData` and `secretData` JSON
/// strings. Turned into an [`ImportedHash`] by [`ImportedHash::from_keycloak`].
/// The salt and value are redacted in `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeycloakCredential {
    /// `credentialData.algorithm`: `pbkdf2-sha256`, `pbkdf2-sha512`, `pbkdf2`
    /// (PBKDF2WithHmacSHA1) or `argon2`.
    pub algorithm: String,
    /// `credentialData.hashIterations` (Argon2's `t`).
    pub iterations: u32,
    /// `secretData.salt`: standard base64, padded or not.
    pub salt: String,
    /// `secretData.value`: the derived key in standard base64, padded or not.
    pub value: String,
    /// `credentialData.additionalParameters` (Keycloak leaves `secretData`'s empty):
    /// for `argon2`, `type` (`id`, `i`, `d`), `version` (`1.3`, `1.0`), `memory`
    /// (KiB), `parallelism` and `hashLength`, each a list of which the first value
    /// counts, as Keycloak reads them. Empty for PBKDF2.
    pub additional_parameters: BTreeMap<String, Vec<String>>,
}

impl fmt::Debug for KeycloakCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeycloakCredential")
            .field("algorithm", &self.algorithm)
            .field("iterations", &self.iterations)
            .field("salt", &"[REDACTED]")
            .field("value", &"[REDACTED]")
            .field("additional_parameters", &self.additional_parameters)
            .finish()
    }
}

/// The HMAC digest of a PBKDF2 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Pbkdf2Digest {
    /// The PHC identifier: `pbkdf2` (SHA-1, as passlib and RustCrypto name it),
    /// `pbkdf2-sha256`, `pbkdf2-sha512`.
    pub const fn ident(self) -> &'static str {
        match self {
            Pbkdf2Digest::Sha1 => "pbkdf2",
            Pbkdf2Digest::Sha256 => "pbkdf2-sha256",
            Pbkdf2Digest::Sha512 => "pbkdf2-sha512",
        }
    }

    /// The digest's output length in bytes: one PBKDF2 block.
    pub const fn output_len(self) -> usize {
        match self {
            Pbkdf2Digest::Sha1 => 20,
            Pbkdf2Digest::Sha256 => 32,
            Pbkdf2Digest::Sha512 => 64,
        }
    }

    fn from_ident(ident: &str) -> Option<Self> {
        [Self::Sha1, Self::Sha256, Self::Sha512]
            .into_iter()
            .find(|digest| digest.ident() == ident)
    }
}

/// A PBKDF2 password hash: its digest, iteration count, salt and derived key, within
/// bounds (a salt of 8 to 128 bytes, a key of 16 to 128 bytes, 1 to 10,000,000
/// iterations for each digest-sized block of the key). Read from the PHC form
/// `$pbkdf2-sha256$i=27500,l=64$<salt>$<key>` (standard base64 without padding; `l`,
/// the key's length, optional) or passlib's `$pbkdf2-sha256$29000$<salt>$<key>`
/// (passlib's base64, `.` for `+`); `pbkdf2-sha512` and `pbkdf2` (SHA-1) likewise.
/// Only the digest and iterations show in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pbkdf2Hash {
    digest: Pbkdf2Digest,
    iterations: u32,
    salt: Vec<u8>,
    key: Vec<u8>,
}

impl Pbkdf2Hash {
    /// Iterations times the key's blocks: the work one verification may ask for.
    pub const MAX_WORK: u64 = 10_000_000;

    pub fn new(
        digest: Pbkdf2Digest,
        iterations: u32,
        salt: Vec<u8>,
        key: Vec<u8>,
    ) -> Result<Self, Invalid> {
        if iterations == 0 {
            return Err(Invalid::new("the iteration count must be at least 1"));
        }
        if !(8..=128).contains(&salt.len()) {
            return Err(Invalid::new("the salt must be 8 to 128 bytes long"));
        }
        if !(16..=128).contains(&key.len()) {
            return Err(Invalid::new("the hash must be 16 to 128 bytes long"));
        }
        let blocks = key.len().div_ceil(digest.output_len()) as u64;
        if u64::from(iterations) * blocks > Self::MAX_WORK {
            return Err(Invalid::new(format!(
                "the iteration count must be at most {} (10,000,000 for each {}-byte block \
                 of the hash)",
                Self::MAX_WORK / blocks,
                digest.output_len()
            )));
        }
        Ok(Self {
            digest,
            iterations,
            salt,
            key,
        })
    }

    /// A hash in PHC form or passlib's.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let form = || {
            Invalid::new(
                "must be a PBKDF2 hash: $pbkdf2-sha256$i=<iterations>[,l=<length>]$<salt>$<hash> \
                 (or -sha512, or $pbkdf2$ for SHA-1) or passlib's $pbkdf2-sha256$<iterations>$<salt>$<hash>",
            )
        };
        let mut fields = s.split('$');
        let (Some(""), Some(ident), Some(params), Some(salt), Some(key), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(form());
        };
        let digest = Pbkdf2Digest::from_ident(ident).ok_or_else(form)?;
        let (iterations, length, encoding) = if params.bytes().all(|b| b.is_ascii_digit()) {
            (Some(params), None, Base64::Passlib)
        } else {
            let mut iterations = None;
            let mut length = None;
            for param in params.split(',') {
                match param.split_once('=') {
                    Some(("i", value)) if iterations.is_none() => iterations = Some(value),
                    Some(("l", value)) if length.is_none() => length = Some(value),
                    _ => return Err(form()),
                }
            }
            (iterations, length, Base64::Unpadded)
        };
        let iterations = iterations
            .and_then(parse_decimal)
            .ok_or_else(|| Invalid::new("the iteration count must be a whole number"))?;
        let salt = decode_b64(salt, encoding)
            .ok_or_else(|| Invalid::new("the salt must be base64 without padding"))?;
        let key = decode_b64(key, encoding)
            .ok_or_else(|| Invalid::new("the hash must be base64 without padding"))?;
        if let Some(length) = length
            && parse_decimal(length).and_then(|l| usize::try_from(l).ok()) != Some(key.len())
        {
            return Err(Invalid::new("l must be the hash's length in bytes"));
        }
        Self::new(digest, iterations, salt, key)
    }

    /// The PHC string: `$<ident>$i=<iterations>,l=<length>$<salt>$<key>`.
    pub fn to_phc(&self) -> String {
        format!(
            "${}$i={},l={}${}${}",
            self.digest.ident(),
            self.iterations,
            self.key.len(),
            encode_b64(&self.salt),
            encode_b64(&self.key)
        )
    }

    pub fn digest(&self) -> Pbkdf2Digest {
        self.digest
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The derived key a password must reproduce.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for Pbkdf2Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pbkdf2Hash")
            .field("digest", &self.digest)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// A bcrypt hash: `$2a$`, `$2b$` or `$2y$`, a two-digit cost from 4 to 16, and 53
/// characters of bcrypt's base64 (the salt and the hash).
fn parse_bcrypt(s: &str) -> Result<(), Invalid> {
    // Bytes, not string slices: a multi-byte character must not end a slice.
    let bytes = s.as_bytes();
    let well_formed = ["$2a$", "$2b$", "$2y$"].iter().any(|p| s.starts_with(p))
        && bytes.len() == 60
        && bytes[4..6].iter().all(u8::is_ascii_digit)
        && bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/');
    if !well_formed {
        return Err(Invalid::new(
            "must be a bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost and 53 characters",
        ));
    }
    let cost = (bytes[4] - b'0') * 10 + (bytes[5] - b'0');
    if !(4..=16).contains(&cost) {
        return Err(Invalid::new("the bcrypt cost must be from 04 to 16"));
    }
    Ok(())
}

/// An Argon2 PHC string that the argon2 crate verifies, within the bounds named on
/// [`ImportedHash`].
fn parse_argon2(s: &str) -> Result<(), Invalid> {
    let hash = PasswordHash::new(s).map_err(|_| {
        Invalid::new(
            "must be an Argon2 PHC string: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>",
        )
    })?;
    if !["argon2id", "argon2i", "argon2d"].contains(&hash.algorithm.as_str()) {
        return Err(Invalid::new(
            "the algorithm must be argon2id, argon2i or argon2d",
        ));
    }
    // Without a version the reference implementation reads 16 and the argon2 crate 19:
    // such a hash would not verify as it was made.
    if !matches!(hash.version, Some(0x10 | 0x13)) {
        return Err(Invalid::new("the version must be given: v=19 or v=16"));
    }
    let param = |name: &str| hash.params.get_decimal(name);
    let (Some(m), Some(t), Some(p)) = (param("m"), param("t"), param("p")) else {
        return Err(Invalid::new("m, t and p must be given as whole numbers"));
    };
    if hash.params.iter().count() != 3 {
        return Err(Invalid::new("only m, t and p may be given"));
    }
    if !(1..=16).contains(&p) {
        return Err(Invalid::new("p must be from 1 to 16"));
    }
    if !(8 * p..=ARGON2_MAX_MEMORY_KIB).contains(&m) {
        return Err(Invalid::new(format!(
            "m must be from 8 × p to {ARGON2_MAX_MEMORY_KIB} KiB (1 GiB)"
        )));
    }
    if !(1..=16).contains(&t) || u64::from(m) * u64::from(t) > ARGON2_MAX_WORK_KIB {
        return Err(Invalid::new(format!(
            "t must be from 1 to 16, with m × t at most {ARGON2_MAX_WORK_KIB} (4 GiB)"
        )));
    }
    let mut buffer = [0u8; 64];
    let salt_len = hash
        .salt
        .and_then(|salt| salt.decode_b64(&mut buffer).ok().map(<[u8]>::len));
    if !salt_len.is_some_and(|len| (8..=48).contains(&len)) {
        return Err(Invalid::new("the salt must be 8 to 48 bytes long"));
    }
    // The password-hash crate holds hashes of 10 to 64 bytes only.
    if hash.hash.is_none() || argon2::Params::try_from(&hash).is_err() {
        return Err(Invalid::new("the hash must be 10 to 64 bytes long"));
    }
    Ok(())
}

const ARGON2_MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// libsodium's "sensitive" profile, 1 GiB in 4 passes, just fits.
const ARGON2_MAX_WORK_KIB: u64 = 4 * 1024 * 1024;

/// The PHC string of a Keycloak Argon2 credential, checked as any imported Argon2 hash.
fn keycloak_argon2(
    credential: &KeycloakCredential,
    salt: &[u8],
    value: &[u8],
) -> Result<String, Invalid> {
    let parameter = |name: &str| {
        credential
            .additional_parameters
            .get(name)
            .and_then(|values| values.first())
            .map(String::as_str)
            .ok_or_else(|| Invalid::new(format!("additionalParameters must give {name}")))
    };
    let number = |name: &str| {
        parameter(name).and_then(|value| {
            parse_decimal(value).ok_or_else(|| {
                Invalid::new(format!(
                    "additionalParameters' {name} must be a whole number"
                ))
            })
        })
    };
    let algorithm = match parameter("type")? {
        "id" => "argon2id",
        "i" => "argon2i",
        "d" => "argon2d",
        _ => {
            return Err(Invalid::new(
                "additionalParameters' type must be id, i or d",
            ));
        }
    };
    let version = match parameter("version")? {
        "1.3" => 0x13,
        "1.0" => 0x10,
        _ => {
            return Err(Invalid::new(
                "additionalParameters' version must be 1.3 or 1.0",
            ));
        }
    };
    let (memory, parallelism) = (number("memory")?, number("parallelism")?);
    if usize::try_from(number("hashLength")?).ok() != Some(value.len()) {
        return Err(Invalid::new(
            "additionalParameters' hashLength must be the value's length in bytes",
        ));
    }
    let phc = format!(
        "${algorithm}$v={version}$m={memory},t={},p={parallelism}${}${}",
        credential.iterations,
        encode_b64(salt),
        encode_b64(value)
    );
    parse_argon2(&phc).map(|()| phc)
}

/// The base64 variants imported hashes come in.
#[derive(Clone, Copy)]
enum Base64 {
    /// The PHC string format's: standard alphabet, no padding.
    Unpadded,
    /// Keycloak's: standard alphabet, padded (or not).
    Padded,
    /// passlib's "ab64": `.` in place of `+`, no padding.
    Passlib,
}

fn decode_b64(s: &str, variant: Base64) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const PADDED: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    match variant {
        Base64::Unpadded => base64::engine::general_purpose::STANDARD_NO_PAD.decode(s),
        Base64::Padded => PADDED.decode(s),
        Base64::Passlib => {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.replace('.', "+"))
        }
    }
    .ok()
}

fn encode_b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// A decimal number of at most ten digits, no sign.
fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
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

/// The hashes of `tests/fixtures/hashes/hashes.json` (made by argon2-cffi, bcrypt,
/// passlib and hashlib) as Roster holds them: `(kind, password, hash)`.
#[cfg(test)]
pub(crate) fn imported_hash_fixtures() -> Vec<(String, String, ImportedHash)> {
    let text = include_str!("../../tests/fixtures/hashes/hashes.json");
    let fixtures: Vec<serde_json::Value> = serde_json::from_str(text).unwrap();
    fixtures
        .iter()
        .map(|fixture| {
            let text = |value: &serde_json::Value| value.as_str().unwrap().to_owned();
            let kind = text(&fixture["kind"]);
            let hash = match (fixture.get("hash"), fixture.get("keycloak")) {
                (Some(hash), None) => ImportedHash::parse(text(hash)),
                (None, Some(k)) => ImportedHash::from_keycloak(&KeycloakCredential {
                    algorithm: text(&k["algorithm"]),
                    iterations: u32::try_from(k["iterations"].as_u64().unwrap()).unwrap(),
                    salt: text(&k["salt"]),
                    value: text(&k["value"]),
                    additional_parameters: serde_json::from_value(
                        k["additionalParameters"].clone(),
                    )
                    .unwrap(),
                }),
                _ => panic!("{kind}: a fixture has a hash or a Keycloak credential"),
            };
            let hash = hash.unwrap_or_else(|refused| panic!("{kind}: {}", refused.reason));
            (kind, text(&fixture["password"]), hash)
        })
        .collect()
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
    fn imported_hashes_are_argon2_bcrypt_or_pbkdf2() {
        let bcrypt = "$2a$10$mRVfrAf72N66anVNhA1KVuYaOwOrXhFzxyg6bwgZemUeVo2MNOpIa";
        assert!(ImportedHash::parse(bcrypt).is_ok());
        assert!(ImportedHash::parse(bcrypt.replace("$2a$", "$2y$")).is_ok());
        let argon2 = "$argon2id$v=19$m=8192,t=1,p=1$1qZIPbNgHyOM4nEmZ/wSmw$M44aMfpUCB4klAPGpYAUmw";
        assert_eq!(ImportedHash::parse(argon2).unwrap().as_str(), argon2);
        // 60 bytes, with a three-byte character across the cost's offsets.
        let multibyte = format!("$2a$€{}", "a".repeat(53));
        assert_eq!(multibyte.len(), 60);
        for bad in [
            "plain",
            "$2a$10$short",
            "$1$md5$crypt",
            "$argon2id$",
            "$pbkdf2-sha256$",
            &multibyte,
        ] {
            assert!(ImportedHash::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", ImportedHash::parse(bcrypt).unwrap()).contains("mRV"));
    }

    #[test]
    fn every_fixture_is_accepted_and_held_in_one_form_per_algorithm() {
        let fixtures = imported_hash_fixtures();
        assert!(fixtures.len() >= 20);
        for (kind, _, hash) in &fixtures {
            let held = hash.as_str();
            let prefix = if kind.contains("argon2") {
                "$argon2"
            } else if kind.starts_with("bcrypt") {
                "$2"
            } else if kind.contains("sha256") {
                "$pbkdf2-sha256$i="
            } else if kind.contains("sha512") {
                "$pbkdf2-sha512$i="
            } else {
                "$pbkdf2$i="
            };
            assert!(held.starts_with(prefix), "{kind}: {held}");
            // What is held parses again as itself.
            assert_eq!(ImportedHash::parse(held).as_ref(), Ok(hash), "{kind}");
        }
        let kinds: Vec<&str> = fixtures.iter().map(|(kind, ..)| kind.as_str()).collect();
        for kind in [
            "argon2id",
            "argon2i",
            "bcrypt-2y",
            "pbkdf2-sha256-passlib",
            "pbkdf2-sha512-phc",
            "pbkdf2-sha1-passlib",
            "keycloak-pbkdf2-sha256",
            "keycloak-pbkdf2-sha512",
            "keycloak-pbkdf2-sha1",
            "keycloak-argon2",
        ] {
            assert!(kinds.contains(&kind), "{kind}");
        }
    }

    #[test]
    fn passlib_and_keycloak_pbkdf2_hashes_become_the_same_phc_string() {
        let passlib = Pbkdf2Hash::parse(
            "$pbkdf2-sha256$29000$PWJw72Ret1A4Pm6YIB.16A$o7UbKQvZH9QxINI2W9ataFBPY/nVoY.6Bd.9YoNxNG0",
        )
        .unwrap();
        assert_eq!(passlib.digest(), Pbkdf2Digest::Sha256);
        assert_eq!(passlib.iterations(), 29000);
        assert_eq!((passlib.salt().len(), passlib.key().len()), (16, 32));
        let phc = passlib.to_phc();
        assert_eq!(
            phc,
            "$pbkdf2-sha256$i=29000,l=32$PWJw72Ret1A4Pm6YIB+16A$o7UbKQvZH9QxINI2W9ataFBPY/nVoY+6Bd+9YoNxNG0"
        );
        let keycloak = KeycloakCredential {
            algorithm: "pbkdf2-sha256".into(),
            iterations: 29000,
            salt: "PWJw72Ret1A4Pm6YIB+16A==".into(),
            value: "o7UbKQvZH9QxINI2W9ataFBPY/nVoY+6Bd+9YoNxNG0=".into(),
            additional_parameters: BTreeMap::new(),
        };
        assert_eq!(
            ImportedHash::from_keycloak(&keycloak).unwrap().as_str(),
            phc
        );
        // Without `l`, the key's length is the decoded key's.
        let no_length = phc.replace("i=29000,l=32", "i=29000");
        assert_eq!(ImportedHash::parse(no_length).unwrap().as_str(), phc);
    }

    #[test]
    fn malformed_or_absurd_hashes_are_refused_with_a_reason() {
        let salt = "A6M5pPpb8cZ/SSFgjWAiRg";
        let key = "nEL892axtZ6SsCeBUgyegKPuEO8PC6GYLbEY5IuJvYw";
        let cases = [
            (format!("$pbkdf2-sha256$i=0${salt}${key}"), "at least 1"),
            (
                format!("$pbkdf2-sha256$i=10000001${salt}${key}"),
                "at most 10000000",
            ),
            // A 64-byte SHA-1 key is four blocks: a quarter of the iterations.
            (
                format!("$pbkdf2$i=2500001${salt}${}", "A".repeat(86)),
                "at most 2500000",
            ),
            (format!("$pbkdf2-sha256$i=x${salt}${key}"), "whole number"),
            (format!("$pbkdf2-sha256$i=-1${salt}${key}"), "whole number"),
            (
                format!("$pbkdf2-sha256$i=99999999999${salt}${key}"),
                "whole number",
            ),
            (
                format!("$pbkdf2-sha256$i=1000,l=16${salt}${key}"),
                "l must be",
            ),
            (
                format!("$pbkdf2-sha256$i=1000,m=16${salt}${key}"),
                "must be a PBKDF2",
            ),
            (
                format!("$pbkdf2-sha256$i=1000,i=16${salt}${key}"),
                "must be a PBKDF2",
            ),
            (
                format!("$pbkdf2-sha384$i=1000${salt}${key}"),
                "must be a PBKDF2",
            ),
            (
                format!("$pbkdf2-sha256$i=1000${salt}${key}$"),
                "must be a PBKDF2",
            ),
            (
                format!("$pbkdf2-sha256$i=1000$c2FsdA${key}"),
                "salt must be 8 to 128",
            ),
            (
                format!("$pbkdf2-sha256$i=1000${salt}$aGFzaA"),
                "hash must be 16 to 128",
            ),
            (
                format!("$pbkdf2-sha256$i=1000${salt}==${key}"),
                "salt must be base64",
            ),
            (
                format!("$pbkdf2-sha256$1000${salt}${key}*"),
                "hash must be base64",
            ),
            (
                "$2a$03$mRVfrAf72N66anVNhA1KVuYaOwOrXhFzxyg6bwgZemUeVo2MNOpIa".into(),
                "cost",
            ),
            (
                "$2b$31$mRVfrAf72N66anVNhA1KVuYaOwOrXhFzxyg6bwgZemUeVo2MNOpIa".into(),
                "cost",
            ),
            (
                "$argon2id$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                "version",
            ),
            (
                "$argon2id$v=18$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                "version",
            ),
            (
                "$argon2id$v=19$m=8192,t=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                "m, t and p",
            ),
            (
                "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                "m must",
            ),
            (
                "$argon2id$v=19$m=1048576,t=5,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                "m × t",
            ),
            (
                "$argon2id$v=19$m=8192,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                "t must",
            ),
            (
                "$argon2id$v=19$m=8192,t=1,p=64$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                "p must",
            ),
            (
                "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNo".into(),
                "salt",
            ),
            (
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
                "Argon2 PHC",
            ),
            (
                "$argon2x$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                "argon2id, argon2i",
            ),
            (
                format!("$pbkdf2-sha256$i=1000${}${key}", "A".repeat(600)),
                "at most 512",
            ),
        ];
        for (hash, reason) in cases {
            let refused = ImportedHash::parse(hash.as_str()).unwrap_err();
            assert!(
                refused.reason.contains(reason),
                "{hash}: {}",
                refused.reason
            );
            assert!(!refused.reason.contains(salt), "{hash}: {}", refused.reason);
        }
    }

    #[test]
    fn keycloak_credentials_that_could_not_verify_are_refused_with_a_reason() {
        let argon2 = || KeycloakCredential {
            algorithm: "argon2".into(),
            iterations: 5,
            salt: "R3fdcPiwQyDQeCGPgHvqLw==".into(),
            value: "KHulzPzQ1Y7adPS210GL6vvZbD7ckfZ+1rJAl8QMU9c=".into(),
            additional_parameters: [
                ("type", "id"),
                ("version", "1.3"),
                ("memory", "7168"),
                ("parallelism", "1"),
                ("hashLength", "32"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
            .collect(),
        };
        assert_eq!(
            ImportedHash::from_keycloak(&argon2()).unwrap().as_str(),
            "$argon2id$v=19$m=7168,t=5,p=1$R3fdcPiwQyDQeCGPgHvqLw\
             $KHulzPzQ1Y7adPS210GL6vvZbD7ckfZ+1rJAl8QMU9c"
        );
        let with = |change: fn(&mut KeycloakCredential)| {
            let mut credential = argon2();
            change(&mut credential);
            ImportedHash::from_keycloak(&credential).unwrap_err().reason
        };
        fn param(c: &mut KeycloakCredential, name: &str, value: &str) {
            c.additional_parameters
                .insert(name.to_owned(), vec![value.to_owned()]);
        }
        assert!(with(|c| c.algorithm = "md5".into()).contains("pbkdf2-sha256, pbkdf2-sha512"));
        assert!(with(|c| c.salt = "not base64!".into()).contains("salt must be standard base64"));
        assert!(with(|c| c.value = "%%%".into()).contains("value must be standard base64"));
        assert!(with(|c| c.iterations = 0).contains("t must"));
        assert!(with(|c| param(c, "type", "x")).contains("type must be id, i or d"));
        assert!(with(|c| param(c, "version", "1.1")).contains("version must be 1.3 or 1.0"));
        assert!(with(|c| param(c, "memory", "lots")).contains("memory must be a whole number"));
        assert!(with(|c| param(c, "memory", "9999999")).contains("m must"));
        assert!(with(|c| param(c, "hashLength", "64")).contains("hashLength must be"));
        assert!(
            with(|c| {
                c.additional_parameters.remove("parallelism");
            })
            .contains("must give parallelism")
        );
        let pbkdf2 = |iterations| {
            KeycloakCredential {
            algorithm: "pbkdf2-sha256".into(),
            iterations,
            salt: "30ZqD8ycEG03d11S7eSPPg==".into(),
            value: "NjZJB+UUTXBijN23MrWDSqpLA18a5TonvAiqOIuRjx08sETUkpDGVkR6SQsTRohfd+7kQy2xqiKHr5y7B5QA+Q==".into(),
            additional_parameters: BTreeMap::new(),
        }
        };
        assert!(ImportedHash::from_keycloak(&pbkdf2(600_000)).is_ok());
        // A 64-byte key of SHA-256 is two blocks.
        let refused = ImportedHash::from_keycloak(&pbkdf2(5_000_001)).unwrap_err();
        assert!(
            refused.reason.contains("at most 5000000"),
            "{}",
            refused.reason
        );
        assert!(ImportedHash::from_keycloak(&pbkdf2(0)).is_err());
    }

    #[test]
    fn imported_hashes_and_keycloak_credentials_never_print_their_secrets() {
        for (kind, password, hash) in imported_hash_fixtures() {
            let shown = format!("{hash:?}");
            assert_eq!(shown, "ImportedHash([REDACTED])", "{kind}");
            assert!(!shown.contains(&password));
        }
        let credential = KeycloakCredential {
            algorithm: "pbkdf2-sha256".into(),
            iterations: 27500,
            salt: "30ZqD8ycEG03d11S7eSPPg==".into(),
            value: "NjZJB+UUTXBijN23MrWDSqpLA18a5TonvAiqOIuRjx08sETUkpDGVkR6SQsTRohfd+7kQy2xqiKHr5y7B5QA+Q==".into(),
            additional_parameters: BTreeMap::new(),
        };
        let shown = format!("{credential:?}");
        assert!(
            shown.contains("pbkdf2-sha256") && shown.contains("27500"),
            "{shown}"
        );
        assert!(
            !shown.contains("30ZqD8") && !shown.contains("NjZJB"),
            "{shown}"
        );
        let hash = ImportedHash::from_keycloak(&credential).unwrap();
        let parsed = Pbkdf2Hash::parse(hash.as_str()).unwrap();
        let shown = format!("{parsed:?}");
        assert_eq!(
            shown,
            "Pbkdf2Hash { digest: Sha256, iterations: 27500, .. }"
        );
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
