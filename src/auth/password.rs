//! Password hashing with Argon2id on a fixed pool of hashing threads, off the async
//! workers: each hash holds `memory_kib` of memory, so a flood of sign-ups or
//! sign-ins queues for the pool instead of exhausting memory or starving other
//! requests.
//!
//! Each hashing thread keeps its Argon2 memory between hashes (allocating, zeroing
//! and faulting in 19 MiB for every sign-in costs about a tenth of the verification
//! itself), and takes the next queued hash as soon as it finishes one, with no hop
//! through the async runtime in between.
//!
//! The pool counts its queued and running hashes and times each hash's wait in the
//! queue, for the metrics: a queue that grows is the first sign that sign-ins arrive
//! faster than the threads can verify them.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, oneshot};

use crate::domain::{NewPassword, Pbkdf2Digest, Pbkdf2Hash};

/// Argon2id cost parameters. The defaults are OWASP's recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// How many hashes may run at once: the number of hashing threads.
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
    pool: HashingPool,
    /// A hash of nothing anyone knows, verified against when a sign-in names no
    /// user, so that unknown addresses cost what wrong passwords cost.
    dummy: Arc<OnceCell<String>>,
}

/// What verifying a password found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The stored hash is not Argon2id with the current parameters (an imported
    /// bcrypt or PBKDF2 hash, or older parameters): re-hash on this successful sign-in.
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
            pool: HashingPool::start(params.max_concurrent.max(1))?,
            dummy: Arc::new(OnceCell::new()),
        })
    }

    /// Checks `password` against a stored hash: an Argon2 PHC string (any variant and
    /// parameters), a bcrypt hash (`$2a$`, `$2b$`, `$2y$`) or a PBKDF2 hash in the PHC
    /// form [`ImportedHash`](crate::domain::ImportedHash) holds it in. Anything but
    /// Argon2id under the current parameters asks for a re-hash. With no stored hash it
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
        let known = stored.starts_with("$argon2") || is_bcrypt(&stored) || is_pbkdf2(&stored);
        let argon2 = self.argon2.clone();
        let params = self.params;
        let password = password.to_owned();
        let dummy_used = self.dummy.get().is_some_and(|dummy| *dummy == stored);
        let verification = self.pool.run(move |memory| {
            if is_bcrypt(&stored) {
                let matches = bcrypt::verify(&password, &stored).unwrap_or(false);
                return Verification {
                    matches,
                    needs_rehash: true,
                };
            }
            if is_pbkdf2(&stored) {
                let matches = Pbkdf2Hash::parse(&stored)
                    .is_ok_and(|hash| pbkdf2_matches(&hash, password.as_bytes()));
                return Verification {
                    matches,
                    needs_rehash: true,
                };
            }
            match PasswordHash::new(&stored) {
                Ok(hash) if is_current(&hash, &params) => Verification {
                    matches: verify_into(
                        &argon2,
                        &hash,
                        password.as_bytes(),
                        memory.blocks(&argon2),
                    ),
                    needs_rehash: false,
                },
                Ok(hash) => Verification {
                    matches: argon2.verify_password(password.as_bytes(), &hash).is_ok(),
                    needs_rehash: true,
                },
                Err(_) => Verification {
                    matches: false,
                    needs_rehash: false,
                },
            }
        });
        let verification = verification.await?;
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
                let unknowable = crate::domain::NewPassword::verified(&format!("{bytes:02x?}"));
                self.hash(&unknowable).await
            })
            .await
            .map(String::as_str)
    }

    /// The PHC string (`$argon2id$v=19$m=…`) of `password` with a fresh salt.
    pub async fn hash(&self, password: &NewPassword) -> Result<String, PasswordError> {
        let argon2 = self.argon2.clone();
        let password = password.clone();
        self.pool
            .run(move |memory| {
                let salt = SaltString::generate(&mut OsRng);
                let blocks = memory.blocks(&argon2);
                hash_into(&argon2, &salt, password.expose().as_bytes(), blocks)
            })
            .await?
    }

    /// Registers the hashing pool's metrics in `registry`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        let load = &self.pool.load;
        registry.register(
            "roster_password_hashes_queued",
            "Password hashes and verifications waiting for a hashing thread",
            load.queued.clone(),
        );
        registry.register(
            "roster_password_hashes_running",
            "Password hashes and verifications being computed",
            load.running.clone(),
        );
        registry.register(
            "roster_password_hash_threads",
            "Hashing threads: how many hashes run at once",
            load.threads.clone(),
        );
        registry.register(
            "roster_password_hash_queue_seconds",
            "Time a password hash or verification waited for a hashing thread",
            load.queue_seconds.clone(),
        );
    }
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A fixed set of threads that run hashing jobs in the order they were queued.
/// The threads end when the last clone of the pool is dropped.
#[derive(Clone)]
struct HashingPool {
    queue: mpsc::Sender<Job>,
    load: HashingLoad,
}

