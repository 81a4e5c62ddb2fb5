//! Password hashing with Argon2id, off the async workers and with bounded
//! concurrency: each hash holds `memory_kib` of memory, so a flood of sign-ups or
//! sign-ins queues instead of exhausting memory or starving other requests.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::domain::NewPassword;

/// Argon2id cost parameters. The defaults are OWASP's recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// How many hashes may run at once.
    pub max_concurrent: usize,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Hashes passwords into PHC strings and verifies them.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: PasswordParams,
    permits: Arc<Semaphore>,
    /// A hash of nothing anyone knows, verified against when a sign-in names no
    /// user, so that unknown addresses cost what wrong passwords cost.
    dummy: Arc<OnceCell<String>>,
}

/// What verifying a password found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The stored hash is not Argon2id with the current parameters (an imported
    /// bcrypt hash, or older parameters): re-hash on this successful sign-in.
    pub needs_rehash: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid Argon2 parameters: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

impl PasswordHasher {
    pub fn new(params: PasswordParams) -> Result<Self, PasswordError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params),
            params,
            permits: Arc::new(Semaphore::new(params.max_concurrent.max(1))),
            dummy: Arc::new(OnceCell::new()),
        })
    }

    /// Checks `password` against a stored hash: an Argon2 PHC string (any variant and
    /// parameters) or a bcrypt hash (`$2a$`, `$2b$`, `$2y$`). With no stored hash it
    /// verifies against a dummy hash and answers no match, at the same cost.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verification, PasswordError> {
        let stored = match stored {
            Some(stored) => stored.to_owned(),
            None => self.dummy_hash().await?.to_owned(),
        };
        let known = stored.starts_with("$argon2") || is_bcrypt(&stored);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let argon2 = self.argon2.clone();
        let params = self.params;
        let password = password.to_owned();
        let dummy_used = self.dummy.get().is_some_and(|dummy| *dummy == stored);
        let verification = tokio::task::spawn_blocking(move || {
            if is_bcrypt(&stored) {
                let matches = bcrypt::verify(&password, &stored).unwrap_or(false);
                return Verification {
                    matches,
                    needs_rehash: true,
                };
            }
            match PasswordHash::new(&stored) {
                Ok(hash) => Verification {
                    matches: argon2.verify_password(password.as_bytes(), &hash).is_ok(),
                    needs_rehash: !is_current(&hash, &params),
                },
                Err(_) => Verification {
                    matches: false,
                    needs_rehash: false,
                },
            }
        })
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
        Ok(Verification {
            matches: verification.matches && known && !dummy_used,
            ..verification
        })
    }

    async fn dummy_hash(&self) -> Result<&str, PasswordError> {
        self.dummy
            .get_or_try_init(|| async {
                let mut bytes = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
                let unknowable = crate::domain::NewPassword::parse(format!("{bytes:02x?}"))
                    .map_err(|e| PasswordError::Hash(e.reason))?;
                self.hash(&unknowable).await
            })
            .await
            .map(String::as_str)
    }

    /// The PHC string (`$argon2id$v=19$m=…`) of `password` with a fresh salt.
    pub async fn hash(&self, password: &NewPassword) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let argon2 = self.argon2.clone();
        let password = password.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| PasswordError::Hash(e.to_string()))
        })
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))?
    }
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| hash.starts_with(prefix))
}

/// Whether an Argon2 hash is Argon2id with exactly the configured parameters.
fn is_current(hash: &PasswordHash<'_>, params: &PasswordParams) -> bool {
    let param = |name: &str| hash.params.get_decimal(name);
    hash.algorithm.as_str() == "argon2id"
        && param("m") == Some(params.memory_kib)
        && param("t") == Some(params.iterations)
        && param("p") == Some(params.parallelism)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_the_configured_cost() {
        let hasher = PasswordHasher::new(PasswordParams {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
        })
        .unwrap();
        let password = NewPassword::parse("correct horse battery").unwrap();
        let a = hasher.hash(&password).await.unwrap();
        let b = hasher.hash(&password).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "salts differ");
        assert!(!a.contains("horse"));
    }

    fn small() -> PasswordHasher {
        PasswordHasher::new(PasswordParams {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn verification_accepts_argon2_and_bcrypt_and_flags_rehashes() {
        let hasher = small();
        let password = NewPassword::parse("correct horse battery").unwrap();
        let current = hasher.hash(&password).await.unwrap();
        let ok = hasher
            .verify("correct horse battery", Some(&current))
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        assert!(
            !hasher
                .verify("wrong horse battery", Some(&current))
                .await
                .unwrap()
                .matches
        );

        let bcrypt = bcrypt::hash("correct horse battery", 4).unwrap();
        let imported = hasher
            .verify("correct horse battery", Some(&bcrypt))
            .await
            .unwrap();
        assert_eq!(
            imported,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
        let y = bcrypt.replacen("$2b$", "$2y$", 1);
        assert!(
            hasher
                .verify("correct horse battery", Some(&y))
                .await
                .unwrap()
                .matches
        );

        let older = PasswordHasher::new(PasswordParams {
            iterations: 2,
            ..hasher.params
        })
        .unwrap();
        let old = older.hash(&password).await.unwrap();
        let checked = hasher
            .verify("correct horse battery", Some(&old))
            .await
            .unwrap();
        assert_eq!(
            checked,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
    }

    #[tokio::test]
    async fn no_stored_hash_never_matches() {
        let hasher = small();
        assert!(
            !hasher
                .verify("anything at all", None)
                .await
                .unwrap()
                .matches
        );
        assert!(
            !hasher
                .verify("x", Some("not a hash"))
                .await
                .unwrap()
                .matches
        );
    }
}
