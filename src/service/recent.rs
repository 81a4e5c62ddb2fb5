//! What was read from the database lately and may be answered again for a few
//! seconds without reading it: verified credentials (`verified.rs`) and the
//! tenants' declared attributes as reads show them (`Directory::attributes`).
//!
//! An entry lives at most [`TRUST_SECONDS`]: the bound on a change made by another
//! instance over the same database. A change made here forgets at once, and a read
//! that was under way when something was forgotten keeps nothing: it takes a
//! [`Ticket`] before reading, and what it read is kept only if nothing was
//! forgotten since.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long what was read is answered again without reading it: the bound on a
/// change (a revocation, a declaration) made by another instance.
pub const TRUST_SECONDS: u64 = 5;

/// Entries kept, at most (each about 100 bytes, or a tenant's declarations).
const CAPACITY: u64 = 10_000;

/// Taken before a read whose result may be kept: it is kept only if nothing was
/// forgotten meanwhile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

/// What was read lately, by key: cheap to clone, shared by every request.
#[derive(Clone)]
pub(crate) struct Recent<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    entries: moka::sync::Cache<K, V>,
    /// Counts what was forgotten: a read's ticket is the count it began under.
    forgotten: Arc<AtomicU64>,
}

impl<K, V> Default for Recent<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(Duration::from_secs(TRUST_SECONDS))
                .build(),
            forgotten: Arc::default(),
        }
    }
}

impl<K, V> Recent<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key)
    }

    /// To take before reading what [`Recent::keep`] may keep.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.forgotten.load(Ordering::Acquire))
    }

    /// Keeps `value`, read under `ticket`, unless something was forgotten since.
    pub(crate) fn keep(&self, key: K, value: V, ticket: Ticket) {
        if self.forgotten.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        self.entries.insert(key.clone(), value);
        // Forgotten between the check and the insert: not kept after all.
        if self.forgotten.load(Ordering::Acquire) != ticket.0 {
            self.entries.invalidate(&key);
        }
    }

    pub(crate) fn forget(&self, key: &K) {
        self.forgotten.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(key);
    }

    pub(crate) fn forget_all(&self) {
        self.forgotten.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_under_way_when_something_is_forgotten_keeps_nothing() {
        let recent: Recent<u8, &str> = Recent::default();
        let before = recent.ticket();
        recent.keep(1, "read", before);
        assert_eq!(recent.get(&1), Some("read"));
        let during = recent.ticket();
        recent.forget(&2);
        recent.keep(1, "stale", during);
        assert_eq!(recent.get(&1), Some("read"), "the stale read is not kept");
        recent.forget_all();
        assert_eq!(recent.get(&1), None);
        let after = recent.ticket();
        recent.keep(3, "fresh", after);
        assert_eq!(recent.get(&3), Some("fresh"));
    }
}