/// Upper bounds of the queue-wait buckets, in seconds: none while a thread is free,
/// then multiples of one hash (tens of milliseconds) as sign-ins pile up.
const QUEUE_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How busy the hashing threads are.
#[derive(Debug, Clone)]
struct HashingLoad {
    queued: Gauge,
    running: Gauge,
    threads: Gauge,
    queue_seconds: Histogram,
}

impl HashingLoad {
    fn new(threads: usize) -> Self {
        let load = Self {
            queued: Gauge::default(),
            running: Gauge::default(),
            threads: Gauge::default(),
            queue_seconds: Histogram::new(QUEUE_BUCKETS),
        };
        load.threads.set(i64::try_from(threads).unwrap_or(i64::MAX));
        load
    }

    /// A job leaves the queue for a thread, after waiting since `queued_at`.
    fn start(&self, queued_at: Instant) -> Running<'_> {
        self.queue_seconds
            .observe(queued_at.elapsed().as_secs_f64());
        self.queued.dec();
        self.running.inc();
        Running(self)
    }
}

/// A job on a hashing thread; counted as running until dropped (a panicking hash
/// included).
struct Running<'a>(&'a HashingLoad);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.dec();
    }
}

impl HashingPool {
    fn start(threads: usize) -> Result<Self, PasswordError> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    let mut memory = Memory::default();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let next = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match next {
                            Ok(job) => job(&mut memory),
                            Err(mpsc::RecvError) => break,
                        }
                    }
                })
                .map_err(|e| PasswordError::Hash(e.to_string()))?;
        }
        Ok(Self {
            queue,
            load: HashingLoad::new(threads),
        })
    }

    /// Runs `work` on a hashing thread and answers its result.
    async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> R + Send + 'static,
    ) -> Result<R, PasswordError> {
        let (done, result) = oneshot::channel();
        let load = self.load.clone();
        let queued_at = Instant::now();
        let job: Job = Box::new(move |memory| {
            let _running = load.start(queued_at);
            // The caller may have gone (its request was cancelled); nothing to tell.
            let _ = done.send(work(memory));
        });
        self.load.queued.inc();
        if self.queue.send(job).is_err() {
            self.load.queued.dec();
            return Err(PasswordError::Hash(
                "the hashing threads have stopped".into(),
            ));
        }
        result
            .await
            .map_err(|_| PasswordError::Hash("a hashing job was lost".into()))
    }
}

/// A hashing thread's Argon2 working memory, kept between hashes.
#[derive(Default)]
struct Memory(Vec<Block>);

impl Memory {
    /// Memory for `argon2`'s parameters (Argon2 overwrites every block it uses, so
    /// what an earlier hash left there does not matter).
    fn blocks(&mut self, argon2: &Argon2<'_>) -> &mut [Block] {
        let count = argon2.params().block_count();
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        &mut self.0[..count]
    }
}

