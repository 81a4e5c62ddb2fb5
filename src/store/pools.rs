//! What the connection pools are doing, for the metrics: how long each checkout of a
//! connection took (timed as it happens), and how many connections each pool holds,
//! in use and idle (read from sqlx when the metrics are scraped, so that serving a
//! request costs nothing for them).
//!
//! sqlx does not say whether a checkout found an idle connection or queued for one,
//! and asking first with `try_acquire` would skip the liveness check `acquire` makes,
//! so what is measured is the whole checkout: the wait for a connection, opening one
//! when the pool is below its size, and sqlx's ping of an idle one before handing it
//! out. A write's checkout also includes its `BEGIN` (sqlx starts the transaction as
//! it hands the connection over), which on SQLite is the queue for the one writer.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool, Transaction};

use super::{Backend, Store};

/// Upper bounds of the checkout-time buckets, in seconds: from an idle connection
/// handed over at once (well under a millisecond) to the acquire timeout (seconds).
const CHECKOUT_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The checkouts of one pool.
#[derive(Debug, Clone)]
pub(super) struct PoolWatch {
    /// The pool's name in the metrics' `pool` label.
    name: &'static str,
    checkout_seconds: Histogram,
    timeouts: Counter,
}

impl PoolWatch {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            checkout_seconds: Histogram::new(CHECKOUT_BUCKETS),
            timeouts: Counter::default(),
        }
    }

    /// A connection from `pool`, its checkout timed.
    pub(super) async fn acquire<DB: Database>(
        &self,
        pool: &Pool<DB>,
    ) -> Result<PoolConnection<DB>, sqlx::Error> {
        let started = Instant::now();
        let acquired = pool.acquire().await;
        self.record(started, &acquired);
        acquired
    }

    /// A connection from `pool` with a transaction begun on it, its checkout timed.
    pub(super) async fn begin<DB: Database>(
        &self,
        pool: &Pool<DB>,
    ) -> Result<Transaction<'static, DB>, sqlx::Error> {
        let started = Instant::now();
        let begun = pool.begin().await;
        self.record(started, &begun);
        begun
    }

    fn record<T>(&self, started: Instant, outcome: &Result<T, sqlx::Error>) {
        self.checkout_seconds
            .observe(started.elapsed().as_secs_f64());
        if matches!(outcome, Err(sqlx::Error::PoolTimedOut)) {
            self.timeouts.inc();
        }
    }
}

/// The watches of a store's pools: the one reads check out from and the one writes
/// begin on (the same pool, under one name, for PostgreSQL and in-memory SQLite).
#[derive(Debug)]
pub(super) struct PoolWatches {
    pub(super) read: PoolWatch,
    pub(super) write: PoolWatch,
}

impl PoolWatches {
    pub(super) fn of(backend: &Backend, in_memory: bool) -> Arc<Self> {
        let (read, write) = match backend {
            Backend::Postgres(_) => ("postgres", "postgres"),
            Backend::Sqlite { .. } if in_memory => ("sqlite_memory", "sqlite_memory"),
            Backend::Sqlite { .. } => ("sqlite_read", "sqlite_write"),
        };
        let read = PoolWatch::new(read);
        let write = if write == read.name {
            read.clone()
        } else {
            PoolWatch::new(write)
        };
        Arc::new(Self { read, write })
    }

    /// Each pool once, with its watch.
    fn pools<'a>(&'a self, backend: &'a Backend) -> Vec<(&'a PoolWatch, PoolUse)> {
        match backend {
            Backend::Sqlite { reader, writer, .. } if self.read.name != self.write.name => vec![
                (&self.read, PoolUse::of(reader)),
                (&self.write, PoolUse::of(writer)),
            ],
            Backend::Sqlite { reader, .. } => vec![(&self.read, PoolUse::of(reader))],
            Backend::Postgres(pool) => vec![(&self.read, PoolUse::of(pool))],
        }
    }
}

/// How many connections a pool holds, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PoolUse {
    in_use: u32,
    idle: u32,
    max: u32,
}

impl PoolUse {
    fn of<DB: Database>(pool: &Pool<DB>) -> Self {
        let size = pool.size();
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
        Self {
            in_use: size - idle,
            idle,
            max: pool.options().get_max_connections(),
        }
    }
}

impl Store {
    /// Registers the metrics of the store's pools in `registry`, read from the pools
    /// at each scrape.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(PoolMetrics(self.clone())));
    }
}

/// The pools' metrics, encoded from the store at each scrape.
struct PoolMetrics(Store);

impl fmt::Debug for PoolMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PoolMetrics")
            .field(&self.0.backend_name())
            .finish()
    }
}

impl Collector for PoolMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let store = &self.0;
        let pools = store.pools.pools(&store.backend);
        {
            let mut metric = encoder.encode_descriptor(
                "roster_db_connections",
                "Connections a database pool holds, by state (in_use, idle)",
                None,
                MetricType::Gauge,
            )?;
            for (watch, used) in &pools {
                for (state, count) in [("in_use", used.in_use), ("idle", used.idle)] {
                    let labels = [("pool", watch.name), ("state", state)];
                    ConstGauge::new(i64::from(count)).encode(metric.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut metric = encoder.encode_descriptor(
                "roster_db_connections_max",
                "Most connections a database pool opens",
                None,
                MetricType::Gauge,
            )?;
            for (watch, used) in &pools {
                let labels = [("pool", watch.name)];
                ConstGauge::new(i64::from(used.max)).encode(metric.encode_family(&labels)?)?;
            }
        }
        {
            let mut metric = encoder.encode_descriptor(
                "roster_db_checkout_seconds",
                "Time to check a connection out of a database pool (waiting for one, opening \
                 one, sqlx's liveness ping; BEGIN included for writes)",
                None,
                MetricType::Histogram,
            )?;
            for (watch, _) in &pools {
                let labels = [("pool", watch.name)];
                watch
                    .checkout_seconds
                    .encode(metric.encode_family(&labels)?)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "roster_db_checkout_timeouts",
            "Checkouts that gave up after the acquire timeout (answered 503)",
            None,
            MetricType::Counter,
        )?;
        for (watch, _) in &pools {
            let labels = [("pool", watch.name)];
            watch.timeouts.encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_in_memory_store_reports_its_one_pool_once() {
        let store = Store::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        let pools = store.pools.pools(&store.backend);
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].0.name, "sqlite_memory");
        assert_eq!(pools[0].1.max, 1);
    }

    #[tokio::test]
    async fn a_file_store_reports_its_reading_and_writing_pools_and_their_checkouts() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let store = Store::connect(&url, &Default::default()).await.unwrap();
        store.ping().await.unwrap();
        let mut registry = Registry::default();
        store.register_metrics(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        // A connection goes back to its pool a moment after its query (sqlx returns
        // it from a task of its own), so the count in use is not asserted.
        for line in [
            "roster_db_connections{pool=\"sqlite_read\",state=\"in_use\"} ",
            "roster_db_connections_max{pool=\"sqlite_write\"} 1",
            "roster_db_checkout_seconds_count{pool=\"sqlite_read\"} 1",
            "roster_db_checkout_seconds_count{pool=\"sqlite_write\"} 0",
            "roster_db_checkout_timeouts_total{pool=\"sqlite_read\"} 0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
