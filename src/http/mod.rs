//! The HTTP faces: the router, the middleware every request passes, and each face's
//! handlers under its own module.

pub mod body;
pub mod compat;
pub mod credentials;
pub mod face;
pub mod metrics;
pub mod oauth;
pub mod scim;
pub mod server;
pub mod ui;
pub mod v1;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;
use utoipa_swagger_ui::SwaggerUi;

use crate::service::Directory;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub directory: Directory,
}

/// Limits every request is held to, and whom to believe about its origin.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// The largest request body read (413 beyond it).
    pub max_body_bytes: usize,
    /// The longest a request may take, reading its body included (408 beyond it).
    pub request_timeout: Duration,
    pub trusted_proxies: credentials::TrustedProxies,
    /// The longest request target (path and query) answered; longer is 414 in the
    /// face's format. Default [`DEFAULT_MAX_URI_BYTES`].
    pub max_uri_bytes: usize,
    /// The most bytes of header fields (`name: value` lines) answered; more is 431 in
    /// the face's format. Default [`DEFAULT_MAX_HEADER_BYTES`]. Beyond hyper's own
    /// hard limits (100 fields, or a request head over about 400 KiB) hyper answers
    /// 431 itself, with an empty body, before any face sees the request.
    pub max_header_bytes: usize,
}

/// 8 KiB: what common proxies and servers accept as a request line.
pub const DEFAULT_MAX_URI_BYTES: usize = 8 * 1024;

/// 16 KiB: room for a large cookie or token, far below hyper's own limit.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            trusted_proxies: credentials::TrustedProxies::default(),
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }
}

/// The whole application: every face, the API documents, health, and middleware.
/// Unknown paths, methods the path does not take, over-long URIs and header fields,
/// malformed paths and query strings, and panics are answered by the face the path
/// belongs to ([`face::Face::of`]). With `requests`, every request is counted and
/// timed there (outermost, so refusals and the other middleware count too); without,
/// the router has no such layer at all.
pub fn router(
    state: AppState,
    limits: HttpLimits,
    requests: Option<metrics::RequestMetrics>,
) -> Router {
    let (v1, openapi) = v1::router(*state.directory.password_policy());
    let limit = limits.request_timeout;
    let v1 = v1.layer(axum::middleware::from_fn_with_state(
        limit,
        within_limit::<v1::ApiError>,
    ));
    let router = Router::new()
        .merge(v1)
        .merge(compat::router(limit))
        .merge(oauth::router(limit))
        .merge(scim::router(limit))
        .merge(ui::router(limit))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(face::no_such_path)
        .method_not_allowed_fallback(face::method_not_allowed)
        .with_state(state);
    #[cfg(feature = "panic-probe")]
    let router = router.layer(axum::middleware::from_fn(face::panic_probe));
    let router = router
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn(face::catch_panics))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(limits.clone()),
            face::check_request,
        ))
        .layer(axum::middleware::map_response(retry_after_on_unavailable))
        .layer(axum::middleware::from_fn({
            let proxies = std::sync::Arc::new(limits.trusted_proxies);
            move |request, next| credentials::resolve_client_address(proxies.clone(), request, next)
        }))
        // One log line per request: method, path (never the query), status, latency.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _span: &Span| {
                    tracing::info!(
                        status = response.status().as_u16(),
                        latency_ms = format_args!("{:.2}", latency.as_secs_f64() * 1000.0),
                        "served"
                    );
                })
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
            axum::http::header::COOKIE,
            HeaderName::from_static("x-api-key"),
        ]));
    match requests {
        Some(requests) => router.layer(axum::middleware::from_fn_with_state(
            requests,
            metrics::count_requests,
        )),
        None => router,
    }
}

/// When the request in hand will be cut short by its time limit ([`within_limit`]).
#[derive(Debug, Clone, Copy)]
pub struct Deadline(tokio::time::Instant);

impl Deadline {
    /// The time left before the deadline.
    pub fn left(&self) -> Duration {
        self.0
            .saturating_duration_since(tokio::time::Instant::now())
    }
}

/// Ends a request that takes longer than `limit` (reading its body included) with
/// the face's own error, 408: each face's router is wrapped in this with its error
/// type, so that a timeout is answered in the format of the face that was asked.
pub(crate) async fn within_limit<E>(
    State(limit): State<Duration>,
    request: Request,
    next: axum::middleware::Next,
) -> Response
where
    E: From<crate::service::ServiceError> + IntoResponse,
{
    let mut request = request;
    (request.extensions_mut()).insert(Deadline(tokio::time::Instant::now() + limit));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => E::from(crate::service::ServiceError::TimedOut {
            seconds: limit.as_secs(),
        })
        .into_response(),
    }
}

/// Every face answers 503 when the database is unreachable; those whose error
/// envelope carries no headers get the `Retry-After` here, so every 503 has one.
async fn retry_after_on_unavailable(mut response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(axum::http::header::RETRY_AFTER)
            .or_insert(axum::http::HeaderValue::from(
                crate::service::UNAVAILABLE_RETRY_AFTER_SECONDS,
            ));
    }
    response
}

/// 200 while the process serves.
async fn healthz() -> &'static str {
    "ok"
}

/// 200 only when the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.directory.store().ping()).await;
    match ping {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database timed out").into_response(),
    }
}
