//! Where the numbered pages of a tenant's whole user list start, remembered from the
//! pages served before, so that a numbered page (SCIM's `startIndex`, Dynatrace's
//! `pageNumber`, Tyk's `p`) is read as a keyset page after a known id instead of by
//! skipping every user before it.
//!
//! A mark says: the user at place `offset` of the list in id order is the first one
//! after `id`. It stays true while no user at or before that place comes or goes.
//! Users are minted with time-ordered ids (UUIDv7), and a write commits within the
//! request timeout of minting them, so a user created later sorts after every user
//! minted more than twice that (at least a minute) before it: a mark is only taken at
//! an id that old ("settled"), and a tenant's marks are dropped whenever a user is
//! removed or users are imported (its `user_shifts` count moves). Within those rules
//! a remembered start is exact; between instances it also assumes their clocks agree
//! within the request timeout.
//!
//! Marks live in memory, per instance, bounded: [`MARKS_PER_TENANT`] for each of at
//! most [`TENANTS`] tenants, the least recently used tenant forgotten first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use uuid::Uuid;

use crate::domain::TenantId;

/// The least age of a settled id.
const SETTLED: Duration = Duration::from_secs(60);
const MARKS_PER_TENANT: usize = 1024;
const TENANTS: usize = 1024;

/// The nearest known start at or before a place: skip `skip` users after `after`
/// (`None`: from the list's beginning).
#[derive(Debug, Clone, Copy)]
pub(super) struct Start {
    pub after: Option<Uuid>,
    pub skip: u64,
}

#[derive(Debug)]
struct Marks {
    /// The tenant's `user_shifts` when these marks were taken.
    shifts: i64,
    used: Instant,
    /// Place in the list → the id of the user just before it.
    at: BTreeMap<u64, Uuid>,
}

#[derive(Debug)]
pub(super) struct Positions {
    tenants: Mutex<HashMap<TenantId, Marks>>,
    /// How old a user's id must be before a mark is taken at it: twice the longest a
    /// write may run after minting it, and at least [`SETTLED`], so that no
    /// transaction that minted an older id is still to commit.
    settled: Duration,
}

impl Default for Positions {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl Positions {
    /// Positions whose writes commit within `longest_write` of minting their ids.
    pub fn new(longest_write: Duration) -> Self {
        Self {
            tenants: Mutex::default(),
            settled: (longest_write * 2).max(SETTLED),
        }
    }

    /// The nearest remembered start at or before `offset` while the tenant's
    /// `shifts` is still the one its marks were taken at.
    pub fn start(&self, tenant: TenantId, shifts: i64, offset: u64) -> Start {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let from_beginning = Start {
            after: None,
            skip: offset,
        };
        let Some(marks) = tenants.get_mut(&tenant) else {
            return from_beginning;
        };
        if marks.shifts != shifts {
            tenants.remove(&tenant);
            return from_beginning;
        }
        marks.used = Instant::now();
        match marks.at.range(..=offset).next_back() {
            Some((place, id)) => Start {
                after: Some(*id),
                skip: offset - place,
            },
            None => from_beginning,
        }
    }

    /// Remembers that the user at place `offset` is the first after `id`, if `id`
    /// is settled.
    pub fn remember(&self, tenant: TenantId, shifts: i64, offset: u64, id: Uuid) {
        if offset == 0 || !older_than(id, self.settled) {
            return;
        }
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if !tenants.contains_key(&tenant) && tenants.len() >= TENANTS {
            let oldest = tenants.iter().min_by_key(|(_, m)| m.used).map(|(t, _)| *t);
            if let Some(oldest) = oldest {
                tenants.remove(&oldest);
            }
        }
        let marks = tenants.entry(tenant).or_insert_with(|| Marks {
            shifts,
            used: Instant::now(),
            at: BTreeMap::new(),
        });
        if marks.shifts != shifts {
            marks.shifts = shifts;
            marks.at.clear();
        }
        marks.used = Instant::now();
        marks.at.insert(offset, id);
        if marks.at.len() > MARKS_PER_TENANT {
            // Every other mark goes: those left are still spread over the list.
            let mut keep = false;
            marks.at.retain(|_, _| {
                keep = !keep;
                keep
            });
        }
    }
}

/// Whether the time in a UUIDv7 lies more than `age` in the past.
fn older_than(id: Uuid, age: Duration) -> bool {
    let Some((seconds, nanos)) = id.get_timestamp().map(|t| t.to_unix()) else {
        return false;
    };
    let minted = SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos);
    minted.elapsed().is_ok_and(|elapsed| elapsed > age)
}

/// A UUIDv7 minted `age` ago: the id of a user created then.
#[cfg(test)]
pub(super) fn minted_ago(age: Duration) -> Uuid {
    let at = SystemTime::now() - age;
    let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap();
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, since.as_secs(), since.subsec_nanos());
    Uuid::new_v7(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `positions` starts the page at `offset`: (after, skip).
    fn start(
        positions: &Positions,
        tenant: TenantId,
        shifts: i64,
        offset: u64,
    ) -> (Option<Uuid>, u64) {
        let start = positions.start(tenant, shifts, offset);
        (start.after, start.skip)
    }

    #[test]
    fn a_page_starts_at_the_nearest_mark_before_it() {
        let positions = Positions::default();
        let tenant = TenantId::generate();
        let old = Duration::from_secs(600);
        let (a, b) = (minted_ago(old), minted_ago(old));
        positions.remember(tenant, 7, 100, a);
        positions.remember(tenant, 7, 200, b);
        let at = |offset| start(&positions, tenant, 7, offset);
        assert_eq!(at(50), (None, 50));
        assert_eq!(at(100), (Some(a), 0));
        assert_eq!(at(150), (Some(a), 50));
        assert_eq!(at(900), (Some(b), 700));
        let other = TenantId::generate();
        assert_eq!(start(&positions, other, 7, 150), (None, 150));
    }

    #[test]
    fn marks_are_dropped_when_users_shift_and_never_taken_at_fresh_ids() {
        let positions = Positions::default();
        let tenant = TenantId::generate();
        positions.remember(tenant, 7, 100, minted_ago(Duration::from_secs(600)));
        assert_eq!(start(&positions, tenant, 8, 100), (None, 100));
        // Gone for good, not only while the count differs.
        assert_eq!(start(&positions, tenant, 7, 100), (None, 100));
        positions.remember(tenant, 8, 100, minted_ago(Duration::from_secs(5)));
        assert_eq!(start(&positions, tenant, 8, 100), (None, 100));
        positions.remember(tenant, 8, 0, minted_ago(Duration::from_secs(600)));
        assert_eq!(start(&positions, tenant, 8, 0), (None, 0));
    }

    #[test]
    fn a_tenant_keeps_marks_spread_over_its_list_within_the_bound() {
        let positions = Positions::default();
        let tenant = TenantId::generate();
        let id = minted_ago(Duration::from_secs(600));
        for page in 1..=(MARKS_PER_TENANT as u64 + 1) {
            positions.remember(tenant, 0, page * 100, id);
        }
        let tenants = positions.tenants.lock().unwrap();
        let at = &tenants[&tenant].at;
        assert!(at.len() <= MARKS_PER_TENANT / 2 + 1, "{}", at.len());
        assert!(at.contains_key(&100));
        assert!(at.keys().last().unwrap() > &(MARKS_PER_TENANT as u64 * 90));
    }
}
