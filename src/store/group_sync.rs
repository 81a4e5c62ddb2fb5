//! Group commit for a SQLite file: concurrent writes share one sync of the WAL.
//!
//! The writer connection runs with `synchronous = NORMAL`, so a commit writes its
//! frames to the write-ahead log without waiting for the disk. [`Tx::commit`]
//! (super::Tx::commit) then waits here until the log is synced past that commit, and
//! only then is the write acknowledged. One sync runs at a time; the commits made
//! while it runs wait for the next, which covers all of them. Under load, one
//! `fdatasync` so serves as many writes as committed during the one before it,
//! while the writer goes on with the next transactions meanwhile.
//!
//! This is what `synchronous = FULL` does, but shared: FULL syncs the log after each
//! commit, on the writer, before the next transaction can begin. SQLite's NORMAL
//! already syncs the log before each checkpoint and its header when the log is
//! reused, so a log synced past a commit holds it across a crash or power loss.
//! What changes is only that another reader may see a write a few milliseconds
//! before it is durable (PostgreSQL with `synchronous_commit = on` does not show it
//! before). No write is acknowledged before it is durable, and each write is still
//! its own transaction: one that fails takes no other with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{StoreError, StoreResult};

/// The write-ahead log of one SQLite database file, synced on behalf of commits.
pub(super) struct GroupSync {
    wal: PathBuf,
    /// Commits made, counted once each has returned (so its frames are in the log).
    committed: AtomicU64,
    /// How many of those commits the log is known to hold on disk. Locked while the
    /// log is synced, so that the commits waiting behind a sync find themselves
    /// covered by it.
    synced: tokio::sync::Mutex<u64>,
}

impl GroupSync {
    /// The log of the database file `database` (its name with `-wal` appended).
    pub(super) fn of(database: &Path) -> Self {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        Self {
            wal: wal.into(),
            committed: AtomicU64::new(0),
            synced: tokio::sync::Mutex::new(0),
        }
    }

    /// Waits until a commit that has just returned is on disk.
    pub(super) async fn make_durable(&self) -> StoreResult<()> {
        let commit = self.committed.fetch_add(1, Ordering::AcqRel) + 1;
        let mut synced = self.synced.lock().await;
        if *synced >= commit {
            return Ok(());
        }
        // Every commit counted by now has written its frames, so one sync holds them.
        let through = self.committed.load(Ordering::Acquire);
        let wal = self.wal.clone();
        tokio::task::spawn_blocking(move || sync(&wal))
            .await
            .map_err(|panicked| std::io::Error::other(panicked.to_string()))
            .and_then(|synced| synced)
            .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
        *synced = through;
        Ok(())
    }
}

/// Syncs the file at `wal`'s contents to disk. A log that is not there was
/// checkpointed into the database file (and that synced) when the last connection
/// to the database closed: nothing of it is left to sync.
fn sync(wal: &Path) -> std::io::Result<()> {
    match std::fs::File::open(wal) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commits_waiting_behind_a_sync_are_covered_by_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("roster.db");
        std::fs::write(dir.path().join("roster.db-wal"), b"frames").unwrap();
        let group = std::sync::Arc::new(GroupSync::of(&database));
        let waits: Vec<_> = (0..50)
            .map(|_| {
                let group = group.clone();
                tokio::spawn(async move { group.make_durable().await })
            })
            .collect();
        for wait in waits {
            wait.await.unwrap().unwrap();
        }
        assert_eq!(group.committed.load(Ordering::Acquire), 50);
        assert_eq!(*group.synced.lock().await, 50);
        // A log checkpointed away has nothing left to sync.
        std::fs::remove_file(dir.path().join("roster.db-wal")).unwrap();
        group.make_durable().await.unwrap();
        assert_eq!(*group.synced.lock().await, 51);
    }
}