/// The PHC string of `password` hashed with `argon2` in `blocks`.
fn hash_into(
    argon2: &Argon2<'_>,
    salt: &SaltString,
    password: &[u8],
    blocks: &mut [Block],
) -> Result<String, PasswordError> {
    let failed = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| failed(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(password, salt_bytes, &mut out, blocks)
        .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` hashes to `hash` (whose parameters are `argon2`'s) in `blocks`;
/// the comparison takes the same time wherever the outputs differ.
fn verify_into(
    argon2: &Argon2<'_>,
    hash: &PasswordHash<'_>,
    password: &[u8],
    blocks: &mut [Block],
) -> bool {
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    argon2
        .hash_password_into_with_memory(password, salt_bytes, &mut out, blocks)
        .is_ok()
        && Output::new(&out).is_ok_and(|output| output == expected)
}

/// Whether `password` derives `hash`'s key; the comparison takes the same time
/// wherever the keys differ.
fn pbkdf2_matches(hash: &Pbkdf2Hash, password: &[u8]) -> bool {
    let mut derived = vec![0u8; hash.key().len()];
    let derive = match hash.digest() {
        Pbkdf2Digest::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>,
        Pbkdf2Digest::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>,
        Pbkdf2Digest::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>,
    };
    derive(password, hash.salt(), hash.iterations(), &mut derived);
    derived.ct_eq(hash.key()).into()
}

fn is_pbkdf2(hash: &str) -> bool {
    hash.starts_with("$pbkdf2")
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| hash.starts_with(prefix))
}

/// Whether an Argon2 hash is Argon2id version 19 with exactly the configured
/// parameters (and no key id or associated data).
fn is_current(hash: &PasswordHash<'_>, params: &PasswordParams) -> bool {
    let param = |name: &str| hash.params.get_decimal(name);
    hash.algorithm.as_str() == "argon2id"
        && hash.version == Some(Version::V0x13.into())
        && hash.params.iter().count() == 3
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
        let password = NewPassword::verified("correct horse battery");
        let a = hasher.hash(&password).await.unwrap();
        let b = hasher.hash(&password).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "salts differ");
        assert!(!a.contains("horse"));
    }

    #[tokio::test]
    async fn reused_memory_hashes_as_the_reference_implementation_does() {
        let hasher = small();
        let password = NewPassword::verified("correct horse battery");
        // Ours, checked by the argon2 crate's own verifier.
        let ours = hasher.hash(&password).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            hasher
                .argon2
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        // The argon2 crate's, checked by ours (twice, the second time in the memory
        // the first one left behind).
        let salt = SaltString::generate(&mut OsRng);
        let reference =
            argon2::PasswordHasher::hash_password(&hasher.argon2, b"correct horse battery", &salt)
                .unwrap()
                .to_string();
        for _ in 0..2 {
            let checked = hasher
                .verify("correct horse battery", Some(&reference))
                .await
                .unwrap();
            assert!(checked.matches && !checked.needs_rehash);
            assert!(
                !hasher
                    .verify("wrong", Some(&reference))
                    .await
                    .unwrap()
                    .matches
            );
        }
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
        let password = NewPassword::verified("correct horse battery");
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

    #[tokio::test]
    async fn every_imported_fixture_verifies_with_its_password_and_no_other() {
        // Parameters none of the fixtures has, so that every one asks for a re-hash.
        let hasher = PasswordHasher::new(PasswordParams {
            iterations: 2,
            ..small().params
        })
        .unwrap();
        let fixtures = crate::domain::imported_hash_fixtures();
        for (kind, password, hash) in &fixtures {
            let checked = hasher.verify(password, Some(hash.as_str())).await.unwrap();
            assert_eq!(
                checked,
                Verification {
                    matches: true,
                    needs_rehash: true
                },
                "{kind}"
            );
            // Another fixture's password (PBKDF2 in a debug build is slow: one will do).
            let (_, other, _) = fixtures.iter().find(|(_, p, _)| p != password).unwrap();
            let checked = hasher.verify(other, Some(hash.as_str())).await.unwrap();
            assert!(!checked.matches, "{kind} with another password");
        }
    }

    #[tokio::test]
    async fn a_pbkdf2_hash_is_only_verified_in_its_own_form() {
        let hasher = small();
        let fixtures = crate::domain::imported_hash_fixtures();
        let (_, password, hash) = fixtures
            .iter()
            .find(|(kind, ..)| kind == "pbkdf2-sha256-phc")
            .unwrap();
        // The same key under another digest's name, or with a changed byte, fails.
        for altered in [
            hash.as_str()
                .replacen("$pbkdf2-sha256$", "$pbkdf2-sha512$", 1),
            hash.as_str().replacen("i=27500", "i=27501", 1),
            hash.as_str().replacen("$Yx", "$Zx", 1),
        ] {
            assert_ne!(&altered, hash.as_str());
            let checked = hasher.verify(password, Some(&altered)).await.unwrap();
            assert!(!checked.matches, "{altered}");
        }
    }
}
