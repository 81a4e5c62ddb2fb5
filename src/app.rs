//! Building and running the server: what `roster serve` does, and what the
//! integration tests start on port 0.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::auth::PasswordHasher;
use crate::config::ServeSettings;
use crate::http::metrics::exposition_router;
use crate::http::server::{ConnectionLimits, serve};
use crate::http::{AppState, router};
use crate::mail::{Mailer, PublicUrl};
use crate::metrics::Metrics;
use crate::service::Directory;
use crate::store::{Store, statistics};

/// Connections the metrics listener serves at once: a scraper or two, and someone
/// looking.
const METRICS_MAX_CONNECTIONS: usize = 16;

/// A server bound to its address over a migrated database, ready to run.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    connections: ConnectionLimits,
    /// The metrics listener and its router, when metrics are served.
    metrics: Option<(TcpListener, axum::Router)>,
    store: Store,
    /// How long the change feed keeps a change; `None`: for ever.
    change_retention: Option<std::time::Duration>,
    /// Who delivers webhooks, and how.
    directory: crate::service::Directory,
    webhooks: crate::webhooks::WebhookSettings,
    /// The operator secret made on this start, when none existed: shown once.
    pub generated_operator_token: Option<String>,
}

impl Application {
    /// Opens and migrates the database, binds the listener, and then makes sure an
    /// operator credential exists (`bootstrap_token` becomes it when given). The
    /// credential comes last so that a start that fails (the address is taken, say)
    /// never leaves behind a generated token nobody was shown.
    pub async fn build(
        settings: &ServeSettings,
        bootstrap_token: Option<&str>,
    ) -> anyhow::Result<Self> {
        let store = Store::connect(settings.database_url.expose(), &settings.store)
            .await
            .with_context(|| format!("cannot open the database {}", settings.database_url))?;
        store
            .migrate()
            .await
            .context("cannot migrate the database")?;
        let passwords = PasswordHasher::new(settings.password)?;
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let metrics_listener = match &settings.metrics_listen {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} for metrics"))?,
            ),
            None => None,
        };
        // Bound first, so that links default to the address actually bound (port 0
        // becomes a real port).
        let public_url = match &settings.mail.public_url {
            Some(url) => url.clone(),
            None => PublicUrl::of_listener(
                listener
                    .local_addr()
                    .context("cannot read the address listened on")?,
            ),
        };
        let mut directory = Directory::new(store.clone(), passwords)
            .with_sign_in_policy(settings.sign_in)
            .with_session_policy(settings.sessions)
            .with_password_policy(settings.password_policy)
            .with_public_url(public_url.clone());
        if let Some(smtp_url) = &settings.mail.smtp_url {
            if settings.mail.public_url.is_none() {
                tracing::warn!(
                    %public_url,
                    "links in mail start with the address listened on; set --public-url to \
                     the address users reach the server by"
                );
            }
            directory = directory.with_mailer(Mailer::new(smtp_url, settings.mail.from.clone())?);
        }
        let generated_operator_token = directory
            .ensure_operator_credential(bootstrap_token)
            .await
            .context("cannot set up the operator credential")?;
        let metrics = metrics_listener.map(|listener| (listener, Metrics::new(&directory)));
        let requests = metrics.as_ref().map(|(_, metrics)| metrics.requests());
        let directory_for_webhooks = directory.clone();
        Ok(Self {
            listener,
            router: router(AppState { directory }, settings.http.clone(), requests),
            connections: settings.connections,
            metrics: metrics.map(|(listener, metrics)| (listener, exposition_router(metrics))),
            store,
            change_retention: settings.change_retention,
            directory: directory_for_webhooks,
            webhooks: settings.webhooks.clone(),
            generated_operator_token,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The address metrics are served on, when they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    pub fn backend_name(&self) -> &'static str {
        self.store.backend_name()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight
    /// (within the shutdown grace) and closes the database. The metrics listener, if
    /// any, serves until the requests in flight have finished, so that a scrape
    /// during the grace still sees them.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let upkeep = tokio::spawn(keep_statistics(self.store.clone()));
        let pruning = tokio::spawn(keep_changes(self.store.clone(), self.change_retention));
        let (stop_webhooks, webhooks_stopping) = tokio::sync::watch::channel(false);
        let webhooks = tokio::spawn(crate::webhooks::run(
            self.directory,
            self.webhooks,
            webhooks_stopping,
        ));
        let (stop_metrics, metrics_stopping) = tokio::sync::watch::channel(false);
        let store = self.store.clone();
        let shutdown = async move {
            shutdown.await;
            // Long polls of the change feed answer now rather than hold the drain,
            // and no webhook is claimed any more.
            store.stop_waits();
            let _ = stop_webhooks.send(true);
        };
        let api = async {
            serve(self.listener, self.router, self.connections, shutdown).await;
            let _ = stop_metrics.send(true);
        };
        let metrics = async {
            if let Some((listener, router)) = self.metrics {
                let limits = ConnectionLimits {
                    max_connections: METRICS_MAX_CONNECTIONS,
                    ..self.connections
                };
                let mut stopping = metrics_stopping;
                let stopped = async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                };
                serve(listener, router, limits, stopped).await;
            }
        };
        tokio::join!(api, metrics);
        // The deliveries under way finish (each within its timeout) before the
        // database closes.
        let _ = webhooks.await;
        upkeep.abort();
        pruning.abort();
        self.store.close().await;
        Ok(())
    }
}

/// Removes the changes older than `retention` from the change feed (but those a
/// webhook has yet to deliver), and the webhook attempts as old, at start and every
/// [`PRUNE_EVERY`]; `None` keeps them all.
async fn keep_changes(store: Store, retention: Option<std::time::Duration>) {
    let Some(retention) = retention else { return };
    let mut every = tokio::time::interval(PRUNE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let cutoff = crate::domain::Timestamp::now().plus_seconds(-(retention.as_secs() as i64));
        match store.prune_changes(cutoff).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "changes past their retention removed"),
            Err(error) => tracing::warn!(%error, "cannot remove the changes past their retention"),
        }
        match store.prune_webhook_attempts(cutoff).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "webhook attempts past their retention removed"),
            Err(error) => {
                tracing::warn!(%error, "cannot remove the webhook attempts past their retention")
            }
        }
    }
}

/// How often the change feed's retention is applied.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Keeps the planner's statistics up to date while the server runs: checked at
/// start and every [`statistics::CHECK_EVERY`], taken when the users stored have
/// doubled or halved since (see `store/statistics.rs`).
async fn keep_statistics(store: Store) {
    let mut every = tokio::time::interval(statistics::CHECK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let started = std::time::Instant::now();
        match store.keep_statistics().await {
            Ok(true) => tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "planner statistics taken"
            ),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "cannot take the planner statistics"),
        }
    }
}
