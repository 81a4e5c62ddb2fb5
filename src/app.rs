//! Building and running the server: what `roster serve` does, and what the
//! integration tests start on port 0.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::auth::PasswordHasher;
use crate::config::ServeSettings;
use crate::http::{AppState, HttpLimits, router};
use crate::service::Directory;
use crate::store::Store;

/// A server bound to its address over a migrated database, ready to run.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    store: Store,
    /// The operator secret made on this start, when none existed: shown once.
    pub generated_operator_token: Option<String>,
}

impl Application {
    /// Opens and migrates the database, makes sure an operator credential exists
    /// (`bootstrap_token` becomes it when given), and binds the listener.
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
        let directory =
            Directory::new(store.clone(), passwords).with_sign_in_policy(settings.sign_in);
        let generated_operator_token = directory
            .ensure_operator_credential(bootstrap_token)
            .await
            .context("cannot set up the operator credential")?;
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let limits = HttpLimits {
            max_body_bytes: settings.max_body_bytes,
            request_timeout: settings.request_timeout,
            trusted_proxies: settings.trusted_proxies.clone(),
            ..HttpLimits::default()
        };
        Ok(Self {
            listener,
            router: router(AppState { directory }, limits),
            store,
            generated_operator_token,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn backend_name(&self) -> &'static str {
        self.store.backend_name()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight and
    /// closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .context("the server failed")?;
        self.store.close().await;
        Ok(())
    }
}
