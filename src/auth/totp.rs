//! Two-factor credentials: TOTP (RFC 6238: HMAC-SHA1, six digits, 30-second steps,
//! the parameters every authenticator app understands) and one-time recovery codes.
//!
//! A TOTP secret must be readable to compute codes, so it is stored as it is (as
//! Keycloak and Kanidm do); recovery codes are random enough to be stored as
//! SHA-256 hashes, like every other token.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qrcode::QrCode;
use qrcode::render::svg;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use totp_rs::{Algorithm, TOTP};

use super::sha256;

/// The parameters every authenticator app reads: HMAC-SHA1, six digits, 30 seconds.
pub const TOTP_ALGORITHM: &str = "SHA1";
pub const TOTP_DIGITS: usize = 6;
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Steps either side of now that are accepted, for clocks a little apart.
const SKEW_STEPS: u64 = 1;
/// 160 bits, the HMAC-SHA1 block the RFC 4226 reference uses.
const SECRET_BYTES: usize = 20;
/// How many recovery codes a user receives at once.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Recovery codes are written in this alphabet (RFC 4648 base32 without the
/// letters and digits that are read as one another), in groups of five.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_GROUPS: usize = 4;
const RECOVERY_GROUP_LEN: usize = 5;

/// A TOTP shared secret (raw bytes; base32 where people and apps see it).
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret from its base32 form (as stored).
    pub fn from_base32(encoded: &str) -> Option<Self> {
        base32::decode(base32::Alphabet::Rfc4648 { padding: false }, encoded).map(Self)
    }

    /// The base32 form (no padding), as authenticator apps take it typed in.
    pub fn to_base32(&self) -> String {
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &self.0)
    }

    fn totp(&self, issuer: &str, account: &str) -> TOTP {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            TOTP_DIGITS,
            SKEW_STEPS as u8,
            TOTP_STEP_SECONDS,
            self.0.clone(),
            Some(issuer.to_owned()),
            account.to_owned(),
        )
    }

    /// The `otpauth://totp/…` URI (Google Authenticator's key URI format) that an
    /// authenticator app reads from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        self.totp(issuer, account).get_url()
    }

    /// The time step (30-second counter) whose code `code` is, within one step of
    /// `unix_seconds`, or `None`. The caller must accept each step at most once
    /// (RFC 6238 §5.2).
    pub fn matching_step(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        let code = code.trim();
        if !is_totp_code(code) {
            return None;
        }
        let totp = self.totp("", "");
        let now = unix_seconds / TOTP_STEP_SECONDS;
        // Every candidate is computed and compared in full, so the time taken does
        // not tell which step (if any) matched.
        (now.saturating_sub(SKEW_STEPS)..=now + SKEW_STEPS).fold(None, |found, step| {
            let candidate = totp.generate(step * TOTP_STEP_SECONDS);
            if constant_time_eq(candidate.as_bytes(), code.as_bytes()) {
                Some(step)
            } else {
                found
            }
        })
    }
}

/// Whether `code` has the form of a TOTP code (six digits), as against a recovery
/// code.
pub fn is_totp_code(code: &str) -> bool {
    code.len() == TOTP_DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// An SVG image of a QR code holding `text`, as a `data:` URI that an `<img>` shows.
pub fn qr_code_data_uri(text: &str) -> Result<String, qrcode::types::QrError> {
    let image = QrCode::new(text.as_bytes())?
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(image)
    ))
}

/// Fresh recovery codes, such as `k7m2q-x9bcd-r4tnp-w3hfa` (20 characters of a
/// 31-letter alphabet: 99 bits each).
pub fn generate_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            (0..RECOVERY_GROUPS)
                .map(|_| {
                    (0..RECOVERY_GROUP_LEN)
                        .map(|_| {
                            RECOVERY_ALPHABET[OsRng.gen_range(0..RECOVERY_ALPHABET.len())] as char
                        })
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The stored form of a recovery code as typed: letter case, spaces and dashes do
/// not matter.
pub fn recovery_code_hash(code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    sha256(&normal)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (eight digits there; the last six here).
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        for (time, code) in [
            (59u64, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(secret.matching_step(code, time), Some(time / 30), "{time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let secret = TotpSecret::generate();
        let totp = secret.totp("", "");
        let now = 1_700_000_000u64;
        let step = now / 30;
        for offset in [-1i64, 0, 1] {
            let at = (step as i64 + offset) as u64 * 30;
            let code = totp.generate(at);
            assert_eq!(secret.matching_step(&code, now), Some(at / 30));
        }
        for offset in [-3i64, 3] {
            let code = totp.generate((step as i64 + offset) as u64 * 30);
            // A far code may by chance equal a near one; it then names the near step.
            if let Some(found) = secret.matching_step(&code, now) {
                assert!(found.abs_diff(step) <= 1);
            }
        }
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("abcdef", now), None);
    }

    #[test]
    fn the_uri_names_issuer_account_and_base32_secret() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        let uri = secret.otpauth_uri("Acme Inc", "ada@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Inc:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Inc"
        );
        assert_eq!(
            TotpSecret::from_base32(&secret.to_base32()).unwrap().0,
            secret.0
        );
        assert!(
            qr_code_data_uri(&uri)
                .unwrap()
                .starts_with("data:image/svg+xml;base64,")
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
        let code = &codes[0];
        assert_eq!(code.len(), 23);
        assert_eq!(
            recovery_code_hash(code),
            recovery_code_hash(&format!(" {} ", code.to_uppercase().replace('-', " ")))
        );
    }
}
