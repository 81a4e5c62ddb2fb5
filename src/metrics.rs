//! The Prometheus metrics, served on their own listener when `--metrics-listen` is
//! set (docs/operations.md#metrics) and not at all otherwise.
//!
//! Each part of Roster keeps its own instruments where the work happens: requests in
//! [`crate::http::metrics`], sign-in outcomes in the service, the hashing queue in
//! [`crate::auth`], connection checkouts in the store. Counting is a few atomic
//! operations and a short lock per histogram sample, never held across an await.
//! What is a level rather than a count (connections in use, memory) is read when
//! the metrics are scraped, so serving requests pays nothing for it. This module
//! gathers them into one registry.

use std::fmt;
use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::http::metrics::RequestMetrics;
use crate::service::Directory;

/// Every metric of a running server: cheap to clone, shared by the request
/// middleware and the metrics listener.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: RequestMetrics,
}

impl Metrics {
    /// The metrics of `directory` (its sign-ins, hashing threads and pools), of the
    /// requests the HTTP layer counts into [`Metrics::requests`], and of the process.
    pub fn new(directory: &Directory) -> Self {
        let mut registry = Registry::default();
        let requests = RequestMetrics::default();
        requests.register(&mut registry);
        directory.register_metrics(&mut registry);
        process::register(&mut registry);
        Self {
            registry: Arc::new(registry),
            requests,
        }
    }

    /// Where the HTTP layer counts requests.
    pub fn requests(&self) -> RequestMetrics {
        self.requests.clone()
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The process's resident memory, read from `/proc/self/statm` at each scrape (Linux
/// only; elsewhere nothing is registered), under the name Prometheus's own clients
/// give it so that common dashboards find it.
mod process {
    use prometheus_client::registry::Registry;

    #[cfg(target_os = "linux")]
    pub(super) fn register(registry: &mut Registry) {
        registry.register_collector(Box::new(ResidentMemory));
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn register(_registry: &mut Registry) {}

    #[cfg(target_os = "linux")]
    #[derive(Debug)]
    struct ResidentMemory;

    #[cfg(target_os = "linux")]
    impl prometheus_client::collector::Collector for ResidentMemory {
        fn encode(
            &self,
            mut encoder: prometheus_client::encoding::DescriptorEncoder,
        ) -> Result<(), std::fmt::Error> {
            use prometheus_client::encoding::EncodeMetric;
            use prometheus_client::metrics::gauge::ConstGauge;
            let Some(bytes) = resident_bytes() else {
                return Ok(());
            };
            let gauge = ConstGauge::new(bytes);
            let metric = encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(metric)
        }
    }

    /// Resident pages (the second field of statm) times the page size.
    #[cfg(target_os = "linux")]
    fn resident_bytes() -> Option<i64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        pages.checked_mul(i64::from(page_size()))
    }

    /// The page size; 4 KiB, as on every Linux Roster is built for, unless the
    /// auxiliary vector the kernel hands every process says otherwise.
    #[cfg(target_os = "linux")]
    fn page_size() -> u32 {
        std::fs::read("/proc/self/auxv")
            .ok()
            .and_then(|auxv| {
                // (type, value) pairs of native words; AT_PAGESZ is 6.
                const WORD: usize = std::mem::size_of::<usize>();
                auxv.chunks_exact(2 * WORD).find_map(|pair| {
                    let (kind, value) = pair.split_at(WORD);
                    let kind = usize::from_ne_bytes(kind.try_into().ok()?);
                    let value = usize::from_ne_bytes(value.try_into().ok()?);
                    (kind == 6).then(|| u32::try_from(value).ok()).flatten()
                })
            })
            .unwrap_or(4096)
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        #[test]
        fn the_resident_memory_is_read_in_whole_pages() {
            let bytes = super::resident_bytes().expect("statm is readable");
            assert!(bytes > 0);
            assert_eq!(bytes % i64::from(super::page_size()), 0);
        }
    }
}
